/* Report texts into English with the phrase table: see report.h and report_phrases.tsv. */
#include "report.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hash.h"
#include "strlist.h"

/* report_phrases.tsv, compiled in by CMake (embed.cmake). */
extern const unsigned char mets_report_phrases_tsv[];
extern const size_t mets_report_phrases_tsv_len;

enum { PHRASE_REPLACE, PHRASE_DROP, PHRASE_CUT };

typedef struct phrase {
    char *key;     /* the folded tokens joined by single spaces: "qrs ( t ) abnorm" */
    size_t first_len;
    int ntok, kind, line;
    char *english; /* NULL unless PHRASE_REPLACE */
} phrase;

/* An open-addressing hash map from a word to a run of the sorted phrases (or to nothing, as a set). */
typedef struct slot {
    const char *word; /* NULL: empty */
    size_t len, first, count;
} slot;

typedef struct wordmap {
    slot *slots;
    size_t mask;
} wordmap;

typedef struct token {
    size_t off, len;
    bool space; /* preceded by whitespace */
} token;

struct mets_report_translator {
    phrase *phrases; /* sorted by first token, longest phrase first */
    size_t nphrases, cap_phrases;
    wordmap index;   /* first token -> its run of phrases */
    mets_strlist english; /* the words known to be English */
    wordmap english_set;
};

/* ---- text normalisation, shared by the table and the reports */

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Lower-cases ASCII and the Latin-1 capitals U+00C0..U+00DE (the reports' broken "Ä Ö Ü Å" among them;
 * in UTF-8 their second byte moves by 0x20), and collapses whitespace into single spaces without
 * leading or trailing ones. `out` needs strlen(in) + 1 bytes; returns the length written. */
static size_t normalize(const char *in, char *out)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (is_space(*p)) {
            if (w && out[w - 1] != ' ')
                out[w++] = ' ';
        } else if (*p == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97) {
            out[w++] = (char)*p++;
            out[w++] = (char)(*p + 0x20);
        } else {
            out[w++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        }
    }
    if (w && out[w - 1] == ' ')
        w--;
    out[w] = '\0';
    return w;
}

/* Spells ä ö ü ß as ae oe ue ss in place (the same number of bytes in UTF-8), so that both spellings
 * of the reports meet the table in one form. */
static void fold(char *s, size_t n)
{
    static const char from[] = "\xA4\xB6\xBC\x9F", *to[] = {"ae", "oe", "ue", "ss"};
    for (size_t i = 0; i + 1 < n; i++) {
        const char *hit = (unsigned char)s[i] == 0xC3 && s[i + 1] ? strchr(from, s[i + 1]) : NULL;
        if (hit) {
            memcpy(s + i, to[hit - from], 2);
            i++;
        }
    }
}

/* Splits normalised text into runs of word bytes and single punctuation marks; `toks` needs room for
 * n tokens. Returns the number of tokens. */
static size_t tokenize(const char *s, size_t n, token *toks)
{
    size_t nt = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (is_word_byte((unsigned char)s[i]))
            while (j < n && is_word_byte((unsigned char)s[j]))
                j++;
        toks[nt++] = (token){i, j - i, i > 0 && s[i - 1] == ' '};
        i = j;
    }
    return nt;
}

/* ---- the word map */

/* The slot holding `w`, or the empty slot where it would go. */
static slot *map_slot(const wordmap *m, const char *w, size_t n)
{
    for (size_t i = mets_fnv64(METS_FNV64_BASIS, w, n) & m->mask;; i = (i + 1) & m->mask) {
        slot *s = &m->slots[i];
        if (!s->word || (s->len == n && !memcmp(s->word, w, n)))
            return s;
    }
}

static const slot *map_get(const wordmap *m, const char *w, size_t n)
{
    const slot *s = m->slots ? map_slot(m, w, n) : NULL;
    return s && s->word ? s : NULL;
}

/* Sizes the map for n words at most half full. */
static int map_init(wordmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    return m->slots ? 0 : METS_ENOMEM;
}

/* ---- reading the table */

typedef struct table_src {
    const char *name; /* for messages: the path, or the built-in table's name */
    int line;
} table_src;

static int add_english_word(mets_report_translator *t, const char *w, size_t n)
{
    if (mets_strlist_add(&t->english, w, n))
        return METS_ENOMEM;
    fold(t->english.v[t->english.n - 1], n);
    return 0;
}

/* Adds every word of `text` (a phrase's English, or an !english line) to the English words. With
 * `single` set, anything but words separated by spaces is an error (an !english line). */
static int add_english_words(mets_report_translator *t, const char *text, bool single, const table_src *src,
                             mets_err *err)
{
    size_t len = strlen(text);
    char *norm = malloc(len + 1);
    token *toks = malloc((len + 1) * sizeof *toks);
    int rc = norm && toks ? 0 : METS_ENOMEM;
    size_t n = rc ? 0 : tokenize(norm, normalize(text, norm), toks);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!is_word_byte((unsigned char)norm[toks[i].off])) {
            if (single)
                rc = mets_err_set(err, METS_EFORMAT, "%s:%d: expected words separated by spaces after !english, "
                                  "found '%c'", src->name, src->line, norm[toks[i].off]);
            continue;
        }
        if (single && i > 0 && !toks[i].space)
            rc = mets_err_set(err, METS_EFORMAT, "%s:%d: expected words separated by spaces after !english",
                              src->name, src->line);
        else
            rc = add_english_word(t, norm + toks[i].off, toks[i].len);
    }
    free(norm), free(toks);
    return rc == METS_ENOMEM ? mets_err_set(err, rc, "out of memory reading %s", src->name) : rc;
}

/* Fills p->key, p->first_len and p->ntok from the phrase text. */
static int make_key(phrase *p, const char *text, const table_src *src, mets_err *err)
{
    size_t len = strlen(text);
    char *norm = malloc(len + 1), *key = malloc(2 * len + 1);
    token *toks = malloc((len + 1) * sizeof *toks);
    if (!norm || !key || !toks) {
        free(norm), free(key), free(toks);
        return mets_err_set(err, METS_ENOMEM, "out of memory reading %s", src->name);
    }
    size_t nlen = normalize(text, norm), n = tokenize(norm, nlen, toks), w = 0;
    fold(norm, nlen);
    for (size_t i = 0; i < n; i++) {
        if (i)
            key[w++] = ' ';
        memcpy(key + w, norm + toks[i].off, toks[i].len);
        w += toks[i].len;
    }
    key[w] = '\0';
    p->key = key, p->ntok = (int)n, p->first_len = n ? toks[0].len : 0;
    free(norm), free(toks);
    return 0;
}

static int add_phrase(mets_report_translator *t, int kind, const char *text, const char *english,
                      const table_src *src, mets_err *err)
{
    if (t->nphrases == t->cap_phrases) {
        size_t cap = t->cap_phrases ? 2 * t->cap_phrases : 256;
        phrase *grown = realloc(t->phrases, cap * sizeof *grown);
        if (!grown)
            return mets_err_set(err, METS_ENOMEM, "out of memory reading %s", src->name);
        t->phrases = grown, t->cap_phrases = cap;
    }
    phrase *p = &t->phrases[t->nphrases];
    *p = (phrase){.kind = kind, .line = src->line};
    int rc = make_key(p, text, src, err);
    if (rc)
        return rc;
    t->nphrases++;
    if (!p->ntok)
        return mets_err_set(err, METS_EFORMAT, "%s:%d: expected a phrase, found only spaces", src->name,
                            src->line);
    if (english && !(p->english = strdup(english)))
        return mets_err_set(err, METS_ENOMEM, "out of memory reading %s", src->name);
    return english ? add_english_words(t, english, false, src, err) : 0;
}

/* One line of the table, already split at its tab: "PHRASE<TAB>ENGLISH" or "!directive<TAB>TEXT". */
static int parse_entry(mets_report_translator *t, const char *left, const char *right, const table_src *src,
                       mets_err *err)
{
    if (!*left || !*right)
        return mets_err_set(err, METS_EFORMAT, "%s:%d: expected text on both sides of the tab, found an empty %s",
                            src->name, src->line, *left ? "right side (use !drop PHRASE for boilerplate)"
                                                        : "left side");
    if (*left != '!')
        return add_phrase(t, PHRASE_REPLACE, left, right, src, err);
    if (!strcmp(left, "!drop") || !strcmp(left, "!cut"))
        return add_phrase(t, left[1] == 'd' ? PHRASE_DROP : PHRASE_CUT, right, NULL, src, err);
    if (!strcmp(left, "!english"))
        return add_english_words(t, right, true, src, err);
    return mets_err_set(err, METS_EFORMAT, "%s:%d: unknown directive '%s', expected !drop, !cut or !english",
                        src->name, src->line, left);
}

static int parse_line(mets_report_translator *t, char *line, const table_src *src, mets_err *err)
{
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') /* a table saved with Windows line ends */
        line[--len] = '\0';
    if (!len || line[0] == '#')
        return 0;
    char *tab = strchr(line, '\t');
    if (!tab)
        return mets_err_set(err, METS_EFORMAT, "%s:%d: expected PHRASE<TAB>ENGLISH, found no tab", src->name,
                            src->line);
    *tab = '\0';
    if (strchr(tab + 1, '\t'))
        return mets_err_set(err, METS_EFORMAT, "%s:%d: expected PHRASE<TAB>ENGLISH, found more than one tab",
                            src->name, src->line);
    return parse_entry(t, line, tab + 1, src, err);
}

static int parse_table(mets_report_translator *t, const char *text, size_t len, const char *name, mets_err *err)
{
    char *copy = strndup(text, len);
    if (!copy)
        return mets_err_set(err, METS_ENOMEM, "out of memory reading %s", name);
    table_src src = {name, 0};
    int rc = 0;
    for (char *line = copy, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        src.line++;
        rc = parse_line(t, line, &src, err);
    }
    free(copy);
    return rc;
}

/* ---- indexing */

/* By first token, then longest first, so that a first token's phrases form one run tried in order. */
static int phrase_order(const void *pa, const void *pb)
{
    const phrase *a = pa, *b = pb;
    size_t n = a->first_len < b->first_len ? a->first_len : b->first_len;
    int c = memcmp(a->key, b->key, n);
    if (c || a->first_len != b->first_len)
        return c ? c : (a->first_len < b->first_len ? -1 : 1);
    if (a->ntok != b->ntok)
        return b->ntok - a->ntok;
    c = strcmp(a->key, b->key);
    return c ? c : a->line - b->line;
}

static int build_index(mets_report_translator *t, const char *name, mets_err *err)
{
    qsort(t->phrases, t->nphrases, sizeof *t->phrases, phrase_order);
    if (map_init(&t->index, t->nphrases))
        return mets_err_set(err, METS_ENOMEM, "out of memory indexing %s", name);
    for (size_t i = 0; i < t->nphrases; i++) {
        const phrase *p = &t->phrases[i];
        if (i && !strcmp(p[-1].key, p->key))
            return mets_err_set(err, METS_EFORMAT, "%s:%d: phrase '%s' is already at line %d, expected each "
                                "phrase once", name, p->line, p->key, p[-1].line);
        slot *s = map_slot(&t->index, p->key, p->first_len);
        if (!s->word)
            *s = (slot){p->key, p->first_len, i, 0};
        s->count++;
    }
    if (map_init(&t->english_set, t->english.n))
        return mets_err_set(err, METS_ENOMEM, "out of memory indexing %s", name);
    for (size_t i = 0; i < t->english.n; i++) {
        slot *s = map_slot(&t->english_set, t->english.v[i], strlen(t->english.v[i]));
        s->word = t->english.v[i], s->len = strlen(t->english.v[i]);
    }
    return 0;
}

mets_report_translator *mets_report_translator_new(const char *tsv_path, mets_err *err)
{
    char *owned = NULL;
    const char *text = (const char *)mets_report_phrases_tsv, *name = "report_phrases.tsv (built in)";
    size_t len = mets_report_phrases_tsv_len;
    if (tsv_path && !(owned = mets_file_slurp(tsv_path, 1 << 24, &len, err)))
        return NULL;
    if (tsv_path)
        text = owned, name = tsv_path;
    mets_report_translator *t = calloc(1, sizeof *t);
    int rc = t ? parse_table(t, text, len, name, err) : mets_err_set(err, METS_ENOMEM, "out of memory");
    if (!rc)
        rc = build_index(t, name, err);
    free(owned);
    if (rc) {
        mets_report_translator_free(t);
        return NULL;
    }
    return t;
}

void mets_report_translator_free(mets_report_translator *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nphrases; i++)
        free(t->phrases[i].key), free(t->phrases[i].english);
    mets_strlist_free(&t->english);
    free(t->phrases), free(t->index.slots), free(t->english_set.slots);
    free(t);
}

/* ---- translating */

typedef struct outbuf {
    char *s;
    size_t len, cap;
    bool oom;
} outbuf;

static void put(outbuf *o, const char *s, size_t n, bool space)
{
    space = space && o->len;
    if (o->len + n + 2 > o->cap) {
        size_t cap = 2 * (o->len + n + 2);
        char *grown = o->oom ? NULL : realloc(o->s, cap);
        if (!grown) {
            o->oom = true;
            return;
        }
        o->s = grown, o->cap = cap;
    }
    if (space)
        o->s[o->len++] = ' ';
    memcpy(o->s + o->len, s, n);
    o->len += n;
}

/* One report on its way through: its normalised and folded forms, tokens, output and counts. */
typedef struct scan {
    const mets_report_translator *t;
    const char *norm, *folded;
    const token *toks;
    size_t ntok;
    outbuf out;
    mets_report_stats counts;
} scan;

static bool phrase_matches(const phrase *p, const scan *sc, size_t at)
{
    if ((size_t)p->ntok > sc->ntok - at)
        return false;
    const char *k = p->key;
    for (int j = 0; j < p->ntok; j++) {
        const token *tok = &sc->toks[at + j];
        size_t kl = strcspn(k, " ");
        if (kl != tok->len || memcmp(k, sc->folded + tok->off, kl))
            return false;
        k += kl + (k[kl] == ' ');
    }
    return true;
}

static const phrase *longest_match(const scan *sc, size_t at)
{
    const slot *s = map_get(&sc->t->index, sc->folded + sc->toks[at].off, sc->toks[at].len);
    for (size_t i = s ? s->first : 0; s && i < s->first + s->count; i++)
        if (phrase_matches(&sc->t->phrases[i], sc, at))
            return &sc->t->phrases[i];
    return NULL;
}

static size_t count_words(const scan *sc, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += is_word_byte((unsigned char)sc->norm[sc->toks[i].off]);
    return n;
}

/* Keeps an unmatched token as it is and counts it. */
static void keep_token(scan *sc, const token *tok, bool space)
{
    const char *w = sc->norm + tok->off;
    put(&sc->out, w, tok->len, space);
    if (!is_word_byte((unsigned char)*w))
        return;
    if ((*w >= '0' && *w <= '9') || map_get(&sc->t->english_set, sc->folded + tok->off, tok->len)) {
        sc->counts.english++;
    } else {
        sc->counts.uncovered++;
        if (sc->counts.on_uncovered)
            sc->counts.on_uncovered(sc->counts.ctx, w, tok->len);
    }
}

static void translate_tokens(scan *sc)
{
    bool space = false; /* whitespace before a deleted phrase still separates its neighbours */
    for (size_t i = 0; i < sc->ntok;) {
        const phrase *p = longest_match(sc, i);
        space = space || sc->toks[i].space;
        if (!p) {
            keep_token(sc, &sc->toks[i++], space);
        } else if (p->kind == PHRASE_CUT) {
            sc->counts.dropped += count_words(sc, i, sc->ntok);
            return;
        } else {
            size_t words = count_words(sc, i, i + (size_t)p->ntok);
            if (p->kind == PHRASE_DROP)
                sc->counts.dropped += words;
            else
                sc->counts.covered += words, put(&sc->out, p->english, strlen(p->english), space);
            i += (size_t)p->ntok;
            if (p->kind == PHRASE_DROP)
                continue;
        }
        space = false;
    }
}

static bool is_mark(char c)
{
    return c == '.' || c == ',' || c == ';' || c == ':';
}

/* Copies s into d (2n + 1 bytes: a space may follow any mark), cleaning the seams that replacements
 * leave: no space before a mark or ')', one mark where several meet ("old. ," -> "old.", a full stop
 * wins), a space after a mark that a word follows (but "v4,5" stays), no marks at the start and no
 * space, ',' ';' ':' at the end. Returns the length of d. */
static size_t tidy(const char *s, size_t n, char *d)
{
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        char c = s[r];
        if (c == ' ' && (!w || d[w - 1] == ' '))
            continue;
        if (is_mark(c) || c == ')')
            while (w && d[w - 1] == ' ')
                w--;
        if (is_mark(c) && (!w || is_mark(d[w - 1]))) {
            if (w && c == '.')
                d[w - 1] = '.';
            continue;
        }
        if (w >= 2 && is_mark(d[w - 1]) && is_word_byte((unsigned char)c) && !(d[w - 2] >= '0' && d[w - 2] <= '9'))
            d[w++] = ' ';
        d[w++] = c;
    }
    while (w && (d[w - 1] == ' ' || (is_mark(d[w - 1]) && d[w - 1] != '.')))
        w--;
    d[w] = '\0';
    return w;
}

static void add_counts(mets_report_stats *to, const mets_report_stats *from)
{
    to->covered += from->covered, to->english += from->english;
    to->uncovered += from->uncovered, to->dropped += from->dropped;
}

int mets_report_translate(const mets_report_translator *t, const char *text, char *out, size_t cap,
                          mets_report_stats *stats)
{
    if (!t || !text || !out || !cap)
        return METS_EINVAL;
    size_t len = strlen(text), n = 0;
    char *norm = malloc(2 * len + 2), *tidied = NULL;
    token *toks = malloc((len + 1) * sizeof *toks);
    scan sc = {.t = t, .norm = norm, .folded = norm ? norm + len + 1 : NULL, .toks = toks};
    if (stats)
        sc.counts.on_uncovered = stats->on_uncovered, sc.counts.ctx = stats->ctx;
    int rc = norm && toks ? 0 : METS_ENOMEM;
    if (!rc) {
        size_t nlen = normalize(text, norm);
        memcpy(norm + len + 1, norm, nlen + 1);
        fold(norm + len + 1, nlen);
        sc.ntok = tokenize(norm, nlen, toks);
        translate_tokens(&sc);
        tidied = sc.out.oom ? NULL : malloc(2 * sc.out.len + 1);
        rc = tidied ? 0 : METS_ENOMEM;
    }
    if (!rc)
        n = tidy(sc.out.s, sc.out.len, tidied);
    if (!rc && (n >= cap || n > INT_MAX))
        rc = METS_ENOMEM;
    size_t copy = n < cap ? n : cap - 1;
    memcpy(out, tidied ? tidied : "", copy);
    out[copy] = '\0';
    if (!rc && stats)
        add_counts(stats, &sc.counts);
    free(norm), free(toks), free(sc.out.s), free(tidied);
    return rc ? rc : (int)n;
}
