// One MT10 task: scene loading, reset, step, observation and episode
// bookkeeping. The task-specific parts (placement, object pose, reward)
// live in envs/tasks.c.
#include "envs/env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/log.h"
#include "envs/goals.h"
#include "envs/mujoco_compat.h"
#include "envs/tasks.h"
#ifdef ENV_HAVE_SCENE_BUILTIN
#include "envs/scene_builtin.h"
#endif

#define FRAME_SKIP 5            // physics substeps per env step (dt = 12.5 ms)
#define HAND_RESET_STEPS 50     // env steps of the hand reset (250 substeps)
#define ACTION_SCALE 0.01       // metres of mocap motion per unit action

// Observation bounds of the hand slots as Meta-World v3 declares them. The
// gripper slot is bounded by [-1, 1] and the object slots are unbounded.
static const double hand_obs_lo[3] = {-0.525, 0.348, -0.0525};
static const double hand_obs_hi[3] = {0.525, 1.025, 0.7};
static const double mocap_lo[3] = {-0.5, 0.40, 0.05};
static const double mocap_hi[3] = {0.5, 1.0, 0.5};

// ---- configuration and names ----

void env_config_defaults(EnvConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_steps = ENV_MAX_STEPS_DEFAULT;
    cfg->seed = 0;
    cfg->torquescale = ENV_TORQUESCALE_DEFAULT;
    cfg->one_hot = 0;
}

int env_task_index(const char *name) {
    for (int k = 0; name && k < ENV_N_TASKS; k++) {
        if (strcmp(env_task_def(k)->name, name) == 0) {
            return k;
        }
    }
    return -1;
}

const char *env_task_name(int i) {
    return i >= 0 && i < ENV_N_TASKS ? env_task_def(i)->name : NULL;
}

// Checks the config fields; the message names the bad field and value.
static int check_config(const EnvConfig *cfg, char *err, size_t err_sz) {
    if (cfg->max_steps < 1) {
        return err_set(err, err_sz, ERR_CONFIG, "env config: max_steps %d must be >= 1",
                       cfg->max_steps);
    }
    if (cfg->seed > 0xffffffffULL) {
        return err_set(err, err_sz, ERR_CONFIG,
                       "env config: seed %llu must be below 2^32 (numpy's legacy seed range)",
                       (unsigned long long)cfg->seed);
    }
    if (!(cfg->torquescale > 0.0) || !isfinite(cfg->torquescale)) {
        return err_set(err, err_sz, ERR_CONFIG,
                       "env config: torquescale %g must be positive and finite",
                       cfg->torquescale);
    }
    if (cfg->one_hot != 0 && cfg->one_hot != 1) {
        return err_set(err, err_sz, ERR_CONFIG, "env config: one_hot %d must be 0 or 1",
                       cfg->one_hot);
    }
    if (memchr(cfg->assets, '\0', sizeof cfg->assets) == NULL) {
        return err_set(err, err_sz, ERR_CONFIG, "env config: assets path is not terminated");
    }
    return 0;
}

// ---- scene loading ----

// Loads the task's scene from cfg->assets/sawyer_xyz/ or the built-in scenes
// into env->m. Returns 0, ERR_IO for a missing folder or file, ERR_FORMAT
// for a file MuJoCo cannot load.
static int load_scene(EnvTask *env, char *err, size_t err_sz) {
    const char *dir = env->cfg.assets;
    if (!dir[0]) {
        snprintf(env->source, sizeof env->source, "built-in");
#ifdef ENV_HAVE_SCENE_BUILTIN
        env->m = env_scene_builtin_load(env->def->xml, err, err_sz);
        return env->m ? 0 : ERR_FORMAT;
#else
        return err_set(err, err_sz, ERR_IO,
                       "%s: built-in scenes not available yet; pass --assets DIR",
                       env->def->name);
#endif
    }
    snprintf(env->source, sizeof env->source, "assets %s", dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return err_set(err, err_sz, ERR_IO,
                       "%s: asset folder '%s' not found or not a directory", env->def->name,
                       dir);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/sawyer_xyz/%s", dir, env->def->xml);
    if (stat(path, &st) != 0) {
        return err_set(err, err_sz, ERR_IO,
                       "%s: scene file '%s' not found; --assets must name a Meta-World "
                       "asset folder containing sawyer_xyz/", env->def->name, path);
    }
    env->m = env_mujoco_load_xml(path, err, err_sz);
    return env->m ? 0 : ERR_FORMAT;
}

// Looks up the robot names every task reads.
static int bind_robot(EnvTask *env, char *err, size_t err_sz) {
    struct { int *id; int type; const char *name; } names[] = {
        {&env->body_hand, mjOBJ_BODY, "hand"},
        {&env->body_rightclaw, mjOBJ_BODY, "rightclaw"},
        {&env->body_leftclaw, mjOBJ_BODY, "leftclaw"},
        {&env->body_rightpad, mjOBJ_BODY, "rightpad"},
        {&env->body_leftpad, mjOBJ_BODY, "leftpad"},
        {&env->site_right_ee, mjOBJ_SITE, "rightEndEffector"},
        {&env->site_left_ee, mjOBJ_SITE, "leftEndEffector"},
        {&env->geom_leftpad, mjOBJ_GEOM, "leftpad_geom"},
        {&env->geom_rightpad, mjOBJ_GEOM, "rightpad_geom"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *names[i].id = env_task_lookup(env, names[i].type, names[i].name, err, err_sz);
        if (*names[i].id < 0) {
            return ERR_MISMATCH;
        }
    }
    env->site_goal = mj_name2id(env->m, mjOBJ_SITE, "goal");
    int mocap_body = env_task_lookup(env, mjOBJ_BODY, "mocap", err, err_sz);
    if (mocap_body < 0) {
        return ERR_MISMATCH;
    }
    env->mocap = env->m->body_mocapid[mocap_body];
    if (env->mocap < 0 || env->m->nu != 2) {
        return err_set(err, err_sz, ERR_MISMATCH,
                       "%s: scene %s needs a mocap body 'mocap' and 2 gripper actuators "
                       "(found mocap id %d, %d actuators)", env->def->name, env->source,
                       env->mocap, env->m->nu);
    }
    return 0;
}

// Sets the step observation bounds: hand and gripper of both frames, goal.
static void set_obs_bounds(EnvTask *env) {
    for (int i = 0; i < ENV_OBS_DIM; i++) {
        env->obs_lo[i] = -INFINITY;
        env->obs_hi[i] = INFINITY;
    }
    for (int f = 0; f < 2; f++) {
        int base = f * ENV_CUR_DIM;
        for (int i = 0; i < 3; i++) {
            env->obs_lo[base + i] = hand_obs_lo[i];
            env->obs_hi[base + i] = hand_obs_hi[i];
        }
        env->obs_lo[base + 3] = -1.0;
        env->obs_hi[base + 3] = 1.0;
    }
    for (int i = 0; i < 3; i++) {
        env->obs_lo[36 + i] = env->def->goal_lo[i];
        env->obs_hi[36 + i] = env->def->goal_hi[i];
    }
}

int env_create(EnvTask **out, const char *task, const EnvConfig *cfg, char *err,
               size_t err_sz) {
    *out = NULL;
    EnvConfig defaults;
    if (!cfg) {
        env_config_defaults(&defaults);
        cfg = &defaults;
    }
    int k = env_task_index(task);
    if (k < 0) {
        return err_set(err, err_sz, ERR_ARG,
                       "unknown task '%s'; MT10 tasks are reach-v3 push-v3 pick-place-v3 "
                       "door-open-v3 drawer-open-v3 drawer-close-v3 button-press-topdown-v3 "
                       "peg-insert-side-v3 window-open-v3 window-close-v3",
                       task ? task : "(null)");
    }
    int rc = check_config(cfg, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    env_mujoco_init();

    EnvTask *env = calloc(1, sizeof *env);
    if (!env) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: cannot allocate the env", task);
    }
    env->task = k;
    env->def = env_task_def(k);
    env->cfg = *cfg;
    env->obs_dim = cfg->one_hot ? ENV_OBS_DIM_ONE_HOT : ENV_OBS_DIM;
    env->goal = -1;
    env->truncated = ENV_TRUNC_TIME;   // no step before the first reset
    rng_init(&env->rng, cfg->seed);

    // scene, names, mocap weld
    rc = load_scene(env, err, err_sz);
    if (rc != 0) {
        env_destroy(env);
        return rc;
    }
    rc = bind_robot(env, err, err_sz);
    if (rc == 0) {
        rc = env->def->bind(env, err, err_sz);
    }
    if (rc == 0 && env_mujoco_set_welds(env->m, cfg->torquescale) != 1) {
        rc = err_set(err, err_sz, ERR_MISMATCH, "%s: scene %s must have exactly one weld",
                     task, env->source);
    }
    if (rc != 0) {
        env_destroy(env);
        return rc;
    }
    env->d = mj_makeData(env->m);
    if (!env->d) {
        env_destroy(env);
        return err_set(err, err_sz, ERR_NOMEM, "%s: mj_makeData failed", task);
    }
    mj_forward(env->m, env->d);

    // goals: the task's 50 of the benchmark table
    double (*goals)[ENV_N_GOALS][ENV_RAND_DIM] =
        malloc(sizeof(double[ENV_N_TASKS][ENV_N_GOALS][ENV_RAND_DIM]));
    if (!goals) {
        env_destroy(env);
        return err_set(err, err_sz, ERR_NOMEM, "%s: cannot allocate the goal table", task);
    }
    env_goals_generate((uint32_t)cfg->seed, goals);
    memcpy(env->goals, goals[k], sizeof env->goals);
    free(goals);
    set_obs_bounds(env);
    *out = env;
    return 0;
}

void env_destroy(EnvTask *env) {
    if (!env) {
        return;
    }
    if (env->d) {
        mj_deleteData(env->d);
    }
    if (env->m) {
        mj_deleteModel(env->m);
    }
    free(env);
}

// ---- observation ----

// Builds the current 18-float frame: hand, gripper opening, object pose,
// zeros for the absent second object.
static void current_frame(const EnvTask *env, double *c) {
    const mjData *d = env->d;
    for (int i = 0; i < 3; i++) {
        c[i] = d->xpos[3 * env->body_hand + i];
    }
    const mjtNum *r = d->xpos + 3 * env->body_rightclaw;
    const mjtNum *l = d->xpos + 3 * env->body_leftclaw;
    double gap = sqrt((r[0] - l[0]) * (r[0] - l[0]) + (r[1] - l[1]) * (r[1] - l[1]) +
                      (r[2] - l[2]) * (r[2] - l[2]));
    double opening = gap / 0.1;
    c[3] = opening < 0.0 ? 0.0 : (opening > 1.0 ? 1.0 : opening);
    env->def->object(env, c + 4, c + 7);
    for (int i = 11; i < ENV_CUR_DIM; i++) {
        c[i] = 0.0;
    }
}

// Writes [current, previous, goal] (+ one-hot) and makes current the new
// previous frame.
static void build_obs(EnvTask *env, double *obs) {
    double c[ENV_CUR_DIM];
    current_frame(env, c);
    memcpy(obs, c, sizeof c);
    memcpy(obs + ENV_CUR_DIM, env->prev, sizeof env->prev);
    memcpy(env->prev, c, sizeof c);
    for (int i = 0; i < 3; i++) {
        obs[36 + i] = env->target[i];
    }
    if (env->cfg.one_hot) {
        for (int i = 0; i < ENV_N_TASKS; i++) {
            obs[ENV_OBS_DIM + i] = i == env->task;
        }
    }
}

// ---- reset ----

// Meta-World's _reset_hand: drive the mocap to the start pose with the
// gripper open for 50 control steps, then record the TCP.
static void reset_hand(EnvTask *env) {
    mjData *d = env->d;
    for (int it = 0; it < HAND_RESET_STEPS; it++) {
        for (int i = 0; i < 3; i++) {
            d->mocap_pos[3 * env->mocap + i] = env->def->hand_init[i];
        }
        // (1, 0, 1, 0) un-normalised, as Meta-World writes it; MuJoCo normalises
        d->mocap_quat[4 * env->mocap + 0] = 1.0;
        d->mocap_quat[4 * env->mocap + 1] = 0.0;
        d->mocap_quat[4 * env->mocap + 2] = 1.0;
        d->mocap_quat[4 * env->mocap + 3] = 0.0;
        d->ctrl[0] = -1.0;
        d->ctrl[1] = 1.0;
        for (int s = 0; s < FRAME_SKIP; s++) {
            mj_step(env->m, d);
        }
    }
    env_task_tcp(env, env->init_tcp);
}

// Starts an episode on random vector rv (the task's 3 or 6 entries) and
// writes the reset observation.
static void reset_episode(EnvTask *env, const double *rv, double *obs) {
    for (int i = 0; i < ENV_RAND_DIM; i++) {
        env->rv[i] = i < env->def->rand_dim ? rv[i] : 0.0;
    }

    // Meta-World runs reset_model, mj_resetData, reset_model. The first pass
    // only leaves its model-side placement behind, so place, reset the data
    // and run the second pass.
    env->def->place(env);
    mj_resetData(env->m, env->d);
    reset_hand(env);
    env->def->reset(env);

    // simulation trouble during the hand reset is counted, not fatal
    long total = env_mujoco_warning_total(env->d);
    if (total > 0) {
        env->n_warnings += total;
        log_warn("env %s goal %d: %ld MuJoCo warnings during reset", env->def->name, env->goal,
                 total);
    }
    env->warn_mark = total;

    // frame stacking: the previous frame of the reset observation is itself
    current_frame(env, env->prev);
    build_obs(env, obs);
    env->steps = 0;
    env->truncated = ENV_TRUNC_NONE;
    env->started = 1;
}

int env_reset(EnvTask *env, int goal, double *obs, char *err, size_t err_sz) {
    if (goal == ENV_GOAL_NEXT) {
        goal = env->next_goal;
    } else if (goal == ENV_GOAL_RANDOM) {
        goal = (int)rng_below(&env->rng, ENV_N_GOALS);
    } else if (goal < 0 || goal >= ENV_N_GOALS) {
        return err_set(err, err_sz, ERR_ARG,
                       "env_reset: %s: goal index %d out of range 0..%d (or -1 next, -2 random)",
                       env->def->name, goal, ENV_N_GOALS - 1);
    }
    env->goal = goal;
    env->next_goal = (goal + 1) % ENV_N_GOALS;
    reset_episode(env, env->goals[goal], obs);
    return 0;
}

int env_reset_vector(EnvTask *env, const double *rand_vec, double *obs, char *err,
                     size_t err_sz) {
    for (int i = 0; i < env->def->rand_dim; i++) {
        if (!isfinite(rand_vec[i])) {
            return err_set(err, err_sz, ERR_ARG,
                           "env_reset_vector: %s: rand_vec[%d] = %g is not finite",
                           env->def->name, i, rand_vec[i]);
        }
    }
    env->goal = -1;
    reset_episode(env, rand_vec, obs);
    return 0;
}

// ---- step ----

// Moves the mocap target by the action and sets the gripper controls.
static void apply_action(EnvTask *env, const double *action) {
    mjData *d = env->d;
    for (int i = 0; i < 3; i++) {
        double a = action[i] < -1.0 ? -1.0 : (action[i] > 1.0 ? 1.0 : action[i]);
        double p = d->mocap_pos[3 * env->mocap + i] + ACTION_SCALE * a;
        d->mocap_pos[3 * env->mocap + i] =
            p < mocap_lo[i] ? mocap_lo[i] : (p > mocap_hi[i] ? mocap_hi[i] : p);
    }
    d->mocap_quat[4 * env->mocap + 0] = 1.0;
    d->mocap_quat[4 * env->mocap + 1] = 0.0;
    d->mocap_quat[4 * env->mocap + 2] = 1.0;
    d->mocap_quat[4 * env->mocap + 3] = 0.0;
    // the gripper action is not clipped here; MuJoCo clamps ctrl to [-1, 1]
    d->ctrl[0] = action[3];
    d->ctrl[1] = -action[3];
}

// Checks that a step is allowed and the action finite.
static int check_step(const EnvTask *env, const double *action, char *err, size_t err_sz) {
    if (!env->started) {
        return err_set(err, err_sz, ERR_ARG, "env_step: %s: step before the first reset",
                       env->def->name);
    }
    if (env->truncated != ENV_TRUNC_NONE) {
        return err_set(err, err_sz, ERR_ARG,
                       "env_step: %s goal %d step %d: the episode is truncated (%s); "
                       "reset before stepping", env->def->name, env->goal, env->steps + 1,
                       env->truncated == ENV_TRUNC_SIM ? "MuJoCo warning" : "max_steps");
    }
    for (int i = 0; i < ENV_ACT_DIM; i++) {
        if (!isfinite(action[i])) {
            return err_set(err, err_sz, ERR_ARG,
                           "env_step: %s goal %d step %d: action[%d] = %g is not finite",
                           env->def->name, env->goal, env->steps + 1, i, action[i]);
        }
    }
    return 0;
}

// Counts new MuJoCo warnings; returns 1 when this step raised any.
static int take_warnings(EnvTask *env) {
    long total = env_mujoco_warning_total(env->d);
    if (total == env->warn_mark) {
        return 0;
    }
    env->n_warnings += total - env->warn_mark;
    env->warn_mark = total;
    int type = 0;
    for (int i = 0; i < mjNWARNING; i++) {
        if (env->d->warning[i].number > 0) {
            type = i;
        }
    }
    log_warn("env %s goal %d step %d: MuJoCo warning (%s), episode truncated",
             env->def->name, env->goal, env->steps, env_mujoco_warning_name(type));
    return 1;
}

int env_step(EnvTask *env, const double *action, double *obs, double *reward,
             int *truncated, EnvInfo *info, char *err, size_t err_sz) {
    int rc = check_step(env, action, err, err_sz);
    if (rc != 0) {
        return rc;
    }

    // simulate 5 substeps, then mj_forward so that the positions read below
    // match the integrated state, as Meta-World v3 does. mj_rnePostConstraint
    // is skipped because nothing here reads the quantities it computes.
    apply_action(env, action);
    for (int s = 0; s < FRAME_SKIP; s++) {
        mj_step(env->m, env->d);
    }
    mj_forward(env->m, env->d);
    env->steps++;

    // observation, clipped on step only
    build_obs(env, obs);
    for (int i = 0; i < ENV_OBS_DIM; i++) {
        obs[i] = obs[i] < env->obs_lo[i] ? env->obs_lo[i]
                 : (obs[i] > env->obs_hi[i] ? env->obs_hi[i] : obs[i]);
    }

    // reward, or the end of the episode on simulation trouble
    EnvInfo local;
    EnvInfo *out_info = info ? info : &local;
    int unstable = take_warnings(env);
    for (int i = 0; !unstable && i < ENV_OBS_DIM; i++) {
        unstable = !isfinite(obs[i]);
    }
    if (unstable) {
        // non-finite entries become 0 so the final observation can still be
        // stored; the episode is over either way
        for (int i = 0; i < ENV_OBS_DIM; i++) {
            obs[i] = isfinite(obs[i]) ? obs[i] : 0.0;
        }
        memset(out_info, 0, sizeof *out_info);
        *reward = 0.0;
        env->n_sim_truncations++;
        env->truncated = ENV_TRUNC_SIM;
    } else {
        *reward = env->def->reward(env, obs, action, out_info);
        out_info->unscaled_reward = *reward;
        env->truncated = env->steps >= env->cfg.max_steps ? ENV_TRUNC_TIME : ENV_TRUNC_NONE;
    }
    *truncated = env->truncated;
    return 0;
}

// ---- accessors ----

int env_obs_dim(const EnvTask *env) {
    return env->obs_dim;
}

int env_task_id(const EnvTask *env) {
    return env->task;
}

int env_goal_index(const EnvTask *env) {
    return env->goal;
}

int env_step_count(const EnvTask *env) {
    return env->steps;
}

int env_max_steps(const EnvTask *env) {
    return env->cfg.max_steps;
}

int env_truncated(const EnvTask *env) {
    return env->started ? env->truncated : ENV_NOT_STARTED;
}

int env_goal_vector(const EnvTask *env, int goal, double *rand_vec) {
    if (goal < 0 || goal >= ENV_N_GOALS) {
        return -1;
    }
    memcpy(rand_vec, env->goals[goal], sizeof env->goals[goal]);
    return env->def->rand_dim;
}

long env_warning_count(const EnvTask *env) {
    return env->n_warnings;
}

long env_sim_truncations(const EnvTask *env) {
    return env->n_sim_truncations;
}

const char *env_scene_source(const EnvTask *env) {
    return env->source;
}

const char *env_scene_file(const EnvTask *env) {
    return env->def->xml;
}

const mjModel *env_model(const EnvTask *env) {
    return env->m;
}

mjData *env_data(EnvTask *env) {
    return env->d;
}
