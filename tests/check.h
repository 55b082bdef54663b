// Minimal test harness: counted checks with file:line, non-zero exit on failure.
//
// Each test program defines test functions, runs them with RUN_TEST and ends
// main with `return check_summary();`. A failed check prints the expression,
// the expected and actual values, and the test keeps going so one run shows
// every failure.
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;
static const char *check_current = "";

#define CHECK(cond)                                                             \
    do {                                                                        \
        check_count++;                                                          \
        if (!(cond)) {                                                          \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: [%s] check failed: %s\n", __FILE__, __LINE__,  \
                    check_current, #cond);                                      \
        }                                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                    \
    do {                                                                        \
        check_count++;                                                          \
        if (!(cond)) {                                                          \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: [%s] check failed: %s: ", __FILE__, __LINE__,   \
                    check_current, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

#define CHECK_EQ_INT(expected, actual)                                          \
    do {                                                                        \
        long long e_ = (long long)(expected), a_ = (long long)(actual);         \
        check_count++;                                                          \
        if (e_ != a_) {                                                         \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: [%s] %s: expected %lld, got %lld\n",        \
                    __FILE__, __LINE__, check_current, #actual, e_, a_);        \
        }                                                                       \
    } while (0)

// |expected - actual| <= tol, and both finite.
#define CHECK_NEAR(expected, actual, tol)                                       \
    do {                                                                        \
        double e_ = (double)(expected), a_ = (double)(actual);                  \
        check_count++;                                                          \
        if (!(isfinite(a_) && fabs(e_ - a_) <= (double)(tol))) {                \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: [%s] %s: expected %.9g, got %.9g (tol %g)\n", \
                    __FILE__, __LINE__, check_current, #actual, e_, a_,         \
                    (double)(tol));                                             \
        }                                                                       \
    } while (0)

#define CHECK_STR_CONTAINS(haystack, needle)                                    \
    do {                                                                        \
        const char *h_ = (haystack), *n_ = (needle);                            \
        check_count++;                                                          \
        if (!h_ || !strstr(h_, n_)) {                                           \
            check_failures++;                                                   \
            fprintf(stderr, "%s:%d: [%s] expected \"%s\" in \"%s\"\n",          \
                    __FILE__, __LINE__, check_current, n_, h_ ? h_ : "(null)"); \
        }                                                                       \
    } while (0)

#define RUN_TEST(fn)                                                            \
    do {                                                                        \
        check_current = #fn;                                                    \
        int before_ = check_failures;                                           \
        fn();                                                                   \
        fprintf(stderr, "%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

// Relative error |a - b| / max(|a| + |b|, tiny), for gradient checks.
static inline double check_rel_err(double a, double b) {
    double den = fabs(a) + fabs(b);
    return fabs(a - b) / (den > 1e-12 ? den : 1e-12);
}

// Private temporary directory for a test (mkdtemp), so tests can run in
// parallel. The caller removes it with check_rmtree.
static inline void check_tmpdir(char *out, size_t out_sz, const char *tag) {
    const char *base = getenv("TMPDIR");
    snprintf(out, out_sz, "%s/conal-%s-XXXXXX", base && base[0] ? base : "/tmp", tag);
    char *mkdtemp(char *);
    if (!mkdtemp(out)) {
        fprintf(stderr, "cannot create temporary directory %s\n", out);
        exit(2);
    }
}

// Removes a directory tree created by check_tmpdir.
static inline void check_rmtree(const char *dir) {
    char cmd[1200];
    if (strncmp(dir, "/tmp/conal-", 11) != 0 && !strstr(dir, "/conal-")) {
        return;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "warning: could not remove %s\n", dir);
    }
}

static inline int check_summary(void) {
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
