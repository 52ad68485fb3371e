#include "probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mets_probe_predict(const float *w, const float *x, int n, int d, int c, float *s)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *wk = w + (size_t)k * (d + 1);
            double z = wk[d];
            for (int j = 0; j < d; j++)
                z += (double)wk[j] * x[(size_t)i * d + j];
            s[(size_t)i * c + k] = (float)z;
        }
}

void mets_probe_fit(const float *x, const uint8_t *y, int n, int d, int c, float l2, int steps, float *w)
{
    size_t nw = (size_t)c * (d + 1);
    float *g = calloc(nw, sizeof *g), *m = calloc(nw, sizeof *m), *v = calloc(nw, sizeof *v);
    float *s = malloc((size_t)n * c * sizeof *s);
    const float lr = 0.05f, b1 = 0.9f, b2 = 0.999f;
    memset(w, 0, nw * sizeof *w);
    for (int step = 1; step <= steps && g && m && v && s; step++) {
        mets_probe_predict(w, x, n, d, c, s);
        memset(g, 0, nw * sizeof *g);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c; k++) {
                float err = 1.0f / (1.0f + expf(-s[(size_t)i * c + k])) - y[(size_t)i * c + k];
                float *gk = g + (size_t)k * (d + 1);
                for (int j = 0; j < d; j++)
                    gk[j] += err * x[(size_t)i * d + j];
                gk[d] += err;
            }
        float c1 = 1 - powf(b1, (float)step), c2 = 1 - powf(b2, (float)step);
        for (size_t k = 0; k < nw; k++) {
            float gk = g[k] / (float)n + (k % (size_t)(d + 1) == (size_t)d ? 0.0f : l2 * w[k]);
            m[k] = b1 * m[k] + (1 - b1) * gk;
            v[k] = b2 * v[k] + (1 - b2) * gk * gk;
            w[k] -= lr * (m[k] / c1) / (sqrtf(v[k] / c2) + 1e-8f);
        }
    }
    free(g), free(m), free(v), free(s);
}
