// Multi-layer perceptron whose parameters live in one contiguous block.
//
// Dimension letters: B batch rows, L layers, sizes[0] input, sizes[L] output.
// Layer l maps sizes[l] -> sizes[l+1]; hidden layers use `hidden_act`, the
// last uses `out_act`. The parameter block holds, in order, W0 b0 W1 b1 ...;
// the gradient block has the same layout, and so do Adam moments and target
// copies kept by the owner (NnParamSet), so Polyak averaging, zeroing,
// clipping, copying and checkpointing are single loops over n_params floats.
// Activations are cached inside the MLP for the last forward call, sized for
// max_batch rows at create time; forward and backward never allocate.
#ifndef NN_MLP_H
#define NN_MLP_H

#include <stddef.h>

#include "common/rng.h"
#include "nn/activation.h"
#include "nn/linear.h"

#define NN_MLP_MAX_LAYERS 8

typedef struct NnMlp {
    int n_layers;                          // L
    int sizes[NN_MLP_MAX_LAYERS + 1];      // layer widths, input first
    NnActivation hidden_act;
    NnActivation out_act;
    int max_batch;                         // rows the workspace holds
    size_t n_params;                       // floats in each block
    float *params;                         // (n_params) owned unless borrowed
    float *grads;                          // (n_params) owned unless borrowed
    int borrowed;                          // 1 when params/grads belong to a caller
    NnLinear layers[NN_MLP_MAX_LAYERS];    // views into params and grads
    float *acts[NN_MLP_MAX_LAYERS + 1];    // (max_batch x sizes[l]) acts[0] = last input
    float *dtmp[2];                        // (max_batch x max width) backward scratch
    float *workspace;                      // owned: acts and dtmp point into it
} NnMlp;

// Floats needed for the parameters of an MLP with these sizes.
size_t nn_mlp_count_params(const int *sizes, int n_sizes);

// Creates an MLP with n_sizes - 1 layers. When params and grads are NULL the
// MLP allocates its own blocks; otherwise it binds into the caller's blocks
// (each at least nn_mlp_count_params floats), which lets several networks
// share one optimiser block. With caller params, grads may be NULL for a
// forward-only network (a target copy), whose backward then fails an ASSERT.
// Returns NULL, after logging the bad value, on invalid sizes, max_batch < 1,
// grads without params, or allocation failure.
NnMlp *nn_mlp_create(const int *sizes, int n_sizes, NnActivation hidden_act,
                     NnActivation out_act, int max_batch, float *params, float *grads);
void nn_mlp_destroy(NnMlp *mlp);

// PyTorch default init of every layer, drawing from rng in layer order.
void nn_mlp_init(NnMlp *mlp, RngState *rng);

// Runs x (B x sizes[0]) through the network, caching activations. Returns the
// output (B x sizes[L]), valid until the next forward call. B <= max_batch.
const float *nn_mlp_forward(NnMlp *mlp, const float *x, int B);

// Backpropagates dy (B x sizes[L]) through the last forward call: gradients
// accumulate into mlp->grads; dx (B x sizes[0]) is written when not NULL.
void nn_mlp_backward(NnMlp *mlp, const float *dy, float *dx, int B);

// FLOPs of one forward (2*B*sum I*O) and of forward+backward (3x that, or
// 2x + dx when needed); used by benchmarks to report GFLOP/s.
double nn_mlp_flops_forward(const NnMlp *mlp, int B);

// FLOPs of one backward: 2*B*I*O for every dW, the same for every dx that is
// computed (layers 1..L-1, and layer 0 when with_dx).
double nn_mlp_flops_backward(const NnMlp *mlp, int B, int with_dx);

#endif
