// Vector env: identical results for 1 and 2 threads and against single
// envs, truncation handling and input errors.
#include "envs/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "envs/scripted.h"
#include "tests/check.h"

#define ASSETS CONAL_SHARED_DIR "/metaworld-assets"
#define N_ENVS 12
#define N_STEPS 120
#define MAX_STEPS 50

// Log lines at warning level or above; none is expected in these tests.
static int n_log_warnings = 0;

static void count_warnings(LogLevel level, const char *line, void *ctx) {
    (void)ctx;
    if (level >= LOG_WARN) {
        n_log_warnings++;
        fprintf(stderr, "%s\n", line);
    }
}

static void no_unexpected_warnings(void) {
    CHECK_EQ_INT(0, n_log_warnings);
}

static const int tasks[N_ENVS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 7};
static char err[2048];

static void config(EnvConfig *cfg) {
    env_config_defaults(cfg);
    snprintf(cfg->assets, sizeof cfg->assets, "%s", ASSETS);
    cfg->seed = 3;
    cfg->max_steps = MAX_STEPS;
}

// A deterministic wiggle added to the scripted actions, computed once: the
// compiler may evaluate sin() differently in two inlined copies of the same
// expression, which would break the bit-for-bit comparison by itself.
static double wiggle[N_STEPS][ENV_ACT_DIM];

static void init_wiggle(void) {
    for (int t = 0; t < N_STEPS; t++) {
        for (int i = 0; i < ENV_ACT_DIM; i++) {
            wiggle[t][i] = 0.2 * sin(0.7 * t + i);
        }
    }
}

// Scripted action plus the wiggle, from a float observation.
static void policy(int task, const float *obs, int t, float *action) {
    double o[ENV_OBS_DIM], a[ENV_ACT_DIM];
    for (int i = 0; i < ENV_OBS_DIM; i++) {
        o[i] = obs[i];
    }
    env_scripted_action(task, o, a);
    for (int i = 0; i < ENV_ACT_DIM; i++) {
        action[i] = (float)(0.8 * a[i] + wiggle[t][i]);
    }
}

// Observations, rewards and truncation flags of one whole run.
typedef struct Trace {
    float obs[N_STEPS][N_ENVS][ENV_OBS_DIM];
    float rewards[N_STEPS][N_ENVS];
    int truncated[N_STEPS][N_ENVS];
} Trace;

// Runs the vector env with n_threads, resetting truncated envs.
static int run_vec(int n_threads, Trace *trace) {
    EnvConfig cfg;
    config(&cfg);
    EnvVec *vec = NULL;
    if (env_vec_create(&vec, tasks, N_ENVS, &cfg, n_threads, err, sizeof err) != 0) {
        fprintf(stderr, "env_vec_create: %s\n", err);
        return -1;
    }
    static float obs[N_ENVS][ENV_OBS_DIM], actions[N_ENVS][ENV_ACT_DIM];
    int rc = env_vec_reset_all(vec, &obs[0][0], err, sizeof err);
    for (int t = 0; rc == 0 && t < N_STEPS; t++) {
        for (int i = 0; i < N_ENVS; i++) {
            policy(tasks[i], obs[i], t, actions[i]);
        }
        rc = env_vec_step(vec, &actions[0][0], &trace->obs[t][0][0], trace->rewards[t],
                          trace->truncated[t], NULL, err, sizeof err);
        memcpy(obs, trace->obs[t], sizeof obs);
        for (int i = 0; rc == 0 && i < N_ENVS; i++) {
            if (trace->truncated[t][i]) {
                rc = env_vec_reset(vec, i, ENV_GOAL_NEXT, obs[i], err, sizeof err);
            }
        }
    }
    if (rc != 0) {
        fprintf(stderr, "run_vec: %s\n", err);
    }
    env_vec_destroy(vec);
    return rc;
}

// Rounds an observation to float as the vector env does. NOTE: this is
// kept out of line because GCC 12 at -O3 was seen to skip the rounding once
// the loop was fused with the widening copy in policy(). The test then
// failed on 1-ulp action differences, and at -O0 it passed.
__attribute__((noinline)) static void round_obs(const double *obs, float *obs_f) {
    for (int j = 0; j < ENV_OBS_DIM; j++) {
        obs_f[j] = (float)obs[j];
    }
}

// The same run, one EnvTask at a time through the double-precision API.
static int run_single(Trace *trace) {
    EnvConfig cfg;
    config(&cfg);
    for (int i = 0; i < N_ENVS; i++) {
        EnvTask *env = NULL;
        if (env_create(&env, env_task_name(tasks[i]), &cfg, err, sizeof err) != 0) {
            fprintf(stderr, "env_create: %s\n", err);
            return -1;
        }
        double obs[ENV_OBS_DIM], a[ENV_ACT_DIM], r;
        float obs_f[ENV_OBS_DIM], act_f[ENV_ACT_DIM];
        env_reset(env, ENV_GOAL_NEXT, obs, err, sizeof err);
        for (int t = 0; t < N_STEPS; t++) {
            round_obs(obs, obs_f);
            policy(tasks[i], obs_f, t, act_f);
            for (int j = 0; j < ENV_ACT_DIM; j++) {
                a[j] = act_f[j];
            }
            env_step(env, a, obs, &r, &trace->truncated[t][i], NULL, err, sizeof err);
            for (int j = 0; j < ENV_OBS_DIM; j++) {
                trace->obs[t][i][j] = (float)obs[j];
            }
            trace->rewards[t][i] = (float)r;
            if (trace->truncated[t][i]) {
                env_reset(env, ENV_GOAL_NEXT, obs, err, sizeof err);
            }
        }
        env_destroy(env);
    }
    return 0;
}

static void threads_do_not_change_results(void) {
    Trace *one = calloc(1, sizeof *one), *two = calloc(1, sizeof *two);
    Trace *single = calloc(1, sizeof *single);
    CHECK(one != NULL);
    CHECK(two != NULL);
    CHECK(single != NULL);
    if (one && two && single) {
        CHECK_EQ_INT(0, run_vec(1, one));
        CHECK_EQ_INT(0, run_vec(2, two));
        CHECK_EQ_INT(0, run_single(single));
        CHECK(memcmp(one, two, sizeof *one) == 0);
        CHECK(memcmp(one, single, sizeof *one) == 0);
        // the run crossed episode boundaries: envs truncated at MAX_STEPS
        CHECK_EQ_INT(ENV_TRUNC_TIME, one->truncated[MAX_STEPS - 1][0]);
        CHECK_EQ_INT(ENV_TRUNC_NONE, one->truncated[MAX_STEPS][0]);
    }
    free(one);
    free(two);
    free(single);
}

static void vec_errors_name_the_env(void) {
    EnvConfig cfg;
    config(&cfg);
    EnvVec *vec = NULL;
    int bad_tasks[2] = {0, 10};
    CHECK(env_vec_create(&vec, bad_tasks, 2, &cfg, 1, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "env 1: task index 10");
    CHECK(env_vec_create(&vec, tasks, 2, &cfg, 0, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "n_threads 0");
    snprintf(cfg.assets, sizeof cfg.assets, "/nonexistent");
    CHECK(env_vec_create(&vec, tasks, 2, &cfg, 2, err, sizeof err) == ERR_IO);
    CHECK_STR_CONTAINS(err, "env 0");
    CHECK(vec == NULL);

    config(&cfg);
    cfg.max_steps = 2;
    CHECK(env_vec_create(&vec, tasks, 3, &cfg, 2, err, sizeof err) == 0);
    if (!vec) {
        return;
    }
    float obs[3 * ENV_OBS_DIM], act[3 * ENV_ACT_DIM] = {0}, rew[3];
    int trunc[3];
    CHECK(env_vec_step(vec, act, obs, rew, trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "before the first reset");

    env_vec_reset_all(vec, obs, err, sizeof err);
    act[2 * ENV_ACT_DIM + 1] = NAN;
    CHECK(env_vec_step(vec, act, obs, rew, trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "env 2 (pick-place-v3) step 1: action[1]");
    // nothing moved
    CHECK_EQ_INT(0, env_step_count(env_vec_env(vec, 0)));

    act[2 * ENV_ACT_DIM + 1] = 0.0f;
    CHECK(env_vec_step(vec, act, obs, rew, trunc, NULL, err, sizeof err) == 0);
    CHECK(env_vec_step(vec, act, obs, rew, trunc, NULL, err, sizeof err) == 0);
    CHECK_EQ_INT(ENV_TRUNC_TIME, trunc[1]);
    CHECK(env_vec_step(vec, act, obs, rew, trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "env 0 (reach-v3) step 3");
    CHECK(env_vec_reset(vec, 3, 0, obs, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "env index 3");
    CHECK(env_vec_reset(vec, 0, 77, obs, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "goal index 77");
    env_vec_destroy(vec);
}

static void infos_and_dims(void) {
    EnvConfig cfg;
    config(&cfg);
    cfg.one_hot = 1;
    EnvVec *vec = NULL;
    CHECK(env_vec_create(&vec, tasks, 4, &cfg, 3, err, sizeof err) == 0);
    if (!vec) {
        return;
    }
    CHECK_EQ_INT(4, env_vec_n_envs(vec));
    CHECK_EQ_INT(ENV_OBS_DIM_ONE_HOT, env_vec_obs_dim(vec));
    CHECK_EQ_INT(3, env_vec_n_threads(vec));
    float obs[4 * ENV_OBS_DIM_ONE_HOT], act[4 * ENV_ACT_DIM] = {0}, rew[4];
    int trunc[4];
    EnvInfo infos[4];
    env_vec_reset_all(vec, obs, err, sizeof err);
    CHECK(env_vec_step(vec, act, obs, rew, trunc, infos, err, sizeof err) == 0);
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(rew[i], infos[i].unscaled_reward, 1e-6);
        CHECK_NEAR(1.0, obs[i * ENV_OBS_DIM_ONE_HOT + ENV_OBS_DIM + tasks[i]], 0.0);
    }
    env_vec_destroy(vec);
}

int main(void) {
    log_set_sink(count_warnings, NULL);
    init_wiggle();
    RUN_TEST(threads_do_not_change_results);
    RUN_TEST(vec_errors_name_the_env);
    RUN_TEST(infos_and_dims);
    RUN_TEST(no_unexpected_warnings);
    return check_summary();
}
