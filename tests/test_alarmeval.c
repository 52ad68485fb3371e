/* The alarm evaluation (eval/alarmeval.h) on hand-made alert events and rhythm annotations whose answers are
 * worked out below, and the operating-point simulation (eval/oppoint.h) against the alert stage itself. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alarmeval.h"
#include "harness.h"
#include "oppoint.h"

#define T0 1767225600000000LL /* 2026-01-01T00:00:00Z, mets replay's default record start */
#define S(x) ((int64_t)((x) * 1e6))

static mets_alarm_event ev(const char *stream, const char *label, int state, int tech, double onset, double end)
{
    mets_alarm_event e = {.state = state, .technical = tech, .onset_us = T0 + S(onset), .window_end_us = T0 + S(end)};
    snprintf(e.stream, sizeof e.stream, "%s", stream);
    snprintf(e.label, sizeof e.label, "%s", label);
    return e;
}

/* Rhythm changes at these seconds (fs 1), as WFDB rhythm annotations (code 28, aux "(AFIB"...). */
static mets_annots rhythms(const double *at, const char *const *aux, int n)
{
    mets_annots a = {.items = calloc((size_t)n, sizeof(mets_annot)), .count = (size_t)n, .fs = 1};
    for (int i = 0; i < n; i++)
        a.items[i] = (mets_annot){.sample = (int64_t)at[i], .code = 28, .aux = aux[i]};
    return a;
}

/* A 600 s record: AF 0-100 s, sinus, VT 200-205 s (a 5 s run), sinus, VF 300-340 s, sinus, flutter 500-600 s.
 * The alarms: AF 4-110 s (hit, delay 14 s), a false AF alarm at 400-420 s, VT raised at 210 s for a run that
 * ended at 205 s (onset 196 s: hit, delay 10 s), VF raised 2 s into VF, an AF alarm during flutter (excluded, so
 * neither hit nor false), and no flutter alarm. */
static void episodes_and_rates(void)
{
    static const double at[] = {0, 100, 200, 205, 300, 340, 500};
    static const char *const aux[] = {"(AFIB", "(N", "(VT", "(N", "(VFL", "(N", "(AFL"};
    mets_annots a = rhythms(at, aux, 7);
    mets_alarm_event list[] = {
        ev("r", "AFIB", 1, 0, 4, 14),     ev("r", "AFIB", 2, 0, 4, 30),    ev("r", "AFIB", 3, 0, 4, 110),
        ev("r", "VT", 1, 0, 196, 210),    ev("r", "VT", 3, 0, 196, 220),   ev("r", "VF", 1, 0, 292, 302),
        ev("r", "VF", 3, 0, 292, 350),    ev("r", "AFIB", 1, 0, 400, 410), ev("r", "AFIB", 3, 0, 400, 420),
        ev("r", "AFIB", 1, 0, 520, 530),  ev("other", "AFIB", 1, 0, 0, 10), /* another stream: not this record */
    };
    mets_alarm_events e = {list, (int)(sizeof list / sizeof *list), 0};
    mets_alarm_result r = {0};
    mets_err err;
    CHECK(mets_alarm_score_record(&e, "r", T0, 600, &a, 1, &r, &err) == 0, "%s", err.msg);
    const mets_alarm_stats *af = &r.kind[METS_ALARM_AF], *vt = &r.kind[METS_ALARM_VT], *vf = &r.kind[METS_ALARM_VF];
    const mets_alarm_stats *fl = &r.kind[METS_ALARM_AFL];
    CHECK(af->ep.ref_episodes == 1 && af->ep.ref_hit == 1, "AF Se %d/%d", af->ep.ref_hit, af->ep.ref_episodes);
    CHECK(af->ep.det_episodes == 2 && af->ep.det_hit == 1 && af->false_alarms == 1, "AF +P %d/%d, false %d",
          af->ep.det_hit, af->ep.det_episodes, af->false_alarms);
    CHECK(af->ref_long[0] == 1 && af->hit_long[0] == 1 && af->ref_long[1] == 1 && af->hit_long[1] == 1, "AF long");
    CHECK_NEAR(af->ep.dur_se, 96.0 / 100, 1e-9);
    CHECK(af->ndelay == 1, "%d", af->ndelay);
    CHECK_NEAR(af->delay[0], 14, 1e-9);
    CHECK(vt->ep.ref_hit == 1 && vt->ref_long[0] == 0 && vt->false_alarms == 0, "VT");
    CHECK_NEAR(vt->delay[0], 10, 1e-9); /* raised at 210 s for an episode from 200 s */
    CHECK(vf->ep.ref_hit == 1 && vf->hit_long[1] == 1 && vf->false_alarms == 0, "VF");
    CHECK_NEAR(vf->delay[0], 2, 1e-9);
    CHECK(fl->ep.ref_episodes == 1 && fl->ep.ref_hit == 0 && fl->ep.det_episodes == 0, "flutter");
    CHECK_NEAR(r.hours, 600.0 / 3600, 1e-12);
    double med, p90;
    mets_alarm_delay_quantiles(vf, &med, &p90);
    CHECK_NEAR(med, 2, 1e-9);
    mets_alarm_result_free(&r);
    free(a.items);
}

/* Technical alarms of several labels merge into their union; a clinical alarm raised again right after a
 * clear stays a second alarm; one never cleared runs to the end. */
static void episode_building(void)
{
    mets_alarm_event list[] = {
        ev("s", "lead_off", 1, 1, 10, 20), ev("s", "signal_gap", 1, 1, 15, 25), ev("s", "lead_off", 3, 1, 10, 30),
        ev("s", "signal_gap", 3, 1, 15, 40), ev("s", "VT", 1, 0, 50, 60),   ev("s", "VT", 3, 0, 50, 70),
        ev("s", "VT", 1, 0, 66, 76),         ev("s", "VT", 2, 0, 66, 80),
    };
    mets_alarm_events e = {list, (int)(sizeof list / sizeof *list), 0};
    mets_alarm_episode out[8];
    int n = mets_alarm_episodes(&e, "s", NULL, T0, 100, out, 8);
    CHECK(n == 1 && out[0].start == 10 && out[0].end == 40, "technical: %d episodes", n);
    n = mets_alarm_episodes(&e, "s", "VT", T0, 100, out, 8);
    CHECK(n == 2, "VT: %d episodes", n);
    CHECK(n == 2 && out[0].start == 50 && out[0].end == 70 && out[0].raised_at == 60, "first");
    CHECK(n == 2 && out[1].start == 70 && out[1].end == 100 && out[1].raised_at == 76, "second: %g-%g", out[1].start,
          out[1].end);
}

static void noise_stress_rows(void)
{
    int snr = 99;
    CHECK(mets_alarm_nstdb_snr("nstdb/118e_6", &snr) == 0 && snr == -6, "%d", snr);
    CHECK(mets_alarm_nstdb_snr("118e24", &snr) == 0 && snr == 24, "%d", snr);
    CHECK(mets_alarm_nstdb_snr("mitdb/118", &snr) == -1, "not NSTDB");
    /* Noise on at 300-420 s, 540-660 s ...: a clinical alarm at 350 s is in noise, one at 450 s is not; the
     * technical alarm 320-440 s covers 100 s of noise and 20 s of clean signal. */
    mets_alarm_event list[] = {ev("n", "VT", 1, 0, 340, 350), ev("n", "AFIB", 1, 0, 440, 450),
                               ev("n", "noisy_signal", 1, 1, 320, 330), ev("n", "noisy_signal", 3, 1, 320, 440)};
    mets_alarm_events e = {list, 4, 0};
    mets_alarm_noise_row row;
    mets_alarm_noise_record(&e, "n", "nstdb/118e06", T0, 1805, &row);
    CHECK(row.snr_db == 6 && row.clinical_noisy == 1 && row.clinical_clean == 1 && row.tech_raised == 1, "counts");
    CHECK_NEAR(row.tech_noisy_s, 100, 1e-6);
    CHECK_NEAR(row.tech_clean_s, 20, 1e-6);
    CHECK_NEAR(row.noisy_s, 6 * 120 + 65, 1e-6); /* six 2-minute stretches, then 65 s of the seventh */
}

/* The simulation is the alert stage: a label above its threshold in 2 of 3 windows raises, the artefact label
 * raises noisy_signal instead and holds the clinical one. */
static void simulation_is_the_alert_stage(void)
{
    mets_err err;
    static const char yaml[] = "version: 1\ngroups:\n  rhythm:\n    SR: {prompts: [sinus rhythm]}\n"
                               "    VT: {prompts: [ventricular tachycardia]}\n"
                               "    NOISE: {prompts: [noisy recording]}\n";
    mets_labels *l = mets_labels_parse(yaml, strlen(yaml), "labels", &err);
    CHECK(l != NULL, "%s", err.msg);
    if (!l)
        return;
    enum { N = 12 };
    static const float vt[N] = {0, 0.9f, 0.9f, 0.9f, 0, 0, 0, 0, 0, 0, 0, 0};
    static const float noise[N] = {0, 0, 0, 0, 0, 0, 0.9f, 0.9f, 0.9f, 0, 0, 0};
    char *name = strdup("bed"), *streams[] = {name};
    int stream[N] = {0};
    int64_t start[N], end[N];
    float prob[N * 3], cos[N * 3] = {0};
    for (int i = 0; i < N; i++) {
        start[i] = T0 + S(2 * i), end[i] = start[i] + S(10);
        prob[i * 3 + 1] = vt[i] > 0 ? vt[i] : 0.05f, prob[i * 3 + 2] = noise[i] > 0 ? noise[i] : 0.05f;
        prob[i * 3] = 1 - prob[i * 3 + 1] - prob[i * 3 + 2];
    }
    /* VT again while the signal is noisy (windows 6-8) must not raise. */
    prob[7 * 3 + 1] = 0.9f, prob[7 * 3 + 2] = 0.6f, prob[7 * 3] = 0;
    mets_op_windows w = {streams, 1, N, 3, stream, start, end, prob, cos};
    mets_alert_policy pol = {.enabled = true, .raise_k = 2, .raise_n = 3, .raise_probability = 0.5, .clear_m = 2,
                             .clear_probability = 0.3, .priority = 2};
    const mets_alert_policy *pols[3] = {NULL, &pol, NULL};
    mets_alarm_events e = {0};
    CHECK(mets_op_simulate(&w, l, pols, 2, 0.5, &e, &err) == 0, "%s", err.msg);
    int vt_raised = 0, noise_raised = 0, vt_cleared = 0;
    for (int i = 0; i < e.n; i++) {
        vt_raised += !strcmp(e.ev[i].label, "VT") && e.ev[i].state == 1;
        vt_cleared += !strcmp(e.ev[i].label, "VT") && e.ev[i].state == 3;
        noise_raised += !strcmp(e.ev[i].label, "noisy_signal") && e.ev[i].state == 1 && e.ev[i].technical;
    }
    CHECK(vt_raised == 1 && vt_cleared == 1 && noise_raised == 1, "VT raised %d cleared %d, noise %d", vt_raised,
          vt_cleared, noise_raised);
    CHECK(e.n > 0 && !strcmp(e.ev[0].label, "VT") && e.ev[0].window_end_us == end[2], "VT raised at window 2");
    mets_alarm_events_free(&e);
    mets_labels_free(l);
    free(name);
}

int main(void)
{
    RUN(episodes_and_rates);
    RUN(episode_building);
    RUN(noise_stress_rows);
    RUN(simulation_is_the_alert_stage);
    return mets_test_summary();
}
