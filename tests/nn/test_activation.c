// Activations: names, forward values, in-place calls and central-difference
// gradient checks against double-precision references.
#include "nn/activation.h"

#include <stdlib.h>

#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/nn_check.h"

#define N 257

// Double-precision reference of act(x).
static double act_ref(NnActivation act, double x) {
    switch (act) {
    case NN_ACT_NONE: return x;
    case NN_ACT_RELU: return x > 0.0 ? x : 0.0;
    case NN_ACT_TANH: return tanh(x);
    default: return NAN;
    }
}

// Inputs in [-3, 3] that stay at least 0.05 away from ReLU's kink at 0.
static void fill_away_from_kink(float *x, size_t n, RngState *rng) {
    for (size_t i = 0; i < n; i++) {
        float v = (float)rng_range(rng, 0.05, 3.0);
        x[i] = rng_uniform(rng) < 0.5 ? -v : v;
    }
}

static void names_round_trip(void) {
    NnActivation acts[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_TANH};
    for (int k = 0; k < 3; k++) {
        CHECK_EQ_INT(acts[k], nn_activation_parse(nn_activation_name(acts[k])));
    }
    CHECK_EQ_INT(-1, nn_activation_parse("gelu"));
    CHECK_EQ_INT(-1, nn_activation_parse(""));
    CHECK_EQ_INT(-1, nn_activation_parse(NULL));
    CHECK(strcmp(nn_activation_name((NnActivation)7), "invalid") == 0);
}

static void forward_matches_reference(void) {
    RngState rng;
    rng_init(&rng, 11);
    float x[N], y[N];
    fill_uniform(x, N, &rng, -4.0, 4.0);
    NnActivation acts[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_TANH};
    for (int k = 0; k < 3; k++) {
        nn_activation_forward(acts[k], x, y, N);
        for (int i = 0; i < N; i++) {
            CHECK_NEAR(act_ref(acts[k], x[i]), y[i], 2e-7);
        }
    }
}

static void forward_in_place(void) {
    RngState rng;
    rng_init(&rng, 12);
    float x[N], y[N];
    fill_uniform(x, N, &rng, -4.0, 4.0);
    nn_activation_forward(NN_ACT_TANH, x, y, N);
    nn_activation_forward(NN_ACT_TANH, x, x, N);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

static void backward_gradient_check(void) {
    RngState rng;
    rng_init(&rng, 13);
    float x[N], y[N], dy[N], dx[N];
    fill_away_from_kink(x, N, &rng);
    fill_uniform(dy, N, &rng, -1.0, 1.0);
    NnActivation acts[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_TANH};
    double h = 1e-6;
    for (int k = 0; k < 3; k++) {
        nn_activation_forward(acts[k], x, y, N);
        nn_activation_backward(acts[k], y, dy, dx, N);

        // loss = sum_i dy_i act(x_i), so d loss / d x_i = dy_i act'(x_i)
        double worst = 0.0;
        for (int i = 0; i < N; i++) {
            double xi = x[i];
            double fd = (double)dy[i] * (act_ref(acts[k], xi + h) - act_ref(acts[k], xi - h)) / (2 * h);
            double e = grad_rel_err(dx[i], fd, 1e-6);
            worst = e > worst ? e : worst;
        }
        CHECK_MSG(worst < 1e-5, "%s: worst relative error %g", nn_activation_name(acts[k]),
                  worst);
    }
}

static void backward_in_place(void) {
    RngState rng;
    rng_init(&rng, 14);
    float x[N], y[N], d1[N], d2[N];
    fill_away_from_kink(x, N, &rng);
    fill_uniform(d1, N, &rng, -1.0, 1.0);
    memcpy(d2, d1, sizeof d1);
    nn_activation_forward(NN_ACT_RELU, x, y, N);
    float dx[N];
    nn_activation_backward(NN_ACT_RELU, y, d1, dx, N);
    nn_activation_backward(NN_ACT_RELU, y, d2, d2, N);
    CHECK(memcmp(dx, d2, sizeof dx) == 0);
}

static void relu_zero_subgradient(void) {
    // PyTorch's ReLU passes no gradient at exactly 0
    float x[2] = {0.0f, -0.0f}, y[2], dy[2] = {1.0f, 1.0f}, dx[2];
    nn_activation_forward(NN_ACT_RELU, x, y, 2);
    nn_activation_backward(NN_ACT_RELU, y, dy, dx, 2);
    CHECK(dx[0] == 0.0f);
    CHECK(dx[1] == 0.0f);
}

// Calls the forward pass with an activation value outside the enum.
static void forward_invalid(void *ctx) {
    float *x = ctx;
    nn_activation_forward((NnActivation)9, x, x, 1);
}

static void invalid_activation_rejected(void) {
    float x = 1.0f;
    CHECK(expect_fatal(forward_invalid, &x));
    CHECK_STR_CONTAINS(fatal_message, "invalid activation 9");
}

int main(void) {
    RUN_TEST(names_round_trip);
    RUN_TEST(forward_matches_reference);
    RUN_TEST(forward_in_place);
    RUN_TEST(backward_gradient_check);
    RUN_TEST(backward_in_place);
    RUN_TEST(relu_zero_subgradient);
    RUN_TEST(invalid_activation_rejected);
    return check_summary();
}
