// Bilinear resizing; see upsample.h.
#include "nn/upsample.h"

#include <string.h>

#include "common/error.h"

// Source taps of one output coordinate: lo, hi and the weight of hi.
typedef struct Tap {
    int lo, hi;
    float w_hi;
} Tap;

// align_corners=False maps output centre to input centre; PyTorch clamps
// negative source coordinates to 0, which matters at the first pixel.
static Tap tap_at(int out_i, int in, int out) {
    float scale = (float)in / (float)out;
    float src = ((float)out_i + 0.5f) * scale - 0.5f;
    if (src < 0.0f) {
        src = 0.0f;
    }
    Tap t;
    t.lo = (int)src;
    t.hi = t.lo < in - 1 ? t.lo + 1 : t.lo;
    t.w_hi = src - (float)t.lo;
    return t;
}

void nn_upsample_bilinear_forward(const float *x, float *y, int B, int C, int H, int W, int P,
                                  int Q) {
    ASSERT(H > 0 && W > 0 && P > 0 && Q > 0, "nn_upsample_bilinear: bad sizes %dx%d -> %dx%d",
           H, W, P, Q);
    for (long plane = 0; plane < (long)B * C; plane++) {
        const float *xp = x + plane * H * W;
        float *yp = y + plane * P * Q;
        for (int p = 0; p < P; p++) {
            Tap tr = tap_at(p, H, P);
            const float *r0 = xp + (long)tr.lo * W, *r1 = xp + (long)tr.hi * W;
            for (int q = 0; q < Q; q++) {
                Tap tc = tap_at(q, W, Q);
                float top = r0[tc.lo] + tc.w_hi * (r0[tc.hi] - r0[tc.lo]);
                float bot = r1[tc.lo] + tc.w_hi * (r1[tc.hi] - r1[tc.lo]);
                yp[(long)p * Q + q] = top + tr.w_hi * (bot - top);
            }
        }
    }
}

void nn_upsample_bilinear_backward(const float *dy, float *dx, int B, int C, int H, int W,
                                   int P, int Q) {
    ASSERT(H > 0 && W > 0 && P > 0 && Q > 0, "nn_upsample_bilinear: bad sizes %dx%d -> %dx%d",
           H, W, P, Q);
    memset(dx, 0, sizeof(float) * (size_t)B * C * H * W);
    for (long plane = 0; plane < (long)B * C; plane++) {
        float *dp = dx + plane * H * W;
        const float *gp = dy + plane * P * Q;
        for (int p = 0; p < P; p++) {
            Tap tr = tap_at(p, H, P);
            for (int q = 0; q < Q; q++) {
                Tap tc = tap_at(q, W, Q);
                float g = gp[(long)p * Q + q];
                float g0 = g * (1.0f - tr.w_hi), g1 = g * tr.w_hi;
                dp[(long)tr.lo * W + tc.lo] += g0 * (1.0f - tc.w_hi);
                dp[(long)tr.lo * W + tc.hi] += g0 * tc.w_hi;
                dp[(long)tr.hi * W + tc.lo] += g1 * (1.0f - tc.w_hi);
                dp[(long)tr.hi * W + tc.hi] += g1 * tc.w_hi;
            }
        }
    }
}
