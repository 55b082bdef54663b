// Helpers shared by the nn/ tests: seeded fills, gradient-check scoring and a
// fatal handler that turns a failed ASSERT into a recoverable jump, so tests
// can check that invalid calls are rejected.
#ifndef TESTS_NN_NN_CHECK_H
#define TESTS_NN_NN_CHECK_H

#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"

// Fills x with uniform values in [lo, hi).
static inline void fill_uniform(float *x, size_t n, RngState *rng, double lo, double hi) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)rng_range(rng, lo, hi);
    }
}

// Relative error |a - b| / max(|a| + |b|, floor). The floor turns the score
// into an absolute error for gradients near zero, where float rounding
// dominates any relative measure.
static inline double grad_rel_err(double a, double b, double floor) {
    double den = fabs(a) + fabs(b);
    return fabs(a - b) / (den > floor ? den : floor);
}

static jmp_buf fatal_jump;
static char fatal_message[1024];

// Fatal handler for expect_fatal: stores the message and jumps back.
static inline void fatal_to_jump(const char *message) {
    snprintf(fatal_message, sizeof fatal_message, "%s", message);
    longjmp(fatal_jump, 1);
}

// Runs fn(ctx) and returns 1 when it triggered a fatal ASSERT, whose message
// is then in fatal_message. Memory the aborted call held may leak, so callers
// pass only calls that fail before allocating.
static inline int expect_fatal(void (*fn)(void *), void *ctx) {
    volatile int fired = 0;
    fatal_message[0] = '\0';
    ErrFatalHandler old = err_set_fatal_handler(fatal_to_jump);
    if (setjmp(fatal_jump) == 0) {
        fn(ctx);
    } else {
        fired = 1;
    }
    err_set_fatal_handler(old);
    return fired;
}

#endif
