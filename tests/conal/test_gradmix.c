// Tests of conal/gradmix: the Gram-space PCGrad and CAGrad against direct
// implementations on explicit per-task vectors (written here, in double),
// CAGrad against a brute-force search over the simplex and its optimality
// conditions, and the products with D against naive loops.
//
// Dimension letters: K tasks, N floats per task gradient.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "conal/gradmix.h"
#include "tests/check.h"

#define MAX_K 8
#define MAX_N 512

// ---- fixtures ----

// Fills D (K x N) with gradients that conflict often: each row mixes three
// shared random directions with normal weights, plus a little noise.
static void fill_conflicting(RngState *rng, int K, int N, float *D) {
    static double basis[3][MAX_N];
    for (int r = 0; r < 3; r++) {
        for (int j = 0; j < N; j++) {
            basis[r][j] = rng_normal(rng);
        }
    }
    for (int t = 0; t < K; t++) {
        double a[3] = {rng_normal(rng), rng_normal(rng), rng_normal(rng)};
        for (int j = 0; j < N; j++) {
            double v = 0.1 * rng_normal(rng);
            for (int r = 0; r < 3; r++) {
                v += a[r] * basis[r][j];
            }
            D[t * N + j] = (float)v;
        }
    }
}

static double dot(const double *a, const double *b, int N) {
    double s = 0.0;
    for (int j = 0; j < N; j++) {
        s += a[j] * b[j];
    }
    return s;
}

// Copies row t of the float D into a double vector.
static void row_to_double(const float *D, int t, int N, double *out) {
    for (int j = 0; j < N; j++) {
        out[j] = (double)D[t * N + j];
    }
}

// Gram matrix in double by explicit loops.
static void gram_naive(const float *D, int K, int N, double *G) {
    double a[MAX_N], b[MAX_N];
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < K; j++) {
            row_to_double(D, i, N, a);
            row_to_double(D, j, N, b);
            G[i * K + j] = dot(a, b, N);
        }
    }
}

// Largest |a - b| over N entries, relative to the largest |b|.
static double max_rel_diff(const double *a, const double *b, int N) {
    double diff = 0.0, mag = 0.0;
    for (int j = 0; j < N; j++) {
        diff = fmax(diff, fabs(a[j] - b[j]));
        mag = fmax(mag, fabs(b[j]));
    }
    return diff / (mag > 0.0 ? mag : 1.0);
}

// Combined gradient c^T D in double, through conal_gradmix_combine.
static void combine_to_double(const double *c, const float *D, int K, int N, double *out) {
    float tmp[MAX_N];
    conal_gradmix_combine(c, D, K, (size_t)N, (size_t)N, tmp);
    for (int j = 0; j < N; j++) {
        out[j] = (double)tmp[j];
    }
}

// ---- products with D ----

static void test_gram_matches_naive(void) {
    RngState rng;
    rng_init(&rng, 11);
    enum { K = 5, N = 70, LD = 80 };
    float D[K * LD];
    for (int i = 0; i < K * LD; i++) {
        D[i] = (float)rng_normal(&rng);
    }

    // accumulate twice over a strided D: the result is twice the Gram matrix
    double G[K * K] = {0};
    conal_gram_accumulate(D, K, N, LD, G);
    conal_gram_accumulate(D, K, N, LD, G);
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < K; j++) {
            double expected = 0.0;
            for (int k = 0; k < N; k++) {
                expected += (double)D[i * LD + k] * (double)D[j * LD + k];
            }
            CHECK_NEAR(2.0 * expected, G[i * K + j], 1e-4 * (1.0 + fabs(expected)));
        }
    }
}

static void test_combine_matches_naive(void) {
    RngState rng;
    rng_init(&rng, 12);
    enum { K = 4, N = 33, LD = 40 };
    float D[K * LD], out[N];
    double c[K] = {0.5, -1.25, 2.0, 0.0};
    for (int i = 0; i < K * LD; i++) {
        D[i] = (float)rng_normal(&rng);
    }
    conal_gradmix_combine(c, D, K, N, LD, out);
    for (int j = 0; j < N; j++) {
        double expected = 0.0;
        for (int k = 0; k < K; k++) {
            expected += c[k] * (double)D[k * LD + j];
        }
        CHECK_NEAR(expected, out[j], 1e-5);
    }
}

// ---- PCGrad ----

// PCGrad on explicit vectors: the algorithm as Yu et al. (2020) state it.
static void pcgrad_vectors(const float *D, int K, int N, const int *orders, double *out) {
    double g[MAX_K][MAX_N], run[MAX_N];
    for (int t = 0; t < K; t++) {
        row_to_double(D, t, N, g[t]);
    }
    memset(out, 0, sizeof(double) * (size_t)N);
    for (int i = 0; i < K; i++) {
        memcpy(run, g[i], sizeof(double) * (size_t)N);
        for (int m = 0; m < K - 1; m++) {
            int j = orders[i * (K - 1) + m];
            double d = dot(run, g[j], N);
            double jj = dot(g[j], g[j], N);
            if (d < 0.0) {
                for (int k = 0; k < N; k++) {
                    run[k] -= d / jj * g[j][k];
                }
            }
        }
        for (int k = 0; k < N; k++) {
            out[k] += run[k];
        }
    }
}

static void test_pcgrad_matches_vectors(void) {
    RngState rng;
    rng_init(&rng, 21);
    enum { N = 300 };
    static float D[MAX_K * N];
    for (int K = 2; K <= MAX_K; K++) {
        for (int trial = 0; trial < 5; trial++) {
            fill_conflicting(&rng, K, N, D);
            int orders[MAX_K * (MAX_K - 1)];
            conal_pcgrad_orders_sample(&rng, K, orders);

            double G[MAX_K * MAX_K] = {0}, c[MAX_K];
            conal_gram_accumulate(D, K, N, N, G);
            conal_pcgrad_solve(G, K, orders, c);

            double got[N], expected[N];
            combine_to_double(c, D, K, N, got);
            pcgrad_vectors(D, K, N, orders, expected);
            double err = max_rel_diff(got, expected, N);
            CHECK_MSG(err < 1e-4, "K=%d trial=%d relative difference %g", K, trial, err);
        }
    }
}

static void test_pcgrad_two_tasks_known_values(void) {
    // g1 = (1, 0), g2 = (-1, 1): g1.g2 = -1, so g1 -> g1 + g2/2 = (0.5, 0.5) and
    // g2 -> g2 + g1 = (0, 1). The sum is (0.5, 1.5) = 2 g1 + 1.5 g2.
    float D[4] = {1.0f, 0.0f, -1.0f, 1.0f};
    double G[4] = {0}, c[2];
    int orders[2] = {1, 0};
    conal_gram_accumulate(D, 2, 2, 2, G);
    conal_pcgrad_solve(G, 2, orders, c);
    CHECK_NEAR(2.0, c[0], 1e-12);
    CHECK_NEAR(1.5, c[1], 1e-12);

    float out[2];
    conal_gradmix_combine(c, D, 2, 2, 2, out);
    CHECK_NEAR(0.5, out[0], 1e-6);
    CHECK_NEAR(1.5, out[1], 1e-6);
}

static void test_pcgrad_no_conflict_is_sum(void) {
    RngState rng;
    rng_init(&rng, 22);
    enum { K = 6, N = 50 };
    float D[K * N];

    // positive entries only: every inner product is positive
    for (int i = 0; i < K * N; i++) {
        D[i] = (float)(0.1 + rng_uniform(&rng));
    }
    double G[K * K] = {0}, c[K];
    int orders[K * (K - 1)];
    conal_gram_accumulate(D, K, N, N, G);
    conal_pcgrad_orders_sample(&rng, K, orders);
    conal_pcgrad_solve(G, K, orders, c);
    for (int k = 0; k < K; k++) {
        CHECK_EQ_INT(1, c[k] == 1.0);
    }
}

static void test_pcgrad_zero_gradient_is_skipped(void) {
    // task 1 has a zero gradient: nothing projects onto it and no NaN appears
    float D[6] = {1.0f, 2.0f, 0.0f, 0.0f, -1.0f, 0.5f};
    double G[9] = {0}, c[3];
    int orders[6] = {1, 2, 0, 2, 1, 0};
    conal_gram_accumulate(D, 3, 2, 2, G);
    conal_pcgrad_solve(G, 3, orders, c);
    for (int k = 0; k < 3; k++) {
        CHECK(isfinite(c[k]));
    }

    // g0.g2 = -1 + 1 = 0: no conflict between the nonzero tasks either
    CHECK_NEAR(1.0, c[0], 1e-12);
    CHECK_NEAR(1.0, c[2], 1e-12);
}

static void test_pcgrad_orders_are_permutations(void) {
    RngState rng;
    rng_init(&rng, 23);
    enum { K = 10 };
    int orders[K * (K - 1)];
    conal_pcgrad_orders_sample(&rng, K, orders);
    for (int i = 0; i < K; i++) {
        int seen[K] = {0};
        for (int m = 0; m < K - 1; m++) {
            int j = orders[i * (K - 1) + m];
            CHECK(j >= 0);
            CHECK(j < K);
            CHECK(j != i);
            if (j >= 0 && j < K) {
                seen[j]++;
            }
        }
        for (int j = 0; j < K; j++) {
            CHECK_EQ_INT(j == i ? 0 : 1, seen[j]);
        }
    }

    // the orders are random: not every row is in ascending order
    int sorted_rows = 0;
    for (int i = 0; i < K; i++) {
        int sorted = 1;
        for (int m = 1; m < K - 1; m++) {
            sorted &= orders[i * (K - 1) + m] > orders[i * (K - 1) + m - 1];
        }
        sorted_rows += sorted;
    }
    CHECK(sorted_rows < K);
}

// ---- CAGrad ----

// CAGrad on explicit vectors: g0 and g_w are formed as vectors and every
// inner product is taken between vectors. The solver is the same softmax SGD
// as the reference, so the result must match conal_cagrad_solve.
static void cagrad_vectors(const float *D, int K, int N, const ConalCagradConfig *cfg,
                           double *out) {
    const double eps = 1e-4;
    double g[MAX_K][MAX_N], g0[MAX_N] = {0}, gw[MAX_N];

    // normalise so the mean task norm is 1, as the reference does with G
    double scale = 0.0;
    for (int t = 0; t < K; t++) {
        row_to_double(D, t, N, g[t]);
        scale += sqrt(dot(g[t], g[t], N) + eps);
    }
    scale /= K;
    for (int t = 0; t < K; t++) {
        for (int j = 0; j < N; j++) {
            g[t][j] /= scale;
            g0[j] += g[t][j] / K;
        }
    }
    double ceff = cfg->c * sqrt(dot(g0, g0, N) + eps);

    double x[MAX_K] = {0}, buf[MAX_K] = {0}, w[MAX_K], best_w[MAX_K], grad[MAX_K];
    double best = INFINITY;
    for (int it = 0; it <= cfg->n_iters; it++) {
        double mx = x[0], sum = 0.0;
        for (int t = 1; t < K; t++) {
            mx = fmax(mx, x[t]);
        }
        for (int t = 0; t < K; t++) {
            w[t] = exp(x[t] - mx);
            sum += w[t];
        }
        memset(gw, 0, sizeof gw);
        for (int t = 0; t < K; t++) {
            w[t] /= sum;
            for (int j = 0; j < N; j++) {
                gw[j] += w[t] * g[t][j];
            }
        }
        double root = sqrt(dot(gw, gw, N) + eps);
        double obj = dot(gw, g0, N) + ceff * root;
        if (obj < best) {
            best = obj;
            memcpy(best_w, w, sizeof w);
        }
        if (it == cfg->n_iters) {
            break;
        }
        double wg = 0.0;
        for (int t = 0; t < K; t++) {
            grad[t] = dot(g[t], g0, N) + ceff * dot(g[t], gw, N) / root;
            wg += w[t] * grad[t];
        }
        for (int t = 0; t < K; t++) {
            double gx = w[t] * (grad[t] - wg);
            buf[t] = it == 0 ? gx : cfg->momentum * buf[t] + gx;
            x[t] -= cfg->lr * buf[t];
        }
    }

    // d = (g0 + lambda g_w) in the original units, times K, over 1 + c^2
    memset(gw, 0, sizeof gw);
    for (int t = 0; t < K; t++) {
        for (int j = 0; j < N; j++) {
            gw[j] += best_w[t] * g[t][j];
        }
    }
    double lambda = ceff / (sqrt(dot(gw, gw, N) + eps) + eps);
    double rescale = cfg->rescale ? 1.0 / (1.0 + cfg->c * cfg->c) : 1.0;
    for (int j = 0; j < N; j++) {
        out[j] = (g0[j] + lambda * gw[j]) * scale * K * rescale;
    }
}

// The Gram-space solver against the vector one. With G computed in double the
// two agree to rounding. With G from conal_gram_accumulate, which sums in
// float within blocks, they agree to float tolerance only: 20 SGD steps at
// learning rate 25 amplify the 1e-7 relative error of G.
static void test_cagrad_matches_vectors(void) {
    RngState rng;
    rng_init(&rng, 31);
    enum { N = 300 };
    static float D[MAX_K * N];
    ConalCagradConfig cfgs[3] = {conal_cagrad_defaults(), conal_cagrad_defaults(),
                                 conal_cagrad_defaults()};
    cfgs[1].c = 0.9;
    cfgs[1].rescale = 0;
    cfgs[2].n_iters = 200;
    cfgs[2].lr = 5.0;
    cfgs[2].momentum = 0.0;
    for (int ci = 0; ci < 3; ci++) {
        for (int K = 2; K <= MAX_K; K += 3) {
            fill_conflicting(&rng, K, N, D);
            double expected[N];
            cagrad_vectors(D, K, N, &cfgs[ci], expected);

            // G in double: the combination weights carry no float rounding
            double G[MAX_K * MAX_K], c[MAX_K], got[N];
            gram_naive(D, K, N, G);
            conal_cagrad_solve(G, K, &cfgs[ci], c, NULL);
            combine_to_double(c, D, K, N, got);
            double err = max_rel_diff(got, expected, N);
            CHECK_MSG(err < 1e-5, "config %d K=%d double G: relative difference %g", ci, K,
                      err);

            // G from conal_gram_accumulate, as a trainer computes it
            memset(G, 0, sizeof G);
            conal_gram_accumulate(D, K, N, N, G);
            conal_cagrad_solve(G, K, &cfgs[ci], c, NULL);
            combine_to_double(c, D, K, N, got);
            err = max_rel_diff(got, expected, N);
            CHECK_MSG(err < 1e-3, "config %d K=%d float G: relative difference %g", ci, K,
                      err);
        }
    }
}

// Dual objective in raw units: w^T G 1/K + c |g0| sqrt(w^T G w), no epsilons.
static double dual_raw(const double *G, int K, double c, const double *w) {
    double lin = 0.0, quad = 0.0, g0_sq = 0.0;
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < K; j++) {
            lin += w[i] * G[i * K + j] / K;
            quad += w[i] * G[i * K + j] * w[j];
            g0_sq += G[i * K + j] / ((double)K * K);
        }
    }
    return lin + c * sqrt(g0_sq) * sqrt(fmax(quad, 0.0));
}

// Minimises the dual over a grid on the simplex (K = 2 or 3), then refines
// around the best grid point with a grid 50 times finer.
static double dual_brute_force(const double *G, int K, double c, double *best_w) {
    double best = INFINITY;
    double lo[2] = {0.0, 0.0}, hi[2] = {1.0, 1.0};
    for (int pass = 0; pass < 2; pass++) {
        const int steps = K == 2 ? 20000 : 400;
        double h0 = (hi[0] - lo[0]) / steps, h1 = (hi[1] - lo[1]) / steps;
        double found[2] = {best_w[0], K == 3 ? best_w[1] : 0.0};
        for (int a = 0; a <= steps; a++) {
            for (int b = 0; b <= (K == 3 ? steps : 0); b++) {
                double w[3] = {lo[0] + a * h0, K == 3 ? lo[1] + b * h1 : 0.0, 0.0};
                if (K == 2) {
                    w[1] = 1.0 - w[0];
                } else {
                    w[2] = 1.0 - w[0] - w[1];
                }
                if (w[0] < 0.0 || w[1] < 0.0 || w[K - 1] < 0.0 || w[0] > 1.0) {
                    continue;
                }
                double f = dual_raw(G, K, c, w);
                if (f < best) {
                    best = f;
                    memcpy(best_w, w, sizeof(double) * (size_t)K);
                    found[0] = w[0];
                    found[1] = w[1];
                }
            }
        }

        // zoom into a box of two coarse cells around the best point
        for (int d = 0; d < 2; d++) {
            double h = d == 0 ? h0 : h1;
            lo[d] = fmax(0.0, found[d] - 2.0 * h);
            hi[d] = fmin(1.0, found[d] + 2.0 * h);
        }
    }
    return best;
}

// Three fixtures in 2-D and 3-D with known shapes of the optimum.
static void cagrad_fixture(int which, float *D, int *K, int *N) {
    static const float two_interior[] = {1.0f, 0.2f, -0.6f, 1.0f};  // mild conflict
    static const float two_boundary[] = {3.0f, 0.0f, 0.1f, 0.3f};   // one task dominates
    static const float three[] = {1.0f, 0.0f, 0.2f, -0.5f, 0.9f, 0.1f, -0.4f, -0.6f, 0.8f};
    switch (which) {
    case 0:
        memcpy(D, two_interior, sizeof two_interior);
        *K = 2, *N = 2;
        break;
    case 1:
        memcpy(D, two_boundary, sizeof two_boundary);
        *K = 2, *N = 2;
        break;
    default:
        memcpy(D, three, sizeof three);
        *K = 3, *N = 3;
        break;
    }
}

// A long, small-step solve whose result should sit on the true optimum. An
// optimum on the simplex boundary is only approached: softmax weights reach
// zero only in the limit, and the objective gap shrinks about as 1/n_iters.
static ConalCagradConfig cagrad_precise(double c) {
    ConalCagradConfig cfg = conal_cagrad_defaults();
    cfg.c = c;
    cfg.n_iters = 20000;
    cfg.lr = 2.0;
    cfg.momentum = 0.5;
    cfg.rescale = 0;
    return cfg;
}

static void test_cagrad_matches_brute_force(void) {
    const double cs[3] = {0.2, 0.5, 0.9};
    for (int which = 0; which < 3; which++) {
        for (int ci = 0; ci < 3; ci++) {
            float D[9];
            int K, N;
            cagrad_fixture(which, D, &K, &N);
            double G[9] = {0}, c[3], w[3], w_brute[3] = {0.5, 0.5, 0.0};
            conal_gram_accumulate(D, K, (size_t)N, (size_t)N, G);
            ConalCagradConfig cfg = cagrad_precise(cs[ci]);
            conal_cagrad_solve(G, K, &cfg, c, w);

            double f_solver = dual_raw(G, K, cs[ci], w);
            double f_brute = dual_brute_force(G, K, cs[ci], w_brute);
            CHECK_MSG(f_solver - f_brute < 1e-4 * (1.0 + fabs(f_brute)),
                      "fixture %d c=%g: solver %.9g, brute force %.9g", which, cs[ci],
                      f_solver, f_brute);
            for (int k = 0; k < K; k++) {
                CHECK_MSG(fabs(w[k] - w_brute[k]) < 5e-3, "fixture %d c=%g w[%d]: %g vs %g",
                          which, cs[ci], k, w[k], w_brute[k]);
            }
        }
    }
}

// The direction d = c^T D / K (rescale off) solves the primal problem
//   max_d min_i g_i.d  subject to |d - g0| <= c |g0|:
// the constraint is active, min_i g_i.d equals the dual optimum (strong
// duality), and tasks with weight in the optimum attain the minimum. The
// tolerances allow for the 1e-4 the reference adds under each square root.
static void test_cagrad_optimality_conditions(void) {
    const double cs[2] = {0.3, 0.8};
    for (int which = 0; which < 3; which++) {
        for (int ci = 0; ci < 2; ci++) {
            float D[9];
            int K, N;
            cagrad_fixture(which, D, &K, &N);
            double G[9] = {0}, c[3], w[3];
            conal_gram_accumulate(D, K, (size_t)N, (size_t)N, G);
            ConalCagradConfig cfg = cagrad_precise(cs[ci]);
            conal_cagrad_solve(G, K, &cfg, c, w);

            double g[3][3], g0[3] = {0}, d[3] = {0};
            for (int t = 0; t < K; t++) {
                row_to_double(D, t, N, g[t]);
                for (int j = 0; j < N; j++) {
                    g0[j] += g[t][j] / K;
                    d[j] += c[t] * g[t][j] / K;
                }
            }
            double diff[3];
            for (int j = 0; j < N; j++) {
                diff[j] = d[j] - g0[j];
            }
            double radius = cs[ci] * sqrt(dot(g0, g0, N));
            CHECK_NEAR(radius, sqrt(dot(diff, diff, N)), 5e-3 * radius);

            double worst = INFINITY, inner[3];
            for (int t = 0; t < K; t++) {
                inner[t] = dot(g[t], d, N);
                worst = fmin(worst, inner[t]);
            }
            double f_dual = dual_raw(G, K, cs[ci], w);
            CHECK_NEAR(f_dual, worst, 1e-3 * (1.0 + fabs(f_dual)));
            for (int t = 0; t < K; t++) {
                if (w[t] > 1e-2) {
                    CHECK_MSG(inner[t] - worst < 2e-3 * (1.0 + fabs(worst)),
                              "fixture %d c=%g task %d: g.d %g above min %g", which, cs[ci],
                              t, inner[t], worst);
                }
            }
        }
    }
}

static void test_cagrad_zero_c_is_sum(void) {
    RngState rng;
    rng_init(&rng, 32);
    enum { K = 5, N = 40 };
    float D[K * N];
    fill_conflicting(&rng, K, N, D);
    double G[K * K] = {0}, c[K];
    conal_gram_accumulate(D, K, N, N, G);
    ConalCagradConfig cfg = conal_cagrad_defaults();
    cfg.c = 0.0;
    conal_cagrad_solve(G, K, &cfg, c, NULL);
    for (int k = 0; k < K; k++) {
        CHECK_NEAR(1.0, c[k], 1e-12);
    }
}

static void test_cagrad_equal_tasks(void) {
    // identical rows: g_w = g0 for any w, so d = (1 + c) g0 / (1 + c^2) and
    // every weight is (1 + c) / (1 + c^2) up to the reference epsilons
    enum { K = 4, N = 3 };
    float D[K * N];
    for (int t = 0; t < K; t++) {
        D[t * N + 0] = 3.0f, D[t * N + 1] = -1.0f, D[t * N + 2] = 2.0f;
    }
    double G[K * K] = {0}, c[K];
    conal_gram_accumulate(D, K, N, N, G);
    ConalCagradConfig cfg = conal_cagrad_defaults();
    cfg.c = 0.5;
    conal_cagrad_solve(G, K, &cfg, c, NULL);
    for (int k = 0; k < K; k++) {
        CHECK_NEAR((1.0 + 0.5) / (1.0 + 0.25), c[k], 1e-3);
    }
}

static void test_cagrad_zero_gradients_finite(void) {
    enum { K = 3, N = 4 };
    float D[K * N] = {0};
    double G[K * K] = {0}, c[K];
    conal_gram_accumulate(D, K, N, N, G);
    ConalCagradConfig cfg = conal_cagrad_defaults();
    conal_cagrad_solve(G, K, &cfg, c, NULL);
    for (int k = 0; k < K; k++) {
        CHECK(isfinite(c[k]));
    }
}

// ---- one call for a trainer ----

// Splitting the parameters into segments gives the same result as one block.
static void test_apply_segments_match_block(void) {
    RngState rng;
    rng_init(&rng, 41);
    enum { K = 4, N1 = 30, N2 = 50, N = N1 + N2 };
    float whole[K * N], seg1[K * N1], seg2[K * N2];
    fill_conflicting(&rng, K, N, whole);
    for (int t = 0; t < K; t++) {
        memcpy(seg1 + t * N1, whole + t * N, sizeof(float) * N1);
        memcpy(seg2 + t * N2, whole + t * N + N1, sizeof(float) * N2);
    }

    for (int m = CONAL_GRADMIX_SUM; m <= CONAL_GRADMIX_CAGRAD; m++) {
        ConalGradMix a, b;
        conal_gradmix_init(&a, (ConalGradMixMethod)m, NULL, 7);
        conal_gradmix_init(&b, (ConalGradMixMethod)m, NULL, 7);

        float out_whole[N], out1[N1], out2[N2];
        const float *d_whole[1] = {whole};
        const float *d_split[2] = {seg1, seg2};
        size_t n_whole[1] = {N}, n_split[2] = {N1, N2};
        float *o_whole[1] = {out_whole};
        float *o_split[2] = {out1, out2};
        double c_whole[K], c_split[K];
        conal_gradmix_apply(&a, K, 1, d_whole, n_whole, o_whole, c_whole);
        conal_gradmix_apply(&b, K, 2, d_split, n_split, o_split, c_split);
        for (int k = 0; k < K; k++) {
            CHECK_NEAR(c_whole[k], c_split[k], 1e-6 * (1.0 + fabs(c_whole[k])));
        }
        for (int j = 0; j < N; j++) {
            float split = j < N1 ? out1[j] : out2[j - N1];
            CHECK_NEAR(out_whole[j], split, 1e-4 * (1.0 + fabs(out_whole[j])));
        }
    }
}

// The same seed gives bit-identical results; PCGrad's orders change per call.
static void test_apply_deterministic(void) {
    RngState rng;
    rng_init(&rng, 42);
    enum { K = 6, N = 64 };
    float D[K * N];
    fill_conflicting(&rng, K, N, D);
    const float *d[1] = {D};
    size_t n[1] = {N};

    for (int m = CONAL_GRADMIX_PCGRAD; m <= CONAL_GRADMIX_CAGRAD; m++) {
        ConalGradMix a, b;
        conal_gradmix_init(&a, (ConalGradMixMethod)m, NULL, 99);
        conal_gradmix_init(&b, (ConalGradMixMethod)m, NULL, 99);
        for (int call = 0; call < 3; call++) {
            float out_a[N], out_b[N];
            float *oa[1] = {out_a}, *ob[1] = {out_b};
            conal_gradmix_apply(&a, K, 1, d, n, oa, NULL);
            conal_gradmix_apply(&b, K, 1, d, n, ob, NULL);
            CHECK_EQ_INT(0, memcmp(out_a, out_b, sizeof out_a));
        }
    }

    // with K = 6 and conflicting gradients the visiting order matters: over a
    // few calls PCGrad does not return one fixed weight vector
    ConalGradMix gm;
    conal_gradmix_init(&gm, CONAL_GRADMIX_PCGRAD, NULL, 5);
    double first[K], later[K];
    float out[N];
    float *o[1] = {out};
    conal_gradmix_apply(&gm, K, 1, d, n, o, first);
    int changed = 0;
    for (int call = 0; call < 10; call++) {
        conal_gradmix_apply(&gm, K, 1, d, n, o, later);
        changed |= memcmp(first, later, sizeof first) != 0;
    }
    CHECK(changed);
}

// Weights from a caller's Gram matrix plus combine give what apply gives.
static void test_weights_match_apply(void) {
    RngState rng;
    rng_init(&rng, 44);
    enum { K = 5, N = 60 };
    float D[K * N];
    fill_conflicting(&rng, K, N, D);
    const float *d[1] = {D};
    size_t n[1] = {N};
    for (int m = CONAL_GRADMIX_SUM; m <= CONAL_GRADMIX_CAGRAD; m++) {
        ConalGradMix a, b;
        conal_gradmix_init(&a, (ConalGradMixMethod)m, NULL, 9);
        conal_gradmix_init(&b, (ConalGradMixMethod)m, NULL, 9);
        float out_a[N], out_b[N];
        float *oa[1] = {out_a};
        double c_a[K], c_b[K], G[K * K] = {0};
        conal_gradmix_apply(&a, K, 1, d, n, oa, c_a);
        conal_gram_accumulate(D, K, N, N, G);
        conal_gradmix_weights(&b, K, G, c_b);
        conal_gradmix_combine(c_b, D, K, N, N, out_b);
        CHECK_EQ_INT(0, memcmp(c_a, c_b, sizeof c_a));
        CHECK_EQ_INT(0, memcmp(out_a, out_b, sizeof out_a));
    }
}

// The hook form, given the Gram matrix, gives the same combined gradient as
// conal_gradmix_apply.
static void test_hook_matches_apply(void) {
    RngState rng;
    rng_init(&rng, 43);
    enum { K = 4, N = 40 };
    float D[K * N];
    fill_conflicting(&rng, K, N, D);
    const float *d[1] = {D};
    size_t n[1] = {N};
    ConalGradMix a, b;
    conal_gradmix_init(&a, CONAL_GRADMIX_PCGRAD, NULL, 8);
    conal_gradmix_init(&b, CONAL_GRADMIX_PCGRAD, NULL, 8);
    float out_a[N], out_b[N];
    float *oa[1] = {out_a}, *ob[1] = {out_b};
    conal_gradmix_apply(&a, K, 1, d, n, oa, NULL);
    double G[K * K] = {0};
    conal_gram_accumulate(D, K, N, N, G);
    conal_gradmix_hook(&b, K, G, 1, d, n, ob);
    CHECK_EQ_INT(0, memcmp(out_a, out_b, sizeof out_a));
}

static void test_method_names(void) {
    CHECK_EQ_INT(CONAL_GRADMIX_SUM, conal_gradmix_method_parse("sum"));
    CHECK_EQ_INT(CONAL_GRADMIX_PCGRAD, conal_gradmix_method_parse("pcgrad"));
    CHECK_EQ_INT(CONAL_GRADMIX_CAGRAD, conal_gradmix_method_parse("cagrad"));
    CHECK_EQ_INT(-1, conal_gradmix_method_parse("PCGrad"));
    CHECK_EQ_INT(-1, conal_gradmix_method_parse(NULL));
    CHECK(strcmp(conal_gradmix_method_name(CONAL_GRADMIX_CAGRAD), "cagrad") == 0);
}

int main(void) {
    RUN_TEST(test_gram_matches_naive);
    RUN_TEST(test_combine_matches_naive);
    RUN_TEST(test_pcgrad_matches_vectors);
    RUN_TEST(test_pcgrad_two_tasks_known_values);
    RUN_TEST(test_pcgrad_no_conflict_is_sum);
    RUN_TEST(test_pcgrad_zero_gradient_is_skipped);
    RUN_TEST(test_pcgrad_orders_are_permutations);
    RUN_TEST(test_cagrad_matches_vectors);
    RUN_TEST(test_cagrad_matches_brute_force);
    RUN_TEST(test_cagrad_optimality_conditions);
    RUN_TEST(test_cagrad_zero_c_is_sum);
    RUN_TEST(test_cagrad_equal_tasks);
    RUN_TEST(test_cagrad_zero_gradients_finite);
    RUN_TEST(test_apply_segments_match_block);
    RUN_TEST(test_apply_deterministic);
    RUN_TEST(test_weights_match_apply);
    RUN_TEST(test_hook_matches_apply);
    RUN_TEST(test_method_names);
    return check_summary();
}
