#include "output.h"

#include <stdlib.h>

#include "failpoint.h"
#include "mets.pb-c.h"

/* Packs any generated message into a fresh buffer; `point` names its failpoint. */
static int pack(const ProtobufCMessage *m, const char *point, uint8_t **out, size_t *len, mets_err *err)
{
    *len = protobuf_c_message_get_packed_size(m);
    if (mets_failpoint(point))
        return mets_err_set(err, METS_ENOMEM, "output: injected failure (%s)", point);
    if (!(*out = malloc(*len ? *len : 1)))
        return mets_err_set(err, METS_ENOMEM, "output: out of memory for a %zu-byte message", *len);
    protobuf_c_message_pack(m, *out);
    return 0;
}

int mets_output_embedding(const char *stream_id, int64_t start_us, int64_t end_us, const char *model_id,
                          const char *model_version, const float *vector, int dim, uint8_t **out, size_t *len,
                          mets_err *err)
{
    Mets__V1__Embedding m = METS__V1__EMBEDDING__INIT;
    m.schema_version = METS_FRAME_SCHEMA_MAJOR;
    m.stream_id = (char *)stream_id, m.window_start_us = start_us, m.window_end_us = end_us;
    m.model_id = (char *)model_id, m.model_version = (char *)model_version;
    m.n_vector = (size_t)dim, m.vector = (float *)vector;
    return pack(&m.base, "output.embedding", out, len, err);
}

int mets_output_alert(const mets_alert_event *e, uint8_t **out, size_t *len, mets_err *err)
{
    Mets__V1__Alert m = METS__V1__ALERT__INIT;
    Mets__V1__LabelProbability comp[METS_ALERT_NCOMPETING], *compp[METS_ALERT_NCOMPETING];
    m.schema_version = METS_FRAME_SCHEMA_MAJOR;
    m.alert_id = (char *)e->id, m.stream_id = (char *)e->stream_id;
    m.label_group = (char *)e->group, m.label = (char *)e->label;
    m.state = (Mets__V1__AlertState)e->state;
    m.probability = e->probability, m.cosine = e->cosine;
    m.onset_us = e->onset_us, m.window_start_us = e->window_start_us, m.window_end_us = e->window_end_us;
    m.model_version = (char *)e->model_version, m.prompt_set_version = (char *)e->prompt_set_version;
    for (int i = 0; i < e->ncompeting; i++) {
        mets__v1__label_probability__init(&comp[i]);
        comp[i].label = (char *)e->competing[i].label, comp[i].probability = e->competing[i].probability;
        compp[i] = &comp[i];
    }
    m.n_competing = (size_t)e->ncompeting, m.competing = compp;
    m.priority = (uint32_t)(METS_PRIORITY_HIGH - e->priority + 1);
    m.technical = e->technical, m.stale = e->stale;
    return pack(&m.base, "output.alert", out, len, err);
}

int mets_output_dead_letter(const uint8_t *original, size_t original_len, const char *topic, int32_t partition,
                            int64_t offset, mets_frame_reason reason, const char *text, uint8_t **out, size_t *len,
                            mets_err *err)
{
    Mets__V1__DeadLetter m = METS__V1__DEAD_LETTER__INIT;
    m.schema_version = METS_FRAME_SCHEMA_MAJOR;
    m.original.data = (uint8_t *)original;
    m.original.len = original_len < METS_OUTPUT_MAX_ORIGINAL ? original_len : METS_OUTPUT_MAX_ORIGINAL;
    m.original_size = original_len;
    m.topic = (char *)topic, m.partition = partition, m.offset = offset;
    m.reason = (Mets__V1__DeadLetterReason)reason, m.reason_text = (char *)text;
    return pack(&m.base, "output.dead_letter", out, len, err);
}
