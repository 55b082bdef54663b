// 2-D convolution, NCHW, PyTorch layout.
//
// Dimension letters: B batch, C input channels, F output channels (filters),
// H x W input size, P x Q output size, K kernel size (square).
// W is stored (F x C x K x K) as torch.nn.Conv2d does, so weights compare
// one-to-one with PyTorch. Three paths compute the same sums:
// - Winograd (3x3 kernels, stride 1, padding 1, 16 or more channels and
//   filters, CPUs with AVX-512F): nn/winograd.h computes each 2x2 block of
//   outputs with 16 multiplies per channel and filter instead of 36. Its
//   sums run in another order, so results differ from the other paths by
//   rounding.
// - direct (other stride-1 layers with pad < K, CPUs with AVX-512F): each
//   image, or each band of rows of a large image, is copied into
//   zero-padded blocks (K copies shifted by one kernel column each for
//   forward), and AVX-512 kernels run the convolution, the weight gradient
//   (vectorised over filters on a transposed dy when there are 32 or more)
//   and the input gradient (a convolution of dy with the flipped weights)
//   over them. The bias is added after the sum of the taps, as sgemm with
//   beta 1 did before.
// - im2col (every other layer): for each image the input is unfolded into a
//   column matrix (C*K*K x P*Q) and the output is one sgemm:
//   y (F x P*Q) = W col + b. Backward unfolds the input again instead of
//   keeping the columns of forward, because keeping them for a whole batch
//   measured slower in conv_bench.
// Groups of small images, single large images, or bands of them run as
// independent items on the nn/gemm.h team (nn_threads_set), with results
// that do not depend on the thread count.
// Zero padding is the same on all four sides. Like NnLinear, the layer owns
// no memory: W, b, dW, db point into the owner's parameter and gradient
// blocks, and the scratch comes from the caller.
#ifndef NN_CONV_H
#define NN_CONV_H

#include <stddef.h>

#include "common/rng.h"

typedef struct NnConv2d {
    int n_in;      // C
    int n_out;     // F
    int kernel;    // K
    int stride;
    int pad;
    float *w;      // (F x C x K x K) borrowed: owned by the network's parameter block
    float *b;      // (F)             borrowed
    float *dw;     // (F x C x K x K) borrowed: owned by the network's gradient block
    float *db;     // (F)             borrowed
} NnConv2d;

// Floats a layer needs in a parameter block: F*C*K*K + F.
size_t nn_conv2d_n_params(int n_in, int n_out, int kernel);

// Points the layer's fields into the blocks (W first, then b). Asserts on
// non-positive sizes, a stride below 1 or a negative padding.
void nn_conv2d_bind(NnConv2d *conv, int n_in, int n_out, int kernel, int stride, int pad,
                    float *params, float *grads);

// Output length along one axis: (in + 2 pad - K) / stride + 1. Asserts that
// the kernel fits the padded input.
int nn_conv2d_out_size(const NnConv2d *conv, int in);

// Returns the floats of scratch that forward and backward need for B images
// (or fewer) of H x W on up to `threads` threads (pass nn_threads() of the
// calls to come). That is a working block per thread (columns and staging,
// or padded copies and stages), the packed weights of the direct path, and
// per work item room for a part of the weight and bias gradients.
size_t nn_conv2d_scratch_size(const NnConv2d *conv, int B, int H, int W, int threads);

// PyTorch's default Conv2d init: W and b uniform in +-1/sqrt(C*K*K).
void nn_conv2d_init(NnConv2d *conv, RngState *rng);

// y (B x F x P x Q) = conv(x (B x C x H x W)) + b. scratch has room for
// nn_conv2d_scratch_size(conv, B, H, W, nn_threads()) floats.
void nn_conv2d_forward(const NnConv2d *conv, const float *x, float *y, int B, int H, int W,
                       float *scratch);

// Given dy (B x F x P x Q): dW += sum_b dy_b col_b^T, db += sums of dy over
// B, P and Q, and, when dx is not NULL, dx (B x C x H x W) is overwritten
// with the input gradient. scratch as for forward.
void nn_conv2d_backward(NnConv2d *conv, const float *x, const float *dy, float *dx, int B,
                        int H, int W, float *scratch);

// FLOPs of one forward pass over B images (2 * B * F * C*K*K * P*Q).
double nn_conv2d_flops_forward(const NnConv2d *conv, int B, int H, int W);

#endif
