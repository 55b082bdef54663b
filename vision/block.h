// Convolutional blocks as CoNAL modules, so the supernet in conal/ can chain
// them like dense layers.
//
// Dimension letters: R rows (images), C input channels, H x W input size,
// F filters, K kernel size (odd, "same" zero padding K / 2).
// A block is one of
//   conv -> activation -> 2x2 max pool      (VIS_RESAMPLE_POOL, encoders)
//   bilinear x2 -> conv -> activation       (VIS_RESAMPLE_UP, decoders)
//   conv -> activation                      (VIS_RESAMPLE_NONE, heads)
// With batch_norm set, a BatchNorm2d (nn/batchnorm.h) sits between the
// convolution and the activation, as in the usual conv-BN-ReLU backbones.
// Rows are flattened NCHW maps, so a block's n_in is C*H*W and its n_out is
// F times the output area.
//
// Parameters of one copy: W (F x C x K x K), b (F), then with batch norm
// gamma (F), beta (F), running mean (F) and running variance (F). The
// running statistics live in the parameter block so that checkpoints and
// copies of a network carry them. Their gradient is always zero, so Adam
// leaves them unchanged (its moments stay zero), but AdamW's decay would
// shrink them: vision/config.c rejects weight decay with batch norm.
//
// Mode: `training` (1 after init) selects batch statistics, which update the
// running ones, and lets forward keep what backward needs. The owner sets 0
// for evaluation: batch norm then uses the running statistics and nothing
// is kept.
//
// The module interface passes only x and y to backward, and one description
// serves every copy of a slot. So in training mode forward keeps the
// pre-pool map, the pooling argmax, the upsampled input and the batch-norm
// input and statistics of each call in a cache with room for max_rows rows,
// keyed by (weights, input, rows). Backward takes them from there and
// recomputes them from x only when a later forward has evicted them (more
// rows in one pass than the cache holds).
//
// The supernet runs the copies of a slot (one per task or branch owner) as
// parallel items on the nn/gemm.h team, and the copies share this scratch,
// so a mutex lets one call of a block run at a time.
// NOTE: copies of one slot therefore do not run side by side. A call made
// from inside such an item also runs its convolution on one thread.
#ifndef VISION_BLOCK_H
#define VISION_BLOCK_H

#include <pthread.h>
#include <stddef.h>

#include "conal/module.h"

typedef enum VisResample {
    VIS_RESAMPLE_NONE = 0,
    VIS_RESAMPLE_POOL = 1,
    VIS_RESAMPLE_UP = 2,
} VisResample;

#define VIS_BLOCK_CACHE 16   // forward calls the cache remembers at most

// What one training forward kept: rows [row0, row0 + rows) of the cache.
typedef struct VisBlockEntry {
    const float *w, *x;    // key: the copy's weights and the input
    int rows;
    int row0;
    int valid;
} VisBlockEntry;

typedef struct VisBlockCache {
    pthread_mutex_t lock;  // one call at a time: copies share the scratch
    VisBlockEntry entry[VIS_BLOCK_CACHE];
    int n_entries;
    int next_row;          // first free row
} VisBlockCache;

typedef struct VisConvBlock {
    int n_in;              // C
    int in_h, in_w;        // H, W
    int n_out;             // F
    int kernel;            // K
    VisResample resample;
    int batch_norm;        // 1: conv -> batch norm -> activation
    int training;          // 1: batch statistics and cache (default); 0: evaluation
    int max_rows;          // rows the scratch and the cache have room for
    int threads;           // nn_threads() the conv scratch was sized for
    float *col;            // (conv scratch) columns and gradient parts
    float *map;            // (max_rows x F x Hc x Wc) activation before pooling, Hc x Wc
                           // the conv size; VIS_RESAMPLE_POOL only
    float *pre;            // (max_rows x F x Hc x Wc) conv output before batch norm
    float *bn_stats;       // ((VIS_BLOCK_CACHE + 1) x 2F) batch mean and 1/std per
                           // entry, then a copy of the running statistics
    float *up;             // (max_rows x C x 2H x 2W) upsampled input, VIS_RESAMPLE_UP only
    float *dmap;           // (max_rows x max(F x Hc x Wc, C x 2H x 2W)) backward scratch
    float *pooled;         // (max_rows x n_out) pool output of a recomputation
    int *argmax;           // (max_rows x n_out) pool argmax, VIS_RESAMPLE_POOL only
    float *drop;           // (n_params) weight gradients discarded when the caller
                           // wants only the input gradient
    VisBlockCache *cache;  // entries of map, pre, up, argmax and bn_stats
} VisConvBlock;

// Conv blocks in ConalModule form; ctx points to a VisConvBlock.
extern const ConalModuleOps vis_conv_block_ops;

// Fills a block description and allocates its scratch and cache for
// max_rows rows, with conv scratch for nn_threads() threads (set the threads
// first). Returns 0, ERR_ARG naming the bad size, or ERR_NOMEM.
int vis_conv_block_init(VisConvBlock *blk, int n_in, int in_h, int in_w, int n_out,
                        int kernel, VisResample resample, int batch_norm, int max_rows,
                        char *err, size_t err_sz);
void vis_conv_block_deinit(VisConvBlock *blk);

// Output map size of the block.
int vis_conv_block_out_h(const VisConvBlock *blk);
int vis_conv_block_out_w(const VisConvBlock *blk);

// The ConalModule for a block (blk must outlive it).
ConalModule vis_conv_block_module(const VisConvBlock *blk, NnActivation act);

#endif
