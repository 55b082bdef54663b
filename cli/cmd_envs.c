// `conal envs`: list the MT10 tasks and their scenes, or check that every
// task loads, resets and steps.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "envs/env.h"
#include "envs/mujoco_compat.h"

// Prints the usage text.
static void print_usage(void) {
    printf("usage: conal envs [--check] [--assets DIR]\n\n"
           "Lists the ten MT10 tasks with their scene file, the scene source and the\n"
           "model sizes (nq, nbody) and observation dimension.\n\n"
           "options:\n"
           "  --assets DIR  load the official Meta-World scenes from DIR/sawyer_xyz/\n"
           "                (default: the built-in scenes)\n"
           "  --check       reset each task on goal 0 and step it once with a zero\n"
           "                action; report every problem and exit 1 if there is any\n");
}

// Resets and steps one env; returns the number of problems found.
static int check_env(EnvTask *env, const char *name) {
    char err[1024];
    double obs[ENV_OBS_DIM], action[ENV_ACT_DIM] = {0.0, 0.0, 0.0, 0.0}, reward = 0.0;
    int truncated = 0, problems = 0;
    EnvInfo info;
    if (env_reset(env, 0, obs, err, sizeof err) != 0) {
        fprintf(stderr, "conal envs: %s: reset failed: %s\n", name, err);
        return 1;
    }
    if (env_step(env, action, obs, &reward, &truncated, &info, err, sizeof err) != 0) {
        fprintf(stderr, "conal envs: %s: step failed: %s\n", name, err);
        return 1;
    }
    for (int i = 0; i < ENV_OBS_DIM; i++) {
        if (!isfinite(obs[i])) {
            fprintf(stderr, "conal envs: %s: observation[%d] = %g after one step\n", name, i,
                    obs[i]);
            problems++;
        }
    }
    if (!(reward >= 0.0 && reward <= 10.0)) {
        fprintf(stderr, "conal envs: %s: reward %g outside [0, 10]\n", name, reward);
        problems++;
    }
    if (truncated != ENV_TRUNC_NONE || env_warning_count(env) > 0) {
        fprintf(stderr, "conal envs: %s: %ld MuJoCo warnings in reset and one step\n", name,
                env_warning_count(env));
        problems++;
    }
    return problems;
}

int cmd_envs(int argc, char **argv) {
    EnvConfig cfg;
    env_config_defaults(&cfg);
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage();
            return 0;
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--assets") == 0 && i + 1 < argc) {
            if (strlen(argv[i + 1]) >= sizeof cfg.assets) {
                fprintf(stderr, "conal envs: --assets path longer than %zu bytes\n",
                        sizeof cfg.assets - 1);
                return 2;
            }
            snprintf(cfg.assets, sizeof cfg.assets, "%s", argv[++i]);
        } else {
            fprintf(stderr, "conal envs: unknown or incomplete option '%s'; see --help\n",
                    argv[i]);
            return 2;
        }
    }

    // every task would fail on a missing folder with the same message
    struct stat st;
    if (cfg.assets[0] && (stat(cfg.assets, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "conal envs: --assets: folder '%s' not found or not a directory; "
                        "give the Meta-World assets folder (the one containing sawyer_xyz/)\n",
                cfg.assets);
        return 1;
    }

    printf("MuJoCo %s, scenes: %s\n", env_mujoco_version(),
           cfg.assets[0] ? cfg.assets : "built-in (embedded in the binary)");
    printf("%-3s %-24s %-34s %4s %6s %4s%s\n", "idx", "task", "scene", "nq", "nbody", "obs",
           check ? "  check" : "");
    int problems = 0;
    for (int k = 0; k < ENV_N_TASKS; k++) {
        char err[1024];
        EnvTask *env = NULL;
        const char *name = env_task_name(k);
        if (env_create(&env, name, &cfg, err, sizeof err) != 0) {
            fprintf(stderr, "conal envs: %s\n", err);
            problems++;
            continue;
        }
        const mjModel *m = env_model(env);
        int bad = check ? check_env(env, name) : 0;
        problems += bad;
        const char *verdict = "";
        if (check) {
            verdict = bad ? "  FAIL" : "  ok";
        }
        printf("%-3d %-24s %-34s %4d %6d %4d%s\n", k, name, env_scene_file(env), m->nq,
               m->nbody, env_obs_dim(env), verdict);
        env_destroy(env);
    }
    if (problems > 0) {
        fprintf(stderr, "conal envs: %d problem%s found\n", problems, problems == 1 ? "" : "s");
        return 1;
    }
    return 0;
}
