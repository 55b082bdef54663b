// Gradient surgery in Gram space: PCGrad and CAGrad on K per-task gradients.
//
// Dimension letters: K tasks, n floats of one shared parameter segment.
//
// D is the K x n matrix whose row t is task t's gradient on the shared
// parameters. PCGrad and CAGrad combine the rows linearly, and every quantity
// they need is an inner product of rows, so both run on the K x K Gram matrix
// G = D D^T and return K combination weights c. The combined gradient is
// c^T D, one 1 x K by K x n product. The work besides the two products is
// O(K^3), independent of n.
//
// Shared parameters may live in several segments (one per layer, each with its
// own D). The Gram matrix of the whole shared block is the sum of the
// segments' Gram matrices, so callers accumulate G over all segments, compute
// c once and apply the same c to every segment.
//
// Scale convention: the rows are the per-task terms of the total gradient, so
// the plain update is the sum of the rows (c = 1). PCGrad sums the projected
// rows. CAGrad's direction is multiplied by K to match, so with radius 0 it
// equals the plain sum. The CAGrad reference returns the mean-based
// direction, a factor K smaller, which Adam cancels up to its epsilon.
//
// This module does not depend on SAC: conal/ must not include rl/ or envs/.
#ifndef CONAL_GRADMIX_H
#define CONAL_GRADMIX_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

// Largest K the fixed-size workspaces hold (MT50 fits).
#define CONAL_GRADMIX_MAX_TASKS 64

typedef enum ConalGradMixMethod {
    CONAL_GRADMIX_SUM = 0,    // plain sum of the task gradients
    CONAL_GRADMIX_PCGRAD,     // projecting conflicting gradients (Yu et al. 2020)
    CONAL_GRADMIX_CAGRAD,     // conflict-averse gradient descent (Liu et al. 2021)
} ConalGradMixMethod;

// CAGrad settings. The defaults are the CAGrad authors' MT10 setup in their
// mtrl fork (github.com/Cranial-XIX/CAGrad, mtrl/mtrl_files/run.sh and
// cagrad.py, method "cagrad"): c = 0.9, 20 SGD steps with learning rate 25
// and momentum 0.5 on the softmax logits of the simplex weights, and the
// 1/(1 + c^2) rescale. Their MT50 run uses c = 0.5 and learning rate 50.
typedef struct ConalCagradConfig {
    double c;          // radius of the ball around the mean gradient, >= 0
    int n_iters;       // SGD steps on the dual problem, >= 0
    double lr;         // SGD learning rate on the logits, > 0
    double momentum;   // SGD momentum in [0, 1)
    int rescale;       // 1 divides the direction by 1 + c^2
} ConalCagradConfig;

// The reference MT10 settings listed above.
ConalCagradConfig conal_cagrad_defaults(void);

// Parses "sum", "pcgrad" or "cagrad"; returns -1 for any other name.
int conal_gradmix_method_parse(const char *name);

// Config spelling of a method ("sum", "pcgrad", "cagrad").
const char *conal_gradmix_method_name(ConalGradMixMethod method);

// ---- products with D ----

// Adds D D^T to G (K x K, both triangles). D is K x n with row stride ld >= n
// floats. Products are summed in float within blocks of 256 columns and the
// block sums in double.
void conal_gram_accumulate(const float *D, int K, size_t n, size_t ld, double *G);

// Writes out (n) = c^T D, one sgemv over the K x n matrix D (row stride ld).
void conal_gradmix_combine(const double *c, const float *D, int K, size_t n, size_t ld,
                           float *out);

// ---- PCGrad ----

// Draws PCGrad's visiting orders: row i of orders (K x (K-1)) is a uniformly
// random permutation of the tasks other than i (Fisher-Yates with rng_below),
// drawn for i = 0..K-1 in turn.
void conal_pcgrad_orders_sample(RngState *rng, int K, int *orders);

// PCGrad weights c (K) from G (K x K) and the visiting orders. Task i starts
// from its own gradient and, for each j in row i of orders, projects its
// running gradient off task j's original gradient when their inner product is
// negative. The result is the sum of the K projected gradients, c^T D. A task
// whose gradient is zero (G[j][j] == 0) is never projected onto.
void conal_pcgrad_solve(const double *G, int K, const int *orders, double *c);

// ---- CAGrad ----

// CAGrad weights c (K) from G (K x K). With g0 = D^T 1/K the mean gradient
// and g_w = D^T w, the dual problem over the simplex,
//   min_w  g_w . g0 + c |g0| |g_w|  =  w^T G 1/K + c |g0| sqrt(w^T G w),
// is solved by SGD on softmax logits started at equal weights, keeping the
// best of the n_iters + 1 visited points. The direction is
//   d = g0 + (c |g0| / |g_w|) g_w,  divided by 1 + c^2 when rescale is set,
// returned as c^T D with c scaled by K (see the scale convention above).
// When simplex_w is not NULL it receives the best simplex weights (K).
// Returns the dual objective at those weights, in units of G normalised by
// the squared mean gradient norm as the reference does.
double conal_cagrad_solve(const double *G, int K, const ConalCagradConfig *cfg, double *c,
                          double *simplex_w);

// ---- one call for a trainer ----

typedef struct ConalGradMix {
    ConalGradMixMethod method;
    ConalCagradConfig cagrad;
    RngState rng;              // PCGrad's visiting orders; save it to resume exactly
} ConalGradMix;

// Sets the method, the CAGrad settings (NULL takes the defaults) and seeds rng.
void conal_gradmix_init(ConalGradMix *gm, ConalGradMixMethod method,
                        const ConalCagradConfig *cagrad, uint64_t seed);

// Combination weights c (K) of gm's method from the Gram matrix G (K x K)
// summed over all shared segments: all ones for CONAL_GRADMIX_SUM, PCGrad
// with fresh orders from gm->rng, or CAGrad. For callers that already hold
// G, e.g. from a pass over D fused into the backward; the combined gradient
// of each segment is then conal_gradmix_combine(c, D, ...).
void conal_gradmix_weights(ConalGradMix *gm, int K, const double *G, double *c);

// Combines per-task gradients over n_seg shared segments. Segment s is
// d[s] (K x n[s], rows contiguous); its combined gradient is written to
// out[s] (n[s]), which must not overlap d[s]. All segments share one weight
// vector, computed from the Gram matrix summed over segments; it is copied to
// c_out (K) when not NULL. PCGrad draws fresh orders from gm->rng per call.
void conal_gradmix_apply(ConalGradMix *gm, int K, int n_seg, const float *const *d,
                         const size_t *n, float *const *out, double *c_out);

// conal_gradmix_apply in the shape of the supernet's combine hook
// (ConalCombineFn in conal/supernet.h), with the Gram matrix G summed over
// the segments given instead of computed: ctx is a ConalGradMix. Set
// net->combine to this and net->combine_ctx to the ConalGradMix to run
// PCGrad or CAGrad on a CoNAL network's shared modules.
void conal_gradmix_hook(void *ctx, int K, const double *G, int n_seg, const float *const *d,
                        const size_t *n, float *const *out);

#endif
