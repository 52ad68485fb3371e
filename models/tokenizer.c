/* Follows the Rust tokenizers crate (the fast tokenizer sentence-transformers runs) where it and
 * transformers' Python BertTokenizer differ: Cn code points are kept, Zl/Zp count as whitespace, CJK
 * Extension E starts at 0x2B920, and [PAD]/[UNK]/[CLS]/[SEP]/[MASK] spelled in the text are kept whole.
 * Known deviation: the crate classifies (Mn, P*, Cc/Cf/Co) by Unicode 8.0 tables and utf8proc by its
 * own newer ones, so the few hundred code points assigned or re-categorised since 8.0 can differ. */
#include "tokenizer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "err.h"

/* Words longer than this many code points become [UNK] (WordPiece's max_input_chars_per_word). */
#define WORD_MAX 100
/* Enough for any canonical decomposition of one code point (the longest is 4). */
#define DECOMP_MAX 8

/* The tokens Hugging Face registers as special "added tokens" for this model: they are matched in the
 * raw text before any normalisation and always map to their own id. */
static const char *const special_names[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
enum { SPECIAL_PAD, SPECIAL_UNK, SPECIAL_CLS, SPECIAL_SEP, SPECIAL_MASK, N_SPECIAL };

struct mets_tokenizer {
    size_t n;
    char *text;      /* all tokens back to back */
    size_t *off;     /* token i is text[off[i] .. off[i + 1]) */
    uint32_t *slots; /* open-addressing hash table of id + 1, 0 = empty */
    size_t mask;     /* number of slots - 1, a power of two minus one */
    int32_t special[N_SPECIAL]; /* -1 where the vocabulary lacks it ([MASK] is optional) */
};

/* FNV-1a over an optional "##" prefix followed by `s`, so continuation lookups need no copy. */
static uint64_t hash_piece(const char *s, size_t len, bool cont)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; cont && i < 2; i++)
        h = (h ^ '#') * 0x100000001b3ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static bool token_equals(const mets_tokenizer *tok, size_t id, const char *s, size_t len, bool cont)
{
    const char *t = tok->text + tok->off[id];
    size_t tlen = tok->off[id + 1] - tok->off[id], pre = cont ? 2 : 0;
    return tlen == len + pre && (!cont || memcmp(t, "##", 2) == 0) && memcmp(t + pre, s, len) == 0;
}

/* The id of ("##" if cont) + s, or -1. */
static int32_t lookup(const mets_tokenizer *tok, const char *s, size_t len, bool cont)
{
    for (size_t i = hash_piece(s, len, cont) & tok->mask;; i = (i + 1) & tok->mask) {
        uint32_t slot = tok->slots[i];
        if (slot == 0)
            return -1;
        if (token_equals(tok, slot - 1, s, len, cont))
            return (int32_t)(slot - 1);
    }
}

static int copy_tokens(mets_tokenizer *tok, const char *const *vocab, const size_t *lens, mets_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < tok->n; i++) {
        if (lens[i] == 0)
            return mets_err_set(err, METS_EINVAL, "tokenizer: vocabulary token %zu is empty", i);
        total += lens[i];
    }
    tok->text = malloc(total);
    if (!tok->text)
        return mets_err_set(err, METS_ENOMEM, "tokenizer: cannot allocate %zu bytes of tokens", total);
    tok->off[0] = 0;
    for (size_t i = 0; i < tok->n; i++) {
        memcpy(tok->text + tok->off[i], vocab[i], lens[i]);
        tok->off[i + 1] = tok->off[i] + lens[i];
    }
    return 0;
}

static int build_table(mets_tokenizer *tok, mets_err *err)
{
    size_t cap = 16;
    while (cap < 2 * tok->n)
        cap *= 2;
    tok->slots = calloc(cap, sizeof *tok->slots);
    if (!tok->slots)
        return mets_err_set(err, METS_ENOMEM, "tokenizer: cannot allocate a hash table of %zu slots", cap);
    tok->mask = cap - 1;
    for (size_t id = 0; id < tok->n; id++) {
        const char *s = tok->text + tok->off[id];
        size_t len = tok->off[id + 1] - tok->off[id];
        if (lookup(tok, s, len, false) >= 0)
            return mets_err_set(err, METS_EINVAL, "tokenizer: vocabulary token %zu '%.*s' is a duplicate", id,
                                (int)len, s);
        size_t i = hash_piece(s, len, false) & tok->mask;
        while (tok->slots[i])
            i = (i + 1) & tok->mask;
        tok->slots[i] = (uint32_t)id + 1;
    }
    return 0;
}

static int find_specials(mets_tokenizer *tok, mets_err *err)
{
    for (int k = 0; k < N_SPECIAL; k++) {
        tok->special[k] = lookup(tok, special_names[k], strlen(special_names[k]), false);
        if (tok->special[k] < 0 && k != SPECIAL_MASK)
            return mets_err_set(err, METS_EINVAL, "tokenizer: vocabulary lacks the special token %s",
                                special_names[k]);
    }
    return 0;
}

mets_tokenizer *mets_tokenizer_new(const char *const *vocab, const size_t *lens, size_t n, mets_err *err)
{
    if (!vocab || !lens || n == 0 || n >= INT32_MAX) {
        mets_err_set(err, METS_EINVAL, "tokenizer: vocabulary of %zu tokens (need 1 .. %d)", n, INT32_MAX - 1);
        return NULL;
    }
    mets_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok || !(tok->off = malloc((n + 1) * sizeof *tok->off))) {
        mets_err_set(err, METS_ENOMEM, "tokenizer: cannot allocate a vocabulary of %zu tokens", n);
        mets_tokenizer_free(tok);
        return NULL;
    }
    tok->n = n;
    if (copy_tokens(tok, vocab, lens, err) || build_table(tok, err) || find_specials(tok, err)) {
        mets_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

void mets_tokenizer_free(mets_tokenizer *tok)
{
    if (!tok)
        return;
    free(tok->text);
    free(tok->off);
    free(tok->slots);
    free(tok);
}

const char *mets_tokenizer_token(const mets_tokenizer *tok, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= tok->n)
        return NULL;
    if (len)
        *len = tok->off[id + 1] - tok->off[id];
    return tok->text + tok->off[id];
}

size_t mets_tokenizer_vocab_size(const mets_tokenizer *tok) { return tok->n; }

/* ---- Unicode classes, as Hugging Face's BertNormalizer and BertPreTokenizer define them ---- */

static bool is_whitespace(int32_t cp)
{
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r')
        return true;
    utf8proc_category_t c = utf8proc_category(cp);
    /* Rust's char::is_whitespace minus the Cc ones, which cleaning drops first. */
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* The reference drops Cc, Cf and Co (and cannot see Cs) but keeps unassigned (Cn) code points. */
static bool is_control(int32_t cp)
{
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return false;
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_CC && c <= UTF8PROC_CATEGORY_CO;
}

static bool is_punctuation(int32_t cp)
{
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return true;
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

/* The CJK ideograph blocks of the tokenizers crate (it starts Extension E at 0x2B920, where
 * transformers' Python BasicTokenizer says 0x2B820). */
static bool is_cjk(int32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* ---- encoding: one pass over the text, a word at a time, no allocation ---- */

typedef struct encoder {
    const mets_tokenizer *tok;
    int32_t *ids;
    int n, cap; /* cap leaves room for the final [SEP] */
    int32_t word[WORD_MAX];
    int wlen;      /* code points kept in word (at most WORD_MAX) */
    int wtotal;    /* code points the word really has */
    int run_start; /* where the current run of combining characters begins, for canonical ordering */
} encoder;

static void emit(encoder *e, int32_t id)
{
    if (e->n < e->cap)
        e->ids[e->n++] = id;
}

/* The id of the longest vocabulary piece of the word from code point `start` ("##"-prefixed unless at
 * the word's start), shortening *end until one matches; -1 if none does. */
static int32_t longest_piece(const mets_tokenizer *tok, const char *buf, const int *off, int start, int *end)
{
    for (; *end > start; (*end)--) {
        int32_t id = lookup(tok, buf + off[start], (size_t)(off[*end] - off[start]), start > 0);
        if (id >= 0)
            return id;
    }
    return -1;
}

/* Greedy longest-match-first over the word's UTF-8: all its pieces, or a single [UNK]. */
static void emit_wordpieces(encoder *e)
{
    char buf[WORD_MAX * 4];
    int off[WORD_MAX + 1];
    off[0] = 0;
    for (int i = 0; i < e->wlen; i++)
        off[i + 1] = off[i] + (int)utf8proc_encode_char(e->word[i], (utf8proc_uint8_t *)buf + off[i]);
    int32_t pieces[WORD_MAX];
    int np = 0;
    for (int start = 0, end; start < e->wlen; start = end) {
        end = e->wlen;
        if ((pieces[np++] = longest_piece(e->tok, buf, off, start, &end)) < 0) {
            emit(e, e->tok->special[SPECIAL_UNK]);
            return;
        }
    }
    for (int i = 0; i < np; i++)
        emit(e, pieces[i]);
}

static void flush_word(encoder *e)
{
    if (e->wtotal > WORD_MAX)
        emit(e, e->tok->special[SPECIAL_UNK]);
    else if (e->wtotal > 0)
        emit_wordpieces(e);
    e->wlen = e->wtotal = e->run_start = 0;
}

/* Appends a normalised character, keeping combining marks in canonical order as NFD would (only
 * spacing marks survive accent stripping, so this rarely moves anything). */
static void push_char(encoder *e, int32_t cp)
{
    int ccc = utf8proc_get_property(cp)->combining_class;
    e->wtotal++;
    if (e->wlen == WORD_MAX)
        return;
    int i = e->wlen++;
    for (; ccc > 0 && i > e->run_start && utf8proc_get_property(e->word[i - 1])->combining_class > ccc; i--)
        e->word[i] = e->word[i - 1];
    e->word[i] = cp;
    if (ccc == 0)
        e->run_start = e->wlen;
}

/* One character of the decomposed text: strip accents, lower-case, then split as the pre-tokenizer. */
static void feed_decomposed(encoder *e, int32_t cp)
{
    if (utf8proc_category(cp) == UTF8PROC_CATEGORY_MN) {
        if (utf8proc_get_property(cp)->combining_class == 0)
            e->run_start = e->wlen; /* a dropped starter still blocks reordering across it */
        return;
    }
    cp = utf8proc_tolower(cp);
    if (is_whitespace(cp)) {
        flush_word(e);
    } else if (is_punctuation(cp)) {
        flush_word(e);
        push_char(e, cp);
        flush_word(e);
    } else {
        push_char(e, cp);
    }
}

/* One character of the raw text: clean it, isolate CJK ideographs, decompose (NFD). */
static void feed_raw(encoder *e, int32_t cp)
{
    if (cp == 0 || cp == 0xFFFD || is_control(cp))
        return;
    if (is_whitespace(cp))
        cp = ' ';
    bool cjk = is_cjk(cp);
    if (cjk)
        flush_word(e);
    utf8proc_int32_t dec[DECOMP_MAX];
    int last_boundclass = 0;
    utf8proc_ssize_t nd = utf8proc_decompose_char(cp, dec, DECOMP_MAX, UTF8PROC_DECOMPOSE, &last_boundclass);
    METS_ASSERT(nd >= 0 && nd <= DECOMP_MAX, "U+%04X decomposes into %zd code points", (unsigned)cp, (ssize_t)nd);
    for (utf8proc_ssize_t i = 0; i < nd; i++)
        feed_decomposed(e, dec[i]);
    if (cjk)
        flush_word(e);
}

/* The special token spelled at s, as its id, with its length in *len; or -1. */
static int32_t match_special(const mets_tokenizer *tok, const char *s, size_t *len)
{
    for (int k = 0; k < N_SPECIAL; k++) {
        *len = strlen(special_names[k]);
        if (tok->special[k] >= 0 && strncmp(s, special_names[k], *len) == 0)
            return tok->special[k];
    }
    return -1;
}

int mets_tokenizer_encode(const mets_tokenizer *tok, const char *text, int32_t *ids, int max_len)
{
    if (!tok || !text || !ids || max_len < 2)
        return METS_EINVAL;
    encoder e = {.tok = tok, .ids = ids, .cap = max_len - 1};
    emit(&e, tok->special[SPECIAL_CLS]);
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text, *end = s + strlen(text);
    while (s < end && e.n < e.cap) {
        size_t len;
        int32_t special = *s == '[' ? match_special(tok, (const char *)s, &len) : -1;
        if (special >= 0) {
            flush_word(&e);
            emit(&e, special);
            s += len;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate(s, end - s, &cp);
        if (step < 0) {
            cp = 0xFFFD; /* an invalid byte: skip it alone, as a replacing decoder would */
            step = 1;
        }
        feed_raw(&e, cp);
        s += step;
    }
    flush_word(&e);
    e.ids[e.n++] = tok->special[SPECIAL_SEP];
    return e.n;
}
