// 2-D convolution through im2col and sgemm; see conv.h.
#include "nn/conv.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"

size_t nn_conv2d_n_params(int n_in, int n_out, int kernel) {
    return (size_t)n_out * (size_t)n_in * (size_t)kernel * (size_t)kernel + (size_t)n_out;
}

void nn_conv2d_bind(NnConv2d *conv, int n_in, int n_out, int kernel, int stride, int pad,
                    float *params, float *grads) {
    ASSERT(n_in > 0 && n_out > 0 && kernel > 0, "nn_conv2d_bind: bad sizes C=%d F=%d K=%d",
           n_in, n_out, kernel);
    ASSERT(stride >= 1 && pad >= 0, "nn_conv2d_bind: stride %d must be >= 1, pad %d >= 0",
           stride, pad);
    size_t n_w = (size_t)n_out * (size_t)n_in * (size_t)kernel * (size_t)kernel;
    conv->n_in = n_in;
    conv->n_out = n_out;
    conv->kernel = kernel;
    conv->stride = stride;
    conv->pad = pad;
    conv->w = params;
    conv->b = params ? params + n_w : NULL;
    conv->dw = grads;
    conv->db = grads ? grads + n_w : NULL;
}

int nn_conv2d_out_size(const NnConv2d *conv, int in) {
    int span = in + 2 * conv->pad - conv->kernel;
    ASSERT(in > 0 && span >= 0, "nn_conv2d: kernel %d does not fit input %d with pad %d",
           conv->kernel, in, conv->pad);
    return span / conv->stride + 1;
}

// Column count of one sgemm. Small maps are lowered several images at a
// time and large maps a band of output rows at a time, so each product has
// about this many columns. That is wide enough for sgemm to run near its
// peak and narrow enough for the column block (C*K*K x cols) to stay in
// cache; 1024 and 2048 measured alike in conv_bench, 4096 and 8192 slower.
#define CONV_COLS 2048

// Work plan for an input size: images per group (small maps) or output rows
// per band (large maps), and the widest column block either needs.
typedef struct ConvPlan {
    int P, Q, N, R;      // output rows, columns, area; unfolded rows C*K*K
    int group;           // images per sgemm (1 for banded maps)
    int band;            // output rows per sgemm (P for grouped maps)
    int cols;            // widest column block
} ConvPlan;

static ConvPlan conv_plan(const NnConv2d *conv, int H, int W) {
    ConvPlan pl;
    pl.P = nn_conv2d_out_size(conv, H);
    pl.Q = nn_conv2d_out_size(conv, W);
    pl.N = pl.P * pl.Q;
    pl.R = conv->n_in * conv->kernel * conv->kernel;
    if (pl.N >= CONV_COLS) {
        pl.group = 1;
        pl.band = CONV_COLS / pl.Q > 0 ? CONV_COLS / pl.Q : 1;
        pl.cols = pl.band * pl.Q;
    } else {
        pl.group = (CONV_COLS + pl.N - 1) / pl.N;
        pl.band = pl.P;
        pl.cols = pl.group * pl.N;
    }
    return pl;
}

void nn_conv2d_init(NnConv2d *conv, RngState *rng) {
    int fan_in = conv->n_in * conv->kernel * conv->kernel;
    float bound = 1.0f / sqrtf((float)fan_in);
    size_t n = nn_conv2d_n_params(conv->n_in, conv->n_out, conv->kernel);
    for (size_t i = 0; i < n; i++) {
        conv->w[i] = (2.0f * rng_uniform_f(rng) - 1.0f) * bound;
    }
}

// Output columns [lo, hi) whose input column q * S - pad + kj lies inside
// [0, W); the others read zero padding.
static void valid_cols(int Q, int W, int S, int pad, int kj, int *lo, int *hi) {
    int a = 0, b = Q;
    while (a < Q && a * S - pad + kj < 0) {
        a++;
    }
    while (b > a && (b - 1) * S - pad + kj >= W) {
        b--;
    }
    *lo = a;
    *hi = b;
}

// Unfolds output rows [p0, p1) of one image x (C x H x W) into col, whose
// row r = (c K + ki) K + kj starts at col + r * ld; zero outside the image.
static void im2col(const NnConv2d *conv, const float *x, int H, int W, int p0, int p1, int Q,
                   float *col, size_t ld) {
    int K = conv->kernel, S = conv->stride, pad = conv->pad;
    for (int c = 0; c < conv->n_in; c++) {
        const float *xc = x + (size_t)c * H * W;
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                float *row = col + (size_t)((c * K + ki) * K + kj) * ld;
                int lo, hi;
                valid_cols(Q, W, S, pad, kj, &lo, &hi);
                for (int p = p0; p < p1; p++) {
                    int ih = p * S - pad + ki;
                    float *out = row + (size_t)(p - p0) * Q;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        memset(out, 0, sizeof(float) * (size_t)Q);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * W + (lo * S - pad + kj);
                    for (int q = 0; q < lo; q++) {
                        out[q] = 0.0f;
                    }
                    if (S == 1) {
                        memcpy(out + lo, xr, sizeof(float) * (size_t)(hi - lo));
                    } else {
                        for (int q = lo; q < hi; q++) {
                            out[q] = xr[(q - lo) * S];
                        }
                    }
                    for (int q = hi; q < Q; q++) {
                        out[q] = 0.0f;
                    }
                }
            }
        }
    }
}

// Adds col (laid out as im2col writes it for rows [p0, p1)) back onto dx
// (C x H x W), summing where windows overlap.
static void col2im_add(const NnConv2d *conv, const float *col, size_t ld, int H, int W, int p0,
                       int p1, int Q, float *dx) {
    int K = conv->kernel, S = conv->stride, pad = conv->pad;
    for (int c = 0; c < conv->n_in; c++) {
        float *dxc = dx + (size_t)c * H * W;
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                const float *row = col + (size_t)((c * K + ki) * K + kj) * ld;
                int lo, hi;
                valid_cols(Q, W, S, pad, kj, &lo, &hi);
                for (int p = p0; p < p1; p++) {
                    int ih = p * S - pad + ki;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        continue;
                    }
                    float *dr = dxc + (size_t)ih * W + (lo * S - pad + kj);
                    const float *in = row + (size_t)(p - p0) * Q + lo;
                    int n = hi - lo;
                    if (S == 1) {
                        for (int q = 0; q < n; q++) {
                            dr[q] += in[q];
                        }
                    } else {
                        for (int q = 0; q < n; q++) {
                            dr[q * S] += in[q];
                        }
                    }
                }
            }
        }
    }
}

// ---- parallel forward and backward ----
//
// The work splits into items: a group of images (grouped plans) or one
// image (banded plans, whose bands would otherwise fold onto shared input
// rows). Item i runs on team thread i % T and uses that thread's slot of the
// scratch for its columns and staging. Each item writes its own outputs,
// and backward writes its weight and bias gradients into its own partial
// block, which are then added to dW and db in item order. So the results do
// not depend on the thread count.

typedef struct ConvJob {
    NnConv2d *conv;
    ConvPlan pl;
    int B, H, W, n_items;
    const float *x;        // (B x C x H x W)
    float *y;              // (B x F x P x Q) forward output
    const float *dy;       // (B x F x P x Q) backward input
    float *dx;             // (B x C x H x W) or NULL
    float *slots;          // (T x (R + F) x cols) columns then staging, per thread
    float *parts;          // (n_items x (F*R + F)) per-item dW then db
    size_t slot_n;         // floats per slot
} ConvJob;

static int n_items(const ConvPlan *pl, int B) {
    return pl->group > 1 ? (B + pl->group - 1) / pl->group : B;
}

size_t nn_conv2d_scratch_size(const NnConv2d *conv, int B, int H, int W, int threads) {
    ASSERT(B > 0 && threads > 0, "nn_conv2d_scratch_size: batch %d, threads %d", B, threads);
    ConvPlan pl = conv_plan(conv, H, W);
    size_t slot = (size_t)(pl.R + conv->n_out) * (size_t)pl.cols;
    size_t part = (size_t)conv->n_out * (size_t)pl.R + (size_t)conv->n_out;
    return (size_t)threads * slot + (size_t)n_items(&pl, B) * part;
}

static ConvJob conv_job(NnConv2d *conv, int B, int H, int W, float *scratch) {
    ConvJob j;
    memset(&j, 0, sizeof j);
    j.conv = conv;
    j.pl = conv_plan(conv, H, W);
    j.B = B;
    j.H = H;
    j.W = W;
    j.n_items = n_items(&j.pl, B);
    j.slot_n = (size_t)(j.pl.R + conv->n_out) * (size_t)j.pl.cols;
    j.slots = scratch;
    j.parts = scratch + (size_t)nn_threads() * j.slot_n;
    return j;
}

// Columns of item i's thread slot; its staging block follows them.
static float *item_cols(const ConvJob *j, int i) {
    return j->slots + (size_t)(i % nn_threads()) * j->slot_n;
}

// Forward of a group item: the group's columns side by side, then one
// sgemm per image straight into y, whose rows start with the bias.
static void forward_group(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int b0 = item * pl->group, g = j->B - b0 < pl->group ? j->B - b0 : pl->group;
    size_t ld = (size_t)g * pl->N, img = (size_t)conv->n_in * j->H * j->W;
    int F = conv->n_out;
    float *col = item_cols(j, item);
    for (int i = 0; i < g; i++) {
        im2col(conv, j->x + (size_t)(b0 + i) * img, j->H, j->W, 0, pl->P, pl->Q,
               col + (size_t)i * pl->N, ld);
    }
    for (int i = 0; i < g; i++) {
        float *yb = j->y + (size_t)(b0 + i) * F * pl->N;
        for (int f = 0; f < F; f++) {
            float *yf = yb + (size_t)f * pl->N;
            for (int n = 0; n < pl->N; n++) {
                yf[n] = conv->b[f];
            }
        }
        nn_sgemm(0, 0, F, pl->N, pl->R, 1.0f, conv->w, pl->R, col + (size_t)i * pl->N,
                 (int)ld, 1.0f, yb, pl->N);
    }
}

// Forward of one image of a banded plan: the bias fills y, then one sgemm
// per band of output rows accumulates W col onto it in place.
static void forward_bands(const ConvJob *j, int b) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int F = conv->n_out;
    const float *xb = j->x + (size_t)b * conv->n_in * j->H * j->W;
    float *yb = j->y + (size_t)b * F * pl->N, *col = item_cols(j, b);
    for (int f = 0; f < F; f++) {
        float *yf = yb + (size_t)f * pl->N;
        for (int n = 0; n < pl->N; n++) {
            yf[n] = conv->b[f];
        }
    }
    for (int p0 = 0; p0 < pl->P; p0 += pl->band) {
        int p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
        int cols = (p1 - p0) * pl->Q;
        im2col(conv, xb, j->H, j->W, p0, p1, pl->Q, col, (size_t)cols);
        nn_sgemm(0, 0, F, cols, pl->R, 1.0f, conv->w, pl->R, col, cols, 1.0f,
                 yb + (size_t)p0 * pl->Q, pl->N);
    }
}

static void forward_item(void *ctx, int item) {
    const ConvJob *j = ctx;
    if (j->pl.group > 1) {
        forward_group(j, item);
    } else {
        forward_bands(j, item);
    }
}

void nn_conv2d_forward(const NnConv2d *conv, const float *x, float *y, int B, int H, int W,
                       float *scratch) {
    ASSERT(B > 0, "nn_conv2d_forward: batch %d", B);
    // forward writes no gradient: the cast lets one job type serve both passes
    ConvJob j = conv_job((NnConv2d *)(uintptr_t)conv, B, H, W, scratch);
    j.x = x;
    j.y = y;
    nn_parallel_run(forward_item, &j, j.n_items);
}

// Sums of each row of m (F x n) into db, in double.
static void row_sums(const float *m, int F, size_t n, size_t ld, float *db) {
    for (int f = 0; f < F; f++) {
        const float *r = m + (size_t)f * ld;
        double s = 0.0;
        for (size_t i = 0; i < n; i++) {
            s += (double)r[i];
        }
        db[f] = (float)s;
    }
}

// Backward of a group item: dy is staged side by side (F x g*N), the
// item's dW part = stage col^T, and dcol = W^T stage is folded back.
static void backward_group(const ConvJob *j, int item) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int b0 = item * pl->group, g = j->B - b0 < pl->group ? j->B - b0 : pl->group;
    size_t ld = (size_t)g * pl->N, img = (size_t)conv->n_in * j->H * j->W;
    int F = conv->n_out;
    float *col = item_cols(j, item), *stage = col + (size_t)pl->R * pl->cols;
    float *dw = j->parts + (size_t)item * ((size_t)F * pl->R + F), *db = dw + (size_t)F * pl->R;
    for (int i = 0; i < g; i++) {
        const float *dyb = j->dy + (size_t)(b0 + i) * F * pl->N;
        for (int f = 0; f < F; f++) {
            memcpy(stage + (size_t)f * ld + (size_t)i * pl->N, dyb + (size_t)f * pl->N,
                   sizeof(float) * (size_t)pl->N);
        }
        im2col(conv, j->x + (size_t)(b0 + i) * img, j->H, j->W, 0, pl->P, pl->Q,
               col + (size_t)i * pl->N, ld);
    }
    row_sums(stage, F, ld, ld, db);
    nn_sgemm(0, 1, F, pl->R, (int)ld, 1.0f, stage, (int)ld, col, (int)ld, 0.0f, dw, pl->R);
    if (!j->dx) {
        return;
    }
    nn_sgemm(1, 0, pl->R, (int)ld, F, 1.0f, conv->w, pl->R, stage, (int)ld, 0.0f, col,
             (int)ld);
    for (int i = 0; i < g; i++) {
        float *dxb = j->dx + (size_t)(b0 + i) * img;
        memset(dxb, 0, sizeof(float) * img);
        col2im_add(conv, col + (size_t)i * pl->N, ld, j->H, j->W, 0, pl->P, pl->Q, dxb);
    }
}

// Backward of one image of a banded plan, one band of output rows at a time.
static void backward_bands(const ConvJob *j, int b) {
    const NnConv2d *conv = j->conv;
    const ConvPlan *pl = &j->pl;
    int F = conv->n_out;
    size_t img = (size_t)conv->n_in * j->H * j->W;
    const float *xb = j->x + (size_t)b * img, *dyb = j->dy + (size_t)b * F * pl->N;
    float *dxb = j->dx ? j->dx + (size_t)b * img : NULL, *col = item_cols(j, b);
    float *dw = j->parts + (size_t)b * ((size_t)F * pl->R + F), *db = dw + (size_t)F * pl->R;
    row_sums(dyb, F, (size_t)pl->N, (size_t)pl->N, db);
    if (dxb) {
        memset(dxb, 0, sizeof(float) * img);
    }
    for (int p0 = 0; p0 < pl->P; p0 += pl->band) {
        int p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
        int cols = (p1 - p0) * pl->Q;
        const float *d = dyb + (size_t)p0 * pl->Q;

        // dW part (F x R) += dy_band (F x cols) col^T (cols x R)
        im2col(conv, xb, j->H, j->W, p0, p1, pl->Q, col, (size_t)cols);
        nn_sgemm(0, 1, F, pl->R, cols, 1.0f, d, pl->N, col, cols, p0 == 0 ? 0.0f : 1.0f, dw,
                 pl->R);
        if (!dxb) {
            continue;
        }

        // dcol (R x cols) = W^T dy_band, folded back onto the image
        nn_sgemm(1, 0, pl->R, cols, F, 1.0f, conv->w, pl->R, d, pl->N, 0.0f, col, cols);
        col2im_add(conv, col, (size_t)cols, j->H, j->W, p0, p1, pl->Q, dxb);
    }
}

static void backward_item(void *ctx, int item) {
    const ConvJob *j = ctx;
    if (j->pl.group > 1) {
        backward_group(j, item);
    } else {
        backward_bands(j, item);
    }
}

// dW and db += the items' parts, added in item order for each element.
static void add_parts(void *ctx, size_t lo, size_t hi) {
    const ConvJob *j = ctx;
    size_t n_w = (size_t)j->conv->n_out * (size_t)j->pl.R, stride = n_w + j->conv->n_out;
    for (size_t e = lo; e < hi; e++) {
        float *dst = e < n_w ? j->conv->dw + e : j->conv->db + (e - n_w);
        float s = *dst;
        for (int i = 0; i < j->n_items; i++) {
            s += j->parts[(size_t)i * stride + e];
        }
        *dst = s;
    }
}

void nn_conv2d_backward(NnConv2d *conv, const float *x, const float *dy, float *dx, int B,
                        int H, int W, float *scratch) {
    ASSERT(B > 0, "nn_conv2d_backward: batch %d", B);
    ConvJob j = conv_job(conv, B, H, W, scratch);
    j.x = x;
    j.dy = dy;
    j.dx = dx;
    nn_parallel_run(backward_item, &j, j.n_items);
    size_t n = (size_t)conv->n_out * (size_t)j.pl.R + (size_t)conv->n_out;
    nn_parallel_ranges(add_parts, &j, n, n * (size_t)j.n_items);
}

double nn_conv2d_flops_forward(const NnConv2d *conv, int B, int H, int W) {
    double R = (double)conv->n_in * conv->kernel * conv->kernel;
    double N = (double)nn_conv2d_out_size(conv, H) * nn_conv2d_out_size(conv, W);
    return 2.0 * B * conv->n_out * R * N;
}
