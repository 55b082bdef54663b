// `conal train`: collection on the vector env, SAC updates, logs, evaluation,
// checkpoints and exact resume.
//
// Dimension letters: K tasks, O observation, A action, T episode length.
// Env i of the training vector runs MT10 task i, so the K observations of a
// step form K task blocks of one row, which is what the actor expects.
#include "rl/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mujoco/mujoco.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/version_info.h"
#include "envs/vec.h"
#include "nn/gemm.h"
#include "rl/train_conal.h"

#define K_TASKS ENV_N_TASKS
#define CKPT_FORMAT 1

// Training state besides the agent and the replay buffers.
// Conflict ratios of the open log interval, summed over its measured
// updates, for the actor ([0]) and the first critic ([1]). Checkpoints save
// them, so a resumed interval averages the same updates.
typedef struct ConflictSums {
    double sum[2][RL_NET_MAX_SHARED];
    int64_t n[2];
    int64_t due;     // bit i: network i has not been measured since it was due
} ConflictSums;

typedef struct Trainer {
    RlConfig cfg;
    char dir[1024];
    int threads;
    EnvVec *envs;
    RlSac *sac;
    RlReplay replay;
    RlBatch batch;
    RngState collect_rng;            // random actions and policy noise
    RngState replay_rng;             // batch indices
    int64_t step;                    // steps done
    int64_t episodes;                // episodes finished per task
    double best_success;             // best mean evaluation success, -1 before any
    int goals[K_TASKS];              // goal of each env's current or last episode
    RlConalRun conal;                // CoNAL search and retrain phases (inactive otherwise)

    // buffers of one step
    float obs[K_TASKS * ENV_OBS_DIM];        // (K x O)
    float next_obs[K_TASKS * ENV_OBS_DIM];   // (K x O)
    float actions[K_TASKS * ENV_ACT_DIM];    // (K x A)
    float rewards[K_TASKS];
    int truncated[K_TASKS];
    EnvInfo infos[K_TASKS];

    // episode statistics since the last log line
    double ep_return[K_TASKS];       // running return of the current episode
    int ep_success[K_TASKS];         // success seen in the current episode
    double log_return[K_TASKS];      // sum of finished episodes' returns
    double log_success[K_TASKS];     // finished episodes with success
    int log_episodes;                // finished episodes per task since the last line
    long sim_truncations;            // episodes cut short by simulation warnings
    // conflict ratios of the interval's measured updates: [0] actor, [1] q1
    ConflictSums conflicts;

    // timing of the current log interval (not checkpointed), in seconds
    double t_env, t_update, t_eval;  // env stepping, updates, evaluations
    long n_updates_interval;
    double interval_start;           // wall clock at the start of the interval
    int64_t interval_step;           // tr->step at the start of the interval
    double t_start;                  // wall clock when this process started the run
    double wall_before;              // wall seconds of the run's earlier processes
    long long saved_steps;           // train.steps of config.json, before --steps (resume)
} Trainer;

static volatile sig_atomic_t stop_requested = 0;

// Signal handler: sets the flag that stops the loop at the next episode boundary.
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

// Monotonic seconds.
static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void rl_set_blas_threads(int n) {
    ASSERT(nn_threads_set(n) == 0, "cannot start %d threads for the dense products", n);
}

// Env config for cfg (seed: the benchmark seed that fixes the 50 goals).
static void env_config_from(const RlConfig *cfg, EnvConfig *ec) {
    env_config_defaults(ec);
    snprintf(ec->assets, sizeof ec->assets, "%s", cfg->assets);
    ec->max_steps = cfg->episode_length;
    ec->seed = (uint64_t)cfg->benchmark_seed;
    ec->torquescale = cfg->torquescale;
    ec->one_hot = 0;
}

size_t rl_train_estimate_bytes(const RlConfig *cfg) {
    return rl_replay_bytes(K_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, cfg->replay_capacity) +
           rl_sac_estimate_bytes(cfg, K_TASKS, ENV_OBS_DIM, ENV_ACT_DIM);
}

void rl_train_count_params(const RlSac *sac, RlParamCounts *out) {
    out->actor = sac->actor->params.n;
    out->q1 = sac->q1->params.n;
    out->q2 = sac->q2->params.n;
    out->total = out->actor + out->q1 + out->q2;
}

// Parameters of one network of cfg's agent (name: actor, q1 or q2), from a
// network created with spec and freed again.
static int count_net_params(const RlConfig *cfg, const char *name, RlNetSpec *spec,
                            size_t *n, char *err, size_t err_sz) {
    spec->conal_arch = NULL;
    if (cfg->conal_arch) {
        spec->conal_arch = conal_arch_find(cfg->conal_arch, name);
        if (!spec->conal_arch) {
            return err_set(err, err_sz, ERR_FORMAT, "arch.json has no network \"%s\"", name);
        }
    }
    RngState rng;
    rng_init(&rng, 0);
    RlNet *net = rl_net_create(spec, &rng, err, err_sz);
    if (!net) {
        return ERR_CONFIG;
    }
    *n = net->params.n;
    rl_net_destroy(net);
    return 0;
}

int rl_train_count_run_params(const char *run_dir, RlParamCounts *out, char *err,
                              size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    RlConfig cfg;
    int rc = rl_config_load(&cfg, path, NULL, 0, err, err_sz);
    if (rc != 0) {
        return rc;
    }

    // a CoNAL run past its search retrains the networks of arch.json
    ConalArch *arch = NULL;
    snprintf(path, sizeof path, "%s/arch.json", run_dir);
    cfg.conal_arch = NULL;
    if (rl_config_is_conal(&cfg) && file_exists(path)) {
        arch = err_xcalloc(1, sizeof *arch, "arch.json");
        rc = conal_arch_load(arch, path, err, err_sz);
        cfg.conal_arch = arch;
    }
    RlNetSpec actor, critic;
    rl_sac_actor_spec(&cfg, K_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &actor);
    rl_sac_critic_spec(&cfg, K_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &critic);
    if (rc == 0) {
        rc = count_net_params(&cfg, "actor", &actor, &out->actor, err, err_sz);
    }
    if (rc == 0) {
        rc = count_net_params(&cfg, "q1", &critic, &out->q1, err, err_sz);
    }
    if (rc == 0) {
        rc = count_net_params(&cfg, "q2", &critic, &out->q2, err, err_sz);
    }
    free(arch);
    out->total = out->actor + out->q1 + out->q2;
    return rc;
}

// ---- evaluation ----

// Goal of evaluation episode e of n, spread evenly over the 50 goals.
static int eval_goal(const RlEvalOptions *opt, int e) {
    if (opt->goal >= 0) {
        return opt->goal;
    }
    return (int)(((long)e * ENV_N_GOALS) / opt->episodes) % ENV_N_GOALS;
}

// Runs one episode on every env of vec; env i runs task opt->tasks[i].
static int eval_episode(const RlConfig *cfg, RlSac *sac, const RlEvalOptions *opt,
                        EnvVec *vec, int e, RngState *rng, RlEvalResult *res, char *err,
                        size_t err_sz) {
    int n = opt->n_tasks;
    float obs[K_TASKS * ENV_OBS_DIM], next_obs[K_TASKS * ENV_OBS_DIM];
    float blocks[K_TASKS * ENV_OBS_DIM], actions[K_TASKS * ENV_ACT_DIM];
    float act_env[K_TASKS * ENV_ACT_DIM], rewards[K_TASKS];
    int truncated[K_TASKS], done[K_TASKS] = {0}, success[K_TASKS] = {0};
    EnvInfo infos[K_TASKS];
    for (int i = 0; i < n; i++) {
        int rc = env_vec_reset(vec, i, eval_goal(opt, e), obs + i * ENV_OBS_DIM, err, err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    memset(blocks, 0, sizeof blocks);
    for (int k = 0; k < cfg->episode_length; k++) {
        // the actor takes K task blocks; tasks not evaluated get zero rows
        if (opt->random) {
            for (int j = 0; j < n * ENV_ACT_DIM; j++) {
                act_env[j] = (float)rng_range(rng, -1.0, 1.0);
            }
        } else {
            for (int i = 0; i < n; i++) {
                memcpy(blocks + opt->tasks[i] * ENV_OBS_DIM, obs + i * ENV_OBS_DIM,
                       sizeof(float) * ENV_OBS_DIM);
            }
            rl_sac_act(sac, blocks, 1, 1, NULL, actions);
            for (int i = 0; i < n; i++) {
                int t = opt->tasks[i] % K_TASKS;
                for (int j = 0; j < ENV_ACT_DIM; j++) {
                    act_env[i * ENV_ACT_DIM + j] = actions[t * ENV_ACT_DIM + j];
                }
            }
        }
        int rc = env_vec_step(vec, act_env, next_obs, rewards, truncated, infos, err, err_sz);
        if (rc != 0) {
            return rc;
        }
        int all_done = 1;
        for (int i = 0; i < n; i++) {
            if (!done[i]) {
                res->ret[i] += (double)rewards[i];
                success[i] |= infos[i].success >= 1.0;
                done[i] = truncated[i] != ENV_TRUNC_NONE;
            }
            all_done &= done[i];
        }
        if (all_done) {
            break;
        }
        // an env cut short stays truncated; step it no further by resetting it
        for (int i = 0; i < n; i++) {
            if (done[i] && truncated[i] != ENV_TRUNC_NONE) {
                rc = env_vec_reset(vec, i, eval_goal(opt, e), next_obs + i * ENV_OBS_DIM,
                                   err, err_sz);
                if (rc != 0) {
                    return rc;
                }
            }
        }
        memcpy(obs, next_obs, sizeof(float) * (size_t)n * ENV_OBS_DIM);
    }
    for (int i = 0; i < n; i++) {
        res->success[i] += success[i];
    }
    return 0;
}

int rl_evaluate(const RlConfig *cfg, RlSac *sac, const RlEvalOptions *opt,
                RlEvalResult *res, char *err, size_t err_sz) {
    ASSERT(opt->random || sac, "rl_evaluate: no agent and not random");
    ASSERT(opt->n_tasks >= 1 && opt->n_tasks <= K_TASKS, "rl_evaluate: %d tasks",
           opt->n_tasks);
    for (int i = 0; i < opt->n_tasks; i++) {
        ASSERT(opt->tasks[i] >= 0 && opt->tasks[i] < K_TASKS, "rl_evaluate: task id %d",
               opt->tasks[i]);
    }
    memset(res, 0, sizeof *res);
    res->n_tasks = opt->n_tasks;
    res->episodes = opt->episodes;
    memcpy(res->tasks, opt->tasks, sizeof(int) * (size_t)opt->n_tasks);

    EnvConfig ec;
    env_config_from(cfg, &ec);
    EnvVec *vec = NULL;
    int rc = env_vec_create(&vec, opt->tasks, opt->n_tasks, &ec, opt->threads, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    RngState rng;
    rng_init(&rng, opt->seed);
    for (int e = 0; e < opt->episodes && rc == 0; e++) {
        rc = eval_episode(cfg, sac, opt, vec, e, &rng, res, err, err_sz);
    }
    env_vec_destroy(vec);
    if (rc != 0) {
        return rc;
    }
    for (int i = 0; i < opt->n_tasks; i++) {
        res->success[i] /= opt->episodes;
        res->ret[i] /= opt->episodes;
        res->mean_success += res->success[i] / opt->n_tasks;
    }
    return 0;
}

// ---- run directory records ----

// Appends one JSON object as a line to DIR/name.
static int append_json(const Trainer *tr, const char *name, cJSON *obj, char *err,
                       size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tr->dir, name);
    char *text = cJSON_PrintUnformatted(obj);
    int rc = text ? file_append_line(path, text, err, err_sz)
                  : err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", path);
    free(text);
    return rc;
}

// {"reach-v3": x, ...} for the evaluated tasks.
static cJSON *per_task_object(const RlEvalResult *res, const double *values) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < res->n_tasks; i++) {
        cJSON_AddNumberToObject(o, env_task_name(res->tasks[i]), values[i]);
    }
    return o;
}

// Writes one evaluation record to eval.jsonl.
static int record_eval(const Trainer *tr, const RlEvalResult *res, char *err, size_t err_sz) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)tr->step);
    cJSON_AddItemToObject(o, "success", per_task_object(res, res->success));
    cJSON_AddNumberToObject(o, "mean_success", res->mean_success);
    cJSON_AddItemToObject(o, "return", per_task_object(res, res->ret));
    cJSON_AddNumberToObject(o, "episodes", res->episodes);
    int rc = append_json(tr, "eval.jsonl", o, err, err_sz);
    cJSON_Delete(o);
    return rc;
}

// Mean of a float array over K tasks.
static double mean_k(const float *x, int K) {
    double s = 0.0;
    for (int t = 0; t < K; t++) {
        s += (double)x[t];
    }
    return s / K;
}

// Array of per-task values as JSON.
static cJSON *float_array(const float *x, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)x[i]));
    }
    return a;
}

// Adds the conflict ratios of net's last backward to slot i of the
// interval's sums when that backward kept per-task gradients.
static void add_conflicts(Trainer *tr, int i, const RlNet *net) {
    if (!net->task_grads_fresh) {
        return;
    }
    int K = net->spec.n_tasks;
    for (int s = 0; s < net->n_shared; s++) {
        tr->conflicts.sum[i][s] += rl_gram_conflict_ratio(net->shared[s].gram, K);
    }
    tr->conflicts.n[i]++;
    tr->conflicts.due &= ~(int64_t)(1 << i);
}

// Returns the mean conflict ratio of every shared layer of net over the
// interval's measured updates (slot i of the sums), keyed by layer name
// ("hidden0", ..., "output"), and writes their mean to *mean. An interval
// without a measured update has no ratio, so each is null.
static cJSON *conflict_object(const Trainer *tr, int i, const RlNet *net, double *mean) {
    cJSON *a = cJSON_CreateObject();
    double sum = 0.0;
    int64_t n = tr->conflicts.n[i];
    for (int s = 0; s < net->n_shared; s++) {
        if (n == 0) {
            cJSON_AddNullToObject(a, net->shared[s].name);
            continue;
        }
        double r = tr->conflicts.sum[i][s] / (double)n;
        sum += r;
        cJSON_AddNumberToObject(a, net->shared[s].name, r);
    }
    *mean = net->n_shared && n ? sum / net->n_shared : 0.0;
    return a;
}

// Writes the metrics record and the progress line of one log interval.
static int record_metrics(Trainer *tr, char *err, size_t err_sz) {
    const RlSacStats *st = &tr->sac->stats;
    int K = K_TASKS;
    float temps[K_TASKS], ret[K_TASKS], succ[K_TASKS];
    double mean_ret = 0.0, mean_succ = 0.0;
    for (int t = 0; t < K; t++) {
        temps[t] = rl_sac_temperature(tr->sac, t);
        int n = tr->log_episodes;
        ret[t] = n ? (float)(tr->log_return[t] / n) : 0.0f;
        succ[t] = n ? (float)(tr->log_success[t] / n) : 0.0f;
        mean_ret += (double)ret[t] / K;
        mean_succ += (double)succ[t] / K;
    }
    // throughput over the whole interval (collection, updates, evaluations,
    // checkpoints, logging), and env stepping alone
    double wall = now_seconds() - tr->interval_start;
    double steps = (double)(tr->step - tr->interval_step);
    double sps = wall > 0 ? steps / wall : 0.0;
    double ups = wall > 0 ? (double)tr->n_updates_interval / wall : 0.0;
    double env_sps = tr->t_env > 0 ? steps / tr->t_env : 0.0;
    int updating = tr->sac->n_updates > 0;

    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)tr->step);
    cJSON_AddNumberToObject(o, "episodes", (double)tr->episodes);
    cJSON_AddNumberToObject(o, "updates", (double)tr->sac->n_updates);
    cJSON_AddNumberToObject(o, "train_return", mean_ret);
    cJSON_AddNumberToObject(o, "train_success", mean_succ);
    cJSON_AddItemToObject(o, "train_success_per_task", float_array(succ, K));
    cJSON_AddNumberToObject(o, "q1_loss", mean_k(st->q1_loss, K));
    cJSON_AddNumberToObject(o, "q2_loss", mean_k(st->q2_loss, K));
    cJSON_AddNumberToObject(o, "actor_loss", mean_k(st->actor_loss, K));
    cJSON_AddNumberToObject(o, "temp_loss", mean_k(st->temp_loss, K));
    cJSON_AddNumberToObject(o, "entropy", mean_k(st->entropy, K));
    cJSON_AddNumberToObject(o, "q_mean", mean_k(st->q_mean, K));
    cJSON_AddItemToObject(o, "temp", float_array(temps, K));
    double conflict_actor = 0.0, conflict_q = 0.0;
    cJSON *conflict = cJSON_CreateObject();
    cJSON_AddItemToObject(conflict, "actor",
                          conflict_object(tr, 0, tr->sac->actor, &conflict_actor));
    cJSON_AddItemToObject(conflict, "q1", conflict_object(tr, 1, tr->sac->q1, &conflict_q));
    cJSON_AddItemToObject(o, "conflict_ratio", conflict);
    cJSON_AddNumberToObject(o, "conflict_updates", (double)tr->conflicts.n[1]);
    rl_conal_run_metrics(&tr->conal, tr->sac, o);
    cJSON_AddNumberToObject(o, "sim_truncations", (double)tr->sim_truncations);
    cJSON_AddNumberToObject(o, "steps_per_s", sps);
    cJSON_AddNumberToObject(o, "updates_per_s", ups);
    cJSON_AddNumberToObject(o, "interval_s", wall);
    cJSON_AddNumberToObject(o, "env_s", tr->t_env);
    cJSON_AddNumberToObject(o, "update_s", tr->t_update);
    cJSON_AddNumberToObject(o, "eval_s", tr->t_eval);
    cJSON_AddNumberToObject(o, "env_only_steps_per_s", env_sps);
    int rc = append_json(tr, "metrics.jsonl", o, err, err_sz);
    cJSON_Delete(o);

    double share = wall > 0 ? 100.0 / wall : 0.0;
    log_info("step=%lld ep=%lld ret=%.1f succ=%.2f q_loss=%.4g pi_loss=%.4g temp=%.4g "
             "ent=%.3f conflict_q=%.2f conflict_pi=%.2f sps=%.0f ups=%.1f env=%.0f%% "
             "update=%.0f%% eval=%.0f%%%s",
             (long long)tr->step, (long long)tr->episodes, mean_ret, mean_succ,
             0.5 * (mean_k(st->q1_loss, K) + mean_k(st->q2_loss, K)),
             mean_k(st->actor_loss, K), mean_k(temps, K), mean_k(st->entropy, K), conflict_q,
             conflict_actor, sps, ups, share * tr->t_env, share * tr->t_update,
             share * tr->t_eval, updating ? "" : " (random actions, no updates yet)");

    // the next interval starts from zero
    memset(tr->log_return, 0, sizeof tr->log_return);
    memset(tr->log_success, 0, sizeof tr->log_success);
    tr->log_episodes = 0;
    memset(tr->conflicts.sum, 0, sizeof tr->conflicts.sum);
    memset(tr->conflicts.n, 0, sizeof tr->conflicts.n);
    tr->t_env = tr->t_update = tr->t_eval = 0.0;
    tr->n_updates_interval = 0;
    tr->interval_start = now_seconds();
    tr->interval_step = tr->step;
    return rc;
}

// ---- checkpoints ----

// Trainer counters saved beside the agent and replay.
typedef struct TrainerCounters {
    int64_t format;
    int64_t step;
    int64_t episodes;
    int64_t sim_truncations;
    double best_success;
    int64_t goals[K_TASKS];
    double log_return[K_TASKS];     // statistics of the open log interval
    double log_success[K_TASKS];
    int64_t log_episodes;
} TrainerCounters;

// Writes the training state to DIR/name atomically; the replay buffers only
// when with_replay (best.bin keeps just what evaluation needs).
static int save_checkpoint(const Trainer *tr, const char *name, int with_replay, char *err,
                           size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tr->dir, name);
    TrainerCounters c;
    memset(&c, 0, sizeof c);
    c.format = CKPT_FORMAT;
    c.step = tr->step;
    c.episodes = tr->episodes;
    c.sim_truncations = tr->sim_truncations;
    c.best_success = tr->best_success;
    for (int i = 0; i < K_TASKS; i++) {
        c.goals[i] = tr->goals[i];
        c.log_return[i] = tr->log_return[i];
        c.log_success[i] = tr->log_success[i];
    }
    c.log_episodes = tr->log_episodes;
    NnCkptWriter w;
    int rc = nn_ckpt_writer_open(&w, path, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    if ((rc = nn_ckpt_write(&w, "trainer.counters", &c, sizeof c, err, err_sz)) != 0 ||
        (rc = nn_ckpt_write(&w, "trainer.collect_rng", &tr->collect_rng,
                            sizeof tr->collect_rng, err, err_sz)) != 0 ||
        (rc = nn_ckpt_write(&w, "trainer.replay_rng", &tr->replay_rng, sizeof tr->replay_rng,
                            err, err_sz)) != 0 ||
        (rc = nn_ckpt_write(&w, "trainer.conflicts", &tr->conflicts, sizeof tr->conflicts,
                            err, err_sz)) != 0 ||
        (rc = rl_sac_save(tr->sac, &w, err, err_sz)) != 0 ||
        (tr->conal.active && (rc = rl_conal_run_save(&tr->conal, &w, err, err_sz)) != 0) ||
        (with_replay && (rc = rl_replay_save(&tr->replay, &w, err, err_sz)) != 0)) {
        nn_ckpt_writer_abort(&w);
        return rc;
    }
    return nn_ckpt_writer_commit(&w, err, err_sz);
}

// Restores the training state from DIR/checkpoint.bin.
static int load_checkpoint(Trainer *tr, char *err, size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoint.bin", tr->dir);
    NnCkpt ck;
    int rc = nn_ckpt_load(&ck, path, err, err_sz);
    if (rc != 0) {
        return rc;
    }

    // every section is read before any trainer field changes
    TrainerCounters c;
    if ((rc = nn_ckpt_read(&ck, "trainer.counters", &c, sizeof c, err, err_sz)) == 0 &&
        c.format != CKPT_FORMAT) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: trainer format %lld, expected %d", path,
                     (long long)c.format, CKPT_FORMAT);
    }
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "trainer.collect_rng", &tr->collect_rng,
                          sizeof tr->collect_rng, err, err_sz);
    }
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "trainer.replay_rng", &tr->replay_rng, sizeof tr->replay_rng,
                          err, err_sz);
    }
    // checkpoints written before the section existed start the interval's
    // conflict sums from zero
    ConflictSums conflicts;
    memset(&conflicts, 0, sizeof conflicts);
    if (rc == 0 && nn_ckpt_find(&ck, "trainer.conflicts")) {
        rc = nn_ckpt_read(&ck, "trainer.conflicts", &conflicts, sizeof conflicts, err, err_sz);
    }
    if (rc == 0 && tr->conal.active) {
        rc = rl_conal_run_resume(&tr->conal, &tr->cfg, &ck, tr->dir, &tr->sac, err, err_sz);
    }
    if (rc == 0) {
        rc = rl_sac_load(tr->sac, &ck, err, err_sz);
    }
    if (rc == 0) {
        rc = rl_replay_load(&tr->replay, &ck, err, err_sz);
    }
    nn_ckpt_unload(&ck);
    if (rc != 0) {
        return rc;
    }

    tr->step = c.step;
    tr->episodes = c.episodes;
    tr->sim_truncations = (long)c.sim_truncations;
    tr->best_success = c.best_success;
    for (int i = 0; i < K_TASKS; i++) {
        tr->goals[i] = (int)c.goals[i];
        tr->log_return[i] = c.log_return[i];
        tr->log_success[i] = c.log_success[i];
    }
    tr->log_episodes = (int)c.log_episodes;
    tr->conflicts = conflicts;
    return 0;
}

// ---- the trainer ----

// Creates envs, agent, replay and batch for tr->cfg.
static int trainer_init(Trainer *tr, char *err, size_t err_sz) {
    const RlConfig *cfg = &tr->cfg;
    int tasks[K_TASKS];
    for (int i = 0; i < K_TASKS; i++) {
        tasks[i] = i;
        tr->goals[i] = -1;
    }
    EnvConfig ec;
    env_config_from(cfg, &ec);
    int rc = env_vec_create(&tr->envs, tasks, K_TASKS, &ec, tr->threads, err, err_sz);
    if (rc != 0) {
        return rc;
    }

    // one stream per consumer, all derived from the run seed
    uint64_t seed = (uint64_t)cfg->seed;
    RngState init_rng;
    rng_init_stream(&init_rng, seed, 1);
    rng_init_stream(&tr->collect_rng, seed, 2);
    rng_init_stream(&tr->replay_rng, seed, 3);
    RngState noise;
    rng_init_stream(&noise, seed, 4);
    tr->sac = rl_sac_create(cfg, K_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &init_rng,
                            rng_next_u64(&noise), err, err_sz);
    if (!tr->sac) {
        return ERR_CONFIG;
    }
    rc = rl_replay_init(&tr->replay, K_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, cfg->replay_capacity,
                        err, err_sz);
    if (rc != 0) {
        return rc;
    }
    if (rl_batch_init(&tr->batch, K_TASKS, cfg->batch_size, ENV_OBS_DIM, ENV_ACT_DIM) != 0) {
        return err_set(err, err_sz, ERR_NOMEM, "train: out of memory for the batch");
    }
    tr->best_success = -1.0;
    return 0;
}

// Frees everything trainer_init created.
static void trainer_deinit(Trainer *tr) {
    env_vec_destroy(tr->envs);
    rl_sac_destroy(tr->sac);
    rl_replay_deinit(&tr->replay);
    rl_batch_deinit(&tr->batch);
    rl_conal_run_deinit(&tr->conal);
}

// Starts a new episode on every env: each goes to its next goal.
static int reset_all(Trainer *tr, char *err, size_t err_sz) {
    int rc = env_vec_reset_all(tr->envs, tr->obs, err, err_sz);
    for (int i = 0; i < K_TASKS && rc == 0; i++) {
        tr->goals[i] = env_goal_index(env_vec_env(tr->envs, i));
        tr->ep_return[i] = 0.0;
        tr->ep_success[i] = 0;
    }
    return rc;
}

// Points every env's goal counter at its goal from a checkpoint, so the next
// reset_all continues the goal sequence of the interrupted run.
static int restore_goals(Trainer *tr, char *err, size_t err_sz) {
    for (int i = 0; i < K_TASKS; i++) {
        if (tr->goals[i] < 0) {
            continue;
        }
        int rc = env_vec_reset(tr->envs, i, tr->goals[i], tr->obs + i * ENV_OBS_DIM, err,
                               err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

// One step of all envs with random or policy actions; stores transitions.
static int collect_step(Trainer *tr, char *err, size_t err_sz) {
    if (tr->step - rl_conal_run_phase_start(&tr->conal) < tr->cfg.random_steps) {
        for (int j = 0; j < K_TASKS * ENV_ACT_DIM; j++) {
            tr->actions[j] = (float)rng_range(&tr->collect_rng, -1.0, 1.0);
        }
    } else {
        rl_sac_act(tr->sac, tr->obs, 1, 0, &tr->collect_rng, tr->actions);
    }
    int rc = env_vec_step(tr->envs, tr->actions, tr->next_obs, tr->rewards, tr->truncated,
                          tr->infos, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    for (int i = 0; i < K_TASKS; i++) {
        float *next = tr->next_obs + i * ENV_OBS_DIM;
        if (tr->truncated[i] == ENV_TRUNC_SIM) {
            // the state after a simulation warning is not trusted: drop the
            // transition and restart this env; it rejoins the others at the
            // next episode boundary
            tr->sim_truncations++;
            log_warn("task %s: simulation warning at step %lld, episode restarted",
                     env_task_name(i), (long long)tr->step);
            rc = env_vec_reset(tr->envs, i, ENV_GOAL_NEXT, next, err, err_sz);
            if (rc != 0) {
                return rc;
            }
            tr->goals[i] = env_goal_index(env_vec_env(tr->envs, i));
        } else {
            rl_replay_add(&tr->replay, i, tr->obs + i * ENV_OBS_DIM,
                          tr->actions + i * ENV_ACT_DIM, tr->rewards[i], next);
            tr->ep_return[i] += (double)tr->rewards[i];
            tr->ep_success[i] |= tr->infos[i].success >= 1.0;
        }
    }
    memcpy(tr->obs, tr->next_obs, sizeof tr->obs);
    tr->step++;

    // episode boundary: fold the finished episodes into the log statistics
    if (tr->step % tr->cfg.episode_length == 0) {
        for (int i = 0; i < K_TASKS; i++) {
            tr->log_return[i] += tr->ep_return[i];
            tr->log_success[i] += tr->ep_success[i];
        }
        tr->log_episodes++;
        tr->episodes++;
    }
    return 0;
}

// Returns an error naming the first non-finite loss of the last update, so
// a diverged run stops with the cause instead of a NaN action in an env.
static int check_losses(const Trainer *tr, char *err, size_t err_sz) {
    const RlSacStats *st = &tr->sac->stats;
    for (int t = 0; t < tr->sac->n_tasks; t++) {
        const float values[4] = {st->q1_loss[t], st->q2_loss[t], st->actor_loss[t],
                                 st->temp_loss[t]};
        static const char *const names[4] = {"critic q1", "critic q2", "actor",
                                             "temperature"};
        for (int i = 0; i < 4; i++) {
            if (!isfinite(values[i])) {
                return err_set(err, err_sz, ERR_SIM,
                               "training diverged at step %lld: %s loss of %s is %g; lower "
                               "the learning rates (agent.actor_lr, agent.critic_lr, "
                               "agent.temp_lr) or set agent.grad_clip",
                               (long long)tr->step, names[i], env_task_name(t),
                               (double)values[i]);
            }
        }
    }
    return 0;
}

// Runs the configured updates after a step once the random_steps of the
// current phase have passed (a CoNAL retrain starts them over). Every
// train.conflict_interval-th update keeps per-task gradients for the
// conflict ratios; updates whose method needs them anyway add theirs too.
static int update_step(Trainer *tr, char *err, size_t err_sz) {
    if (tr->step - rl_conal_run_phase_start(&tr->conal) <= tr->cfg.random_steps) {
        return 0;
    }
    for (int u = 0; u < tr->cfg.updates_per_step; u++) {
        rl_replay_sample(&tr->replay, &tr->replay_rng, &tr->batch);
        rl_conal_run_arch_update(&tr->conal, tr->sac, &tr->replay, &tr->replay_rng);
        // due until measured: the actor may skip this update
        // (agent.actor_update_interval)
        if (tr->sac->n_updates % tr->cfg.conflict_interval == 0) {
            tr->conflicts.due = 3;
        }
        tr->sac->actor->task_grads_fresh = 0;
        tr->sac->q1->task_grads_fresh = 0;
        rl_sac_update(tr->sac, &tr->batch, tr->conflicts.due != 0);
        add_conflicts(tr, 0, tr->sac->actor);
        add_conflicts(tr, 1, tr->sac->q1);
        tr->n_updates_interval++;
        int rc = check_losses(tr, err, err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

// Evaluates all tasks, records the result and keeps best.bin.
static int evaluate_now(Trainer *tr, RlEvalResult *res, char *err, size_t err_sz) {
    RlEvalOptions opt;
    memset(&opt, 0, sizeof opt);
    for (int i = 0; i < K_TASKS; i++) {
        opt.tasks[i] = i;
    }
    opt.n_tasks = K_TASKS;
    opt.goal = -1;
    opt.episodes = tr->cfg.eval_episodes;
    opt.threads = tr->threads;
    int rc = rl_evaluate(&tr->cfg, tr->sac, &opt, res, err, err_sz);
    if (rc == 0) {
        rc = record_eval(tr, res, err, err_sz);
    }
    if (rc != 0) {
        return rc;
    }
    log_info("eval step=%lld mean_success=%.3f reach=%.2f", (long long)tr->step,
             res->mean_success, res->success[0]);
    if (res->mean_success > tr->best_success) {
        tr->best_success = res->mean_success;
        rc = save_checkpoint(tr, "best.bin", 0, err, err_sz);
    }
    return rc;
}

// Prints the per-task success table of the final evaluation.
static void print_table(const RlEvalResult *res) {
    printf("%-26s %8s %10s\n", "task", "success", "return");
    for (int i = 0; i < res->n_tasks; i++) {
        printf("%-26s %8.2f %10.1f\n", env_task_name(res->tasks[i]), res->success[i],
               res->ret[i]);
    }
    printf("%-26s %8.3f\n", "mean", res->mean_success);
}

// Writes summary.json when the run finishes.
static int write_summary(const Trainer *tr, const RlEvalResult *res, char *err,
                         size_t err_sz) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "steps", (double)tr->step);
    cJSON_AddNumberToObject(o, "updates", (double)tr->sac->n_updates);
    cJSON_AddNumberToObject(o, "final_mean_success", res->mean_success);
    cJSON_AddItemToObject(o, "final_success", per_task_object(res, res->success));
    cJSON_AddNumberToObject(o, "best_mean_success", tr->best_success);
    RlParamCounts counts;
    rl_train_count_params(tr->sac, &counts);
    cJSON_AddNumberToObject(o, "n_params", (double)counts.total);
    cJSON *by_net = cJSON_AddObjectToObject(o, "n_params_by_network");
    cJSON_AddNumberToObject(by_net, "actor", (double)counts.actor);
    cJSON_AddNumberToObject(by_net, "q1", (double)counts.q1);
    cJSON_AddNumberToObject(by_net, "q2", (double)counts.q2);
    cJSON_AddNumberToObject(o, "wall_seconds", tr->wall_before + now_seconds() - tr->t_start);
    cJSON_AddNumberToObject(o, "seed", (double)tr->cfg.seed);
    cJSON_AddStringToObject(o, "git", CONAL_GIT_REV);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", tr->dir);
    int rc = text ? file_write_atomic(path, text, strlen(text), err, err_sz) : ERR_NOMEM;
    free(text);
    return rc;
}

// Ends a CoNAL search: the derived agent from fresh weights, empty replay
// buffers, a new best.bin for the retrained agent, and a checkpoint in the
// retrain phase.
static int switch_to_retrain(Trainer *tr, char *err, size_t err_sz) {
    int rc = rl_conal_run_switch(&tr->conal, &tr->cfg, tr->dir, &tr->sac, &tr->replay, err,
                                 err_sz);
    if (rc != 0) {
        return rc;
    }
    tr->best_success = -1.0;
    return save_checkpoint(tr, "checkpoint.bin", 1, err, err_sz);
}

// The loop from tr->step to cfg.steps. Returns 0, 130 after an interrupt, or
// a negative ErrCode.
static int train_loop(Trainer *tr, char *err, size_t err_sz) {
    const RlConfig *cfg = &tr->cfg;
    RlEvalResult res;
    memset(&res, 0, sizeof res);
    int rc = 0;
    tr->interval_start = now_seconds();
    tr->interval_step = tr->step;
    while (tr->step < cfg->steps) {
        if (rl_conal_run_switch_due(&tr->conal, tr->step) &&
            (rc = switch_to_retrain(tr, err, err_sz)) != 0) {
            return rc;
        }
        double t0 = now_seconds();
        if (tr->step % cfg->episode_length == 0 && (rc = reset_all(tr, err, err_sz)) != 0) {
            return rc;
        }
        if ((rc = collect_step(tr, err, err_sz)) != 0) {
            return rc;
        }
        double t1 = now_seconds();
        int log_now = tr->step % cfg->log_interval == 0;
        if ((rc = update_step(tr, err, err_sz)) != 0) {
            return rc;
        }
        tr->t_env += t1 - t0;
        tr->t_update += now_seconds() - t1;

        // records, evaluations and checkpoints of this step
        int last = tr->step == cfg->steps;
        if (log_now && (rc = record_metrics(tr, err, err_sz)) != 0) {
            return rc;
        }
        int eval_now = last || (cfg->eval_interval > 0 && tr->step % cfg->eval_interval == 0);
        if (eval_now) {
            double t_eval = now_seconds();
            if ((rc = evaluate_now(tr, &res, err, err_sz)) != 0) {
                return rc;
            }
            tr->t_eval += now_seconds() - t_eval;
        }
        int boundary = tr->step % cfg->episode_length == 0;
        int ckpt_now = last || (cfg->checkpoint_interval > 0 &&
                                tr->step % cfg->checkpoint_interval == 0);
        if ((ckpt_now || (boundary && stop_requested)) &&
            (rc = save_checkpoint(tr, "checkpoint.bin", 1, err, err_sz)) != 0) {
            return rc;
        }
        if (boundary && stop_requested && !last) {
            log_warn("interrupted: saved %s/checkpoint.bin at step %lld; continue with "
                     "`conal train --resume --out %s`",
                     tr->dir, (long long)tr->step, tr->dir);
            return 130;
        }
    }
    if (log_get_level() <= LOG_INFO) {
        print_table(&res);
    }
    return write_summary(tr, &res, err, err_sz);
}

// ---- configuration and start-up ----

// Physical memory in bytes, or 0 when unknown.
static size_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
}

// Applies --seed, --steps and --arch, then the cross-field checks.
static int apply_flags(RlConfig *cfg, const RlTrainOptions *opt, char *err, size_t err_sz) {
    if (opt->seed >= 0) {
        cfg->seed = opt->seed;
    }
    if (opt->steps >= 0) {
        rl_config_set_steps(cfg, opt->steps);
    }
    if (opt->arch_path) {
        // --arch retrains the given architecture, so the run has no search
        cfg->search_steps = 0;
        rl_config_set_steps(cfg, cfg->retrain_steps);
    }
    int rc = rl_config_check(cfg, err, err_sz);
    if (rc == 0 && (!opt->resume || opt->steps >= 0)) {
        // a resumed run without --steps keeps the length it was saved with
        rc = rl_config_check_steps(cfg, opt->steps >= 0, err, err_sz);
    }
    return rc;
}

// 1 when dir has the lock file of a `conal train` that started in it.
static int is_started_run_dir(const char *dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    return file_exists(path);
}

// Resolves the config of a resumed run: DIR/config.json plus --steps. A
// CONFIG given as well must match it apart from train.steps and retrain.steps.
static int resolve_resume(RlConfig *cfg, long long *saved_steps, const RlTrainOptions *opt,
                          const char *dir, char *err, size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!file_exists(path)) {
        if (is_started_run_dir(dir)) {
            return err_set(err, err_sz, ERR_ARG,
                           "--resume: %s not found: the run in %s stopped before it saved its "
                           "config, so nothing can be resumed; remove the directory with "
                           "`rm -r %s` and start the run again without --resume",
                           path, dir, dir);
        }
        return err_set(err, err_sz, ERR_ARG, "--resume: %s not found; is %s a run directory?",
                       path, dir);
    }
    int rc = rl_config_load(cfg, path, NULL, 0, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    *saved_steps = cfg->steps;
    if (opt->config_path) {
        RlConfig given;
        rc = rl_config_load(&given, opt->config_path, opt->sets, opt->n_sets, err, err_sz);
        if (rc == 0 && opt->seed >= 0) {
            given.seed = opt->seed;
        }
        if (rc != 0) {
            return rc;
        }
        static const char *const ignore[] = {"train.steps", "retrain.steps", NULL};
        const CfgField *f = cfg_diff(rl_config_schema(), cfg, &given, ignore);
        if (f) {
            char a[128], b[128];
            cfg_format_value(f, cfg, a, sizeof a);
            cfg_format_value(f, &given, b, sizeof b);
            return err_set(err, err_sz, ERR_CONFIG,
                           "--resume: %s differs: the run has %s, %s has %s (only "
                           "train.steps and retrain.steps may change on resume)",
                           f->path, a, opt->config_path, b);
        }
    } else if (opt->n_sets > 0 || opt->seed >= 0) {
        return err_set(err, err_sz, ERR_ARG,
                       "--resume: --set and --seed would change the run's config; only "
                       "--steps may change");
    }
    return apply_flags(cfg, &(RlTrainOptions){.seed = -1, .steps = opt->steps, .resume = 1},
                       err, err_sz);
}

// Default run directory: runs/<config name>-seed<seed>.
static void default_dir(const RlTrainOptions *opt, const RlConfig *cfg, char *dir,
                        size_t dir_sz) {
    const char *base = strrchr(opt->config_path, '/');
    base = base ? base + 1 : opt->config_path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0) {
        n -= 5;
    }
    snprintf(dir, dir_sz, "runs/%.*s-seed%lld", (int)n, base, cfg->seed);
}

// Logs the start-of-run record: seed, revision, config, versions.
static void log_start(const Trainer *tr, const RlTrainOptions *opt) {
    log_info("conal %s (git %s), MuJoCo %s, %d threads", CONAL_VERSION, CONAL_GIT_REV,
             mj_versionString(), tr->threads);
    log_info("run %s: config %s, seed %lld, method %s, %s", tr->dir,
             opt->config_path ? opt->config_path : "(from the run directory)",
             tr->cfg.seed, tr->cfg.method, opt->resume ? "resumed" : "new");
    cJSON *json = cfg_to_json(rl_config_schema(), &tr->cfg);
    char *text = cJSON_PrintUnformatted(json);
    log_info("config %s", text ? text : "(out of memory)");
    free(text);
    cJSON_Delete(json);
}

// Updates of a phase of n steps: one per step after its random steps.
static double phase_updates(long long n, const RlConfig *cfg) {
    long long random = n < cfg->random_steps ? n : cfg->random_steps;
    return (double)(n - random) * cfg->updates_per_step;
}

// Measures collection and update speed on a short run and prints the
// projected wall time of the whole run.
static int estimate_run(Trainer *tr, char *err, size_t err_sz) {
    const RlConfig *cfg = &tr->cfg;
    int n_env = cfg->episode_length < 300 ? 2 * cfg->episode_length : 300;
    double t0 = now_seconds();
    for (int k = 0; k < n_env; k++) {
        int rc = k % cfg->episode_length == 0 ? reset_all(tr, err, err_sz) : 0;
        if (rc != 0 || (rc = collect_step(tr, err, err_sz)) != 0) {
            return rc;
        }
    }
    double per_step = (now_seconds() - t0) / n_env;

    // updates on what was collected, after one untimed warm-up update
    int n_upd = 20;
    rl_replay_sample(&tr->replay, &tr->replay_rng, &tr->batch);
    rl_sac_update(tr->sac, &tr->batch, 0);
    t0 = now_seconds();
    for (int u = 0; u < n_upd; u++) {
        rl_replay_sample(&tr->replay, &tr->replay_rng, &tr->batch);
        rl_sac_update(tr->sac, &tr->batch, 0);
    }
    double per_update = (now_seconds() - t0) / n_upd;

    // A CoNAL search adds an architecture step on a validation batch to each
    // update. Its retrain phase runs the derived network, which is smaller
    // than the supernet, so the supernet's weight step bounds it from above.
    int search = tr->conal.active && !tr->conal.retraining;
    double per_arch = 0.0;
    if (search) {
        t0 = now_seconds();
        for (int u = 0; u < n_upd; u++) {
            rl_conal_run_arch_update(&tr->conal, tr->sac, &tr->replay, &tr->replay_rng);
        }
        per_arch = (now_seconds() - t0) / n_upd;
    }

    // projection: collection, updates after each phase's random steps,
    // evaluations
    long long search_steps = search ? (long long)tr->conal.search_steps : 0;
    long long later_steps = cfg->steps - search_steps;
    double search_updates = phase_updates(search_steps, cfg);
    double updates = search_updates + phase_updates(later_steps, cfg);
    double evals = cfg->eval_interval > 0 ? (double)(cfg->steps / cfg->eval_interval) + 1 : 1;
    double eval_steps = evals * cfg->eval_episodes * cfg->episode_length;
    double total = (double)cfg->steps * per_step + updates * per_update +
                   search_updates * per_arch + eval_steps * per_step;
    printf("measured: %.2f ms per env step (all %d tasks), %.1f ms per update "
           "(batch %d x %d), %d threads\n",
           1e3 * per_step, K_TASKS, 1e3 * per_update, K_TASKS, cfg->batch_size, tr->threads);
    if (search) {
        printf("search: %.1f ms more per update for the architecture step; the retrain "
               "phase is projected at the supernet's %.1f ms, an upper bound\n",
               1e3 * per_arch, 1e3 * per_update);
    }
    printf("projected: %lld steps, %.0f updates, %.0f evaluations: %.1f hours (%.0f s)\n",
           cfg->steps, updates, evals, total / 3600.0, total);
    printf("memory: %.2f GB of %.2f GB physical\n", (double)rl_train_estimate_bytes(cfg) / 1e9,
           (double)physical_memory() / 1e9);
    return 0;
}

// Checks that the run fits in physical memory.
static int check_memory(const RlConfig *cfg, char *err, size_t err_sz) {
    size_t need = rl_train_estimate_bytes(cfg), have = physical_memory();
    if (have && need > have / 10 * 9) {
        return err_set(err, err_sz, ERR_NOMEM,
                       "config: train.replay_capacity %lld and the networks need %.2f GB, more "
                       "than 90%% of the %.2f GB of physical memory; lower "
                       "train.replay_capacity",
                       cfg->replay_capacity, (double)need / 1e9, (double)have / 1e9);
    }
    return 0;
}

// Resolves config and run directory for a new run or a resume.
static int resolve_run(Trainer *tr, const RlTrainOptions *opt, char *err, size_t err_sz) {
    int rc;
    if (opt->resume) {
        if (!opt->out_dir) {
            return err_set(err, err_sz, ERR_ARG, "--resume needs --out DIR, the run to continue");
        }
        snprintf(tr->dir, sizeof tr->dir, "%s", opt->out_dir);
        rc = resolve_resume(&tr->cfg, &tr->saved_steps, opt, tr->dir, err, err_sz);
    } else {
        if (!opt->config_path) {
            return err_set(err, err_sz, ERR_ARG, "missing CONFIG.json");
        }
        rc = rl_config_load(&tr->cfg, opt->config_path, opt->sets, opt->n_sets, err, err_sz);
        if (rc == 0) {
            rc = apply_flags(&tr->cfg, opt, err, err_sz);
        }
        if (opt->out_dir) {
            snprintf(tr->dir, sizeof tr->dir, "%s", opt->out_dir);
        } else if (rc == 0) {
            default_dir(opt, &tr->cfg, tr->dir, sizeof tr->dir);
        }
        if (rc == 0 && !opt->estimate && file_exists(tr->dir)) {
            char path[1200];
            snprintf(path, sizeof path, "%s/config.json", tr->dir);
            if (is_started_run_dir(tr->dir) && !file_exists(path)) {
                rc = err_set(err, err_sz, ERR_ARG,
                             "run directory %s already exists, but its run stopped before it "
                             "saved config.json; remove it with `rm -r %s`, or pass --out "
                             "for a new one",
                             tr->dir, tr->dir);
            } else {
                rc = err_set(err, err_sz, ERR_ARG,
                             "run directory %s already exists; pass --resume to continue it "
                             "or --out for a new one",
                             tr->dir);
            }
        }
    }
    return rc != 0 ? rc : check_memory(&tr->cfg, err, err_sz);
}

// Totals over the records of a JSONL file: the largest "step" and the sum
// of "interval_s" (the wall time of metrics records).
typedef struct RecordTotals {
    long long max_step;
    double interval_s;
} RecordTotals;

// Reads DIR/name, when it exists, and adds the totals of its records to
// *tot, which the caller initialises. With keep_max >= 0 it also rewrites
// the file keeping only records with "step" <= keep_max, and the totals
// count only those. A run killed after its last checkpoint has logged steps
// that the resumed run logs again; dropping them keeps one record per step.
// Unparsable lines (a write cut short by the kill) go too.
static int scan_records(const Trainer *tr, const char *name, long long keep_max,
                        RecordTotals *tot, char *err, size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tr->dir, name);
    if (!file_exists(path)) {
        return 0;
    }
    char *text;
    size_t n;
    int rc = file_read_all(path, &text, &n, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    int trim = keep_max >= 0;
    char *out = trim ? malloc(n + 1) : NULL;
    if (trim && !out) {
        free(text);
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", path);
    }
    size_t len = 0;
    int dropped = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t line_len = nl ? (size_t)(nl - line) : strlen(line);
        cJSON *o = cJSON_ParseWithLength(line, line_len);
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        int is_step = cJSON_IsNumber(step);
        if (trim && !(is_step && step->valuedouble <= (double)keep_max)) {
            dropped++;
        } else {
            if (is_step && step->valuedouble > (double)tot->max_step) {
                tot->max_step = (long long)step->valuedouble;
            }
            const cJSON *secs = cJSON_GetObjectItemCaseSensitive(o, "interval_s");
            if (cJSON_IsNumber(secs) && secs->valuedouble > 0.0) {
                tot->interval_s += secs->valuedouble;
            }
            if (trim) {
                memcpy(out + len, line, line_len);
                len += line_len;
                out[len++] = '\n';
            }
        }
        cJSON_Delete(o);
        line += line_len + (nl ? 1 : 0);
    }
    free(text);
    if (dropped > 0) {
        log_info("resume: dropped %d record(s) of %s logged after step %lld", dropped, name,
                 keep_max);
        rc = file_write_atomic(path, out, len, err, err_sz);
    }
    free(out);
    return rc;
}

// Step of the first checkpoint of a run with config cfg: the first
// checkpoint_interval, the CoNAL switch to retraining, or the end.
static long long first_checkpoint_step(const RlConfig *cfg) {
    long long first = cfg->steps;
    if (cfg->checkpoint_interval > 0 && cfg->checkpoint_interval < first) {
        first = cfg->checkpoint_interval;
    }
    if (rl_config_is_conal(cfg) && cfg->search_steps > 0 && cfg->search_steps < first) {
        first = cfg->search_steps;
    }
    return first;
}

// Prepares the resume of a run without checkpoint.bin. A run that stopped
// before its first checkpoint starts again from step 0 with its saved
// config, which reproduces it exactly: scan_records then drops the records
// it logged, and this removes the best.bin of its first attempt. Records
// past the first checkpoint step mean checkpoint.bin was saved and later
// removed, so this fails and leaves every file as it is.
static int restart_without_checkpoint(const Trainer *tr, long long saved_steps, char *err,
                                      size_t err_sz) {
    RlConfig saved = tr->cfg;
    saved.steps = saved_steps;
    long long first = first_checkpoint_step(&saved);
    RecordTotals tot = {-1, 0.0};
    int rc = scan_records(tr, "metrics.jsonl", -1, &tot, err, err_sz);
    if (rc == 0) {
        rc = scan_records(tr, "eval.jsonl", -1, &tot, err, err_sz);
    }
    if (rc != 0) {
        return rc;
    }
    long long last = tot.max_step;
    if (last > first) {
        return err_set(err, err_sz, ERR_ARG,
                       "--resume: %s/checkpoint.bin not found, but the run recorded steps up "
                       "to %lld in metrics.jsonl/eval.jsonl, past its first checkpoint at step "
                       "%lld, so the checkpoint was removed; restore checkpoint.bin to resume "
                       "from it, or start a new run with --out; the records and best.bin in "
                       "%s are kept",
                       tr->dir, last, first, tr->dir);
    }
    log_warn("resume: %s has no checkpoint.bin, because the run stopped before its first "
             "checkpoint; starting it again from step 0 with its config.json",
             tr->dir);
    char path[1200];
    snprintf(path, sizeof path, "%s/best.bin", tr->dir);
    if (file_exists(path) && remove(path) != 0) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    }
    return 0;
}

// Lock on the run directory, held for the whole run so that a second
// `conal train` on the same directory fails instead of interleaving writes.
static int run_lock_fd = -1;

// Creates the run directory and writes config.json (new runs) or reloads
// the checkpoint (resumes).
static int prepare_dir(Trainer *tr, const RlTrainOptions *opt, char *err, size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", tr->dir);
    if (opt->resume) {
        int rc = file_lock_dir(tr->dir, &run_lock_fd, err, err_sz);
        char ckpt[1200];
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", tr->dir);
        if (rc == 0 && !file_exists(ckpt)) {
            rc = restart_without_checkpoint(tr, tr->saved_steps, err, err_sz);
        } else if (rc == 0) {
            rc = load_checkpoint(tr, err, err_sz);
        }
        // the wall time of the earlier processes is their kept records' intervals
        RecordTotals kept = {-1, 0.0}, kept_eval = {-1, 0.0};
        if (rc == 0) {
            rc = scan_records(tr, "metrics.jsonl", tr->step, &kept, err, err_sz);
        }
        if (rc == 0) {
            rc = scan_records(tr, "eval.jsonl", tr->step, &kept_eval, err, err_sz);
        }
        tr->wall_before = kept.interval_s;
        if (rc == 0 && tr->step >= tr->cfg.steps) {
            rc = err_set(err, err_sz, ERR_ARG,
                         "run %s already finished at step %lld; pass --steps N with N larger "
                         "to extend it",
                         tr->dir, (long long)tr->step);
        }
        if (rc == 0 && tr->step % tr->cfg.episode_length != 0) {
            // only the final checkpoint of a run whose train.steps is not a
            // multiple of the episode length is taken mid-episode
            rc = err_set(err, err_sz, ERR_ARG,
                         "run %s ended mid-episode at step %lld (train.steps is not a multiple "
                         "of env.episode_length %d), so it cannot be extended exactly; start "
                         "a new run instead",
                         tr->dir, (long long)tr->step, tr->cfg.episode_length);
        }
        if (rc == 0) {
            // the saved config records the extended length
            rc = cfg_save_file(rl_config_schema(), &tr->cfg, path, err, err_sz);
        }
        return rc != 0 ? rc : restore_goals(tr, err, err_sz);
    }
    int rc = file_mkdirs(tr->dir, err, err_sz);
    if (rc == 0) {
        rc = file_lock_dir(tr->dir, &run_lock_fd, err, err_sz);
    }
    if (rc == 0) {
        rc = cfg_save_file(rl_config_schema(), &tr->cfg, path, err, err_sz);
    }
    return rc != 0 ? rc : rl_conal_run_write_arch(&tr->conal, tr->dir, err, err_sz);
}

int rl_train_main(const RlTrainOptions *opt, char *err, size_t err_sz) {
    Trainer *tr = calloc(1, sizeof *tr);
    if (!tr) {
        return err_set(err, err_sz, ERR_NOMEM, "train: out of memory");
    }
    tr->threads = opt->threads;
    tr->t_start = now_seconds();
    rl_set_blas_threads(opt->threads);
    int rc = resolve_run(tr, opt, err, err_sz);
    if (rc == 0 && opt->resume && opt->arch_path) {
        rc = err_set(err, err_sz, ERR_ARG,
                     "--arch with --resume: a resumed run keeps its own arch.json; drop --arch");
    }
    if (rc == 0) {
        rc = rl_conal_run_init(&tr->conal, &tr->cfg, tr->dir, opt->arch_path, err, err_sz);
    }
    if (rc == 0) {
        rc = trainer_init(tr, err, err_sz);
    }
    if (rc == 0 && opt->estimate) {
        rc = estimate_run(tr, err, err_sz);
    } else if (rc == 0) {
        rc = prepare_dir(tr, opt, err, err_sz);
        if (rc == 0) {
            log_start(tr, opt);
            stop_requested = 0;
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_signal;
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            rc = train_loop(tr, err, err_sz);
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
        }
    }
    trainer_deinit(tr);
    free(tr);
    if (run_lock_fd >= 0) {
        close(run_lock_fd);
        run_lock_fd = -1;
    }
    return rc;
}
