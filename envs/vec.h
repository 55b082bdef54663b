// A vector of MT10 envs stepped together on a fixed thread pool.
//
// The trainer's view of the environments: float observation and action
// buffers, one step call for all envs. The pool is created once; in each
// step the threads take envs one at a time. Every env owns its mjData and
// RNG, so results are bit-identical for any number of threads.
// The vector does not reset truncated envs itself: the caller reads the final
// observation (for the replay buffer) and then calls env_vec_reset.
//
// Shapes: N = number of envs, O = observation dim, A = ENV_ACT_DIM.
#ifndef ENVS_VEC_H
#define ENVS_VEC_H

#include <stddef.h>

#include "envs/env.h"

typedef struct EnvVec EnvVec;

// Creates N envs, env i running MT10 task tasks[i] (0..9; any subset and
// order, duplicates allowed), all with the same cfg (NULL for defaults), and
// a pool of n_threads >= 1 threads, capped at n_envs (1 runs everything on
// the caller's thread; env_vec_n_threads returns the count used). Returns 0,
// or a negative ErrCode with a message naming the env.
int env_vec_create(EnvVec **out, const int *tasks, int n_envs, const EnvConfig *cfg,
                   int n_threads, char *err, size_t err_sz);

// Stops the pool and frees all envs; NULL is a no-op.
void env_vec_destroy(EnvVec *vec);

int env_vec_n_envs(const EnvVec *vec);       // N
int env_vec_obs_dim(const EnvVec *vec);      // O
int env_vec_n_threads(const EnvVec *vec);

// Env i, still owned by the vector (for accessors and viewers).
EnvTask *env_vec_env(EnvVec *vec, int i);

// Resets every env to its next goal (ENV_GOAL_NEXT) in parallel and writes
// obs (N x O). Returns 0 or a negative ErrCode.
int env_vec_reset_all(EnvVec *vec, float *obs, char *err, size_t err_sz);

// Resets env i to goal (as env_reset) and writes its observation (O).
int env_vec_reset(EnvVec *vec, int i, int goal, float *obs, char *err, size_t err_sz);

// Steps all envs with actions (N x A) and writes next_obs (N x O), rewards
// (N), truncated (N, ENV_TRUNC_*) and infos (N; may be NULL). The actions are
// checked before any env moves: on a NaN/infinite action or an env already
// truncated, nothing is stepped and ERR_ARG names the first bad env and its
// step. Warning counts are per env (env_warning_count on env_vec_env).
int env_vec_step(EnvVec *vec, const float *actions, float *next_obs, float *rewards,
                 int *truncated, EnvInfo *infos, char *err, size_t err_sz);

#endif
