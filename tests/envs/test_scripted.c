// Solvability: the scripted controller of every MT10 task succeeds on at
// least 45 of the 50 goals within 500 steps.
//
// Usage: test_env_scripted SCENES [SEED]. SCENES is a Meta-World asset folder
// (containing sawyer_xyz/) or "builtin" for the project's own scenes.
#include "envs/env.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "envs/scripted.h"
#include "tests/check.h"

#define MIN_SUCCESSES 45

static char err[2048];

// Log lines at warning level or above, such as MuJoCo warnings; a scripted
// run must raise none.
static int n_log_warnings = 0;

static void count_warnings(LogLevel level, const char *line, void *ctx) {
    (void)ctx;
    if (level >= LOG_WARN) {
        n_log_warnings++;
        fprintf(stderr, "%s\n", line);
    }
}

// Runs all 50 goals of one task; returns the number of successful episodes.
static int successes(EnvTask *env, int task, int *first_sum) {
    int n = 0;
    for (int g = 0; g < ENV_N_GOALS; g++) {
        double obs[ENV_OBS_DIM], a[ENV_ACT_DIM], r;
        int trunc = 0;
        EnvInfo info = {0};
        if (env_reset(env, g, obs, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 0;
        }
        for (int t = 0; !trunc; t++) {
            env_scripted_action(task, obs, a);
            if (env_step(env, a, obs, &r, &trunc, &info, err, sizeof err) != 0) {
                fprintf(stderr, "%s\n", err);
                return n;
            }
            if (info.success) {
                n++;
                *first_sum += t + 1;
                break;
            }
        }
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCENES [SEED]  (SCENES: asset folder or builtin)\n",
                argv[0]);
        return 2;
    }
    EnvConfig cfg;
    env_config_defaults(&cfg);
    if (strcmp(argv[1], "builtin") != 0) {
        snprintf(cfg.assets, sizeof cfg.assets, "%s", argv[1]);
    }
    cfg.seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    log_set_sink(count_warnings, NULL);
    check_current = "scripted_controllers_solve_tasks";
    for (int k = 0; k < ENV_N_TASKS; k++) {
        EnvTask *env = NULL;
        if (env_create(&env, env_task_name(k), &cfg, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s", err);
            continue;
        }
        int first_sum = 0;
        int n = successes(env, k, &first_sum);
        fprintf(stderr, "%-24s %2d/50 successes, mean first success step %d\n",
                env_task_name(k), n, n ? first_sum / n : -1);
        CHECK_MSG(n >= MIN_SUCCESSES, "%s: %d of 50 goals solved, need %d", env_task_name(k),
                  n, MIN_SUCCESSES);
        env_destroy(env);
    }
    CHECK_EQ_INT(0, n_log_warnings);
    return check_summary();
}
