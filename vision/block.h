// Convolutional blocks as CoNAL modules, so the supernet in conal/ can chain
// them like dense layers.
//
// Dimension letters: R rows (images), C input channels, H x W input size,
// F filters, K kernel size (odd, "same" zero padding K / 2).
// A block is one of
//   conv -> activation -> 2x2 max pool      (VIS_RESAMPLE_POOL, encoders)
//   bilinear x2 -> conv -> activation       (VIS_RESAMPLE_UP, decoders)
//   conv -> activation                      (VIS_RESAMPLE_NONE, heads)
// Rows are flattened NCHW maps, so a block's n_in is C*H*W and its n_out is
// F times the output area. The module interface passes only x and y to the
// backward pass, and one description serves every copy of a slot. So the
// backward pass recomputes the pre-pool (or upsampled) tensor from x in the
// block's scratch instead of caching it between calls, which costs one
// extra convolution per backward pass.
#ifndef VISION_BLOCK_H
#define VISION_BLOCK_H

#include <stddef.h>

#include "conal/module.h"

typedef enum VisResample {
    VIS_RESAMPLE_NONE = 0,
    VIS_RESAMPLE_POOL = 1,
    VIS_RESAMPLE_UP = 2,
} VisResample;

typedef struct VisConvBlock {
    int n_in;              // C
    int in_h, in_w;        // H, W
    int n_out;             // F
    int kernel;            // K
    VisResample resample;
    int max_rows;          // rows the scratch has room for
    float *col;            // (conv scratch) im2col columns
    float *map;            // (max_rows x F x Hc x Wc) conv output, Hc x Wc the conv size
    float *up;             // (max_rows x C x 2H x 2W) upsampled input, VIS_RESAMPLE_UP only
    float *dmap;           // (max_rows x max(F x Hc x Wc, C x 2H x 2W)) backward scratch
    float *pooled;         // (max_rows x n_out) recomputed pool output
    int *argmax;           // (max_rows x n_out) pool argmax, VIS_RESAMPLE_POOL only
    float *drop;           // (F x C x K x K + F) weight gradients discarded when the
                           // caller wants only the input gradient
} VisConvBlock;

// Conv blocks in ConalModule form; ctx points to a VisConvBlock.
extern const ConalModuleOps vis_conv_block_ops;

// Fills a block description and allocates its scratch for max_rows rows.
// Returns 0, ERR_ARG naming the bad size, or ERR_NOMEM.
int vis_conv_block_init(VisConvBlock *blk, int n_in, int in_h, int in_w, int n_out,
                        int kernel, VisResample resample, int max_rows, char *err,
                        size_t err_sz);
void vis_conv_block_deinit(VisConvBlock *blk);

// Output map size of the block.
int vis_conv_block_out_h(const VisConvBlock *blk);
int vis_conv_block_out_w(const VisConvBlock *blk);

// The ConalModule for a block (blk must outlive it).
ConalModule vis_conv_block_module(const VisConvBlock *blk, NnActivation act);

#endif
