/* Shared helpers of the benchmarks: a monotonic clock, this machine's single-thread sgemm peak
 * (measured in the same run as what it is compared with, because these machines are noisy), and the
 * process's peak resident memory. */
#ifndef METS_BENCH_COMMON_H
#define METS_BENCH_COMMON_H

double mets_bench_now(void);
/* CPU seconds of the calling thread: what it ran, whatever other jobs on the machine did meanwhile. */
double mets_bench_cpu_now(void);
/* Best-of-several GFLOPS of a square single-threaded cblas_sgemm of size n, timed by `clock`
 * (mets_bench_now or mets_bench_cpu_now). */
double mets_bench_sgemm_gflops(int n, double (*clock)(void));
double mets_bench_peak_rss_mib(void);

#endif
