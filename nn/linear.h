// Dense layer on OpenBLAS sgemm, row-major, PyTorch weight layout.
//
// Dimension letters: B batch rows, I input features, O output features.
// Y = X W^T + b with W stored (O x I) as torch.nn.Linear does, so weights
// compare one-to-one with PyTorch references. Every matrix product is one
// sgemm call with transpose flags, so nothing is copied or transposed.
// The layer does not own memory: W, b, dW, db point into the parameter and
// gradient blocks of the network that owns them.
#ifndef NN_LINEAR_H
#define NN_LINEAR_H

#include <stddef.h>

#include "common/rng.h"
#include "nn/activation.h"

typedef struct NnLinear {
    int n_in;     // I
    int n_out;    // O
    float *w;     // (O x I) borrowed: owned by the network's parameter block
    float *b;     // (O)     borrowed
    float *dw;    // (O x I) borrowed: owned by the network's gradient block
    float *db;    // (O)     borrowed
} NnLinear;

// Number of floats a layer needs in a parameter block: O*I + O.
size_t nn_linear_n_params(int n_in, int n_out);

// Points the layer's fields into blocks at the given float offset.
void nn_linear_bind(NnLinear *layer, int n_in, int n_out, float *params, float *grads);

// PyTorch's default nn.Linear init: W and b uniform in +-1/sqrt(I)
// (kaiming_uniform with a = sqrt(5) reduces to this bound for W).
void nn_linear_init(NnLinear *layer, RngState *rng);

// y (B x O) = x (B x I) W^T + b.
void nn_linear_forward(const NnLinear *layer, const float *x, float *y, int B);

// y = act(x W^T + b): the bias and the activation in one pass over y after
// the product, which saves a pass over memory on every hidden layer.
void nn_linear_forward_act(const NnLinear *layer, const float *x, float *y, int B,
                           NnActivation act);

// The same on raw blocks: w (O x I) and b (O) need not belong to an NnLinear.
void nn_dense_forward_act(const float *w, const float *b, int n_in, int n_out, const float *x,
                          float *y, int B, NnActivation act);

// db (O) += column sums of dy (B x O), summed row by row in order.
void nn_dense_bias_grad(float *db, const float *dy, int B, int n_out);

// Given dy (B x O): dW += dy^T x, db += colsum(dy), and if dx is not NULL
// dx (B x I) = dy W (overwritten, not accumulated).
void nn_linear_backward(NnLinear *layer, const float *x, const float *dy, float *dx, int B);

#endif
