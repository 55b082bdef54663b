// Dense layer: every product is one cblas_sgemm call on row-major data, with
// the transpose flags doing the work of W^T and dy^T.
//
// The code spells I and O as n_in and n_out because OpenBLAS's cblas.h pulls
// in <complex.h>, which defines I as the imaginary unit.
#include "nn/linear.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "common/error.h"

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

void nn_linear_forward(const NnLinear *layer, const float *x, float *y, int B) {
    int n_in = layer->n_in, n_out = layer->n_out;
    ASSERT(B > 0, "batch size %d must be positive", B);

    // y = b broadcast over rows, then y += x W^T in one sgemm (beta = 1)
    for (int r = 0; r < B; r++) {
        memcpy(y + (size_t)r * (size_t)n_out, layer->b, (size_t)n_out * sizeof *y);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_out, n_in, 1.0f, x, n_in,
                layer->w, n_in, 1.0f, y, n_out);
}

void nn_linear_backward(NnLinear *layer, const float *x, const float *dy, float *dx, int B) {
    int n_in = layer->n_in, n_out = layer->n_out;
    ASSERT(B > 0, "batch size %d must be positive", B);
    ASSERT(layer->dw && layer->db, "layer %d -> %d has no gradient block bound", n_in, n_out);

    // dW (O x I) += dy^T (O x B) x (B x I)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, B, 1.0f, dy, n_out, x,
                n_in, 1.0f, layer->dw, n_in);

    // db += column sums of dy, row by row so the inner loop vectorises
    for (int r = 0; r < B; r++) {
        const float *row = dy + (size_t)r * (size_t)n_out;
        for (int o = 0; o < n_out; o++) {
            layer->db[o] += row[o];
        }
    }

    // dx (B x I) = dy (B x O) W (O x I)
    if (dx) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n_in, n_out, 1.0f, dy, n_out,
                    layer->w, n_in, 0.0f, dx, n_in);
    }
}
