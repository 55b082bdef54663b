// Conv blocks as CoNAL modules: shapes, gradients, per-block gradients.
#include "vision/block.h"

#include <stdlib.h>

#include "common/error.h"
#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/gradcheck.h"

typedef struct BlockFixture {
    VisConvBlock blk;
    ConalModule m;
    int rows;
    size_t n_w, n_x, n_y;
    float *w, *gw, *x, *y, *r, *dy, *dx;
} BlockFixture;

static double block_loss(void *ctx) {
    BlockFixture *fx = ctx;
    fx->m.ops->forward(&fx->m, fx->w, fx->x, fx->y, fx->rows);
    return gradcheck_dot(fx->r, fx->y, fx->n_y);
}

static void fixture_init_bn(BlockFixture *fx, VisResample rs, int kernel, int batch_norm,
                            uint64_t seed) {
    char err[256];
    fx->rows = 4;
    int rc = vis_conv_block_init(&fx->blk, 2, 6, 4, 3, kernel, rs, batch_norm, fx->rows, err,
                                 sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    // tanh keeps the loss smooth: a ReLU kink crossed by the finite
    // difference step would show up as a false gradient error
    fx->m = vis_conv_block_module(&fx->blk, NN_ACT_TANH);
    fx->n_w = fx->m.ops->n_params(&fx->m);
    fx->n_x = (size_t)fx->rows * fx->m.n_in;
    fx->n_y = (size_t)fx->rows * fx->m.n_out;
    fx->w = malloc(sizeof(float) * fx->n_w);
    fx->gw = calloc(2 * fx->n_w, sizeof(float));
    fx->x = malloc(sizeof(float) * fx->n_x);
    fx->dx = malloc(sizeof(float) * fx->n_x);
    fx->y = malloc(sizeof(float) * fx->n_y);
    fx->r = malloc(sizeof(float) * fx->n_y);
    fx->dy = malloc(sizeof(float) * fx->n_y);
    RngState rng;
    rng_init(&rng, seed);
    fx->m.ops->init(&fx->m, fx->w, &rng);
    for (size_t i = 0; i < fx->n_x; i++) {
        fx->x[i] = (float)rng_normal(&rng);
    }
    for (size_t i = 0; i < fx->n_y; i++) {
        fx->r[i] = (float)rng_normal(&rng);
    }
}

static void fixture_init(BlockFixture *fx, VisResample rs, int kernel, uint64_t seed) {
    fixture_init_bn(fx, rs, kernel, 0, seed);
}

static void fixture_deinit(BlockFixture *fx) {
    vis_conv_block_deinit(&fx->blk);
    free(fx->w);
    free(fx->gw);
    free(fx->x);
    free(fx->dx);
    free(fx->y);
    free(fx->r);
    free(fx->dy);
}

static void output_shapes(void) {
    VisConvBlock blk;
    char err[256];
    CHECK_EQ_INT(0, vis_conv_block_init(&blk, 3, 9, 7, 5, 3, VIS_RESAMPLE_POOL, 0, 2, err,
                                        sizeof err));
    CHECK_EQ_INT(4, vis_conv_block_out_h(&blk));
    CHECK_EQ_INT(3, vis_conv_block_out_w(&blk));
    ConalModule m = vis_conv_block_module(&blk, NN_ACT_RELU);
    CHECK_EQ_INT(3 * 9 * 7, m.n_in);
    CHECK_EQ_INT(5 * 4 * 3, m.n_out);
    CHECK_EQ_INT(5 * 3 * 9 + 5, m.ops->n_params(&m));
    vis_conv_block_deinit(&blk);
    CHECK_EQ_INT(0, vis_conv_block_init(&blk, 3, 9, 7, 5, 1, VIS_RESAMPLE_UP, 0, 2, err,
                                        sizeof err));
    CHECK_EQ_INT(18, vis_conv_block_out_h(&blk));
    CHECK_EQ_INT(14, vis_conv_block_out_w(&blk));
    vis_conv_block_deinit(&blk);
}

static void rejects_bad_sizes(void) {
    VisConvBlock blk;
    char err[256] = "";
    CHECK_EQ_INT(ERR_ARG, vis_conv_block_init(&blk, 3, 9, 7, 5, 2, VIS_RESAMPLE_NONE, 0, 2, err,
                                              sizeof err));
    CHECK_STR_CONTAINS(err, "kernel 2");
    CHECK_EQ_INT(ERR_ARG, vis_conv_block_init(&blk, 3, 1, 7, 5, 3, VIS_RESAMPLE_POOL, 0, 2, err,
                                              sizeof err));
    CHECK_STR_CONTAINS(err, "cannot pool a 1 x 7 map");
}

// Weights and inputs against central differences, for all three kinds.
static void gradients_match_finite_differences(void) {
    const VisResample kinds[3] = {VIS_RESAMPLE_POOL, VIS_RESAMPLE_UP, VIS_RESAMPLE_NONE};
    for (int k = 0; k < 3; k++) {
        BlockFixture fx;
        fixture_init(&fx, kinds[k], 3, 70 + k);
        block_loss(&fx);
        memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
        fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, fx.dx, fx.gw, 0, 2, fx.rows / 2);
        // A weight step moves every pre-pool value, and a step that reorders
        // two values of one pooling window is a kink, so pooling gets small
        // steps. The smooth kinds get 1e-2, where float rounding of the loss
        // matters less than at 1e-3 (upsampling's dx error 0.003, not 0.013).
        int pool = kinds[k] == VIS_RESAMPLE_POOL;
        float hw = pool ? 1e-4f : 1e-2f, hx = pool ? 1e-3f : 1e-2f;
        double ew = gradcheck("dW", block_loss, &fx, fx.w, fx.gw, fx.n_w, hw, 2e-2, 1e-2);
        double ex = gradcheck("dx", block_loss, &fx, fx.x, fx.dx, fx.n_x, hx, 2e-2, 1e-2);
        fprintf(stderr, "  kind %d: max rel err dW %.2g dx %.2g\n", k, ew, ex);
        fixture_deinit(&fx);
    }
}

// With a gradient stride, block i's weight gradient lands in its own slot,
// and the slots sum to the all-rows gradient.
static void per_block_gradients_sum_to_total(void) {
    BlockFixture fx;
    fixture_init(&fx, VIS_RESAMPLE_POOL, 3, 80);
    block_loss(&fx);
    memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
    fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, NULL, fx.gw, fx.n_w, 2, fx.rows / 2);
    float *total = calloc(fx.n_w, sizeof(float));
    memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
    fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, NULL, total, 0, 2, fx.rows / 2);
    double worst = 0.0, block0 = 0.0;
    for (size_t i = 0; i < fx.n_w; i++) {
        worst = fmax(worst, fabs((double)fx.gw[i] + (double)fx.gw[fx.n_w + i] -
                                 (double)total[i]));
        block0 += fabs((double)fx.gw[i] - (double)total[i]);
    }
    CHECK_MSG(worst < 1e-4, "max |g0 + g1 - g| = %.3g", worst);
    CHECK(block0 > 1e-3);   // one block alone is not the total
    free(total);
    fixture_deinit(&fx);
}

// Input gradient without a weight-gradient slot matches the full call.
static void input_gradient_without_weight_slot(void) {
    BlockFixture fx;
    fixture_init(&fx, VIS_RESAMPLE_UP, 3, 90);
    block_loss(&fx);
    memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
    fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, fx.dx, fx.gw, 0, 1, fx.rows);
    float *dx2 = malloc(sizeof(float) * fx.n_x);
    memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
    fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, dx2, NULL, 0, 1, fx.rows);
    CHECK(memcmp(dx2, fx.dx, sizeof(float) * fx.n_x) == 0);
    free(dx2);
    fixture_deinit(&fx);
}

// With batch norm, in training mode, for the three kinds: the gamma and
// beta gradients, the input gradient through the batch statistics, and
// zero gradients for the running statistics.
static void batch_norm_gradients_match(void) {
    const VisResample kinds[3] = {VIS_RESAMPLE_POOL, VIS_RESAMPLE_UP, VIS_RESAMPLE_NONE};
    for (int k = 0; k < 3; k++) {
        BlockFixture fx;
        fixture_init_bn(&fx, kinds[k], 3, 1, 170 + k);
        block_loss(&fx);
        memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
        fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, fx.dx, fx.gw, 0, 2, fx.rows / 2);
        // normalised outputs make the float loss's rounding about 1e-6, so
        // steps below 1e-2 measure rounding more than slope
        // except for weights before pooling: a 1e-2 step there reorders
        // pooling windows, so it gets 1e-3 and a floor above the rounding of
        // the conv bias's gradient, which batch norm makes zero
        int pool = kinds[k] == VIS_RESAMPLE_POOL;
        double ew = gradcheck("dW", block_loss, &fx, fx.w, fx.gw, fx.n_w, pool ? 1e-3f : 1e-2f,
                              2e-2, pool ? 5e-2 : 1e-2);
        double ex = gradcheck("dx", block_loss, &fx, fx.x, fx.dx, fx.n_x, 1e-2f, 2e-2, 1e-2);
        fprintf(stderr, "  kind %d with batch norm: max rel err dW %.2g dx %.2g\n", k, ew, ex);
        size_t stats = fx.n_w - 2 * 3;   // running mean and variance of the 3 filters
        for (size_t i = stats; i < fx.n_w; i++) {
            CHECK(fx.gw[i] == 0.0f);
        }
        fixture_deinit(&fx);
    }
}

// Per-block gradients with batch norm still sum to the all-rows gradient.
static void batch_norm_per_block_sum(void) {
    BlockFixture fx;
    fixture_init_bn(&fx, VIS_RESAMPLE_POOL, 3, 1, 180);
    block_loss(&fx);
    memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
    fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, NULL, fx.gw, fx.n_w, 2, fx.rows / 2);
    float *total = calloc(fx.n_w, sizeof(float));
    memcpy(fx.dy, fx.r, sizeof(float) * fx.n_y);
    fx.m.ops->backward(&fx.m, fx.w, fx.x, fx.y, fx.dy, NULL, total, 0, 2, fx.rows / 2);
    double worst = 0.0;
    for (size_t i = 0; i < fx.n_w; i++) {
        worst = fmax(worst, fabs((double)fx.gw[i] + (double)fx.gw[fx.n_w + i] -
                                 (double)total[i]));
    }
    CHECK_MSG(worst < 1e-4, "max |g0 + g1 - g| = %.3g", worst);
    free(total);
    fixture_deinit(&fx);
}

// Training mode normalises with the batch statistics of the conv output
// and moves the running statistics by momentum 0.1; evaluation mode uses
// the running statistics and leaves them alone. Checked on a
// VIS_RESAMPLE_NONE block with identity activation against a twin without
// batch norm that shares the conv weights.
static void batch_norm_train_and_eval_modes(void) {
    char err[256];
    enum { R = 4, C = 2, H = 6, W = 4, F = 3 };
    VisConvBlock bn_blk, raw_blk;
    CHECK_EQ_INT(0, vis_conv_block_init(&bn_blk, C, H, W, F, 3, VIS_RESAMPLE_NONE, 1, R, err,
                                        sizeof err));
    CHECK_EQ_INT(0, vis_conv_block_init(&raw_blk, C, H, W, F, 3, VIS_RESAMPLE_NONE, 0, R, err,
                                        sizeof err));
    ConalModule mb = vis_conv_block_module(&bn_blk, NN_ACT_NONE);
    ConalModule mr = vis_conv_block_module(&raw_blk, NN_ACT_NONE);
    size_t n_w = mb.ops->n_params(&mb), n_conv = mr.ops->n_params(&mr);
    CHECK_EQ_INT((int)(n_conv + 4 * F), (int)n_w);
    float *w = malloc(sizeof(float) * n_w);
    RngState rng;
    rng_init(&rng, 190);
    mb.ops->init(&mb, w, &rng);
    float *gamma = w + n_conv, *beta = gamma + F, *run_mean = beta + F, *run_var = run_mean + F;
    CHECK(gamma[0] == 1.0f);
    CHECK(run_var[F - 1] == 1.0f);
    for (int f = 0; f < F; f++) {
        gamma[f] = 0.5f + 0.25f * (float)f;
        beta[f] = 0.1f * (float)f;
    }

    size_t n_x = (size_t)R * C * H * W, n_y = (size_t)R * F * H * W, area = H * W;
    float *x = malloc(sizeof(float) * n_x), *z = malloc(sizeof(float) * n_y);
    float *y = malloc(sizeof(float) * n_y), *ye = malloc(sizeof(float) * n_y);
    for (size_t i = 0; i < n_x; i++) {
        x[i] = (float)rng_normal(&rng);
    }
    mr.ops->forward(&mr, w, x, z, R);

    // training forward: batch statistics, running statistics move
    mb.ops->forward(&mb, w, x, y, R);
    double worst = 0.0;
    for (int f = 0; f < F; f++) {
        double s = 0.0, ss = 0.0, n = (double)R * area;
        for (int r = 0; r < R; r++) {
            for (size_t i = 0; i < area; i++) {
                s += (double)z[((size_t)r * F + f) * area + i];
            }
        }
        double mean = s / n;
        for (int r = 0; r < R; r++) {
            for (size_t i = 0; i < area; i++) {
                double d = (double)z[((size_t)r * F + f) * area + i] - mean;
                ss += d * d;
            }
        }
        double var = ss / n, inv = 1.0 / sqrt(var + 1e-5);
        for (int r = 0; r < R; r++) {
            for (size_t i = 0; i < area; i++) {
                size_t at = ((size_t)r * F + f) * area + i;
                double ref = ((double)z[at] - mean) * inv * (double)gamma[f] + (double)beta[f];
                worst = fmax(worst, fabs(ref - (double)y[at]));
            }
        }
        CHECK_NEAR(0.1 * mean, run_mean[f], 1e-6);
        CHECK_NEAR(0.9 + 0.1 * var * n / (n - 1.0), run_var[f], 1e-5);
    }
    CHECK_MSG(worst < 1e-4, "training output max abs diff %.3g", worst);

    // evaluation forward: running statistics, which stay as they are
    float kept[2 * F];
    memcpy(kept, run_mean, sizeof kept);
    bn_blk.training = 0;
    mb.ops->forward(&mb, w, x, ye, R);
    CHECK(memcmp(kept, run_mean, sizeof kept) == 0);
    worst = 0.0;
    for (size_t at = 0; at < n_y; at++) {
        int f = (int)(at / area % F);
        double ref = ((double)z[at] - (double)run_mean[f]) / sqrt((double)run_var[f] + 1e-5) *
                     (double)gamma[f] + (double)beta[f];
        worst = fmax(worst, fabs(ref - (double)ye[at]));
    }
    CHECK_MSG(worst < 1e-4, "evaluation output max abs diff %.3g", worst);
    CHECK(memcmp(y, ye, sizeof(float) * n_y) != 0);

    free(w);
    free(x);
    free(z);
    free(y);
    free(ye);
    vis_conv_block_deinit(&bn_blk);
    vis_conv_block_deinit(&raw_blk);
}

int main(void) {
    RUN_TEST(output_shapes);
    RUN_TEST(rejects_bad_sizes);
    RUN_TEST(gradients_match_finite_differences);
    RUN_TEST(per_block_gradients_sum_to_total);
    RUN_TEST(input_gradient_without_weight_slot);
    RUN_TEST(batch_norm_gradients_match);
    RUN_TEST(batch_norm_per_block_sum);
    RUN_TEST(batch_norm_train_and_eval_modes);
    return check_summary();
}
