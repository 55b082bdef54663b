// Conv2d: naive-loop agreement, finite-difference gradients, shapes.
#include "nn/conv.h"

#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "nn/gemm.h"
#include "tests/check.h"
#include "tests/nn/gradcheck.h"

typedef struct ConvCase {
    int C, F, K, S, pad, H, W, B;
} ConvCase;

static const ConvCase cases[] = {
    {2, 3, 3, 1, 1, 5, 6, 2},   // same-size 3x3
    {3, 2, 3, 2, 1, 7, 5, 2},   // strided, odd sizes
    {2, 4, 1, 1, 0, 4, 3, 2},   // pointwise fast path
    {1, 2, 5, 2, 2, 6, 6, 1},   // large kernel, padding 2
    {2, 2, 2, 2, 0, 4, 6, 2},   // even kernel, no padding
    {3, 2, 3, 1, 1, 5, 4, 9},   // several image groups, the last one partial
    {2, 2, 3, 1, 1, 50, 48, 2}, // large map: two bands of output rows
    {1, 2, 3, 2, 1, 100, 90, 1},// large map, strided bands
    {2, 3, 3, 1, 0, 9, 8, 2},   // no padding: dx pads dy by 2
    {3, 5, 2, 1, 1, 7, 6, 3},   // even kernel with padding
    {2, 3, 5, 1, 2, 9, 11, 2},  // 5x5, same size
    {2, 3, 3, 1, 1, 70, 66, 1}, // bands of a direct plan
    {2, 2, 3, 1, 0, 80, 60, 1}, // bands, no padding: dx rows need dy halos
    {9, 10, 3, 1, 1, 6, 5, 2},  // channels past a block of 8
    {3, 33, 3, 1, 1, 6, 7, 2},  // filters past a block of 32 (transposed dy)
    {2, 32, 3, 1, 0, 7, 5, 3},  // 32 filters, no padding
    {16, 16, 3, 1, 1, 6, 6, 2}, // Winograd tiles on an even map
    {17, 20, 3, 1, 1, 7, 5, 2}, // Winograd: odd map, channels past a vector
    {16, 32, 3, 1, 1, 14, 14, 2}, // Winograd: two chunks of tiles
    {16, 16, 3, 1, 1, 75, 62, 1}, // Winograd bands: dx from neighbour tiles
    {16, 17, 3, 1, 1, 1, 3, 2},   // Winograd on one row: tiles hang past the map
    {16, 16, 3, 1, 1, 3, 2100, 1}, // Winograd bands of one tile row on a wide map
};

typedef struct ConvFixture {
    NnConv2d conv;
    ConvCase c;
    int P, Q;
    float *params, *grads, *x, *y, *r, *dx, *col;
    size_t n_x, n_y, n_params, n_col;
} ConvFixture;

// Floats of the guard block after the scratch.
#define GUARD 256

static float *filled(size_t n, RngState *rng, float scale) {
    float *v = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        v[i] = (2.0f * rng_uniform_f(rng) - 1.0f) * scale;
    }
    return v;
}

static void fixture_init(ConvFixture *fx, const ConvCase *c, uint64_t seed) {
    RngState rng;
    rng_init(&rng, seed);
    fx->c = *c;
    fx->n_params = nn_conv2d_n_params(c->C, c->F, c->K);
    fx->params = filled(fx->n_params, &rng, 0.5f);
    fx->grads = calloc(fx->n_params, sizeof(float));
    nn_conv2d_bind(&fx->conv, c->C, c->F, c->K, c->S, c->pad, fx->params, fx->grads);
    fx->P = nn_conv2d_out_size(&fx->conv, c->H);
    fx->Q = nn_conv2d_out_size(&fx->conv, c->W);
    fx->n_x = (size_t)c->B * c->C * c->H * c->W;
    fx->n_y = (size_t)c->B * c->F * fx->P * fx->Q;
    fx->x = filled(fx->n_x, &rng, 1.0f);
    fx->r = filled(fx->n_y, &rng, 1.0f);
    fx->y = malloc(sizeof(float) * fx->n_y);
    fx->dx = malloc(sizeof(float) * fx->n_x);
    // room for three threads, so that the same fixture serves every
    // setting, and a guard block after it that no pass may write
    fx->n_col = nn_conv2d_scratch_size(&fx->conv, c->B, c->H, c->W, 3);
    fx->col = malloc(sizeof(float) * (fx->n_col + GUARD));
    for (int i = 0; i < GUARD; i++) {
        fx->col[fx->n_col + i] = -7.0f;
    }
}

// 1 when the guard block after the scratch still contains its pattern.
static int guard_intact(const ConvFixture *fx) {
    for (int i = 0; i < GUARD; i++) {
        if (fx->col[fx->n_col + i] != -7.0f) {
            return 0;
        }
    }
    return 1;
}

static void fixture_deinit(ConvFixture *fx) {
    CHECK_MSG(guard_intact(fx), "conv case C=%d F=%d K=%d: a pass wrote past its scratch",
              fx->c.C, fx->c.F, fx->c.K);
    free(fx->params);
    free(fx->grads);
    free(fx->x);
    free(fx->y);
    free(fx->r);
    free(fx->dx);
    free(fx->col);
}

// Direct six-loop convolution in double, the reference for the sgemm path.
static double naive_output(const ConvFixture *fx, int b, int f, int p, int q) {
    const ConvCase *c = &fx->c;
    double s = (double)fx->conv.b[f];
    for (int ch = 0; ch < c->C; ch++) {
        for (int i = 0; i < c->K; i++) {
            for (int j = 0; j < c->K; j++) {
                int ih = p * c->S - c->pad + i, iw = q * c->S - c->pad + j;
                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) {
                    continue;
                }
                double wv = fx->conv.w[((f * c->C + ch) * c->K + i) * c->K + j];
                s += wv * (double)fx->x[((b * c->C + ch) * c->H + ih) * c->W + iw];
            }
        }
    }
    return s;
}

static double conv_loss(void *ctx) {
    ConvFixture *fx = ctx;
    nn_conv2d_forward(&fx->conv, fx->x, fx->y, fx->c.B, fx->c.H, fx->c.W, fx->col);
    return gradcheck_dot(fx->r, fx->y, fx->n_y);
}

static void forward_matches_naive_loops(void) {
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ConvFixture fx;
        fixture_init(&fx, &cases[k], 10 + k);
        conv_loss(&fx);
        double worst = 0.0;
        for (int b = 0; b < fx.c.B; b++) {
            for (int f = 0; f < fx.c.F; f++) {
                for (int p = 0; p < fx.P; p++) {
                    for (int q = 0; q < fx.Q; q++) {
                        double ref = naive_output(&fx, b, f, p, q);
                        double got = fx.y[((b * fx.c.F + f) * fx.P + p) * fx.Q + q];
                        worst = fmax(worst, fabs(ref - got));
                    }
                }
            }
        }
        CHECK_MSG(worst < 1e-5, "case %zu: max abs diff %.3g", k, worst);
        fixture_deinit(&fx);
    }
}

// dW, db and dx from the six loops in double, for r as the output gradient.
static void naive_gradients(const ConvFixture *fx, double *dw, double *db, double *dx) {
    const ConvCase *c = &fx->c;
    memset(dw, 0, sizeof(double) * (size_t)c->F * c->C * c->K * c->K);
    memset(db, 0, sizeof(double) * (size_t)c->F);
    memset(dx, 0, sizeof(double) * fx->n_x);
    for (int b = 0; b < c->B; b++) {
        for (int f = 0; f < c->F; f++) {
            for (int p = 0; p < fx->P; p++) {
                for (int q = 0; q < fx->Q; q++) {
                    double g = fx->r[((b * c->F + f) * fx->P + p) * fx->Q + q];
                    db[f] += g;
                    for (int ch = 0; ch < c->C; ch++) {
                        for (int i = 0; i < c->K; i++) {
                            for (int j = 0; j < c->K; j++) {
                                int ih = p * c->S - c->pad + i, iw = q * c->S - c->pad + j;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) {
                                    continue;
                                }
                                int wi = ((f * c->C + ch) * c->K + i) * c->K + j;
                                int xi = ((b * c->C + ch) * c->H + ih) * c->W + iw;
                                dw[wi] += g * (double)fx->x[xi];
                                dx[xi] += g * (double)fx->conv.w[wi];
                            }
                        }
                    }
                }
            }
        }
    }
}

// Largest |got - ref| / (1 + |ref|) over n elements.
static double worst_diff(const float *got, const double *ref, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)got[i] - ref[i]) / (1.0 + fabs(ref[i])));
    }
    return worst;
}

static void backward_matches_naive_loops(void) {
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ConvFixture fx;
        fixture_init(&fx, &cases[k], 50 + k);
        const ConvCase *c = &fx.c;
        size_t n_w = (size_t)c->F * c->C * c->K * c->K;
        double *dw = malloc(sizeof(double) * n_w), *db = malloc(sizeof(double) * c->F);
        double *dx = malloc(sizeof(double) * fx.n_x);
        naive_gradients(&fx, dw, db, dx);
        conv_loss(&fx);
        nn_conv2d_backward(&fx.conv, fx.x, fx.r, fx.dx, c->B, c->H, c->W, fx.col);
        double e_w = worst_diff(fx.conv.dw, dw, n_w), e_b = worst_diff(fx.conv.db, db, c->F);
        double e_x = worst_diff(fx.dx, dx, fx.n_x);
        // the Winograd weight gradient sums products of transformed tiles,
        // which are larger than dW, in float over chunks of 48 tiles: on a
        // map of 6300 positions that rounds to 1.1e-5 of dW
        CHECK_MSG(e_w < 3e-5, "case %zu: dW differs by %.3g", k, e_w);
        CHECK_MSG(e_b < 1e-5, "case %zu: db differs by %.3g", k, e_b);
        CHECK_MSG(e_x < 1e-5, "case %zu: dx differs by %.3g", k, e_x);
        free(dw);
        free(db);
        free(dx);
        fixture_deinit(&fx);
    }
}

// Inputs above this many floats skip the finite differences, which take
// two passes per float. The six-loop checks still cover them.
#define FD_MAX_INPUT 20000

static void gradients_match_finite_differences(void) {
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ConvFixture fx;
        fixture_init(&fx, &cases[k], 20 + k);
        if (fx.n_x > FD_MAX_INPUT) {
            fixture_deinit(&fx);
            continue;
        }
        conv_loss(&fx);
        nn_conv2d_backward(&fx.conv, fx.x, fx.r, fx.dx, fx.c.B, fx.c.H, fx.c.W, fx.col);
        // the float loss sums n_y products, so its rounding, and the noise of
        // the differences, grows with the output size. The loss is linear in
        // W and x, so a long step changes no exact difference and only
        // shrinks that noise relative to the gradient.
        float h = 0.5f;
        double floor_x = fx.n_y > 2000 ? 5e-2 : 1e-2;
        double e_w = gradcheck("dW", conv_loss, &fx, fx.params, fx.grads, fx.n_params, h,
                               1e-3, 1e-2);
        double e_x = gradcheck("dx", conv_loss, &fx, fx.x, fx.dx, fx.n_x, h, 2e-3, floor_x);
        fprintf(stderr, "  case %zu: max rel err dW %.2g dx %.2g\n", k, e_w, e_x);
        fixture_deinit(&fx);
    }
}

// Backward accumulates into dW and db, so two calls give twice the gradient.
static void backward_accumulates_weight_grads(void) {
    ConvFixture fx;
    fixture_init(&fx, &cases[0], 30);
    conv_loss(&fx);
    nn_conv2d_backward(&fx.conv, fx.x, fx.r, NULL, fx.c.B, fx.c.H, fx.c.W, fx.col);
    float *once = malloc(sizeof(float) * fx.n_params);
    memcpy(once, fx.grads, sizeof(float) * fx.n_params);
    nn_conv2d_backward(&fx.conv, fx.x, fx.r, NULL, fx.c.B, fx.c.H, fx.c.W, fx.col);
    double worst = 0.0;
    for (size_t i = 0; i < fx.n_params; i++) {
        worst = fmax(worst, fabs((double)fx.grads[i] - 2.0 * (double)once[i]));
    }
    CHECK(worst < 1e-5);
    free(once);
    fixture_deinit(&fx);
}

static void sizes_and_init_bounds(void) {
    NnConv2d conv;
    float params[3 * 2 * 9 + 3], grads[3 * 2 * 9 + 3];
    CHECK_EQ_INT(3 * 2 * 9 + 3, nn_conv2d_n_params(2, 3, 3));
    nn_conv2d_bind(&conv, 2, 3, 3, 2, 1, params, grads);
    CHECK_EQ_INT(18, nn_conv2d_out_size(&conv, 36));
    CHECK_EQ_INT(4, nn_conv2d_out_size(&conv, 7));
    // 18 x 18 outputs are lowered ceil(2048 / 324) = 7 images at a time:
    // per thread the columns (C*K*K = 18 rows) plus the staged output
    // (F = 3 rows), and per group of 7 a part of dW and db (3 x 18 + 3)
    CHECK_EQ_INT((18 + 3) * 7 * 324 + 57, nn_conv2d_scratch_size(&conv, 5, 36, 36, 1));
    CHECK_EQ_INT(2 * (18 + 3) * 7 * 324 + 2 * 57, nn_conv2d_scratch_size(&conv, 8, 36, 36, 2));
    CHECK_NEAR(2.0 * 5 * 3 * 18 * (18 * 18), nn_conv2d_flops_forward(&conv, 5, 36, 36), 1.0);

    RngState rng;
    rng_init(&rng, 1);
    nn_conv2d_init(&conv, &rng);
    float bound = 1.0f / sqrtf(18.0f);
    int inside = 1;
    for (int i = 0; i < 3 * 2 * 9 + 3; i++) {
        inside &= fabsf(params[i]) <= bound;
    }
    CHECK(inside);
}

// Forward output, dW, db and dx of one case after a zeroed backward.
static void run_once(ConvFixture *fx, float *y, float *g, float *dx) {
    memset(fx->grads, 0, sizeof(float) * fx->n_params);
    conv_loss(fx);
    nn_conv2d_backward(&fx->conv, fx->x, fx->r, fx->dx, fx->c.B, fx->c.H, fx->c.W, fx->col);
    memcpy(y, fx->y, sizeof(float) * fx->n_y);
    memcpy(g, fx->grads, sizeof(float) * fx->n_params);
    memcpy(dx, fx->dx, sizeof(float) * fx->n_x);
}

// Cases with several work items: groups of images, or single large images.
static const ConvCase thread_cases[] = {
    {3, 4, 3, 1, 1, 18, 18, 20},   // groups of images, the last one partial
    {2, 3, 3, 1, 1, 36, 36, 5},    // one image per item
    {2, 2, 3, 1, 1, 50, 48, 3},    // three larger images
    {1, 2, 3, 2, 1, 100, 90, 2},   // strided, banded
    {2, 3, 3, 1, 1, 70, 66, 3},    // bands of a direct plan
    {2, 3, 3, 1, 0, 80, 60, 2},    // bands, dx from dy halos
    {4, 32, 3, 1, 1, 18, 18, 13},  // 32 filters: transposed dy
    {2, 32, 3, 1, 1, 70, 66, 2},   // 32 filters, bands
    {16, 32, 3, 1, 1, 18, 18, 13}, // Winograd, groups of images
    {20, 16, 3, 1, 1, 11, 9, 9},   // Winograd, odd maps
    {16, 16, 3, 1, 1, 70, 66, 2},  // Winograd bands
    {16, 16, 3, 1, 1, 3, 2100, 2}, // Winograd bands of one tile row
};

// The items of a pass write disjoint memory and the gradient parts add up
// in item order, so two and three threads give the bits of one.
static void thread_counts_match_one_bitwise(void) {
    for (size_t k = 0; k < sizeof thread_cases / sizeof thread_cases[0]; k++) {
        ConvFixture fx;
        fixture_init(&fx, &thread_cases[k], 40 + k);
        float *y1 = malloc(sizeof(float) * fx.n_y), *y2 = malloc(sizeof(float) * fx.n_y);
        float *g1 = malloc(sizeof(float) * fx.n_params);
        float *g2 = malloc(sizeof(float) * fx.n_params);
        float *d1 = malloc(sizeof(float) * fx.n_x), *d2 = malloc(sizeof(float) * fx.n_x);
        CHECK_EQ_INT(0, nn_threads_set(1));
        run_once(&fx, y1, g1, d1);
        for (int t = 2; t <= 3; t++) {
            CHECK_EQ_INT(0, nn_threads_set(t));
            run_once(&fx, y2, g2, d2);
            CHECK_MSG(memcmp(y1, y2, sizeof(float) * fx.n_y) == 0,
                      "case %zu, %d threads: outputs differ", k, t);
            CHECK_MSG(memcmp(g1, g2, sizeof(float) * fx.n_params) == 0,
                      "case %zu, %d threads: dW or db differ", k, t);
            CHECK_MSG(memcmp(d1, d2, sizeof(float) * fx.n_x) == 0,
                      "case %zu, %d threads: dx differs", k, t);
        }
        CHECK_EQ_INT(0, nn_threads_set(1));
        free(y1);
        free(y2);
        free(g1);
        free(g2);
        free(d1);
        free(d2);
        fixture_deinit(&fx);
    }
}

int main(void) {
    RUN_TEST(forward_matches_naive_loops);
    RUN_TEST(backward_matches_naive_loops);
    RUN_TEST(thread_counts_match_one_bitwise);
    RUN_TEST(gradients_match_finite_differences);
    RUN_TEST(backward_accumulates_weight_grads);
    RUN_TEST(sizes_and_init_bounds);
    return check_summary();
}
