#include "streams.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "preprocess.h"
#include "strlist.h"
#include "strlist.h"

enum { CODE_NOISE = 14, CODE_RHYTHM = 28 }; /* WFDB's NOISE and RHYTHM (<wfdb/ecgcodes.h>) */
enum { LEAD_I = 0, LEAD_II = 1 };
#define MAX_RHYTHMS 8

/* ---- reports from annotations ---- */

typedef enum { SINUS, OTHER, NOISE } rhythm_kind;

typedef struct rhythm {
    const char *aux, *text;
    rhythm_kind kind;
} rhythm;

/* The rhythm labels of MIT-BIH and VFDB, worded as the (translated) PTB-XL reports word them. */
static const rhythm rhythms[] = {
    {"(N", "sinus rhythm.", SINUS},
    {"(NSR", "sinus rhythm.", SINUS},
    {"(SBR", "sinus bradycardia.", OTHER},
    {"(AFIB", "atrial fibrillation.", OTHER},
    {"(AFL", "atrial flutter.", OTHER},
    {"(VT", "ventricular tachycardia.", OTHER},
    {"(VFL", "ventricular flutter.", OTHER},
    {"(VF", "ventricular fibrillation.", OTHER},
    {"(VFIB", "ventricular fibrillation.", OTHER},
    {"(B", "ventricular bigeminy.", OTHER},
    {"(T", "ventricular trigeminy.", OTHER},
    {"(SVTA", "supraventricular tachyarrhythmia.", OTHER},
    {"(NOD", "junctional rhythm.", OTHER},
    {"(P", "paced rhythm.", OTHER},
    {"(PM", "paced rhythm.", OTHER},
    {"(BI", "first degree av block.", OTHER},
    {"(BII", "second degree av block.", OTHER},
    {"(IVR", "idioventricular rhythm.", OTHER},
    {"(VER", "ventricular escape rhythm.", OTHER},
    {"(AB", "atrial bigeminy.", OTHER},
    {"(PREX", "pre-excitation.", OTHER},
    {"(HGEA", "high grade ventricular ectopic activity.", OTHER},
    {"(ASYS", "asystole.", OTHER},
    {"(NOISE", METS_STREAMS_NOISE_TEXT, NOISE},
};

static const rhythm *rhythm_of(const char *aux)
{
    for (size_t i = 0; i < sizeof rhythms / sizeof *rhythms; i++)
        if (!strcmp(aux, rhythms[i].aux))
            return &rhythms[i];
    return NULL; /* a label we do not know: say nothing rather than something wrong */
}

/* What the annotations of one window hold. */
typedef struct facts {
    const rhythm *rhythm[MAX_RHYTHMS];
    int nrhythms, noise;
    int beats, left, right, paced, ventricular, supra;
    int64_t first, last; /* of the QRS annotations */
} facts;

static int is_rhythm_change(const mets_annot *x)
{
    return x->code == CODE_RHYTHM && x->aux && x->aux[0] == '(';
}

static void add_rhythm(facts *f, const rhythm *r)
{
    if (!r)
        return;
    if (r->kind == NOISE) {
        f->noise = 1;
        return;
    }
    for (int i = 0; i < f->nrhythms; i++)
        if (f->rhythm[i] == r)
            return;
    if (f->nrhythms < MAX_RHYTHMS)
        f->rhythm[f->nrhythms++] = r;
}

/* Counts a QRS annotation by its class (AAMI: SVEB = A a J S, VEB = V E, plus r and the fusions F). */
static void count_beat(facts *f, const mets_annot *x)
{
    const char *m = mets_annot_mnemonic(x->code);
    if (!m || m[0] == '\0' || m[1] != '\0' || !strchr("NLRBAaJSVrFejnE/fQ", m[0]))
        return;
    if (f->beats++ == 0)
        f->first = x->sample;
    f->last = x->sample;
    f->left += m[0] == 'L', f->right += m[0] == 'R', f->paced += m[0] == '/';
    f->ventricular += strchr("VrEF", m[0]) != NULL;
    f->supra += strchr("AaJS", m[0]) != NULL;
}

/* The rhythm and noise in force at t0 (the latest changes at or before it), then what happens inside. */
static void scan(const mets_annots *a, int64_t t0, int64_t t1, facts *f)
{
    const rhythm *r = NULL;
    int noisy = 0;
    size_t i = 0;
    for (; i < a->count && a->items[i].sample <= t0; i++) {
        const mets_annot *x = &a->items[i];
        if (is_rhythm_change(x))
            r = rhythm_of(x->aux);
        else if (x->code == CODE_NOISE)
            noisy = x->subtype != 0; /* subtype: a bit per noisy signal, -1 unreadable, 0 clean again */
    }
    add_rhythm(f, r);
    f->noise |= noisy;
    size_t j = i;
    while (j > 0 && a->items[j - 1].sample >= t0) /* beats at t0 itself belong to the window */
        j--;
    for (; j < a->count && a->items[j].sample < t1; j++) {
        const mets_annot *x = &a->items[j];
        count_beat(f, x);
        if (j >= i && is_rhythm_change(x))
            add_rhythm(f, rhythm_of(x->aux));
        else if (j >= i && x->code == CODE_NOISE && x->subtype != 0)
            f->noise = 1;
    }
}

typedef struct writer {
    char *out;
    size_t cap, len;
    int full;
} writer;

/* Appends one sentence, a space before all but the first. */
static void say(writer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(writer *t, const char *fmt, ...)
{
    if (t->full)
        return;
    if (t->len && t->len + 1 < t->cap)
        t->out[t->len++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->out + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->full = 1;
    else
        t->len += (size_t)n;
}

static const char *rhythm_text(const rhythm *r, int bpm)
{
    if (r->kind == SINUS && bpm > 100)
        return "sinus tachycardia.";
    if (r->kind == SINUS && bpm > 0 && bpm < 60)
        return "sinus bradycardia.";
    return r->text;
}

static void say_rhythms(writer *t, const facts *f, int bpm)
{
    const char *said[MAX_RHYTHMS];
    int n = 0;
    for (int i = 0; i < f->nrhythms; i++) {
        const char *s = rhythm_text(f->rhythm[i], bpm);
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= !strcmp(said[k], s); /* "(N" below 60 bpm next to "(SBR" */
        if (!dup)
            say(t, "%s", said[n++] = s);
    }
}

static void say_count(writer *t, int n, const char *what)
{
    if (n)
        say(t, "%d %s premature %s.", n, what, n == 1 ? "complex" : "complexes");
}

int mets_streams_report(const mets_annots *a, double fs, int64_t t0, int64_t t1, char *out, size_t cap)
{
    if (!cap)
        return METS_ENOMEM;
    facts f = {0};
    scan(a, t0, t1, &f);
    int bpm = f.beats >= 2 && f.last > f.first ? (int)lround(60.0 * fs * (f.beats - 1) / (double)(f.last - f.first)) : 0;
    writer t = {out, cap, 0, 0};
    out[0] = '\0';
    say_rhythms(&t, &f, bpm);
    if (2 * f.left > f.beats)
        say(&t, "left bundle branch block.");
    if (2 * f.right > f.beats)
        say(&t, "right bundle branch block.");
    int paced_said = 0;
    for (int i = 0; i < f.nrhythms; i++)
        paced_said |= !strcmp(f.rhythm[i]->text, "paced rhythm.");
    if (2 * f.paced > f.beats && !paced_said)
        say(&t, "paced rhythm.");
    if (bpm)
        say(&t, "heart rate %d bpm.", bpm);
    say_count(&t, f.ventricular, "ventricular");
    say_count(&t, f.supra, "supraventricular");
    if (f.noise)
        say(&t, "%s", METS_STREAMS_NOISE_TEXT);
    return t.full ? METS_ENOMEM : (int)t.len;
}

const char *mets_cinc_report(char cls)
{
    switch (cls) {
    case 'N': return "sinus rhythm.";
    case 'A': return "atrial fibrillation.";
    case 'O': return "abnormal rhythm other than atrial fibrillation.";
    case '~': return METS_STREAMS_NOISE_TEXT;
    default: return NULL;
    }
}

/* ---- record lists ---- */

static int is_header(const struct dirent *e)
{
    size_t len = strlen(e->d_name);
    return len > 4 && !strcmp(e->d_name + len - 4, ".hea");
}

/* Every record of dir/mitdb and dir/vfdb (a folder that is not there has none). */
static int scan_records(const char *dir, mets_strlist *out)
{
    static const char *const dbs[] = {"mitdb", "vfdb"};
    int rc = 0;
    for (size_t d = 0; d < sizeof dbs / sizeof *dbs && !rc; d++) {
        char path[4096], name[512];
        snprintf(path, sizeof path, "%s/%s", dir, dbs[d]);
        struct dirent **ents;
        int n = scandir(path, &ents, is_header, alphasort);
        for (int i = 0; i < n; i++) {
            int len = snprintf(name, sizeof name, "%s/%s", dbs[d], ents[i]->d_name);
            rc = rc ?: mets_strlist_add(out, name, (size_t)len - 4);
            free(ents[i]);
        }
        if (n >= 0)
            free(ents);
    }
    return rc;
}

/* Splits "mitdb/201,vfdb/418" into out; "none" is the empty list. */
static int split_list(const char *s, mets_strlist *out, mets_err *err)
{
    if (!strcmp(s, "none"))
        return 0;
    for (const char *p = s;; p++) {
        size_t len = strcspn(p, ",");
        const char *slash = memchr(p, '/', len);
        if (!slash || slash == p || slash == p + len - 1 || memchr(slash + 1, '/', len - (size_t)(slash + 1 - p)))
            return mets_err_set(err, METS_EINVAL, "record list \"%s\": expected db/record entries such as mitdb/201", s);
        if (mets_strlist_add(out, p, len))
            return mets_err_set(err, METS_ENOMEM, "out of memory");
        p += len;
        if (!*p)
            return 0;
    }
}

int mets_streams_list(const char *dir, const char *list, const char *exclude, char ***names, int *n, mets_err *err)
{
    mets_strlist all = {0}, ex = {0}, keep = {0};
    int rc = (!list || !strcmp(list, "all")) ? scan_records(dir, &all) : split_list(list, &all, err);
    if (rc == METS_ENOMEM)
        mets_err_set(err, rc, "out of memory");
    rc = rc ?: exclude ? split_list(exclude, &ex, err) : 0;
    for (size_t i = 0; i < all.n && !rc; i++)
        if (mets_strlist_find(&ex, all.v[i]) < 0 && mets_strlist_find(&keep, all.v[i]) < 0)
            rc = mets_strlist_add(&keep, all.v[i], strlen(all.v[i])) ? mets_err_set(err, METS_ENOMEM, "out of memory") : 0;
    mets_strlist_free(&all), mets_strlist_free(&ex);
    if (rc)
        mets_strlist_free(&keep);
    *names = keep.v, *n = (int)keep.n;
    return rc;
}

void mets_streams_list_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- loading ---- */

mets_streams_opts mets_streams_default_opts(int rate_hz, int samples)
{
    return (mets_streams_opts){.rate_hz = rate_hz, .samples = samples, .hop_s = 5.0};
}

/* A set under construction. */
typedef struct builder {
    mets_streams_set *set;
    const mets_streams_opts *o;
    mets_textset ts;
    int cap, record_cap;
    float *scratch; /* the window [24, S] and mets_prep_window's work */
} builder;

/* Says what window [t0, t1) seconds of a record is: its report into out, "" when nothing. */
typedef int (*report_fn)(const void *ctx, double t0, double t1, char *out, size_t cap);

static int grow_windows(builder *b, mets_err *err)
{
    mets_train_data *d = &b->set->data;
    if (d->n < b->cap)
        return 0;
    int cap = b->cap ? 2 * b->cap : 1024;
    void *p[4] = {realloc(d->leads, (size_t)cap * 12 * d->samples * sizeof *d->leads),
                  realloc(d->present, cap * sizeof *d->present), realloc(d->text, cap * sizeof *d->text),
                  realloc(b->set->start, cap * sizeof *b->set->start)};
    if (p[0]) d->leads = p[0];
    if (p[1]) d->present = p[1];
    if (p[2]) d->text = p[2];
    if (p[3]) b->set->start = p[3];
    if (!p[0] || !p[1] || !p[2] || !p[3])
        return mets_err_set(err, METS_ENOMEM, "out of memory for %d windows", cap);
    b->cap = cap;
    return 0;
}

/* Preprocesses the window of l starting at sample `at` and adds it with its text. */
static int add_window(builder *b, const mets_dataset_leads *l, int at, const char *report, mets_err *err)
{
    mets_train_data *d = &b->set->data;
    int S = d->samples, rc = grow_windows(b, err);
    if (rc)
        return rc;
    const float *leads[METS_PREP_LEADS];
    for (int i = 0; i < METS_PREP_LEADS; i++)
        leads[i] = l->lead[i] ? l->lead[i] + at : NULL;
    mets_prep_window(leads, S, b->o->rate_hz, b->scratch, b->scratch + (size_t)24 * S);
    memcpy(d->leads + (size_t)d->n * 12 * S, b->scratch, (size_t)12 * S * sizeof *d->leads);
    d->present[d->n] = l->present;
    b->set->start[d->n] = (double)at / b->o->rate_hz;
    if ((d->text[d->n] = mets_textset_intern(&b->ts, report)) < 0)
        return mets_err_set(err, METS_ENOMEM, "out of memory for report texts");
    d->n++;
    return 0;
}

static mets_streams_record *new_record(builder *b, const char *name, const mets_dataset_leads *l, char cls,
                                       mets_err *err)
{
    mets_streams_set *s = b->set;
    if (s->nrecords == b->record_cap) {
        int cap = b->record_cap ? 2 * b->record_cap : 64;
        mets_streams_record *grown = realloc(s->records, cap * sizeof *grown);
        if (!grown)
            return mets_err_set(err, METS_ENOMEM, "out of memory"), NULL;
        s->records = grown, b->record_cap = cap;
    }
    mets_streams_record *r = &s->records[s->nrecords++];
    *r = (mets_streams_record){.fs = l->fs, .seconds = l->seconds, .cinc_class = cls, .first_window = s->data.n};
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

/* Cuts a record into windows every `hop` samples (one zero-padded window when it is shorter than one). */
static int add_record(builder *b, const char *name, const mets_dataset_leads *l, int hop, char cls, report_fn report,
                      const void *ctx, mets_err *err)
{
    mets_streams_record *r = new_record(b, name, l, cls, err);
    int S = b->set->data.samples, rc = r ? 0 : METS_ENOMEM;
    char text[1024];
    for (int at = 0; !rc && (at == 0 || at + S <= l->n); at += hop) {
        double t0 = (double)at / b->o->rate_hz;
        if ((rc = report(ctx, t0, t0 + (double)S / b->o->rate_hz, text, sizeof text)) < 0)
            return mets_err_set(err, rc, "%s: report of the window at %.0f s does not fit", name, t0);
        rc = text[0] || b->o->keep_silent ? add_window(b, l, at, text, err) : 0;
    }
    if (r)
        b->set->records[b->set->nrecords - 1].nwindows = b->set->data.n - r->first_window;
    return rc;
}

typedef struct annotated {
    const mets_annots *a;
    double fs;
} annotated;

static int annotated_report(const void *ctx, double t0, double t1, char *out, size_t cap)
{
    const annotated *s = ctx;
    return mets_streams_report(s->a, s->fs, (int64_t)llround(t0 * s->fs), (int64_t)llround(t1 * s->fs), out, cap);
}

static int builder_init(builder *b, mets_streams_set *set, const mets_streams_opts *o, mets_err *err)
{
    memset(set, 0, sizeof *set);
    set->data.samples = o->samples;
    *b = (builder){.set = set, .o = o};
    b->scratch = malloc(((size_t)24 * o->samples + mets_prep_work_floats(o->samples)) * sizeof *b->scratch);
    if (o->rate_hz <= 0 || o->samples <= 0 || o->hop_s <= 0)
        return mets_err_set(err, METS_EINVAL, "streams: bad rate %d, window %d or hop %g", o->rate_hz, o->samples,
                            o->hop_s);
    return b->scratch ? 0 : mets_err_set(err, METS_ENOMEM, "out of memory");
}

static int builder_done(builder *b, int rc)
{
    b->set->texts = mets_textset_take(&b->ts, &b->set->data.ntexts);
    free(b->scratch);
    if (rc)
        mets_streams_free(b->set);
    return rc;
}

/* Loads one annotated record; a record whose files are not there counts as missing. */
static int load_annotated(builder *b, const char *dir, const char *name, int hop, mets_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mets_dataset_leads l;
    mets_annots a = {0};
    int rc = mets_dataset_read_leads(path, b->o->rate_hz, LEAD_II, 0, b->o->samples, &l, err);
    if (!rc) {
        snprintf(path, sizeof path, "%s/%s.atr", dir, name);
        rc = mets_annot_read(path, &a, err);
    }
    if (!rc) {
        annotated ctx = {&a, l.fs};
        rc = add_record(b, name, &l, hop, 0, annotated_report, &ctx, err);
    }
    mets_annots_free(&a);
    mets_dataset_leads_free(&l);
    if (rc == METS_ENOTFOUND)
        b->set->missing++;
    return rc == METS_ENOTFOUND ? 0 : rc;
}

int mets_streams_load(const char *dir, char *const *names, int n, const mets_streams_opts *o, mets_streams_set *set,
                      mets_err *err)
{
    builder b;
    int rc = builder_init(&b, set, o, err);
    int hop = (int)lround(o->hop_s * o->rate_hz);
    for (int i = 0; i < n && !rc; i++)
        rc = load_annotated(&b, dir, names[i], hop > 0 ? hop : 1, err);
    return builder_done(&b, rc);
}

static int cinc_report(const void *ctx, double t0, double t1, char *out, size_t cap)
{
    return snprintf(out, cap, "%s", (const char *)ctx) < (int)cap ? 0 : METS_ENOMEM;
}

/* The number a record name ends with ("A00042" -> 42), or -1. */
static int record_number(const char *name)
{
    size_t len = strlen(name), i = len;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
        i--;
    return i < len && len - i < 9 ? atoi(name + i) : -1;
}

/* Loads the record of one REFERENCE.csv line ("A00001,N") when its number is in range. */
static int load_cinc_line(builder *b, const char *dir, char *line, int first, int last, mets_err *err)
{
    char *comma = strchr(line, ',');
    if (!comma)
        return 0; /* a blank line */
    *comma = '\0';
    int num = record_number(line);
    const char *report = mets_cinc_report(comma[1]);
    if (!report || strchr(line, '/'))
        return mets_err_set(err, METS_EFORMAT, "REFERENCE.csv: line \"%s,%c\": expected NAME,CLASS with a class of N A O ~",
                            line, comma[1]);
    if (num < first || num > last)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, line);
    mets_dataset_leads l;
    int rc = mets_dataset_read_leads(path, b->o->rate_hz, LEAD_I, 0, b->o->samples, &l, err);
    if (rc == METS_ENOTFOUND) {
        b->set->missing++; /* a held-out record */
        return 0;
    }
    rc = rc ?: add_record(b, line, &l, b->o->samples, comma[1], cinc_report, report, err);
    mets_dataset_leads_free(&l);
    return rc;
}

int mets_cinc_load(const char *dir, const char *reference, int first, int last, const mets_streams_opts *o,
                   mets_streams_set *set, mets_err *err)
{
    char path[4096], line[256];
    snprintf(path, sizeof path, "%s/REFERENCE.csv", dir);
    builder b;
    int rc = builder_init(&b, set, o, err);
    FILE *f = rc ? NULL : fopen(reference ? reference : path, "r");
    if (!rc && !f)
        rc = mets_err_set(err, METS_ENOTFOUND, "%s: cannot open", reference ? reference : path);
    while (!rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        rc = load_cinc_line(&b, dir, line, first, last, err);
    }
    if (f)
        fclose(f);
    return builder_done(&b, rc);
}

int mets_cinc_parse_range(const char *s, int *first, int *last)
{
    char *end;
    long lo = strtol(s, &end, 10), hi = lo;
    if (end == s || lo < 0 || lo > INT_MAX)
        return -1;
    if (*end == '-' && end[1] == '\0') /* "701-": to the last record */
        hi = INT_MAX, end++;
    else if (*end == '-') {
        const char *p = end + 1;
        hi = strtol(p, &end, 10);
        if (end == p || hi < lo || hi > INT_MAX)
            return -1;
    }
    if (*end)
        return -1;
    *first = (int)lo, *last = (int)hi;
    return 0;
}

void mets_streams_free(mets_streams_set *set)
{
    for (int i = 0; i < set->data.ntexts; i++)
        free(set->texts[i]);
    free(set->texts), free(set->data.leads), free(set->data.present), free(set->data.text), free(set->data.text_emb);
    free(set->start), free(set->records);
    memset(set, 0, sizeof *set);
}
