/* Shared helpers of the benchmarks: a monotonic clock, this machine's single-thread sgemm peak
 * (measured in the same run as what it is compared with, because these machines are noisy), and the
 * process's peak resident memory. */
#ifndef METS_BENCH_COMMON_H
#define METS_BENCH_COMMON_H

double mets_bench_now(void);
/* Best-of-several GFLOPS of a square single-threaded cblas_sgemm of size n. */
double mets_bench_sgemm_gflops(int n);
double mets_bench_peak_rss_mib(void);

#endif
