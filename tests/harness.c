#include "harness.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mets_test_failures;
static int passed, failed;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

void mets_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    mets_test_failures++;
}

void mets_test_run(const char *name, void (*fn)(void))
{
    int before = mets_test_failures;
    fn();
    if (mets_test_failures == before) {
        passed++;
        printf("ok   %s\n", name);
    } else {
        failed++;
        printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

int mets_test_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

const char *mets_test_model_arg(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MINILM.mets   (the language model converted by scripts/setup.sh)\n", argv[0]);
        exit(2);
    }
    return argv[1];
}

static char tmpdir[] = "/tmp/mets-test.XXXXXX";
static int have_tmpdir;

const char *mets_test_tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    if (!have_tmpdir && !(have_tmpdir = mkdtemp(tmpdir) != NULL)) {
        perror("mkdtemp");
        exit(1);
    }
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

void mets_test_remove_tmpdir(void)
{
    if (!have_tmpdir)
        return;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(mets_test_tmp_path(e->d_name));
    if (d)
        closedir(d);
    CHECK(rmdir(tmpdir) == 0, "cannot remove %s", tmpdir);
    have_tmpdir = 0;
}

static uint64_t next_u64(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float mets_test_uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((next_u64() >> 40) * (1.0 / 16777216.0));
}

int mets_test_randint(int lo, int hi)
{
    return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1));
}
