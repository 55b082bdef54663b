// One Meta-World MT10 task simulated with MuJoCo 2.2.2 (the v3 semantics).
//
// An EnvTask owns its mjModel, mjData and RNG, so tasks never share mutable
// state and can be stepped from different threads. The observation, action,
// reward, success rule and the 50 goal variations follow Meta-World v3 (the
// "v2" reward functions, the default of that release). This module does not
// render, does not pick goals at random unless asked, and does not reset
// itself: the caller resets after truncation.
//
// Shapes: O = observation dim (ENV_OBS_DIM, or ENV_OBS_DIM_ONE_HOT with the
// task one-hot), A = ENV_ACT_DIM.
#ifndef ENVS_ENV_H
#define ENVS_ENV_H

#include <stddef.h>
#include <stdint.h>

#include <mujoco/mujoco.h>

#include "common/error.h"

#define ENV_N_TASKS 10
#define ENV_OBS_DIM 39
#define ENV_OBS_DIM_ONE_HOT 49     // ENV_OBS_DIM + ENV_N_TASKS
#define ENV_ACT_DIM 4
#define ENV_N_GOALS 50
#define ENV_RAND_DIM 6             // maximum random-vector length (object + goal)
#define ENV_MAX_STEPS_DEFAULT 500
#define ENV_TORQUESCALE_DEFAULT 5.0

// Goal arguments of env_reset besides 0..ENV_N_GOALS-1.
#define ENV_GOAL_NEXT (-1)         // the goal after the previous one, starting at 0
#define ENV_GOAL_RANDOM (-2)       // uniform over the 50, from the env's own RNG

// Values written to *truncated by env_step.
#define ENV_TRUNC_NONE 0
#define ENV_TRUNC_TIME 1           // the episode reached max_steps
#define ENV_TRUNC_SIM 2            // MuJoCo raised a warning; the state is not trusted
#define ENV_NOT_STARTED (-1)       // env_truncated before the first reset

typedef struct EnvTask EnvTask;

typedef struct EnvConfig {
    char assets[1024];   // Meta-World asset folder holding sawyer_xyz/; "" = built-in scenes
    int max_steps;       // episode length; 500 (Meta-World v3) or 150 (mtrl protocol)
    uint64_t seed;       // benchmark seed (fixes the 50 goals), also seeds the env RNG;
                         // must be < 2^32 like numpy's legacy seed
    double torquescale;  // torquescale of the mocap weld; 5 = v3, 1 = MuJoCo-2.x era
    int one_hot;         // 1: append the task one-hot (observation dim 49)
} EnvConfig;

// Per-step diagnostics, named as Meta-World's info dict. After env_reset all
// fields are 0. Several fields are distances or rewards rather than flags;
// their meaning is task specific (see the task functions in envs/tasks.c).
typedef struct EnvInfo {
    double success;          // 1 when the task's success rule is met at this step
    double near_object;
    double grasp_success;
    double grasp_reward;
    double in_place_reward;
    double obj_to_target;
    double unscaled_reward;  // equals the returned reward
} EnvInfo;

// Fills cfg with the defaults: built-in scenes, 500 steps, seed 0,
// torquescale 5, no one-hot.
void env_config_defaults(EnvConfig *cfg);

// MT10 index of a task name ("reach-v3" -> 0), or -1 when unknown.
int env_task_index(const char *name);

// Name of MT10 task i (0..9), or NULL when out of range.
const char *env_task_name(int i);

// Creates one task: loads its scene (cfg->assets or the built-in scene),
// re-initialises the mocap weld, computes the task's 50 goals from cfg->seed.
// The env needs env_reset before the first env_step. cfg may be NULL for the
// defaults. Returns 0, or a negative ErrCode with a message in err naming the
// bad value (unknown task, missing asset file, invalid config field).
int env_create(EnvTask **out, const char *task, const EnvConfig *cfg,
               char *err, size_t err_sz);

// Frees the env; NULL is a no-op.
void env_destroy(EnvTask *env);

// Starts an episode on goal `goal` (0..49, ENV_GOAL_NEXT or ENV_GOAL_RANDOM)
// and writes the (unclipped) reset observation to obs (O). Costs 250 physics
// substeps. Returns 0, or ERR_ARG for a goal out of range.
int env_reset(EnvTask *env, int goal, double *obs, char *err, size_t err_sz);

// Starts an episode on an explicit random vector instead of one of the 50
// goals, for tests and tools. rand_vec holds the task's object and goal
// placement: 6 entries for reach, push, pick-place and peg-insert-side, 3
// for the others (env_goal_vector returns the length). env_goal_index then
// returns -1. Returns ERR_ARG for a non-finite entry.
int env_reset_vector(EnvTask *env, const double *rand_vec, double *obs, char *err,
                     size_t err_sz);

// Applies action (A) and simulates one control step (5 substeps, 12.5 ms).
// Entries 0..2, clipped to [-1, 1], move the mocap by up to 1 cm each; entry
// 3 closes (+1) or opens (-1) the gripper. Writes obs (O, clipped), reward
// (0..10), *truncated (ENV_TRUNC_*) and info (may be NULL). A MuJoCo warning during the step
// gives ENV_TRUNC_SIM, reward 0 and a counted warning; it is not an error.
// Returns ERR_ARG for a NaN or infinite action, a step after truncation or
// before the first reset; the message names the task and the step.
int env_step(EnvTask *env, const double *action, double *obs, double *reward,
             int *truncated, EnvInfo *info, char *err, size_t err_sz);

int env_obs_dim(const EnvTask *env);          // O
int env_task_id(const EnvTask *env);          // MT10 index 0..9
int env_goal_index(const EnvTask *env);       // goal of the current episode, -1 before reset
int env_step_count(const EnvTask *env);       // steps taken in the current episode
int env_max_steps(const EnvTask *env);

// ENV_TRUNC_* of the last step (ENV_TRUNC_NONE right after a reset), or
// ENV_NOT_STARTED before the first reset. Stepping needs ENV_TRUNC_NONE.
int env_truncated(const EnvTask *env);

// Writes the task's random vector for goal (0..49) to rand_vec (ENV_RAND_DIM;
// unused tail entries are 0) and returns its length, or -1 for a bad goal.
int env_goal_vector(const EnvTask *env, int goal, double *rand_vec);

// Total MuJoCo warnings seen (all types, all episodes) and the number of
// episodes they ended (ENV_TRUNC_SIM).
long env_warning_count(const EnvTask *env);
long env_sim_truncations(const EnvTask *env);

// "assets DIR" or "built-in": where the scene came from, for logs.
const char *env_scene_source(const EnvTask *env);

// The task's Meta-World scene file name, e.g. "sawyer_drawer.xml".
const char *env_scene_file(const EnvTask *env);

// Model and data for viewers and tests. The env keeps ownership; a caller that
// writes to the data must reset the env before stepping it again.
const mjModel *env_model(const EnvTask *env);
mjData *env_data(EnvTask *env);

#endif
