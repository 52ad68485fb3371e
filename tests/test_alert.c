/* The alert state machine (pipeline/alert.c): every transition of a clinical and a technical alert,
 * suppression during technical faults, ids, competing labels, and the state bytes (round trip, every
 * truncation refused). Windows are 10 s long every 5 s; label AFIB is the one under test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "harness.h"

#define T0 1700000000000000LL
#define HOP 5000000LL
#define LEN 10000000LL
enum { NLAB = 7, AFIB = 0, CAP = NLAB + METS_ALERT_NTECH };

static const char *const groups[NLAB] = {"rhythm", "rhythm", "rhythm", "rhythm", "rhythm", "morph", "morph"};
static const char *const names[NLAB] = {"AFIB", "SR", "VT", "STACH", "SBRAD", "STEMI", "NORM"};

/* k=3 of n=4 at 0.6, clear after 3 below 0.4, no min duration, no re-alert. */
static mets_alert_policy base_policy(void)
{
    return (mets_alert_policy){.enabled = true, .raise_k = 3, .raise_n = 4, .raise_probability = 0.6,
                               .clear_m = 3, .clear_probability = 0.4, .priority = METS_PRIORITY_HIGH};
}

static mets_alerter *make(const mets_alert_policy *pol)
{
    mets_alert_label lab[NLAB];
    for (int i = 0; i < NLAB; i++)
        lab[i] = (mets_alert_label){groups[i], names[i], pol};
    mets_alert_params p = mets_alert_default_params();
    p.model_version = "ecg-7";
    p.prompt_set_version = "prompts-3";
    mets_err err;
    mets_alerter *a = mets_alerter_new(&p, lab, NLAB, &err);
    CHECK(a, "%s", err.msg);
    return a;
}

/* Window k of stream sid with AFIB at p, the rest of rhythm sharing 1 - p (all below 0.6), morph fixed. */
static int push_full(mets_alerter *a, const char *sid, int k, float p, unsigned tech, mets_alert_event *ev)
{
    float prob[NLAB] = {p, (1 - p) / 2, (1 - p) / 4, (1 - p) / 8, (1 - p) / 8, 0.3f, 0.5f};
    float cos[NLAB] = {0.25f, 0.1f, 0.05f, 0.0f, -0.1f, 0.2f, 0.3f};
    mets_scored_window w = {sid, T0 + k * HOP, T0 + k * HOP + LEN, prob, cos, tech};
    mets_err err;
    int n = mets_alerter_push(a, &w, ev, CAP, &err);
    CHECK(n >= 0, "window %d: %s", k, err.msg);
    return n;
}

static int push(mets_alerter *a, int k, float p, mets_alert_event *ev)
{
    return push_full(a, "bed-7", k, p, 0, ev);
}

/* Pushes probs[0..n) as windows from k0 and returns the number of the window that made an event of
 * `state` (and that event in *got), or -1; every other window must make no event. */
static int run_until(mets_alerter *a, int k0, const float *probs, int n, mets_alert_state state,
                     mets_alert_event *got)
{
    mets_alert_event ev[CAP];
    for (int i = 0; i < n; i++) {
        int m = push(a, k0 + i, probs[i], ev);
        if (m == 1 && ev[0].state == state) {
            *got = ev[0];
            return k0 + i;
        }
        CHECK(m == 0, "window %d: %d events, first %s state %d", k0 + i, m, m ? ev[0].label : "", m ? ev[0].state : 0);
    }
    return -1;
}

/* Raises AFIB with windows 0..2 above (k=3): returns the RAISED event. */
static mets_alert_event raise_afib(mets_alerter *a, float p)
{
    const float probs[] = {p, p, p};
    mets_alert_event ev = {0};
    CHECK(run_until(a, 0, probs, 3, METS_ALERT_RAISED, &ev) == 2);
    return ev;
}

static void raises_with_k_of_n(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    const float probs[] = {0.1f, 0.1f, 0.7f, 0.2f, 0.6f, 0.9f};
    mets_alert_event ev = {0};
    CHECK(run_until(a, 0, probs, 6, METS_ALERT_RAISED, &ev) == 5);
    CHECK(!strcmp(ev.stream_id, "bed-7") && !strcmp(ev.group, "rhythm") && !strcmp(ev.label, "AFIB"));
    CHECK(ev.onset_us == T0 + 2 * HOP, "onset %lld: the start of the oldest of the 3 above windows",
          (long long)ev.onset_us);
    CHECK(ev.window_start_us == T0 + 5 * HOP && ev.window_end_us == T0 + 5 * HOP + LEN);
    CHECK_NEAR(ev.probability, 0.9, 1e-6);
    CHECK_NEAR(ev.cosine, 0.25, 1e-6);
    CHECK(ev.priority == METS_PRIORITY_HIGH && !ev.technical);
    CHECK(!strcmp(ev.model_version, "ecg-7") && !strcmp(ev.prompt_set_version, "prompts-3"));
    CHECK(strlen(ev.id) == 32 && strspn(ev.id, "0123456789abcdef") == 32, "id %s", ev.id);
    mets_alerter_free(a);
}

static void not_raised_with_k_minus_1(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    float probs[40];
    for (int i = 0; i < 40; i++)
        probs[i] = i % 2 ? 0.99f : 0.59f; /* 2 of every 4 windows above; 0.59 just below the threshold */
    mets_alert_event ev;
    CHECK(run_until(a, 0, probs, 40, METS_ALERT_RAISED, &ev) == -1);
    mets_alerter_free(a);
}

static void disabled_labels_never_alert(void)
{
    mets_alert_policy pol = base_policy();
    pol.enabled = false;
    mets_alerter *a = make(&pol);
    float probs[10];
    for (int i = 0; i < 10; i++)
        probs[i] = 0.99f;
    mets_alert_event ev;
    CHECK(run_until(a, 0, probs, 10, METS_ALERT_RAISED, &ev) == -1);
    mets_alert_event evs[CAP]; /* technical alerts still go out */
    CHECK(push_full(a, "bed-7", 10, 0.99f, METS_ALERT_TECH_BIT(METS_ALERT_TECH_FLAT), evs) == 1 && evs[0].technical);
    mets_alerter_free(a);
}

static void updates_on_probability_change(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    raise_afib(a, 0.7f);
    const float probs[] = {0.75f, 0.79f, 0.85f};
    mets_alert_event ev = {0};
    CHECK(run_until(a, 3, probs, 3, METS_ALERT_UPDATED, &ev) == 5, "0.85 is more than 0.1 from 0.7 last sent");
    CHECK_NEAR(ev.probability, 0.85, 1e-6);
    const float probs2[] = {0.9f, 0.3f, 0.5f}; /* 0.3 is below: no update, only counted for the clear */
    CHECK(run_until(a, 6, probs2, 3, METS_ALERT_UPDATED, &ev) == 8);
    CHECK_NEAR(ev.probability, 0.5, 1e-6);
    mets_alerter_free(a);
}

static void realerts_every_interval(void)
{
    mets_alert_policy pol = base_policy();
    pol.realert_interval_s = 30; /* 6 hops */
    mets_alerter *a = make(&pol);
    mets_alert_event raised = raise_afib(a, 0.7f), ev = {0};
    float probs[12];
    for (int i = 0; i < 12; i++)
        probs[i] = 0.7f;
    CHECK(run_until(a, 3, probs, 12, METS_ALERT_UPDATED, &ev) == 8);
    CHECK(!strcmp(ev.id, raised.id) && ev.onset_us == raised.onset_us, "a re-alert is the same alert");
    CHECK(run_until(a, 9, probs, 12, METS_ALERT_UPDATED, &ev) == 14);
    mets_alerter_free(a);
}

static void clears_after_m_not_m_minus_1(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    mets_alert_event raised = raise_afib(a, 0.7f), ev = {0};
    const float probs[] = {0.3f, 0.3f, 0.65f, 0.1f, 0.39f, 0.7f, 0.2f, 0.2f, 0.2f};
    CHECK(run_until(a, 3, probs, 9, METS_ALERT_CLEARED, &ev) == 11, "only the last 3 below windows are consecutive");
    CHECK(!strcmp(ev.id, raised.id) && ev.onset_us == raised.onset_us);
    CHECK_NEAR(ev.probability, 0.2, 1e-6);
    CHECK(ev.window_start_us == T0 + 11 * HOP);
    const float quiet[] = {0.2f, 0.7f, 0.7f};
    CHECK(run_until(a, 12, quiet, 3, METS_ALERT_RAISED, &ev) == -1, "a new alert needs 3 fresh above windows");
    mets_alerter_free(a);
}

static void min_duration_holds_the_clear(void)
{
    mets_alert_policy pol = base_policy();
    pol.min_duration_s = 60; /* raised by window 2, which ends at 2 hops + LEN; 12 hops later it is 60 s old */
    mets_alerter *a = make(&pol);
    raise_afib(a, 0.7f);
    float probs[20];
    for (int i = 0; i < 20; i++)
        probs[i] = 0.1f;
    mets_alert_event ev = {0};
    CHECK(run_until(a, 3, probs, 20, METS_ALERT_CLEARED, &ev) == 14);
    mets_alerter_free(a);
}

static void technical_raise_and_clear(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    mets_alert_event ev[CAP];
    unsigned lead_off = METS_ALERT_TECH_BIT(METS_ALERT_TECH_LEAD_OFF);
    CHECK(push_full(a, "bed-7", 0, 0.1f, lead_off, ev) == 1, "raised after 1 window");
    CHECK(ev[0].state == METS_ALERT_RAISED && ev[0].technical && !strcmp(ev[0].group, "technical"));
    CHECK(!strcmp(ev[0].label, "lead_off") && ev[0].probability == 1 && ev[0].ncompeting == 0);
    CHECK(ev[0].onset_us == T0 && ev[0].priority == METS_PRIORITY_MEDIUM);
    char id[33];
    strcpy(id, ev[0].id);
    CHECK(push_full(a, "bed-7", 1, 0.1f, lead_off, ev) == 0);
    CHECK(push_full(a, "bed-7", 2, 0.1f, 0, ev) == 0, "1 window without the fault is not enough");
    CHECK(push_full(a, "bed-7", 3, 0.1f, lead_off, ev) == 0, "and the fault is back");
    CHECK(push_full(a, "bed-7", 4, 0.1f, 0, ev) == 0);
    CHECK(push_full(a, "bed-7", 5, 0.1f, 0, ev) == 1, "cleared after 2 windows without the fault");
    CHECK(ev[0].state == METS_ALERT_CLEARED && !strcmp(ev[0].id, id) && ev[0].probability == 0);
    mets_alerter_free(a);
}

/* Lead off for windows 0..5 with AFIB high: no clinical alert; after the fault it needs 3 good windows. */
static void technical_blocks_clinical_raise(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    mets_alert_event ev[CAP];
    for (int k = 0; k < 6; k++)
        CHECK(push_full(a, "bed-7", k, 0.95f, METS_ALERT_TECH_BIT(METS_ALERT_TECH_GAP), ev) == (k == 0));
    CHECK(push_full(a, "bed-7", 6, 0.95f, 0, ev) == 0, "still suppressed: the technical alert is up");
    CHECK(push_full(a, "bed-7", 7, 0.95f, 0, ev) == 1 && ev[0].state == METS_ALERT_CLEARED && ev[0].technical);
    CHECK(push_full(a, "bed-7", 8, 0.95f, 0, ev) == 0);
    CHECK(push_full(a, "bed-7", 9, 0.95f, 0, ev) == 1, "windows 7, 8, 9 are 3 good above windows");
    CHECK(ev[0].state == METS_ALERT_RAISED && !ev[0].technical && ev[0].onset_us == T0 + 7 * HOP);
    mets_alerter_free(a);
}

/* A raised AFIB is held through a flat line (unscored windows): no update, re-alert or clear. */
static void technical_holds_raised_clinical(void)
{
    mets_alert_policy pol = base_policy();
    pol.realert_interval_s = 10;
    mets_alerter *a = make(&pol);
    mets_alert_event raised = raise_afib(a, 0.7f), ev[CAP];
    for (int k = 3; k < 9; k++) {
        mets_scored_window w = {"bed-7", T0 + k * HOP, T0 + k * HOP + LEN, NULL, NULL,
                                METS_ALERT_TECH_BIT(METS_ALERT_TECH_FLAT)};
        CHECK(mets_alerter_push(a, &w, ev, CAP, NULL) == (k == 3), "window %d", k);
    }
    CHECK(push_full(a, "bed-7", 9, 0.1f, 0, ev) == 0, "suppressed until the technical alert clears");
    CHECK(push_full(a, "bed-7", 10, 0.1f, 0, ev) == 2 && ev[0].technical && ev[1].state == METS_ALERT_UPDATED,
          "technical clear, then the overdue re-alert");
    CHECK(push_full(a, "bed-7", 11, 0.1f, 0, ev) == 0);
    CHECK(push_full(a, "bed-7", 12, 0.1f, 0, ev) == 1 && ev[0].state == METS_ALERT_CLEARED,
          "cleared by 3 good below windows after the fault");
    CHECK(!strcmp(ev[0].id, raised.id));
    mets_alerter_free(a);
}

static void ids_deterministic_and_distinct(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol), *b = make(&pol);
    mets_alert_event r1 = raise_afib(a, 0.7f), again = raise_afib(b, 0.7f), ev[CAP];
    CHECK(!strcmp(r1.id, again.id), "a replay gives the same id");
    for (int k = 3; k < 6; k++)
        push(a, k, 0.1f, ev); /* cleared */
    const float probs[] = {0.7f, 0.7f, 0.7f};
    mets_alert_event r2 = {0};
    CHECK(run_until(a, 6, probs, 3, METS_ALERT_RAISED, &r2) == 8);
    CHECK(strcmp(r1.id, r2.id) && r2.onset_us == T0 + 6 * HOP, "a new onset, a new id");
    mets_alert_event other = {0};
    for (int k = 0; k < 3; k++)
        if (push_full(b, "bed-8", k, 0.7f, 0, ev))
            other = ev[0];
    CHECK(other.onset_us == r1.onset_us && strcmp(other.id, r1.id), "another stream, another id");
    mets_alerter_free(a);
    mets_alerter_free(b);
}

static void competing_labels_of_the_group(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    float prob[NLAB] = {0.9f, 0.02f, 0.03f, 0.01f, 0.03f, 0.55f, 0.45f}, cos[NLAB] = {0};
    mets_alert_event ev[CAP];
    int n = 0;
    for (int k = 0; k < 3; k++) {
        mets_scored_window w = {"bed-7", T0 + k * HOP, T0 + k * HOP + LEN, prob, cos, 0};
        n = mets_alerter_push(a, &w, ev, CAP, NULL);
    }
    CHECK(n == 1 && ev[0].ncompeting == 3, "n %d", n);
    CHECK(!strcmp(ev[0].competing[0].label, "VT") && !strcmp(ev[0].competing[1].label, "SBRAD"),
          "ties keep label order: %s %s", ev[0].competing[0].label, ev[0].competing[1].label);
    CHECK(!strcmp(ev[0].competing[2].label, "SR"), "only rhythm labels, most probable first");
    CHECK_NEAR(ev[0].competing[0].probability, 0.03, 1e-6);
    mets_alerter_free(a);
}

/* Windows 0..4: AFIB raised, VT above in 2 windows (a third raises it). */
static size_t encode_busy_stream(mets_alerter *a, uint8_t *buf, size_t cap)
{
    mets_alert_event ev[CAP];
    raise_afib(a, 0.7f);
    float prob[NLAB] = {0.7f, 0.0f, 0.8f, 0.0f, 0.0f, 0.3f, 0.5f}, cos[NLAB] = {0};
    for (int k = 3; k < 5; k++) {
        mets_scored_window w = {"bed-7", T0 + k * HOP, T0 + k * HOP + LEN, prob, cos, 0};
        CHECK(mets_alerter_push(a, &w, ev, CAP, NULL) == 0);
    }
    size_t len = 0;
    mets_err err;
    CHECK(mets_alert_state_encode(a, "bed-7", buf, cap, &len, &err) == 0, "%s", err.msg);
    return len;
}

static void state_round_trip(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol), *b = make(&pol);
    size_t cap = mets_alert_state_max_size(a), len, len2;
    uint8_t *buf = malloc(cap), *buf2 = malloc(cap);
    len = encode_busy_stream(a, buf, cap);
    mets_err err;
    CHECK(mets_alert_state_decode(b, buf, len, &err) == 0, "%s", err.msg);
    CHECK(mets_alert_state_encode(b, "bed-7", buf2, cap, &len2, &err) == 0 && len2 == len && !memcmp(buf, buf2, len));
    /* Then both go on alike: VT raises at once (its history survived), a saturation comes and goes, AFIB
     * clears after the fault. */
    const float probs[] = {0.7f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
    int total = 0;
    for (int i = 0; i < 8; i++) {
        mets_alert_event ea[CAP], eb[CAP];
        float prob[NLAB] = {probs[i], 0.0f, 0.9f, 0.0f, 0.0f, 0.3f, 0.5f}, cos[NLAB] = {0};
        unsigned tech = i == 1 ? METS_ALERT_TECH_BIT(METS_ALERT_TECH_SATURATED) : 0;
        mets_scored_window w = {"bed-7", T0 + (5 + i) * HOP, T0 + (5 + i) * HOP + LEN, prob, cos, tech};
        int na = mets_alerter_push(a, &w, ea, CAP, NULL), nb = mets_alerter_push(b, &w, eb, CAP, NULL);
        CHECK(na == nb, "window %d: %d events, restored %d", 5 + i, na, nb);
        for (int j = 0; j < na && j < nb; j++)
            CHECK(!strcmp(ea[j].id, eb[j].id) && ea[j].state == eb[j].state && ea[j].onset_us == eb[j].onset_us);
        total += na;
    }
    CHECK(total == 4, "VT raised, saturation raised and cleared, AFIB cleared: %d events", total);
    mets_alert_event ev[CAP];
    mets_scored_window old = {"bed-7", T0, T0 + LEN, NULL, NULL, 1};
    CHECK(mets_alerter_push(b, &old, ev, CAP, NULL) == METS_EINVAL, "the restored stream remembers its last window");
    free(buf);
    free(buf2);
    mets_alerter_free(a);
    mets_alerter_free(b);
}

static void state_bad_bytes_refused(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol), *b = make(&pol);
    size_t cap = mets_alert_state_max_size(a) + 1;
    uint8_t *buf = malloc(cap);
    size_t len = encode_busy_stream(a, buf, cap), got;
    mets_err err;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* its own allocation, so ASan sees a read past the end */
        memcpy(copy, buf, n);
        CHECK(mets_alert_state_decode(b, copy, n, &err) == METS_EFORMAT, "%zu of %zu bytes accepted", n, len);
        free(copy);
    }
    CHECK(mets_alert_state_encode(b, "bed-7", buf + len, 0, &got, NULL) == METS_ENOTFOUND, "nothing restored");
    buf[len] = 0;
    CHECK(mets_alert_state_decode(b, buf, len + 1, &err) == METS_EFORMAT && strstr(err.msg, "too many"), "%s", err.msg);
    buf[4] = 1; /* the version before signal_lost */
    CHECK(mets_alert_state_decode(b, buf, len, &err) == METS_EFORMAT && strstr(err.msg, "version"), "%s", err.msg);
    buf[4] = 2;
    mets_alert_label one = {"rhythm", "AFIB", &pol};
    mets_alert_params p = mets_alert_default_params();
    mets_alerter *c = mets_alerter_new(&p, &one, 1, &err);
    CHECK(mets_alert_state_decode(c, buf, len, &err) == METS_EFORMAT && strstr(err.msg, "label set"), "%s", err.msg);
    free(buf);
    mets_alerter_free(a);
    mets_alerter_free(b);
    mets_alerter_free(c);
}

static void streams_dropped_and_bounded(void)
{
    mets_alert_policy pol = base_policy();
    mets_alert_label one = {"rhythm", "AFIB", &pol};
    mets_alert_params p = mets_alert_default_params();
    p.max_streams = 2;
    mets_err err;
    mets_alerter *a = mets_alerter_new(&p, &one, 1, &err);
    float prob = 0.1f, cos = 0;
    mets_alert_event ev[1 + METS_ALERT_NTECH];
    mets_scored_window w = {"bed-1", T0, T0 + LEN, &prob, &cos, 0};
    CHECK(mets_alerter_push(a, &w, ev, 1 + METS_ALERT_NTECH, &err) == 0);
    w.stream_id = "bed-2";
    CHECK(mets_alerter_push(a, &w, ev, 1 + METS_ALERT_NTECH, &err) == 0);
    w.stream_id = "bed-1", w.start_us += HOP, w.end_us += HOP; /* bed-2's last window is now the oldest */
    CHECK(mets_alerter_push(a, &w, ev, 1 + METS_ALERT_NTECH, &err) == 0);
    w.stream_id = "bed-3";
    CHECK(mets_alerter_push(a, &w, ev, 1 + METS_ALERT_NTECH, &err) == 0, "bed-2 gives way: %s", err.msg);
    size_t len;
    uint8_t buf[4096];
    CHECK(mets_alert_state_encode(a, "bed-2", buf, sizeof buf, &len, NULL) == METS_ENOTFOUND, "bed-2 evicted");
    CHECK(mets_alert_state_encode(a, "bed-1", buf, sizeof buf, &len, NULL) == 0, "bed-1 kept");
    for (int i = 0; i < 2; i++) /* both streams with an alert raised: nothing gives way */
        CHECK(mets_alerter_signal(a, i ? "bed-3" : "bed-1", true, T0 + LEN, ev, 1 + METS_ALERT_NTECH, &err) == 1);
    w.stream_id = "bed-4";
    CHECK(mets_alerter_push(a, &w, ev, 1 + METS_ALERT_NTECH, &err) == METS_ENOMEM && strstr(err.msg, "max_streams"));
    CHECK(mets_alerter_drop(a, "bed-1") == 0 && mets_alerter_drop(a, "bed-1") == METS_ENOTFOUND);
    CHECK(mets_alerter_push(a, &w, ev, 1 + METS_ALERT_NTECH, &err) == 0, "room again: %s", err.msg);
    mets_alerter_free(a);
}

static void bad_input_refused(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol);
    mets_alert_event ev[CAP];
    push(a, 5, 0.1f, ev);
    float prob[NLAB] = {NAN}, cos[NLAB] = {0};
    mets_scored_window w = {"bed-7", T0 + 5 * HOP, T0 + 5 * HOP + LEN, prob, cos, 0};
    mets_err err;
    CHECK(mets_alerter_push(a, &w, ev, CAP, &err) == METS_EINVAL && strstr(err.msg, "AFIB"), "%s", err.msg);
    prob[0] = 0.5f;
    CHECK(mets_alerter_push(a, &w, ev, CAP, &err) == METS_EINVAL && strstr(err.msg, "after"), "%s", err.msg);
    w.start_us += HOP, w.end_us += HOP;
    CHECK(mets_alerter_push(a, &w, ev, CAP - 1, &err) == METS_EINVAL, "a buffer that may fill");
    w.prob = NULL;
    CHECK(mets_alerter_push(a, &w, ev, CAP, &err) == METS_EINVAL, "a good window without scores");
    mets_alerter_free(a);
    pol.raise_n = METS_ALERT_MAX_N + 1;
    mets_alert_label bad = {"rhythm", "AFIB", &pol};
    mets_alert_params p = mets_alert_default_params();
    CHECK(!mets_alerter_new(&p, &bad, 1, &err) && strstr(err.msg, "raise_n"), "%s", err.msg);
    pol = base_policy();
    bad.group = "technical";
    CHECK(!mets_alerter_new(&p, &bad, 1, &err) && strstr(err.msg, "reserved"), "%s", err.msg);
}

/* Signal loss: raised once (high priority, onset the last sample), raised clinical alerts sent stale,
 * windows meanwhile held, cleared by the return with the raise's id, counted, and kept in the state bytes. */
static void signal_lost_and_back(void)
{
    mets_alert_policy pol = base_policy();
    mets_alerter *a = make(&pol), *b = make(&pol);
    mets_alert_event ev[CAP];
    mets_err err;
    raise_afib(a, 0.9f);
    int lost = NLAB + METS_ALERT_TECH_SIGNAL_LOST, at = 3;
    int64_t gone = T0 + 3 * HOP + LEN;
    CHECK(mets_alerter_signal(a, "bed-7", true, gone, ev, CAP, &err) == 2, "%s", err.msg);
    CHECK(ev[0].technical && !strcmp(ev[0].label, "signal_lost") && ev[0].state == METS_ALERT_RAISED &&
          ev[0].priority == METS_PRIORITY_HIGH && ev[0].onset_us == gone && ev[0].window_end_us == gone && !ev[0].stale);
    char id[33];
    memcpy(id, ev[0].id, sizeof id);
    CHECK(!strcmp(ev[1].label, "AFIB") && ev[1].state == METS_ALERT_UPDATED && ev[1].stale && !ev[1].technical &&
          ev[1].probability == 0.9f && ev[1].window_end_us == gone);
    CHECK(mets_alerter_signal(a, "bed-7", true, gone + 1, ev, CAP, &err) == 0, "lost once");
    CHECK(mets_alerter_raised(a, lost, NULL, NULL, NULL) == 1 && mets_alerter_raised(a, AFIB, NULL, NULL, NULL) == 1);
    CHECK(push(a, at, 0.1f, ev) == 0, "a window while lost is held: AFIB not cleared");
    size_t cap = mets_alert_state_max_size(a), len;
    uint8_t *buf = malloc(cap);
    CHECK(mets_alert_state_encode(a, "bed-7", buf, cap, &len, &err) == 0 && mets_alert_state_decode(b, buf, len, &err) == 0,
          "%s", err.msg);
    CHECK(mets_alerter_raised(b, lost, NULL, NULL, NULL) == 1, "restored lost");
    CHECK(mets_alerter_signal(b, "bed-7", true, gone, ev, CAP, &err) == 0, "a restored loss is not raised again");
    int64_t back = gone + 30000000;
    CHECK(mets_alerter_signal(b, "bed-7", false, back, ev, CAP, &err) == 2, "%s", err.msg);
    CHECK(ev[0].state == METS_ALERT_CLEARED && !strcmp(ev[0].id, id) && ev[0].window_end_us == back &&
          ev[0].onset_us == gone);
    CHECK(!strcmp(ev[1].label, "AFIB") && ev[1].state == METS_ALERT_UPDATED && !ev[1].stale);
    CHECK(mets_alerter_signal(b, "bed-7", false, back, ev, CAP, &err) == 0, "back once");
    CHECK(mets_alerter_raised(b, lost, NULL, NULL, NULL) == 0 && mets_alerter_raised(b, AFIB, NULL, NULL, NULL) == 1);
    CHECK(mets_alerter_signal(b, "bed-9", false, back, ev, CAP, &err) == 0, "an unknown stream is not back");
    CHECK(mets_alerter_signal(b, "bed-9", true, back, ev, CAP, &err) == 1 && ev[0].state == METS_ALERT_RAISED,
          "a stream silent before its first window is lost too");
    mets_alerter_drop(b, "bed-9");
    CHECK(mets_alerter_raised(b, lost, NULL, NULL, NULL) == 0, "dropping uncounts");
    float prob[NLAB] = {0};
    mets_scored_window w = {"bed-7", T0 + 40 * HOP, T0 + 40 * HOP + LEN, prob, prob,
                            METS_ALERT_TECH_BIT(METS_ALERT_TECH_SIGNAL_LOST)};
    CHECK(mets_alerter_push(b, &w, ev, CAP, &err) == METS_EINVAL, "no window carries signal loss");
    free(buf);
    mets_alerter_free(a);
    mets_alerter_free(b);
}

int main(void)
{
    RUN(raises_with_k_of_n);
    RUN(not_raised_with_k_minus_1);
    RUN(disabled_labels_never_alert);
    RUN(updates_on_probability_change);
    RUN(realerts_every_interval);
    RUN(clears_after_m_not_m_minus_1);
    RUN(min_duration_holds_the_clear);
    RUN(technical_raise_and_clear);
    RUN(technical_blocks_clinical_raise);
    RUN(technical_holds_raised_clinical);
    RUN(ids_deterministic_and_distinct);
    RUN(competing_labels_of_the_group);
    RUN(state_round_trip);
    RUN(state_bad_bytes_refused);
    RUN(streams_dropped_and_bounded);
    RUN(bad_input_refused);
    RUN(signal_lost_and_back);
    return mets_test_summary();
}
