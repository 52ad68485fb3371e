#include "bench_common.h"

#include <cblas.h>
#include <stdlib.h>
#include <sys/resource.h>

double mets_bench_sgemm_gflops(int n, double (*clock)(void))
{
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    for (size_t i = 0; i < nn; i++)
        a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double best = 0.0;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = clock();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = clock() - t0, gf = 2.0 * n * (double)nn / dt * 1e-9;
        best = gf > best ? gf : best;
    }
    free(a), free(b), free(c);
    return best;
}

double mets_bench_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}
