// The multi-task SAC training loop, evaluation and run directories.
//
// Dimension letters: K tasks (the ten MT10 tasks), O observation, A action.
// A run directory contains config.json (fully resolved), metrics.jsonl (one
// record per log interval), eval.jsonl (one record per evaluation),
// checkpoint.bin (latest, everything needed to resume), best.bin (the agent
// at the best mean evaluation success so far, without replay buffers) and
// summary.json once the run finishes.
//
// Resume is exact: checkpoints are taken only when every env is at an
// episode boundary (all envs run episodes of env.episode_length steps in
// lockstep, and an env cut short by a simulation warning is reset and then
// restarted with the others at the boundary). At a boundary the next step
// resets every env to its next goal, so the env state is the goal index
// alone, which the checkpoint stores with the networks, optimiser state,
// temperatures, replay buffers, RNG states and counters. An interrupt
// (SIGINT, SIGTERM) finishes the current episode, at most
// env.episode_length - 1 steps, then saves and stops. The one checkpoint
// that can fall mid-episode is the final one of a run whose train.steps is
// not a multiple of the episode length; such a run cannot be extended. A
// run stopped before its first checkpoint resumes from step 0 with its
// saved config.json. A run without checkpoint.bin but with records past its
// first checkpoint step (the file was removed) is rejected, and its records
// and best.bin stay as they are.
#ifndef RL_TRAIN_H
#define RL_TRAIN_H

#include <stddef.h>

#include "rl/config.h"
#include "rl/sac.h"

#define RL_MAX_SETS 64

// Command-line options of `conal train`.
typedef struct RlTrainOptions {
    const char *config_path;          // CONFIG.json, or NULL with resume
    const char *out_dir;              // run directory, or NULL for the default
    const char *arch_path;            // --arch: retrain this arch.json without a search
    long long seed;                   // -1: from the config
    long long steps;                  // -1: from the config
    int threads;                      // env and BLAS threads, >= 1
    const char *sets[RL_MAX_SETS];    // "key=value" overrides, in order
    int n_sets;
    int resume;
    int estimate;                     // measure a few hundred steps, print a projection
    int quiet;                        // warnings and errors only
} RlTrainOptions;

// Runs `conal train`: resolves the config, checks it fits in memory, creates
// or resumes the run directory and trains. Returns 0 when the run finished,
// 130 when it stopped on an interrupt after saving, or a negative ErrCode
// with err filled.
int rl_train_main(const RlTrainOptions *opt, char *err, size_t err_sz);

// Evaluation results per task (indexed by MT10 task id).
typedef struct RlEvalResult {
    int n_tasks;                       // tasks evaluated
    int tasks[RL_NET_MAX_TASKS];       // their MT10 ids
    double success[RL_NET_MAX_TASKS];  // share of episodes with success at any step
    double ret[RL_NET_MAX_TASKS];      // mean undiscounted return
    double mean_success;               // mean over the evaluated tasks
    int episodes;                      // per task
} RlEvalResult;

// Options of one evaluation.
typedef struct RlEvalOptions {
    int tasks[RL_NET_MAX_TASKS];   // MT10 ids to evaluate
    int n_tasks;
    int goal;                      // 0..49, or -1 to spread episodes over the 50 goals
    int episodes;                  // per task
    int threads;
    int random;                    // 1: uniform random actions instead of sac
    uint64_t seed;                 // seed of the random policy
} RlEvalOptions;

// Runs deterministic episodes (mean action) of sac, or of the uniform random
// policy, on fresh envs built from cfg. Episode e of n uses goal e * 50 / n
// unless a goal is fixed. Returns 0 or a negative ErrCode.
int rl_evaluate(const RlConfig *cfg, RlSac *sac, const RlEvalOptions *opt,
                RlEvalResult *res, char *err, size_t err_sz);

// Parameter counts of an agent's networks. The target critics are copies of
// q1 and q2 and are not counted.
typedef struct RlParamCounts {
    size_t actor, q1, q2;
    size_t total;                      // actor + q1 + q2
} RlParamCounts;

// Counts the parameters of sac's networks.
void rl_train_count_params(const RlSac *sac, RlParamCounts *out);

// Counts the parameters of the networks of the run in run_dir from its
// config.json, for runs whose summary.json has no n_params. A CoNAL run
// with run_dir/arch.json counts its derived networks, one without (a search
// that did not finish) its search supernets. Creates each network for the
// MT10 sizes in turn and frees it. Returns 0, or a negative ErrCode with err
// filled when config.json or arch.json cannot be read or the networks
// cannot be created.
int rl_train_count_run_params(const char *run_dir, RlParamCounts *out, char *err,
                              size_t err_sz);

// Total bytes a run of cfg allocates (replay buffers and networks).
size_t rl_train_estimate_bytes(const RlConfig *cfg);

// Sets OpenBLAS's thread count.
void rl_set_blas_threads(int n);

#endif
