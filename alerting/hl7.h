/* HL7 v2 text as mets sends and reads it: a message built segment by segment with the standard delimiters
 * (| ^ ~ \ &), text from outside escaped, times as DTM, MLLP framing, and the parts of an acknowledgement a
 * sender needs (MSA and ERR). Only what an Alert Reporter needs: it writes ORU^R40 and reads ACK^R41; the
 * receiving side in the tests is HAPI, an independent implementation.
 *
 *     mets_hl7 *m = mets_hl7_new();
 *     mets_hl7_segment(m, "PID");
 *     mets_hl7_fields(m, 2);                 // PID-1, PID-2 empty: the next field written is PID-3
 *     mets_hl7_text(m, stream_id);           // escaped
 *     mets_hl7_raw(m, "^^^METS");            // delimiters as written
 *     ...
 *     if (mets_hl7_failed(m)) ...            // out of memory somewhere above
 *     size_t len; const char *text = mets_hl7_data(m, &len);
 *     mets_hl7_free(m);
 */
#ifndef METS_ALERTING_HL7_H
#define METS_ALERTING_HL7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mets_hl7 mets_hl7;

mets_hl7 *mets_hl7_new(void);
void mets_hl7_free(mets_hl7 *m);

/* Starts a segment (ends the one before with a carriage return). "MSH" writes MSH-1 and MSH-2 too, so
 * that the next field written is MSH-3. */
void mets_hl7_segment(mets_hl7 *m, const char *name);
/* Starts n new fields: the first is left empty when n > 1, and so on; the next text goes in the last. */
void mets_hl7_fields(mets_hl7 *m, int n);
/* Appends s as written (delimiters included): for what mets composes itself. */
void mets_hl7_raw(mets_hl7 *m, const char *s);
/* Appends s escaped (\F\ \S\ \T\ \R\ \E\; carriage returns, line feeds and other control characters as
 * \Xhh\): for text from outside (stream ids, labels, configured names). */
void mets_hl7_text(mets_hl7 *m, const char *s);
/* Appends a time as HL7 DTM in UTC to the millisecond: 20261208031500.250+0000. */
void mets_hl7_time(mets_hl7 *m, int64_t us);
/* Whether an allocation failed since mets_hl7_new (every call after it does nothing). */
bool mets_hl7_failed(const mets_hl7 *m);
/* The message so far, ending with the carriage return of its last segment. */
const char *mets_hl7_data(mets_hl7 *m, size_t *len);

/* MLLP (HL7 v2 Minimal Lower Layer Protocol): a message travels as 0x0B, the message, 0x1C 0x0D. */
enum { METS_MLLP_START = 0x0b, METS_MLLP_END = 0x1c, METS_MLLP_CR = 0x0d };

/* What an acknowledgement says, from its MSA and ERR segments. */
typedef struct mets_hl7_ack {
    char code[3];        /* MSA-1: AA, AE, AR (original mode) or CA, CE, CR (enhanced mode) */
    char control_id[200]; /* MSA-2: the MSH-10 it acknowledges */
    char text[300];      /* MSA-3 and the ERR segments' texts, unescaped, for a person; may be empty */
} mets_hl7_ack;

/* Reads an acknowledgement message (segments separated by CR; its own MSH-1/MSH-2 delimiters honoured).
 * Returns false when it has no MSH or no MSA with a code: then it is not an acknowledgement. */
bool mets_hl7_parse_ack(const char *msg, size_t len, mets_hl7_ack *ack);
/* AA or CA. */
bool mets_hl7_ack_accepted(const mets_hl7_ack *ack);

#endif
