// Statistics for `conal compare`: mean and standard deviation over seeds,
// Student's t distribution and Welch's unequal-variance t-test.
//
// The t CDF goes through the regularized incomplete beta function, evaluated
// by its continued fraction (modified Lentz method), so no statistics
// library is needed. Everything is in double precision.
#ifndef CLI_COMPARE_STATS_H
#define CLI_COMPARE_STATS_H

// Mean of n values; NaN when n == 0.
double compare_mean(const double *x, int n);

// Sample standard deviation (n - 1 in the denominator); NaN when n < 2.
double compare_std(const double *x, int n);

// Regularized incomplete beta function I_x(a, b) for a, b > 0 and x in
// [0, 1]; NaN for arguments outside those ranges.
double compare_betainc(double a, double b, double x);

// CDF of Student's t distribution with df > 0 degrees of freedom (df need
// not be an integer, as Welch's test produces fractional ones).
double compare_t_cdf(double t, double df);

// Result of Welch's two-sample t-test.
typedef struct CompareWelch {
    double t;     // (mean_a - mean_b) / sqrt(var_a/n_a + var_b/n_b)
    double df;    // Welch-Satterthwaite degrees of freedom
    double p;     // two-sided p-value
} CompareWelch;

// Welch's t-test of a (n_a values) against b (n_b values). Returns 0, or -1
// when the statistic is undefined because a sample has fewer than 2 values or
// both have zero variance. The fields are NaN then.
int compare_welch(const double *a, int n_a, const double *b, int n_b, CompareWelch *out);

#endif
