// Image-task losses: known values, ignore label, masks, finite differences.
#include "nn/loss_vision.h"

#include <stdlib.h>

#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/gradcheck.h"

enum { B = 2, C = 4, N = 6 };

typedef struct LossFixture {
    float pred[B * C * N], target[B * C * N], grad[B * C * N];
    int32_t labels[B * N];
    uint8_t valid[B * C * N];
    int kind;   // 0 cross-entropy, 1 L1, 2 cosine
} LossFixture;

static double fixture_loss(void *ctx) {
    LossFixture *fx = ctx;
    switch (fx->kind) {
    case 0:
        return nn_softmax_xent_forward_backward(fx->pred, fx->labels, B, C, N, -1, 1.0f, NULL,
                                                NULL);
    case 1:
        return nn_l1_forward_backward(fx->pred, fx->target, fx->valid, B * C * N, 1.0f, NULL,
                                      NULL);
    default:
        return nn_cosine_forward_backward(fx->pred, fx->target, B, C * N / 3, 1.0f, NULL,
                                          NULL);
    }
}

static void fixture_init(LossFixture *fx, int kind, uint64_t seed) {
    RngState rng;
    rng_init(&rng, seed);
    fx->kind = kind;
    for (int i = 0; i < B * C * N; i++) {
        fx->pred[i] = (float)rng_normal(&rng);
        fx->target[i] = (float)rng_normal(&rng);
        fx->valid[i] = rng_below(&rng, 4) != 0;
    }
    for (int i = 0; i < B * N; i++) {
        fx->labels[i] = rng_below(&rng, 5) == 0 ? -1 : (int32_t)rng_below(&rng, C);
    }
}

// Two classes with logits (0, log 3): p = (1/4, 3/4), so the loss of label
// 1 is log(4/3) and of label 0 is log 4.
static void xent_known_values(void) {
    float logits[2] = {0.0f, logf(3.0f)};
    int32_t one = 1, zero = 0;
    float d[2];
    long n_valid = 0;
    float l1 = nn_softmax_xent_forward_backward(logits, &one, 1, 2, 1, -1, 1.0f, d, &n_valid);
    CHECK_NEAR(log(4.0 / 3.0), l1, 1e-6);
    CHECK_NEAR(0.25, d[0], 1e-6);
    CHECK_NEAR(-0.25, d[1], 1e-6);
    CHECK_EQ_INT(1, n_valid);
    CHECK_NEAR(log(4.0), nn_softmax_xent_forward_backward(logits, &zero, 1, 2, 1, -1, 1.0f,
                                                          NULL, NULL), 1e-6);
}

static void xent_skips_ignored_pixels(void) {
    float logits[2 * 3] = {1, 2, 3, 0, 5, -1};   // C = 2, N = 3
    int32_t labels[3] = {255, 1, 255};
    float d[6];
    long n_valid = 0;
    float l = nn_softmax_xent_forward_backward(logits, labels, 1, 2, 3, 255, 2.0f, d, &n_valid);
    CHECK_EQ_INT(1, n_valid);
    CHECK_NEAR(log(exp(2.0) + exp(5.0)) - 5.0, l, 1e-6);
    CHECK_NEAR(0.0, fabs(d[0]) + fabs(d[2]) + fabs(d[3]) + fabs(d[5]), 0);
    int32_t none[3] = {255, 255, 255};
    CHECK_NEAR(0.0, nn_softmax_xent_forward_backward(logits, none, 1, 2, 3, 255, 1.0f, d,
                                                     &n_valid), 0);
    CHECK_EQ_INT(0, n_valid);
}

static void l1_and_cosine_known_values(void) {
    float p[3] = {1, -2, 4}, t[3] = {0, 0, 4}, d[3];
    uint8_t valid[3] = {1, 1, 0};
    long n_valid = 0;
    CHECK_NEAR(1.5, nn_l1_forward_backward(p, t, valid, 3, 1.0f, d, &n_valid), 1e-6);
    CHECK_EQ_INT(2, n_valid);
    CHECK_NEAR(0.5, d[0], 1e-6);
    CHECK_NEAR(-0.5, d[1], 1e-6);
    CHECK_NEAR(0.0, d[2], 0);
    CHECK_NEAR(1.0, nn_l1_forward_backward(p, t, NULL, 3, 1.0f, NULL, NULL), 1e-6);

    // two pixels: same direction (loss 0) and opposite direction (loss 2);
    // a third pixel without ground truth is skipped
    float pred[9] = {2, -1, 5, 0, 0, 0, 0, 0, 0};     // x channel, then y, then z
    float target[9] = {1, 1, 0, 0, 0, 0, 0, 0, 0};
    CHECK_NEAR(1.0, nn_cosine_forward_backward(pred, target, 1, 3, 1.0f, NULL, &n_valid),
               1e-6);
    CHECK_EQ_INT(2, n_valid);
}

static void gradients_match_finite_differences(void) {
    const char *names[3] = {"xent", "l1", "cosine"};
    for (int kind = 0; kind < 3; kind++) {
        LossFixture fx;
        fixture_init(&fx, kind, 60 + kind);
        if (kind == 0) {
            nn_softmax_xent_forward_backward(fx.pred, fx.labels, B, C, N, -1, 1.0f, fx.grad,
                                             NULL);
        } else if (kind == 1) {
            nn_l1_forward_backward(fx.pred, fx.target, fx.valid, B * C * N, 1.0f, fx.grad,
                                   NULL);
        } else {
            // unit targets with one pixel lacking ground truth
            for (int b = 0; b < B; b++) {
                float *t = fx.target + b * C * N;
                for (int i = 0; i < C * N / 3; i++) {
                    float n0 = t[i], n1 = t[8 + i], n2 = t[16 + i];
                    float len = sqrtf(n0 * n0 + n1 * n1 + n2 * n2);
                    t[i] = n0 / len, t[8 + i] = n1 / len, t[16 + i] = n2 / len;
                }
                t[3] = t[11] = t[19] = 0.0f;
            }
            nn_cosine_forward_backward(fx.pred, fx.target, B, C * N / 3, 1.0f, fx.grad, NULL);
        }
        // L1 is piecewise linear and the random values sit far from its kink
        gradcheck(names[kind], fixture_loss, &fx, fx.pred, fx.grad, B * C * N, 1e-2f, 5e-3,
                  1e-3);
    }
}

int main(void) {
    RUN_TEST(xent_known_values);
    RUN_TEST(xent_skips_ignored_pixels);
    RUN_TEST(l1_and_cosine_known_values);
    RUN_TEST(gradients_match_finite_differences);
    return check_summary();
}
