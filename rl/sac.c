// Multi-task SAC update: critic, actor and temperature steps on one batch.
//
// Dimension letters: K tasks, B rows per task block, O observation, A action.
// Row r of a batch belongs to task r / B. See sac.h for the objectives.
#include "rl/sac.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"

// ---- creation ----

// Spec fields shared by actor and critics.
static void spec_common(const RlConfig *cfg, int n_tasks, RlNetSpec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->method = (RlMethod)rl_method_parse(cfg->method);
    spec->n_tasks = n_tasks;
    spec->act = strcmp(cfg->activation, "tanh") == 0 ? NN_ACT_TANH : NN_ACT_RELU;
    spec->max_block = cfg->batch_size;
    spec->has_cagrad = 1;
    spec->cagrad = conal_cagrad_defaults();
    spec->cagrad.c = cfg->cagrad_c;
    spec->cagrad.n_iters = cfg->cagrad_iters;
    spec->cagrad.lr = cfg->cagrad_lr;
    spec->conal_specific = strcmp(cfg->conal_specific, "partially") == 0
                               ? CONAL_PARTIALLY_SPECIFIC
                               : CONAL_PURELY_SPECIFIC;
    spec->conal_conflict_noticing = cfg->conal_conflict_noticing;
    spec->conal_random_loss_weights = cfg->conal_random_loss_weights;
}

// The derived architecture of network name while a CoNAL run retrains,
// else NULL (search, or not CoNAL). The trainer checks that every entry exists.
static const ConalArchNet *conal_arch_of(const RlConfig *cfg, const char *name) {
    if (!cfg->conal_arch) {
        return NULL;
    }
    const ConalArchNet *a = conal_arch_find(cfg->conal_arch, name);
    ASSERT(a, "sac: the architecture has no network \"%s\"", name);
    return a;
}

void rl_sac_actor_spec(const RlConfig *cfg, int n_tasks, int n_obs, int n_act,
                       RlNetSpec *spec) {
    spec_common(cfg, n_tasks, spec);
    spec->n_in = n_obs;
    spec->n_out = 2 * n_act;
    spec->n_hidden = cfg->n_actor_hidden;
    memcpy(spec->hidden, cfg->actor_hidden, sizeof(int) * (size_t)cfg->n_actor_hidden);
}

void rl_sac_critic_spec(const RlConfig *cfg, int n_tasks, int n_obs, int n_act,
                        RlNetSpec *spec) {
    spec_common(cfg, n_tasks, spec);
    spec->n_in = n_obs + n_act;
    spec->n_out = 1;
    spec->n_hidden = cfg->n_critic_hidden;
    spec->with_target = 1;
    memcpy(spec->hidden, cfg->critic_hidden, sizeof(int) * (size_t)cfg->n_critic_hidden);
}

// Adam settings of one network from the config.
static NnAdamConfig adam_from(const RlConfig *cfg, double lr) {
    NnAdamConfig a = nn_adam_defaults();
    a.lr = (float)lr;
    a.beta1 = (float)cfg->adam_beta1;
    a.beta2 = (float)cfg->adam_beta2;
    a.eps = (float)cfg->adam_eps;
    return a;
}

// Allocates the update workspaces. Returns 0 or ERR_NOMEM.
static int alloc_workspace(RlSac *s) {
    size_t rows = (size_t)s->n_tasks * (size_t)s->max_block;
    size_t A = (size_t)s->n_act;
    size_t ia = (size_t)s->actor->n_in_total, iq = (size_t)s->q1->n_in_total;
    float **bufs[] = {&s->x_actor, &s->x_critic, &s->features, &s->eps_next, &s->eps_pi,
                      &s->cache.log_std, &s->cache.eps, &s->cache.u, &s->cache.action,
                      &s->logp, &s->y, &s->dq1, &s->dq2, &s->dx1, &s->dx2, &s->daction,
                      &s->dlogp, &s->dhead};
    size_t cols[] = {ia, iq, (size_t)(s->n_obs + s->n_act), A, A, A, A, A, A, 1, 1, 1, 1,
                     iq, iq, A, 1, 2 * A};
    int n = (int)(sizeof cols / sizeof cols[0]);
    ASSERT(n == (int)(sizeof bufs / sizeof bufs[0]), "alloc_workspace: table sizes differ");
    for (int i = 0; i < n; i++) {
        *bufs[i] = calloc(rows * cols[i], sizeof(float));
        if (!*bufs[i]) {
            return ERR_NOMEM;
        }
    }
    s->log_temp = calloc((size_t)s->n_tasks, sizeof(float));
    s->log_temp_m = calloc((size_t)s->n_tasks, sizeof(float));
    s->log_temp_v = calloc((size_t)s->n_tasks, sizeof(float));
    return s->log_temp && s->log_temp_m && s->log_temp_v ? 0 : ERR_NOMEM;
}

RlSac *rl_sac_create(const RlConfig *cfg, int n_tasks, int n_obs, int n_act,
                     RngState *init_rng, uint64_t noise_seed, char *err, size_t err_sz) {
    RlSac *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, err_sz, ERR_NOMEM, "sac: out of memory");
        return NULL;
    }
    s->n_tasks = n_tasks;
    s->n_obs = n_obs;
    s->n_act = n_act;
    s->max_block = cfg->batch_size;

    // networks: actor first, then the critics, each drawing its init from init_rng
    RlNetSpec spec;
    rl_sac_actor_spec(cfg, n_tasks, n_obs, n_act, &spec);
    spec.conal_arch = conal_arch_of(cfg, "actor");
    s->actor = rl_net_create(&spec, init_rng, err, err_sz);
    rl_sac_critic_spec(cfg, n_tasks, n_obs, n_act, &spec);
    spec.conal_arch = conal_arch_of(cfg, "q1");
    s->q1 = s->actor ? rl_net_create(&spec, init_rng, err, err_sz) : NULL;
    spec.conal_arch = conal_arch_of(cfg, "q2");
    s->q2 = s->q1 ? rl_net_create(&spec, init_rng, err, err_sz) : NULL;
    if (!s->q2) {
        rl_sac_destroy(s);
        return NULL;
    }
    if (alloc_workspace(s) != 0) {
        rl_sac_destroy(s);
        err_set(err, err_sz, ERR_NOMEM, "sac: out of memory for the update workspaces");
        return NULL;
    }

    // constants of the update
    s->policy.A = n_act;
    s->policy.log_std_min = (float)cfg->log_std_min;
    s->policy.log_std_max = (float)cfg->log_std_max;
    s->actor_adam = adam_from(cfg, cfg->actor_lr);
    s->critic_adam = adam_from(cfg, cfg->critic_lr);
    s->temp_adam = adam_from(cfg, cfg->temp_lr);
    s->gamma = (float)cfg->gamma;
    s->tau = (float)cfg->tau;
    s->target_entropy = (float)cfg->target_entropy;
    s->grad_clip = cfg->grad_clip;
    s->target_update_interval = cfg->target_update_interval;
    s->actor_update_interval = cfg->actor_update_interval;
    for (int t = 0; t < n_tasks; t++) {
        s->log_temp[t] = logf((float)cfg->init_temperature);
    }
    rng_init(&s->rng, noise_seed);
    return s;
}

void rl_sac_destroy(RlSac *s) {
    if (!s) {
        return;
    }
    rl_net_destroy(s->actor);
    rl_net_destroy(s->q1);
    rl_net_destroy(s->q2);
    float *bufs[] = {s->x_actor, s->x_critic, s->features, s->eps_next, s->eps_pi,
                     s->cache.log_std, s->cache.eps, s->cache.u, s->cache.action, s->logp,
                     s->y, s->dq1, s->dq2, s->dx1, s->dx2, s->daction, s->dlogp, s->dhead,
                     s->log_temp, s->log_temp_m, s->log_temp_v};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(bufs[i]);
    }
    free(s);
}

// ---- pieces of the update ----

// Packs [obs, action] rows and the one-hot into x_critic.
static void pack_critic(RlSac *s, const float *obs, const float *action, int B) {
    size_t rows = (size_t)s->n_tasks * (size_t)B;
    size_t O = (size_t)s->n_obs, A = (size_t)s->n_act;
    for (size_t r = 0; r < rows; r++) {
        memcpy(s->features + r * (O + A), obs + r * O, sizeof(float) * O);
        memcpy(s->features + r * (O + A) + O, action + r * A, sizeof(float) * A);
    }
    rl_net_pack_input(s->q1, s->features, B, s->x_critic);
}

// Samples actions for obs with noise eps: fills cache (actions) and logp,
// and returns the actor's output (valid until its next forward).
static const float *actor_sample(RlSac *s, const float *obs, const float *eps, int B) {
    rl_net_pack_input(s->actor, obs, B, s->x_actor);
    const float *head = rl_net_forward(s->actor, s->x_actor, B, RL_NET_ONLINE);
    nn_tanh_gaussian_forward(&s->policy, head, eps, s->n_tasks * B, &s->cache, s->logp);
    return head;
}

// Clips (when configured) and applies one optimiser step to net.
static void net_step(RlSac *s, RlNet *net, const NnAdamConfig *adam) {
    if (s->grad_clip > 0.0) {
        nn_grad_clip(net->params.g, net->params.n, s->grad_clip);
    }
    rl_net_update(net, adam);
}

// ---- the twin critics, side by side ----
//
// Q1 and Q2 read the same inputs and write only their own networks and
// buffers, so they run as one parallel job of two items (nn/gemm.h): with
// two or more threads, concurrently, each on one thread.

void rl_sac_twin_run(TeamFn fn, void *ctx) {
    nn_parallel_run(fn, ctx, 2);
}

RlNet *rl_sac_critic(RlSac *s, int i) {
    return i == 0 ? s->q1 : s->q2;
}

typedef struct TwinForward {
    RlSac *s;
    int B;
    RlNetWeights which;
    const float *out[2];
} TwinForward;

static void twin_forward_item(void *ctx, int i) {
    TwinForward *job = ctx;
    job->out[i] = rl_net_forward(rl_sac_critic(job->s, i), job->s->x_critic, job->B,
                                 job->which);
}

void rl_sac_twin_forward(RlSac *s, int B, RlNetWeights which, const float **q1,
                         const float **q2) {
    TwinForward job = {.s = s, .B = B, .which = which};
    rl_sac_twin_run(twin_forward_item, &job);
    *q1 = job.out[0];
    *q2 = job.out[1];
}

typedef struct TwinInputGrad {
    RlSac *s;
    int B;
} TwinInputGrad;

static void twin_input_grad_item(void *ctx, int i) {
    TwinInputGrad *job = ctx;
    RlSac *s = job->s;
    RlNet *q = rl_sac_critic(s, i);
    q->input_grad_only = 1;
    rl_net_backward(q, i == 0 ? s->dq1 : s->dq2, i == 0 ? s->dx1 : s->dx2, job->B);
    q->input_grad_only = 0;
}

void rl_sac_twin_action_grad(RlSac *s, int B) {
    TwinInputGrad job = {.s = s, .B = B};
    rl_sac_twin_run(twin_input_grad_item, &job);
    size_t rows = (size_t)s->n_tasks * (size_t)B, A = (size_t)s->n_act;
    size_t width = (size_t)s->q1->n_in_total;
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < A; j++) {
            size_t col = r * width + (size_t)s->n_obs + j;
            s->daction[r * A + j] = s->dx1[col] + s->dx2[col];
        }
    }
}

static void twin_polyak_item(void *ctx, int i) {
    RlSac *s = ctx;
    nn_params_polyak(&rl_sac_critic(s, i)->params, s->tau);
}

// Critic targets y = r + gamma (min Q' - temp logp') for every row.
static void critic_targets(RlSac *s, const RlBatch *batch, const float *eps_next) {
    int B = batch->B, K = s->n_tasks;
    actor_sample(s, batch->next_obs, eps_next, B);
    pack_critic(s, batch->next_obs, s->cache.action, B);
    const float *q1t, *q2t;
    rl_sac_twin_forward(s, B, RL_NET_TARGET, &q1t, &q2t);
    for (int t = 0; t < K; t++) {
        float temp = expf(s->log_temp[t]);
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)t * B + (size_t)b;
            float qmin = fminf(q1t[r], q2t[r]);
            s->y[r] = batch->reward[r] + s->gamma * (qmin - temp * s->logp[r]);
        }
    }
}

// One critic's loss per task, its gradient (through dq) and optimiser step.
static void critic_step(RlSac *s, RlNet *q, int B, float *dq, float *loss, float *q_mean,
                        int want_task_grads) {
    int K = s->n_tasks;
    const float *pred = rl_net_forward(q, s->x_critic, B, RL_NET_ONLINE);
    for (int t = 0; t < K; t++) {
        // each task's loss is a mean over its own block; the total is their sum
        size_t off = (size_t)t * B;
        loss[t] = nn_mse_forward_backward(pred + off, s->y + off, (size_t)B, 1.0f, dq + off);
        if (q_mean) {
            double sum = 0.0;
            for (int b = 0; b < B; b++) {
                sum += (double)pred[off + b];
            }
            q_mean[t] = (float)(sum / B);
        }
    }
    nn_params_zero_grad(&q->params);
    q->want_task_grads = want_task_grads;
    rl_net_backward(q, dq, NULL, B);
    q->want_task_grads = 0;
    net_step(s, q, &s->critic_adam);
}

typedef struct TwinStep {
    RlSac *s;
    int B;
    int want_task_grads;
} TwinStep;

// Critic i's step; only Q1 reports mean Q values and per-task gradients.
static void twin_step_item(void *ctx, int i) {
    TwinStep *job = ctx;
    RlSac *s = job->s;
    if (i == 0) {
        critic_step(s, s->q1, job->B, s->dq1, s->stats.q1_loss, s->stats.q_mean,
                    job->want_task_grads);
    } else {
        critic_step(s, s->q2, job->B, s->dq2, s->stats.q2_loss, NULL, 0);
    }
}

// Actor step through the updated critics; leaves logp of the fresh actions.
static void actor_step(RlSac *s, const RlBatch *batch, const float *eps_pi,
                       int want_task_grads) {
    int B = batch->B, K = s->n_tasks;
    size_t rows = (size_t)K * B;
    const float *head = actor_sample(s, batch->obs, eps_pi, B);
    pack_critic(s, batch->obs, s->cache.action, B);
    const float *q1, *q2;
    rl_sac_twin_forward(s, B, RL_NET_ONLINE, &q1, &q2);

    // losses and the gradient of the row means with respect to min(Q1, Q2)
    for (int t = 0; t < K; t++) {
        float temp = expf(s->log_temp[t]);
        double sum = 0.0, ent = 0.0;
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)t * B + (size_t)b;
            int first = q1[r] <= q2[r];
            float qmin = first ? q1[r] : q2[r];
            sum += (double)(temp * s->logp[r] - qmin);
            ent -= (double)s->logp[r];
            s->dq1[r] = first ? -1.0f / (float)B : 0.0f;
            s->dq2[r] = first ? 0.0f : -1.0f / (float)B;
            s->dlogp[r] = temp / (float)B;
        }
        s->stats.actor_loss[t] = (float)(sum / B);
        s->stats.entropy[t] = (float)(ent / B);
    }

    // d loss / d action through both critics, without their parameter
    // gradients, which this step does not use
    rl_sac_twin_action_grad(s, B);

    // back through the squashed Gaussian and the actor
    nn_tanh_gaussian_backward(&s->policy, head, &s->cache, s->daction, s->dlogp, (int)rows,
                              s->dhead);
    nn_params_zero_grad(&s->actor->params);
    s->actor->want_task_grads = want_task_grads;
    rl_net_backward(s->actor, s->dhead, NULL, B);
    s->actor->want_task_grads = 0;
    net_step(s, s->actor, &s->actor_adam);
}

// Temperature step: d/d log_temp_t of -log_temp_t * mean(logp + target_entropy).
static void temperature_step(RlSac *s, int B) {
    int K = s->n_tasks;
    float grad[RL_NET_MAX_TASKS];
    for (int t = 0; t < K; t++) {
        double sum = 0.0;
        for (int b = 0; b < B; b++) {
            sum += (double)(s->logp[(size_t)t * B + (size_t)b] + s->target_entropy);
        }
        float mean = (float)(sum / B);
        s->stats.temp_loss[t] = -s->log_temp[t] * mean;
        grad[t] = -mean;
        s->stats.temp_grad[t] = grad[t];
    }
    s->temp_step++;
    nn_adam_update(&s->temp_adam, s->temp_step, s->log_temp, grad, s->log_temp_m,
                   s->log_temp_v, (size_t)K);
}

void rl_sac_update_with_noise(RlSac *s, const RlBatch *batch, const float *eps_next,
                              const float *eps_pi, int want_task_grads) {
    int B = batch->B;
    ASSERT(batch->n_tasks == s->n_tasks, "rl_sac_update: batch has %d tasks, agent %d",
           batch->n_tasks, s->n_tasks);
    ASSERT(B >= 1 && B <= s->max_block, "rl_sac_update: B=%d outside 1..%d", B,
           s->max_block);

    // critics: targets with the current actor and temperatures
    critic_targets(s, batch, eps_next);
    pack_critic(s, batch->obs, batch->action, B);
    TwinStep step = {.s = s, .B = B, .want_task_grads = want_task_grads};
    rl_sac_twin_run(twin_step_item, &step);

    // actor and temperatures, with the updated critics
    s->n_updates++;
    if (s->n_updates % s->actor_update_interval == 0) {
        actor_step(s, batch, eps_pi, want_task_grads);
        temperature_step(s, B);
    }
    if (s->n_updates % s->target_update_interval == 0) {
        rl_sac_twin_run(twin_polyak_item, s);
    }
}

void rl_sac_update(RlSac *s, const RlBatch *batch, int want_task_grads) {
    size_t n = (size_t)s->n_tasks * (size_t)batch->B * (size_t)s->n_act;
    for (size_t i = 0; i < n; i++) {
        s->eps_next[i] = (float)rng_normal(&s->rng);
    }
    for (size_t i = 0; i < n; i++) {
        s->eps_pi[i] = (float)rng_normal(&s->rng);
    }
    rl_sac_update_with_noise(s, batch, s->eps_next, s->eps_pi, want_task_grads);
}

void rl_sac_act(RlSac *s, const float *obs, int B, int deterministic, RngState *rng,
                float *actions) {
    size_t n = (size_t)s->n_tasks * (size_t)B * (size_t)s->n_act;
    rl_net_pack_input(s->actor, obs, B, s->x_actor);
    const float *head = rl_net_forward(s->actor, s->x_actor, B, RL_NET_ONLINE);
    if (deterministic) {
        nn_tanh_gaussian_mean_action(&s->policy, head, s->n_tasks * B, actions);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        s->eps_pi[i] = (float)rng_normal(rng);
    }
    nn_tanh_gaussian_forward(&s->policy, head, s->eps_pi, s->n_tasks * B, &s->cache, s->logp);
    memcpy(actions, s->cache.action, sizeof(float) * n);
}

float rl_sac_temperature(const RlSac *s, int t) {
    return expf(s->log_temp[t]);
}

// ---- checkpoints and sizes ----

int rl_sac_save(const RlSac *s, NnCkptWriter *w, char *err, size_t err_sz) {
    size_t K = (size_t)s->n_tasks;
    int64_t counters[2] = {s->n_updates, s->temp_step};
    int rc;
    if ((rc = rl_net_save(s->actor, w, "actor", err, err_sz)) != 0 ||
        (rc = rl_net_save(s->q1, w, "q1", err, err_sz)) != 0 ||
        (rc = rl_net_save(s->q2, w, "q2", err, err_sz)) != 0 ||
        (rc = nn_ckpt_write(w, "sac.log_temp", s->log_temp, K * sizeof(float), err,
                            err_sz)) != 0 ||
        (rc = nn_ckpt_write(w, "sac.log_temp_m", s->log_temp_m, K * sizeof(float), err,
                            err_sz)) != 0 ||
        (rc = nn_ckpt_write(w, "sac.log_temp_v", s->log_temp_v, K * sizeof(float), err,
                            err_sz)) != 0 ||
        (rc = nn_ckpt_write(w, "sac.counters", counters, sizeof counters, err, err_sz)) != 0) {
        return rc;
    }
    return nn_ckpt_write(w, "sac.rng", &s->rng, sizeof s->rng, err, err_sz);
}

int rl_sac_load(RlSac *s, const NnCkpt *ck, char *err, size_t err_sz) {
    size_t K = (size_t)s->n_tasks;
    int64_t counters[2];
    int rc;
    if ((rc = rl_net_load(s->actor, ck, "actor", err, err_sz)) != 0 ||
        (rc = rl_net_load(s->q1, ck, "q1", err, err_sz)) != 0 ||
        (rc = rl_net_load(s->q2, ck, "q2", err, err_sz)) != 0 ||
        (rc = nn_ckpt_read(ck, "sac.log_temp", s->log_temp, K * sizeof(float), err,
                           err_sz)) != 0 ||
        (rc = nn_ckpt_read(ck, "sac.log_temp_m", s->log_temp_m, K * sizeof(float), err,
                           err_sz)) != 0 ||
        (rc = nn_ckpt_read(ck, "sac.log_temp_v", s->log_temp_v, K * sizeof(float), err,
                           err_sz)) != 0 ||
        (rc = nn_ckpt_read(ck, "sac.counters", counters, sizeof counters, err, err_sz)) != 0 ||
        (rc = nn_ckpt_read(ck, "sac.rng", &s->rng, sizeof s->rng, err, err_sz)) != 0) {
        return rc;
    }
    s->n_updates = (long)counters[0];
    s->temp_step = (long)counters[1];
    return 0;
}

size_t rl_sac_estimate_bytes(const RlConfig *cfg, int n_tasks, int n_obs, int n_act) {
    RlNetSpec actor, critic;
    rl_sac_actor_spec(cfg, n_tasks, n_obs, n_act, &actor);
    rl_sac_critic_spec(cfg, n_tasks, n_obs, n_act, &critic);
    size_t rows = (size_t)n_tasks * (size_t)cfg->batch_size;
    size_t width = (size_t)(n_obs + n_act + n_tasks);
    size_t work = sizeof(float) * rows * (8 * width + 12 * (size_t)n_act + 8);
    return rl_net_estimate_bytes(&actor) + 2 * rl_net_estimate_bytes(&critic) + work;
}
