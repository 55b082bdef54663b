// Batch normalisation; see batchnorm.h.
#include "nn/batchnorm.h"

#include <math.h>

#include "common/error.h"
#include "nn/gemm.h"

size_t nn_batchnorm2d_n_params(int n_ch) {
    return 2 * (size_t)n_ch;
}

size_t nn_batchnorm2d_n_state(int n_ch) {
    return 4 * (size_t)n_ch;
}

void nn_batchnorm2d_bind(NnBatchNorm2d *bn, int n_ch, float *params, float *grads,
                         float *state) {
    ASSERT(n_ch > 0, "nn_batchnorm2d_bind: %d channels", n_ch);
    bn->n_ch = n_ch;
    bn->momentum = 0.1f;
    bn->eps = 1e-5f;
    bn->gamma = params;
    bn->beta = params + n_ch;
    bn->dgamma = grads;
    bn->dbeta = grads ? grads + n_ch : NULL;
    bn->run_mean = state;
    bn->run_var = state + n_ch;
    bn->mean = state + 2 * n_ch;
    bn->inv_std = state + 3 * n_ch;
}

void nn_batchnorm2d_init(NnBatchNorm2d *bn) {
    for (int c = 0; c < bn->n_ch; c++) {
        bn->gamma[c] = 1.0f;
        bn->beta[c] = 0.0f;
        bn->run_mean[c] = 0.0f;
        bn->run_var[c] = 1.0f;
    }
}

// Mean and biased variance of channel c over the batch, accumulated in
// double so that large N does not lose precision.
static void channel_stats(const float *x, int c, int C, int B, long HW, double *mean,
                          double *var) {
    double s = 0.0, ss = 0.0;
    for (int b = 0; b < B; b++) {
        const float *xc = x + ((long)b * C + c) * HW;
        for (long i = 0; i < HW; i++) {
            s += (double)xc[i];
        }
    }
    double n = (double)B * (double)HW;
    double mu = s / n;
    for (int b = 0; b < B; b++) {
        const float *xc = x + ((long)b * C + c) * HW;
        for (long i = 0; i < HW; i++) {
            double d = (double)xc[i] - mu;
            ss += d * d;
        }
    }
    *mean = mu;
    *var = ss / n;
}

// Arguments of the per-channel items of forward and backward.
typedef struct BnJob {
    NnBatchNorm2d *bn;
    const float *x, *dy;
    float *y, *dx;
    int B;
    long HW;
    int training;
} BnJob;

// Forward of channel c: its statistics, then its planes of y.
static void forward_channel(void *ctx, int c) {
    const BnJob *j = ctx;
    NnBatchNorm2d *bn = j->bn;
    int C = bn->n_ch, B = j->B;
    long HW = j->HW;
    double n = (double)B * (double)HW;
    float mu, inv;
    if (j->training) {
        double m, v;
        channel_stats(j->x, c, C, B, HW, &m, &v);
        mu = (float)m;
        inv = (float)(1.0 / sqrt(v + (double)bn->eps));
        bn->mean[c] = mu;
        bn->inv_std[c] = inv;
        float mom = bn->momentum;
        bn->run_mean[c] = (1.0f - mom) * bn->run_mean[c] + mom * mu;
        bn->run_var[c] = (1.0f - mom) * bn->run_var[c] + mom * (float)(v * n / (n - 1.0));
    } else {
        mu = bn->run_mean[c];
        inv = 1.0f / sqrtf(bn->run_var[c] + bn->eps);
    }
    float scale = bn->gamma[c] * inv, shift = bn->beta[c] - mu * scale;
    for (int b = 0; b < B; b++) {
        const float *xc = j->x + ((long)b * C + c) * HW;
        float *yc = j->y + ((long)b * C + c) * HW;
        for (long i = 0; i < HW; i++) {
            yc[i] = xc[i] * scale + shift;
        }
    }
}

// Channels are independent items on the nn/gemm.h team, so the result
// does not depend on the thread count.
void nn_batchnorm2d_forward(NnBatchNorm2d *bn, const float *x, float *y, int B, int H, int W,
                            int training) {
    long HW = (long)H * W;
    double n = (double)B * (double)HW;
    ASSERT(!training || n >= 2, "nn_batchnorm2d_forward: training needs >= 2 values per "
           "channel, got B=%d H=%d W=%d", B, H, W);
    BnJob j = {bn, x, NULL, y, NULL, B, HW, training};
    nn_parallel_run(forward_channel, &j, bn->n_ch);
}

// With xhat = (x - mu) inv_std the input gradient of a batch-statistics
// normalisation is dx = gamma inv_std / N (N dy - sum dy - xhat sum dy xhat).
static void backward_channel(void *ctx, int c) {
    const BnJob *j = ctx;
    NnBatchNorm2d *bn = j->bn;
    int C = bn->n_ch, B = j->B;
    long HW = j->HW;
    double n = (double)B * (double)HW;
    float mu = bn->mean[c], inv = bn->inv_std[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int b = 0; b < B; b++) {
        const float *xc = j->x + ((long)b * C + c) * HW;
        const float *dc = j->dy + ((long)b * C + c) * HW;
        for (long i = 0; i < HW; i++) {
            sum_dy += (double)dc[i];
            sum_dy_xhat += (double)dc[i] * (double)((xc[i] - mu) * inv);
        }
    }
    if (bn->dgamma) {
        bn->dgamma[c] += (float)sum_dy_xhat;
        bn->dbeta[c] += (float)sum_dy;
    }
    if (!j->dx) {
        return;
    }
    float k = bn->gamma[c] * inv;
    float mean_dy = (float)(sum_dy / n), mean_dy_xhat = (float)(sum_dy_xhat / n);
    for (int b = 0; b < B; b++) {
        const float *xc = j->x + ((long)b * C + c) * HW;
        const float *dc = j->dy + ((long)b * C + c) * HW;
        float *out = j->dx + ((long)b * C + c) * HW;
        for (long i = 0; i < HW; i++) {
            float xhat = (xc[i] - mu) * inv;
            out[i] = k * (dc[i] - mean_dy - xhat * mean_dy_xhat);
        }
    }
}

void nn_batchnorm2d_backward(NnBatchNorm2d *bn, const float *x, const float *dy, float *dx,
                             int B, int H, int W) {
    BnJob j = {bn, x, dy, NULL, dx, B, (long)H * W, 1};
    nn_parallel_run(backward_channel, &j, bn->n_ch);
}
