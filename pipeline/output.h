/* The publishing stage's wire side: plain results of the pipeline into the bytes of proto/mets.proto's
 * Embedding, Alert and DeadLetter messages (key = stream id, as every topic). Deterministic: the same
 * result gives the same bytes, so at-least-once redelivery is recognisable by consumers.
 *
 * Thread-safety: pure functions; the caller frees *out.
 */
#ifndef METS_PIPELINE_OUTPUT_H
#define METS_PIPELINE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "err.h"
#include "frame.h"

int mets_output_embedding(const char *stream_id, int64_t start_us, int64_t end_us, const char *model_id,
                          const char *model_version, const float *vector, int dim, uint8_t **out, size_t *len,
                          mets_err *err);
/* Priorities go out as the proto says: 1 is the most urgent (METS_PRIORITY_HIGH). */
int mets_output_alert(const mets_alert_event *e, uint8_t **out, size_t *len, mets_err *err);
/* A dead letter carries the original message's first METS_OUTPUT_MAX_ORIGINAL bytes (all of it when
 * shorter) and its size: frames may be 2 MiB, Kafka's default message limit is 1 MB, and a dead letter
 * the broker refuses would fail its transaction for ever. */
#define METS_OUTPUT_MAX_ORIGINAL (512u << 10)
int mets_output_dead_letter(const uint8_t *original, size_t original_len, const char *topic, int32_t partition,
                            int64_t offset, mets_frame_reason reason, const char *text, uint8_t **out, size_t *len,
                            mets_err *err);

#endif
