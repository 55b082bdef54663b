// Parameter sets and Adam: hand-computed two-step references, decoupled
// weight decay, explicit step counts, Polyak averaging and clipping.
#include "nn/params.h"

#include <stdlib.h>

#include "common/error.h"
#include "tests/check.h"
#include "tests/nn/nn_check.h"

static void init_zeroes_blocks(void) {
    NnParamSet set;
    CHECK_EQ_INT(ERR_OK, nn_params_init(&set, 5, 1));
    CHECK_EQ_INT(5, set.n);
    CHECK(set.target != NULL);
    for (size_t i = 0; i < set.n; i++) {
        CHECK(set.w[i] == 0.0f);
        CHECK(set.g[i] == 0.0f);
        CHECK(set.m[i] == 0.0f);
        CHECK(set.v[i] == 0.0f);
        CHECK(set.target[i] == 0.0f);
    }
    nn_params_deinit(&set);
    CHECK(set.w == NULL);

    CHECK_EQ_INT(ERR_OK, nn_params_init(&set, 3, 0));
    CHECK(set.target == NULL);
    nn_params_deinit(&set);
}

static void adam_defaults_match_torch(void) {
    NnAdamConfig cfg = nn_adam_defaults();
    CHECK(cfg.lr == 1e-3f);
    CHECK(cfg.beta1 == 0.9f);
    CHECK(cfg.beta2 == 0.999f);
    CHECK(cfg.eps == 1e-8f);
    CHECK(cfg.weight_decay == 0.0f);
}

static void adam_two_steps(void) {
    // by hand, lr 0.1, betas (0.9, 0.999), w0 = 1, g = 0.5 then -0.25:
    //   step 1: m = 0.05, v = 2.5e-4, m/(1-0.9) = 0.5, sqrt(v/(1-0.999)) = 0.5,
    //           w = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002
    //   step 2: m = 0.02, v = 3.1225e-4, m/0.19 = 0.1052632,
    //           sqrt(v/0.001999) = 0.3952257, w = 0.9 - 0.0266337 = 0.8733663
    NnAdamConfig cfg = nn_adam_defaults();
    cfg.lr = 0.1f;
    //   (tolerances: 0.9f and 0.999f are not exact, 1 - 0.999f is off by 1.3e-5
    //   relative, so the moments carry that error)
    float w = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
    nn_adam_update(&cfg, 1, &w, &g, &m, &v, 1);
    CHECK_NEAR(0.05, m, 1e-7);
    CHECK_NEAR(2.5e-4, v, 1e-8);
    CHECK_NEAR(0.900000002, w, 1e-7);
    g = -0.25f;
    nn_adam_update(&cfg, 2, &w, &g, &m, &v, 1);
    CHECK_NEAR(0.02, m, 1e-7);
    CHECK_NEAR(3.1225e-4, v, 1e-8);
    CHECK_NEAR(0.8733663, w, 2e-7);
}

static void adam_weight_decay_decoupled(void) {
    // AdamW: w *= 1 - lr * wd before the Adam step, so with lr 0.1, wd 0.5:
    //   step 1: w = 0.95 - 0.1 = 0.850000002
    //   step 2: w = 0.85 * 0.95 - 0.0266337 = 0.7808663
    NnAdamConfig cfg = nn_adam_defaults();
    cfg.lr = 0.1f;
    cfg.weight_decay = 0.5f;
    float w = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
    nn_adam_update(&cfg, 1, &w, &g, &m, &v, 1);
    CHECK_NEAR(0.850000002, w, 1e-7);
    g = -0.25f;
    nn_adam_update(&cfg, 2, &w, &g, &m, &v, 1);
    CHECK_NEAR(0.7808663, w, 2e-7);

    // the decay does not enter the moments, unlike L2 regularisation
    CHECK_NEAR(0.02, m, 1e-7);
    CHECK_NEAR(3.1225e-4, v, 1e-8);
}

static void adam_step_count_sets_correction(void) {
    // the same moments with step 2 and step 1000: bias correction fades, so
    // the late step is m / sqrt(v) without the 1/(1 - beta^t) factors
    NnAdamConfig cfg = nn_adam_defaults();
    cfg.lr = 0.1f;
    float m0 = 0.05f, v0 = 2.5e-4f, g = 0.5f;
    float w_early = 1.0f, m_early = m0, v_early = v0;
    float w_late = 1.0f, m_late = m0, v_late = v0;
    nn_adam_update(&cfg, 2, &w_early, &g, &m_early, &v_early, 1);
    nn_adam_update(&cfg, 1000, &w_late, &g, &m_late, &v_late, 1);
    CHECK(m_early == m_late);
    CHECK(v_early == v_late);

    // m = 0.095, v = 4.9975e-4; step 2: 0.1 * (0.095/0.19) / sqrt(v/0.001999)
    double m = 0.095, v = 4.9975e-4;
    double early = 0.1 * (m / 0.19) / (sqrt(v / 0.001999) + 1e-8);
    double bc1 = 1.0 - pow(0.9, 1000), bc2 = 1.0 - pow(0.999, 1000);
    double late = 0.1 * (m / bc1) / (sqrt(v / bc2) + 1e-8);
    CHECK_NEAR(1.0 - early, w_early, 1e-6);
    CHECK_NEAR(1.0 - late, w_late, 1e-6);
    CHECK(fabs((double)w_early - (double)w_late) > 0.05);
}

static void adam_many_elements(void) {
    // every element follows the scalar recurrence (the loop has no cross talk)
    enum { N = 1000 };
    NnAdamConfig cfg = nn_adam_defaults();
    float *w = malloc(N * sizeof(float)), *g = malloc(N * sizeof(float));
    float *m = calloc(N, sizeof(float)), *v = calloc(N, sizeof(float));
    RngState rng;
    rng_init(&rng, 41);
    fill_uniform(w, N, &rng, -1.0, 1.0);
    fill_uniform(g, N, &rng, -1.0, 1.0);
    float w0 = w[N - 1];
    nn_adam_update(&cfg, 1, w, g, m, v, N);

    // after one step, w moves by lr * sign(g) up to eps
    CHECK_NEAR((double)w0 - 1e-3 * (g[N - 1] > 0.0f ? 1.0 : -1.0), w[N - 1], 1e-6);
    free(w);
    free(g);
    free(m);
    free(v);
}

// Calls Adam with step count 0.
static void adam_step_zero(void *ctx) {
    (void)ctx;
    NnAdamConfig cfg = nn_adam_defaults();
    float w = 0.0f, g = 0.0f, m = 0.0f, v = 0.0f;
    nn_adam_update(&cfg, 0, &w, &g, &m, &v, 1);
}

static void adam_rejects_step_zero(void) {
    CHECK(expect_fatal(adam_step_zero, NULL));
    CHECK_STR_CONTAINS(fatal_message, "step count 0");
}

static void polyak_and_copy(void) {
    NnParamSet set;
    CHECK_EQ_INT(ERR_OK, nn_params_init(&set, 3, 1));
    set.w[0] = 1.0f;
    set.w[1] = -2.0f;
    set.w[2] = 4.0f;
    nn_params_polyak(&set, 0.005f);
    CHECK_NEAR(0.005, set.target[0], 1e-9);
    CHECK_NEAR(-0.01, set.target[1], 1e-9);
    nn_params_polyak(&set, 0.005f);
    CHECK_NEAR(0.005 + 0.995 * 0.005, set.target[0], 1e-8);

    // tau = 1 is a hard copy, tau = 0 leaves the target alone
    nn_params_polyak(&set, 0.0f);
    CHECK_NEAR(0.005 + 0.995 * 0.005, set.target[0], 1e-8);
    nn_params_polyak(&set, 1.0f);
    CHECK(memcmp(set.w, set.target, 3 * sizeof(float)) == 0);
    set.w[2] = 7.0f;
    nn_params_copy_to_target(&set);
    CHECK(set.target[2] == 7.0f);
    nn_params_deinit(&set);
}

// Polyak update on a set created without a target.
static void polyak_without_target(void *ctx) {
    nn_params_polyak(ctx, 0.5f);
}

static void polyak_needs_target(void) {
    NnParamSet set;
    CHECK_EQ_INT(ERR_OK, nn_params_init(&set, 2, 0));
    CHECK(expect_fatal(polyak_without_target, &set));
    CHECK_STR_CONTAINS(fatal_message, "without a target");
    nn_params_deinit(&set);
}

static void zero_grad_clears(void) {
    NnParamSet set;
    CHECK_EQ_INT(ERR_OK, nn_params_init(&set, 4, 0));
    for (size_t i = 0; i < 4; i++) {
        set.g[i] = 1.5f;
        set.w[i] = 2.5f;
    }
    nn_params_zero_grad(&set);
    for (size_t i = 0; i < 4; i++) {
        CHECK(set.g[i] == 0.0f);
        CHECK(set.w[i] == 2.5f);
    }
    nn_params_deinit(&set);
}

static void clip_global_norm(void) {
    float g[2] = {3.0f, 4.0f};
    CHECK_NEAR(5.0, nn_grad_norm(g, 2), 1e-12);

    // above the limit: scaled to norm 1, direction kept
    CHECK_NEAR(5.0, nn_grad_clip(g, 2, 1.0), 1e-12);
    CHECK_NEAR(0.6, g[0], 1e-7);
    CHECK_NEAR(0.8, g[1], 1e-7);
    CHECK_NEAR(1.0, nn_grad_norm(g, 2), 1e-6);

    // below the limit, or clipping disabled: untouched
    float h[2] = {3.0f, 4.0f};
    CHECK_NEAR(5.0, nn_grad_clip(h, 2, 10.0), 1e-12);
    CHECK(h[0] == 3.0f);
    CHECK(h[1] == 4.0f);
    CHECK_NEAR(5.0, nn_grad_clip(h, 2, 0.0), 1e-12);
    CHECK(h[0] == 3.0f);
    CHECK(h[1] == 4.0f);
}

static void clip_leaves_non_finite(void) {
    float g[3] = {1.0f, NAN, 2.0f};
    double norm = nn_grad_clip(g, 3, 1.0);
    CHECK(isnan(norm));
    CHECK(g[0] == 1.0f);
    CHECK(g[2] == 2.0f);
    CHECK(!nn_all_finite(g, 3));
}

static void norm_accumulates_in_double(void) {
    // 4M squares of 1e-3: a float running sum drifts by a few percent from
    // rounding each 1e-6 addend, while the double sum stays within 1e-9
    enum { N = 1 << 22 };
    float *g = malloc(N * sizeof(float));
    for (size_t i = 0; i < N; i++) {
        g[i] = 1e-3f;
    }
    CHECK_NEAR(sqrt((double)N) * (double)1e-3f, nn_grad_norm(g, N), 1e-9);
    free(g);
}

static void all_finite_detects(void) {
    float x[4] = {0.0f, -1.0f, 3e38f, 1e-40f};
    CHECK(nn_all_finite(x, 4));
    x[2] = INFINITY;
    CHECK(!nn_all_finite(x, 4));
    x[2] = -INFINITY;
    CHECK(!nn_all_finite(x, 4));
    x[2] = NAN;
    CHECK(!nn_all_finite(x, 4));
    CHECK(nn_all_finite(x, 0));
}

int main(void) {
    RUN_TEST(init_zeroes_blocks);
    RUN_TEST(adam_defaults_match_torch);
    RUN_TEST(adam_two_steps);
    RUN_TEST(adam_weight_decay_decoupled);
    RUN_TEST(adam_step_count_sets_correction);
    RUN_TEST(adam_many_elements);
    RUN_TEST(adam_rejects_step_zero);
    RUN_TEST(polyak_and_copy);
    RUN_TEST(polyak_needs_target);
    RUN_TEST(zero_grad_clears);
    RUN_TEST(clip_global_norm);
    RUN_TEST(clip_leaves_non_finite);
    RUN_TEST(norm_accumulates_in_double);
    RUN_TEST(all_finite_detects);
    return check_summary();
}
