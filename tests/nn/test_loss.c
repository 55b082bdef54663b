// Losses: MSE and the tanh-squashed Gaussian, with central-difference
// gradient checks against double-precision references, including the
// saturated case |u| ~ 10 where tanh rounds to 1 in float.
//
// Dimension letters: B batch rows, A action dimensions.
#include "nn/loss.h"

#include <stdlib.h>

#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/nn_check.h"

// ---- MSE ----

static void mse_value_and_gradient(void) {
    float pred[5] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f};
    float target[5] = {0.0f, -1.0f, 0.5f, 1.0f, -1.0f};
    float dpred[5];

    // squared errors 1, 1, 0, 4, 1: mean 7/5
    CHECK_NEAR(1.4, nn_mse_forward_backward(pred, target, 5, 0.5f, dpred), 1e-7);
    for (int i = 0; i < 5; i++) {
        double expected = 0.5 * 2.0 * ((double)pred[i] - (double)target[i]) / 5.0;
        CHECK_NEAR(expected, dpred[i], 1e-7);
    }
    CHECK_NEAR(1.4, nn_mse_forward_backward(pred, target, 5, 1.0f, NULL), 1e-7);
}

// Double-precision MSE.
static double mse_ref(const double *pred, const float *target, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        double d = pred[i] - (double)target[i];
        sum += d * d;
    }
    return sum / n;
}

static void mse_gradient_check(void) {
    enum { N = 33 };
    RngState rng;
    rng_init(&rng, 51);
    float pred[N], target[N], dpred[N];
    fill_uniform(pred, N, &rng, -2.0, 2.0);
    fill_uniform(target, N, &rng, -2.0, 2.0);
    float scale = 0.7f;
    nn_mse_forward_backward(pred, target, N, scale, dpred);
    double p[N], h = 1e-5, worst = 0.0;
    for (int i = 0; i < N; i++) {
        p[i] = pred[i];
    }
    for (int i = 0; i < N; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = mse_ref(p, target, N);
        p[i] = keep - h;
        double down = mse_ref(p, target, N);
        p[i] = keep;
        double fd = (double)scale * (up - down) / (2 * h);
        worst = fmax(worst, grad_rel_err(dpred[i], fd, 1e-6));
    }
    CHECK_MSG(worst < 1e-5, "worst relative error %g", worst);
}

// ---- tanh-squashed Gaussian ----

#define MAX_ROWS 8
#define MAX_A 4

// Forward-pass outputs with the storage the cache points into.
typedef struct TgRun {
    float log_std[MAX_ROWS * MAX_A];
    float eps[MAX_ROWS * MAX_A];
    float u[MAX_ROWS * MAX_A];
    float action[MAX_ROWS * MAX_A];
    float logp[MAX_ROWS];
    NnTanhGaussianCache cache;
} TgRun;

static void tg_run(TgRun *run, const NnTanhGaussian *tg, const float *head, const float *eps,
                   int B) {
    run->cache.log_std = run->log_std;
    run->cache.eps = run->eps;
    run->cache.u = run->u;
    run->cache.action = run->action;
    nn_tanh_gaussian_forward(tg, head, eps, B, &run->cache, run->logp);
}

static double softplus_ref(double x) {
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

// Double-precision loss sum c * action + sum d * logp of the documented
// formulas, as a function of the head (B x 2A) with eps fixed. Writes the
// per-row logp and the actions when the pointers are not NULL.
static double tg_loss_ref(const NnTanhGaussian *tg, const double *head, const float *eps,
                          const float *c, const float *d, int B, double *logp,
                          double *action) {
    int A = tg->A;
    double lo = tg->log_std_min, hi = tg->log_std_max, loss = 0.0;
    for (int r = 0; r < B; r++) {
        double lp = 0.0;
        for (int j = 0; j < A; j++) {
            double mean = head[r * 2 * A + j], raw = head[r * 2 * A + A + j];
            double log_std = lo + (hi - lo) * (tanh(raw) + 1.0) / 2.0;
            double e = eps[r * A + j];
            double u = mean + exp(log_std) * e;
            double a = tanh(u);
            double log_jac = 2.0 * (log(2.0) - u - softplus_ref(-2.0 * u));
            lp += -e * e / 2.0 - log_std - log(2.0 * 3.14159265358979323846) / 2.0 - log_jac;
            if (action) {
                action[r * A + j] = a;
            }
            loss += c ? (double)c[r * A + j] * a : 0.0;
        }
        if (logp) {
            logp[r] = lp;
        }
        loss += d ? (double)d[r] * lp : 0.0;
    }
    return loss;
}

static void tg_hand_value(void) {
    // lo = -5, hi = 2 and raw = atanh(3/7) give log_std = -5 + 7 * (10/7) / 2 = 0
    NnTanhGaussian tg = {.A = 1, .log_std_min = -5.0f, .log_std_max = 2.0f};
    float head[2] = {0.2f, (float)atanh(3.0 / 7.0)};
    float eps[1] = {0.5f};
    TgRun run;
    tg_run(&run, &tg, head, eps, 1);
    CHECK_NEAR(0.0, run.log_std[0], 1e-6);
    CHECK(run.eps[0] == 0.5f);
    CHECK_NEAR(0.7, run.u[0], 1e-6);
    CHECK_NEAR(tanh(0.7), run.action[0], 1e-6);

    // N(0.7; 0.2, 1) log-density minus log(1 - tanh(0.7)^2), by the direct formula
    double t = tanh(0.7);
    double expected = -0.125 - 0.5 * log(2.0 * 3.14159265358979323846) - log(1.0 - t * t);
    CHECK_NEAR(expected, run.logp[0], 1e-5);
}

static void tg_log_std_bounded(void) {
    NnTanhGaussian tg = {.A = 2, .log_std_min = -20.0f, .log_std_max = 2.0f};
    float head[4] = {0.0f, 0.0f, -50.0f, 50.0f};
    float eps[2] = {0.0f, 0.0f};
    TgRun run;
    tg_run(&run, &tg, head, eps, 1);
    CHECK_NEAR(-20.0, run.log_std[0], 1e-5);
    CHECK_NEAR(2.0, run.log_std[1], 1e-5);
    CHECK(isfinite(run.logp[0]));
}

static void tg_forward_matches_reference(void) {
    enum { B = 5, A = 3 };
    NnTanhGaussian tg = {.A = A, .log_std_min = -5.0f, .log_std_max = 2.0f};
    RngState rng;
    rng_init(&rng, 52);
    float head[B * 2 * A], eps[B * A];
    fill_uniform(head, B * 2 * A, &rng, -1.5, 1.5);
    for (int k = 0; k < B * A; k++) {
        eps[k] = (float)rng_normal(&rng);
    }
    TgRun run;
    tg_run(&run, &tg, head, eps, B);
    double hd[B * 2 * A], logp[B], action[B * A];
    for (int k = 0; k < B * 2 * A; k++) {
        hd[k] = head[k];
    }
    tg_loss_ref(&tg, hd, eps, NULL, NULL, B, logp, action);
    for (int r = 0; r < B; r++) {
        CHECK_NEAR(logp[r], run.logp[r], 1e-4 * (1.0 + fabs(logp[r])));
    }
    for (int k = 0; k < B * A; k++) {
        CHECK_NEAR(action[k], run.action[k], 1e-6);
    }
}

// Compares nn_tanh_gaussian_backward with central differences of the double
// reference for weights c on the actions and d on logp (either may be NULL).
// Returns the worst relative error over every head entry.
static double tg_gradient_error(const NnTanhGaussian *tg, const float *head, const float *eps,
                                const float *c, const float *d, int B) {
    int A = tg->A, n = B * 2 * A;
    TgRun run;
    tg_run(&run, tg, head, eps, B);
    float dhead[MAX_ROWS * 2 * MAX_A];
    nn_tanh_gaussian_backward(tg, head, &run.cache, c, d, B, dhead);

    double hd[MAX_ROWS * 2 * MAX_A], h = 1e-5, worst = 0.0;
    for (int k = 0; k < n; k++) {
        hd[k] = head[k];
    }
    for (int k = 0; k < n; k++) {
        double keep = hd[k];
        hd[k] = keep + h;
        double up = tg_loss_ref(tg, hd, eps, c, d, B, NULL, NULL);
        hd[k] = keep - h;
        double down = tg_loss_ref(tg, hd, eps, c, d, B, NULL, NULL);
        hd[k] = keep;
        worst = fmax(worst, grad_rel_err(dhead[k], (up - down) / (2 * h), 1e-3));
    }
    return worst;
}

// Random head, noise and loss weights for B rows of A dimensions.
static void tg_random_inputs(RngState *rng, int B, int A, float *head, float *eps, float *c,
                             float *d) {
    fill_uniform(head, (size_t)B * 2 * A, rng, -1.5, 1.5);
    for (int k = 0; k < B * A; k++) {
        eps[k] = (float)rng_normal(rng);
    }
    fill_uniform(c, (size_t)B * A, rng, -1.0, 1.0);
    fill_uniform(d, (size_t)B, rng, -1.0, 1.0);
}

static void tg_gradient_action_path(void) {
    enum { B = 4, A = 3 };
    NnTanhGaussian tg = {.A = A, .log_std_min = -5.0f, .log_std_max = 2.0f};
    RngState rng;
    rng_init(&rng, 53);
    float head[B * 2 * A], eps[B * A], c[B * A], d[B];
    tg_random_inputs(&rng, B, A, head, eps, c, d);
    double worst = tg_gradient_error(&tg, head, eps, c, NULL, B);
    CHECK_MSG(worst < 1e-4, "worst relative error %g", worst);
}

static void tg_gradient_logp_path(void) {
    enum { B = 4, A = 3 };
    NnTanhGaussian tg = {.A = A, .log_std_min = -5.0f, .log_std_max = 2.0f};
    RngState rng;
    rng_init(&rng, 54);
    float head[B * 2 * A], eps[B * A], c[B * A], d[B];
    tg_random_inputs(&rng, B, A, head, eps, c, d);
    double worst = tg_gradient_error(&tg, head, eps, NULL, d, B);
    CHECK_MSG(worst < 1e-4, "worst relative error %g", worst);
}

static void tg_gradient_both_paths(void) {
    enum { B = 6, A = 4 };
    NnTanhGaussian tg = {.A = A, .log_std_min = -20.0f, .log_std_max = 2.0f};
    RngState rng;
    rng_init(&rng, 55);
    float head[B * 2 * A], eps[B * A], c[B * A], d[B];
    tg_random_inputs(&rng, B, A, head, eps, c, d);
    double worst = tg_gradient_error(&tg, head, eps, c, d, B);
    CHECK_MSG(worst < 1e-4, "worst relative error %g", worst);
}

static void tg_saturated_stays_finite(void) {
    // means of +-10 put u near +-10, where tanhf(u) rounds to exactly 1 and
    // the direct log(1 - tanh(u)^2) is log(0)
    enum { B = 2, A = 2 };
    NnTanhGaussian tg = {.A = A, .log_std_min = -5.0f, .log_std_max = 2.0f};
    float head[B * 2 * A] = {10.0f, -10.0f, 0.3f, -0.4f, 9.5f, -10.5f, -0.2f, 0.1f};
    float eps[B * A] = {0.3f, -0.2f, 1.1f, 0.4f};
    CHECK(isinf(logf(1.0f - tanhf(10.0f) * tanhf(10.0f))));

    TgRun run;
    tg_run(&run, &tg, head, eps, B);
    double hd[B * 2 * A], logp[B];
    for (int k = 0; k < B * 2 * A; k++) {
        hd[k] = head[k];
    }
    tg_loss_ref(&tg, hd, eps, NULL, NULL, B, logp, NULL);
    for (int r = 0; r < B; r++) {
        CHECK(isfinite(run.logp[r]));
        CHECK_NEAR(logp[r], run.logp[r], 1e-4 * fabs(logp[r]));
    }

    // gradients stay finite and match: d logp/d mean = 2 tanh(u) ~ +-2
    float c[B * A] = {0.5f, -0.5f, 1.0f, 0.25f}, d[B] = {1.0f, -0.7f};
    double worst_logp = tg_gradient_error(&tg, head, eps, NULL, d, B);
    double worst_both = tg_gradient_error(&tg, head, eps, c, d, B);
    CHECK_MSG(worst_logp < 1e-4, "logp path worst relative error %g", worst_logp);
    CHECK_MSG(worst_both < 1e-4, "both paths worst relative error %g", worst_both);
    float dhead[B * 2 * A];
    nn_tanh_gaussian_backward(&tg, head, &run.cache, c, d, B, dhead);
    for (int k = 0; k < B * 2 * A; k++) {
        CHECK(isfinite(dhead[k]));
    }
}

static void tg_mean_action(void) {
    NnTanhGaussian tg = {.A = 2, .log_std_min = -5.0f, .log_std_max = 2.0f};
    float head[8] = {0.5f, -1.0f, 9.0f, 9.0f, 20.0f, 0.0f, -9.0f, -9.0f};
    float action[4];
    nn_tanh_gaussian_mean_action(&tg, head, 2, action);
    CHECK_NEAR(tanh(0.5), action[0], 1e-7);
    CHECK_NEAR(tanh(-1.0), action[1], 1e-7);
    CHECK_NEAR(1.0, action[2], 1e-7);
    CHECK_NEAR(0.0, action[3], 1e-7);
}

// Runs the forward pass with empty log-std bounds.
static void tg_empty_bounds(void *ctx) {
    (void)ctx;
    NnTanhGaussian tg = {.A = 1, .log_std_min = 2.0f, .log_std_max = 2.0f};
    float head[2] = {0}, eps[1] = {0};
    TgRun run;
    tg_run(&run, &tg, head, eps, 1);
}

static void tg_rejects_empty_bounds(void) {
    CHECK(expect_fatal(tg_empty_bounds, NULL));
    CHECK_STR_CONTAINS(fatal_message, "log-std bounds [2, 2]");
}

int main(void) {
    RUN_TEST(mse_value_and_gradient);
    RUN_TEST(mse_gradient_check);
    RUN_TEST(tg_hand_value);
    RUN_TEST(tg_log_std_bounded);
    RUN_TEST(tg_forward_matches_reference);
    RUN_TEST(tg_gradient_action_path);
    RUN_TEST(tg_gradient_logp_path);
    RUN_TEST(tg_gradient_both_paths);
    RUN_TEST(tg_saturated_stays_finite);
    RUN_TEST(tg_mean_action);
    RUN_TEST(tg_rejects_empty_bounds);
    return check_summary();
}
