// The policy a viewer plays: a trained SAC actor from a run, or uniform noise.
//
// Built on the public rl/ API only (rl_config_load, rl_sac_create,
// rl_sac_load). Actions follow rl_evaluate exactly, so a rollout in the
// viewer has the rewards `conal eval` reports for the same goal. The actor's
// input is K = ENV_N_TASKS task blocks of one row, rows of tasks not playing
// are zero, and the action is the deterministic mean tanh(mean). The random
// policy draws from one stream seeded with the run's seed, in the same order
// as rl_evaluate. This module does not step envs and does not draw.
#ifndef VIZ_POLICY_H
#define VIZ_POLICY_H

#include <stddef.h>

#include "common/rng.h"
#include "envs/env.h"
#include "rl/config.h"
#include "rl/sac.h"
#include "rl/train_conal.h"

typedef struct VizPolicy {
    RlConfig cfg;           // the run's config.json, or the defaults for --random
    RlSac *sac;             // NULL for the random policy
    RlConalRun conal;       // phase of a CoNAL run; cfg.conal_arch points into it
    RngState rng;           // random policy stream, seeded with cfg.seed
    long long train_step;   // training step of the checkpoint, -1 when unknown
    char source[1200];      // checkpoint path, or "random" for logs and overlays
} VizPolicy;

// Splits RUN_DIR or CHECKPOINT into the run's config.json and checkpoint
// file: a directory gives DIR/config.json and DIR/checkpoint.bin, a file
// gives the config.json beside it. Returns 0 or ERR_IO when arg does not
// exist.
int viz_locate_run(const char *arg, char *cfg_path, char *ckpt_path, size_t path_sz,
                   char *err, size_t err_sz);

// Loads the policy. With run != NULL, reads the run's config and the
// checkpoint. For a CoNAL run, the checkpoint's phase decides between the
// search supernet and the derived networks of RUN_DIR/arch.json. A
// checkpoint whose networks or task count differ from the config is
// ERR_MISMATCH, with a message naming both files. With random set,
// the policy acts uniformly in [-1, 1], and run may be NULL (default config,
// 150-step episodes) or name a run whose config (episode length, scenes) is
// used. The loaded VizPolicy must stay where it is, because cfg.conal_arch
// points into it. Returns 0 or a negative ErrCode with err filled.
int viz_policy_load(VizPolicy *p, const char *run, int random, char *err, size_t err_sz);

// Frees the agent; the struct can be loaded again.
void viz_policy_free(VizPolicy *p);

// Writes actions (n x ENV_ACT_DIM) for n envs, env i running MT10 task
// tasks[i] with observation obs (n x ENV_OBS_DIM). At most one env per task.
void viz_policy_act(VizPolicy *p, const int *tasks, const float *obs, int n, float *actions);

// Environment config of the run (scenes, episode length, goal seed).
void viz_env_config(const RlConfig *cfg, EnvConfig *ec);

#endif
