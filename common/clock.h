/* The clocks, one of each. Monotonic time for intervals and deadlines (librdkafka's statistics `ts` is
 * the same clock, in µs); the calling thread's CPU time for profiles; wall time for Kafka timestamps. */
#ifndef METS_COMMON_CLOCK_H
#define METS_COMMON_CLOCK_H

#include <stdint.h>

double mets_monotonic_s(void); /* CLOCK_MONOTONIC, seconds */
int64_t mets_monotonic_ms(void);
double mets_thread_cpu_s(void); /* CLOCK_THREAD_CPUTIME_ID, seconds */
int64_t mets_wall_ms(void);     /* milliseconds since 1970 (UTC) */

#endif
