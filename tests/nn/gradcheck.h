// Finite-difference gradient check shared by the image-layer tests.
//
// The loss under test is a double-precision function of float inputs. Each
// checked input element is moved by +-h and the central difference
// (f(x + h) - f(x - h)) / 2h is compared with the analytic gradient by
// relative error |a - n| / max(|a| + |n|, 1e-12). Elements whose both
// gradients are below abs_floor are compared by absolute error instead,
// because float rounding dominates tiny differences.
#ifndef TESTS_NN_GRADCHECK_H
#define TESTS_NN_GRADCHECK_H

#include <stddef.h>

#include "tests/check.h"

typedef double (*GradcheckLoss)(void *ctx);

// Checks n elements of x against analytic gradient g; returns the largest
// relative error seen and reports each element over tol.
static inline double gradcheck(const char *what, GradcheckLoss loss, void *ctx, float *x,
                        const float *g, size_t n, float h, double tol, double abs_floor) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double up = loss(ctx);
        x[i] = keep - h;
        double down = loss(ctx);
        x[i] = keep;
        double num = (up - down) / (2.0 * (double)h);
        double ana = (double)g[i];
        double err = (fabs(num) < abs_floor && fabs(ana) < abs_floor)
                         ? fabs(num - ana) / abs_floor
                         : check_rel_err(ana, num);
        if (err > worst) {
            worst = err;
        }
        CHECK_MSG(err <= tol, "%s[%zu]: analytic %.6g numeric %.6g rel err %.3g", what, i,
                  ana, num, err);
    }
    return worst;
}

// Double-precision weighted sum sum_i r_i y_i, the scalar that turns a layer
// output into a loss whose gradient with respect to y is r.
static inline double gradcheck_dot(const float *r, const float *y, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += (double)r[i] * (double)y[i];
    }
    return s;
}

#endif
