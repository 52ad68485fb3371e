/* The mets model file (models/mfile.c): round trips, alignment, and that every kind of damaged, foreign or
 * mismatched file is refused with the right code and a message naming the file and the problem. */
#include "harness.h"
#include "mfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>


/* Reads a whole file into a 64-byte aligned buffer, as mets_mfile_open_mem requires. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = NULL;
    if (posix_memalign(&buf, 64, *len ? *len : 1) || fread(buf, 1, *len, f) != *len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s", path);
    if (f) {
        CHECK(fwrite(buf, 1, len, f) == len);
        fclose(f);
    }
}

/* Recomputes the trailer checksum after a test patched the bytes before it. */
static void reseal(unsigned char *buf, size_t len)
{
    uint32_t crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), buf, len - 12);
    for (int k = 0; k < 4; k++)
        buf[len - 12 + k] = (unsigned char)(crc >> 8 * k);
}

static size_t find(const unsigned char *buf, size_t len, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(buf + i, needle, n))
            return i;
    return (size_t)-1;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> 8 * k);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static const float STEM[2][3] = {{1, 2, 3}, {4, 5, 6}};
static const int32_t IDS[5] = {7, -1, 0, 2147483647, -2147483647 - 1};

/* A small model with one of each kind of entry; the file the damage tests start from. */
static void write_small(const char *path)
{
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(w != NULL);
    const char *labels[] = {"NORM", "", "MI"};
    size_t lens[] = {4, 0, 2};
    int64_t stem_shape[] = {2, 3}, ids_shape[] = {5};
    CHECK(mets_mfile_writer_set_i64(w, "ecg.rate_hz", 100) == 0);
    CHECK(mets_mfile_writer_set_f64(w, "ecg.scale", 0.25) == 0);
    CHECK(mets_mfile_writer_set_str(w, "name", "tiny", 4) == 0);
    CHECK(mets_mfile_writer_set_strs(w, "labels", labels, lens, 3) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "stem.weight", METS_DT_F32, 2, stem_shape, STEM) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "ids", METS_DT_I32, 1, ids_shape, IDS) == 0);
    mets_err err = {0};
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);
}

/* Opens `buf` from memory and checks it is refused with `code` and a message holding `name` and `want`. */
static void expect_rejected(const unsigned char *buf, size_t len, int code, const char *want, const char *what)
{
    mets_err err = {0};
    mets_mfile *mf = mets_mfile_open_mem(buf, len, "damaged.mets", &err);
    CHECK(mf == NULL, "%s: opened", what);
    mets_mfile_free(mf);
    CHECK(err.code == code, "%s: code %d, expected %d (%s)", what, err.code, code, err.msg);
    CHECK(strstr(err.msg, "damaged.mets") != NULL, "%s: message does not name the file: %s", what, err.msg);
    CHECK(strstr(err.msg, want) != NULL, "%s: message lacks \"%s\": %s", what, want, err.msg);
}

static void round_trip_preserves_every_metadata_type(void)
{
    const char *path = mets_test_tmp_path("meta.mets");
    mets_mfile_writer *w = mets_mfile_writer_new();
    const char *words[] = {"[PAD]", "", "##ing", "x\0y"};
    size_t lens[] = {5, 0, 5, 3};
    CHECK(mets_mfile_writer_set_i64(w, "i.min", INT64_MIN) == 0);
    CHECK(mets_mfile_writer_set_i64(w, "i.max", INT64_MAX) == 0);
    CHECK(mets_mfile_writer_set_f64(w, "f.pi", 3.141592653589793) == 0);
    CHECK(mets_mfile_writer_set_f64(w, "f.neg_zero", -0.0) == 0);
    CHECK(mets_mfile_writer_set_str(w, "s.empty", "", 0) == 0);
    CHECK(mets_mfile_writer_set_str(w, "s.nul", "a\0b", 3) == 0);
    CHECK(mets_mfile_writer_set_strs(w, "v.words", words, lens, 4) == 0);
    CHECK(mets_mfile_writer_set_strs(w, "v.empty", NULL, NULL, 0) == 0);
    CHECK(mets_mfile_writer_set_str(w, "replaced", "first", 5) == 0);
    CHECK(mets_mfile_writer_set_i64(w, "replaced", 42) == 0); /* same key: replaces, even across types */
    mets_err err = {0};
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);

    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf != NULL, "%s", err.msg);
    if (!mf)
        return;
    int64_t i;
    double f;
    const char *s;
    size_t len, count;
    CHECK(mets_mfile_get_i64(mf, "i.min", &i, &err) == 0 && i == INT64_MIN);
    CHECK(mets_mfile_get_i64(mf, "i.max", &i, &err) == 0 && i == INT64_MAX);
    CHECK(mets_mfile_get_i64(mf, "replaced", &i, &err) == 0 && i == 42);
    CHECK(mets_mfile_get_f64(mf, "f.pi", &f, &err) == 0 && f == 3.141592653589793);
    CHECK(mets_mfile_get_f64(mf, "f.neg_zero", &f, &err) == 0 && f == 0 && signbit(f));
    CHECK(mets_mfile_get_str(mf, "s.empty", &s, &len, &err) == 0 && len == 0);
    CHECK(mets_mfile_get_str(mf, "s.nul", &s, &len, &err) == 0 && len == 3 && !memcmp(s, "a\0b", 3));
    CHECK(mets_mfile_get_strs(mf, "v.words", &count, &err) == 0 && count == 4);
    for (size_t k = 0; k < 4; k++) {
        CHECK(mets_mfile_get_strs_at(mf, "v.words", k, &s, &len, &err) == 0, "%s", err.msg);
        CHECK(len == lens[k] && !memcmp(s, words[k], len), "word %zu", k);
    }
    CHECK(mets_mfile_get_strs(mf, "v.empty", &count, &err) == 0 && count == 0);
    CHECK(mets_mfile_get_strs_at(mf, "v.empty", 0, &s, &len, &err) == METS_EINVAL);
    CHECK(strstr(err.msg, "index 0 is out of range") != NULL, "%s", err.msg);
    mets_mfile_free(mf);
}

static void round_trip_preserves_tensors_of_every_rank(void)
{
    const char *path = mets_test_tmp_path("tensors.mets");
    float scalar = 2.5f;
    uint8_t cube[2][1][3][2];
    for (int k = 0; k < 12; k++)
        (&cube[0][0][0][0])[k] = (uint8_t)(k * 21);
    int64_t s_ids[] = {5}, s_stem[] = {2, 3}, s_cube[] = {2, 1, 3, 2}, s_empty[] = {0, 7};
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(mets_mfile_writer_add_tensor(w, "ids", METS_DT_I32, 1, s_ids, IDS) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "stem.weight", METS_DT_F32, 2, s_stem, STEM) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "cube", METS_DT_U8, 4, s_cube, cube) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "scalar", METS_DT_F32, 0, NULL, &scalar) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "empty", METS_DT_F32, 2, s_empty, NULL) == 0);
    mets_err err = {0};
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);

    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf != NULL, "%s", err.msg);
    if (!mf)
        return;
    CHECK(mets_mfile_tensor_count(mf) == 5);
    const char *order[] = {"ids", "stem.weight", "cube", "scalar", "empty"};
    for (size_t k = 0; k < 5; k++)
        CHECK(!strcmp(mets_mfile_tensor_name(mf, k), order[k]), "tensor %zu is %s", k, mets_mfile_tensor_name(mf, k));
    CHECK(mets_mfile_tensor_name(mf, 5) == NULL);
    const void *p;
    const float *fp;
    CHECK(mets_mfile_tensor(mf, "ids", METS_DT_I32, 1, s_ids, &p, &err) == 0 && !memcmp(p, IDS, sizeof IDS));
    CHECK(mets_mfile_tensor_f32(mf, "stem.weight", 2, s_stem, &fp, &err) == 0 && !memcmp(fp, STEM, sizeof STEM));
    CHECK(mets_mfile_tensor(mf, "cube", METS_DT_U8, 4, s_cube, &p, &err) == 0 && !memcmp(p, cube, sizeof cube));
    CHECK(mets_mfile_tensor_f32(mf, "scalar", 0, NULL, &fp, &err) == 0 && *fp == 2.5f);
    CHECK(mets_mfile_tensor_f32(mf, "empty", 2, s_empty, &fp, &err) == 0, "%s", err.msg);
    int64_t shape[METS_MFILE_MAX_DIMS];
    CHECK(mets_mfile_tensor_shape(mf, "cube", shape, &err) == 4);
    CHECK(shape[0] == 2 && shape[1] == 1 && shape[2] == 3 && shape[3] == 2);
    CHECK(mets_mfile_tensor_shape(mf, "ids", shape, &err) == 1 && shape[0] == 5 && shape[1] == 1 && shape[3] == 1);
    CHECK(mets_mfile_tensor_shape(mf, "scalar", shape, &err) == 0);
    mets_mfile_free(mf);
}

static void every_tensor_pointer_is_64_byte_aligned(void)
{
    const char *path = mets_test_tmp_path("aligned.mets");
    uint8_t bytes[200];
    memset(bytes, 0xAB, sizeof bytes);
    mets_mfile_writer *w = mets_mfile_writer_new();
    char name[32];
    for (int k = 0; k < 20; k++) { /* odd sizes and name lengths push every following offset around */
        int64_t n = k * 7 + 1;
        snprintf(name, sizeof name, "t%.*s", k, "abcdefghijklmnopqrstuvwxyz");
        CHECK(mets_mfile_writer_add_tensor(w, name, METS_DT_U8, 1, &n, bytes) == 0);
    }
    mets_err err = {0};
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);
    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf != NULL, "%s", err.msg);
    for (size_t k = 0; mf && k < mets_mfile_tensor_count(mf); k++) {
        const void *p;
        int64_t any = -1;
        CHECK(mets_mfile_tensor(mf, mets_mfile_tensor_name(mf, k), METS_DT_U8, 1, &any, &p, &err) == 0);
        CHECK(((uintptr_t)p & 63) == 0, "tensor %zu at %p", k, p);
    }
    mets_mfile_free(mf);
}

static void string_array_of_a_whole_vocabulary_is_indexed_by_position(void)
{
    enum { N = 30522 };
    const char *path = mets_test_tmp_path("vocab.mets");
    char(*words)[16] = malloc(N * sizeof *words);
    const char **ptrs = malloc(N * sizeof *ptrs);
    size_t *lens = malloc(N * sizeof *lens);
    for (int k = 0; k < N; k++) {
        lens[k] = (size_t)snprintf(words[k], sizeof words[k], "%s%d", k % 3 ? "##" : "", k);
        ptrs[k] = words[k];
    }
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(mets_mfile_writer_set_strs(w, "tokenizer.vocab", ptrs, lens, N) == 0);
    mets_err err = {0};
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);
    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf != NULL, "%s", err.msg);
    size_t count = 0;
    CHECK(mets_mfile_get_strs(mf, "tokenizer.vocab", &count, &err) == 0 && count == N);
    for (int k = N - 1; mf && k >= 0; k -= 7) {
        const char *s;
        size_t len;
        CHECK(mets_mfile_get_strs_at(mf, "tokenizer.vocab", (size_t)k, &s, &len, &err) == 0);
        CHECK(len == lens[k] && !memcmp(s, words[k], len), "word %d", k);
    }
    CHECK(mets_mfile_get_strs_at(mf, "tokenizer.vocab", N, &(const char *){0}, &(size_t){0}, &err) == METS_EINVAL);
    mets_mfile_free(mf);
    free(words);
    free(ptrs);
    free(lens);
}

static void every_truncation_is_reported_as_truncated(void)
{
    const char *path = mets_test_tmp_path("whole.mets"), *cut = mets_test_tmp_path("cut.mets");
    write_small(path);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    CHECK(buf != NULL && len > 44);
    for (size_t n = 0; buf && n < len; n++) {
        spit(cut, buf, n);
        mets_err err = {0};
        mets_mfile *mf = mets_mfile_open(cut, &err);
        CHECK(mf == NULL, "prefix of %zu bytes opened", n);
        mets_mfile_free(mf);
        CHECK(err.code == METS_EFORMAT && strstr(err.msg, "truncated") && strstr(err.msg, cut),
              "prefix of %zu bytes: %s", n, err.msg);
    }
    free(buf);
}

static void any_flipped_byte_is_detected(void)
{
    const char *path = mets_test_tmp_path("flip.mets");
    write_small(path);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    for (size_t i = 0; buf && i < len; i++) {
        char what[64];
        snprintf(what, sizeof what, "byte %zu of %zu flipped", i, len);
        buf[i] ^= 0xFF;
        /* The magic and the version are judged before the checksum, so they get their own messages. */
        const char *want = i < 8 ? "not a mets model file" : i < 12 ? "format version" : "corrupted";
        expect_rejected(buf, len, METS_EFORMAT, want, what);
        if (i >= 12 && i < len - 8)
            expect_rejected(buf, len, METS_EFORMAT, "checksum", what);
        buf[i] ^= 0xFF;
    }
    mets_err err = {0};
    mets_mfile *mf = mets_mfile_open_mem(buf, len, "restored.mets", &err);
    CHECK(mf != NULL, "%s", err.msg);
    mets_mfile_free(mf);
    free(buf);
}

static void foreign_files_are_not_mets_model_files(void)
{
    /* A safetensors file: u64 header length, then its JSON header. */
    static const char st[] = "\x12\0\0\0\0\0\0\0{\"__metadata__\":{}}";
    static const char text[] = "hello, this is a text file that happens to be long enough\n";
    const char *p_st = mets_test_tmp_path("model.safetensors"), *p_text = mets_test_tmp_path("notes.txt");
    spit(p_st, st, sizeof st - 1);
    spit(p_text, text, sizeof text - 1);
    const char *paths[] = {p_st, p_text};
    for (int k = 0; k < 2; k++) {
        mets_err err = {0};
        mets_mfile *mf = mets_mfile_open(paths[k], &err);
        CHECK(mf == NULL);
        mets_mfile_free(mf);
        CHECK(err.code == METS_EFORMAT && strstr(err.msg, "not a mets model file") && strstr(err.msg, paths[k]),
              "%s", err.msg);
    }
}

static void missing_file_is_an_io_error_naming_the_path(void)
{
    const char *path = mets_test_tmp_path("absent.mets");
    mets_err err = {0};
    CHECK(mets_mfile_open(path, &err) == NULL);
    CHECK(err.code == METS_EIO && strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s", err.msg);
}

/* What a file is, read without its tensors: metadata as written, no tensor, damaged tensor data unnoticed
 * (the full open finds it), a foreign file or a directory named as such. */
static void metadata_alone_reads_without_the_weights(void)
{
    const char *path = mets_test_tmp_path("meta_only.mets"), *dir = mets_test_tmp_path("a-folder");
    write_small(path);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    size_t at = buf ? find(buf, len, STEM, sizeof STEM) : (size_t)-1;
    CHECK(at != (size_t)-1);
    if (at != (size_t)-1) {
        buf[at] ^= 0xFF;
        spit(path, buf, len);
    }
    mets_err err = {0};
    mets_mfile *mf = mets_mfile_open_meta(path, &err);
    const char *name;
    size_t n;
    const float *w;
    CHECK(mf != NULL, "%s", err.msg);
    CHECK(mf && mets_mfile_get_str(mf, "name", &name, &n, &err) == 0 && n == 4 && !memcmp(name, "tiny", 4));
    CHECK(mf && mets_mfile_tensor_count(mf) == 0);
    CHECK(mf && mets_mfile_tensor_f32(mf, "stem.weight", 2, (int64_t[]){2, 3}, &w, &err) == METS_ENOTFOUND);
    mets_mfile_free(mf);
    CHECK(mets_mfile_open(path, &err) == NULL && strstr(err.msg, "checksum"), "%s", err.msg);
    spit(path, "kafka: {}\n", 10);
    CHECK(mets_mfile_open_meta(path, &err) == NULL && strstr(err.msg, "not a mets model file"), "%s", err.msg);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(mets_mfile_open_meta(dir, &err) == NULL && strstr(err.msg, "is a directory"), "%s", err.msg);
    rmdir(dir);
    free(buf);
}

static void other_format_version_is_rejected_by_number(void)
{
    const char *path = mets_test_tmp_path("v2.mets");
    write_small(path);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    put_u32(buf + 8, 2);
    reseal(buf, len); /* only the version is wrong */
    expect_rejected(buf, len, METS_EFORMAT, "format version 2, this build reads 1", "version 2");
    free(buf);
}

static void unaligned_memory_buffer_is_refused(void)
{
    const char *path = mets_test_tmp_path("unaligned.mets");
    write_small(path);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    unsigned char *shifted = NULL;
    CHECK(posix_memalign((void **)&shifted, 64, len + 4) == 0);
    memcpy(shifted + 4, buf, len);
    expect_rejected(shifted + 4, len, METS_EINVAL, "not 64-byte aligned", "buffer at +4");
    free(shifted);
    free(buf);
}

static void tensor_lookup_names_the_mismatch(void)
{
    const char *path = mets_test_tmp_path("shapes.mets");
    int64_t found[] = {384, 383}, want[] = {384, 384}, any_rows[] = {-1, 383}, wrong_rank[] = {384};
    float *zeros = calloc(384 * 383, sizeof *zeros);
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(mets_mfile_writer_add_tensor(w, "enc.0.weight", METS_DT_F32, 2, found, zeros) == 0);
    mets_err err = {0};
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);
    free(zeros);
    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf != NULL, "%s", err.msg);
    if (!mf)
        return;
    const float *p;
    const void *v;
    char expect[512];
    CHECK(mets_mfile_tensor_f32(mf, "enc.0.weight", 2, want, &p, &err) == METS_EFORMAT);
    snprintf(expect, sizeof expect, "%s: tensor 'enc.0.weight' has shape [384, 383], expected [384, 384]", path);
    CHECK(!strcmp(err.msg, expect), "%s", err.msg);
    CHECK(mets_mfile_tensor_f32(mf, "enc.0.weight", 1, wrong_rank, &p, &err) == METS_EFORMAT);
    CHECK(strstr(err.msg, "has shape [384, 383], expected [384]") != NULL, "%s", err.msg);
    CHECK(mets_mfile_tensor_f32(mf, "enc.0.weight", 2, any_rows, &p, &err) == 0, "-1 matches any size: %s", err.msg);
    CHECK(mets_mfile_tensor(mf, "enc.0.weight", METS_DT_I32, 2, found, &v, &err) == METS_EFORMAT);
    snprintf(expect, sizeof expect, "%s: tensor 'enc.0.weight' has dtype f32, expected i32", path);
    CHECK(!strcmp(err.msg, expect), "%s", err.msg);
    CHECK(mets_mfile_tensor_f32(mf, "enc.1.weight", 2, found, &p, &err) == METS_ENOTFOUND);
    snprintf(expect, sizeof expect, "%s: no tensor 'enc.1.weight'", path);
    CHECK(!strcmp(err.msg, expect), "%s", err.msg);
    CHECK(mets_mfile_tensor_shape(mf, "enc.1.weight", (int64_t[4]){0}, &err) == METS_ENOTFOUND);
    mets_mfile_free(mf);
}

static void metadata_of_another_type_or_absent_is_an_error(void)
{
    const char *path = mets_test_tmp_path("types.mets");
    write_small(path);
    mets_err err = {0};
    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf != NULL, "%s", err.msg);
    if (!mf)
        return;
    int64_t i;
    double f;
    const char *s;
    size_t len;
    CHECK(mets_mfile_get_i64(mf, "name", &i, &err) == METS_EFORMAT);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "metadata 'name' is string, expected i64"), "%s", err.msg);
    CHECK(mets_mfile_get_f64(mf, "ecg.rate_hz", &f, &err) == METS_EFORMAT);
    CHECK(strstr(err.msg, "metadata 'ecg.rate_hz' is i64, expected f64") != NULL, "%s", err.msg);
    CHECK(mets_mfile_get_str(mf, "labels", &s, &len, &err) == METS_EFORMAT);
    CHECK(strstr(err.msg, "metadata 'labels' is string array, expected string") != NULL, "%s", err.msg);
    CHECK(mets_mfile_get_strs(mf, "ecg.scale", &len, &err) == METS_EFORMAT);
    CHECK(mets_mfile_get_i64(mf, "ecg.rate", &i, &err) == METS_ENOTFOUND);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "no metadata key 'ecg.rate'"), "%s", err.msg);
    mets_mfile_free(mf);
}

/* Each case patches one field of a valid file and reseals it, so only that field is wrong. */
static void bad_tensor_entries_are_rejected(void)
{
    const char *path = mets_test_tmp_path("entries.mets");
    write_small(path);
    size_t len;
    unsigned char *good = slurp(path, &len), *buf = malloc(len);
    /* tensor "ids": name NUL, dtype u32, ndim u32, dims[1], offset u64, nbytes u64 */
    size_t ids = find(good, len, "ids", 4) + 4, stem = find(good, len, "stem.weight", 12) + 12;
    uint64_t stem_offset = 0;
    for (int k = 7; good && k >= 0; k--)
        stem_offset = stem_offset << 8 | good[stem + 24 + k]; /* dtype, ndim, 2 dims */
    struct {
        size_t at;
        int width;
        uint64_t value;
        const char *want;
    } cases[] = {
        {ids, 4, 4, "tensor 'ids' has unknown dtype 4"},
        {ids + 4, 4, 5, "tensor 'ids' has 5 dimensions, at most 4"},
        {ids + 8, 8, (uint64_t)-5, "tensor 'ids' has negative dimension -5"},
        {ids + 8, 8, 6, "tensor 'ids' i32 [6] holds 24 bytes, its table entry says 20"},
        {ids + 8, 8, 1ull << 62, "tensor 'ids' of shape [4611686018427387904] has a size beyond 64 bits"},
        {ids + 16, 8, 65, "bad offsets: tensor 'ids' data at 65 is not 64-byte aligned"},
        {ids + 16, 8, 0, "bad offsets: tensor 'ids' data at 0 overlaps"},
        {ids + 16, 8, UINT64_MAX - 63, "bad offsets: tensor 'ids' data [18446744073709551552, +20) runs past"},
        {ids + 16, 8, 1 << 20, "runs past the trailer"},
        {ids + 16, 8, stem_offset, "overlaps what precedes it"}, /* on top of stem.weight */
        {ids - 2, 1, 0, "has a NUL byte inside its name"},
        {ids - 1, 1, 'x', "is not NUL-terminated"},
    };
    for (size_t k = 0; good && k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(buf, good, len);
        if (cases[k].width == 1)
            buf[cases[k].at] = (unsigned char)cases[k].value;
        else if (cases[k].width == 4)
            put_u32(buf + cases[k].at, (uint32_t)cases[k].value);
        else
            put_u64(buf + cases[k].at, cases[k].value);
        reseal(buf, len);
        char what[32];
        snprintf(what, sizeof what, "case %zu", k);
        expect_rejected(buf, len, METS_EFORMAT, cases[k].want, what);
    }
    free(good);
    free(buf);
}

static void bad_metadata_entries_are_rejected(void)
{
    const char *path = mets_test_tmp_path("meta_entries.mets");
    write_small(path);
    size_t len;
    unsigned char *good = slurp(path, &len), *buf = malloc(len);
    size_t name = find(good, len, "name", 5) + 5, labels = find(good, len, "labels", 7) + 7;
    struct {
        size_t at;
        uint32_t value;
        const char *want;
    } cases[] = {
        {12, 1u << 30, "bad offsets: header claims 1073741824 metadata entries"},
        {24, 1u << 30, "and 1073741824 tensors"},
        {name, 9, "metadata 'name' has unknown type 9"},
        {name + 4, 1u << 20, "bad offsets: metadata entry"},
        {labels + 4, 1u << 20, "metadata 'labels' claims 1048576 strings"},
        {labels + 8, 5, "metadata 'labels' string 1 ends at 4, before string 0 (5)"},
        {labels + 16, 1u << 20, "bad offsets: metadata entry"},
    };
    for (size_t k = 0; good && k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(buf, good, len);
        put_u32(buf + cases[k].at, cases[k].value);
        reseal(buf, len);
        char what[32];
        snprintf(what, sizeof what, "case %zu", k);
        expect_rejected(buf, len, METS_EFORMAT, cases[k].want, what);
    }
    free(good);
    free(buf);
}

static void duplicate_names_are_rejected(void)
{
    const char *path = mets_test_tmp_path("dups.mets");
    mets_mfile_writer *w = mets_mfile_writer_new();
    int64_t one = 1;
    uint8_t b = 0;
    CHECK(mets_mfile_writer_set_i64(w, "k1", 1) == 0);
    CHECK(mets_mfile_writer_set_i64(w, "k2", 2) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "t1", METS_DT_U8, 1, &one, &b) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "t2", METS_DT_U8, 1, &one, &b) == 0);
    CHECK(mets_mfile_writer_add_tensor(w, "t2", METS_DT_U8, 1, &one, &b) == METS_EINVAL);
    mets_err err = {0};
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    size_t k2 = find(buf, len, "k2", 3), t2 = find(buf, len, "t2", 3);
    buf[k2 + 1] = '1';
    reseal(buf, len);
    expect_rejected(buf, len, METS_EFORMAT, "duplicate metadata key 'k1'", "keys");
    buf[k2 + 1] = '2';
    buf[t2 + 1] = '1';
    reseal(buf, len);
    expect_rejected(buf, len, METS_EFORMAT, "duplicate tensor name 't1'", "tensors");
    free(buf);
}

static void writer_refuses_bad_arguments(void)
{
    mets_mfile_writer *w = mets_mfile_writer_new();
    int64_t neg[] = {2, -1}, ok[] = {2, 2}, huge[] = {1ll << 62, 4};
    float data[4] = {0};
    CHECK(mets_mfile_writer_set_i64(w, "", 1) == METS_EINVAL);
    CHECK(mets_mfile_writer_set_i64(w, NULL, 1) == METS_EINVAL);
    CHECK(mets_mfile_writer_set_str(w, "s", NULL, 3) == METS_EINVAL);
    CHECK(mets_mfile_writer_add_tensor(w, "t", METS_DT_F32, 2, neg, data) == METS_EINVAL);
    CHECK(mets_mfile_writer_add_tensor(w, "t", METS_DT_F32, 5, ok, data) == METS_EINVAL);
    CHECK(mets_mfile_writer_add_tensor(w, "t", (mets_dtype)4, 2, ok, data) == METS_EINVAL);
    CHECK(mets_mfile_writer_add_tensor(w, "t", METS_DT_F32, 2, ok, NULL) == METS_EINVAL);
    CHECK(mets_mfile_writer_add_tensor(w, "t", METS_DT_F32, 2, huge, data) == METS_ENOMEM);
    CHECK(mets_mfile_writer_add_tensor(w, "t", METS_DT_F32, 2, ok, data) == 0);
    mets_mfile_writer_free(w);
}

static void write_replaces_the_file_and_leaves_no_temporary(void)
{
    const char *path = mets_test_tmp_path("atomic.mets"), *tmp = mets_test_tmp_path("atomic.mets.tmp");
    spit(path, "old contents", 12);
    write_small(path);
    CHECK(access(tmp, F_OK) != 0, "%s left behind", tmp);
    mets_err err = {0};
    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf != NULL, "%s", err.msg);
    mets_mfile_free(mf);
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(mets_mfile_writer_write(w, mets_test_tmp_path("no-such-dir/x.mets"), &err) == METS_EIO);
    CHECK(strstr(err.msg, "no-such-dir/x.mets.tmp: cannot create") != NULL, "%s", err.msg);
    mets_mfile_writer_free(w);
}

/* Every binary16 value survives widening and narrowing; floats round to the nearest half, ties to even. */
static void f16_conversion_is_exact_and_rounds_to_even(void)
{
    for (uint32_t h = 0; h < 0x10000u; h++) {
        uint16_t in = (uint16_t)h, back;
        float f;
        mets_f16_to_f32(&in, &f, 1);
        mets_f32_to_f16(&f, &back, 1);
        if (isnan(f))
            CHECK((back & 0x7C00u) == 0x7C00u && (back & 0x3FFu), "NaN %04x came back as %04x", in, back);
        else
            CHECK(back == in, "%04x -> %g -> %04x", in, f, back);
    }
    static const struct {
        float f;
        uint16_t h;
    } cases[] = {{1.0f, 0x3C00}, {-2.0f, 0xC000}, {65504.0f, 0x7BFF}, {65520.0f, 0x7C00}, {1e10f, 0x7C00},
                 {1.0f + 1.0f / 2048, 0x3C00},                 /* a tie: to even (down) */
                 {1.0f + 3.0f / 2048, 0x3C02},                 /* a tie: to even (up) */
                 {5.9604645e-08f, 0x0001}, {2.9802322e-08f, 0x0000}, /* smallest subnormal; its half: to even */
                 {6.097555e-05f, 0x03FF}, {0.0f, 0x0000}, {-0.0f, 0x8000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h;
        mets_f32_to_f16(&cases[i].f, &h, 1);
        CHECK(h == cases[i].h, "%g -> %04x, expected %04x", cases[i].f, h, cases[i].h);
    }
}

int main(void)
{
    RUN(round_trip_preserves_every_metadata_type);
    RUN(round_trip_preserves_tensors_of_every_rank);
    RUN(every_tensor_pointer_is_64_byte_aligned);
    RUN(string_array_of_a_whole_vocabulary_is_indexed_by_position);
    RUN(every_truncation_is_reported_as_truncated);
    RUN(any_flipped_byte_is_detected);
    RUN(foreign_files_are_not_mets_model_files);
    RUN(missing_file_is_an_io_error_naming_the_path);
    RUN(metadata_alone_reads_without_the_weights);
    RUN(other_format_version_is_rejected_by_number);
    RUN(unaligned_memory_buffer_is_refused);
    RUN(tensor_lookup_names_the_mismatch);
    RUN(metadata_of_another_type_or_absent_is_an_error);
    RUN(bad_tensor_entries_are_rejected);
    RUN(bad_metadata_entries_are_rejected);
    RUN(duplicate_names_are_rejected);
    RUN(writer_refuses_bad_arguments);
    RUN(write_replaces_the_file_and_leaves_no_temporary);
    RUN(f16_conversion_is_exact_and_rounds_to_even);
    mets_test_remove_tmpdir();
    return mets_test_summary();
}
