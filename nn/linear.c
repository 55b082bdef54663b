// Dense layer: every product is one nn_sgemm call on row-major data, with
// the transpose flags doing the work of W^T and dy^T.
//
// The code spells I and O as n_in and n_out because OpenBLAS's cblas.h pulls
// in <complex.h>, which defines I as the imaginary unit.
#include "nn/linear.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"

size_t nn_linear_n_params(int n_in, int n_out) {
    ASSERT(n_in > 0 && n_out > 0, "invalid layer shape %d -> %d", n_in, n_out);
    return (size_t)n_out * (size_t)n_in + (size_t)n_out;
}

void nn_linear_bind(NnLinear *layer, int n_in, int n_out, float *params, float *grads) {
    ASSERT(params, "parameter block is NULL");
    ASSERT(n_in > 0 && n_out > 0, "invalid layer shape %d -> %d", n_in, n_out);
    size_t n_weights = (size_t)n_out * (size_t)n_in;
    layer->n_in = n_in;
    layer->n_out = n_out;
    layer->w = params;
    layer->b = params + n_weights;

    // a network without gradients (e.g. a target copy) binds grads = NULL
    layer->dw = grads;
    layer->db = grads ? grads + n_weights : NULL;
}

void nn_linear_init(NnLinear *layer, RngState *rng) {
    // torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives
    // bound = sqrt(6 / ((1 + a^2) I)) = 1/sqrt(I) for W, and b uses 1/sqrt(I)
    double bound = 1.0 / sqrt((double)layer->n_in);
    size_t n_weights = (size_t)layer->n_out * (size_t)layer->n_in;
    for (size_t i = 0; i < n_weights; i++) {
        layer->w[i] = (float)rng_range(rng, -bound, bound);
    }
    for (int o = 0; o < layer->n_out; o++) {
        layer->b[o] = (float)rng_range(rng, -bound, bound);
    }
}

typedef struct BiasPass {
    const float *b;
    float *y;
    size_t n_out;
    NnActivation act;
} BiasPass;

// y = act(y + b) on rows lo..hi-1. Each row is still in cache when its
// activation runs.
static void bias_act_rows(void *ctx, size_t lo, size_t hi) {
    const BiasPass *p = ctx;
    size_t n_out = p->n_out;
    const float *b = p->b;
    for (size_t r = lo; r < hi; r++) {
        float *y = p->y + r * n_out;
        for (size_t o = 0; o < n_out; o++) {
            y[o] += b[o];
        }
        nn_activation_forward(p->act, y, y, n_out);
    }
}

void nn_dense_forward_act(const float *w, const float *b, int n_in, int n_out, const float *x,
                          float *y, int B, NnActivation act) {
    ASSERT(B > 0, "batch size %d must be positive", B);
    ASSERT(act == NN_ACT_NONE || act == NN_ACT_RELU || act == NN_ACT_TANH,
           "invalid activation %d", (int)act);
    nn_sgemm(0, 1, B, n_out, n_in, 1.0f, x, n_in, w, n_in, 0.0f, y, n_out);
    BiasPass p = {b, y, (size_t)n_out, act};
    nn_parallel_ranges(bias_act_rows, &p, (size_t)B, (size_t)B * (size_t)n_out);
}

void nn_linear_forward_act(const NnLinear *layer, const float *x, float *y, int B,
                           NnActivation act) {
    nn_dense_forward_act(layer->w, layer->b, layer->n_in, layer->n_out, x, y, B, act);
}

void nn_linear_forward(const NnLinear *layer, const float *x, float *y, int B) {
    nn_linear_forward_act(layer, x, y, B, NN_ACT_NONE);
}

typedef struct ColSums {
    float *db;
    const float *dy;
    int rows, n_out;
} ColSums;

// db[lo..hi-1] += column sums of dy, row by row so the inner loop vectorises.
static void col_sums(void *ctx, size_t lo, size_t hi) {
    const ColSums *p = ctx;
    float *db = p->db;
    for (int r = 0; r < p->rows; r++) {
        const float *row = p->dy + (size_t)r * (size_t)p->n_out;
        for (size_t o = lo; o < hi; o++) {
            db[o] += row[o];
        }
    }
}

void nn_dense_bias_grad(float *db, const float *dy, int B, int n_out) {
    ColSums sums = {db, dy, B, n_out};
    nn_parallel_ranges(col_sums, &sums, (size_t)n_out, (size_t)B * (size_t)n_out);
}

void nn_linear_backward(NnLinear *layer, const float *x, const float *dy, float *dx, int B) {
    int n_in = layer->n_in, n_out = layer->n_out;
    ASSERT(B > 0, "batch size %d must be positive", B);
    ASSERT(layer->dw && layer->db, "layer %d -> %d has no gradient block bound", n_in, n_out);

    // dW (O x I) += dy^T (O x B) x (B x I)
    nn_sgemm(1, 0, n_out, n_in, B, 1.0f, dy, n_out, x, n_in, 1.0f, layer->dw, n_in);

    nn_dense_bias_grad(layer->db, dy, B, n_out);

    // dx (B x I) = dy (B x O) W (O x I)
    if (dx) {
        nn_sgemm(0, 0, B, n_in, n_out, 1.0f, dy, n_out, layer->w, n_in, 0.0f, dx, n_in);
    }
}
