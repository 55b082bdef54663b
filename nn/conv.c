// 2-D convolution through im2col and sgemm; see conv.h.
#include "nn/conv.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "common/error.h"

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

size_t nn_conv2d_scratch_size(const NnConv2d *conv, int H, int W) {
    size_t rows = (size_t)conv->n_in * (size_t)conv->kernel * (size_t)conv->kernel;
    return rows * (size_t)nn_conv2d_out_size(conv, H) * (size_t)nn_conv2d_out_size(conv, W);
}

void nn_conv2d_init(NnConv2d *conv, RngState *rng) {
    int fan_in = conv->n_in * conv->kernel * conv->kernel;
    float bound = 1.0f / sqrtf((float)fan_in);
    size_t n = nn_conv2d_n_params(conv->n_in, conv->n_out, conv->kernel);
    for (size_t i = 0; i < n; i++) {
        conv->w[i] = (2.0f * rng_uniform_f(rng) - 1.0f) * bound;
    }
}

// A 1x1 kernel with stride 1 and no padding needs no unfolding: the image
// itself is the column matrix.
static int is_pointwise(const NnConv2d *conv) {
    return conv->kernel == 1 && conv->stride == 1 && conv->pad == 0;
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

// Unfolds one image x (C x H x W) into col (C*K*K x P*Q), zero outside.
// Each row segment is a contiguous copy when the stride is 1.
static void im2col(const NnConv2d *conv, const float *x, int H, int W, int P, int Q,
                   float *col) {
    int K = conv->kernel, S = conv->stride, pad = conv->pad;
    for (int c = 0; c < conv->n_in; c++) {
        const float *xc = x + (size_t)c * H * W;
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                float *row = col + ((size_t)(c * K + ki) * K + kj) * P * Q;
                int lo, hi;
                valid_cols(Q, W, S, pad, kj, &lo, &hi);
                for (int p = 0; p < P; p++) {
                    int ih = p * S - pad + ki;
                    float *out = row + (size_t)p * Q;
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

// Folds col (C*K*K x P*Q) back onto dx (C x H x W), summing overlaps; dx is
// overwritten.
static void col2im(const NnConv2d *conv, const float *col, int H, int W, int P, int Q,
                   float *dx) {
    int K = conv->kernel, S = conv->stride, pad = conv->pad;
    memset(dx, 0, sizeof(float) * (size_t)conv->n_in * H * W);
    for (int c = 0; c < conv->n_in; c++) {
        float *dxc = dx + (size_t)c * H * W;
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                const float *row = col + ((size_t)(c * K + ki) * K + kj) * P * Q;
                int lo, hi;
                valid_cols(Q, W, S, pad, kj, &lo, &hi);
                for (int p = 0; p < P; p++) {
                    int ih = p * S - pad + ki;
                    if (ih < 0 || ih >= H) {
                        continue;
                    }
                    float *dr = dxc + (size_t)ih * W + (lo * S - pad + kj);
                    const float *in = row + (size_t)p * Q;
                    for (int q = lo; q < hi; q++) {
                        dr[(q - lo) * S] += in[q];
                    }
                }
            }
        }
    }
}

void nn_conv2d_forward(const NnConv2d *conv, const float *x, float *y, int B, int H, int W,
                       float *col) {
    int P = nn_conv2d_out_size(conv, H), Q = nn_conv2d_out_size(conv, W);
    int F = conv->n_out, R = conv->n_in * conv->kernel * conv->kernel, N = P * Q;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * conv->n_in * H * W;
        float *yb = y + (size_t)b * F * N;

        // the bias fills y, then sgemm accumulates W col onto it
        for (int f = 0; f < F; f++) {
            float *yf = yb + (size_t)f * N;
            for (int n = 0; n < N; n++) {
                yf[n] = conv->b[f];
            }
        }
        const float *cb = xb;
        if (!is_pointwise(conv)) {
            im2col(conv, xb, H, W, P, Q, col);
            cb = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, F, N, R, 1.0f, conv->w, R, cb,
                    N, 1.0f, yb, N);
    }
}

void nn_conv2d_backward(NnConv2d *conv, const float *x, const float *dy, float *dx, int B,
                        int H, int W, float *col) {
    int P = nn_conv2d_out_size(conv, H), Q = nn_conv2d_out_size(conv, W);
    int F = conv->n_out, R = conv->n_in * conv->kernel * conv->kernel, N = P * Q;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * conv->n_in * H * W;
        const float *dyb = dy + (size_t)b * F * N;

        // db += row sums of dy_b
        for (int f = 0; f < F; f++) {
            const float *d = dyb + (size_t)f * N;
            float s = 0.0f;
            for (int n = 0; n < N; n++) {
                s += d[n];
            }
            conv->db[f] += s;
        }

        // dW (F x R) += dy_b (F x N) col^T (N x R)
        const float *cb = xb;
        if (!is_pointwise(conv)) {
            im2col(conv, xb, H, W, P, Q, col);
            cb = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, F, R, N, 1.0f, dyb, N, cb, N,
                    1.0f, conv->dw, R);
        if (!dx) {
            continue;
        }

        // dcol (R x N) = W^T dy_b, folded back onto the image
        float *dxb = dx + (size_t)b * conv->n_in * H * W;
        float *dcol = is_pointwise(conv) ? dxb : col;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, N, F, 1.0f, conv->w, R, dyb,
                    N, 0.0f, dcol, N);
        if (!is_pointwise(conv)) {
            col2im(conv, dcol, H, W, P, Q, dxb);
        }
    }
}

double nn_conv2d_flops_forward(const NnConv2d *conv, int B, int H, int W) {
    double R = (double)conv->n_in * conv->kernel * conv->kernel;
    double N = (double)nn_conv2d_out_size(conv, H) * nn_conv2d_out_size(conv, W);
    return 2.0 * B * conv->n_out * R * N;
}
