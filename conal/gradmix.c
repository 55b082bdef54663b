// PCGrad and CAGrad on the Gram matrix of per-task gradients.
//
// Dimension letters: K tasks, n floats of one shared segment.
// Every per-task vector in this file is a K-vector of coefficients over the
// rows of D, so the inner product of two such vectors a, b is a^T G b. Nothing
// here touches D except conal_gram_accumulate and conal_gradmix_combine.
#include "conal/gradmix.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"

// The reference CAGrad adds 1e-4 under every square root (task norms, the
// mean-gradient norm, |g_w|) and to |g_w| before dividing, so a zero gradient
// yields a finite direction. Kept for parity with its numbers.
#define CAGRAD_EPS 1e-4

static const char *const method_names[] = {"sum", "pcgrad", "cagrad"};

ConalCagradConfig conal_cagrad_defaults(void) {
    ConalCagradConfig cfg = {
        .c = 0.9,
        .n_iters = 20,
        .lr = 25.0,
        .momentum = 0.5,
        .rescale = 1,
    };
    return cfg;
}

int conal_gradmix_method_parse(const char *name) {
    for (int m = 0; m < (int)(sizeof method_names / sizeof method_names[0]); m++) {
        if (name && strcmp(name, method_names[m]) == 0) {
            return m;
        }
    }
    return -1;
}

const char *conal_gradmix_method_name(ConalGradMixMethod method) {
    switch (method) {
    case CONAL_GRADMIX_SUM:
    case CONAL_GRADMIX_PCGRAD:
    case CONAL_GRADMIX_CAGRAD:
        return method_names[method];
    default:
        ASSERT(0, "conal_gradmix_method_name: unknown method %d", (int)method);
    }
}

// Checks K against the fixed workspace size.
static void check_tasks(const char *where, int K) {
    ASSERT(K >= 1 && K <= CONAL_GRADMIX_MAX_TASKS, "%s: K = %d tasks, expected 1..%d", where,
           K, CONAL_GRADMIX_MAX_TASKS);
}

// ---- products with D ----

// Columns per block of the Gram loop: K rows of 256 floats (10 KB at K = 10)
// stay in L1 while all K (K + 1) / 2 pairs are formed from them.
#define GRAM_BLOCK 256

// Dot product of two float vectors with 16 independent partial sums, a form
// the compiler vectorises without reassociating (no -ffast-math needed).
static inline float dot_block(const float *x, const float *y, size_t n) {
    float acc[16] = {0};
    size_t n16 = n - n % 16;
    for (size_t k = 0; k < n16; k += 16) {
        for (int l = 0; l < 16; l++) {
            acc[l] += x[k + l] * y[k + l];
        }
    }
    float s = 0.0f;
    for (size_t k = n16; k < n; k++) {
        s += x[k] * y[k];
    }
    for (int l = 0; l < 16; l++) {
        s += acc[l];
    }
    return s;
}

// A column-blocked loop rather than cblas_ssyrk. At K = 10 and n = 342801
// (one MT-SAC critic), single-threaded OpenBLAS 0.3.21 ssyrk took 3.7 ms of
// thread CPU time and this loop 2.3 ms on a 2-core x86-64 VM, because the
// work is only 55 dot products over D, which is read from memory once.
// GCC also builds AVX2 and AVX-512 clones and picks one at load time, because
// the Release flags target baseline x86-64 (SSE2). Sixteen partial sums fill
// one AVX-512 register; at K = 10 and n = 160000 the AVX-512 clone took
// 0.64 ms and the AVX2 clone 0.80 ms.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void conal_gram_accumulate(const float *D, int K, size_t n, size_t ld, double *G) {
    check_tasks("conal_gram_accumulate", K);
    ASSERT(ld >= n, "conal_gram_accumulate: row stride %zu < row length %zu", ld, n);

    // zero only the K x K corner: callers run this per cache-sized chunk
    double upper[CONAL_GRADMIX_MAX_TASKS * CONAL_GRADMIX_MAX_TASKS];
    for (int i = 0; i < K * K; i++) {
        upper[i] = 0.0;
    }
    for (size_t b = 0; b < n; b += GRAM_BLOCK) {
        size_t len = n - b < GRAM_BLOCK ? n - b : GRAM_BLOCK;
        for (int i = 0; i < K; i++) {
            const float *x = D + (size_t)i * ld + b;
            for (int j = i; j < K; j++) {
                upper[i * K + j] += (double)dot_block(x, D + (size_t)j * ld + b, len);
            }
        }
    }

    // mirror into both triangles
    for (int i = 0; i < K; i++) {
        for (int j = i; j < K; j++) {
            G[i * K + j] += upper[i * K + j];
            if (j != i) {
                G[j * K + i] += upper[i * K + j];
            }
        }
    }
}

typedef struct Combine {
    const float *cf;
    const float *D;
    int K;
    size_t ld;
    float *out;
} Combine;

// Columns lo..hi-1 of out = D^T c, adding the task rows in order so every
// column gets the same sums for any partition.
static void combine_range(void *ctx, size_t lo, size_t hi) {
    const Combine *job = ctx;
    float *out = job->out;
    for (size_t j = lo; j < hi; j++) {
        out[j] = 0.0f;
    }
    for (int k = 0; k < job->K; k++) {
        const float *row = job->D + (size_t)k * job->ld;
        float c = job->cf[k];
        for (size_t j = lo; j < hi; j++) {
            out[j] += c * row[j];
        }
    }
}

void conal_gradmix_combine(const double *c, const float *D, int K, size_t n, size_t ld,
                           float *out) {
    check_tasks("conal_gradmix_combine", K);
    ASSERT(ld >= n, "conal_gradmix_combine: row stride %zu < row length %zu", ld, n);
    ASSERT(ld <= INT_MAX, "conal_gradmix_combine: row stride %zu exceeds BLAS int", ld);
    if (n == 0) {
        return;
    }
    float cf[CONAL_GRADMIX_MAX_TASKS];
    for (int k = 0; k < K; k++) {
        cf[k] = (float)c[k];
    }

    // out = D^T c, reading D row by row with no copy, over column ranges on
    // the thread team
    Combine job = {cf, D, K, ld, out};
    nn_parallel_ranges(combine_range, &job, n, (size_t)K * n);
}

// ---- PCGrad ----

void conal_pcgrad_orders_sample(RngState *rng, int K, int *orders) {
    check_tasks("conal_pcgrad_orders_sample", K);
    for (int i = 0; i < K; i++) {
        int *row = orders + (size_t)i * (size_t)(K - 1);
        int m = 0;
        for (int j = 0; j < K; j++) {
            if (j != i) {
                row[m++] = j;
            }
        }

        // Fisher-Yates from the back
        for (int a = K - 2; a > 0; a--) {
            int b = (int)rng_below(rng, (uint64_t)a + 1);
            int tmp = row[a];
            row[a] = row[b];
            row[b] = tmp;
        }
    }
}

void conal_pcgrad_solve(const double *G, int K, const int *orders, double *c) {
    check_tasks("conal_pcgrad_solve", K);
    for (int k = 0; k < K; k++) {
        c[k] = 0.0;
    }

    double a[CONAL_GRADMIX_MAX_TASKS];   // task i's running gradient, as coefficients
    for (int i = 0; i < K; i++) {
        memset(a, 0, sizeof a);
        a[i] = 1.0;
        const int *row = orders + (size_t)i * (size_t)(K - 1);
        for (int m = 0; m < K - 1; m++) {
            int j = row[m];
            ASSERT(j >= 0 && j < K && j != i, "conal_pcgrad_solve: orders[%d][%d] = %d", i, m,
                   j);

            // inner product of the running gradient with task j's original one
            double dot = 0.0;
            for (int k = 0; k < K; k++) {
                dot += a[k] * G[k * K + j];
            }
            double jj = G[j * K + j];
            if (dot < 0.0 && jj > 0.0) {
                a[j] -= dot / jj;
            }
        }
        for (int k = 0; k < K; k++) {
            c[k] += a[k];
        }
    }
}

// ---- CAGrad ----

// Dual objective at simplex weights w: w.gbar + ceff sqrt(w^T G w + eps),
// where gbar = G 1/K. Also returns w^T G w in *quad and, when grad is not
// NULL, the gradient with respect to w.
static double cagrad_objective(const double *G, const double *gbar, int K, double ceff,
                               const double *w, double *quad, double *grad) {
    double gw[CONAL_GRADMIX_MAX_TASKS];   // G w
    double lin = 0.0, q = 0.0;
    for (int i = 0; i < K; i++) {
        double s = 0.0;
        for (int j = 0; j < K; j++) {
            s += G[i * K + j] * w[j];
        }
        gw[i] = s;
        lin += w[i] * gbar[i];
    }
    for (int i = 0; i < K; i++) {
        q += w[i] * gw[i];
    }
    double root = sqrt(q + CAGRAD_EPS);
    if (grad) {
        for (int i = 0; i < K; i++) {
            grad[i] = gbar[i] + ceff * gw[i] / root;
        }
    }
    *quad = q;
    return lin + ceff * root;
}

// Softmax of K logits, shifted by their maximum for range safety.
static void softmax(const double *x, int K, double *y) {
    double mx = x[0];
    for (int i = 1; i < K; i++) {
        mx = x[i] > mx ? x[i] : mx;
    }
    double sum = 0.0;
    for (int i = 0; i < K; i++) {
        y[i] = exp(x[i] - mx);
        sum += y[i];
    }
    for (int i = 0; i < K; i++) {
        y[i] /= sum;
    }
}

// Checks the CAGrad settings, naming the bad field.
static void check_cagrad_config(const ConalCagradConfig *cfg) {
    ASSERT(isfinite(cfg->c) && cfg->c >= 0.0, "conal_cagrad_solve: c = %g, expected >= 0",
           cfg->c);
    ASSERT(cfg->n_iters >= 0, "conal_cagrad_solve: n_iters = %d, expected >= 0",
           cfg->n_iters);
    ASSERT(isfinite(cfg->lr) && cfg->lr > 0.0, "conal_cagrad_solve: lr = %g, expected > 0",
           cfg->lr);
    ASSERT(cfg->momentum >= 0.0 && cfg->momentum < 1.0,
           "conal_cagrad_solve: momentum = %g, expected in [0, 1)", cfg->momentum);
}

double conal_cagrad_solve(const double *G, int K, const ConalCagradConfig *cfg, double *c,
                          double *simplex_w) {
    check_tasks("conal_cagrad_solve", K);
    check_cagrad_config(cfg);

    // normalise G by the squared mean task norm, so the fixed learning rate
    // means the same for gradients of any size (as the reference does)
    double scale = 0.0;
    for (int i = 0; i < K; i++) {
        scale += sqrt(G[i * K + i] + CAGRAD_EPS);
    }
    scale /= K;
    double inv = 1.0 / (scale * scale);
    double gn[CONAL_GRADMIX_MAX_TASKS * CONAL_GRADMIX_MAX_TASKS];
    for (int i = 0; i < K * K; i++) {
        gn[i] = G[i] * inv;
    }

    // gbar = G 1/K, and |g0|^2 = mean of gbar
    double gbar[CONAL_GRADMIX_MAX_TASKS];
    double g0_sq = 0.0;
    for (int i = 0; i < K; i++) {
        double s = 0.0;
        for (int j = 0; j < K; j++) {
            s += gn[i * K + j];
        }
        gbar[i] = s / K;
        g0_sq += gbar[i] / K;
    }
    double ceff = cfg->c * sqrt(g0_sq + CAGRAD_EPS);

    // SGD with momentum on the logits x, w = softmax(x), keeping the best point
    double x[CONAL_GRADMIX_MAX_TASKS] = {0};
    double buf[CONAL_GRADMIX_MAX_TASKS] = {0};
    double w[CONAL_GRADMIX_MAX_TASKS], dw[CONAL_GRADMIX_MAX_TASKS];
    double best_w[CONAL_GRADMIX_MAX_TASKS];
    double best_obj = INFINITY, quad;
    for (int it = 0; it <= cfg->n_iters; it++) {
        softmax(x, K, w);
        double obj = cagrad_objective(gn, gbar, K, ceff, w, &quad, dw);
        if (obj < best_obj) {
            best_obj = obj;
            memcpy(best_w, w, sizeof(double) * (size_t)K);
        }
        if (it == cfg->n_iters) {
            break;
        }

        // chain rule through softmax: dx_i = w_i (dw_i - w.dw)
        double wdw = 0.0;
        for (int i = 0; i < K; i++) {
            wdw += w[i] * dw[i];
        }
        for (int i = 0; i < K; i++) {
            double gx = w[i] * (dw[i] - wdw);
            buf[i] = it == 0 ? gx : cfg->momentum * buf[i] + gx;
            x[i] -= cfg->lr * buf[i];
        }
    }

    // d = g0 + lambda g_w with lambda = c |g0| / |g_w|, as coefficients on D
    // (scaled by K, so the 1/K of g0 becomes 1)
    cagrad_objective(gn, gbar, K, ceff, best_w, &quad, NULL);
    double gw_norm = sqrt(quad + CAGRAD_EPS);
    double lambda = ceff / (gw_norm + CAGRAD_EPS);
    double rescale = cfg->rescale ? 1.0 / (1.0 + cfg->c * cfg->c) : 1.0;
    for (int i = 0; i < K; i++) {
        c[i] = (1.0 + K * lambda * best_w[i]) * rescale;
    }
    if (simplex_w) {
        memcpy(simplex_w, best_w, sizeof(double) * (size_t)K);
    }
    return best_obj;
}

// ---- one call for a trainer ----

void conal_gradmix_init(ConalGradMix *gm, ConalGradMixMethod method,
                        const ConalCagradConfig *cagrad, uint64_t seed) {
    ASSERT(method >= CONAL_GRADMIX_SUM && method <= CONAL_GRADMIX_CAGRAD,
           "conal_gradmix_init: unknown method %d", (int)method);
    gm->method = method;
    gm->cagrad = cagrad ? *cagrad : conal_cagrad_defaults();
    check_cagrad_config(&gm->cagrad);
    rng_init(&gm->rng, seed);
}

void conal_gradmix_weights(ConalGradMix *gm, int K, const double *G, double *c) {
    check_tasks("conal_gradmix_weights", K);
    int orders[CONAL_GRADMIX_MAX_TASKS * (CONAL_GRADMIX_MAX_TASKS - 1)];
    switch (gm->method) {
    case CONAL_GRADMIX_SUM:
        for (int k = 0; k < K; k++) {
            c[k] = 1.0;
        }
        break;
    case CONAL_GRADMIX_PCGRAD:
        conal_pcgrad_orders_sample(&gm->rng, K, orders);
        conal_pcgrad_solve(G, K, orders, c);
        break;
    case CONAL_GRADMIX_CAGRAD:
        conal_cagrad_solve(G, K, &gm->cagrad, c, NULL);
        break;
    default:
        ASSERT(0, "conal_gradmix_weights: unknown method %d", (int)gm->method);
    }
}

void conal_gradmix_apply(ConalGradMix *gm, int K, int n_seg, const float *const *d,
                         const size_t *n, float *const *out, double *c_out) {
    check_tasks("conal_gradmix_apply", K);
    ASSERT(n_seg >= 0, "conal_gradmix_apply: n_seg = %d", n_seg);

    // one weight vector for all segments, from the summed Gram matrix (the
    // plain sum needs none)
    double c[CONAL_GRADMIX_MAX_TASKS];
    double G[CONAL_GRADMIX_MAX_TASKS * CONAL_GRADMIX_MAX_TASKS];
    memset(G, 0, sizeof(double) * (size_t)(K * K));
    if (gm->method != CONAL_GRADMIX_SUM) {
        for (int s = 0; s < n_seg; s++) {
            conal_gram_accumulate(d[s], K, n[s], n[s], G);
        }
    }
    conal_gradmix_weights(gm, K, G, c);

    for (int s = 0; s < n_seg; s++) {
        conal_gradmix_combine(c, d[s], K, n[s], n[s], out[s]);
    }
    if (c_out) {
        memcpy(c_out, c, sizeof(double) * (size_t)K);
    }
}

void conal_gradmix_hook(void *ctx, int K, const double *G, int n_seg, const float *const *d,
                        const size_t *n, float *const *out) {
    ASSERT(ctx, "conal_gradmix_hook: combine_ctx is NULL, expected a ConalGradMix");
    check_tasks("conal_gradmix_hook", K);
    double c[CONAL_GRADMIX_MAX_TASKS];
    conal_gradmix_weights(ctx, K, G, c);
    for (int s = 0; s < n_seg; s++) {
        conal_gradmix_combine(c, d[s], K, n[s], n[s], out[s]);
    }
}
