// Image-task losses; see loss_vision.h.
#include "nn/loss_vision.h"

#include <math.h>
#include <string.h>

#include "common/error.h"

float nn_softmax_xent_forward_backward(const float *logits, const int32_t *labels, int B,
                                       int C, long N, int ignore_label, float scale,
                                       float *dlogits, long *n_valid) {
    long count = 0;
    for (long i = 0; i < (long)B * N; i++) {
        int32_t y = labels[i];
        ASSERT(y == ignore_label || (y >= 0 && y < C),
               "nn_softmax_xent: label %d at element %ld outside [0, %d)", (int)y, i, C);
        count += y != ignore_label;
    }
    if (n_valid) {
        *n_valid = count;
    }
    if (dlogits) {
        memset(dlogits, 0, sizeof(float) * (size_t)B * C * N);
    }
    if (count == 0) {
        return 0.0f;
    }
    double total = 0.0;
    float g = scale / (float)count;
    for (int b = 0; b < B; b++) {
        const float *lb = logits + (long)b * C * N;
        for (long i = 0; i < N; i++) {
            int32_t y = labels[(long)b * N + i];
            if (y == ignore_label) {
                continue;
            }

            // log-sum-exp shifted by the maximum so exp never overflows
            float mx = lb[i];
            for (int c = 1; c < C; c++) {
                mx = fmaxf(mx, lb[c * N + i]);
            }
            double z = 0.0;
            for (int c = 0; c < C; c++) {
                z += exp((double)(lb[c * N + i] - mx));
            }
            double lse = (double)mx + log(z);
            total += lse - (double)lb[y * N + i];
            if (!dlogits) {
                continue;
            }
            float *db = dlogits + (long)b * C * N;
            for (int c = 0; c < C; c++) {
                float prob = (float)(exp((double)lb[c * N + i] - lse));
                db[c * N + i] = g * (prob - (c == y ? 1.0f : 0.0f));
            }
        }
    }
    return (float)(total / (double)count);
}

float nn_l1_forward_backward(const float *pred, const float *target, const uint8_t *valid,
                             size_t n, float scale, float *dpred, long *n_valid) {
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        count += !valid || valid[i];
    }
    if (n_valid) {
        *n_valid = count;
    }
    double total = 0.0;
    float g = count > 0 ? scale / (float)count : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = pred[i] - target[i];
        int on = !valid || valid[i];
        if (on) {
            total += fabs((double)d);
        }
        if (dpred) {
            dpred[i] = on ? g * (float)((d > 0.0f) - (d < 0.0f)) : 0.0f;
        }
    }
    return count > 0 ? (float)(total / (double)count) : 0.0f;
}

// |p| below this is treated as this, so an all-zero prediction has a finite
// (zero-direction) gradient instead of a division by zero.
#define COSINE_MIN_NORM 1e-6f

float nn_cosine_forward_backward(const float *pred, const float *target, int B, long N,
                                 float scale, float *dpred, long *n_valid) {
    long count = 0;
    for (int b = 0; b < B; b++) {
        const float *t = target + (long)b * 3 * N;
        for (long i = 0; i < N; i++) {
            count += t[i] != 0.0f || t[N + i] != 0.0f || t[2 * N + i] != 0.0f;
        }
    }
    if (n_valid) {
        *n_valid = count;
    }
    if (dpred) {
        memset(dpred, 0, sizeof(float) * (size_t)B * 3 * N);
    }
    if (count == 0) {
        return 0.0f;
    }
    double total = 0.0;
    float g = scale / (float)count;
    for (int b = 0; b < B; b++) {
        const float *p = pred + (long)b * 3 * N, *t = target + (long)b * 3 * N;
        for (long i = 0; i < N; i++) {
            float t0 = t[i], t1 = t[N + i], t2 = t[2 * N + i];
            if (t0 == 0.0f && t1 == 0.0f && t2 == 0.0f) {
                continue;
            }
            float p0 = p[i], p1 = p[N + i], p2 = p[2 * N + i];
            float norm = fmaxf(sqrtf(p0 * p0 + p1 * p1 + p2 * p2), COSINE_MIN_NORM);
            float dot = (p0 * t0 + p1 * t1 + p2 * t2) / norm;
            total += 1.0 - (double)dot;
            if (!dpred) {
                continue;
            }

            // d(-<p, t> / |p|) / dp = -(t - <p/|p|, t> p/|p|) / |p|
            float *d = dpred + (long)b * 3 * N;
            d[i] = -g * (t0 - dot * p0 / norm) / norm;
            d[N + i] = -g * (t1 - dot * p1 / norm) / norm;
            d[2 * N + i] = -g * (t2 - dot * p2 / norm) / norm;
        }
    }
    return (float)(total / (double)count);
}
