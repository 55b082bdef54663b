// The CoNAL phases of `conal train`: search, derive, retrain.
//
// Dimension letters: K tasks, B rows per task block.
// A CoNAL run (agent.method conal, conal-pcgrad or conal-cagrad) first
// searches for search.steps steps: each update takes one Adam step on the
// architecture weights alpha from a second (validation) batch, then the usual
// SAC step on the weights with conflict noticing. At step search.steps, an
// episode boundary, it derives each network's branch points (actor, q1, q2;
// the target critics mirror their online critic), writes RUN_DIR/arch.json,
// and retrains the derived networks for retrain.steps steps from fresh
// weights with empty replay buffers. Both phases count in the run's step
// count, so train.steps = search.steps + retrain.steps. A run with
// search.steps 0 (`conal train --arch FILE`) retrains a given architecture.
//
// The trainer (rl/train.c) owns the agent and the replay buffers and calls
// the hooks below. This file does not step envs, write files other than
// arch.json, or evaluate.
#ifndef RL_TRAIN_CONAL_H
#define RL_TRAIN_CONAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "conal/arch.h"
#include "nn/checkpoint.h"
#include "nn/params.h"
#include "rl/config.h"
#include "rl/replay.h"
#include "rl/sac.h"

// Phase state of one run, all zero (inactive) for methods other than CoNAL.
typedef struct RlConalRun {
    int active;                 // 1 for CoNAL methods
    int retraining;             // 0 while searching, 1 once the architecture is derived
    long long search_steps;     // step at which the search ends
    ConalArch arch;             // the derived architecture while retraining
    RlBatch val;                // (K*B rows) validation batch of the search
    NnAdamConfig arch_adam;     // Adam settings of alpha
} RlConalRun;

// Prepares the phase state of cfg's run in dir. For a run without a search
// (search.steps 0) it loads the architecture from arch_path, or from
// dir/arch.json when arch_path is NULL (a resumed run), and points
// cfg->conal_arch at it. Returns 0, or ERR_ARG / ERR_IO / ERR_FORMAT /
// ERR_NOMEM with err filled (e.g. --arch with a method other than CoNAL).
int rl_conal_run_init(RlConalRun *run, RlConfig *cfg, const char *dir, const char *arch_path,
                      char *err, size_t err_sz);

// Writes dir/arch.json for a new run that retrains from the start (--arch),
// so the run directory records its architecture. A no-op for other runs.
// Returns 0 or ERR_IO.
int rl_conal_run_write_arch(const RlConalRun *run, const char *dir, char *err, size_t err_sz);

// Frees the validation batch. An inactive run is a no-op.
void rl_conal_run_deinit(RlConalRun *run);

// First step of the current phase: search.steps while retraining, else 0.
// Random actions and the start of updates count from here.
int64_t rl_conal_run_phase_start(const RlConalRun *run);

// Search only: samples the validation batch from replay with rng and takes
// one Adam step on every network's alpha (rl_sac_conal_arch_update). A no-op
// while retraining or when inactive.
void rl_conal_run_arch_update(RlConalRun *run, RlSac *sac, const RlReplay *replay,
                              RngState *rng);

// 1 when a searching run has reached search.steps and must switch.
int rl_conal_run_switch_due(const RlConalRun *run, int64_t step);

// Ends the search: derives the architecture of *sac, writes dir/arch.json,
// replaces *sac by the derived networks with fresh weights (seeded from
// cfg->seed, so a resumed run gets the same ones) and empties replay.
// Returns 0 or a negative ErrCode. *sac is unchanged when arch.json or the
// new agent fails; replay may be left empty when its new buffers fail.
int rl_conal_run_switch(RlConalRun *run, RlConfig *cfg, const char *dir, RlSac **sac,
                        RlReplay *replay, char *err, size_t err_sz);

// Writes the checkpoint section "conal.phase" (phase and search.steps).
int rl_conal_run_save(const RlConalRun *run, NnCkptWriter *w, char *err, size_t err_sz);

// Reads "conal.phase" from ck before the agent is loaded. When ck was taken
// while retraining and *sac is still the search supernet, loads dir/arch.json
// and replaces *sac by the derived networks, so rl_sac_load fits. Returns 0,
// or ERR_FORMAT when ck does not fit the run (other search.steps, a search
// checkpoint for a run without search).
int rl_conal_run_resume(RlConalRun *run, RlConfig *cfg, const NnCkpt *ck, const char *dir,
                        RlSac **sac, char *err, size_t err_sz);

// For programs that load an agent from a checkpoint (conal eval, the viewer),
// before rl_sac_create: loads run_dir/arch.json into arch and points
// cfg->conal_arch at it when ck was taken while retraining. Leaves cfg alone
// for a search checkpoint or a method other than CoNAL. Returns 0, or
// ERR_FORMAT / ERR_IO with err filled.
int rl_conal_arch_for_checkpoint(RlConfig *cfg, const NnCkpt *ck, const char *run_dir,
                                 ConalArch *arch, char *err, size_t err_sz);

// Adds the CoNAL fields of a metrics record to o: "conal_phase", per network
// "stop_count" of every shared module (updates skipped by conflict noticing)
// and "branch_weights", softmax(alpha_t) per task (K x P).
void rl_conal_run_metrics(const RlConalRun *run, const RlSac *sac, cJSON *o);

#endif
