// Max pooling; see pool.h.
#include "nn/pool.h"

#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"

int nn_maxpool2d_out_size(const NnMaxPool2d *pool, int in) {
    ASSERT(pool->kernel >= 1 && pool->stride >= 1, "nn_maxpool2d: bad kernel %d stride %d",
           pool->kernel, pool->stride);
    ASSERT(in >= pool->kernel, "nn_maxpool2d: input %d smaller than kernel %d", in,
           pool->kernel);
    return (in - pool->kernel) / pool->stride + 1;
}

// The common 2x2 window with stride 2, unrolled; ties keep the first
// element in row-major order like the general loop.
static void maxpool_2x2(const float *x, float *y, int *argmax, long planes, int H, int W,
                        int P, int Q) {
    for (long plane = 0; plane < planes; plane++) {
        const float *xp = x + plane * H * W;
        float *yp = y + plane * P * Q;
        int *ap = argmax + plane * P * Q;
        for (int p = 0; p < P; p++) {
            int r0 = 2 * p * W, r1 = r0 + W;
            for (int q = 0; q < Q; q++) {
                int best = r0 + 2 * q;
                best = xp[r0 + 2 * q + 1] > xp[best] ? r0 + 2 * q + 1 : best;
                best = xp[r1 + 2 * q] > xp[best] ? r1 + 2 * q : best;
                best = xp[r1 + 2 * q + 1] > xp[best] ? r1 + 2 * q + 1 : best;
                yp[p * Q + q] = xp[best];
                ap[p * Q + q] = best;
            }
        }
    }
}

// Arguments of a pass over a range of planes.
typedef struct PoolJob {
    const NnMaxPool2d *pool;
    const float *x, *dy;
    float *y, *dx;
    const int *argmax_in;
    int *argmax;
    int H, W, P, Q;
} PoolJob;

// Forward over planes [lo, hi) of the general window.
static void forward_planes(void *ctx, size_t lo, size_t hi) {
    const PoolJob *j = ctx;
    int H = j->H, W = j->W, P = j->P, Q = j->Q;
    int K = j->pool->kernel, S = j->pool->stride;
    if (K == 2 && S == 2) {
        maxpool_2x2(j->x + lo * H * W, j->y + lo * P * Q, j->argmax + lo * P * Q,
                    (long)(hi - lo), H, W, P, Q);
        return;
    }
    for (long plane = (long)lo; plane < (long)hi; plane++) {
        const float *xp = j->x + plane * H * W;
        float *yp = j->y + plane * P * Q;
        int *ap = j->argmax + plane * P * Q;
        for (int p = 0; p < P; p++) {
            for (int q = 0; q < Q; q++) {
                int best = p * S * W + q * S;
                for (int ki = 0; ki < K; ki++) {
                    for (int kj = 0; kj < K; kj++) {
                        int at = (p * S + ki) * W + q * S + kj;
                        if (xp[at] > xp[best]) {
                            best = at;
                        }
                    }
                }
                yp[p * Q + q] = xp[best];
                ap[p * Q + q] = best;
            }
        }
    }
}

// Planes are independent, so the team splits them into ranges.
void nn_maxpool2d_forward(const NnMaxPool2d *pool, const float *x, float *y, int *argmax,
                          int B, int C, int H, int W) {
    PoolJob j = {pool, x, NULL, y, NULL, NULL, argmax, H, W, nn_maxpool2d_out_size(pool, H),
                 nn_maxpool2d_out_size(pool, W)};
    size_t planes = (size_t)B * (size_t)C;
    nn_parallel_ranges(forward_planes, &j, planes, planes * (size_t)H * (size_t)W);
}

// Backward over planes [lo, hi): zero, then each gradient to its argmax.
static void backward_planes(void *ctx, size_t lo, size_t hi) {
    const PoolJob *j = ctx;
    size_t in_n = (size_t)j->H * j->W, out_n = (size_t)j->P * j->Q;
    memset(j->dx + lo * in_n, 0, sizeof(float) * (hi - lo) * in_n);
    for (size_t plane = lo; plane < hi; plane++) {
        float *dxp = j->dx + plane * in_n;
        const float *dyp = j->dy + plane * out_n;
        const int *ap = j->argmax_in + plane * out_n;
        for (size_t i = 0; i < out_n; i++) {
            dxp[ap[i]] += dyp[i];
        }
    }
}

void nn_maxpool2d_backward(const NnMaxPool2d *pool, const float *dy, const int *argmax,
                           float *dx, int B, int C, int H, int W) {
    PoolJob j = {pool, NULL, dy, NULL, dx, argmax, NULL, H, W, nn_maxpool2d_out_size(pool, H),
                 nn_maxpool2d_out_size(pool, W)};
    size_t planes = (size_t)B * (size_t)C;
    nn_parallel_ranges(backward_planes, &j, planes, planes * (size_t)H * (size_t)W);
}
