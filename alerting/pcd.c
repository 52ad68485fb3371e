#include "pcd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7.h"

/* MDC event codes (partition 3: 3 * 65536 + the term code) of the labels of conf/labels.yaml that have
 * one, as DICOM CID 3038 "Pattern Event" lists them, and MDC_EVT_LEAD_OFF (3:72), which the PCD-04
 * examples use. VT and VF have none in that list: they get local codes (docs/pcd.md). */
static const char *const builtin[][2] = {
    {"rhythm/AFIB", "199736^MDC_EVT_ECG_ATR_FIB^MDC^atrial fibrillation"},
    {"rhythm/AFLT", "199884^MDC_EVT_ECG_ATR_FLUT^MDC^atrial flutter"},
    {"rhythm/STACH", "199870^MDC_EVT_ECG_SINUS_TACHY^MDC^sinus tachycardia"},
    {"rhythm/SBRAD", "199692^MDC_EVT_ECG_SINUS_BRADY^MDC^sinus bradycardia"},
    {"rhythm/VT", "rhythm.VT^ventricular tachycardia^99METS^ventricular tachycardia"},
    {"rhythm/VF", "rhythm.VF^ventricular fibrillation^99METS^ventricular fibrillation"},
    {"technical/lead_off", "196680^MDC_EVT_LEAD_OFF^MDC^ECG lead off"},
    {"technical/signal_lost", "technical.signal_lost^signal lost^99METS^ECG signal lost"},
    {"technical/noisy_signal", "technical.noisy_signal^noisy signal^99METS^ECG too noisy to analyse"},
    {"technical/flat_signal", "technical.flat_signal^flat signal^99METS^ECG flat line (check leads)"},
    {"technical/saturation", "technical.saturation^saturation^99METS^ECG signal saturated"},
    {"technical/signal_gap", "technical.signal_gap^signal gap^99METS^ECG signal gap"},
};

/* Splits code^name^system^text (checked when the configuration was loaded, or built in). */
static void split(const char *s, mets_pcd_event *ev)
{
    char *parts[] = {ev->code, ev->name, ev->system, ev->text};
    size_t sizes[] = {sizeof ev->code, sizeof ev->name, sizeof ev->system, sizeof ev->text};
    for (int i = 0; i < 4; i++) {
        size_t n = i < 3 ? strcspn(s, "^") : strlen(s);
        snprintf(parts[i], sizes[i], "%.*s", (int)n, s);
        s += n + (s[n] != 0);
    }
}

void mets_pcd_event_code(const mets_pcd_config *cfg, const char *group, const char *label, mets_pcd_event *ev)
{
    char key[300];
    snprintf(key, sizeof key, "%s/%s", group, label);
    for (int i = 0; i < cfg->hl7.events.n; i++)
        if (!strcmp(cfg->hl7.events.items[i].key, key))
            return split(cfg->hl7.events.items[i].value, ev);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (!strcmp(builtin[i][0], key))
            return split(builtin[i][1], ev);
    snprintf(ev->code, sizeof ev->code, "%s.%s", group, label);
    snprintf(ev->name, sizeof ev->name, "%s", label);
    snprintf(ev->system, sizeof ev->system, "99METS");
    snprintf(ev->text, sizeof ev->text, "%s", label);
}

/* OBX|n|type|code^name^MDC|1.0.0.0.n|value||||||F: one attribute of the alarm. `coded`: the value is a
 * coded element mets writes itself, else text. */
static void attribute(mets_hl7 *m, int n, const char *type, const char *id, const char *value, bool coded)
{
    char setid[16];
    mets_hl7_segment(m, "OBX");
    snprintf(setid, sizeof setid, "%d", n);
    mets_hl7_fields(m, 1), mets_hl7_raw(m, setid);
    mets_hl7_fields(m, 1), mets_hl7_raw(m, type);
    mets_hl7_fields(m, 1), mets_hl7_raw(m, id);
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "1.0.0.0."), mets_hl7_raw(m, setid);
    mets_hl7_fields(m, 1);
    if (coded)
        mets_hl7_raw(m, value);
    else
        mets_hl7_text(m, value);
    mets_hl7_fields(m, 6), mets_hl7_raw(m, "F");
}

char *mets_pcd_message(const mets_pcd_config *cfg, const Mets__V1__Alert *a, int64_t now_us, size_t *len,
                       char control_id[METS_PCD_CONTROL_ID_MAX], mets_err *err)
{
    static const char *const processing[] = {"P", "T", "D"};
    bool raised = a->state == METS__V1__ALERT_STATE__ALERT_STATE_RAISED,
         updated = a->state == METS__V1__ALERT_STATE__ALERT_STATE_UPDATED,
         cleared = a->state == METS__V1__ALERT_STATE__ALERT_STATE_CLEARED;
    if (!*a->alert_id || !*a->stream_id || !*a->label_group || !*a->label || !(raised || updated || cleared)) {
        mets_err_set(err, METS_EINVAL, "alert '%.64s' of stream '%.64s': no alert id, stream, label or state",
                     a->alert_id, a->stream_id);
        return NULL;
    }
    char state = raised ? 'R' : updated ? 'U' : 'C';
    if (snprintf(control_id, METS_PCD_CONTROL_ID_MAX, "%.64s-%c-%" PRId64, a->alert_id, state, a->window_end_us) >=
        METS_PCD_CONTROL_ID_MAX)
        control_id[METS_PCD_CONTROL_ID_MAX - 1] = 0;
    const char *phase = raised ? "start" : cleared ? "end" : a->stale ? "update" : "continue";
    const char *priority = a->priority == 1 ? "PH" : a->priority == 2 ? "PM" : a->priority == 3 ? "PL" : "PN";
    const char *type = a->technical ? "ST" : "SP";
    char flags[8], number[32];
    mets_pcd_event ev;
    mets_pcd_event_code(cfg, a->label_group, a->label, &ev);

    mets_hl7 *m = mets_hl7_new();
    if (!m) {
        mets_err_set(err, METS_ENOMEM, "out of memory");
        return NULL;
    }
    mets_hl7_segment(m, "MSH");
    mets_hl7_fields(m, 1), mets_hl7_text(m, cfg->hl7.sending_application);
    mets_hl7_fields(m, 1), mets_hl7_text(m, cfg->hl7.sending_facility);
    mets_hl7_fields(m, 1), mets_hl7_text(m, cfg->hl7.receiving_application);
    mets_hl7_fields(m, 1), mets_hl7_text(m, cfg->hl7.receiving_facility);
    mets_hl7_fields(m, 1), mets_hl7_time(m, now_us);
    mets_hl7_fields(m, 2), mets_hl7_raw(m, "ORU^R40^ORU_R40");
    mets_hl7_fields(m, 1), mets_hl7_text(m, control_id);
    mets_hl7_fields(m, 1), mets_hl7_raw(m, processing[cfg->hl7.processing_id]);
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "2.6");
    mets_hl7_fields(m, 3), mets_hl7_raw(m, "AL"); /* MSH-15: accept acknowledgement always (ACK^R41) */
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "NE"); /* MSH-16: no application acknowledgement */
    mets_hl7_fields(m, 2), mets_hl7_raw(m, "UNICODE UTF-8");
    mets_hl7_fields(m, 3), mets_hl7_raw(m, "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO");

    mets_hl7_segment(m, "PID");
    mets_hl7_fields(m, 3), mets_hl7_text(m, a->stream_id);
    mets_hl7_raw(m, "^^^"), mets_hl7_text(m, cfg->hl7.sending_facility);

    mets_hl7_segment(m, "PV1");
    mets_hl7_fields(m, 2), mets_hl7_raw(m, "I");
    mets_hl7_fields(m, 1), mets_hl7_text(m, cfg->hl7.point_of_care);
    mets_hl7_raw(m, "^^"), mets_hl7_text(m, a->stream_id);

    mets_hl7_segment(m, "OBR");
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "1");
    mets_hl7_fields(m, 2), mets_hl7_text(m, a->alert_id);
    mets_hl7_raw(m, "^"), mets_hl7_text(m, cfg->hl7.sending_application);
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "196616^MDC_EVT_ALARM^MDC");
    mets_hl7_fields(m, 3), mets_hl7_time(m, a->onset_us);  /* OBR-7: when the condition began */
    if (cleared)
        mets_hl7_fields(m, 1), mets_hl7_time(m, a->window_end_us); /* OBR-8: when it ended */

    /* The alarm: its event identification, priority and type, and the time of this change. */
    mets_hl7_segment(m, "OBX");
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "1");
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "CWE");
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "196616^MDC_EVT_ALARM^MDC");
    mets_hl7_fields(m, 1), mets_hl7_raw(m, "1.0.0.0.1");
    mets_hl7_fields(m, 1), mets_hl7_text(m, ev.code);
    mets_hl7_raw(m, "^"), mets_hl7_text(m, ev.name);
    mets_hl7_raw(m, "^"), mets_hl7_text(m, ev.system);
    mets_hl7_raw(m, "^^^^^^"), mets_hl7_text(m, ev.text); /* CWE-9, original text: what a person reads */
    snprintf(flags, sizeof flags, "%s~%s", priority, type);
    mets_hl7_fields(m, 3), mets_hl7_raw(m, flags);
    mets_hl7_fields(m, 3), mets_hl7_raw(m, "F");
    mets_hl7_fields(m, 3), mets_hl7_time(m, a->window_end_us);
    /* the source: the ECG */
    attribute(m, 2, "CWE", "68480^MDC_ATTR_ALERT_SOURCE^MDC", "131328^MDC_ECG_ELEC_POTL^MDC", true);
    attribute(m, 3, "ST", "68481^MDC_ATTR_EVENT_PHASE^MDC", phase, false);
    attribute(m, 4, "ST", "68482^MDC_ATTR_ALARM_STATE^MDC", cleared ? "inactive" : "active", false);
    attribute(m, 5, "ST", "68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC", "enabled", false);
    attribute(m, 6, "ST", "68484^MDC_ATTR_ALARM_PRIORITY^MDC", priority, false);
    attribute(m, 7, "ST", "68485^MDC_ATTR_ALERT_TYPE^MDC", type, false);
    /* mets's own: the score behind a clinical alert, and whether its condition is still observed */
    snprintf(number, sizeof number, "%.4f", (double)a->probability);
    attribute(m, 8, "NM", "PROBABILITY^probability within the label group^99METS", number, false);
    attribute(m, 9, "ST", "STALE^not observed since the signal was lost^99METS", a->stale ? "Y" : "N", false);

    const char *text = mets_hl7_data(m, len);
    char *out = text ? malloc(*len + 1) : NULL;
    if (out)
        memcpy(out, text, *len + 1);
    else
        mets_err_set(err, METS_ENOMEM, "out of memory");
    mets_hl7_free(m);
    return out;
}
