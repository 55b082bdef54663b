// Operations on contiguous parameter blocks and Adam.
//
// An NnParamSet is the training state of one or more networks laid out in one
// block: parameters, gradients, Adam's first and second moments and an
// optional target copy, all n floats with the same layout. Each operation is a
// single loop. The Adam step count is passed in by the caller, so callers that
// skip updates for some ranges (conflict noticing) keep one count per range.
#ifndef NN_PARAMS_H
#define NN_PARAMS_H

#include <stddef.h>

typedef struct NnParamSet {
    size_t n;          // floats in each block
    float *w;          // (n) parameters
    float *g;          // (n) gradients
    float *m;          // (n) Adam first moment
    float *v;          // (n) Adam second moment
    float *target;     // (n) target copy, NULL when not kept
} NnParamSet;

// Allocates all blocks zeroed (target only when with_target). Returns 0 or
// ERR_NOMEM.
int nn_params_init(NnParamSet *set, size_t n, int with_target);
void nn_params_deinit(NnParamSet *set);

typedef struct NnAdamConfig {
    float lr;              // learning rate
    float beta1;           // 0.9
    float beta2;           // 0.999
    float eps;             // 1e-8
    float weight_decay;    // decoupled (AdamW) decay, 0 disables
} NnAdamConfig;

// Defaults of torch.optim.Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay.
NnAdamConfig nn_adam_defaults(void);

// One bias-corrected Adam step on n floats, where step is the 1-based count
// of updates applied to this range so far including this one (step < 1
// fails an ASSERT). With weight_decay > 0 it is AdamW: w *= 1 - lr * decay
// before the update, in the operation order of torch.optim.AdamW.
void nn_adam_update(const NnAdamConfig *cfg, long step, float *w, const float *g, float *m,
                    float *v, size_t n);

// g = 0 over the block.
void nn_params_zero_grad(NnParamSet *set);

// target = tau * w + (1 - tau) * target (Polyak averaging).
void nn_params_polyak(NnParamSet *set, float tau);

// target = w.
void nn_params_copy_to_target(NnParamSet *set);

// Global L2 norm of g over [offset, offset + n).
double nn_grad_norm(const float *g, size_t n);

// Scales g so its global norm is at most max_norm; returns the norm before
// clipping. max_norm <= 0 disables clipping. A NaN or infinite norm leaves g
// unchanged, so the caller can detect it with nn_all_finite and skip the step.
double nn_grad_clip(float *g, size_t n, double max_norm);

// 1 if every float in x is finite.
int nn_all_finite(const float *x, size_t n);

#endif
