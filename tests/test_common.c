/* The helpers of common/ that have no test of their own elsewhere: METS_ASSERT (aborts with its context,
 * also in a release build), the clocks, and FNV-1a against the published test vectors. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "harness.h"
#include "hash.h"

static void assert_aborts_with_its_context(void)
{
    int fd[2];
    CHECK(pipe(fd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], STDERR_FILENO);
        int i = 7, n = 3;
        METS_ASSERT(i < n, "child %d of %d", i, n);
        _exit(0); /* not reached when it works */
    }
    close(fd[1]);
    char out[512] = {0};
    size_t got = 0;
    for (ssize_t r; got < sizeof out - 1 && (r = read(fd[0], out + got, sizeof out - 1 - got)) > 0;)
        got += (size_t)r;
    close(fd[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
    CHECK(strstr(out, "test_common.c:") && strstr(out, "METS_ASSERT(i < n) failed: child 7 of 3"), "%s", out);
    METS_ASSERT(1 + 1 == 2, "a condition that holds does nothing");
}

static void clocks(void)
{
    double s0 = mets_monotonic_s();
    int64_t ms0 = mets_monotonic_ms(), wall = mets_wall_ms();
    CHECK(llabs(wall / 1000 - (int64_t)time(NULL)) <= 1, "wall %lld ms", (long long)wall);
    CHECK(ms0 / 1000 - (int64_t)s0 <= 1 && (int64_t)s0 - ms0 / 1000 <= 1, "the same clock in s and ms");
    double cpu0 = mets_thread_cpu_s();
    volatile double x = 0;
    for (int i = 0; i < 3000000; i++)
        x += i * 1e-9;
    CHECK(mets_thread_cpu_s() > cpu0 && x > 0, "the thread ran");
    CHECK(mets_monotonic_s() >= s0 && mets_monotonic_ms() >= ms0, "monotonic");
}

/* The FNV-1a 64 test vectors of the reference implementation (isthe.com/chongo/tech/comp/fnv). */
static void fnv1a_vectors(void)
{
    CHECK(mets_fnv64_str("") == 0xcbf29ce484222325ull);
    CHECK(mets_fnv64_str("a") == 0xaf63dc4c8601ec8cull);
    CHECK(mets_fnv64_str("foobar") == 0x85944171f73967e8ull);
    uint64_t h = mets_fnv64(METS_FNV64_BASIS, "foo", 3);
    CHECK(mets_fnv64(h, "bar", 3) == 0x85944171f73967e8ull, "hashing in pieces is hashing the whole");
}

int main(void)
{
    RUN(assert_aborts_with_its_context);
    RUN(clocks);
    RUN(fnv1a_vectors);
    return mets_test_summary();
}
