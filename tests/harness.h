/* A tiny test harness: CHECK records a failure with file:line and goes on; a test file's main runs its
 * scenarios with RUN and returns mets_test_summary(), which prints "N passed, N failed". */
#ifndef METS_TEST_HARNESS_H
#define METS_TEST_HARNESS_H

#include <stdio.h>

extern int mets_test_failures;

void mets_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void mets_test_run(const char *name, void (*fn)(void));
int mets_test_summary(void);
/* The one argument of tests that need the converted language model; exits with usage otherwise. */
const char *mets_test_model_arg(int argc, char **argv);
/* A path under this test's scratch folder (made on first use; up to 4 paths valid at once), and the
 * removal of that folder and everything in it, which a test's main calls at the end. */
const char *mets_test_tmp_path(const char *name);
void mets_test_remove_tmpdir(void);
/* Uniform in [lo, hi) from a fixed-seed generator, so failures reproduce. */
float mets_test_uniform(float lo, float hi);
int mets_test_randint(int lo, int hi); /* inclusive */

#define CHECK(cond, ...)                                                                                      \
    do {                                                                                                      \
        if (!(cond))                                                                                          \
            mets_test_fail(__FILE__, __LINE__, "CHECK(" #cond ") " __VA_ARGS__);                           \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                                 \
    do {                                                                                                      \
        double a_ = (a), b_ = (b);                                                                            \
        if (!(fabs(a_ - b_) <= (tol)))                                                                        \
            mets_test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, differ by more than %g", #a, a_, #b,   \
                           b_, (double)(tol));                                                                \
    } while (0)
#define RUN(fn) mets_test_run(#fn, fn)

#endif
