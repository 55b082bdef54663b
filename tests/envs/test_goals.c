// Goal table: MT19937 against numpy's legacy RandomState, and the seed-42
// goals of every task. The reference vectors were computed with numpy by
// replaying Meta-World v3's draw order. That order is two reset_model draws
// per reset, rejection of close object/goal pairs, and the tasks in MT10
// order on one stream.
#include "envs/goals.h"

#include <math.h>
#include <string.h>

#include "tests/check.h"

static void mt19937_reference_output(void) {
    // the reference implementation's 10000th output for init_genrand(5489)
    EnvMt19937 mt;
    env_mt_init(&mt, 5489u);
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++) {
        x = env_mt_next(&mt);
    }
    CHECK_EQ_INT(4123659995u, x);
}

static void mt19937_matches_numpy_seed_42(void) {
    // np.random.seed(42); np.random.random_sample(2)
    EnvMt19937 mt;
    env_mt_init(&mt, 42u);
    CHECK_NEAR(0.3745401188473625, env_mt_uniform(&mt), 1e-16);
    CHECK_NEAR(0.9507143064099162, env_mt_uniform(&mt), 1e-16);
}

static double goals[ENV_N_TASKS][ENV_N_GOALS][ENV_RAND_DIM];

static void seed_42_first_two_goals(void) {
    static const double expected[ENV_N_TASKS][2][6] = {
        {{0.066489, 0.621234, 0.02, -0.063319, 0.830424, 0.181189},
         {-0.008786, 0.678518, 0.02, 0.002847, 0.859241, 0.061613}},
        {{0.057834, 0.649844, 0.02, 0.007421, 0.858684, 0.017454},
         {-0.050808, 0.616068, 0.02, -0.042981, 0.817337, 0.018968}},
        {{-0.050579, 0.615954, 0.02, -0.056157, 0.897587, 0.134224},
         {-0.085560, 0.603065, 0.02, -0.007475, 0.886827, 0.231792}},
        {{0.033424, 0.928490, 0.15}, {0.014745, 0.882819, 0.15}},
        {{-0.093066, 0.9, 0.0}, {0.066275, 0.9, 0.0}},
        {{0.053223, 0.9, 0.0}, {-0.018491, 0.9, 0.0}},
        {{0.050853, 0.891843, 0.115}, {-0.049800, 0.856407, 0.115}},
        {{0.053771, 0.573690, 0.02, -0.283354, 0.636216, -0.0000913},
         {0.187256, 0.512801, 0.02, -0.320762, 0.533176, -0.000956}},
        {{0.063482, 0.851410, 0.16}, {-0.017761, 0.780481, 0.16}},
        {{0.0, 0.820152, 0.2}, {0.0, 0.877586, 0.2}},
    };
    static const int dims[ENV_N_TASKS] = {6, 6, 6, 3, 3, 3, 3, 6, 3, 3};
    env_goals_generate(42u, goals);
    for (int k = 0; k < ENV_N_TASKS; k++) {
        for (int g = 0; g < 2; g++) {
            for (int i = 0; i < ENV_RAND_DIM; i++) {
                double want = i < dims[k] ? expected[k][g][i] : 0.0;
                // the table has six decimals (seven for peg's tiny z)
                CHECK_MSG(fabs(goals[k][g][i] - want) <= 6e-7,
                          "task %d goal %d [%d]: expected %.7f, got %.9f", k, g, i, want,
                          goals[k][g][i]);
            }
        }
    }
}

static void goals_respect_boxes_and_rejection(void) {
    env_goals_generate(7u, goals);
    for (int g = 0; g < ENV_N_GOALS; g++) {
        for (int k = 0; k < 3; k++) {
            double d = hypot(goals[k][g][0] - goals[k][g][3], goals[k][g][1] - goals[k][g][4]);
            CHECK_MSG(d >= 0.15, "task %d goal %d: object-goal distance %g < 0.15", k, g, d);
        }
        double peg = hypot(goals[7][g][0] - goals[7][g][3], goals[7][g][1] - goals[7][g][4]);
        CHECK_MSG(peg >= 0.1, "peg goal %d: peg-box distance %g < 0.1", g, peg);
        CHECK(goals[3][g][0] >= 0.0);
        CHECK(goals[3][g][0] <= 0.1);
        CHECK(goals[9][g][1] >= 0.75);
        CHECK(goals[9][g][1] <= 0.9);
        CHECK_NEAR(0.9, goals[4][g][1], 0.0);
    }
}

static void same_seed_same_table(void) {
    static double again[ENV_N_TASKS][ENV_N_GOALS][ENV_RAND_DIM];
    env_goals_generate(123u, goals);
    env_goals_generate(123u, again);
    CHECK(memcmp(goals, again, sizeof goals) == 0);
    env_goals_generate(124u, again);
    CHECK(memcmp(goals, again, sizeof goals) != 0);
}

int main(void) {
    RUN_TEST(mt19937_reference_output);
    RUN_TEST(mt19937_matches_numpy_seed_42);
    RUN_TEST(seed_42_first_two_goals);
    RUN_TEST(goals_respect_boxes_and_rejection);
    RUN_TEST(same_seed_same_table);
    return check_summary();
}
