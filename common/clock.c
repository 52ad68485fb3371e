#include "clock.h"

#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t millis(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double mets_monotonic_s(void)
{
    return seconds(CLOCK_MONOTONIC);
}

int64_t mets_monotonic_ms(void)
{
    return millis(CLOCK_MONOTONIC);
}

double mets_thread_cpu_s(void)
{
    return seconds(CLOCK_THREAD_CPUTIME_ID);
}

int64_t mets_wall_ms(void)
{
    return millis(CLOCK_REALTIME);
}
