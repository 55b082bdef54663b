// Dense module for CoNAL supernets: one sgemm per product, row-major.
//
// The code spells the dimensions n_in and n_out because cblas.h includes
// <complex.h>, which defines I. This file holds only the dense type; conv
// blocks add their own ConalModuleOps elsewhere.
#include "conal/module.h"

#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"
#include "nn/linear.h"

// Floats of W (O x I) and b (O).
static size_t dense_n_params(const ConalModule *m) {
    return nn_linear_n_params(m->n_in, m->n_out);
}

// torch.nn.Linear's default init, shared with nn/linear.c.
static void dense_init(const ConalModule *m, float *w, RngState *rng) {
    NnLinear layer;
    nn_linear_bind(&layer, m->n_in, m->n_out, w, NULL);
    nn_linear_init(&layer, rng);
}

// y = act(x W^T + b).
static void dense_forward(const ConalModule *m, const float *w, const float *x, float *y,
                          int rows) {
    int n_in = m->n_in, n_out = m->n_out;
    const float *bias = w + (size_t)n_out * (size_t)n_in;
    ASSERT(rows > 0, "dense %d -> %d: rows %d must be positive", n_in, n_out, rows);

    nn_dense_forward_act(w, bias, n_in, n_out, x, y, rows, m->act);
}

// dW = beta dW + dz^T x and db = beta db + colsum(dz) over rows into one
// gradient slot; beta is 1 (add) or 0 (overwrite).
static void dense_param_grad(int n_in, int n_out, const float *x, const float *dz, float *gw,
                             int rows, float beta) {
    float *gb = gw + (size_t)n_out * (size_t)n_in;
    nn_sgemm(1, 0, n_out, n_in, rows, 1.0f, dz, n_out, x, n_in, beta, gw, n_in);
    if (beta == 0.0f) {
        memset(gb, 0, (size_t)n_out * sizeof *gb);
    }
    nn_dense_bias_grad(gb, dz, rows, n_out);
}

// One parallel job over row blocks, each writing its own gradient slot.
typedef struct BlockGrads {
    int n_in, n_out, block_rows;
    const float *x, *dz;
    float *gw;
    size_t gw_stride;
} BlockGrads;

static void block_grad_item(void *ctx, int i) {
    const BlockGrads *job = ctx;
    size_t row0 = (size_t)i * (size_t)job->block_rows;
    dense_param_grad(job->n_in, job->n_out, job->x + row0 * (size_t)job->n_in,
                     job->dz + row0 * (size_t)job->n_out, job->gw + (size_t)i * job->gw_stride,
                     job->block_rows, 0.0f);
}

// Backward of act(x W^T + b); dz overwrites dy.
static void dense_backward(const ConalModule *m, const float *w, const float *x,
                           const float *y, float *dy, float *dx, float *gw, size_t gw_stride,
                           int n_blocks, int block_rows) {
    int n_in = m->n_in, n_out = m->n_out;
    int rows = n_blocks * block_rows;
    ASSERT(n_blocks > 0 && block_rows > 0, "dense %d -> %d: %d blocks of %d rows", n_in,
           n_out, n_blocks, block_rows);

    // dz = dy * act'(.) from the cached output
    nn_activation_backward(m->act, y, dy, dy, (size_t)rows * (size_t)n_out);

    // parameter gradients: one sgemm over all rows (added), or one per block
    // (overwritten, see conal_dense_ops in module.h)
    if (gw && gw_stride == 0) {
        dense_param_grad(n_in, n_out, x, dy, gw, rows, 1.0f);
    } else if (gw) {
        BlockGrads job = {n_in, n_out, block_rows, x, dy, gw, gw_stride};
        nn_parallel_run(block_grad_item, &job, n_blocks);
    }

    // dx (rows x I) = dz (rows x O) W (O x I)
    if (dx) {
        nn_sgemm(0, 0, rows, n_in, n_out, 1.0f, dy, n_out, w, n_in, 0.0f, dx, n_in);
    }
}

// 2 FLOPs per multiply-add of x W^T.
static double dense_flops_forward(const ConalModule *m, int rows) {
    return 2.0 * (double)rows * (double)m->n_in * (double)m->n_out;
}

const ConalModuleOps conal_dense_ops = {
    .name = "dense",
    .n_params = dense_n_params,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .flops_forward = dense_flops_forward,
};

ConalModule conal_dense_module(int n_in, int n_out, NnActivation act) {
    ASSERT(n_in > 0 && n_out > 0, "invalid dense module shape %d -> %d", n_in, n_out);
    ConalModule m = {&conal_dense_ops, n_in, n_out, act, NULL};
    return m;
}
