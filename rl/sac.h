// Multi-task Soft Actor-Critic on task-blocked batches.
//
// Dimension letters: K tasks, B rows per task block, O observation, A action.
// One actor (a tanh-squashed Gaussian, nn/loss.h) and twin critics with
// Polyak targets, all RlNets (rl/net.h), and one learned log temperature per
// task. Every loss is a per-task mean over the task's block; the objective is
// the sum over tasks. One update (Haarnoja et al. 2018, "Soft Actor-Critic
// Algorithms and Applications"; the order follows mtrl):
//   y     = r + gamma * (min_i Q_i'(s', a') - temp_t * logp(a'|s')),  a' ~ pi(s')
//   L_Q   = sum_t mean_t (Q_i(s, a) - y)^2                  for each critic i
//   L_pi  = sum_t mean_t (temp_t * logp(a~|s) - min_i Q_i(s, a~)), with the updated critics
//   L_tmp = sum_t -log_temp_t * mean_t (logp(a~|s) + target_entropy)
// then Polyak averaging of the targets. Truncation is not terminal, so y
// always bootstraps.
#ifndef RL_SAC_H
#define RL_SAC_H

#include <stddef.h>

#include "common/rng.h"
#include "common/team.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "nn/params.h"
#include "rl/config.h"
#include "rl/net.h"
#include "rl/replay.h"

// Per-task results of the last update.
typedef struct RlSacStats {
    float q1_loss[RL_NET_MAX_TASKS];
    float q2_loss[RL_NET_MAX_TASKS];
    float actor_loss[RL_NET_MAX_TASKS];
    float temp_loss[RL_NET_MAX_TASKS];
    float temp_grad[RL_NET_MAX_TASKS]; // d temperature loss / d log_temp
    float entropy[RL_NET_MAX_TASKS];   // -mean logp of the actor's fresh actions
    float q_mean[RL_NET_MAX_TASKS];    // mean Q1 on the batch
} RlSacStats;

typedef struct RlSac {
    int n_tasks, n_obs, n_act;      // K, O, A
    int max_block;                  // largest B
    RlNet *actor;                   // outputs (mean, raw log-std): 2A
    RlNet *q1, *q2;                 // output 1, with targets
    NnTanhGaussian policy;
    float *log_temp;                // (K) log temperatures
    float *log_temp_m, *log_temp_v; // (K) Adam moments of log_temp
    long temp_step;                 // Adam steps of log_temp
    NnAdamConfig actor_adam, critic_adam, temp_adam;
    float gamma, tau, target_entropy;
    double grad_clip;
    int target_update_interval, actor_update_interval;
    long n_updates;                 // updates done
    RngState rng;                   // policy noise of updates
    RlSacStats stats;

    // workspaces for K * max_block rows
    float *x_actor;                 // (K*B x actor input)
    float *x_critic;                // (K*B x critic input)
    float *features;                // (K*B x (O + A))
    float *eps_next, *eps_pi;       // (K*B x A) noise of the target and actor actions
    NnTanhGaussianCache cache;      // (K*B x A) each
    float *logp;                    // (K*B)
    float *y;                       // (K*B) critic targets
    float *dq1, *dq2;               // (K*B)
    float *dx1, *dx2;               // (K*B x critic input)
    float *daction;                 // (K*B x A)
    float *dlogp;                   // (K*B)
    float *dhead;                   // (K*B x 2A)
} RlSac;

// Builds actor and critics for cfg (method, widths, optimiser, SAC
// constants), initialising weights from init_rng and seeding the update
// noise from noise_seed. Returns NULL and fills err on failure.
RlSac *rl_sac_create(const RlConfig *cfg, int n_tasks, int n_obs, int n_act,
                     RngState *init_rng, uint64_t noise_seed, char *err, size_t err_sz);
void rl_sac_destroy(RlSac *sac);

// One update on a batch, drawing the noise from sac->rng. When
// want_task_grads is set, the shared layers' per-task gradients of the
// critic Q1 and the actor are kept for rl_net_conflict_ratio.
void rl_sac_update(RlSac *sac, const RlBatch *batch, int want_task_grads);

// The same update with caller-supplied standard normal noise for the target
// actions (eps_next) and the actor's actions (eps_pi), each (K*B x A). Used by
// tests that compare against a reference implementation.
void rl_sac_update_with_noise(RlSac *sac, const RlBatch *batch, const float *eps_next,
                              const float *eps_pi, int want_task_grads);

// Actions (K*B x A) for observations (K*B x O): the mean action tanh(mean)
// when deterministic, otherwise a sample with noise from rng.
void rl_sac_act(RlSac *sac, const float *obs, int B, int deterministic, RngState *rng,
                float *actions);

// Pieces of the update shared with the CoNAL search step (rl/sac_conal.c).
// rl_sac_twin_run calls fn(ctx, 0) for Q1 and fn(ctx, 1) for Q2, side by
// side when nn_threads() is two or more.
RlNet *rl_sac_critic(RlSac *sac, int i);
void rl_sac_twin_run(TeamFn fn, void *ctx);
// Both critics on sac->x_critic; *q1 and *q2 point at their outputs.
void rl_sac_twin_forward(RlSac *sac, int B, RlNetWeights which, const float **q1,
                         const float **q2);
// daction = d/d action of the critics' last forward, with the output
// gradients in dq1 and dq2 (input gradients only, no parameter gradients).
void rl_sac_twin_action_grad(RlSac *sac, int B);

// Temperature of task t.
float rl_sac_temperature(const RlSac *sac, int t);

// Checkpoint sections: the three networks, temperatures and their Adam
// state, counters and the noise RNG.
int rl_sac_save(const RlSac *sac, NnCkptWriter *w, char *err, size_t err_sz);
int rl_sac_load(RlSac *sac, const NnCkpt *ck, char *err, size_t err_sz);

// Bytes of networks, optimiser state and workspaces, for the memory estimate.
size_t rl_sac_estimate_bytes(const RlConfig *cfg, int n_tasks, int n_obs, int n_act);

// Network specs derived from the config (shared with benchmarks and tests).
void rl_sac_actor_spec(const RlConfig *cfg, int n_tasks, int n_obs, int n_act,
                       RlNetSpec *spec);
void rl_sac_critic_spec(const RlConfig *cfg, int n_tasks, int n_obs, int n_act,
                        RlNetSpec *spec);

#endif
