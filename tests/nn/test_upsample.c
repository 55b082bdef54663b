// Bilinear resize: PyTorch reference values, gradients, identity.
#include "nn/upsample.h"

#include <stdlib.h>

#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/gradcheck.h"

// F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4),
// mode="bilinear", align_corners=False) in PyTorch 1.13.
static void doubles_like_pytorch(void) {
    const float x[4] = {1, 2, 3, 4};
    const float want[16] = {1.0f, 1.25f, 1.75f, 2.0f,
                            1.5f, 1.75f, 2.25f, 2.5f,
                            2.5f, 2.75f, 3.25f, 3.5f,
                            3.0f, 3.25f, 3.75f, 4.0f};
    float y[16];
    nn_upsample_bilinear_forward(x, y, 1, 1, 2, 2, 4, 4);
    for (int i = 0; i < 16; i++) {
        CHECK_NEAR(want[i], y[i], 1e-6);
    }
}

static void same_size_is_identity(void) {
    float x[12], y[12];
    for (int i = 0; i < 12; i++) {
        x[i] = (float)(i * i) - 3.0f;
    }
    nn_upsample_bilinear_forward(x, y, 1, 2, 2, 3, 2, 3);
    for (int i = 0; i < 12; i++) {
        CHECK_NEAR(x[i], y[i], 1e-6);
    }
}

typedef struct UpFixture {
    int B, C, H, W, P, Q;
    float *x, *y, *r, *dx;
} UpFixture;

static double up_loss(void *ctx) {
    UpFixture *fx = ctx;
    nn_upsample_bilinear_forward(fx->x, fx->y, fx->B, fx->C, fx->H, fx->W, fx->P, fx->Q);
    return gradcheck_dot(fx->r, fx->y, (size_t)fx->B * fx->C * fx->P * fx->Q);
}

static void gradients_match_finite_differences(void) {
    const int shapes[][4] = {{3, 4, 6, 8}, {5, 3, 10, 7}, {6, 6, 3, 4}};
    for (int k = 0; k < 3; k++) {
        UpFixture fx = {2, 2, shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3],
                        NULL, NULL, NULL, NULL};
        size_t n_x = (size_t)fx.B * fx.C * fx.H * fx.W, n_y = (size_t)fx.B * fx.C * fx.P * fx.Q;
        RngState rng;
        rng_init(&rng, 50 + k);
        fx.x = malloc(sizeof(float) * n_x);
        fx.dx = malloc(sizeof(float) * n_x);
        fx.y = malloc(sizeof(float) * n_y);
        fx.r = malloc(sizeof(float) * n_y);
        for (size_t i = 0; i < n_x; i++) {
            fx.x[i] = (float)rng_normal(&rng);
        }
        for (size_t i = 0; i < n_y; i++) {
            fx.r[i] = (float)rng_normal(&rng);
        }
        nn_upsample_bilinear_backward(fx.r, fx.dx, fx.B, fx.C, fx.H, fx.W, fx.P, fx.Q);
        gradcheck("dx", up_loss, &fx, fx.x, fx.dx, n_x, 1e-2f, 1e-3, 1e-3);
        free(fx.x);
        free(fx.dx);
        free(fx.y);
        free(fx.r);
    }
}

int main(void) {
    RUN_TEST(doubles_like_pytorch);
    RUN_TEST(same_size_is_identity);
    RUN_TEST(gradients_match_finite_differences);
    return check_summary();
}
