// Parameter-block operations and the Adam optimiser, each one loop over n.
#include "nn/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"

int nn_params_init(NnParamSet *set, size_t n, int with_target) {
    memset(set, 0, sizeof *set);
    ASSERT(n > 0, "parameter set must hold at least one float");
    set->n = n;
    set->w = calloc(n, sizeof(float));
    set->g = calloc(n, sizeof(float));
    set->m = calloc(n, sizeof(float));
    set->v = calloc(n, sizeof(float));
    set->target = with_target ? calloc(n, sizeof(float)) : NULL;
    if (!set->w || !set->g || !set->m || !set->v || (with_target && !set->target)) {
        nn_params_deinit(set);
        return ERR_NOMEM;
    }
    return ERR_OK;
}

void nn_params_deinit(NnParamSet *set) {
    free(set->w);
    free(set->g);
    free(set->m);
    free(set->v);
    free(set->target);
    memset(set, 0, sizeof *set);
}

NnAdamConfig nn_adam_defaults(void) {
    NnAdamConfig cfg = {
        .lr = 1e-3f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .weight_decay = 0.0f,
    };
    return cfg;
}

typedef struct AdamPass {
    float *w, *m, *v;
    const float *g;
    float step_size, sqrt_bc2, decay, b1, b2, eps;
} AdamPass;

static void adam_range(void *ctx, size_t lo, size_t hi) {
    const AdamPass *p = ctx;
    float *w = p->w, *m = p->m, *v = p->v;
    const float *g = p->g;
    float b1 = p->b1, b2 = p->b2, eps = p->eps;
    float step_size = p->step_size, sqrt_bc2 = p->sqrt_bc2, decay = p->decay;

    // the same order of operations as torch.optim.Adam / AdamW (PyTorch 1.13):
    // decoupled decay first, then w -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
    for (size_t i = lo; i < hi; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / sqrt_bc2 + eps;
        w[i] = w[i] * decay - step_size * m[i] / denom;
    }
}

void nn_adam_update(const NnAdamConfig *cfg, long step, float *w, const float *g, float *m,
                    float *v, size_t n) {
    ASSERT(step >= 1, "Adam step count %ld must be at least 1", step);

    // bias corrections in double: beta^step underflows slowly, but 1 - beta^t
    // for small t loses digits in float (Kingma and Ba 2015, Algorithm 1)
    double bc1 = 1.0 - pow((double)cfg->beta1, (double)step);
    double bc2 = 1.0 - pow((double)cfg->beta2, (double)step);
    AdamPass p = {
        .w = w,
        .m = m,
        .v = v,
        .g = g,
        .step_size = (float)((double)cfg->lr / bc1),
        .sqrt_bc2 = (float)sqrt(bc2),
        .decay = 1.0f - cfg->lr * cfg->weight_decay,
        .b1 = cfg->beta1,
        .b2 = cfg->beta2,
        .eps = cfg->eps,
    };
    nn_parallel_ranges(adam_range, &p, n, n);
}

void nn_params_zero_grad(NnParamSet *set) {
    memset(set->g, 0, set->n * sizeof *set->g);
}

typedef struct PolyakPass {
    float *target;
    const float *w;
    float tau;
} PolyakPass;

static void polyak_range(void *ctx, size_t lo, size_t hi) {
    const PolyakPass *p = ctx;
    float tau = p->tau, keep = 1.0f - p->tau;
    float *target = p->target;
    const float *w = p->w;
    for (size_t i = lo; i < hi; i++) {
        target[i] = tau * w[i] + keep * target[i];
    }
}

void nn_params_polyak(NnParamSet *set, float tau) {
    ASSERT(set->target, "Polyak update on a parameter set without a target copy");
    ASSERT(tau >= 0.0f && tau <= 1.0f, "Polyak tau %g outside [0, 1]", (double)tau);
    PolyakPass p = {set->target, set->w, tau};
    nn_parallel_ranges(polyak_range, &p, set->n, set->n);
}

void nn_params_copy_to_target(NnParamSet *set) {
    ASSERT(set->target, "target copy requested on a parameter set without one");
    memcpy(set->target, set->w, set->n * sizeof *set->w);
}

double nn_grad_norm(const float *g, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += (double)g[i] * (double)g[i];
    }
    return sqrt(sum);
}

double nn_grad_clip(float *g, size_t n, double max_norm) {
    double norm = nn_grad_norm(g, n);

    // a non-finite norm is left for the caller to detect (nn_all_finite):
    // scaling by it would turn every gradient into NaN or zero
    if (max_norm > 0.0 && isfinite(norm) && norm > max_norm) {
        float scale = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++) {
            g[i] *= scale;
        }
    }
    return norm;
}

int nn_all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            return 0;
        }
    }
    return 1;
}
