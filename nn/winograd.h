// Winograd F(2x2, 3x3) kernels for 3x3 convolutions, stride 1, padding 1.
//
// nn/conv.c runs these on layers with 16 or more channels and filters,
// one image or one band of rows of a large image per call. This header is internal to nn/. Each 2x2
// block of outputs (a tile) reads a 4x4 block d of the input, and
// Winograd's minimal filtering algorithm computes it as
//   Y = A^T [ (G w G^T) (.) (B^T d B) ] A
// with the constant matrices A (4x2), B (4x4) and G (4x3) written out in
// winograd.c. So the 3x3 kernel costs 16 multiplies per tile instead of
// 36, and the sum over channels of the 16 products becomes 16 small matrix
// products per chunk of tiles: M[p] (tiles x F) = V[p] (tiles x C) U[p]
// (C x F), where V = B^T d B and U = G w G^T.
// Backward is the exact adjoint of that computation: dM = A dY A^T per
// tile, dU[p] += V[p]^T dM[p], dV[p] = dM[p] U[p]^T, and the input
// gradient adds B dV B^T over the overlapping 4x4 blocks. The weight
// gradient is G^T dU G. Sums run in another order than the six-loop
// definition, so results differ from the direct kernels by float
// rounding.
//
// Images are transposed to rows of channels (one position per row, 16
// channels per AVX-512 vector) so that every transform is a few vector
// adds per tile. Every function here needs AVX-512F; the caller checks the
// CPU. All of them read and write only the memory their arguments name.
#ifndef NN_WINOGRAD_H
#define NN_WINOGRAD_H

#include <stddef.h>

// The kernels are built with GNU C on x86-64 only.
#if defined(__GNUC__) && defined(__x86_64__)
#define NN_WINO_BUILT 1
#else
#define NN_WINO_BUILT 0
#endif

// Sizes of one layer on one map size.
typedef struct NnWino {
    int C, F;       // input channels, filters
    int H, W;       // map size (input and output)
    int Cv, Fv;     // C and F rounded up to 16
    int TP, TQ;     // rows and columns of tiles
    int band;       // tile rows per call at most
    int rows;       // map rows a working block stores at most
} NnWino;

// Fills the sizes for C channels, F filters and H x W maps, where each
// forward and backward call covers at most `band` rows of tiles.
void nn_wino_shape(NnWino *wg, int C, int F, int H, int W, int band);

// Floats of the transformed weights (U for forward, then U transposed for
// the input gradient) that nn_wino_pack writes.
size_t nn_wino_weight_floats(const NnWino *wg);

// Floats of one thread's working block for forward or backward of a band
// of one image at a time, including 16 spare floats for alignment.
size_t nn_wino_work_floats(const NnWino *wg);

// u = the transformed weights of w (F x C x 3 x 3, PyTorch layout).
void nn_wino_pack(const NnWino *wg, const float *w, float *u);

// y (F x H x W) = conv(x (C x H x W)) + bias for one image, on output
// rows 2 ta .. 2 tb - 1 (tile rows ta .. tb-1, at most wg->band of them).
void nn_wino_forward(const NnWino *wg, const float *u, const float *x, const float *bias,
                     float *y, int ta, int tb, float *work);

// Clears the weight and bias gradient sums in work. nn_wino_backward then
// adds one image at a time to them.
void nn_wino_backward_begin(const NnWino *wg, float *work);

// Adds the weight and bias gradients of tile rows ta .. tb-1 of one image
// to the sums in work and, when dx is not NULL, overwrites rows 2 ta ..
// 2 tb - 1 of dx (C x H x W) with the input gradient. Calls over disjoint
// bands write disjoint rows of dx.
void nn_wino_backward(const NnWino *wg, const float *u, const float *x, const float *dy,
                      float *dx, int ta, int tb, float *work);

// Writes the sums in work as dw (F x C x 3 x 3) and db (F).
void nn_wino_backward_end(const NnWino *wg, const float *work, float *dw, float *db);

// dst (n x ld) = the transpose of n positions of F planes of src, fs floats
// apart, with zeros in the columns from F up to the next multiple of 16.
// ld is a multiple of 16 and dst is 64-byte aligned.
void nn_rows_from_planes(const float *src, int F, size_t fs, int n, float *dst, size_t ld);

#endif
