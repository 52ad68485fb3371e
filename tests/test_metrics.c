/* Evaluation metrics (eval/metrics.c) against values computed by scikit-learn 1.9 (roc_auc_score,
 * f1_score) and by hand for episodes. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "metrics.h"
#include "probe.h"

static void auc_matches_scikit_learn_with_ties(void)
{
    /* roc_auc_score([0,0,1,1,0,0,1,1,0,1], s) = 0.6 */
    float s[10] = {0.1f, 0.4f, 0.35f, 0.8f, 0.8f, 0.2f, 0.9f, 0.5f, 0.5f, 0.05f};
    uint8_t y[10] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 1};
    CHECK_NEAR(mets_auc(s, y, 10), 0.6, 1e-12);
}

static void auc_of_perfect_reversed_and_constant_scores(void)
{
    float s[4] = {1, 2, 3, 4}, c[4] = {5, 5, 5, 5};
    uint8_t y[4] = {0, 0, 1, 1}, r[4] = {1, 1, 0, 0}, none[4] = {0};
    CHECK_NEAR(mets_auc(s, y, 4), 1.0, 1e-12);
    CHECK_NEAR(mets_auc(s, r, 4), 0.0, 1e-12);
    CHECK_NEAR(mets_auc(c, y, 4), 0.5, 1e-12);
    CHECK(isnan(mets_auc(s, none, 4)));
}

static void auc_equals_pairwise_definition_on_random_data(void)
{
    enum { N = 300 };
    float s[N];
    uint8_t y[N];
    for (int i = 0; i < N; i++)
        s[i] = (float)mets_test_randint(0, 20), y[i] = (uint8_t)(mets_test_uniform(0, 1) < 0.3f + 0.02f * s[i]);
    double wins = 0, pairs = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (y[i] && !y[j])
                wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0, pairs++;
    CHECK_NEAR(mets_auc(s, y, N), wins / pairs, 1e-12);
}

static void f1_matches_scikit_learn(void)
{
    uint8_t p[10] = {0, 0, 0, 1, 1, 0, 1, 1, 1, 0}, y[10] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 1};
    CHECK_NEAR(mets_f1(p, y, 10), 0.6, 1e-12);
    uint8_t z[3] = {0};
    CHECK(mets_f1(z, z, 3) == 0.0);
}

static void episodes_count_overlaps_and_durations(void)
{
    mets_episode ref[3] = {{10, 20}, {30, 40}, {100, 160}}, det[3] = {{15, 35}, {50, 60}, {150, 170}};
    mets_episode_stats s = mets_episode_compare(ref, 3, det, 3);
    CHECK(s.ref_hit == 3 && s.det_hit == 2);
    CHECK_NEAR(s.se, 1.0, 1e-12);
    CHECK_NEAR(s.ppv, 2.0 / 3, 1e-12);
    /* overlaps: 15-20, 30-35, 150-160 = 20 s of 80 reference and 50 detected seconds */
    CHECK_NEAR(s.dur_se, 20.0 / 80, 1e-12);
    CHECK_NEAR(s.dur_ppv, 20.0 / 50, 1e-12);
    mets_episode_stats none = mets_episode_compare(ref, 3, NULL, 0);
    CHECK(none.se == 0.0 && isnan(none.ppv));
    mets_episode_stats_add(&s, &none);
    CHECK_NEAR(s.se, 3.0 / 6, 1e-12);
    CHECK_NEAR(s.dur_se, 20.0 / 160, 1e-12);
}

/* Two classes that depend on different coordinates: the probe must rank both almost perfectly. */
static void linear_probe_separates_linear_classes(void)
{
    enum { N = 400, D = 6, C = 2 };
    float x[N * D], w[C * (D + 1)], s[N * C], col[N];
    uint8_t y[N * C], yk[N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++)
            x[i * D + j] = mets_test_uniform(-1, 1);
        y[i * C] = x[i * D] + 0.5f * x[i * D + 1] > 0.1f;
        y[i * C + 1] = x[i * D + 4] < -0.3f;
    }
    mets_probe_fit(x, y, N, D, C, 1e-4f, 300, w);
    mets_probe_predict(w, x, N, D, C, s);
    for (int k = 0; k < C; k++) {
        for (int i = 0; i < N; i++)
            col[i] = s[i * C + k], yk[i] = y[i * C + k];
        double auc = mets_auc(col, yk, N);
        CHECK(auc > 0.99, "class %d: AUC %.4f", k, auc);
    }
}

int main(void)
{
    RUN(auc_matches_scikit_learn_with_ties);
    RUN(auc_of_perfect_reversed_and_constant_scores);
    RUN(auc_equals_pairwise_definition_on_random_data);
    RUN(f1_matches_scikit_learn);
    RUN(episodes_count_overlaps_and_durations);
    RUN(linear_probe_separates_linear_classes);
    return mets_test_summary();
}
