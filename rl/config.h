// The trainer's configuration: one struct, its JSON schema and its checks.
//
// Every JSON key of a run config maps to one field below through the CfgField
// table in config.c; rl_config_defaults sets every default. A "step" steps
// all K envs once, so train.steps and every interval count such steps (2M
// steps = 2M transitions per task).
#ifndef RL_CONFIG_H
#define RL_CONFIG_H

#include <stddef.h>

#include "common/cfg.h"
#include "conal/arch.h"

#define RL_MAX_HIDDEN 6

typedef struct RlConfig {
    long long seed;                 // seeds networks, replay sampling, noise and envs

    // env
    int episode_length;             // steps per episode (150 in the mtrl protocol)
    char assets[1024];              // Meta-World asset folder; "" = built-in scenes
    double torquescale;             // mocap weld torquescale (5 = Meta-World v3)
    long long benchmark_seed;       // fixes the 50 goal variations of every task

    // agent
    char method[16];                // stl mtsac mhsac pcgrad cagrad conal ...
    int actor_hidden[RL_MAX_HIDDEN];
    int n_actor_hidden;
    int critic_hidden[RL_MAX_HIDDEN];
    int n_critic_hidden;
    char activation[8];             // hidden activation: relu or tanh
    double log_std_min;             // actor log-std bounds
    double log_std_max;
    double gamma;                   // discount
    double tau;                     // Polyak rate of the target critics
    double init_temperature;        // initial temperature of every task
    double target_entropy;          // per task; -|A| = -4 by default
    double actor_lr, critic_lr, temp_lr;
    double adam_beta1, adam_beta2, adam_eps;
    double grad_clip;               // global L2 norm per network; 0 disables
    double cagrad_c;                // CAGrad radius c (method cagrad)
    int cagrad_iters;               // CAGrad SGD steps on its dual problem
    double cagrad_lr;               // CAGrad SGD learning rate on the dual's logits
    int target_update_interval;     // updates between Polyak steps
    int actor_update_interval;      // updates between actor and temperature steps

    // CoNAL methods (conal, conal-pcgrad, conal-cagrad)
    char conal_specific[16];        // purely or partially (ablation) specific modules
    int conal_conflict_noticing;    // search: skip shared-module steps on conflict
    int conal_random_loss_weights;  // retrain: w_t ~ U[0,1] normalised; 0 uses 1/K
    long long search_steps;         // steps of the search phase; 0 retrains --arch
    double search_arch_lr;          // Adam learning rate of the architecture weights
    long long retrain_steps;        // steps of the retrain phase
    const ConalArch *conal_arch;    // not in JSON; borrowed: set by the trainer while
                                    // retraining, NULL while searching

    // train
    long long steps;                // total steps
    int batch_size;                 // B: rows per task in a training batch
    long long random_steps;         // uniform random actions before the policy acts
    int updates_per_step;           // gradient updates per step once training started
    long long replay_capacity;      // transitions per task
    long long log_interval;         // steps between progress lines and metrics records
    int conflict_interval;          // updates between conflict-ratio measurements
    long long eval_interval;        // steps between evaluations (0: only at the end)
    int eval_episodes;              // deterministic episodes per task per evaluation
    long long checkpoint_interval;  // steps between checkpoints (0: only at the end)
} RlConfig;

// Fills cfg with the mtrl-protocol defaults.
void rl_config_defaults(RlConfig *cfg);

// The field table (JSON path -> member, type, range, help).
const CfgSchema *rl_config_schema(void);

// Checks rules that span fields (intervals against the episode length,
// method known and built, ...). Appends one line per problem to err and
// returns 0 or ERR_CONFIG.
int rl_config_check(const RlConfig *cfg, char *err, size_t err_sz);

// Checks that the run length (train.steps, or retrain.steps of a CoNAL
// config) is a multiple of env.episode_length. from_flag names --steps as
// the source of the value in the message. Separate from rl_config_check, because runs saved
// before this check may end mid-episode and must still load for eval.
int rl_config_check_steps(const RlConfig *cfg, int from_flag, char *err, size_t err_sz);

// 1 when cfg->method is conal, conal-pcgrad or conal-cagrad.
int rl_config_is_conal(const RlConfig *cfg);

// Sets the run length from --steps: retrain.steps for CoNAL methods (then
// train.steps = search.steps + retrain.steps), train.steps otherwise.
void rl_config_set_steps(RlConfig *cfg, long long steps);

// Loads path onto the defaults and applies the "key=value" overrides in
// order, then checks. Returns 0, or ERR_IO / ERR_CONFIG with every problem in
// err.
int rl_config_load(RlConfig *cfg, const char *path, const char *const *sets, int n_sets,
                   char *err, size_t err_sz);

#endif
