// One MT10 env on the official Meta-World scenes: reset observations,
// episode rules, error messages, determinism, simulation warnings and
// rewards at chosen states. Reference reset values were measured with
// MuJoCo 2.2.2 and torquescale 5 by an independent harness.
#include "envs/env.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "envs/tasks.h"
#include "tests/check.h"

#define ASSETS CONAL_SHARED_DIR "/metaworld-assets"

static char err[2048];

// Log lines at warning level or above. A test that expects some resets the
// counter and checks it. Any other warning fails the run.
static int n_log_warnings = 0;
static char last_warning[512];

static void count_warnings(LogLevel level, const char *line, void *ctx) {
    (void)ctx;
    if (level >= LOG_WARN) {
        n_log_warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", line);
        fprintf(stderr, "%s\n", line);
    }
}

// Creates task k on the official scenes with cfg (NULL: defaults).
static EnvTask *make_env(const char *task, EnvConfig *cfg) {
    EnvConfig local;
    if (!cfg) {
        env_config_defaults(&local);
        cfg = &local;
    }
    snprintf(cfg->assets, sizeof cfg->assets, "%s", ASSETS);
    EnvTask *env = NULL;
    int rc = env_create(&env, task, cfg, err, sizeof err);
    CHECK_MSG(rc == 0, "env_create %s: %s", task, err);
    return env;
}

static void check_vec(const double *want, const double *got, int n, double tol,
                      const char *what) {
    for (int i = 0; i < n; i++) {
        CHECK_MSG(fabs(want[i] - got[i]) <= tol, "%s[%d]: expected %.5f, got %.5f", what, i,
                  want[i], got[i]);
    }
}

// ---- reset observations ----

static void reset_obs_match_reference(void) {
    static const struct {
        double rv[6], obj[3], quat[4], goal[3];
    } ref[ENV_N_TASKS] = {
        {{0, 0.6, 0.02, 0, 0.85, 0.175}, {0, 0.6, 0.02}, {0, 0, 0, 1}, {0, 0.85, 0.175}},
        {{0, 0.6, 0.02, 0, 0.85, 0.015}, {0, 0.6, 0.0199}, {0, 0, 0, 1}, {0, 0.85, 0.0199}},
        {{0, 0.6, 0.02, 0, 0.85, 0.175}, {0, 0.6, 0.02}, {0, 0, 0, 1}, {0, 0.85, 0.175}},
        {{0.05, 0.9, 0.15}, {0.2407, 0.6929, 0.15}, {0.6908, -0.1506, 0.6909, 0.1512},
         {-0.25, 0.45, 0.15}},
        {{0, 0.9, 0}, {0, 0.73, 0.09}, {1, 0, 0, 0}, {0, 0.54, 0.09}},
        {{0, 0.9, 0}, {0, 0.58, 0.14}, {0, 0, 0, 0}, {0, 0.74, 0.09}},
        {{0, 0.85, 0.115}, {0, 0.85, 0.3085}, {0.7074, -0.7068, 0, 0}, {0, 0.8499, 0.215}},
        {{0.1, 0.6, 0.02, -0.3, 0.55, 0}, {0.13, 0.6, 0.03}, {0, 0, 0, 1}, {-0.27, 0.55, 0.13}},
        {{0, 0.8, 0.16}, {-0.04, 0.705, 0.16}, {0, 0, 0, 0}, {0.2, 0.8, 0.16}},
        {{0, 0.825, 0.2}, {0.01, 0.73, 0.2}, {0, 0, 0, 0}, {0, 0.825, 0.2}},
    };
    for (int k = 0; k < ENV_N_TASKS; k++) {
        EnvTask *env = make_env(env_task_name(k), NULL);
        if (!env) {
            continue;
        }
        double obs[ENV_OBS_DIM];
        CHECK(env_reset_vector(env, ref[k].rv, obs, err, sizeof err) == 0);
        check_vec(ref[k].obj, obs + 4, 3, 1e-3, env_task_name(k));
        check_vec(ref[k].quat, obs + 7, 4, 1e-3, env_task_name(k));
        check_vec(ref[k].goal, obs + 36, 3, 1e-3, env_task_name(k));

        // hand after the 250-substep hand reset, gripper open
        int far = k == 6 || k == 8 || k == 9;
        double hand[3] = {far ? -0.0088 : -0.0079, far ? 0.4072 : 0.6128,
                          far ? 0.2028 : 0.2009};
        check_vec(hand, obs, 3, 1e-3, "hand");
        CHECK_NEAR(1.0, obs[3], 1e-3);

        // frame stacking: the previous frame of a reset is the current one
        CHECK(memcmp(obs, obs + 18, 18 * sizeof(double)) == 0);
        for (int i = 11; i < 18; i++) {
            CHECK_NEAR(0.0, obs[i], 0.0);
        }
        env_destroy(env);
    }
}

// Meta-World sets the window-close slide without mj_forward, so the reset
// observation shows the handle at slide 0 and the first step at 0.2.
static void window_close_reset_is_stale(void) {
    EnvTask *env = make_env("window-close-v3", NULL);
    if (!env) {
        return;
    }
    double rv[3] = {0, 0.825, 0.2}, obs[ENV_OBS_DIM], zero[4] = {0}, r;
    int trunc;
    env_reset_vector(env, rv, obs, err, sizeof err);
    CHECK_NEAR(0.01, obs[4], 1e-3);
    CHECK(env_step(env, zero, obs, &r, &trunc, NULL, err, sizeof err) == 0);
    CHECK_NEAR(0.21, obs[4], 2e-3);
    CHECK_NEAR(0.01, obs[22], 1e-3);
    env_destroy(env);
}

// Torquescale 1 (MuJoCo-2.x-era weld) leaves the hand closer to the mocap.
static void torquescale_one_hand_pose(void) {
    EnvConfig cfg;
    env_config_defaults(&cfg);
    cfg.torquescale = 1.0;
    EnvTask *env = make_env("reach-v3", &cfg);
    if (!env) {
        return;
    }
    double obs[ENV_OBS_DIM];
    env_reset(env, 0, obs, err, sizeof err);
    double hand[3] = {0.0062, 0.6003, 0.1943};
    check_vec(hand, obs, 3, 1e-3, "hand");
    env_destroy(env);
}

// ---- episode rules ----

static void goals_cycle_and_show_in_obs(void) {
    EnvConfig cfg;
    env_config_defaults(&cfg);
    cfg.seed = 42;
    EnvTask *env = make_env("reach-v3", &cfg);
    if (!env) {
        return;
    }
    double obs[ENV_OBS_DIM], rv[ENV_RAND_DIM];
    CHECK(env_reset(env, ENV_GOAL_NEXT, obs, err, sizeof err) == 0);
    CHECK_EQ_INT(0, env_goal_index(env));
    CHECK_EQ_INT(6, env_goal_vector(env, 0, rv));
    CHECK_NEAR(-0.063319, obs[36], 1e-6);
    CHECK_NEAR(0.830424, obs[37], 1e-6);
    CHECK_NEAR(0.181189, obs[38], 1e-6);
    CHECK_NEAR(rv[3], obs[36], 0.0);
    env_reset(env, ENV_GOAL_NEXT, obs, err, sizeof err);
    CHECK_EQ_INT(1, env_goal_index(env));
    env_reset(env, 49, obs, err, sizeof err);
    env_reset(env, ENV_GOAL_NEXT, obs, err, sizeof err);
    CHECK_EQ_INT(0, env_goal_index(env));
    env_reset(env, ENV_GOAL_RANDOM, obs, err, sizeof err);
    CHECK(env_goal_index(env) >= 0);
    CHECK(env_goal_index(env) < ENV_N_GOALS);
    env_destroy(env);
}

static void truncation_at_max_steps(void) {
    EnvConfig cfg;
    env_config_defaults(&cfg);
    cfg.max_steps = 150;
    EnvTask *env = make_env("push-v3", &cfg);
    if (!env) {
        return;
    }
    double obs[ENV_OBS_DIM], a[4] = {0.1, -0.2, 0.0, 0.5}, r;
    int trunc = -1, steps = 0;
    env_reset(env, 3, obs, err, sizeof err);
    while (steps < 200 && env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == 0) {
        steps++;
        if (trunc) {
            break;
        }
    }
    CHECK_EQ_INT(150, steps);
    CHECK_EQ_INT(ENV_TRUNC_TIME, trunc);
    CHECK_EQ_INT(150, env_step_count(env));
    CHECK_EQ_INT(ENV_TRUNC_TIME, env_truncated(env));

    // a step after truncation is an error naming the task and the step
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "push-v3");
    CHECK_STR_CONTAINS(err, "step 151");
    CHECK_STR_CONTAINS(err, "reset");
    env_reset(env, 3, obs, err, sizeof err);
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == 0);
    env_destroy(env);
}

// A goal outside reach's goal space (z above 0.3) shows unclipped in the
// reset observation and clipped in step observations.
static void step_obs_clipped_reset_not(void) {
    EnvTask *env = make_env("reach-v3", NULL);
    if (!env) {
        return;
    }
    double rv[6] = {0, 0.6, 0.02, 0, 0.85, 0.4}, obs[ENV_OBS_DIM], a[4] = {0}, r;
    int trunc;
    env_reset_vector(env, rv, obs, err, sizeof err);
    CHECK_NEAR(0.4, obs[38], 0.0);
    env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err);
    CHECK_NEAR(0.3, obs[38], 0.0);
    CHECK_NEAR(0.85, obs[37], 0.0);
    env_destroy(env);
}

static void one_hot_appended(void) {
    EnvConfig cfg;
    env_config_defaults(&cfg);
    cfg.one_hot = 1;
    EnvTask *env = make_env("drawer-close-v3", &cfg);
    if (!env) {
        return;
    }
    CHECK_EQ_INT(ENV_OBS_DIM_ONE_HOT, env_obs_dim(env));
    double obs[ENV_OBS_DIM_ONE_HOT], a[4] = {0}, r;
    int trunc;
    env_reset(env, 0, obs, err, sizeof err);
    for (int i = 0; i < ENV_N_TASKS; i++) {
        CHECK_NEAR(i == 5 ? 1.0 : 0.0, obs[ENV_OBS_DIM + i], 0.0);
    }
    env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err);
    CHECK_NEAR(1.0, obs[ENV_OBS_DIM + 5], 0.0);
    env_destroy(env);
}

static void zero_action_is_stable(void) {
    for (int k = 0; k < ENV_N_TASKS; k++) {
        EnvTask *env = make_env(env_task_name(k), NULL);
        if (!env) {
            continue;
        }
        double obs[ENV_OBS_DIM], a[4] = {0}, r;
        int trunc = 0, finite = 1;
        env_reset(env, 0, obs, err, sizeof err);
        double hand0[3] = {obs[0], obs[1], obs[2]};
        for (int t = 0; t < 100; t++) {
            env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err);
            for (int i = 0; i < ENV_OBS_DIM; i++) {
                finite &= isfinite(obs[i]);
            }
            finite &= isfinite(r) && r >= 0.0 && r <= 10.0;
        }
        CHECK_MSG(finite, "%s: non-finite or out-of-range values", env_task_name(k));
        CHECK_EQ_INT(0, trunc);
        CHECK_EQ_INT(0, env_warning_count(env));
        // the hand settles toward the mocap but stays within 2 cm
        CHECK_MSG(hypot(obs[0] - hand0[0], obs[1] - hand0[1]) < 0.02, "%s: hand drifted",
                  env_task_name(k));
        env_destroy(env);
    }
}

// Runs 60 steps with actions from a fixed pattern; returns a checksum-free
// copy of all observations and rewards in out (60 x 40).
static void rollout(EnvTask *env, double *out) {
    double obs[ENV_OBS_DIM], r;
    int trunc;
    env_reset(env, 5, obs, err, sizeof err);
    for (int t = 0; t < 60; t++) {
        double a[4] = {sin(0.3 * t), cos(0.2 * t), 0.5 * sin(0.1 * t), t < 30 ? -1.0 : 1.0};
        env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err);
        memcpy(out + t * 40, obs, sizeof obs);
        out[t * 40 + 39] = r;
    }
}

static void same_seed_same_episode(void) {
    static double a[60 * 40], b[60 * 40];
    EnvConfig cfg;
    env_config_defaults(&cfg);
    cfg.seed = 9;
    EnvTask *e1 = make_env("pick-place-v3", &cfg);
    EnvTask *e2 = make_env("pick-place-v3", &cfg);
    if (!e1 || !e2) {
        return;
    }
    rollout(e1, a);
    rollout(e2, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    // a second episode on the same env repeats the first exactly
    rollout(e1, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    env_destroy(e1);
    env_destroy(e2);
}

// ---- errors ----

static void bad_inputs_give_clear_errors(void) {
    EnvConfig cfg;
    env_config_defaults(&cfg);
    EnvTask *env = NULL;

    CHECK(env_create(&env, "reach-v2", &cfg, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "unknown task 'reach-v2'");
    CHECK(env == NULL);

    snprintf(cfg.assets, sizeof cfg.assets, "/nonexistent/metaworld");
    CHECK(env_create(&env, "reach-v3", &cfg, err, sizeof err) == ERR_IO);
    CHECK_STR_CONTAINS(err, "/nonexistent/metaworld");

    snprintf(cfg.assets, sizeof cfg.assets, "%s", CONAL_SHARED_DIR "/docs");
    CHECK(env_create(&env, "door-open-v3", &cfg, err, sizeof err) == ERR_IO);
    CHECK_STR_CONTAINS(err, "sawyer_door_pull.xml");

    snprintf(cfg.assets, sizeof cfg.assets, "%s", ASSETS);
    cfg.max_steps = 0;
    CHECK(env_create(&env, "reach-v3", &cfg, err, sizeof err) == ERR_CONFIG);
    CHECK_STR_CONTAINS(err, "max_steps 0");
    cfg.max_steps = 500;
    cfg.seed = 1ULL << 32;
    CHECK(env_create(&env, "reach-v3", &cfg, err, sizeof err) == ERR_CONFIG);
    CHECK_STR_CONTAINS(err, "seed 4294967296");
    cfg.seed = 0;
    cfg.torquescale = 0.0;
    CHECK(env_create(&env, "reach-v3", &cfg, err, sizeof err) == ERR_CONFIG);
    CHECK_STR_CONTAINS(err, "torquescale");

    env = make_env("button-press-topdown-v3", NULL);
    if (!env) {
        return;
    }
    double obs[ENV_OBS_DIM], a[4] = {0, 0, 0, 0}, r;
    int trunc;
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "before the first reset");
    CHECK(env_reset(env, 50, obs, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "goal index 50");
    CHECK(env_reset(env, -3, obs, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "goal index -3");

    env_reset(env, 0, obs, err, sizeof err);
    env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err);
    a[2] = NAN;
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "button-press-topdown-v3 goal 0 step 2");
    CHECK_STR_CONTAINS(err, "action[2]");
    a[2] = 0.0;
    a[3] = INFINITY;
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "action[3] = inf");
    // the rejected steps did not count
    CHECK_EQ_INT(1, env_step_count(env));
    env_destroy(env);
}

// An asset folder whose scene file is not valid MJCF fails with MuJoCo's
// parser message and the file's path.
static void broken_scene_file_is_an_error(void) {
    char dir[512], path[700];
    check_tmpdir(dir, sizeof dir, "envs");
    snprintf(path, sizeof path, "%s/sawyer_xyz", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/sawyer_xyz/sawyer_reach_v3.xml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("<mujoco><worldbody><body name='hand'>\n", f);
        fclose(f);
    }
    EnvConfig cfg;
    env_config_defaults(&cfg);
    snprintf(cfg.assets, sizeof cfg.assets, "%s", dir);
    EnvTask *env = NULL;
    CHECK(env_create(&env, "reach-v3", &cfg, err, sizeof err) == ERR_FORMAT);
    CHECK_STR_CONTAINS(err, "sawyer_reach_v3.xml");
    CHECK(env == NULL);
    check_rmtree(dir);
}

static void built_in_scenes_missing_is_an_error(void) {
#ifndef ENV_HAVE_SCENE_BUILTIN
    EnvTask *env = NULL;
    CHECK(env_create(&env, "reach-v3", NULL, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "built-in scenes not available yet; pass --assets DIR");
#endif
}

// ---- simulation trouble ----

// A NaN velocity makes MuJoCo warn and reset its data inside mj_step; the
// env counts it and ends the episode instead of crashing.
static void injected_nan_truncates_episode(void) {
    EnvTask *env = make_env("drawer-open-v3", NULL);
    if (!env) {
        return;
    }
    double obs[ENV_OBS_DIM], a[4] = {0}, r = -1.0;
    int trunc = 0;
    env_reset(env, 0, obs, err, sizeof err);
    env_data(env)->qvel[3] = NAN;
    int warnings_before = n_log_warnings;
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == 0);
    CHECK(n_log_warnings > warnings_before);
    CHECK_STR_CONTAINS(last_warning, "drawer-open-v3 goal 0 step 1");
    n_log_warnings = warnings_before;
    CHECK_EQ_INT(ENV_TRUNC_SIM, trunc);
    CHECK_NEAR(0.0, r, 0.0);
    CHECK(env_warning_count(env) >= 1);
    CHECK_EQ_INT(1, env_sim_truncations(env));
    for (int i = 0; i < ENV_OBS_DIM; i++) {
        CHECK(isfinite(obs[i]));
    }
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == ERR_ARG);
    CHECK_STR_CONTAINS(err, "MuJoCo warning");

    // the next episode runs normally
    CHECK(env_reset(env, 1, obs, err, sizeof err) == 0);
    CHECK(env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err) == 0);
    CHECK_EQ_INT(ENV_TRUNC_NONE, trunc);
    env_destroy(env);
}

// ---- rewards at chosen states ----

// Places both end-effector sites (and so the TCP) at p.
static void set_tcp(EnvTask *env, const double *p) {
    for (int i = 0; i < 3; i++) {
        env->d->site_xpos[3 * env->site_right_ee + i] = p[i];
        env->d->site_xpos[3 * env->site_left_ee + i] = p[i];
    }
}

static void reward_reach_values(void) {
    EnvTask *env = make_env("reach-v3", NULL);
    if (!env) {
        return;
    }
    double rv[6] = {0, 0.6, 0.02, 0, 0.85, 0.175}, obs[ENV_OBS_DIM], a[4] = {0};
    EnvInfo info;
    env_reset_vector(env, rv, obs, err, sizeof err);

    // 10 cm from the goal: margin |hand_init - goal| = 0.251246,
    // d = 0.05 / 0.251246, 10 / (1 + 9 d^2) = 7.3722628
    double p[3] = {0.1, 0.85, 0.175};
    set_tcp(env, p);
    CHECK_NEAR(7.372262773722627, env->def->reward(env, obs, a, &info), 1e-12);
    CHECK_NEAR(0.0, info.success, 0.0);
    CHECK_NEAR(0.1, info.near_object, 1e-12);

    // 3 cm away: inside the 5 cm radius
    p[0] = 0.03;
    set_tcp(env, p);
    CHECK_NEAR(10.0, env->def->reward(env, obs, a, &info), 0.0);
    CHECK_NEAR(1.0, info.success, 0.0);
    env_destroy(env);
}

static void reward_window_open_values(void) {
    EnvTask *env = make_env("window-open-v3", NULL);
    if (!env) {
        return;
    }
    double rv[3] = {0, 0.8, 0.16}, obs[ENV_OBS_DIM], a[4] = {0};
    EnvInfo info;
    env_reset_vector(env, rv, obs, err, sizeof err);

    // handle 0.1 short of the goal (margin 0.15) and the TCP on it:
    // in_place = 1 / (1 + 9 (0.05/0.15)^2) = 0.5, reach = 1, H(1, 0.5) = 0.5
    double handle[3] = {0.1, 0.705, 0.16};
    memcpy(obs + 4, handle, sizeof handle);
    set_tcp(env, handle);
    CHECK_NEAR(5.0, env->def->reward(env, obs, a, &info), 1e-12);
    CHECK_NEAR(0.5, info.in_place_reward, 1e-12);
    CHECK_NEAR(1.0, info.grasp_reward, 0.0);
    CHECK_NEAR(0.0, info.success, 0.0);

    // within 5 cm of the goal in x with the TCP on the handle: success
    obs[4] = 0.16;
    set_tcp(env, obs + 4);
    CHECK_NEAR(10.0, env->def->reward(env, obs, a, &info), 1e-12);
    CHECK_NEAR(1.0, info.success, 0.0);
    env_destroy(env);
}

static void reward_drawer_open_values(void) {
    EnvTask *env = make_env("drawer-open-v3", NULL);
    if (!env) {
        return;
    }
    double rv[3] = {0, 0.9, 0}, obs[ENV_OBS_DIM], a[4] = {0};
    EnvInfo info;
    env_reset_vector(env, rv, obs, err, sizeof err);

    // handle 0.1 from the goal (0, 0.54, 0.09), hand on the handle:
    // opening = 1 / (1 + 9 * 0.4^2), caging = 1, reward = 5 (1 + opening)
    double handle[3] = {0, 0.64, 0.09};
    memcpy(obs, handle, sizeof handle);
    memcpy(obs + 4, handle, sizeof handle);
    CHECK_NEAR(7.049180327868853, env->def->reward(env, obs, a, &info), 1e-12);
    CHECK_NEAR(1.0, info.near_object, 0.0);
    CHECK_NEAR(0.1, info.obj_to_target, 1e-12);
    CHECK_NEAR(0.0, info.success, 0.0);
    env_destroy(env);
}

static void reward_door_opened_term(void) {
    EnvTask *env = make_env("door-open-v3", NULL);
    if (!env) {
        return;
    }
    double rv[3] = {0.05, 0.9, 0.15}, obs[ENV_OBS_DIM], a[4] = {0, 0, 0, -1};
    EnvInfo info;
    env_reset_vector(env, rv, obs, err, sizeof err);
    // gripper open (grab 0), so the reward is 8 * opened(theta)
    obs[4] = env->target[0] + 0.5;
    static const double theta[3] = {0.0, -1.0, -1.7};
    static const double want[3] = {0.2927317436650948, 3.241200636340343, 8.0};
    for (int i = 0; i < 3; i++) {
        env->d->qpos[env->qpos_adr] = theta[i];
        CHECK_NEAR(want[i], env->def->reward(env, obs, a, &info), 1e-12);
        CHECK_NEAR(0.0, info.grasp_success, 0.0);
    }
    obs[4] = env->target[0] + 0.07;
    CHECK_NEAR(10.0, env->def->reward(env, obs, a, &info), 0.0);
    CHECK_NEAR(1.0, info.success, 0.0);
    env_destroy(env);
}

static void reward_button_values(void) {
    EnvTask *env = make_env("button-press-topdown-v3", NULL);
    if (!env) {
        return;
    }
    double rv[3] = {0, 0.85, 0.115}, obs[ENV_OBS_DIM], a[4] = {0};
    EnvInfo info;
    env_reset_vector(env, rv, obs, err, sizeof err);
    CHECK_NEAR(0.0935, env->aux_scalar, 2e-4);

    // button 2 cm above the target, TCP on it, gripper opening 0.3:
    // 5 H(0.7, 1) + 5 / (1 + 9 (0.015 / o2t_init)^2)
    double o[3] = {0.0, 0.85, env->target[2] + 0.02};
    memcpy(obs + 4, o, sizeof o);
    obs[3] = 0.3;
    set_tcp(env, o);
    double s = 0.015 / env->aux_scalar;
    double want = 5.0 * 0.7 + 5.0 / (1.0 + 9.0 * s * s);
    CHECK_NEAR(want, env->def->reward(env, obs, a, &info), 1e-12);
    CHECK_NEAR(1.0, info.success, 0.0);
    CHECK_NEAR(0.02, info.obj_to_target, 1e-12);

    // 3 cm above: beyond the 2.4 cm success threshold
    obs[6] = env->target[2] + 0.03;
    env->def->reward(env, obs, a, &info);
    CHECK_NEAR(0.0, info.success, 0.0);
    env_destroy(env);
}

// Any warning not consumed by a test is a failure.
static void no_unexpected_warnings(void) {
    CHECK_EQ_INT(0, n_log_warnings);
}

int main(void) {
    log_set_sink(count_warnings, NULL);
    RUN_TEST(reset_obs_match_reference);
    RUN_TEST(window_close_reset_is_stale);
    RUN_TEST(torquescale_one_hand_pose);
    RUN_TEST(goals_cycle_and_show_in_obs);
    RUN_TEST(truncation_at_max_steps);
    RUN_TEST(step_obs_clipped_reset_not);
    RUN_TEST(one_hot_appended);
    RUN_TEST(zero_action_is_stable);
    RUN_TEST(same_seed_same_episode);
    RUN_TEST(bad_inputs_give_clear_errors);
    RUN_TEST(broken_scene_file_is_an_error);
    RUN_TEST(built_in_scenes_missing_is_an_error);
    RUN_TEST(injected_nan_truncates_episode);
    RUN_TEST(reward_reach_values);
    RUN_TEST(reward_window_open_values);
    RUN_TEST(reward_drawer_open_values);
    RUN_TEST(reward_door_opened_term);
    RUN_TEST(reward_button_values);
    RUN_TEST(no_unexpected_warnings);
    return check_summary();
}
