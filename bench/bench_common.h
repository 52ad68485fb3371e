/* Shared helpers of the benchmarks: this machine's single-thread sgemm peak (measured in the same run as
 * what it is compared with, because these machines are noisy) and the process's peak resident memory.
 * Clocks: common/clock.h (mets_monotonic_s; mets_thread_cpu_s, the CPU seconds of the calling thread: what
 * it ran, whatever other jobs on the machine did meanwhile). */
#ifndef METS_BENCH_COMMON_H
#define METS_BENCH_COMMON_H

/* Best-of-several GFLOPS of a square single-threaded cblas_sgemm of size n, timed by `clock`
 * (mets_monotonic_s or mets_thread_cpu_s). */
double mets_bench_sgemm_gflops(int n, double (*clock)(void));
double mets_bench_peak_rss_mib(void);

#endif
