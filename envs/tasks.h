// The ten MT10 task definitions and the EnvTask state they act on.
//
// Internal to envs/: callers use envs/env.h. Each task supplies its scene
// file, hand start, random-vector box and observation bounds of the goal.
// It also supplies five functions. bind looks up its names in the model.
// place writes the model-side body positions for the current random vector,
// before mj_resetData. reset runs the rest of Meta-World's reset_model after
// the hand reset. object returns the object pose of the observation, and
// reward the reward and info.
#ifndef ENVS_TASKS_H
#define ENVS_TASKS_H

#include <stddef.h>

#include <mujoco/mujoco.h>

#include "common/rng.h"
#include "envs/env.h"

#define ENV_CUR_DIM 18            // the current-frame part of the observation

typedef struct EnvTaskDef EnvTaskDef;

struct EnvTask {
    const EnvTaskDef *def;
    int task;                      // MT10 index
    EnvConfig cfg;
    int obs_dim;                   // O
    char source[1100];             // "assets DIR" or "built-in"
    mjModel *m;                    // owned; model-side placement edits it
    mjData *d;                     // owned

    // ids shared by all tasks
    int body_hand, body_rightclaw, body_leftclaw, body_rightpad, body_leftpad;
    int site_right_ee, site_left_ee;
    int geom_leftpad, geom_rightpad;
    int site_goal;                 // -1 when the scene has no goal site
    int mocap;                     // mocap index of body "mocap"

    // task-specific ids; the comment of each task's bind function lists them
    int body[2];
    int site[6];
    int geom;
    int qpos_adr, qvel_adr;        // the task object's first joint

    // goals
    double goals[ENV_N_GOALS][ENV_RAND_DIM];
    int goal;                      // current goal, -1 before the first reset or after
                                   // env_reset_vector
    int started;                   // 1 once any reset has run
    int next_goal;                 // ENV_GOAL_NEXT picks this one

    // episode state
    int steps;
    int truncated;                 // ENV_TRUNC_* of the last step
    double rv[ENV_RAND_DIM];       // random vector of the current goal
    double target[3];              // _target_pos: the goal part of the observation
    double obj_init[3];            // obj_init_pos
    double init_tcp[3];            // TCP after the hand reset
    double aux[3];                 // peg head / window handle start position
    double aux_scalar;             // button: initial button-to-target distance
    double prev[ENV_CUR_DIM];      // previous current frame (frame stacking)
    double obs_lo[ENV_OBS_DIM];    // step observation clipping bounds
    double obs_hi[ENV_OBS_DIM];
    RngState rng;                  // ENV_GOAL_RANDOM draws

    // simulation trouble
    long n_warnings;               // MuJoCo warnings over the env's life
    long n_sim_truncations;        // episodes ended by them
    long warn_mark;                // warning total of d at the last check
};

struct EnvTaskDef {
    const char *name;              // "reach-v3"
    const char *xml;               // file name in sawyer_xyz/
    double hand_init[3];           // mocap target of the hand reset
    int rand_dim;                  // 3 or 6
    double rand_lo[ENV_RAND_DIM];
    double rand_hi[ENV_RAND_DIM];
    double min_xy_dist;            // goal rejection: redraw while |v[0:2]-v[3:5]| < this
    double goal_lo[3], goal_hi[3]; // observation bounds of the goal slot
    int (*bind)(EnvTask *env, char *err, size_t err_sz);
    void (*place)(EnvTask *env);
    void (*reset)(EnvTask *env);
    void (*object)(const EnvTask *env, double pos[3], double quat[4]);
    double (*reward)(const EnvTask *env, const double *obs, const double *action,
                     EnvInfo *info);
};

// Definition of MT10 task k (0..9).
const EnvTaskDef *env_task_def(int k);

// Looks up a named model object of type (mjOBJ_BODY, mjOBJ_SITE, ...).
// Returns its id, or -1 with an error naming the object and scene.
int env_task_lookup(const EnvTask *env, int type, const char *name, char *err,
                    size_t err_sz);

// TCP: the midpoint of the two end-effector sites (from the current data).
void env_task_tcp(const EnvTask *env, double tcp[3]);

#endif
