// Shaping functions of Meta-World's v2 rewards (after dm_control's
// rewards.tolerance), the Hamacher t-norm and scipy's matrix-to-quaternion.
#include "envs/reward.h"

#include <math.h>

#include "common/error.h"

#define ENV_PI 3.14159265358979323846

// Sigmoid of d >= 0 (distance outside the bounds in margins), scaled so that
// d = 1 maps to v.
static double sigmoid_value(double d, EnvSigmoid sigmoid, double v) {
    double s, x;
    switch (sigmoid) {
    case ENV_SIGMOID_GAUSSIAN:
        s = sqrt(-2.0 * log(v));
        return exp(-0.5 * (d * s) * (d * s));
    case ENV_SIGMOID_LONG_TAIL:
        s = sqrt(1.0 / v - 1.0);
        return 1.0 / ((d * s) * (d * s) + 1.0);
    case ENV_SIGMOID_RECIPROCAL:
        s = 1.0 / v - 1.0;
        return 1.0 / (fabs(d) * s + 1.0);
    case ENV_SIGMOID_HYPERBOLIC:
        s = acosh(1.0 / v);
        return 1.0 / cosh(d * s);
    case ENV_SIGMOID_COSINE:
        x = d * acos(2.0 * v - 1.0) / ENV_PI;
        return fabs(x) < 1.0 ? (1.0 + cos(ENV_PI * x)) / 2.0 : 0.0;
    case ENV_SIGMOID_LINEAR:
        x = d * (1.0 - v);
        return fabs(x) < 1.0 ? 1.0 - x : 0.0;
    case ENV_SIGMOID_QUADRATIC:
        x = d * sqrt(1.0 - v);
        return fabs(x) < 1.0 ? 1.0 - x * x : 0.0;
    case ENV_SIGMOID_TANH_SQUARED:
        s = atanh(sqrt(1.0 - v));
        return 1.0 - tanh(d * s) * tanh(d * s);
    default:
        ASSERT(0, "unknown sigmoid %d", (int)sigmoid);
    }
}

double env_tolerance_at(double x, double lo, double hi, double margin, EnvSigmoid sigmoid,
                        double value_at_margin) {
    ASSERT(lo <= hi, "bounds in the wrong order: lo %g > hi %g", lo, hi);
    ASSERT(margin >= 0.0, "negative margin %g", margin);
    ASSERT(value_at_margin > 0.0 && value_at_margin < 1.0,
           "value_at_margin %g outside (0, 1)", value_at_margin);
    if (x >= lo && x <= hi) {
        return 1.0;
    }
    if (margin == 0.0) {
        return 0.0;
    }
    double d = (x < lo ? lo - x : x - hi) / margin;
    return sigmoid_value(d, sigmoid, value_at_margin);
}

double env_tolerance(double x, double lo, double hi, double margin, EnvSigmoid sigmoid) {
    return env_tolerance_at(x, lo, hi, margin, sigmoid, ENV_VALUE_AT_MARGIN);
}

double env_hamacher(double a, double b) {
    ASSERT(a >= 0.0 && a <= 1.0, "Hamacher input a = %.17g outside [0, 1]", a);
    ASSERT(b >= 0.0 && b <= 1.0, "Hamacher input b = %.17g outside [0, 1]", b);
    double den = a + b - a * b;
    return den > 0.0 ? a * b / den : 0.0;
}

// True when a lies between b and c, in either order, bounds included.
static int in_range(double a, double b, double c) {
    return c >= b ? (b <= a && a <= c) : (c <= a && a <= b);
}

double env_rect_prism_tolerance(const double curr[3], const double zero[3],
                                const double one[3]) {
    for (int i = 0; i < 3; i++) {
        if (!in_range(curr[i], zero[i], one[i])) {
            return 1.0;
        }
    }
    double product = 1.0;
    for (int i = 0; i < 3; i++) {
        product *= (curr[i] - zero[i]) / (one[i] - zero[i]);
    }
    return product;
}

void env_quat_xyzw_from_mat(const double mat[9], double quat[4]) {
    // pick the largest of the diagonal entries and the trace (first on ties)
    double diag[4] = {mat[0], mat[4], mat[8], mat[0] + mat[4] + mat[8]};
    int k = 0;
    for (int i = 1; i < 4; i++) {
        if (diag[i] > diag[k]) {
            k = i;
        }
    }
    double tr = diag[3];
#define M(r, c) mat[3 * (r) + (c)]
    if (k == 3) {
        quat[0] = M(2, 1) - M(1, 2);
        quat[1] = M(0, 2) - M(2, 0);
        quat[2] = M(1, 0) - M(0, 1);
        quat[3] = 1.0 + tr;
    } else {
        int i = k, j = (i + 1) % 3, l = (j + 1) % 3;
        quat[i] = 1.0 - tr + 2.0 * M(i, i);
        quat[j] = M(j, i) + M(i, j);
        quat[l] = M(l, i) + M(i, l);
        quat[3] = M(l, j) - M(j, l);
    }
#undef M
    double norm = sqrt(quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] +
                       quat[3] * quat[3]);
    for (int i = 0; i < 4; i++) {
        quat[i] /= norm;
    }
}
