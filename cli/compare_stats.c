// Mean, standard deviation, Student's t CDF and Welch's t-test.
#include "cli/compare_stats.h"

#include <math.h>

double compare_mean(const double *x, int n) {
    if (n <= 0) {
        return NAN;
    }
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        s += x[i];
    }
    return s / n;
}

double compare_std(const double *x, int n) {
    if (n < 2) {
        return NAN;
    }
    double m = compare_mean(x, n), s = 0.0;
    for (int i = 0; i < n; i++) {
        s += (x[i] - m) * (x[i] - m);
    }
    return sqrt(s / (n - 1));
}

// Continued fraction of I_x(a, b) (the form that converges for
// x < (a + 1) / (a + b + 2)), evaluated with the modified Lentz method.
static double betainc_fraction(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    d = fabs(d) < tiny ? tiny : d;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= 10000; m++) {
        // even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))
        double num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 + num * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1.0 + num / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        f *= d * c;

        // odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
        num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + num * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1.0 + num / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1.0) < 1e-15) {
            break;
        }
    }
    return f;
}

double compare_betainc(double a, double b, double x) {
    if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0)) {
        return NAN;
    }
    if (x == 0.0 || x == 1.0) {
        return x;
    }

    // prefactor x^a (1-x)^b / (a B(a, b)), through lgamma for range safety
    double log_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double front = exp(log_front);

    // the fraction converges fast on this side; use the symmetry
    // I_x(a, b) = 1 - I_{1-x}(b, a) on the other
    if (x < (a + 1.0) / (a + b + 2.0)) {
        return front * betainc_fraction(a, b, x) / a;
    }
    return 1.0 - front * betainc_fraction(b, a, 1.0 - x) / b;
}

double compare_t_cdf(double t, double df) {
    if (!(df > 0.0) || isnan(t)) {
        return NAN;
    }
    if (isinf(t)) {
        return t > 0 ? 1.0 : 0.0;
    }

    // P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2)
    double tail = compare_betainc(0.5 * df, 0.5, df / (df + t * t));
    return t >= 0.0 ? 1.0 - 0.5 * tail : 0.5 * tail;
}

int compare_welch(const double *a, int n_a, const double *b, int n_b, CompareWelch *out) {
    out->t = out->df = out->p = NAN;
    if (n_a < 2 || n_b < 2) {
        return -1;
    }
    double va = compare_std(a, n_a), vb = compare_std(b, n_b);
    va = va * va / n_a;
    vb = vb * vb / n_b;
    if (va + vb <= 0.0) {
        return -1;
    }
    out->t = (compare_mean(a, n_a) - compare_mean(b, n_b)) / sqrt(va + vb);
    out->df = (va + vb) * (va + vb) /
              (va * va / (n_a - 1) + vb * vb / (n_b - 1));
    out->p = 2.0 * compare_t_cdf(-fabs(out->t), out->df);
    return 0;
}
