/* The output messages (pipeline/output.c): each decodes back, with protobuf-c, to what went in; a dead
 * letter carries the original bytes whole, or its first METS_OUTPUT_MAX_ORIGINAL bytes and the full size
 * when longer. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mets.pb-c.h"
#include "output.h"

static void dead_letters_carry_the_original(void)
{
    static const size_t sizes[] = {0, 7, METS_OUTPUT_MAX_ORIGINAL, METS_OUTPUT_MAX_ORIGINAL + 1, 2u << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k], len;
        uint8_t *orig = malloc(n + 1), *out;
        for (size_t i = 0; i < n; i++)
            orig[i] = (uint8_t)(i * 31 + 7);
        mets_err err;
        CHECK(mets_output_dead_letter(orig, n, "ecg.frames", 3, 12345, METS_FRAME_GAIN, "gain is 0", &out, &len,
                                      &err) == 0, "%s", err.msg);
        CHECK(len < 1000000, "%zu bytes: beyond Kafka's default message limit", len);
        Mets__V1__DeadLetter *d = mets__v1__dead_letter__unpack(NULL, len, out);
        CHECK(d, "does not decode");
        if (d) {
            size_t kept = n < METS_OUTPUT_MAX_ORIGINAL ? n : METS_OUTPUT_MAX_ORIGINAL;
            CHECK(d->original.len == kept && (!kept || !memcmp(d->original.data, orig, kept)), "%zu of %zu bytes",
                  d->original.len, n);
            CHECK(d->original_size == n && d->partition == 3 && d->offset == 12345 && !strcmp(d->topic, "ecg.frames"));
            CHECK(d->reason == METS__V1__DEAD_LETTER_REASON__DEAD_LETTER_REASON_GAIN &&
                  !strcmp(d->reason_text, "gain is 0"));
            mets__v1__dead_letter__free_unpacked(d, NULL);
        }
        free(out), free(orig);
    }
}

static void embeddings_decode_to_what_went_in(void)
{
    float v[4] = {0.5f, -0.5f, 0.5f, -0.5f};
    uint8_t *out;
    size_t len;
    mets_err err;
    CHECK(mets_output_embedding("bed-1", 10, 20, "mets-ecg", "v3", v, 4, &out, &len, &err) == 0, "%s", err.msg);
    Mets__V1__Embedding *e = mets__v1__embedding__unpack(NULL, len, out);
    CHECK(e && !strcmp(e->stream_id, "bed-1") && e->window_start_us == 10 && e->window_end_us == 20 &&
          e->n_vector == 4 && !memcmp(e->vector, v, sizeof v) && !strcmp(e->model_version, "v3"));
    if (e)
        mets__v1__embedding__free_unpacked(e, NULL);
    free(out);
}

/* An alert event decodes to what went in (priority 1 is the most urgent); the failpoint set in main fails
 * the second encoding, once, with its name. */
static void alerts_decode_and_fail_where_injected(void)
{
    mets_alert_event ev = {.id = "0123456789abcdef0123456789abcdef", .stream_id = "bed-1", .group = "rhythm",
                           .label = "AFIB", .state = METS_ALERT_UPDATED, .probability = 0.75f, .cosine = 0.25f,
                           .onset_us = 5, .window_start_us = 10, .window_end_us = 20, .model_version = "sha256:ab",
                           .prompt_set_version = "sha256:cd", .competing = {{"SR", 0.2f}}, .ncompeting = 1,
                           .priority = METS_PRIORITY_HIGH, .stale = true};
    uint8_t *out;
    size_t len;
    mets_err err;
    for (int call = 1; call <= 3; call++) {
        int rc = mets_output_alert(&ev, &out, &len, &err);
        if (call == 2) {
            CHECK(rc == METS_ENOMEM && strstr(err.msg, "injected") && strstr(err.msg, "output.alert"), "%s", err.msg);
            continue;
        }
        CHECK(rc == 0, "%s", err.msg);
        Mets__V1__Alert *a = mets__v1__alert__unpack(NULL, len, out);
        CHECK(a && !strcmp(a->alert_id, ev.id) && !strcmp(a->label, "AFIB") && a->state == 2 && a->probability == 0.75f &&
              a->onset_us == 5 && a->window_end_us == 20 && a->n_competing == 1 && !strcmp(a->competing[0]->label, "SR") &&
              a->priority == 1 && a->stale && !a->technical && !strcmp(a->prompt_set_version, "sha256:cd"));
        if (a)
            mets__v1__alert__free_unpacked(a, NULL);
        free(out);
    }
}

int main(void)
{
    setenv("METS_FAILPOINTS", "output.alert=2", 1); /* read by the first pass through any point */
    RUN(alerts_decode_and_fail_where_injected);
    RUN(dead_letters_carry_the_original);
    RUN(embeddings_decode_to_what_went_in);
    return mets_test_summary();
}
