// Max pooling; see pool.h.
#include "nn/pool.h"

#include <string.h>

#include "common/error.h"

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

void nn_maxpool2d_forward(const NnMaxPool2d *pool, const float *x, float *y, int *argmax,
                          int B, int C, int H, int W) {
    int P = nn_maxpool2d_out_size(pool, H), Q = nn_maxpool2d_out_size(pool, W);
    int K = pool->kernel, S = pool->stride;
    if (K == 2 && S == 2) {
        maxpool_2x2(x, y, argmax, (long)B * C, H, W, P, Q);
        return;
    }
    for (long plane = 0; plane < (long)B * C; plane++) {
        const float *xp = x + plane * H * W;
        float *yp = y + plane * P * Q;
        int *ap = argmax + plane * P * Q;
        for (int p = 0; p < P; p++) {
            for (int q = 0; q < Q; q++) {
                int best = p * S * W + q * S;
                for (int i = 0; i < K; i++) {
                    for (int j = 0; j < K; j++) {
                        int at = (p * S + i) * W + q * S + j;
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

void nn_maxpool2d_backward(const NnMaxPool2d *pool, const float *dy, const int *argmax,
                           float *dx, int B, int C, int H, int W) {
    int P = nn_maxpool2d_out_size(pool, H), Q = nn_maxpool2d_out_size(pool, W);
    memset(dx, 0, sizeof(float) * (size_t)B * C * H * W);
    for (long plane = 0; plane < (long)B * C; plane++) {
        float *dxp = dx + plane * H * W;
        const float *dyp = dy + plane * P * Q;
        const int *ap = argmax + plane * P * Q;
        for (int i = 0; i < P * Q; i++) {
            dxp[ap[i]] += dyp[i];
        }
    }
}
