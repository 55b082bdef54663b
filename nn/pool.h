// Max pooling over square windows, NCHW, without padding.
//
// Dimension letters: B batch, C channels, H x W input, P x Q output,
// K window size. The forward pass records the flat input index of each
// window's maximum, so the backward pass routes dy to exactly that element
// (the first maximum on ties, as PyTorch does).
#ifndef NN_POOL_H
#define NN_POOL_H

typedef struct NnMaxPool2d {
    int kernel;    // K
    int stride;
} NnMaxPool2d;

// Output length along one axis: (in - K) / stride + 1; asserts in >= K.
int nn_maxpool2d_out_size(const NnMaxPool2d *pool, int in);

// y (B x C x P x Q) = window maxima of x (B x C x H x W); argmax
// (B x C x P x Q) receives each maximum's index within its H x W plane.
void nn_maxpool2d_forward(const NnMaxPool2d *pool, const float *x, float *y, int *argmax,
                          int B, int C, int H, int W);

// dx (B x C x H x W) is overwritten: zero except dy added at each argmax.
void nn_maxpool2d_backward(const NnMaxPool2d *pool, const float *dy, const int *argmax,
                           float *dx, int B, int C, int H, int W);

#endif
