// Convolutional CoNAL modules; see block.h.
#include "vision/block.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "nn/conv.h"
#include "nn/pool.h"
#include "nn/upsample.h"

static const NnMaxPool2d pool2 = {2, 2};

// Size of the map the convolution reads: the input, or twice its size when
// the block upsamples first.
static int conv_h(const VisConvBlock *blk) {
    return blk->resample == VIS_RESAMPLE_UP ? 2 * blk->in_h : blk->in_h;
}

static int conv_w(const VisConvBlock *blk) {
    return blk->resample == VIS_RESAMPLE_UP ? 2 * blk->in_w : blk->in_w;
}

int vis_conv_block_out_h(const VisConvBlock *blk) {
    return blk->resample == VIS_RESAMPLE_POOL ? blk->in_h / 2 : conv_h(blk);
}

int vis_conv_block_out_w(const VisConvBlock *blk) {
    return blk->resample == VIS_RESAMPLE_POOL ? blk->in_w / 2 : conv_w(blk);
}

// The layer's weights are read-only during forward, but NnConv2d keeps
// non-const pointers because backward writes dW through the same struct.
static NnConv2d bind_conv(const VisConvBlock *blk, const float *w, float *gw) {
    NnConv2d conv;
    nn_conv2d_bind(&conv, blk->n_in, blk->n_out, blk->kernel, 1, blk->kernel / 2,
                   (float *)(uintptr_t)w, gw);
    return conv;
}

int vis_conv_block_init(VisConvBlock *blk, int n_in, int in_h, int in_w, int n_out,
                        int kernel, VisResample resample, int max_rows, char *err,
                        size_t err_sz) {
    memset(blk, 0, sizeof *blk);
    if (n_in <= 0 || n_out <= 0 || in_h <= 0 || in_w <= 0 || max_rows <= 0) {
        return err_set(err, err_sz, ERR_ARG, "conv block: invalid size %d x %d x %d -> %d "
                       "filters, %d rows", n_in, in_h, in_w, n_out, max_rows);
    }
    if (kernel <= 0 || kernel % 2 == 0) {
        return err_set(err, err_sz, ERR_ARG, "conv block: kernel %d must be odd and positive",
                       kernel);
    }
    if (resample == VIS_RESAMPLE_POOL && (in_h < 2 || in_w < 2)) {
        return err_set(err, err_sz, ERR_ARG, "conv block: cannot pool a %d x %d map", in_h,
                       in_w);
    }
    blk->n_in = n_in;
    blk->in_h = in_h;
    blk->in_w = in_w;
    blk->n_out = n_out;
    blk->kernel = kernel;
    blk->resample = resample;
    blk->max_rows = max_rows;

    NnConv2d conv = bind_conv(blk, NULL, NULL);
    size_t rows = (size_t)max_rows;
    size_t map_n = (size_t)n_out * conv_h(blk) * conv_w(blk);
    size_t up_n = resample == VIS_RESAMPLE_UP ? (size_t)n_in * conv_h(blk) * conv_w(blk) : 0;
    size_t out_n = (size_t)n_out * vis_conv_block_out_h(blk) * vis_conv_block_out_w(blk);
    blk->col = malloc(sizeof(float) * nn_conv2d_scratch_size(&conv, conv_h(blk), conv_w(blk)));
    blk->map = malloc(sizeof(float) * rows * map_n);
    blk->dmap = malloc(sizeof(float) * rows * (map_n > up_n ? map_n : up_n));
    blk->pooled = malloc(sizeof(float) * rows * out_n);
    blk->argmax = malloc(sizeof(int) * rows * out_n);
    blk->up = up_n ? malloc(sizeof(float) * rows * up_n) : NULL;
    blk->drop = malloc(sizeof(float) * nn_conv2d_n_params(n_in, n_out, kernel));
    if (!blk->col || !blk->drop || !blk->map || !blk->dmap || !blk->pooled || !blk->argmax ||
        (up_n && !blk->up)) {
        vis_conv_block_deinit(blk);
        return err_set(err, err_sz, ERR_NOMEM, "conv block: out of memory for %d rows of "
                       "%d x %d x %d", max_rows, n_out, conv_h(blk), conv_w(blk));
    }
    return 0;
}

void vis_conv_block_deinit(VisConvBlock *blk) {
    free(blk->col);
    free(blk->map);
    free(blk->up);
    free(blk->dmap);
    free(blk->pooled);
    free(blk->argmax);
    free(blk->drop);
    memset(blk, 0, sizeof *blk);
}

static size_t block_n_params(const ConalModule *m) {
    const VisConvBlock *blk = m->ctx;
    return nn_conv2d_n_params(blk->n_in, blk->n_out, blk->kernel);
}

// PyTorch's default Conv2d init.
static void block_init(const ConalModule *m, float *w, RngState *rng) {
    const VisConvBlock *blk = m->ctx;
    NnConv2d conv = bind_conv(blk, w, NULL);
    nn_conv2d_init(&conv, rng);
}

// Runs resample-in, conv and activation into out (rows x F x Hc x Wc) and
// returns the tensor the convolution read.
static const float *conv_act(const ConalModule *m, const float *w, const float *x, float *out,
                             int rows) {
    const VisConvBlock *blk = m->ctx;
    NnConv2d conv = bind_conv(blk, w, NULL);
    const float *in = x;
    if (blk->resample == VIS_RESAMPLE_UP) {
        nn_upsample_bilinear_forward(x, blk->up, rows, blk->n_in, blk->in_h, blk->in_w,
                                     conv_h(blk), conv_w(blk));
        in = blk->up;
    }
    nn_conv2d_forward(&conv, in, out, rows, conv_h(blk), conv_w(blk), blk->col);
    nn_activation_forward(m->act, out, out,
                          (size_t)rows * blk->n_out * conv_h(blk) * conv_w(blk));
    return in;
}

static void block_forward(const ConalModule *m, const float *w, const float *x, float *y,
                          int rows) {
    const VisConvBlock *blk = m->ctx;
    ASSERT(rows > 0 && rows <= blk->max_rows, "conv block: %d rows, scratch sized for %d",
           rows, blk->max_rows);
    if (blk->resample != VIS_RESAMPLE_POOL) {
        conv_act(m, w, x, y, rows);
        return;
    }
    conv_act(m, w, x, blk->map, rows);
    nn_maxpool2d_forward(&pool2, blk->map, y, blk->argmax, rows, blk->n_out, blk->in_h,
                         blk->in_w);
}

// Parameter gradients of the rows [row0, row0 + n) into gw, and their input
// gradients into dx when not NULL.
static void conv_backward_rows(const VisConvBlock *blk, const float *w, const float *in,
                               const float *dz, float *dx, float *gw, int row0, int n) {
    int H = conv_h(blk), W = conv_w(blk);
    size_t in_n = (size_t)blk->n_in * H * W, out_n = (size_t)blk->n_out * H * W;
    NnConv2d conv = bind_conv(blk, w, gw);
    nn_conv2d_backward(&conv, in + row0 * in_n, dz + row0 * out_n, dx ? dx + row0 * in_n : NULL,
                       n, H, W, blk->col);
}

static void block_backward(const ConalModule *m, const float *w, const float *x,
                           const float *y, float *dy, float *dx, float *gw, size_t gw_stride,
                           int n_blocks, int block_rows) {
    const VisConvBlock *blk = m->ctx;
    int rows = n_blocks * block_rows;
    int H = conv_h(blk), W = conv_w(blk);
    size_t map_n = (size_t)rows * blk->n_out * H * W;
    ASSERT(rows > 0 && rows <= blk->max_rows, "conv block: %d rows, scratch sized for %d",
           rows, blk->max_rows);

    // dz: gradient at the convolution output, through pooling and activation
    float *dz = dy;
    const float *in = x;
    if (blk->resample == VIS_RESAMPLE_POOL) {
        in = conv_act(m, w, x, blk->map, rows);
        nn_maxpool2d_forward(&pool2, blk->map, blk->pooled, blk->argmax, rows, blk->n_out,
                             blk->in_h, blk->in_w);
        nn_maxpool2d_backward(&pool2, dy, blk->argmax, blk->dmap, rows, blk->n_out, blk->in_h,
                              blk->in_w);
        nn_activation_backward(m->act, blk->map, blk->dmap, blk->dmap, map_n);
        dz = blk->dmap;
    } else {
        nn_activation_backward(m->act, y, dy, dy, map_n);
        if (blk->resample == VIS_RESAMPLE_UP) {
            nn_upsample_bilinear_forward(x, blk->up, rows, blk->n_in, blk->in_h, blk->in_w, H,
                                         W);
            in = blk->up;
        }
    }

    // convolution: parameter gradients per block or over all rows
    float *dconv_in = NULL;
    if (dx) {
        dconv_in = blk->resample == VIS_RESAMPLE_UP ? blk->dmap : dx;
    }
    if (gw && gw_stride != 0) {
        for (int i = 0; i < n_blocks; i++) {
            conv_backward_rows(blk, w, in, dz, dconv_in, gw + (size_t)i * gw_stride,
                               i * block_rows, block_rows);
        }
    } else if (gw) {
        conv_backward_rows(blk, w, in, dz, dconv_in, gw, 0, rows);
    } else if (dconv_in) {
        // input gradient only: dW still has to go somewhere, and is dropped
        memset(blk->drop, 0, sizeof(float) * block_n_params(m));
        conv_backward_rows(blk, w, in, dz, dconv_in, blk->drop, 0, rows);
    }

    // undo the upsampling for the input gradient
    if (dx && blk->resample == VIS_RESAMPLE_UP) {
        nn_upsample_bilinear_backward(blk->dmap, dx, rows, blk->n_in, blk->in_h, blk->in_w, H,
                                      W);
    }
}

static double block_flops(const ConalModule *m, int rows) {
    const VisConvBlock *blk = m->ctx;
    NnConv2d conv = bind_conv(blk, NULL, NULL);
    return nn_conv2d_flops_forward(&conv, rows, conv_h(blk), conv_w(blk));
}

const ConalModuleOps vis_conv_block_ops = {
    "conv", block_n_params, block_init, block_forward, block_backward, block_flops,
};

ConalModule vis_conv_block_module(const VisConvBlock *blk, NnActivation act) {
    ConalModule m;
    m.ops = &vis_conv_block_ops;
    m.n_in = blk->n_in * blk->in_h * blk->in_w;
    m.n_out = blk->n_out * vis_conv_block_out_h(blk) * vis_conv_block_out_w(blk);
    m.act = act;
    m.ctx = blk;
    return m;
}
