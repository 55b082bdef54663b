// CoNAL supernets behind the rl/net.h seam: a thin adapter over conal/.
//
// RlNet.params is a copy of the supernet's NnParamSet (the same pointers), so
// the trainer's zeroing, clipping and Polyak averaging act on the supernet's
// blocks, and only conal_net_destroy frees them. RlNet.shared lists the
// supernet's shared modules with their per-task gradient blocks D.
#include "rl/net_conal.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

typedef struct ConalRlNet {
    ConalNet *net;
    RlConalOptions opt;
    ConalGradMix gm;           // retrain with pcgrad or cagrad
    RngState loss_rng;         // draws the retraining loss weights
    float loss_w[RL_NET_MAX_TASKS];
    float *dy_scaled;          // (K*B x O) dy times the loss weights
    int d_fresh;               // 1 when the last backward filled D
} ConalRlNet;

static const RlNetOps conal_rl_ops;

RlConalOptions rl_conal_options_defaults(void) {
    RlConalOptions o = {NULL, CONAL_PURELY_SPECIFIC, 1, 1, CONAL_GRADMIX_SUM, 1};
    return o;
}

ConalNet *rl_net_conal(const RlNet *net) {
    return net && net->ops == &conal_rl_ops ? ((ConalRlNet *)net->impl)->net : NULL;
}

// Draws the next update's loss weights (or sets 1/K each).
static void next_loss_weights(ConalRlNet *c, int K) {
    if (c->opt.arch && c->opt.random_loss_weights) {
        conal_loss_weights_draw(&c->loss_rng, K, c->loss_w);
        return;
    }
    for (int t = 0; t < K; t++) {
        c->loss_w[t] = c->opt.arch ? 1.0f / (float)K : 1.0f;
    }
}

static const float *conal_rl_forward(RlNet *net, const float *x, int B, RlNetWeights which) {
    ConalRlNet *c = net->impl;
    return conal_net_forward(c->net, x, B, which == RL_NET_TARGET);
}

// A backward with input_grad_only set writes dx and nothing else (SAC's
// actor step through the critics). Any other backward feeds an update: it
// weighs each task's block of dy (retrain) and fills D when conflict
// noticing, gradient surgery or the caller needs it.
static void conal_rl_backward(RlNet *net, const float *dy, float *dx, int B) {
    ConalRlNet *c = net->impl;
    ConalNet *cn = c->net;
    int K = net->spec.n_tasks, O = net->spec.n_out;
    if (net->input_grad_only) {
        conal_net_backward(cn, dy, dx, B, 0);
        return;
    }
    int search = c->opt.arch == NULL;
    if (search) {
        cn->conflict = c->opt.conflict_noticing ? CONAL_CONFLICT_NOTICE : CONAL_CONFLICT_MEASURE;
    } else if (c->opt.gradmix != CONAL_GRADMIX_SUM || net->sum_task_grads) {
        cn->conflict = CONAL_CONFLICT_MEASURE;
    } else {
        // measuring leaves the retrain's update bit for bit as it is
        cn->conflict = net->want_task_grads ? CONAL_CONFLICT_OBSERVE : CONAL_CONFLICT_OFF;
    }

    // task t's loss is weighted by w_t: scale its block of dy
    const float *g = dy;
    if (!search) {
        size_t rows = (size_t)B, n_out = (size_t)O;
        for (int t = 0; t < K; t++) {
            for (size_t i = 0; i < rows * n_out; i++) {
                size_t j = (size_t)t * rows * n_out + i;
                c->dy_scaled[j] = c->loss_w[t] * dy[j];
            }
        }
        g = c->dy_scaled;
    }
    conal_net_backward(cn, g, dx, B, CONAL_GRAD_WEIGHTS);
    c->d_fresh = cn->task_grads_valid;

    // the supernet's Gram matrices, in the shared-layer views
    net->task_grads_fresh = cn->task_grads_valid && net->n_shared > 0;
    for (int s = 0, q = 1; net->task_grads_fresh && q < cn->P; q++) {
        const float *G = conal_net_gram(cn, q);
        if (!G) {
            continue;
        }
        for (int i = 0; i < K * K; i++) {
            net->shared[s].gram[i] = (double)G[i];
        }
        s++;
    }
}

// One step through conal_net_step (conflict noticing, surgery, Adam with
// one step count per shared module), then the next loss weights.
static void conal_rl_apply_update(RlNet *net, const NnAdamConfig *adam) {
    ConalRlNet *c = net->impl;
    ConalNet *cn = c->net;
    ASSERT(c->d_fresh || (c->opt.arch && c->opt.gradmix == CONAL_GRADMIX_SUM),
           "conal update: the last backward kept no per-task gradients; run a backward "
           "without dx before the update");
    cn->combine = c->opt.gradmix != CONAL_GRADMIX_SUM ? conal_gradmix_hook : NULL;
    cn->combine_ctx = &c->gm;
    conal_net_step(cn, adam);
    c->d_fresh = 0;
    net->adam_step = cn->step_rest;
    next_loss_weights(c, net->spec.n_tasks);
}

// ---- checkpoints ----

// Counters of the supernet, in one int64 section.
enum { N_COUNTERS = 2 + 2 * CONAL_MAX_SLOTS };

static void pack_counters(const ConalNet *cn, int64_t *out) {
    out[0] = cn->step_rest;
    out[1] = cn->step_alpha;
    for (int q = 0; q < CONAL_MAX_SLOTS; q++) {
        out[2 + q] = cn->step_shared[q];
        out[2 + CONAL_MAX_SLOTS + q] = cn->stop_count[q];
    }
}

static int conal_rl_save(const RlNet *net, NnCkptWriter *w, const char *prefix, char *err,
                         size_t err_sz) {
    const ConalRlNet *c = net->impl;
    const ConalNet *cn = c->net;
    char name[NN_CKPT_NAME_LEN];
    int64_t counters[N_COUNTERS];
    pack_counters(cn, counters);
    snprintf(name, sizeof name, "%s.conal_counts", prefix);
    int rc = nn_ckpt_write(w, name, counters, sizeof counters, err, err_sz);
    snprintf(name, sizeof name, "%s.conal_rng", prefix);
    if (rc == 0) {
        rc = nn_ckpt_write(w, name, &c->loss_rng, sizeof c->loss_rng, err, err_sz);
    }
    snprintf(name, sizeof name, "%s.conal_gm_rng", prefix);
    if (rc == 0) {
        rc = nn_ckpt_write(w, name, &c->gm.rng, sizeof c->gm.rng, err, err_sz);
    }
    snprintf(name, sizeof name, "%s.conal_lossw", prefix);
    if (rc == 0) {
        rc = nn_ckpt_write(w, name, c->loss_w, sizeof c->loss_w, err, err_sz);
    }
    const float *alpha_blocks[3] = {cn->alpha.w, cn->alpha.m, cn->alpha.v};
    const char *suffix[3] = {"alpha", "alpha_m", "alpha_v"};
    for (int i = 0; rc == 0 && cn->alpha.n && i < 3; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, suffix[i]);
        rc = nn_ckpt_write(w, name, alpha_blocks[i], cn->alpha.n * sizeof(float), err, err_sz);
    }
    return rc;
}

static int conal_rl_load(RlNet *net, const NnCkpt *ck, const char *prefix, char *err,
                         size_t err_sz) {
    ConalRlNet *c = net->impl;
    ConalNet *cn = c->net;
    char name[NN_CKPT_NAME_LEN];
    int64_t counters[N_COUNTERS];
    snprintf(name, sizeof name, "%s.conal_counts", prefix);
    int rc = nn_ckpt_read(ck, name, counters, sizeof counters, err, err_sz);
    snprintf(name, sizeof name, "%s.conal_rng", prefix);
    if (rc == 0) {
        rc = nn_ckpt_read(ck, name, &c->loss_rng, sizeof c->loss_rng, err, err_sz);
    }
    snprintf(name, sizeof name, "%s.conal_gm_rng", prefix);
    if (rc == 0) {
        rc = nn_ckpt_read(ck, name, &c->gm.rng, sizeof c->gm.rng, err, err_sz);
    }
    snprintf(name, sizeof name, "%s.conal_lossw", prefix);
    if (rc == 0) {
        rc = nn_ckpt_read(ck, name, c->loss_w, sizeof c->loss_w, err, err_sz);
    }
    float *alpha_blocks[3] = {cn->alpha.w, cn->alpha.m, cn->alpha.v};
    const char *suffix[3] = {"alpha", "alpha_m", "alpha_v"};
    for (int i = 0; rc == 0 && cn->alpha.n && i < 3; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, suffix[i]);
        rc = nn_ckpt_read(ck, name, alpha_blocks[i], cn->alpha.n * sizeof(float), err, err_sz);
    }
    if (rc != 0) {
        return rc;
    }
    cn->step_rest = (long)counters[0];
    cn->step_alpha = (long)counters[1];
    for (int q = 0; q < CONAL_MAX_SLOTS; q++) {
        cn->step_shared[q] = (long)counters[2 + q];
        cn->stop_count[q] = (long)counters[2 + CONAL_MAX_SLOTS + q];
    }
    return 0;
}

static void conal_rl_destroy(RlNet *net) {
    ConalRlNet *c = net->impl;
    if (c) {
        conal_net_destroy(c->net);
        free(c->dy_scaled);
        free(c);
    }
    free(net);
}

static const RlNetOps conal_rl_ops = {
    .forward = conal_rl_forward,
    .backward = conal_rl_backward,
    .apply_update = conal_rl_apply_update,
    .save = conal_rl_save,
    .load = conal_rl_load,
    .destroy = conal_rl_destroy,
};

// ---- create ----

int rl_conal_spec(const RlNetSpec *spec, ConalSpecificKind kind, ConalNetSpec *out,
                  char *err, size_t err_sz) {
    if (spec->n_hidden < 1 || spec->n_hidden > CONAL_MAX_SLOTS) {
        return err_set(err, err_sz, ERR_CONFIG, "conal: %d hidden layers; the supernet needs 1 "
                       "to %d", spec->n_hidden, CONAL_MAX_SLOTS);
    }
    memset(out, 0, sizeof *out);
    out->n_tasks = spec->n_tasks;
    out->n_slots = spec->n_hidden;
    int width = spec->n_in;
    for (int q = 0; q < spec->n_hidden; q++) {
        out->slots[q] = conal_dense_module(width, spec->hidden[q], spec->act);
        width = spec->hidden[q];
    }
    out->decoder = conal_dense_module(width, spec->n_out, NN_ACT_NONE);
    out->specific = kind;
    out->max_block = spec->max_block;
    return conal_spec_validate(out, err, err_sz);
}

RlNet *rl_net_create_conal(const RlNetSpec *spec, const RlConalOptions *opt, RngState *rng,
                           char *err, size_t err_sz) {
    ConalNetSpec cs;
    if (rl_conal_spec(spec, opt->specific, &cs, err, err_sz) != 0) {
        return NULL;
    }
    if (opt->arch && conal_arch_apply(opt->arch, &cs, &cs, err, err_sz) != 0) {
        return NULL;
    }
    ConalNet *cn = conal_net_create(&cs, spec->with_target, rng, err, err_sz);
    if (!cn) {
        return NULL;
    }
    RlNet *net = err_xcalloc(1, sizeof *net, "conal rl net");
    ConalRlNet *c = err_xcalloc(1, sizeof *c, "conal rl state");
    c->net = cn;
    c->opt = *opt;
    c->dy_scaled = malloc((size_t)spec->n_tasks * (size_t)spec->max_block *
                          (size_t)spec->n_out * sizeof(float));
    net->ops = &conal_rl_ops;
    net->impl = c;
    if (!c->dy_scaled) {
        rl_net_destroy(net);
        err_set(err, err_sz, ERR_NOMEM, "conal: cannot allocate the loss-weight buffer");
        return NULL;
    }
    net->spec = *spec;
    net->n_in_total = spec->n_in;
    net->one_hot = 0;
    net->params = cn->params;

    // the shared modules are the per-task gradient segments
    for (int q = 0; q < cs.n_slots; q++) {
        if (cn->shared_n[q] == 0) {
            continue;
        }
        RlSharedLayer *l = &net->shared[net->n_shared++];
        snprintf(l->name, sizeof l->name, "hidden%d", q);
        l->offset = cn->shared_off[q];
        l->n = cn->shared_n[q];
        l->d = cn->task_grads[q];
    }
    rng_init_stream(&c->loss_rng, opt->seed, 1);
    conal_gradmix_init(&c->gm, opt->gradmix, spec->has_cagrad ? &spec->cagrad : NULL, opt->seed);
    next_loss_weights(c, spec->n_tasks);
    return net;
}

size_t rl_net_conal_estimate_bytes(const RlNetSpec *spec) {
    ConalNetSpec cs;
    if (rl_conal_spec(spec, CONAL_PURELY_SPECIFIC, &cs, NULL, 0) != 0) {
        return 0;
    }
    size_t dy = (size_t)spec->n_tasks * (size_t)spec->max_block * (size_t)spec->n_out;
    return conal_spec_estimate_bytes(&cs, spec->with_target) + dy * sizeof(float);
}

void rl_net_conal_arch_backward(RlNet *net, const float *dy, int B) {
    ConalNet *cn = rl_net_conal(net);
    ASSERT(cn && !cn->spec.derived, "conal arch backward: net is not a search supernet");
    conal_net_backward(cn, dy, NULL, B, CONAL_GRAD_ALPHA);
}

void rl_net_conal_arch_step(RlNet *net, const NnAdamConfig *adam) {
    ConalNet *cn = rl_net_conal(net);
    ASSERT(cn && !cn->spec.derived, "conal arch step: net is not a search supernet");
    conal_net_alpha_step(cn, adam);
}
