/* IHE PCD ACM: an alert event of metsd (proto Alert) as a PCD-04 "Report Alert" message, HL7 v2.6 ORU^R40
 * (docs/pcd.md has an example and the reasons for each mapping).
 *
 * - MSH-10, the message control id, is the event's: the alert id, the state and the window end. A message
 *   sent again (after a lost acknowledgement or a crash of mets pcd) has the same one, so the alert manager
 *   can recognise it; OBR-3 (the filler order number) is the alert id, the same in every phase of an alert.
 * - Raised, updated and cleared are the alarm phases start, continue (update when only `stale` changed)
 *   and end; the alarm state is active, then inactive at the end.
 * - Priority 1, 2, 3 is PH, PM, PL; a technical alert is of type ST, a clinical one SP (OBX-8 of the alarm
 *   and the priority and type OBX).
 * - The event identification (OBX-5 of MDC_EVT_ALARM) comes from hl7.events, else the built-in table of
 *   MDC codes (IEEE 11073-10101 via DICOM CID 3038), else a local code `group.label` of coding system
 *   99METS; its text (CWE-9) is what the alert manager shows.
 * - The bed is the stream id: PV1-3 (point of care ^^ bed) and PID-3 (assigned by hl7.sending_facility):
 *   mets knows beds, not patients.
 */
#ifndef METS_ALERTING_PCD_H
#define METS_ALERTING_PCD_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "mets.pb-c.h"

#define METS_PCD_CONTROL_ID_MAX 200

/* The message for alert `a`, sent at now_us: malloc'd text (segments ending in CR) and its length, and its
 * MSH-10 in control_id. NULL with err filled when `a` lacks what the message needs (an alert id, a stream,
 * a label) or memory runs out. */
char *mets_pcd_message(const mets_pcd_config *cfg, const Mets__V1__Alert *a, int64_t now_us, size_t *len,
                       char control_id[METS_PCD_CONTROL_ID_MAX], mets_err *err);

/* The event identification of a label: code, name, coding system and the text the alert manager shows. */
typedef struct mets_pcd_event {
    char code[128], name[128], system[64], text[256];
} mets_pcd_event;

/* The event identification of group/label (see above). */
void mets_pcd_event_code(const mets_pcd_config *cfg, const char *group, const char *label, mets_pcd_event *ev);

#endif
