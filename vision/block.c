// Convolutional CoNAL modules; see block.h.
#include "vision/block.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/gemm.h"
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

// Floats of one copy's parameters: the conv, then gamma, beta and the
// running mean and variance of batch norm.
static size_t block_params(const VisConvBlock *blk) {
    size_t n = nn_conv2d_n_params(blk->n_in, blk->n_out, blk->kernel);
    return blk->batch_norm ? n + 2 * nn_batchnorm2d_n_params(blk->n_out) : n;
}

// Batch norm of a copy: gamma and beta follow the conv parameters, the
// running statistics follow them, and stats (2F) receives the batch mean
// and 1/std. A copy's running statistics are written through w during a
// training forward (see block.h).
static NnBatchNorm2d bind_bn(const VisConvBlock *blk, const float *w, float *gw,
                             float *stats) {
    int F = blk->n_out;
    size_t off = nn_conv2d_n_params(blk->n_in, F, blk->kernel);
    float *p = (float *)(uintptr_t)w + off;
    NnBatchNorm2d bn;
    nn_batchnorm2d_bind(&bn, F, p, gw, stats);
    bn.run_mean = p + 2 * F;
    bn.run_var = p + 3 * F;
    bn.mean = stats;
    bn.inv_std = stats + F;
    return bn;
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
                        int kernel, VisResample resample, int batch_norm, int max_rows,
                        char *err, size_t err_sz) {
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
    blk->batch_norm = batch_norm != 0;
    blk->training = 1;
    blk->max_rows = max_rows;
    blk->threads = nn_threads();

    NnConv2d conv = bind_conv(blk, NULL, NULL);
    size_t rows = (size_t)max_rows;
    size_t map_n = (size_t)n_out * conv_h(blk) * conv_w(blk);
    size_t up_n = resample == VIS_RESAMPLE_UP ? (size_t)n_in * conv_h(blk) * conv_w(blk) : 0;
    size_t out_n = (size_t)n_out * vis_conv_block_out_h(blk) * vis_conv_block_out_w(blk);
    int pool = resample == VIS_RESAMPLE_POOL;
    blk->col = malloc(sizeof(float) * nn_conv2d_scratch_size(&conv, max_rows, conv_h(blk),
                                                             conv_w(blk), blk->threads));
    blk->map = pool ? malloc(sizeof(float) * rows * map_n) : NULL;
    blk->pre = blk->batch_norm ? malloc(sizeof(float) * rows * map_n) : NULL;
    // one more row of 2F keeps the running statistics during a recomputation
    blk->bn_stats = malloc(sizeof(float) * (VIS_BLOCK_CACHE + 1) * 2 * (size_t)n_out);
    blk->dmap = malloc(sizeof(float) * rows * (map_n > up_n ? map_n : up_n));
    blk->pooled = pool ? malloc(sizeof(float) * rows * out_n) : NULL;
    blk->argmax = pool ? malloc(sizeof(int) * rows * out_n) : NULL;
    blk->up = up_n ? malloc(sizeof(float) * rows * up_n) : NULL;
    blk->drop = malloc(sizeof(float) * block_params(blk));
    blk->cache = calloc(1, sizeof *blk->cache);
    if (blk->cache && pthread_mutex_init(&blk->cache->lock, NULL) != 0) {
        free(blk->cache);
        blk->cache = NULL;
    }
    if (!blk->col || !blk->drop || !blk->dmap || !blk->bn_stats || !blk->cache ||
        (pool && (!blk->map || !blk->pooled || !blk->argmax)) ||
        (blk->batch_norm && !blk->pre) || (up_n && !blk->up)) {
        int h = conv_h(blk), w = conv_w(blk);
        vis_conv_block_deinit(blk);
        return err_set(err, err_sz, ERR_NOMEM, "conv block: out of memory for %d rows of "
                       "%d x %d x %d", max_rows, n_out, h, w);
    }
    return 0;
}

void vis_conv_block_deinit(VisConvBlock *blk) {
    free(blk->col);
    free(blk->map);
    free(blk->pre);
    free(blk->bn_stats);
    free(blk->up);
    free(blk->dmap);
    free(blk->pooled);
    free(blk->argmax);
    free(blk->drop);
    if (blk->cache) {
        pthread_mutex_destroy(&blk->cache->lock);
        free(blk->cache);
    }
    memset(blk, 0, sizeof *blk);
}

static size_t block_n_params(const ConalModule *m) {
    return block_params(m->ctx);
}

// PyTorch's default Conv2d init, then BatchNorm2d's reset.
static void block_init(const ConalModule *m, float *w, RngState *rng) {
    const VisConvBlock *blk = m->ctx;
    NnConv2d conv = bind_conv(blk, w, NULL);
    nn_conv2d_init(&conv, rng);
    if (blk->batch_norm) {
        NnBatchNorm2d bn = bind_bn(blk, w, NULL, blk->bn_stats);
        nn_batchnorm2d_init(&bn);
    }
}

// ---- cache of the training forward ----

// Rows [row0, row0 + rows) of the cache: where forward writes its
// intermediate tensors and backward reads them.
typedef struct Span {
    float *map, *pre, *up, *pooled, *stats;
    int *argmax;
} Span;

static Span span_at(const VisConvBlock *blk, int row0, int slot) {
    size_t r = (size_t)row0;
    size_t map_n = (size_t)blk->n_out * conv_h(blk) * conv_w(blk);
    size_t up_n = (size_t)blk->n_in * conv_h(blk) * conv_w(blk);
    size_t out_n = (size_t)blk->n_out * vis_conv_block_out_h(blk) * vis_conv_block_out_w(blk);
    Span s;
    s.map = blk->map ? blk->map + r * map_n : NULL;
    s.pre = blk->pre ? blk->pre + r * map_n : NULL;
    s.up = blk->up ? blk->up + r * up_n : NULL;
    s.pooled = blk->pooled ? blk->pooled + r * out_n : NULL;
    s.argmax = blk->argmax ? blk->argmax + r * out_n : NULL;
    s.stats = blk->bn_stats + (size_t)slot * 2 * (size_t)blk->n_out;
    return s;
}

// Forgets every entry: the next forward writes from row 0.
static void cache_clear(VisBlockCache *c) {
    c->n_entries = 0;
    c->next_row = 0;
}

// Claims rows for a training forward of (w, x, rows) and returns the entry
// index; an older entry of the same key is dropped.
static int cache_claim(const VisConvBlock *blk, const float *w, const float *x, int rows) {
    VisBlockCache *c = blk->cache;
    for (int i = 0; i < c->n_entries; i++) {
        if (c->entry[i].w == w && c->entry[i].x == x) {
            c->entry[i].valid = 0;
        }
    }
    if (c->next_row + rows > blk->max_rows || c->n_entries == VIS_BLOCK_CACHE) {
        cache_clear(c);
    }
    int i = c->n_entries++;
    VisBlockEntry e = {w, x, rows, c->next_row, 1};
    c->entry[i] = e;
    c->next_row += rows;
    return i;
}

// The entry of the last training forward of (w, x, rows), or -1.
static int cache_find(const VisConvBlock *blk, const float *w, const float *x, int rows) {
    const VisBlockCache *c = blk->cache;
    for (int i = c->n_entries - 1; i >= 0; i--) {
        const VisBlockEntry *e = &c->entry[i];
        if (e->valid && e->w == w && e->x == x && e->rows == rows) {
            return i;
        }
    }
    return -1;
}

// ---- forward ----

// Resample-in, conv, batch norm, activation and pooling of rows into y,
// with the intermediate tensors in sp. update_stats = 0 computes batch
// statistics without moving the running ones (recomputation in backward).
static void run_forward(const VisConvBlock *blk, NnActivation act, const float *w,
                        const float *x, float *y, int rows, const Span *sp, int update_stats) {
    NnConv2d conv = bind_conv(blk, w, NULL);
    int H = conv_h(blk), W = conv_w(blk);
    int pool = blk->resample == VIS_RESAMPLE_POOL;
    size_t map_n = (size_t)rows * blk->n_out * H * W;
    const float *in = x;
    if (blk->resample == VIS_RESAMPLE_UP) {
        nn_upsample_bilinear_forward(x, sp->up, rows, blk->n_in, blk->in_h, blk->in_w, H, W);
        in = sp->up;
    }

    // a: the activation's input and output, in place
    float *a = pool ? sp->map : y;
    if (!blk->batch_norm) {
        nn_conv2d_forward(&conv, in, a, rows, H, W, blk->col);
    } else {
        // evaluation normalises in place; training keeps the conv output
        float *z = blk->training ? sp->pre : a;
        nn_conv2d_forward(&conv, in, z, rows, H, W, blk->col);
        float *keep = blk->bn_stats + (size_t)VIS_BLOCK_CACHE * 2 * (size_t)blk->n_out;
        NnBatchNorm2d bn = bind_bn(blk, w, NULL, sp->stats);
        int saved = blk->training && !update_stats;
        if (saved) {
            memcpy(keep, bn.run_mean, sizeof(float) * 2 * (size_t)blk->n_out);
        }
        nn_batchnorm2d_forward(&bn, z, a, rows, H, W, blk->training);
        if (saved) {
            memcpy(bn.run_mean, keep, sizeof(float) * 2 * (size_t)blk->n_out);
        }
    }
    nn_activation_forward(act, a, a, map_n);
    if (pool) {
        nn_maxpool2d_forward(&pool2, sp->map, y, sp->argmax, rows, blk->n_out, blk->in_h,
                             blk->in_w);
    }
}

static void check_call(const VisConvBlock *blk, int rows) {
    ASSERT(rows > 0 && rows <= blk->max_rows, "conv block: %d rows, scratch sized for %d",
           rows, blk->max_rows);
    ASSERT(nn_threads() <= blk->threads, "conv block: %d threads, scratch sized for %d; "
           "call nn_threads_set before building the model", nn_threads(), blk->threads);
}

static void block_forward(const ConalModule *m, const float *w, const float *x, float *y,
                          int rows) {
    const VisConvBlock *blk = m->ctx;
    check_call(blk, rows);
    pthread_mutex_lock(&blk->cache->lock);
    if (!blk->training) {
        cache_clear(blk->cache);
        Span sp = span_at(blk, 0, 0);
        run_forward(blk, m->act, w, x, y, rows, &sp, 0);
    } else {
        int i = cache_claim(blk, w, x, rows);
        Span sp = span_at(blk, blk->cache->entry[i].row0, i);
        run_forward(blk, m->act, w, x, y, rows, &sp, 1);
    }
    pthread_mutex_unlock(&blk->cache->lock);
}

// ---- backward ----

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

// Runs batch norm backward in place on da (rows x F x Hc x Wc). The gamma
// and beta gradients of each block of rows (or of all rows) go into gw. The
// input gradient is taken over all rows, whose batch statistics couple the
// blocks.
static void bn_backward(const VisConvBlock *blk, const float *w, const Span *sp, float *da,
                        float *gw, size_t gw_stride, int n_blocks, int block_rows) {
    int H = conv_h(blk), W = conv_w(blk), rows = n_blocks * block_rows;
    size_t row_n = (size_t)blk->n_out * H * W;
    if (gw) {
        int parts = gw_stride != 0 ? n_blocks : 1;
        int part_rows = gw_stride != 0 ? block_rows : rows;
        for (int i = 0; i < parts; i++) {
            NnBatchNorm2d bn = bind_bn(blk, w, gw + (size_t)i * gw_stride, sp->stats);
            size_t off = (size_t)i * part_rows * row_n;
            nn_batchnorm2d_backward(&bn, sp->pre + off, da + off, NULL, part_rows, H, W);
        }
    }
    NnBatchNorm2d bn = bind_bn(blk, w, NULL, sp->stats);
    nn_batchnorm2d_backward(&bn, sp->pre, da, da, rows, H, W);
}

// Backward of one call, with the block's lock held.
static void backward_locked(const ConalModule *m, const float *w, const float *x,
                            const float *y, float *dy, float *dx, float *gw, size_t gw_stride,
                            int n_blocks, int block_rows) {
    const VisConvBlock *blk = m->ctx;
    int rows = n_blocks * block_rows;
    int H = conv_h(blk), W = conv_w(blk);
    size_t map_n = (size_t)rows * blk->n_out * H * W;
    check_call(blk, rows);
    ASSERT(blk->training, "conv block: backward in evaluation mode");

    // the tensors of this call's forward, recomputed when evicted
    int i = cache_find(blk, w, x, rows);
    if (i < 0) {
        cache_clear(blk->cache);
        i = cache_claim(blk, w, x, rows);
        Span sp = span_at(blk, 0, i);
        float *out = blk->resample == VIS_RESAMPLE_POOL ? sp.pooled : blk->dmap;
        run_forward(blk, m->act, w, x, out, rows, &sp, 0);
    }
    Span sp = span_at(blk, blk->cache->entry[i].row0, i);

    // da: gradient at the activation input, through pooling and activation
    float *da = dy;
    if (blk->resample == VIS_RESAMPLE_POOL) {
        nn_maxpool2d_backward(&pool2, dy, sp.argmax, blk->dmap, rows, blk->n_out, blk->in_h,
                              blk->in_w);
        nn_activation_backward(m->act, sp.map, blk->dmap, blk->dmap, map_n);
        da = blk->dmap;
    } else {
        nn_activation_backward(m->act, y, dy, dy, map_n);
    }

    // dz: gradient at the conv output, through batch norm
    if (blk->batch_norm) {
        size_t conv_n = nn_conv2d_n_params(blk->n_in, blk->n_out, blk->kernel);
        bn_backward(blk, w, &sp, da, gw ? gw + conv_n : NULL, gw_stride, n_blocks, block_rows);
    }
    const float *dz = da;
    const float *in = blk->resample == VIS_RESAMPLE_UP ? sp.up : x;

    // convolution: parameter gradients per block or over all rows
    float *dconv_in = NULL;
    if (dx) {
        dconv_in = blk->resample == VIS_RESAMPLE_UP ? blk->dmap : dx;
    }
    if (gw && gw_stride != 0) {
        for (int b = 0; b < n_blocks; b++) {
            conv_backward_rows(blk, w, in, dz, dconv_in, gw + (size_t)b * gw_stride,
                               b * block_rows, block_rows);
        }
    } else if (gw) {
        conv_backward_rows(blk, w, in, dz, dconv_in, gw, 0, rows);
    } else if (dconv_in) {
        // input gradient only: dW still has to go somewhere, and is dropped
        memset(blk->drop, 0, sizeof(float) * block_params(blk));
        conv_backward_rows(blk, w, in, dz, dconv_in, blk->drop, 0, rows);
    }

    // undo the upsampling for the input gradient
    if (dx && blk->resample == VIS_RESAMPLE_UP) {
        nn_upsample_bilinear_backward(blk->dmap, dx, rows, blk->n_in, blk->in_h, blk->in_w, H,
                                      W);
    }
}

static void block_backward(const ConalModule *m, const float *w, const float *x,
                           const float *y, float *dy, float *dx, float *gw, size_t gw_stride,
                           int n_blocks, int block_rows) {
    const VisConvBlock *blk = m->ctx;
    pthread_mutex_lock(&blk->cache->lock);
    backward_locked(m, w, x, y, dy, dx, gw, gw_stride, n_blocks, block_rows);
    pthread_mutex_unlock(&blk->cache->lock);
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
