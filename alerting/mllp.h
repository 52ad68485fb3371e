/* An MLLP client: one TCP connection to an HL7 receiver (an alert manager), a message out and its
 * acknowledgement back, with deadlines. A failed exchange closes the connection and the next one connects
 * again, so a message whose acknowledgement was lost is sent again on a fresh connection.
 *
 *     mets_mllp *c = mets_mllp_new("acm.example:2575", &stop, &err);
 *     mets_hl7_ack ack;
 *     if (mets_mllp_exchange(c, msg, len, 5.0, 10.0, &ack, &err) == 0 && mets_hl7_ack_accepted(&ack)) ...
 *     mets_mllp_free(c);
 *
 * Not thread-safe: one connection, one caller.
 */
#ifndef METS_ALERTING_MLLP_H
#define METS_ALERTING_MLLP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "hl7.h"

typedef struct mets_mllp mets_mllp;

/* address: host:port ([v6]:port). `stop`, when not NULL, is polled during waits: once it is set, a wait
 * ends with METS_EIO ("stopped"). The connection is made by the first exchange. */
mets_mllp *mets_mllp_new(const char *address, const volatile sig_atomic_t *stop, mets_err *err);
void mets_mllp_free(mets_mllp *c);

/* Sends msg (without framing: this adds it) and reads one framed reply into ack. 0 when a reply that is an
 * acknowledgement of this message (MSA-2 = control_id) came back, whatever its code; METS_EIO when no
 * connection could be made within connect_timeout_s, the connection broke or no reply came within
 * ack_timeout_s; METS_EFORMAT when the reply is not an acknowledgement of this message. On any error the
 * connection is closed. */
int mets_mllp_exchange(mets_mllp *c, const char *msg, size_t len, const char *control_id, double connect_timeout_s,
                       double ack_timeout_s, mets_hl7_ack *ack, mets_err *err);

/* Whether a connection is open now (for a gauge). */
bool mets_mllp_connected(const mets_mllp *c);

#endif
