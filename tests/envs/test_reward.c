// Reward shaping functions: tolerance, Hamacher product, rectangular prism
// tolerance and the scipy-convention quaternion.
#include "envs/reward.h"

#include <math.h>

#include "tests/check.h"

static void tolerance_inside_bounds_is_one(void) {
    CHECK_NEAR(1.0, env_tolerance(0.0, 0.0, 0.05, 0.3, ENV_SIGMOID_LONG_TAIL), 0.0);
    CHECK_NEAR(1.0, env_tolerance(0.05, 0.0, 0.05, 0.3, ENV_SIGMOID_LONG_TAIL), 0.0);
    CHECK_NEAR(1.0, env_tolerance(0.02, 0.015, 0.05, 0.0, ENV_SIGMOID_GAUSSIAN), 0.0);
}

static void tolerance_zero_margin_is_step(void) {
    CHECK_NEAR(0.0, env_tolerance(0.0500001, 0.0, 0.05, 0.0, ENV_SIGMOID_LONG_TAIL), 0.0);
    CHECK_NEAR(0.0, env_tolerance(-1e-9, 0.0, 0.05, 0.0, ENV_SIGMOID_GAUSSIAN), 0.0);
}

// Values computed with numpy from the tolerance formula.
static void tolerance_reference_values(void) {
    CHECK_NEAR(0.8, env_tolerance(0.10, 0.0, 0.05, 0.3, ENV_SIGMOID_LONG_TAIL), 1e-12);
    CHECK_NEAR(0.1, env_tolerance(0.35, 0.0, 0.05, 0.3, ENV_SIGMOID_LONG_TAIL), 1e-12);
    CHECK_NEAR(0.64, env_tolerance(0.01, 0.015, 0.05, 0.02, ENV_SIGMOID_LONG_TAIL), 1e-12);
    CHECK_NEAR(0.5948055333248462,
               env_tolerance(0.10, 0.0, 0.005, 0.2, ENV_SIGMOID_GAUSSIAN), 1e-12);
}

// Every sigmoid equals value_at_margin one margin outside the bounds and
// decreases beyond it.
static void sigmoids_hit_value_at_margin(void) {
    static const EnvSigmoid all[] = {
        ENV_SIGMOID_GAUSSIAN, ENV_SIGMOID_LONG_TAIL, ENV_SIGMOID_RECIPROCAL,
        ENV_SIGMOID_HYPERBOLIC, ENV_SIGMOID_COSINE, ENV_SIGMOID_LINEAR,
        ENV_SIGMOID_QUADRATIC, ENV_SIGMOID_TANH_SQUARED};
    for (int i = 0; i < (int)(sizeof all / sizeof all[0]); i++) {
        double at = env_tolerance(1.5, 0.0, 1.0, 0.5, all[i]);
        double below = env_tolerance(-0.5, 0.0, 1.0, 0.5, all[i]);
        double near = env_tolerance(1.1, 0.0, 1.0, 0.5, all[i]);
        CHECK_MSG(fabs(at - 0.1) < 1e-12, "sigmoid %d: %.17g at the margin", i, at);
        CHECK_MSG(fabs(below - 0.1) < 1e-12, "sigmoid %d: %.17g below", i, below);
        CHECK_MSG(near > at && near < 1.0, "sigmoid %d: %.17g near the bound", i, near);
    }
}

static void tolerance_custom_value_at_margin(void) {
    CHECK_NEAR(0.5, env_tolerance_at(2.0, 0.0, 1.0, 1.0, ENV_SIGMOID_LONG_TAIL, 0.5), 1e-12);
    CHECK_NEAR(0.25, env_tolerance_at(2.0, 0.0, 1.0, 1.0, ENV_SIGMOID_GAUSSIAN, 0.25), 1e-12);
}

static void hamacher_values(void) {
    CHECK_NEAR(1.0 / 3.0, env_hamacher(0.5, 0.5), 1e-15);
    CHECK_NEAR(0.25, env_hamacher(0.3, 0.6), 1e-15);
    CHECK_NEAR(0.37, env_hamacher(1.0, 0.37), 1e-15);
    CHECK_NEAR(0.37, env_hamacher(0.37, 1.0), 1e-15);
    CHECK_NEAR(0.0, env_hamacher(0.0, 0.0), 0.0);
    CHECK_NEAR(0.0, env_hamacher(0.0, 0.8), 0.0);
    CHECK_NEAR(1.0, env_hamacher(1.0, 1.0), 0.0);
}

static void rect_prism_inside_outside(void) {
    double zero[3] = {0.0, 1.0, 0.0};
    double one[3] = {1.0, 0.0, 2.0};
    double inside[3] = {0.5, 0.5, 1.0};
    double outside[3] = {0.5, 0.5, 2.5};
    double at_zero[3] = {0.0, 1.0, 0.0};
    double at_one[3] = {1.0, 0.0, 2.0};
    CHECK_NEAR(0.125, env_rect_prism_tolerance(inside, zero, one), 1e-15);
    CHECK_NEAR(1.0, env_rect_prism_tolerance(outside, zero, one), 0.0);
    CHECK_NEAR(0.0, env_rect_prism_tolerance(at_zero, zero, one), 0.0);
    CHECK_NEAR(1.0, env_rect_prism_tolerance(at_one, zero, one), 1e-15);
}

static void quat_identity_and_rotations(void) {
    double q[4];
    const double identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    env_quat_xyzw_from_mat(identity, q);
    CHECK_NEAR(0.0, q[0], 1e-15);
    CHECK_NEAR(0.0, q[1], 1e-15);
    CHECK_NEAR(0.0, q[2], 1e-15);
    CHECK_NEAR(1.0, q[3], 1e-15);

    // 90 degrees about z: the diagonal and the trace tie at 1, so the
    // z-branch is taken (the first maximum)
    const double rot_z[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    env_quat_xyzw_from_mat(rot_z, q);
    CHECK_NEAR(0.0, q[0], 1e-15);
    CHECK_NEAR(0.0, q[1], 1e-15);
    CHECK_NEAR(sqrt(0.5), q[2], 1e-15);
    CHECK_NEAR(sqrt(0.5), q[3], 1e-15);

    // 180 degrees about x: w = 0 and x positive
    const double rot_x[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1};
    env_quat_xyzw_from_mat(rot_x, q);
    CHECK_NEAR(1.0, q[0], 1e-15);
    CHECK_NEAR(0.0, q[3], 1e-15);

    // -90 degrees about y: the y-branch wins the tie with the trace and
    // returns (0, +s, 0, -s), the negation of the w-positive form, because
    // the sign is not canonicalised
    const double rot_y[9] = {0, 0, -1, 0, 1, 0, 1, 0, 0};
    env_quat_xyzw_from_mat(rot_y, q);
    CHECK_NEAR(0.0, q[0], 1e-15);
    CHECK_NEAR(sqrt(0.5), q[1], 1e-15);
    CHECK_NEAR(0.0, q[2], 1e-15);
    CHECK_NEAR(-sqrt(0.5), q[3], 1e-15);
}

int main(void) {
    RUN_TEST(tolerance_inside_bounds_is_one);
    RUN_TEST(tolerance_zero_margin_is_step);
    RUN_TEST(tolerance_reference_values);
    RUN_TEST(sigmoids_hit_value_at_margin);
    RUN_TEST(tolerance_custom_value_at_margin);
    RUN_TEST(hamacher_values);
    RUN_TEST(rect_prism_inside_outside);
    RUN_TEST(quat_identity_and_rotations);
    return check_summary();
}
