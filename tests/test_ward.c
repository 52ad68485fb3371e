/* The central station's model (station/ward.h): alert events make and end a bed's current alerts (most
 * urgent first) and fill its history (newest first, bounded); frames fill its ECG strip (lead II chosen,
 * gaps as nulls, the strip bounded, a late frame ignored); an alert's figure comes from the ECG still held
 * and is refused, with why, when it is not. The web pages on top are test_station's (integration_tests, in
 * Chromium). */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ward.h"

#define T0 1767225600000000LL /* 2026-01-01T00:00:00Z */

static Mets__V1__Alert alert(const char *bed, const char *id, const char *label, int state, int priority, int64_t t)
{
    Mets__V1__Alert a = METS__V1__ALERT__INIT;
    a.stream_id = (char *)bed, a.alert_id = (char *)id, a.label_group = "rhythm", a.label = (char *)label;
    a.state = state, a.priority = (uint32_t)priority, a.probability = 0.9f;
    a.onset_us = T0, a.window_end_us = t;
    return a;
}

static json_t *tiles(mets_ward *w)
{
    char *s = mets_ward_json(w);
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    return j;
}

static json_t *bed_tile(json_t *j, const char *bed)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(j, "beds"), i, b)
    {
        if (!strcmp(json_string_value(json_object_get(b, "bed")), bed))
            return b;
    }
    return NULL;
}

static void alerts_come_and_go(void)
{
    mets_err err;
    const char *yaml = "version: 1\ngroups:\n  rhythm:\n    AFIB: {prompts: [atrial fibrillation]}\n"
                       "    VF: {prompts: [ventricular fibrillation]}\n";
    mets_labels *labels = mets_labels_parse(yaml, strlen(yaml), "labels.yaml", &err);
    CHECK(labels, "%s", err.msg);
    mets_ward *w = mets_ward_new(&(mets_ward_params){.strip_s = 6, .keep_s = 60, .history = 3, .max_beds = 2,
                                                     .labels = labels}, &err);
    uint64_t v0 = mets_ward_version(w);
    Mets__V1__Alert a = alert("bed-2", "af1", "AFIB", METS__V1__ALERT_STATE__ALERT_STATE_RAISED, 2, T0 + 10000000);
    mets_ward_alert(w, &a);
    CHECK(mets_ward_wait(w, v0, 10) > v0);
    a = alert("bed-2", "vf1", "VF", METS__V1__ALERT_STATE__ALERT_STATE_RAISED, 1, T0 + 12000000);
    mets_ward_alert(w, &a);
    a = alert("bed-1", "x1", "lead_off", METS__V1__ALERT_STATE__ALERT_STATE_RAISED, 3, T0 + 12000000);
    a.technical = true, a.label_group = "technical";
    mets_ward_alert(w, &a);
    a = alert("bed-3", "y", "AFIB", METS__V1__ALERT_STATE__ALERT_STATE_RAISED, 2, T0); /* a third bed: over */
    mets_ward_alert(w, &a);
    json_t *j = tiles(w);
    CHECK(json_array_size(json_object_get(j, "beds")) == 2, "beds beyond max_beds are not shown");
    json_t *b2 = bed_tile(j, "bed-2"), *b1 = bed_tile(j, "bed-1");
    json_t *al = json_object_get(b2, "alerts");
    CHECK(json_array_size(al) == 2 && !strcmp(json_string_value(json_object_get(json_array_get(al, 0), "label")), "VF"),
          "the most urgent first");
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(al, 0), "text")), "ventricular fibrillation"));
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(b1, "alerts"), 0), "text")),
                  "lead off"), "a label without prompts: its name with spaces");
    json_decref(j);
    /* updated (stale), then cleared */
    a = alert("bed-2", "af1", "AFIB", METS__V1__ALERT_STATE__ALERT_STATE_UPDATED, 2, T0 + 20000000);
    a.stale = true;
    mets_ward_alert(w, &a);
    j = tiles(w);
    al = json_object_get(bed_tile(j, "bed-2"), "alerts");
    CHECK(json_array_size(al) == 2 && json_is_true(json_object_get(json_array_get(al, 1), "stale")));
    json_decref(j);
    a = alert("bed-2", "af1", "AFIB", METS__V1__ALERT_STATE__ALERT_STATE_CLEARED, 2, T0 + 30000000);
    mets_ward_alert(w, &a);
    j = tiles(w);
    al = json_object_get(bed_tile(j, "bed-2"), "alerts");
    CHECK(json_array_size(al) == 1 &&
          !strcmp(json_string_value(json_object_get(json_array_get(al, 0), "label")), "VF"));
    json_decref(j);
    /* the history: newest first, the last 3 */
    char *s = mets_ward_bed_json(w, "bed-2");
    j = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    json_t *ev = json_object_get(j, "events");
    CHECK(json_array_size(ev) == 3);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(ev, 0), "state")), "cleared") &&
          !strcmp(json_string_value(json_object_get(json_array_get(ev, 2), "label")), "VF"));
    json_decref(j);
    CHECK(!mets_ward_bed_json(w, "nobody"));
    mets_ward_free(w);
    mets_labels_free(labels);
}

/* A frame of `seconds` at 200 Hz from t0 with leads I and II: lead II holds `value`. */
static void frame(mets_ward *w, const char *bed, int64_t t0, double seconds, float value)
{
    int n = (int)(seconds * 200);
    float *mv = malloc(sizeof(float) * 2 * (size_t)n);
    for (int i = 0; i < n; i++)
        mv[i] = 9, mv[n + i] = value;
    mets_frame f = {.t0_us = t0, .rate_hz = 200, .nleads = 2, .nsamples = n, .leads = {METS_LEAD_I, METS_LEAD_II},
                    .mv = mv};
    snprintf(f.stream_id, sizeof f.stream_id, "%s", bed);
    mets_ward_frame(w, &f);
    free(mv);
}

static void strips_and_figures(void)
{
    mets_err err;
    mets_ward *w = mets_ward_new(&(mets_ward_params){.strip_s = 4, .keep_s = 20, .history = 10, .max_beds = 4}, &err);
    for (int k = 0; k < 12; k++) /* 0 .. 3 s */
        frame(w, "bed-1", T0 + k * 250000, 0.25, 1.0f);
    frame(w, "bed-1", T0 + 4000000, 0.25, -1.0f); /* a 1 s gap before it */
    frame(w, "bed-1", T0 + 1000000, 0.25, 5.0f);  /* late: ignored */
    json_t *j = tiles(w);
    json_t *strip = json_object_get(bed_tile(j, "bed-1"), "strip");
    json_t *mv = json_object_get(strip, "mv");
    size_t n = json_array_size(mv);
    /* buckets of 2 samples: 100 Hz, for 4 s */
    CHECK(json_real_value(json_object_get(strip, "hz")) == 100 && n == 400, "got %zu", n);
    CHECK(json_integer_value(json_object_get(strip, "end_ms")) == (T0 + 4250000) / 1000, "%lld",
          (long long)json_integer_value(json_object_get(strip, "end_ms")));
    CHECK(json_real_value(json_array_get(mv, n - 1)) == -1, "the newest samples are lead II's");
    CHECK(json_is_null(json_array_get(mv, n - 40)), "the gap holds no samples");
    CHECK(json_real_value(json_array_get(mv, n - 200)) == 1);
    for (size_t i = 0; i < n; i++)
        CHECK(!json_is_real(json_array_get(mv, i)) || json_real_value(json_array_get(mv, i)) != 5, "the late frame");
    json_decref(j);

    Mets__V1__Alert a = alert("bed-1", "af", "AFIB", METS__V1__ALERT_STATE__ALERT_STATE_RAISED, 2, T0 + 2000000);
    mets_ward_alert(w, &a);
    a.state = METS__V1__ALERT_STATE__ALERT_STATE_CLEARED, a.window_end_us = T0 + 3000000;
    mets_ward_alert(w, &a);
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    CHECK(mets_ward_plot_svg(w, "af", f, &err) == 0, "%s", err.msg);
    fclose(f);
    CHECK(svg && strstr(svg, "<svg") && strstr(svg, "class=\"lead\"") && strstr(svg, "mark raised") &&
          strstr(svg, "mark cleared") && strstr(svg, "data-label=\"II\""), "%.300s", svg);
    free(svg);
    f = fopen("/dev/null", "w");
    CHECK(mets_ward_plot_svg(w, "nope", f, &err) == METS_ENOTFOUND && strstr(err.msg, "not in any bed's history"));
    /* 30 s later the alert's ECG has left the 20 s kept */
    for (int k = 0; k < 120; k++)
        frame(w, "bed-1", T0 + 4250000 + k * 250000, 0.25, 0.5f);
    CHECK(mets_ward_plot_svg(w, "af", f, &err) == METS_ENOTFOUND && strstr(err.msg, "no longer held"), "%s", err.msg);
    fclose(f);
    mets_ward_free(w);
}

int main(void)
{
    RUN(alerts_come_and_go);
    RUN(strips_and_figures);
    return mets_test_summary();
}
