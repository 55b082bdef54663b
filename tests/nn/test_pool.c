// Max pooling: known values, gradient routing, finite differences.
#include "nn/pool.h"

#include <stdlib.h>

#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/gradcheck.h"

typedef struct PoolFixture {
    NnMaxPool2d pool;
    int B, C, H, W, P, Q;
    float *x, *y, *r, *dx;
    int *argmax;
} PoolFixture;

static double pool_loss(void *ctx) {
    PoolFixture *fx = ctx;
    nn_maxpool2d_forward(&fx->pool, fx->x, fx->y, fx->argmax, fx->B, fx->C, fx->H, fx->W);
    return gradcheck_dot(fx->r, fx->y, (size_t)fx->B * fx->C * fx->P * fx->Q);
}

static void picks_window_maxima(void) {
    // one 4x4 plane, 2x2 windows
    float x[16] = {1, 5, 2, 0,
                   3, 4, 8, 7,
                   -1, -2, 6, 6,
                   -3, -4, 6, 9};
    float y[4];
    int argmax[4];
    NnMaxPool2d pool = {2, 2};
    nn_maxpool2d_forward(&pool, x, y, argmax, 1, 1, 4, 4);
    CHECK_NEAR(5, y[0], 0);
    CHECK_NEAR(8, y[1], 0);
    CHECK_NEAR(-1, y[2], 0);
    CHECK_NEAR(9, y[3], 0);
    CHECK_EQ_INT(1, argmax[0]);
    CHECK_EQ_INT(6, argmax[1]);
    CHECK_EQ_INT(8, argmax[2]);
    CHECK_EQ_INT(15, argmax[3]);

    float dy[4] = {1, 2, 3, 4}, dx[16];
    nn_maxpool2d_backward(&pool, dy, argmax, dx, 1, 1, 4, 4);
    CHECK_NEAR(1, dx[1], 0);
    CHECK_NEAR(2, dx[6], 0);
    CHECK_NEAR(3, dx[8], 0);
    CHECK_NEAR(4, dx[15], 0);
    CHECK_NEAR(0, dx[0] + dx[2] + dx[5] + dx[10] + dx[14], 0);
}

// Distinct random values keep every window away from a tie, where the max
// is not differentiable.
static void gradients_match_finite_differences(void) {
    const int shapes[][6] = {{2, 3, 6, 8, 2, 2}, {1, 2, 7, 7, 3, 2}};
    for (int k = 0; k < 2; k++) {
        PoolFixture fx = {{shapes[k][4], shapes[k][5]}, shapes[k][0], shapes[k][1],
                          shapes[k][2], shapes[k][3], 0, 0, NULL, NULL, NULL, NULL, NULL};
        fx.P = nn_maxpool2d_out_size(&fx.pool, fx.H);
        fx.Q = nn_maxpool2d_out_size(&fx.pool, fx.W);
        size_t n_x = (size_t)fx.B * fx.C * fx.H * fx.W, n_y = (size_t)fx.B * fx.C * fx.P * fx.Q;
        RngState rng;
        rng_init(&rng, 40 + k);
        fx.x = malloc(sizeof(float) * n_x);
        fx.dx = malloc(sizeof(float) * n_x);
        fx.y = malloc(sizeof(float) * n_y);
        fx.r = malloc(sizeof(float) * n_y);
        fx.argmax = malloc(sizeof(int) * n_y);
        for (size_t i = 0; i < n_x; i++) {
            fx.x[i] = (float)i * 0.1f;
        }
        for (size_t i = n_x - 1; i > 0; i--) {
            size_t j = rng_below(&rng, i + 1);
            float t = fx.x[i];
            fx.x[i] = fx.x[j];
            fx.x[j] = t;
        }
        for (size_t i = 0; i < n_y; i++) {
            fx.r[i] = (float)rng_normal(&rng);
        }
        pool_loss(&fx);
        nn_maxpool2d_backward(&fx.pool, fx.r, fx.argmax, fx.dx, fx.B, fx.C, fx.H, fx.W);
        gradcheck("dx", pool_loss, &fx, fx.x, fx.dx, n_x, 1e-2f, 1e-3, 1e-3);
        free(fx.x);
        free(fx.dx);
        free(fx.y);
        free(fx.r);
        free(fx.argmax);
    }
}

int main(void) {
    RUN_TEST(picks_window_maxima);
    RUN_TEST(gradients_match_finite_differences);
    return check_summary();
}
