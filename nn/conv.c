// 2-D convolution through im2col and sgemm; see conv.h.
#include "nn/conv.h"

#include <math.h>
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

size_t nn_conv2d_scratch_size(const NnConv2d *conv, int H, int W) {
    ConvPlan pl = conv_plan(conv, H, W);
    return (size_t)(pl.R + conv->n_out) * (size_t)pl.cols;
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

// Forward of images [b0, b0 + g) of a grouped plan: one sgemm into the
// staging block (F x g*N), then each image's rows are copied out with bias.
static void forward_group(const NnConv2d *conv, const ConvPlan *pl, const float *x, float *y,
                          int b0, int g, int H, int W, float *col, float *stage) {
    size_t ld = (size_t)g * pl->N, img = (size_t)conv->n_in * H * W;
    int F = conv->n_out;
    for (int i = 0; i < g; i++) {
        im2col(conv, x + (size_t)(b0 + i) * img, H, W, 0, pl->P, pl->Q, col + (size_t)i * pl->N,
               ld);
    }
    nn_sgemm(0, 0, F, (int)ld, pl->R, 1.0f, conv->w,
                pl->R, col, (int)ld, 0.0f, stage, (int)ld);
    for (int i = 0; i < g; i++) {
        float *yb = y + (size_t)(b0 + i) * F * pl->N;
        for (int f = 0; f < F; f++) {
            const float *src = stage + (size_t)f * ld + (size_t)i * pl->N;
            float *dst = yb + (size_t)f * pl->N, bias = conv->b[f];
            for (int n = 0; n < pl->N; n++) {
                dst[n] = src[n] + bias;
            }
        }
    }
}

// Forward of one image of a banded plan: the bias fills y, then one sgemm
// per band of output rows accumulates W col onto it in place.
static void forward_bands(const NnConv2d *conv, const ConvPlan *pl, const float *xb, float *yb,
                          int H, int W, float *col) {
    int F = conv->n_out;
    for (int f = 0; f < F; f++) {
        float *yf = yb + (size_t)f * pl->N;
        for (int n = 0; n < pl->N; n++) {
            yf[n] = conv->b[f];
        }
    }
    for (int p0 = 0; p0 < pl->P; p0 += pl->band) {
        int p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
        int cols = (p1 - p0) * pl->Q;
        im2col(conv, xb, H, W, p0, p1, pl->Q, col, (size_t)cols);
        nn_sgemm(0, 0, F, cols, pl->R, 1.0f, conv->w,
                    pl->R, col, cols, 1.0f, yb + (size_t)p0 * pl->Q, pl->N);
    }
}

void nn_conv2d_forward(const NnConv2d *conv, const float *x, float *y, int B, int H, int W,
                       float *col) {
    ConvPlan pl = conv_plan(conv, H, W);
    float *stage = col + (size_t)pl.R * pl.cols;
    for (int b = 0; b < B; b += pl.group) {
        if (pl.group > 1) {
            int g = B - b < pl.group ? B - b : pl.group;
            forward_group(conv, &pl, x, y, b, g, H, W, col, stage);
        } else {
            forward_bands(conv, &pl, x + (size_t)b * conv->n_in * H * W,
                          y + (size_t)b * conv->n_out * pl.N, H, W, col);
        }
    }
}

// db += row sums of dy_b (F x N).
static void bias_grad(NnConv2d *conv, const float *dyb, int N) {
    for (int f = 0; f < conv->n_out; f++) {
        const float *d = dyb + (size_t)f * N;
        float s = 0.0f;
        for (int n = 0; n < N; n++) {
            s += d[n];
        }
        conv->db[f] += s;
    }
}

// Backward of images [b0, b0 + g) of a grouped plan: dy is staged side by
// side (F x g*N), dW += stage col^T, and dcol = W^T stage is folded back.
static void backward_group(NnConv2d *conv, const ConvPlan *pl, const float *x, const float *dy,
                           float *dx, int b0, int g, int H, int W, float *col, float *stage) {
    size_t ld = (size_t)g * pl->N, img = (size_t)conv->n_in * H * W;
    int F = conv->n_out;
    for (int i = 0; i < g; i++) {
        const float *dyb = dy + (size_t)(b0 + i) * F * pl->N;
        bias_grad(conv, dyb, pl->N);
        for (int f = 0; f < F; f++) {
            memcpy(stage + (size_t)f * ld + (size_t)i * pl->N, dyb + (size_t)f * pl->N,
                   sizeof(float) * (size_t)pl->N);
        }
        im2col(conv, x + (size_t)(b0 + i) * img, H, W, 0, pl->P, pl->Q, col + (size_t)i * pl->N,
               ld);
    }
    nn_sgemm(0, 1, F, pl->R, (int)ld, 1.0f, stage,
                (int)ld, col, (int)ld, 1.0f, conv->dw, pl->R);
    if (!dx) {
        return;
    }
    nn_sgemm(1, 0, pl->R, (int)ld, F, 1.0f, conv->w,
                pl->R, stage, (int)ld, 0.0f, col, (int)ld);
    for (int i = 0; i < g; i++) {
        float *dxb = dx + (size_t)(b0 + i) * img;
        memset(dxb, 0, sizeof(float) * img);
        col2im_add(conv, col + (size_t)i * pl->N, ld, H, W, 0, pl->P, pl->Q, dxb);
    }
}

// Backward of one image of a banded plan, one band of output rows at a time.
static void backward_bands(NnConv2d *conv, const ConvPlan *pl, const float *xb,
                           const float *dyb, float *dxb, int H, int W, float *col) {
    int F = conv->n_out;
    bias_grad(conv, dyb, pl->N);
    if (dxb) {
        memset(dxb, 0, sizeof(float) * (size_t)conv->n_in * H * W);
    }
    for (int p0 = 0; p0 < pl->P; p0 += pl->band) {
        int p1 = p0 + pl->band < pl->P ? p0 + pl->band : pl->P;
        int cols = (p1 - p0) * pl->Q;
        const float *d = dyb + (size_t)p0 * pl->Q;

        // dW (F x R) += dy_band (F x cols) col^T (cols x R)
        im2col(conv, xb, H, W, p0, p1, pl->Q, col, (size_t)cols);
        nn_sgemm(0, 1, F, pl->R, cols, 1.0f, d, pl->N,
                    col, cols, 1.0f, conv->dw, pl->R);
        if (!dxb) {
            continue;
        }

        // dcol (R x cols) = W^T dy_band, folded back onto the image
        nn_sgemm(1, 0, pl->R, cols, F, 1.0f, conv->w,
                    pl->R, d, pl->N, 0.0f, col, cols);
        col2im_add(conv, col, (size_t)cols, H, W, p0, p1, pl->Q, dxb);
    }
}

void nn_conv2d_backward(NnConv2d *conv, const float *x, const float *dy, float *dx, int B,
                        int H, int W, float *col) {
    ConvPlan pl = conv_plan(conv, H, W);
    float *stage = col + (size_t)pl.R * pl.cols;
    size_t img = (size_t)conv->n_in * H * W;
    for (int b = 0; b < B; b += pl.group) {
        if (pl.group > 1) {
            int g = B - b < pl.group ? B - b : pl.group;
            backward_group(conv, &pl, x, dy, dx, b, g, H, W, col, stage);
        } else {
            backward_bands(conv, &pl, x + (size_t)b * img, dy + (size_t)b * conv->n_out * pl.N,
                           dx ? dx + (size_t)b * img : NULL, H, W, col);
        }
    }
}

double nn_conv2d_flops_forward(const NnConv2d *conv, int B, int H, int W) {
    double R = (double)conv->n_in * conv->kernel * conv->kernel;
    double N = (double)nn_conv2d_out_size(conv, H) * nn_conv2d_out_size(conv, W);
    return 2.0 * B * conv->n_out * R * N;
}
