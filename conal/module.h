// Module slots of a CoNAL supernet: one small interface for every layer type.
//
// A supernet chains P - 1 module slots. Every copy of a slot has the same
// shape and runs through the same ConalModuleOps: the shared module, each
// task's purely-specific module, and each branch of a partially-specific
// chain. So a dense layer and a conv block plug in the same way.
// A module maps rows of n_in floats to rows of n_out floats. A conv block
// flattens its C x H x W map into one row. Parameters live in the
// caller's contiguous block at an offset: the module owns no memory.
#ifndef CONAL_MODULE_H
#define CONAL_MODULE_H

#include <stddef.h>

#include "common/rng.h"
#include "nn/activation.h"

typedef struct ConalModule ConalModule;

typedef struct ConalModuleOps {
    const char *name;   // type name for logs and arch.json, e.g. "dense"

    // Floats the module needs in a parameter block.
    size_t (*n_params)(const ConalModule *m);

    // Initialises the module's parameters w (n_params floats) from rng.
    void (*init)(const ConalModule *m, float *w, RngState *rng);

    // y (rows x n_out) = module(x (rows x n_in)).
    void (*forward)(const ConalModule *m, const float *w, const float *x, float *y, int rows);

    // Backward over n_blocks blocks of block_rows rows, given the forward's
    // x and y. dy (rows x n_out) is overwritten with scratch values. When gw
    // is not NULL, parameter gradients are added to it: all rows into gw when
    // gw_stride is 0, otherwise block i into gw + i * gw_stride (per-task
    // gradients of a shared module). When dx is not NULL it is overwritten
    // with the gradient of the input (rows x n_in).
    void (*backward)(const ConalModule *m, const float *w, const float *x, const float *y,
                     float *dy, float *dx, float *gw, size_t gw_stride, int n_blocks,
                     int block_rows);

    // FLOPs of one forward over rows (2 per multiply-add).
    double (*flops_forward)(const ConalModule *m, int rows);
} ConalModuleOps;

struct ConalModule {
    const ConalModuleOps *ops;
    int n_in;              // floats per input row
    int n_out;             // floats per output row
    NnActivation act;      // activation applied to the output
    const void *ctx;       // type-specific shape (conv blocks); NULL for dense
};

// Dense layer plus activation: y = act(x W^T + b) with W stored (O x I) as
// nn/linear.h does, initialised like torch.nn.Linear. Unlike the general
// contract, its backward overwrites per-block gradients (gw_stride != 0)
// instead of adding to them, so the supernet skips zeroing D for it.
extern const ConalModuleOps conal_dense_ops;

// A dense module description (asserts positive sizes).
ConalModule conal_dense_module(int n_in, int n_out, NnActivation act);

#endif
