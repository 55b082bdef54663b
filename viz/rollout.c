// Stepping the viewer's envs and keeping per-episode statistics.
#include "viz/rollout.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

// Goal of episode e (0-based) for the rollout's goal rule.
static int episode_goal(const VizRollout *r, int e) {
    if (r->goal >= 0) {
        return r->goal;
    }
    if (r->episodes > 0) {
        return (int)(((long)e * ENV_N_GOALS) / r->episodes) % ENV_N_GOALS;
    }
    return e % ENV_N_GOALS;
}

// Resets tile t to the goal of episode e and clears its statistics.
static int start_episode(VizRollout *r, VizTile *t, int e, char *err, size_t err_sz) {
    double obs[ENV_OBS_DIM_ONE_HOT];
    t->goal = episode_goal(r, e);
    int rc = env_reset(t->env, t->goal, obs, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    for (int j = 0; j < ENV_OBS_DIM; j++) {
        t->obs[j] = (float)obs[j];
    }
    t->episode = e + 1;
    t->step = 0;
    t->reward = 0.0;
    t->ret = 0.0;
    t->success = 0;
    return 0;
}

int viz_rollout_create(VizRollout *r, VizPolicy *policy, const EnvConfig *env_cfg,
                       const int *tasks, int n, int goal, int episodes, char *err,
                       size_t err_sz) {
    ASSERT(n >= 1 && n <= ENV_N_TASKS, "viz_rollout_create: %d tiles", n);
    ASSERT(goal == VIZ_GOAL_SPREAD || (goal >= 0 && goal < ENV_N_GOALS),
           "viz_rollout_create: goal %d", goal);
    memset(r, 0, sizeof *r);
    r->policy = policy;
    r->env_cfg = *env_cfg;
    r->goal = goal;
    r->episodes = episodes;
    r->n_tiles = n;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++) {
            ASSERT(tasks[k] != tasks[i], "viz_rollout_create: task %d twice", tasks[i]);
        }
        VizTile *t = &r->tiles[i];
        t->task = tasks[i];
        int rc = env_create(&t->env, env_task_name(tasks[i]), env_cfg, err, err_sz);
        if (rc == 0) {
            rc = start_episode(r, t, 0, err, err_sz);
        }
        if (rc != 0) {
            viz_rollout_destroy(r);
            return rc;
        }
    }
    return 0;
}

void viz_rollout_destroy(VizRollout *r) {
    for (int i = 0; i < ENV_N_TASKS; i++) {
        env_destroy(r->tiles[i].env);
        r->tiles[i].env = NULL;
    }
}

// Prints the summary of tile t's finished episode.
static void print_episode(const VizTile *t, int truncated) {
    printf("episode task=%s goal=%d episode=%d steps=%d return=%.3f success=%d%s\n",
           env_task_name(t->task), t->goal, t->episode, t->step, t->ret, t->success,
           truncated == ENV_TRUNC_SIM ? " (cut short by a MuJoCo warning)" : "");
    fflush(stdout);
}

// Steps tile t with action a and starts its next episode when this one ends.
static int step_tile(VizRollout *r, VizTile *t, const float *a, char *err, size_t err_sz) {
    double act[ENV_ACT_DIM], obs[ENV_OBS_DIM_ONE_HOT], reward = 0.0;
    for (int j = 0; j < ENV_ACT_DIM; j++) {
        act[j] = (double)a[j];
    }
    int truncated = ENV_TRUNC_NONE;
    EnvInfo info;
    int rc = env_step(t->env, act, obs, &reward, &truncated, &info, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    for (int j = 0; j < ENV_OBS_DIM; j++) {
        t->obs[j] = (float)obs[j];
    }
    t->step++;
    t->reward = reward;
    t->ret += reward;
    t->success |= info.success >= 1.0;
    if (truncated == ENV_TRUNC_NONE) {
        return 0;
    }
    if (!r->quiet) {
        print_episode(t, truncated);
    }
    if (r->episodes > 0 && t->episode >= r->episodes) {
        t->finished = 1;
        return 0;
    }
    return start_episode(r, t, t->episode, err, err_sz);
}

int viz_rollout_step(VizRollout *r, char *err, size_t err_sz) {
    // one policy call for all tiles, finished or not, as rl_evaluate draws
    // actions for every env each step
    int tasks[ENV_N_TASKS];
    float obs[ENV_N_TASKS * ENV_OBS_DIM], actions[ENV_N_TASKS * ENV_ACT_DIM];
    for (int i = 0; i < r->n_tiles; i++) {
        tasks[i] = r->tiles[i].task;
        memcpy(obs + i * ENV_OBS_DIM, r->tiles[i].obs, sizeof r->tiles[i].obs);
    }
    viz_policy_act(r->policy, tasks, obs, r->n_tiles, actions);
    for (int i = 0; i < r->n_tiles; i++) {
        if (r->tiles[i].finished) {
            continue;
        }
        int rc = step_tile(r, &r->tiles[i], actions + i * ENV_ACT_DIM, err, err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int viz_rollout_finished(const VizRollout *r) {
    for (int i = 0; i < r->n_tiles; i++) {
        if (!r->tiles[i].finished) {
            return 0;
        }
    }
    return 1;
}

int viz_rollout_restart(VizRollout *r, int i, char *err, size_t err_sz) {
    ASSERT(i >= 0 && i < r->n_tiles, "viz_rollout_restart: tile %d", i);
    VizTile *t = &r->tiles[i];
    t->finished = 0;
    return start_episode(r, t, t->episode - 1, err, err_sz);
}

int viz_rollout_set_task(VizRollout *r, int i, int task, char *err, size_t err_sz) {
    ASSERT(i >= 0 && i < r->n_tiles, "viz_rollout_set_task: tile %d", i);
    for (int k = 0; k < r->n_tiles; k++) {
        if (k != i && r->tiles[k].task == task) {
            return err_set(err, err_sz, ERR_ARG, "task %s is already on tile %d",
                           env_task_name(task), k);
        }
    }
    EnvTask *env = NULL;
    int rc = env_create(&env, env_task_name(task), &r->env_cfg, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    VizTile *t = &r->tiles[i];
    env_destroy(t->env);
    t->env = env;
    t->task = task;
    t->finished = 0;
    return start_episode(r, t, 0, err, err_sz);
}
