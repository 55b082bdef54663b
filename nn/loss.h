// Losses: mean-squared error and the math Soft Actor-Critic needs.
//
// Dimension letters: B batch rows, A action dimensions.
// SAC itself (critic targets, actor and temperature objectives) lives in rl/;
// this file holds the differentiable pieces, each with a backward pass.
#ifndef NN_LOSS_H
#define NN_LOSS_H

#include <stddef.h>

// mean((pred - target)^2) over n elements; when dpred is not NULL it receives
// scale * d loss / d pred = scale * 2 (pred - target) / n.
float nn_mse_forward_backward(const float *pred, const float *target, size_t n, float scale,
                              float *dpred);

// Tanh-squashed diagonal Gaussian policy (one row = one state).
//   log_std = lo + (hi - lo) * (tanh(raw) + 1) / 2   (bounded, smooth)
//   u = mean + exp(log_std) * eps,  action = tanh(u)
//   logp = sum_j [ -eps_j^2 / 2 - log_std_j - log(2 pi) / 2 - log(1 - tanh(u_j)^2) ]
// with log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), finite for any u.
typedef struct NnTanhGaussian {
    int A;                 // action dimensions
    float log_std_min;     // lo
    float log_std_max;     // hi
} NnTanhGaussian;

// Per-row cache of the forward pass needed by the backward pass.
typedef struct NnTanhGaussianCache {
    float *log_std;   // (B x A)
    float *eps;       // (B x A) noise used
    float *u;         // (B x A) pre-squash sample
    float *action;    // (B x A)
} NnTanhGaussianCache;

// Samples actions for B rows. head is (B x 2A): mean in columns [0, A),
// raw log-std in [A, 2A). eps (B x A) is standard normal noise supplied by
// the caller (so runs are reproducible). Writes cache fields and logp (B).
void nn_tanh_gaussian_forward(const NnTanhGaussian *tg, const float *head, const float *eps,
                              int B, NnTanhGaussianCache *cache, float *logp);

// Backward pass: given dL/daction (B x A) and dL/dlogp (B), writes
// dL/dhead (B x 2A) (overwritten). Either input may be NULL (taken as zero).
void nn_tanh_gaussian_backward(const NnTanhGaussian *tg, const float *head,
                               const NnTanhGaussianCache *cache, const float *daction,
                               const float *dlogp, int B, float *dhead);

// Deterministic action tanh(mean) for B rows (evaluation).
void nn_tanh_gaussian_mean_action(const NnTanhGaussian *tg, const float *head, int B,
                                  float *action);

#endif
