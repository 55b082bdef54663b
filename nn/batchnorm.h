// Batch normalisation over channels of NCHW tensors (torch.nn.BatchNorm2d).
//
// Dimension letters: B batch, C channels, H x W spatial size, N = B*H*W.
// Training mode normalises each channel with the mean and biased variance
// of the batch and updates the running statistics with momentum m:
//   run = (1 - m) run + m stat, where the running variance takes the
//   unbiased batch variance (N / (N - 1)), as PyTorch does.
// Evaluation mode uses the running statistics. gamma and beta are
// parameters in the owner's blocks. The running statistics and the batch
// statistics cached for backward live in a separate state block of
// nn_batchnorm2d_n_state(C) floats, which the owner keeps and checkpoints.
#ifndef NN_BATCHNORM_H
#define NN_BATCHNORM_H

#include <stddef.h>

typedef struct NnBatchNorm2d {
    int n_ch;             // C
    float momentum;       // 0.1 as in PyTorch
    float eps;            // 1e-5 as in PyTorch
    float *gamma;         // (C) borrowed: owner's parameter block
    float *beta;          // (C) borrowed
    float *dgamma;        // (C) borrowed: owner's gradient block
    float *dbeta;         // (C) borrowed
    float *run_mean;      // (C) borrowed: owner's state block
    float *run_var;       // (C) borrowed
    float *mean;          // (C) borrowed: batch mean of the last training forward
    float *inv_std;       // (C) borrowed: 1 / sqrt(var + eps) of the last forward
} NnBatchNorm2d;

// Floats in the parameter block (gamma, beta) and in the state block.
size_t nn_batchnorm2d_n_params(int n_ch);
size_t nn_batchnorm2d_n_state(int n_ch);

// Binds the fields: params contains gamma then beta, grads has the same
// layout, and state contains run_mean, run_var, mean and inv_std.
void nn_batchnorm2d_bind(NnBatchNorm2d *bn, int n_ch, float *params, float *grads,
                         float *state);

// gamma = 1, beta = 0, running mean 0 and variance 1 (PyTorch's reset).
void nn_batchnorm2d_init(NnBatchNorm2d *bn);

// y (B x C x H x W) = gamma (x - mu) / sqrt(var + eps) + beta. With
// training = 1, mu and var come from the batch (N must be at least 2) and
// the running statistics are updated; with 0 they are the running ones.
// x and y may alias only in evaluation mode.
void nn_batchnorm2d_forward(NnBatchNorm2d *bn, const float *x, float *y, int B, int H, int W,
                            int training);

// Backward pass of the last training-mode forward on x: dgamma and dbeta
// accumulate (unless bound to NULL) and, when dx is not NULL, dx
// (B x C x H x W) is overwritten. dx may alias dy.
void nn_batchnorm2d_backward(NnBatchNorm2d *bn, const float *x, const float *dy, float *dx,
                             int B, int H, int W);

#endif
