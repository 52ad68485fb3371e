/* Tests of models/tokenizer.c on a small hand-made vocabulary; every expectation was checked against
 * Hugging Face's BertWordPieceTokenizer built on the same vocabulary. */
#include "harness.h"
#include "tokenizer.h"

#include <string.h>

static const char *const vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "sinus", "rhythm", "##us", "uberleitung", "##s", "##storung",
    "cafe", "i", "##stanbul", "x", "##x", "hello", "world", "中", "文", ",", ".", "-", "[", "]", "(", "##e",
    "x\xF0\x9D\x85\xA5\xF0\x9D\x85\xAD", /* x, U+1D165, U+1D16D: spacing marks in canonical order */
};
enum { VOCAB_N = sizeof vocab / sizeof vocab[0] };

static mets_tokenizer *make_tokenizer(const char *const *words, size_t n, mets_err *err)
{
    size_t lens[VOCAB_N];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(words[i]);
    return mets_tokenizer_new(words, lens, n, err);
}

static mets_tokenizer *tok;

/* Encodes `text` into at most max_len ids and compares their tokens, joined by spaces, with `want`. */
static void check_tokens(const char *file, int line, const char *text, int max_len, const char *want)
{
    int32_t ids[256];
    int n = mets_tokenizer_encode(tok, text, ids, max_len);
    char got[2048] = "";
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *t = mets_tokenizer_token(tok, ids[i], &len);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%.*s", i ? " " : "", (int)len, t);
    }
    if (strcmp(got, want) != 0)
        mets_test_fail(file, line, "tokens of \"%s\": got \"%s\", want \"%s\"", text, got, want);
}
#define CHECK_TOKENS(text, want) check_tokens(__FILE__, __LINE__, text, 256, want)
#define CHECK_TOKENS_MAX(text, max_len, want) check_tokens(__FILE__, __LINE__, text, max_len, want)

static void test_empty_text_gives_cls_sep(void)
{
    CHECK_TOKENS("", "[CLS] [SEP]");
    CHECK_TOKENS(" \t\r\n ", "[CLS] [SEP]");
}

static void test_punctuation_is_split_into_single_tokens(void)
{
    CHECK_TOKENS("sinus,rhythm.", "[CLS] sinus , rhythm . [SEP]");
    CHECK_TOKENS("sinus--(x", "[CLS] sinus - - ( x [SEP]");
}

static void test_accents_are_stripped(void)
{
    CHECK_TOKENS("\xC3\x9C"
                 "berleitungsst\xC3\xB6rung",
                 "[CLS] uberleitung ##s ##storung [SEP]"); /* Überleitungsstörung */
    CHECK_TOKENS("caf\xC3\xA9", "[CLS] cafe [SEP]");       /* é precomposed */
    CHECK_TOKENS("cafe\xCC\x81", "[CLS] cafe [SEP]");      /* e + combining acute */
}

static void test_upper_case_is_lowered(void)
{
    CHECK_TOKENS("SINUS Rhythm", "[CLS] sinus rhythm [SEP]");
    CHECK_TOKENS("\xC4\xB0stanbul", "[CLS] i ##stanbul [SEP]"); /* Turkish dotted capital I */
}

static void test_cjk_ideographs_become_words(void)
{
    CHECK_TOKENS("hello\xE4\xB8\xAD\xE6\x96\x87world", "[CLS] hello 中 文 world [SEP]");
}

static void test_control_chars_are_dropped(void)
{
    CHECK_TOKENS("sin\x01us\x7f", "[CLS] sinus [SEP]");
    CHECK_TOKENS("\xEF\xBB\xBFsi\xE2\x80\x8Bnus", "[CLS] sinus [SEP]"); /* BOM, zero-width space (Cf) */
    CHECK_TOKENS("sin\xEF\xBF\xBDus", "[CLS] sinus [SEP]");             /* U+FFFD */
}

static void test_whitespace_variants_split_words(void)
{
    CHECK_TOKENS("sinus\trhythm", "[CLS] sinus rhythm [SEP]");
    CHECK_TOKENS("sinus\r\nrhythm", "[CLS] sinus rhythm [SEP]");
    CHECK_TOKENS("sinus\xC2\xA0rhythm", "[CLS] sinus rhythm [SEP]");     /* NBSP, Zs */
    CHECK_TOKENS("sinus\xE3\x80\x80rhythm", "[CLS] sinus rhythm [SEP]"); /* ideographic space, Zs */
    CHECK_TOKENS("sinus\xE2\x80\xA8rhythm", "[CLS] sinus rhythm [SEP]"); /* line separator, Zl */
}

static void test_continuation_pieces_use_hash_prefix(void)
{
    CHECK_TOKENS("sinusus", "[CLS] sinus ##us [SEP]");
    CHECK_TOKENS("xxx", "[CLS] x ##x ##x [SEP]");
}

static void test_unmatchable_word_becomes_one_unk(void)
{
    CHECK_TOKENS("sinusq rhythm", "[CLS] [UNK] rhythm [SEP]");
    CHECK_TOKENS("q", "[CLS] [UNK] [SEP]");
}

static void test_word_over_100_code_points_becomes_unk(void)
{
    char text[256];
    memset(text, 'x', 101);
    text[101] = '\0';
    CHECK_TOKENS(text, "[CLS] [UNK] [SEP]");

    /* 100 x and a combining acute: the limit counts code points after accent stripping. */
    memset(text, 'x', 100);
    strcpy(text + 100, "\xCC\x81");
    int32_t ids[128];
    int n = mets_tokenizer_encode(tok, text, ids, 128);
    CHECK(n == 102, "got %d ids", n);
    CHECK(ids[1] == 14 && ids[2] == 15 && ids[100] == 15 && ids[101] == 3);
}

static void test_truncates_to_max_len(void)
{
    CHECK_TOKENS_MAX("sinus rhythm sinus rhythm", 4, "[CLS] sinus rhythm [SEP]");
    CHECK_TOKENS_MAX("sinusus rhythm", 3, "[CLS] sinus [SEP]"); /* cuts inside a word's pieces */
    CHECK_TOKENS_MAX("sinus rhythm", 2, "[CLS] [SEP]");

    int32_t ids[5] = {-7, -7, -7, -7, -7};
    CHECK(mets_tokenizer_encode(tok, "sinus rhythm sinus", ids, 4) == 4);
    CHECK(ids[4] == -7, "wrote past max_len");
}

static void test_invalid_utf8_bytes_are_dropped(void)
{
    CHECK_TOKENS("sin\xFFus", "[CLS] sinus [SEP]");
    CHECK_TOKENS("\xC3(x", "[CLS] ( x [SEP]");               /* lead byte without continuation */
    CHECK_TOKENS("sinus\xE2\x82", "[CLS] sinus [SEP]");      /* truncated at the end */
    CHECK_TOKENS("x\xED\xA0\x80x", "[CLS] x ##x [SEP]");     /* encoded surrogate */
}

static void test_special_tokens_in_text_are_kept(void)
{
    CHECK_TOKENS("sinus[SEP]rhythm [MASK]", "[CLS] sinus [SEP] rhythm [MASK] [SEP]");
    CHECK_TOKENS("[sep]", "[CLS] [ [UNK] ] [SEP]"); /* matched before lower-casing, so case matters */
}

static void test_spacing_marks_take_canonical_order(void)
{
    /* U+1D16D (class 226) before U+1D165 (class 216): NFD swaps them. */
    CHECK_TOKENS("x\xF0\x9D\x85\xAD\xF0\x9D\x85\xA5", "[CLS] x\xF0\x9D\x85\xA5\xF0\x9D\x85\xAD [SEP]");
}

static void test_token_text_by_id(void)
{
    size_t len;
    const char *t = mets_tokenizer_token(tok, 5, &len);
    CHECK(t && len == 5 && memcmp(t, "sinus", 5) == 0);
    CHECK(mets_tokenizer_token(tok, -1, &len) == NULL);
    CHECK(mets_tokenizer_token(tok, VOCAB_N, &len) == NULL);
    CHECK(mets_tokenizer_vocab_size(tok) == VOCAB_N);
}

static void test_bad_arguments_are_rejected(void)
{
    int32_t ids[4];
    CHECK(mets_tokenizer_encode(tok, "x", ids, 1) == METS_EINVAL);
    CHECK(mets_tokenizer_encode(tok, NULL, ids, 4) == METS_EINVAL);
}

static void test_vocab_without_sep_is_rejected(void)
{
    const char *const words[] = {"[PAD]", "[UNK]", "[CLS]", "x"};
    mets_err err = {0};
    CHECK(make_tokenizer(words, 4, &err) == NULL);
    CHECK(err.code == METS_EINVAL && strstr(err.msg, "[SEP]"), "%s", err.msg);
}

static void test_vocab_with_duplicate_or_empty_token_is_rejected(void)
{
    const char *const dup[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "x", "x"};
    const char *const empty[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", ""};
    mets_err err = {0};
    CHECK(make_tokenizer(dup, 6, &err) == NULL);
    CHECK(strstr(err.msg, "duplicate"), "%s", err.msg);
    CHECK(make_tokenizer(empty, 5, &err) == NULL);
    CHECK(strstr(err.msg, "empty"), "%s", err.msg);
}

int main(void)
{
    mets_err err;
    tok = make_tokenizer(vocab, VOCAB_N, &err);
    if (!tok) {
        fprintf(stderr, "test_tokenizer: %s\n", err.msg);
        return 1;
    }
    RUN(test_empty_text_gives_cls_sep);
    RUN(test_punctuation_is_split_into_single_tokens);
    RUN(test_accents_are_stripped);
    RUN(test_upper_case_is_lowered);
    RUN(test_cjk_ideographs_become_words);
    RUN(test_control_chars_are_dropped);
    RUN(test_whitespace_variants_split_words);
    RUN(test_continuation_pieces_use_hash_prefix);
    RUN(test_unmatchable_word_becomes_one_unk);
    RUN(test_word_over_100_code_points_becomes_unk);
    RUN(test_truncates_to_max_len);
    RUN(test_invalid_utf8_bytes_are_dropped);
    RUN(test_special_tokens_in_text_are_kept);
    RUN(test_spacing_marks_take_canonical_order);
    RUN(test_token_text_by_id);
    RUN(test_bad_arguments_are_rejected);
    RUN(test_vocab_without_sep_is_rejected);
    RUN(test_vocab_with_duplicate_or_empty_token_is_rejected);
    mets_tokenizer_free(tok);
    return mets_test_summary();
}
