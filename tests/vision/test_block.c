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

static void fixture_init(BlockFixture *fx, VisResample rs, int kernel, uint64_t seed) {
    char err[256];
    fx->rows = 4;
    int rc = vis_conv_block_init(&fx->blk, 2, 6, 4, 3, kernel, rs, 0, fx->rows, err, sizeof err);
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
        // a weight step moves every pre-pool value, and a step that reorders two
        // values of one pooling window is a kink, so pooling gets a smaller step
        float h = kinds[k] == VIS_RESAMPLE_POOL ? 1e-4f : 1e-3f;
        double ew = gradcheck("dW", block_loss, &fx, fx.w, fx.gw, fx.n_w, h, 2e-2, 1e-2);
        double ex = gradcheck("dx", block_loss, &fx, fx.x, fx.dx, fx.n_x, 1e-3f, 2e-2, 1e-2);
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

int main(void) {
    RUN_TEST(output_shapes);
    RUN_TEST(rejects_bad_sizes);
    RUN_TEST(gradients_match_finite_differences);
    RUN_TEST(per_block_gradients_sum_to_total);
    RUN_TEST(input_gradient_without_weight_slot);
    return check_summary();
}
