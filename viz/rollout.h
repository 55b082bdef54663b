// Episodes the viewer plays: one env per tile, stepped together by a policy.
//
// Tile i runs MT10 task tasks[i]; at most one tile per task, because the
// actor takes one row per task block (viz/policy.h). Every unfinished tile
// steps once per viz_rollout_step with actions from one policy call, as
// rl_evaluate does, so the rewards and success match `conal eval` on the
// same goal. A finished episode prints one summary line on stdout and the
// tile moves on to its next goal. This module does no drawing.
#ifndef VIZ_ROLLOUT_H
#define VIZ_ROLLOUT_H

#include <stddef.h>

#include "envs/env.h"
#include "viz/policy.h"

// Goal argument of viz_rollout_create: spread episodes over the 50 goals as
// rl_evaluate does (episode e of N uses goal e * 50 / N; with unlimited
// episodes, goal e mod 50).
#define VIZ_GOAL_SPREAD (-1)

// One tile's env and the statistics of its current episode.
typedef struct VizTile {
    int task;                // MT10 index
    EnvTask *env;
    int goal;                // goal of the current episode
    int episode;             // episodes started, counting the current one
    int step;                // steps taken in the current episode
    double reward;           // reward of the last step
    double ret;              // undiscounted return of the current episode
    int success;             // 1 once the success rule held in this episode
    int finished;            // 1 after the last requested episode ended
    float obs[ENV_OBS_DIM];  // current observation
} VizTile;

typedef struct VizRollout {
    VizPolicy *policy;       // borrowed
    EnvConfig env_cfg;
    int goal;                // 0..49 or VIZ_GOAL_SPREAD
    int episodes;            // per tile; 0 = unlimited
    int quiet;               // 1: no summary lines
    int n_tiles;
    VizTile tiles[ENV_N_TASKS];
} VizRollout;

// Creates one env per task (n in 1..ENV_N_TASKS, distinct tasks) from the
// policy's config and starts the first episode of each. Returns 0 or a
// negative ErrCode with err filled; on failure nothing stays allocated.
int viz_rollout_create(VizRollout *r, VizPolicy *policy, const EnvConfig *env_cfg,
                       const int *tasks, int n, int goal, int episodes, char *err,
                       size_t err_sz);

// Frees the envs; safe on a zeroed or failed rollout.
void viz_rollout_destroy(VizRollout *r);

// Steps every unfinished tile once. Returns 0 or a negative ErrCode.
int viz_rollout_step(VizRollout *r, char *err, size_t err_sz);

// 1 when every tile has played its requested episodes.
int viz_rollout_finished(const VizRollout *r);

// Restarts tile i's current episode on the same goal.
int viz_rollout_restart(VizRollout *r, int i, char *err, size_t err_sz);

// Switches tile i to MT10 task `task` (a new env, episode count from 0).
// The old env stays in place when the new one cannot be created.
int viz_rollout_set_task(VizRollout *r, int i, int task, char *err, size_t err_sz);

#endif
