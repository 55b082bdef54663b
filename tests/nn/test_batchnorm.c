// BatchNorm2d: batch statistics, running statistics, eval mode, gradients.
#include "nn/batchnorm.h"

#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "nn/gemm.h"
#include "tests/check.h"
#include "tests/nn/gradcheck.h"

enum { B = 3, C = 2, H = 3, W = 4, N_X = B * C * H * W };

typedef struct BnFixture {
    NnBatchNorm2d bn;
    float params[2 * C], grads[2 * C], state[4 * C];
    float x[N_X], y[N_X], r[N_X], dx[N_X];
} BnFixture;

static void fixture_init(BnFixture *fx, uint64_t seed) {
    RngState rng;
    rng_init(&rng, seed);
    memset(fx, 0, sizeof *fx);
    nn_batchnorm2d_bind(&fx->bn, C, fx->params, fx->grads, fx->state);
    nn_batchnorm2d_init(&fx->bn);
    for (int c = 0; c < C; c++) {
        fx->params[c] = 0.5f + (float)rng_uniform(&rng);           // gamma
        fx->params[C + c] = (float)rng_normal(&rng);                // beta
    }
    for (int i = 0; i < N_X; i++) {
        fx->x[i] = 2.0f * (float)rng_normal(&rng) + 1.0f;
        fx->r[i] = (float)rng_normal(&rng);
    }
}

static double bn_loss(void *ctx) {
    BnFixture *fx = ctx;
    nn_batchnorm2d_forward(&fx->bn, fx->x, fx->y, B, H, W, 1);
    return gradcheck_dot(fx->r, fx->y, N_X);
}

static void normalises_each_channel(void) {
    BnFixture fx;
    fixture_init(&fx, 1);
    fx.params[0] = fx.params[1] = 1.0f;
    fx.params[2] = fx.params[3] = 0.0f;
    nn_batchnorm2d_forward(&fx.bn, fx.x, fx.y, B, H, W, 1);
    for (int c = 0; c < C; c++) {
        double s = 0.0, ss = 0.0;
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < H * W; i++) {
                double v = fx.y[(b * C + c) * H * W + i];
                s += v;
                ss += v * v;
            }
        }
        CHECK_NEAR(0.0, s / (B * H * W), 1e-5);
        CHECK_NEAR(1.0, ss / (B * H * W), 1e-3);   // eps = 1e-5 shrinks it slightly
    }
}

// Running mean moves 10% toward the batch mean; the running variance takes
// the unbiased batch variance, as torch.nn.BatchNorm2d does.
static void running_stats_follow_pytorch(void) {
    BnFixture fx;
    fixture_init(&fx, 2);
    nn_batchnorm2d_forward(&fx.bn, fx.x, fx.y, B, H, W, 1);
    int n = B * H * W;
    for (int c = 0; c < C; c++) {
        double s = 0.0, ss = 0.0;
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < H * W; i++) {
                s += (double)fx.x[(b * C + c) * H * W + i];
            }
        }
        double mu = s / n;
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < H * W; i++) {
                double d = (double)fx.x[(b * C + c) * H * W + i] - mu;
                ss += d * d;
            }
        }
        CHECK_NEAR(0.1 * mu, fx.bn.run_mean[c], 1e-5);
        CHECK_NEAR(0.9 + 0.1 * ss / (n - 1), fx.bn.run_var[c], 1e-5);
    }
}

static void eval_mode_uses_running_stats(void) {
    BnFixture fx;
    fixture_init(&fx, 3);
    fx.bn.run_mean[0] = 2.0f;
    fx.bn.run_var[0] = 4.0f;
    fx.bn.run_mean[1] = -1.0f;
    fx.bn.run_var[1] = 0.25f;
    float before[4 * C];
    memcpy(before, fx.state, sizeof before);
    nn_batchnorm2d_forward(&fx.bn, fx.x, fx.y, B, H, W, 0);
    for (int i = 0; i < N_X; i++) {
        int c = (i / (H * W)) % C;
        double centred = (double)fx.x[i] - (double)fx.bn.run_mean[c];
        double want = (double)fx.params[c] * centred / sqrt((double)fx.bn.run_var[c] + 1e-5) +
                      (double)fx.params[C + c];
        CHECK_NEAR(want, fx.y[i], 1e-5);
    }
    CHECK(memcmp(before, fx.state, 2 * C * sizeof(float)) == 0);
}

static void gradients_match_finite_differences(void) {
    BnFixture fx;
    fixture_init(&fx, 4);
    bn_loss(&fx);
    nn_batchnorm2d_backward(&fx.bn, fx.x, fx.r, fx.dx, B, H, W);
    gradcheck("dgamma,dbeta", bn_loss, &fx, fx.params, fx.grads, 2 * C, 1e-2f, 1e-3, 1e-3);
    gradcheck("dx", bn_loss, &fx, fx.x, fx.dx, N_X, 1e-2f, 5e-3, 1e-2);
}

// Channels run as separate items, so two threads give the bits of one:
// outputs, running statistics and all gradients.
static void two_threads_match_one_bitwise(void) {
    BnFixture one, two;
    for (int t = 1; t <= 2; t++) {
        BnFixture *fx = t == 1 ? &one : &two;
        fixture_init(fx, 9);
        nn_batchnorm2d_bind(&fx->bn, C, fx->params, fx->grads, fx->state);
        CHECK_EQ_INT(0, nn_threads_set(t));
        nn_batchnorm2d_forward(&fx->bn, fx->x, fx->y, B, H, W, 1);
        nn_batchnorm2d_backward(&fx->bn, fx->x, fx->r, fx->dx, B, H, W);
    }
    CHECK_EQ_INT(0, nn_threads_set(1));
    CHECK(memcmp(one.y, two.y, sizeof one.y) == 0);
    CHECK(memcmp(one.dx, two.dx, sizeof one.dx) == 0);
    CHECK(memcmp(one.grads, two.grads, sizeof one.grads) == 0);
    CHECK(memcmp(one.state, two.state, sizeof one.state) == 0);
}

int main(void) {
    RUN_TEST(normalises_each_channel);
    RUN_TEST(running_stats_follow_pytorch);
    RUN_TEST(eval_mode_uses_running_stats);
    RUN_TEST(gradients_match_finite_differences);
    RUN_TEST(two_threads_match_one_bitwise);
    return check_summary();
}
