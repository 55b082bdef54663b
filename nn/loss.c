// Mean-squared error and the tanh-squashed Gaussian policy head.
//
// Dimension letters: B batch rows, A action dimensions.
#include "nn/loss.h"

#include <math.h>

#include "common/error.h"

float nn_mse_forward_backward(const float *pred, const float *target, size_t n, float scale,
                              float *dpred) {
    ASSERT(n > 0, "MSE over zero elements");
    double sum = 0.0;
    float grad_scale = scale * 2.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float diff = pred[i] - target[i];
        sum += (double)diff * (double)diff;
        if (dpred) {
            dpred[i] = grad_scale * diff;
        }
    }
    return (float)(sum / (double)n);
}

// log(1 + exp(x)) without overflow for large x or lost digits for very
// negative x.
static float softplus(float x) {
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

// log(1 - tanh(u)^2) = log(sech(u)^2) = 2 (log 2 - u - softplus(-2u)).
// The direct form gives log(0) = -inf once tanhf(u) rounds to 1 (|u| > ~9).
static float log_one_minus_tanh_sq(float u) {
    return 2.0f * (0.69314718f - u - softplus(-2.0f * u));
}

static void check_bounds(const NnTanhGaussian *tg) {
    ASSERT(tg->A > 0, "action dimensions %d must be positive", tg->A);
    ASSERT(tg->log_std_min < tg->log_std_max, "log-std bounds [%g, %g] are empty",
           (double)tg->log_std_min, (double)tg->log_std_max);
}

void nn_tanh_gaussian_forward(const NnTanhGaussian *tg, const float *head, const float *eps,
                              int B, NnTanhGaussianCache *cache, float *logp) {
    check_bounds(tg);
    int A = tg->A;
    float lo = tg->log_std_min, half_range = 0.5f * (tg->log_std_max - tg->log_std_min);
    const float half_log_2pi = 0.91893853f;  // log(2 pi) / 2

    for (int r = 0; r < B; r++) {
        const float *mean = head + (size_t)r * 2 * (size_t)A;
        const float *raw = mean + A;
        size_t row = (size_t)r * (size_t)A;
        float sum = 0.0f;
        for (int j = 0; j < A; j++) {
            // squash the raw log-std smoothly into [lo, hi] instead of
            // clamping, so its gradient never vanishes abruptly
            float log_std = lo + half_range * (tanhf(raw[j]) + 1.0f);
            float e = eps[row + j];
            float u = mean[j] + expf(log_std) * e;
            cache->log_std[row + j] = log_std;
            cache->eps[row + j] = e;
            cache->u[row + j] = u;
            cache->action[row + j] = tanhf(u);

            // Gaussian log-density of u, minus the log-Jacobian of tanh
            sum += -0.5f * e * e - log_std - half_log_2pi - log_one_minus_tanh_sq(u);
        }
        logp[r] = sum;
    }
}

void nn_tanh_gaussian_backward(const NnTanhGaussian *tg, const float *head,
                               const NnTanhGaussianCache *cache, const float *daction,
                               const float *dlogp, int B, float *dhead) {
    check_bounds(tg);
    int A = tg->A;
    float half_range = 0.5f * (tg->log_std_max - tg->log_std_min);

    for (int r = 0; r < B; r++) {
        const float *raw = head + (size_t)r * 2 * (size_t)A + A;
        float *dmean = dhead + (size_t)r * 2 * (size_t)A;
        float *draw = dmean + A;
        size_t row = (size_t)r * (size_t)A;
        float gl = dlogp ? dlogp[r] : 0.0f;
        for (int j = 0; j < A; j++) {
            float a = cache->action[row + j];
            float ga = daction ? daction[row + j] : 0.0f;

            // d action/du = 1 - a^2, and d logp/du = -d/du log(1 - tanh(u)^2)
            // = 2 tanh(u), exact even where tanhf(u) has rounded to +-1
            float du = ga * (1.0f - a * a) + gl * 2.0f * a;

            // u = mean + exp(log_std) eps, and logp has an explicit -log_std
            float std = expf(cache->log_std[row + j]);
            float dlog_std = du * std * cache->eps[row + j] - gl;
            float t = tanhf(raw[j]);
            dmean[j] = du;
            draw[j] = dlog_std * half_range * (1.0f - t * t);
        }
    }
}

void nn_tanh_gaussian_mean_action(const NnTanhGaussian *tg, const float *head, int B,
                                  float *action) {
    check_bounds(tg);
    int A = tg->A;
    for (int r = 0; r < B; r++) {
        const float *mean = head + (size_t)r * 2 * (size_t)A;
        for (int j = 0; j < A; j++) {
            action[(size_t)r * (size_t)A + j] = tanhf(mean[j]);
        }
    }
}
