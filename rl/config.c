// Trainer config: defaults, the JSON field table and cross-field checks.
#include "rl/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "rl/net.h"

static const char *const activation_names[] = {"relu", "tanh", NULL};
static const char *const specific_names[] = {"purely", "partially", NULL};

#define BIG 1e15

static const CfgField fields[] = {
    CFG_F_INT64("seed", RlConfig, seed, 0, 4294967295.0,
                "seed of networks, replay sampling, exploration noise and envs"),

    CFG_F_INT("env.episode_length", RlConfig, episode_length, 1, 100000,
              "steps per episode; the episode is truncated, not terminated, at this limit"),
    CFG_F_INT64("env.benchmark_seed", RlConfig, benchmark_seed, 0, 4294967295.0,
                "seed of the 50 goal variations per task; keep it fixed to compare runs"),
    CFG_F_STRING("env.assets", RlConfig, assets,
                 "Meta-World asset folder holding sawyer_xyz/; empty for the built-in scenes"),
    CFG_F_DOUBLE("env.torquescale", RlConfig, torquescale, 0.0, 1000.0,
                 "torquescale of the mocap weld (5 = Meta-World v3, 1 = MuJoCo 2.x era)"),

    CFG_F_ENUM("agent.method", RlConfig, method, rl_method_names,
               "architecture: stl, mtsac, mhsac, pcgrad, cagrad, conal, conal-pcgrad, "
               "conal-cagrad"),
    CFG_F_INT_LIST("agent.actor.hidden", RlConfig, actor_hidden, n_actor_hidden, 1, 65536,
                   "hidden layer widths of the actor"),
    CFG_F_INT_LIST("agent.critic.hidden", RlConfig, critic_hidden, n_critic_hidden, 1, 65536,
                   "hidden layer widths of each critic"),
    CFG_F_ENUM("agent.activation", RlConfig, activation, activation_names,
               "hidden activation: relu or tanh"),
    CFG_F_DOUBLE("agent.actor.log_std_min", RlConfig, log_std_min, -100.0, 100.0,
                 "lower bound of the actor's log standard deviation"),
    CFG_F_DOUBLE("agent.actor.log_std_max", RlConfig, log_std_max, -100.0, 100.0,
                 "upper bound of the actor's log standard deviation"),
    CFG_F_DOUBLE("agent.gamma", RlConfig, gamma, 0.0, 1.0, "discount factor"),
    CFG_F_DOUBLE("agent.tau", RlConfig, tau, 0.0, 1.0,
                 "Polyak rate of the target critics (target += tau * (online - target))"),
    CFG_F_DOUBLE("agent.init_temperature", RlConfig, init_temperature, 1e-12, 1e6,
                 "initial entropy temperature of every task"),
    CFG_F_DOUBLE("agent.target_entropy", RlConfig, target_entropy, -1e6, 1e6,
                 "target entropy per task; -|A| = -4 for Meta-World"),
    CFG_F_DOUBLE("agent.actor_lr", RlConfig, actor_lr, 0.0, 10.0, "Adam learning rate of the actor"),
    CFG_F_DOUBLE("agent.critic_lr", RlConfig, critic_lr, 0.0, 10.0,
                 "Adam learning rate of the critics"),
    CFG_F_DOUBLE("agent.temp_lr", RlConfig, temp_lr, 0.0, 10.0,
                 "Adam learning rate of the log temperatures"),
    CFG_F_DOUBLE("agent.adam_beta1", RlConfig, adam_beta1, 0.0, 0.999999, "Adam beta1"),
    CFG_F_DOUBLE("agent.adam_beta2", RlConfig, adam_beta2, 0.0, 0.999999999, "Adam beta2"),
    CFG_F_DOUBLE("agent.adam_eps", RlConfig, adam_eps, 1e-30, 1.0, "Adam epsilon"),
    CFG_F_DOUBLE("agent.grad_clip", RlConfig, grad_clip, 0.0, 1e12,
                 "maximum global gradient L2 norm per network; 0 disables clipping"),
    CFG_F_DOUBLE("agent.cagrad.c", RlConfig, cagrad_c, 0.0, 100.0,
                 "CAGrad: radius of the ball around the mean gradient, relative to its norm"),
    CFG_F_INT("agent.cagrad.iters", RlConfig, cagrad_iters, 0, 100000,
              "CAGrad: SGD steps on the dual problem over the simplex"),
    CFG_F_DOUBLE("agent.cagrad.lr", RlConfig, cagrad_lr, 1e-9, 1e9,
                 "CAGrad: SGD learning rate on the softmax logits of the dual weights"),
    CFG_F_INT("agent.target_update_interval", RlConfig, target_update_interval, 1, 1000000,
              "updates between Polyak steps of the target critics"),
    CFG_F_INT("agent.actor_update_interval", RlConfig, actor_update_interval, 1, 1000000,
              "updates between actor and temperature steps"),

    CFG_F_ENUM("agent.conal.specific", RlConfig, conal_specific, specific_names,
               "CoNAL specific modules: purely (one chain per task) or partially (one "
               "chain per branch point, an ablation)"),
    CFG_F_BOOL("agent.conal.conflict_noticing", RlConfig, conal_conflict_noticing,
               "CoNAL search: skip a shared module's step when task gradients conflict"),
    CFG_F_BOOL("agent.conal.random_loss_weights", RlConfig, conal_random_loss_weights,
               "CoNAL retrain: draw task loss weights from U[0,1], normalised, every update; "
               "false weighs every task 1/K"),
    CFG_F_INT64("search.steps", RlConfig, search_steps, 0, BIG,
                "CoNAL: steps of the architecture search, a multiple of env.episode_length"),
    CFG_F_DOUBLE("search.arch_lr", RlConfig, search_arch_lr, 0.0, 10.0,
                 "CoNAL: Adam learning rate of the architecture weights alpha"),
    CFG_F_INT64("retrain.steps", RlConfig, retrain_steps, 1, BIG,
                "CoNAL: steps of retraining the derived network from fresh weights"),

    CFG_F_INT64("train.steps", RlConfig, steps, 1, BIG,
                "total steps; one step steps every task's env once (CoNAL methods: set to "
                "search.steps + retrain.steps)"),
    CFG_F_INT("train.batch_size", RlConfig, batch_size, 1, 1000000,
              "rows per task in a training batch (the batch has K blocks of this many rows)"),
    CFG_F_INT64("train.random_steps", RlConfig, random_steps, 0, BIG,
                "steps with uniformly random actions before the policy acts and updates start"),
    CFG_F_INT("train.updates_per_step", RlConfig, updates_per_step, 0, 1000,
              "gradient updates per step once updates have started"),
    CFG_F_INT64("train.replay_capacity", RlConfig, replay_capacity, 1, BIG,
                "replay buffer capacity per task, in transitions"),
    CFG_F_INT64("train.log_interval", RlConfig, log_interval, 1, BIG,
                "steps between progress lines and metrics.jsonl records"),
    CFG_F_INT("train.conflict_interval", RlConfig, conflict_interval, 1, 1000000,
              "updates between conflict-ratio measurements where the update itself needs "
              "no per-task gradients (MT-SAC, MH-SAC, CoNAL retrain); every update of a "
              "CoNAL search, PCGrad or CAGrad is measured"),
    CFG_F_INT64("train.eval_interval", RlConfig, eval_interval, 0, BIG,
                "steps between evaluations; 0 evaluates only at the last step"),
    CFG_F_INT("train.eval_episodes", RlConfig, eval_episodes, 1, 100000,
              "deterministic evaluation episodes per task, spread over the 50 goals"),
    CFG_F_INT64("train.checkpoint_interval", RlConfig, checkpoint_interval, 0, BIG,
                "steps between checkpoints, a multiple of env.episode_length; 0 saves only "
                "at the end"),
};

static const CfgSchema schema = {fields, (int)(sizeof fields / sizeof fields[0])};

const CfgSchema *rl_config_schema(void) {
    return &schema;
}

void rl_config_defaults(RlConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->episode_length = 150;
    cfg->torquescale = 5.0;
    snprintf(cfg->method, sizeof cfg->method, "mtsac");
    cfg->n_actor_hidden = cfg->n_critic_hidden = 3;
    for (int i = 0; i < 3; i++) {
        cfg->actor_hidden[i] = cfg->critic_hidden[i] = 400;
    }
    snprintf(cfg->activation, sizeof cfg->activation, "relu");
    // log-std bounds of Yarats and Kostrikov's pytorch_sac: the initial
    // log-std is their midpoint, -1.5, so the first policy explores
    cfg->log_std_min = -5.0;
    cfg->log_std_max = 2.0;
    cfg->gamma = 0.99;
    cfg->tau = 0.005;
    cfg->init_temperature = 1.0;
    // Haarnoja et al. 2018 (SAC with automatic temperature): target entropy -|A|
    cfg->target_entropy = -4.0;
    cfg->actor_lr = cfg->critic_lr = cfg->temp_lr = 3e-4;
    cfg->adam_beta1 = 0.9;
    cfg->adam_beta2 = 0.999;
    cfg->adam_eps = 1e-8;
    cfg->grad_clip = 0.0;

    // the CAGrad authors' MT10 run (conal_cagrad_defaults): c 0.9, 20 steps at 25
    cfg->cagrad_c = 0.9;
    cfg->cagrad_iters = 20;
    cfg->cagrad_lr = 25.0;
    cfg->target_update_interval = 1;
    cfg->actor_update_interval = 1;
    snprintf(cfg->conal_specific, sizeof cfg->conal_specific, "purely");
    cfg->conal_conflict_noticing = 1;
    cfg->conal_random_loss_weights = 1;
    cfg->search_steps = 300000;
    cfg->search_arch_lr = 3e-4;
    // the 2M steps of the mtrl protocol, rounded up to whole 150-step episodes
    cfg->retrain_steps = 2000100;
    cfg->steps = 2000100;
    cfg->batch_size = 128;
    cfg->random_steps = 1500;
    cfg->updates_per_step = 1;
    cfg->replay_capacity = 1000000;
    cfg->log_interval = 1500;
    cfg->conflict_interval = 10;
    cfg->eval_interval = 10000;
    cfg->eval_episodes = 1;
    cfg->checkpoint_interval = 15000;
}

// Appends one formatted line to err at *len.
static void add_problem(char *err, size_t err_sz, size_t *len, const char *fmt, ...) {
    if (!err || *len + 1 >= err_sz) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err + *len, err_sz - *len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *len += (size_t)n < err_sz - *len ? (size_t)n : err_sz - *len - 1;
    }
    if (*len + 1 < err_sz) {
        err[(*len)++] = '\n';
        err[*len] = '\0';
    }
}

int rl_config_check(const RlConfig *cfg, char *err, size_t err_sz) {
    size_t len = 0;
    if (err && err_sz) {
        err[0] = '\0';
    }
    long long T = cfg->episode_length;
    if (cfg->checkpoint_interval % T != 0) {
        add_problem(err, err_sz, &len,
                    "config: train.checkpoint_interval: %lld is not a multiple of "
                    "env.episode_length %lld (checkpoints are taken at episode boundaries)",
                    cfg->checkpoint_interval, T);
    }
    if (cfg->log_std_min >= cfg->log_std_max) {
        add_problem(err, err_sz, &len,
                    "config: agent.actor.log_std_min: %g is not below "
                    "agent.actor.log_std_max %g",
                    cfg->log_std_min, cfg->log_std_max);
    }
    if (rl_config_is_conal(cfg) && cfg->search_steps % T != 0) {
        add_problem(err, err_sz, &len,
                    "config: search.steps: %lld is not a multiple of env.episode_length %lld "
                    "(the search ends at an episode boundary)",
                    cfg->search_steps, T);
    }
    if (cfg->n_actor_hidden > RL_NET_MAX_HIDDEN || cfg->n_critic_hidden > RL_NET_MAX_HIDDEN) {
        add_problem(err, err_sz, &len, "config: agent: at most %d hidden layers",
                    RL_NET_MAX_HIDDEN);
    }
    return len ? ERR_CONFIG : 0;
}

int rl_config_check_steps(const RlConfig *cfg, int from_flag, char *err, size_t err_sz) {
    int conal = rl_config_is_conal(cfg);
    long long steps = conal ? cfg->retrain_steps : cfg->steps;
    if (steps % cfg->episode_length == 0) {
        return 0;
    }
    const char *key = conal ? "retrain.steps" : "train.steps";
    return err_set(err, err_sz, ERR_CONFIG,
                   "%s%s: %lld is not a multiple of env.episode_length %d (a run ends at an "
                   "episode boundary so that it can be resumed and extended)",
                   from_flag ? "--steps, which sets " : "config: ", key, steps,
                   cfg->episode_length);
}

int rl_config_is_conal(const RlConfig *cfg) {
    int method = rl_method_parse(cfg->method);
    return method == RL_METHOD_CONAL || method == RL_METHOD_CONAL_PCGRAD ||
           method == RL_METHOD_CONAL_CAGRAD;
}

void rl_config_set_steps(RlConfig *cfg, long long steps) {
    if (rl_config_is_conal(cfg)) {
        cfg->retrain_steps = steps;
        cfg->steps = cfg->search_steps + steps;
    } else {
        cfg->steps = steps;
    }
}

int rl_config_load(RlConfig *cfg, const char *path, const char *const *sets, int n_sets,
                   char *err, size_t err_sz) {
    rl_config_defaults(cfg);
    int rc = cfg_resolve(&schema, cfg, path, sets, n_sets, err, err_sz);
    size_t len = err ? strlen(err) : 0;
    for (int i = 0; i < n_sets && rl_config_is_conal(cfg); i++) {
        // a CoNAL run's length is search.steps + retrain.steps, so the
        // train.steps in a saved config.json is derived and never read
        if (strncmp(sets[i], "train.steps=", 12) == 0) {
            add_problem(err, err_sz, &len,
                        "config: train.steps: --set %s has no effect with agent.method %s, "
                        "whose run length is search.steps + retrain.steps; set "
                        "search.steps or retrain.steps instead (--steps sets retrain.steps)",
                        sets[i], cfg->method);
            rc = ERR_CONFIG;
        }
    }
    if (rc != 0) {
        return rc;
    }
    if (rl_config_is_conal(cfg)) {
        rl_config_set_steps(cfg, cfg->retrain_steps);
    }
    return rl_config_check(cfg, err, err_sz);
}
