/* mets plot: a picture of an alert's ECG strip with the scores that made it fire. Reads a WFDB record,
 * scores it the way metsd does (frames as `mets replay` sends them -> windower -> scorer against the
 * prompt bank), and draws the strip on ECG paper with one probability line per label of the group and
 * the raise / clear marks of the alerts in --alert (JSON lines of `mets tail` or `metsd --print-alerts`).
 * SVG, or PNG through cairo; written to a temporary file and renamed, so nothing is left half-written. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canvas.h"
#include "cli.h"
#include "ecgenc.h"
#include "ecgplot.h"
#include "fileio.h"
#include "labels.h"
#include "recframes.h"
#include "score.h"
#include "wfdb.h"
#include "window.h"

#define BATCH 16
#define MAX_ALERT_FILE (16u << 20)
#define MARGIN_S 4.0 /* around an alert, when --from / --to are not given */

static const char usage_text[] =
    "usage: mets plot [options] RECORD\n"
    "  RECORD is a WFDB record path (with or without .hea).\n"
    "  -o, --output FILE       SVG or PNG (by the name's ending; default plot.svg)\n"
    "      --format svg|png    overrides the ending\n"
    "      --from S, --to S    record seconds to draw (default: the alert with 4 s around it, else 0..10)\n"
    "      --leads LIST        e.g. II,V1 (default up to 3 leads of the record, II first)\n"
    "      --alert FILE        alert JSON lines (raised, cleared ...) to mark; the first names the label\n"
    "      --record-start-us US  UTC us of the record's first sample (default mets replay's: 1767225600000000)\n"
    "      --group NAME        label group of the scores (default the alert's, else rhythm)\n"
    "      --labels FILE       label prompts (default conf/labels.yaml)\n"
    "      --ecg-model FILE    (default models/mets-ecg.mets)\n"
    "  -m, --text-model FILE   the frozen language model (default $METS_TEXT_MODEL, else set-up's)\n"
    "      --row-s S           seconds per strip row (default 10)\n"
    "      --px-per-mm N       PNG resolution (default 5)\n"
    "      --print-scores      also print each window's scores as a JSON line on stdout\n";

typedef struct args {
    const char *record, *out, *format, *leads, *alert, *group, *labels, *ecg_model, *text_model;
    double from, to, row_s, px_per_mm;
    int has_from, has_to, print_scores;
    int64_t t0_us;
} args;

/* The drawn part of the record. */
typedef struct strip {
    char name[64];
    double fs, seconds;
    int nleads, n;
    char lead_names[METS_ECGPLOT_MAX_LEADS][8];
    float *mv[METS_ECGPLOT_MAX_LEADS];
} strip;

/* Alerts read from --alert: the marks and what the title says. */
typedef struct alerts {
    int n;
    mets_ecgplot_mark *marks;
    char (*text)[96];
    char stream[128], group[64], label[64], summary[256];
    double first_t, last_t;
} alerts;

/* Scores of the chosen group at each window end. */
typedef struct scores {
    mets_ecgenc *enc;
    mets_textenc *te;
    mets_labels *labels;
    mets_promptbank *bank;
    mets_windower *win;
    mets_scorer *sc;
    int group, samples, nbatch, n, cap;
    double length_s;
    int64_t t0_us, keep_from_us, keep_to_us, end_sample;
    double fs_record;
    int64_t end_us[BATCH];
    uint16_t present[BATCH];
    float *batch_mv, *cos, *prob_all;
    double *t;
    float *prob;
    int failed;
    mets_err err;
} scores;

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},     {"format", required_argument, NULL, 'f'},
        {"from", required_argument, NULL, 'F'},       {"to", required_argument, NULL, 'T'},
        {"leads", required_argument, NULL, 'L'},      {"alert", required_argument, NULL, 'a'},
        {"record-start-us", required_argument, NULL, 'S'}, {"group", required_argument, NULL, 'g'},
        {"labels", required_argument, NULL, 'l'},     {"ecg-model", required_argument, NULL, 'e'},
        {"text-model", required_argument, NULL, 'm'}, {"row-s", required_argument, NULL, 'r'},
        {"px-per-mm", required_argument, NULL, 'p'},  {"print-scores", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *a = (args){.out = "plot.svg", .labels = "conf/labels.yaml", .ecg_model = "models/mets-ecg.mets",
                .row_s = METS_ECGPLOT_ROW_S, .px_per_mm = 5, .t0_us = mets_recframes_default_opts().t0_us};
    int c;
    while ((c = getopt_long(argc, argv, "o:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->out = optarg; break;
        case 'f': a->format = optarg; break;
        case 'F': a->from = atof(optarg), a->has_from = 1; break;
        case 'T': a->to = atof(optarg), a->has_to = 1; break;
        case 'L': a->leads = optarg; break;
        case 'a': a->alert = optarg; break;
        case 'S': a->t0_us = strtoll(optarg, NULL, 10); break;
        case 'g': a->group = optarg; break;
        case 'l': a->labels = optarg; break;
        case 'e': a->ecg_model = optarg; break;
        case 'm': a->text_model = optarg; break;
        case 'r': a->row_s = atof(optarg); break;
        case 'p': a->px_per_mm = atof(optarg); break;
        case 'P': a->print_scores = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind != argc - 1 || !(a->row_s >= 1) || !(a->px_per_mm > 0 && a->px_per_mm <= 40) ||
        (a->format && strcmp(a->format, "svg") && strcmp(a->format, "png"))) {
        fputs(usage_text, stderr);
        return 2;
    }
    a->record = argv[optind];
    a->text_model = mets_cli_text_model(a->text_model);
    return -1;
}

/* --- the strip ------------------------------------------------------------------------------------ */

/* Which record signal feeds each drawn lead: --leads in its order, else up to 3 with II first. */
static int pick_leads(const mets_wfdb_record *rec, const args *a, strip *s, int *signal_of, mets_err *err)
{
    int lead_signal[METS_NLEADS];
    for (int l = 0; l < METS_NLEADS; l++)
        lead_signal[l] = -1;
    for (int i = 0; i < mets_wfdb_nsig(rec); i++) {
        int l = mets_ecg_signal_lead(mets_wfdb_signal_info(rec, i)->description, METS_LEAD_II);
        if (l >= 0 && lead_signal[l] < 0)
            lead_signal[l] = i;
    }
    if (a->leads) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", a->leads);
        for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int l = mets_ecg_lead_index(tok);
            if (l < 0 || lead_signal[l] < 0)
                return mets_err_set(err, METS_EINVAL, "%s: no lead %s in the record (--leads %s)", a->record, tok,
                                    a->leads);
            if (s->nleads == METS_ECGPLOT_MAX_LEADS)
                return mets_err_set(err, METS_EINVAL, "--leads %s: at most %d leads", a->leads, METS_ECGPLOT_MAX_LEADS);
            signal_of[s->nleads] = lead_signal[l];
            snprintf(s->lead_names[s->nleads++], sizeof s->lead_names[0], "%s", mets_ecg_lead_names[l]);
        }
        return 0;
    }
    for (int k = 0; k < METS_NLEADS && s->nleads < 3; k++) {
        int l = k == 0 ? METS_LEAD_II : k <= METS_LEAD_II ? k - 1 : k; /* II, then I, III, aVR ... */
        if (lead_signal[l] >= 0) {
            signal_of[s->nleads] = lead_signal[l];
            snprintf(s->lead_names[s->nleads++], sizeof s->lead_names[0], "%s", mets_ecg_lead_names[l]);
        }
    }
    return s->nleads ? 0 : mets_err_set(err, METS_EINVAL, "%s: no standard ECG lead in the record", a->record);
}

/* Reads [from, to) of the chosen leads in mV. */
static int read_strip(const mets_wfdb_record *rec, const args *a, strip *s, mets_err *err)
{
    int signal_of[METS_ECGPLOT_MAX_LEADS], nsig = mets_wfdb_nsig(rec);
    if (pick_leads(rec, a, s, signal_of, err))
        return err->code;
    int64_t first = llround(a->from * s->fs), n = llround(a->to * s->fs) - first;
    if (first + n > mets_wfdb_nsamp(rec))
        n = mets_wfdb_nsamp(rec) - first;
    float *raw = malloc((size_t)n * nsig * sizeof *raw);
    int rc = raw ? mets_wfdb_read_phys(rec, first, n, raw, err) : mets_err_set(err, METS_ENOMEM, "out of memory");
    for (int l = 0; l < s->nleads && !rc; l++) {
        if (!(s->mv[l] = malloc((size_t)n * sizeof *s->mv[l]))) {
            rc = mets_err_set(err, METS_ENOMEM, "out of memory");
            break;
        }
        for (int64_t t = 0; t < n; t++)
            s->mv[l][t] = raw[t * nsig + signal_of[l]];
    }
    s->n = (int)n;
    free(raw);
    return rc;
}

/* --- the alerts ----------------------------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    if (!v && k2)
        v = json_object_get(o, k2);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One alert line: a raise marks its onset, a clear the end of the window that cleared it; updates only
 * count towards the title. */
static int add_alert(alerts *al, json_t *o, const args *a, const char *where, mets_err *err)
{
    const char *state = jstr(o, "state", NULL), *label = jstr(o, "label", NULL);
    const char *group = jstr(o, "group", "label_group"); /* metsd --print-alerts / mets tail */
    json_t *onset = json_object_get(o, "onset_us"), *end = json_object_get(o, "window_end_us");
    json_t *prob = json_object_get(o, "probability");
    if (!json_is_object(o) || !state || !label || !group || !json_is_integer(onset) || !json_is_integer(end) ||
        !json_is_number(prob))
        return mets_err_set(err, METS_EFORMAT,
                            "%s: not an alert: expected state, label, group, probability, onset_us and window_end_us "
                            "as `mets tail` prints them",
                            where);
    int raised = !strcmp(state, "raised"), cleared = !strcmp(state, "cleared");
    if (!raised && !cleared && strcmp(state, "updated"))
        return mets_err_set(err, METS_EFORMAT, "%s: state \"%s\": expected raised, updated or cleared", where, state);
    if (!al->label[0]) {
        const char *stream = jstr(o, "stream_id", NULL);
        snprintf(al->stream, sizeof al->stream, "%s", stream ? stream : "");
        snprintf(al->group, sizeof al->group, "%s", group);
        snprintf(al->label, sizeof al->label, "%s", label);
    }
    if (!raised && !cleared)
        return 0;
    double onset_s = (double)(json_integer_value(onset) - a->t0_us) * 1e-6;
    double end_s = (double)(json_integer_value(end) - a->t0_us) * 1e-6, t = raised ? onset_s : end_s;
    double p = json_number_value(prob);
    if (raised)
        snprintf(al->text[al->n], sizeof al->text[0], "%s onset (raised at %.1f s, p=%.2f)", label, end_s, p);
    else
        snprintf(al->text[al->n], sizeof al->text[0], "%s cleared (p=%.2f)", label, p);
    al->marks[al->n] = (mets_ecgplot_mark){t, raised ? METS_MARK_RAISED : METS_MARK_CLEARED, al->text[al->n]};
    size_t len = strlen(al->summary);
    if (!strcmp(label, al->label) && raised)
        snprintf(al->summary + len, sizeof al->summary - len, "%sraised at %.1f s (p=%.2f), onset %.1f s",
                 len ? ", " : "", end_s, p, onset_s);
    else if (!strcmp(label, al->label))
        snprintf(al->summary + len, sizeof al->summary - len, "%scleared at %.1f s (p=%.2f)", len ? ", " : "", end_s,
                 p);
    al->first_t = al->n == 0 || t < al->first_t ? t : al->first_t;
    al->last_t = al->n == 0 || t > al->last_t ? t : al->last_t;
    al->n++;
    return 0;
}

static int read_alerts(const args *a, alerts *al, mets_err *err)
{
    size_t len;
    char *text = mets_file_slurp(a->alert, MAX_ALERT_FILE, &len, err);
    if (!text)
        return err->code;
    int lines = 1, rc = 0, lineno = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    al->marks = calloc((size_t)lines, sizeof *al->marks), al->text = calloc((size_t)lines, sizeof *al->text);
    if (!al->marks || !al->text)
        rc = mets_err_set(err, METS_ENOMEM, "out of memory");
    for (size_t at = 0, n; at < len && !rc; at += n + 1) { /* the text is not NUL-terminated */
        const char *line = text + at, *nl = memchr(line, '\n', len - at);
        n = nl ? (size_t)(nl - line) : len - at;
        lineno++;
        size_t blank = 0;
        while (blank < n && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r'))
            blank++;
        if (blank == n)
            continue;
        char where[512];
        snprintf(where, sizeof where, "%s:%d", a->alert, lineno);
        json_error_t je;
        json_t *o = json_loadb(line, n, 0, &je);
        rc = o ? add_alert(al, o, a, where, err)
               : mets_err_set(err, METS_EFORMAT, "%s: not JSON: %s (column %d)", where, je.text, je.column);
        json_decref(o);
    }
    free(text);
    if (!rc && !al->label[0])
        rc = mets_err_set(err, METS_EFORMAT, "%s: no alert in the file", a->alert);
    return rc;
}

/* --- the scores ----------------------------------------------------------------------------------- */

static void flush_scores(scores *s)
{
    if (!s->nbatch || s->failed)
        return;
    mets_window_leads leads[BATCH];
    for (int i = 0; i < s->nbatch; i++)
        for (int l = 0; l < METS_ECG_LEADS; l++)
            leads[i][l] = s->present[i] >> l & 1 ? s->batch_mv + ((size_t)i * METS_ECG_LEADS + l) * s->samples : NULL;
    if (mets_scorer_score(s->sc, leads, s->nbatch, NULL, s->cos, s->prob_all, &s->err)) {
        s->failed = 1;
        return;
    }
    const mets_label_group *g = &s->labels->groups[s->group];
    for (int i = 0; i < s->nbatch; i++, s->n++) {
        s->t[s->n] = (double)(s->end_us[i] - s->t0_us) * 1e-6;
        memcpy(s->prob + (size_t)s->n * g->nlabels, s->prob_all + (size_t)i * s->labels->nlabels + g->first_label,
               (size_t)g->nlabels * sizeof *s->prob);
    }
    s->nbatch = 0;
}

/* As metsd's on_window: copies the window (its arrays live only during the call), in batches. */
static void on_window(const mets_window *w, void *ctx)
{
    scores *s = ctx;
    if (w->end_us < s->keep_from_us || w->end_us > s->keep_to_us || s->n + s->nbatch >= s->cap)
        return;
    if (s->nbatch == BATCH)
        flush_scores(s);
    s->end_us[s->nbatch] = w->end_us, s->present[s->nbatch] = w->present;
    memcpy(s->batch_mv + (size_t)s->nbatch * METS_ECG_LEADS * s->samples, w->mv,
           (size_t)METS_ECG_LEADS * s->samples * sizeof *s->batch_mv);
    s->nbatch++;
}

/* Feeds a frame to the windower. After the last one, a copy far later restarts the stream's segment,
 * which flushes the resampler, so the windows up to the record's end come out (metsd would wait for
 * the next frames). */
static int on_frame(void *ctx, const mets_frame *f)
{
    scores *s = ctx;
    if (mets_windower_push(s->win, f, on_window, s, &s->err))
        return 1;
    int64_t last = llround((double)(f->t0_us - s->t0_us) * 1e-6 * s->fs_record) + f->nsamples;
    if (last >= s->end_sample) {
        mets_frame flush = *f;
        flush.seq++, flush.t0_us += 3600 * 1000000LL;
        if (mets_windower_push(s->win, &flush, on_window, s, &s->err))
            return 1;
    }
    return 0;
}

static int open_scoring(scores *s, const args *a, const char *group, int max_windows, mets_err *err)
{
    if (!(s->enc = mets_ecgenc_open(a->ecg_model, err)) || !(s->te = mets_textenc_open(a->text_model, err)) ||
        !(s->labels = mets_labels_load(a->labels, err)) ||
        !(s->bank = mets_promptbank_new(s->labels, s->te, s->enc, err)))
        return err->code;
    s->group = -1;
    for (int g = 0; g < s->labels->ngroups; g++)
        if (!strcmp(s->labels->groups[g].name, group))
            s->group = g;
    if (s->group < 0)
        return mets_err_set(err, METS_EINVAL, "%s: no label group \"%s\"", a->labels, group);
    const mets_ecgenc_arch *arch = mets_ecgenc_get_arch(s->enc);
    mets_window_params wp = mets_window_default_params();
    wp.rate_hz = arch->rate_hz, wp.length_s = (double)arch->samples / arch->rate_hz;
    s->samples = arch->samples, s->cap = max_windows;
    int L = s->labels->nlabels, G = s->labels->groups[s->group].nlabels;
    s->batch_mv = malloc((size_t)BATCH * METS_ECG_LEADS * arch->samples * sizeof *s->batch_mv);
    s->cos = malloc((size_t)BATCH * L * sizeof *s->cos), s->prob_all = malloc((size_t)BATCH * L * sizeof *s->prob_all);
    s->t = malloc((size_t)max_windows * sizeof *s->t), s->prob = malloc((size_t)max_windows * G * sizeof *s->prob);
    if (!s->batch_mv || !s->cos || !s->prob_all || !s->t || !s->prob)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    if (!(s->win = mets_windower_new(&wp, err)) || !(s->sc = mets_scorer_new(s->enc, s->bank, BATCH, err)))
        return err->code;
    return 0;
}

/* The windows metsd would score for this record, with their ends in [from - hop, to + hop] (so the lines
 * reach the edges), as `mets replay` would send it with --record-start-us as its clock. */
static int score_record(scores *s, const args *a, const strip *st, const char *group, mets_err *err)
{
    mets_window_params wp = mets_window_default_params();
    int max_windows = (int)((a->to - a->from) / wp.hop_s) + 4;
    if (open_scoring(s, a, group, max_windows, err))
        return err->code;
    double length_s = s->length_s = (double)s->samples / mets_ecgenc_get_arch(s->enc)->rate_hz;
    mets_recframes_opts o = mets_recframes_default_opts();
    o.t0_us = s->t0_us = a->t0_us;
    o.start_s = a->from - length_s - wp.hop_s > 0 ? a->from - length_s - wp.hop_s : 0;
    o.duration_s = a->to + length_s - o.start_s; /* well past `to`: the resampler lags its input */
    s->fs_record = st->fs;
    s->end_sample = llround(o.start_s * st->fs) + llround(o.duration_s * st->fs); /* as recframes cuts */
    if (s->end_sample > llround(st->seconds * st->fs))
        s->end_sample = llround(st->seconds * st->fs);
    s->keep_from_us = a->t0_us + llround((a->from - wp.hop_s) * 1e6);
    s->keep_to_us = a->t0_us + llround((a->to + wp.hop_s) * 1e6);
    int rc = mets_recframes_each(a->record, &o, on_frame, s, err);
    if (rc == 1) /* on_frame's failure, in s->err */
        rc = mets_err_set(err, s->err.code, "%s", s->err.msg);
    flush_scores(s);
    if (!rc && s->failed)
        rc = mets_err_set(err, s->err.code, "scoring: %s", s->err.msg);
    return rc;
}

static void free_scoring(scores *s)
{
    mets_scorer_free(s->sc);
    mets_windower_free(s->win);
    mets_promptbank_free(s->bank);
    mets_labels_free(s->labels);
    mets_textenc_free(s->te);
    mets_ecgenc_free(s->enc);
    free(s->batch_mv), free(s->cos), free(s->prob_all), free(s->t), free(s->prob);
}

/* {"t_s": window end in record seconds, "window_end_us": ..., "scores": {label: p, ...}} per window. */
static void print_scores(const scores *s, const mets_ecgplot *p)
{
    for (int i = 0; i < s->n; i++) {
        json_t *sc = json_object();
        for (int k = 0; k < p->nlabels; k++)
            json_object_set_new(sc, p->labels[k], json_real(s->prob[(size_t)i * p->nlabels + k]));
        json_t *j = json_pack("{s:f, s:I, s:s, s:o}", "t_s", s->t[i], "window_end_us",
                              (json_int_t)(s->t0_us + llround(s->t[i] * 1e6)), "group", p->group, "scores", sc);
        json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(4));
        putchar('\n');
        json_decref(j);
    }
}

/* --- output --------------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* Draws into a temporary file beside `out` and renames it: a failure leaves no file behind. */
static int write_plot(const args *a, const mets_ecgplot *p, mets_err *err)
{
    int png = a->format ? !strcmp(a->format, "png") : ends_with(a->out, ".png");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", a->out) >= (int)sizeof tmp)
        return mets_err_set(err, METS_EINVAL, "%s: name too long", a->out);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return mets_err_set(err, METS_EIO, "%s: cannot create: %s", a->out, strerror(errno));
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    double w, h;
    mets_ecgplot_size(p, &w, &h);
    mets_canvas *c = f ? mets_canvas_new(f, png ? METS_CANVAS_PNG : METS_CANVAS_SVG, w, h, a->px_per_mm, err) : NULL;
    int rc = f ? (c ? 0 : err->code) : mets_err_set(err, METS_EIO, "%s: %s", tmp, strerror(errno));
    if (c) {
        mets_ecgplot_draw(p, c);
        rc = mets_canvas_finish(c, err);
    }
    if (f ? fclose(f) : close(fd))
        rc = rc ? rc : mets_err_set(err, METS_EIO, "%s: write failed: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, a->out))
        rc = mets_err_set(err, METS_EIO, "%s: cannot rename into place: %s", a->out, strerror(errno));
    if (rc) {
        unlink(tmp);
        return mets_err_prefix(err, "%s: ", a->out);
    }
    return 0;
}

/* --- the command ---------------------------------------------------------------------------------- */

/* --from / --to: given, else around the alert's marks, else the first 10 s; checked against the record. */
static int pick_range(args *a, const alerts *al, double seconds, mets_err *err)
{
    if (!a->has_from)
        a->from = al->n ? al->first_t - MARGIN_S : 0;
    if (!a->has_to)
        a->to = al->n ? al->last_t + (al->last_t > al->first_t ? MARGIN_S : 10 + MARGIN_S) : a->from + 10;
    if (!a->has_from && a->from < 0)
        a->from = 0;
    if (!a->has_to && a->to > seconds)
        a->to = seconds;
    if (!(a->from >= 0 && a->to > a->from && a->to <= seconds + 1e-9))
        return mets_err_set(err, METS_EINVAL, "%s: --from %g --to %g s is outside the record (0 to %.3f s)", a->record,
                            a->from, a->to, seconds);
    return 0;
}

static int plot(args *a, alerts *al, strip *st, scores *sc, mets_err *err)
{
    if (a->alert && read_alerts(a, al, err))
        return err->code;
    mets_wfdb_record *rec = mets_wfdb_open(a->record, err);
    if (!rec)
        return err->code;
    snprintf(st->name, sizeof st->name, "%s", mets_wfdb_header_of(rec)->name);
    st->fs = mets_wfdb_fs(rec), st->seconds = (double)mets_wfdb_nsamp(rec) / st->fs;
    int rc = pick_range(a, al, st->seconds, err);
    if (!rc)
        rc = read_strip(rec, a, st, err);
    mets_wfdb_free(rec);
    const char *group = a->group ? a->group : al->group[0] ? al->group : "rhythm";
    if (rc || score_record(sc, a, st, group, err))
        return err->code;
    for (int m = 0; m < al->n; m++)
        if (al->marks[m].t_s < a->from || al->marks[m].t_s > a->to)
            fprintf(stderr, "mets plot: %s at %.1f s is outside --from %g --to %g (a different --record-start-us?)\n",
                    al->marks[m].text, al->marks[m].t_s, a->from, a->to);
    const mets_label_group *g = &sc->labels->groups[sc->group];
    const char *names[64];
    int nlabels = g->nlabels < 64 ? g->nlabels : 64;
    for (int k = 0; k < nlabels; k++)
        names[k] = sc->labels->labels[g->first_label + k].name;
    char title[256], subtitle[512];
    snprintf(title, sizeof title, "%s%s%s, %.1f to %.1f s", st->name, al->stream[0] ? ", stream " : "", al->stream,
             a->from, a->to);
    if (al->label[0])
        snprintf(subtitle, sizeof subtitle, "alert %s (%s): %s", al->label, al->group, al->summary);
    else if (sc->n)
        snprintf(subtitle, sizeof subtitle, "scores of group %s: %d windows of %g s", group, sc->n, sc->length_s);
    else
        snprintf(subtitle, sizeof subtitle, "no scores: no window ends here (each needs %g s of signal)", sc->length_s);
    mets_ecgplot p = {.title = title, .subtitle = subtitle, .from_s = a->from, .to_s = a->to, .row_s = a->row_s,
                      .fs = st->fs, .nsamples = st->n, .nleads = st->nleads, .group = group, .nlabels = nlabels,
                      .nscores = sc->n, .labels = names, .score_t = sc->t, .prob = sc->prob,
                      .highlight = al->label[0] ? mets_labels_find(sc->labels, group, al->label) - g->first_label : -1,
                      .nmarks = al->n, .marks = al->marks};
    if (p.highlight < 0)
        p.highlight = -1;
    for (int l = 0; l < st->nleads; l++)
        p.lead_names[l] = st->lead_names[l], p.mv[l] = st->mv[l];
    if (a->print_scores)
        print_scores(sc, &p);
    return write_plot(a, &p, err);
}

int mets_cmd_plot(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    alerts al = {0};
    strip st = {0};
    scores sc = {0};
    mets_err err;
    rc = plot(&a, &al, &st, &sc, &err);
    if (rc)
        fprintf(stderr, "mets plot: %s\n", err.msg);
    else
        fprintf(stderr, "mets plot: %s: %.1f to %.1f s, %d leads, %d scored windows, %d alert marks\n", a.out, a.from,
                a.to, st.nleads, sc.n, al.n);
    free_scoring(&sc);
    for (int l = 0; l < st.nleads; l++)
        free(st.mv[l]);
    free(al.marks), free(al.text);
    return rc ? 1 : 0;
}
