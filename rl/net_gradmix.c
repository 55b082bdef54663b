// PCGrad and CAGrad as a thin layer over the dense MT-SAC network.
//
// The dense network owns forward, backward, weights and checkpoints, and
// this file wraps its method table. Backward always fills the per-task
// gradient blocks D of the shared layers and their Gram matrices. The
// optimiser step replaces each shared layer's summed gradient with c^T D
// before Adam. The weights c come from conal_gradmix_weights on the Gram
// matrix summed over all shared layers.
// While a dense operation runs, net->impl points back to the dense state.
#include "rl/net_gradmix.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "conal/gradmix.h"

typedef struct GradmixNet {
    const RlNetOps *base_ops;   // the dense network's table
    void *base_impl;            // the dense network's state, owned by it
    ConalGradMix gm;
    int d_fresh;                // 1 when a backward filled D since the last update
} GradmixNet;

// Points net->impl at the dense state for one call and returns the wrapper.
static GradmixNet *enter_base(RlNet *net) {
    GradmixNet *g = net->impl;
    net->impl = g->base_impl;
    return g;
}

static const float *gradmix_forward(RlNet *net, const float *x, int B, RlNetWeights which) {
    GradmixNet *g = enter_base(net);
    const float *y = g->base_ops->forward(net, x, B, which);
    net->impl = g;
    return y;
}

// Backward that fills D whenever its gradient may feed an update, that is
// unless the caller set input_grad_only (SAC's actor step does so for the
// critics, whose weight gradients it does not use).
static void gradmix_backward(RlNet *net, const float *dy, float *dx, int B) {
    GradmixNet *g = enter_base(net);
    net->sum_task_grads = !net->input_grad_only;
    g->base_ops->backward(net, dy, dx, B);
    net->sum_task_grads = 0;
    net->impl = g;

    // an input-gradient pass leaves params.g and D as they were
    if (!net->input_grad_only) {
        g->d_fresh = 1;
    }
}

// Combines the shared layers' task gradients into params.g, then one Adam
// step. D comes from the last backward, so that backward must be the only
// one since params.g was zeroed, as in SAC's critic and actor steps.
// NOTE: SAC clips params.g (agent.grad_clip > 0) before this runs, so the
// clip bounds the plain sum and not the combined gradient.
static void gradmix_apply_update(RlNet *net, const NnAdamConfig *adam) {
    GradmixNet *g = net->impl;
    ASSERT(g->d_fresh, "%s update: no backward filled the per-task gradients since the last "
           "update", rl_method_names[net->spec.method]);
    g->d_fresh = 0;
    // weights from the Gram matrices the backward formed, then c^T D per layer
    int K = net->spec.n_tasks;
    double G[RL_NET_MAX_TASKS * RL_NET_MAX_TASKS] = {0};
    for (int s = 0; s < net->n_shared; s++) {
        for (int i = 0; i < K * K; i++) {
            G[i] += net->shared[s].gram[i];
        }
    }
    double c[RL_NET_MAX_TASKS];
    conal_gradmix_weights(&g->gm, K, G, c);
    for (int s = 0; s < net->n_shared; s++) {
        const RlSharedLayer *sl = &net->shared[s];
        conal_gradmix_combine(c, sl->d, K, sl->n, sl->n, net->params.g + sl->offset);
    }

    net->adam_step++;
    nn_adam_update(adam, net->adam_step, net->params.w, net->params.g, net->params.m,
                   net->params.v, net->params.n);
}

// Saves PCGrad's order generator so a resumed run draws the same orders.
static int gradmix_save(const RlNet *net, NnCkptWriter *w, const char *prefix, char *err,
                        size_t err_sz) {
    const GradmixNet *g = net->impl;
    char name[64];
    snprintf(name, sizeof name, "%s.mix_rng", prefix);
    return nn_ckpt_write(w, name, g->gm.rng.s, sizeof g->gm.rng.s, err, err_sz);
}

static int gradmix_load(RlNet *net, const NnCkpt *ck, const char *prefix, char *err,
                        size_t err_sz) {
    GradmixNet *g = net->impl;
    char name[64];
    snprintf(name, sizeof name, "%s.mix_rng", prefix);
    g->gm.rng.has_spare = 0;
    return nn_ckpt_read(ck, name, g->gm.rng.s, sizeof g->gm.rng.s, err, err_sz);
}

static void gradmix_destroy(RlNet *net) {
    GradmixNet *g = enter_base(net);
    const RlNetOps *base = g->base_ops;
    free(g);
    base->destroy(net);
}

static const RlNetOps gradmix_ops = {
    .forward = gradmix_forward,
    .backward = gradmix_backward,
    .apply_update = gradmix_apply_update,
    .save = gradmix_save,
    .load = gradmix_load,
    .destroy = gradmix_destroy,
};

RlNet *rl_net_create_gradmix(const RlNetSpec *spec, RngState *rng, char *err, size_t err_sz) {
    ConalGradMixMethod method;
    switch (spec->method) {
    case RL_METHOD_PCGRAD:
        method = CONAL_GRADMIX_PCGRAD;
        break;
    case RL_METHOD_CAGRAD:
        method = CONAL_GRADMIX_CAGRAD;
        break;
    default:
        err_set(err, err_sz, ERR_CONFIG, "rl_net_create_gradmix: method %d is not pcgrad or "
                "cagrad", (int)spec->method);
        return NULL;
    }
    if (spec->n_tasks > CONAL_GRADMIX_MAX_TASKS) {
        err_set(err, err_sz, ERR_CONFIG, "agent.method %s: %d tasks, at most %d",
                rl_method_names[spec->method], spec->n_tasks, CONAL_GRADMIX_MAX_TASKS);
        return NULL;
    }

    // the MT-SAC layout: every level shared, task one-hot on the input
    RlNet *net = rl_net_create_dense(spec, spec->n_hidden + 1, 1, NULL, rng, err, err_sz);
    if (!net) {
        return NULL;
    }
    GradmixNet *g = calloc(1, sizeof *g);
    if (!g) {
        rl_net_destroy(net);
        err_set(err, err_sz, ERR_NOMEM, "network: out of memory");
        return NULL;
    }
    g->base_ops = net->ops;
    g->base_impl = net->impl;
    // the order seed comes from a copy of rng, so networks created after this
    // one get the same weights as under MT-SAC for the same seed
    RngState peek = *rng;
    uint64_t seed = rng_next_u64(&peek) ^ UINT64_C(0x9e3779b97f4a7c15);
    conal_gradmix_init(&g->gm, method, spec->has_cagrad ? &spec->cagrad : NULL, seed);
    net->ops = &gradmix_ops;
    net->impl = g;
    return net;
}
