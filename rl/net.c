// Dense task-blocked networks behind the rl/net.h seam (stl, mtsac, mhsac).
//
// Dimension letters: K tasks, B rows per task block, I input, O output.
// A network is a chain of levels. A shared level is one dense layer applied
// to all K*B rows; a per-task level holds K layers, layer t applied to block
// t only. Backward through a shared level can split the weight gradient by
// task (K sgemms of B rows instead of one of K*B rows), which gives the
// per-task gradient blocks of rl/net.h at about the cost of the plain one.
// This file does not do gradient surgery; methods that do pass apply_update.
#include "rl/net.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "conal/gradmix.h"
#include "nn/gemm.h"
#include "rl/net_conal.h"
#include "rl/net_gradmix.h"

const char *const rl_method_names[] = {
    "stl", "mtsac", "mhsac", "pcgrad", "cagrad", "conal", "conal-pcgrad", "conal-cagrad", NULL,
};

#define MAX_LEVELS (RL_NET_MAX_HIDDEN + 1)

// Columns of D per pass of the fused sum and Gram loop: K rows of 2048
// floats (80 KB at K = 10) stay in L2 between the two uses.
#define GRAM_CHUNK 2048

typedef struct DenseLevel {
    int shared;                        // 1: one layer for all rows; 0: one per task
    int n_in, n_out;
    NnActivation act;
    NnLinear online[RL_NET_MAX_TASKS]; // [0] only when shared
    NnLinear target[RL_NET_MAX_TASKS]; // views into params.target, when kept
    int shared_index;                  // index into net->shared, or -1
} DenseLevel;

typedef struct Dense {
    int n_levels;
    DenseLevel levels[MAX_LEVELS];
    float *acts[MAX_LEVELS + 1];       // (K*B_max x width) online activations
    float *tacts[MAX_LEVELS + 1];      // (K*B_max x width) target activations
    float *dbuf[2];                    // (K*B_max x max width) backward scratch
    double *gram_parts;                // (chunks x K x K) per-chunk Gram products
    float *scratch_grad;               // (n) sink for target-view gradients
    int last_B;                        // B of the last online forward
    void (*apply_update)(RlNet *net, const NnAdamConfig *adam);
} Dense;

// Parses agent.method.
int rl_method_parse(const char *name) {
    for (int i = 0; rl_method_names[i]; i++) {
        if (strcmp(rl_method_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

// Width of level l's input and output from the spec.
static void level_dims(const RlNetSpec *spec, int n_in_total, int l, int *in, int *out) {
    *in = l == 0 ? n_in_total : spec->hidden[l - 1];
    *out = l == spec->n_hidden ? spec->n_out : spec->hidden[l];
}

// Floats of parameters for the dense layout.
static size_t dense_count_params(const RlNetSpec *spec, int n_in_total, int n_shared_levels) {
    size_t n = 0;
    for (int l = 0; l <= spec->n_hidden; l++) {
        int in, out;
        level_dims(spec, n_in_total, l, &in, &out);
        size_t copies = l < n_shared_levels ? 1 : (size_t)spec->n_tasks;
        n += copies * nn_linear_n_params(in, out);
    }
    return n;
}

// Largest layer width of the network, input included.
static int dense_max_width(const RlNetSpec *spec, int n_in_total) {
    int w = n_in_total > spec->n_out ? n_in_total : spec->n_out;
    for (int l = 0; l < spec->n_hidden; l++) {
        w = spec->hidden[l] > w ? spec->hidden[l] : w;
    }
    return w;
}

// Checks the spec; returns 0 or ERR_CONFIG with a message.
static int spec_check(const RlNetSpec *spec, char *err, size_t err_sz) {
    if (spec->n_tasks < 1 || spec->n_tasks > RL_NET_MAX_TASKS) {
        return err_set(err, err_sz, ERR_CONFIG, "network: %d tasks, expected 1..%d",
                       spec->n_tasks, RL_NET_MAX_TASKS);
    }
    if (spec->n_hidden < 0 || spec->n_hidden > RL_NET_MAX_HIDDEN) {
        return err_set(err, err_sz, ERR_CONFIG, "network: %d hidden layers, expected 0..%d",
                       spec->n_hidden, RL_NET_MAX_HIDDEN);
    }
    if (spec->n_in < 1 || spec->n_out < 1 || spec->max_block < 1) {
        return err_set(err, err_sz, ERR_CONFIG,
                       "network: invalid sizes n_in=%d n_out=%d max_block=%d", spec->n_in,
                       spec->n_out, spec->max_block);
    }
    for (int l = 0; l < spec->n_hidden; l++) {
        if (spec->hidden[l] < 1) {
            return err_set(err, err_sz, ERR_CONFIG, "network: hidden[%d] = %d, expected > 0",
                           l, spec->hidden[l]);
        }
    }
    return 0;
}

// ---- forward and backward ----

// Runs one level over K blocks of B rows.
static void level_forward(const DenseLevel *lv, const NnLinear *layers, int K, int B,
                          const float *x, float *y) {
    if (lv->shared) {
        nn_linear_forward_act(&layers[0], x, y, K * B, lv->act);
    } else {
        for (int t = 0; t < K; t++) {
            nn_linear_forward_act(&layers[t], x + (size_t)t * B * lv->n_in,
                                  y + (size_t)t * B * lv->n_out, B, lv->act);
        }
    }
}

// Forward pass over the online or target weights.
static const float *dense_forward(RlNet *net, const float *x, int B, RlNetWeights which) {
    Dense *d = net->impl;
    int K = net->spec.n_tasks;
    ASSERT(B >= 1 && B <= net->spec.max_block, "dense_forward: B=%d outside 1..%d", B,
           net->spec.max_block);
    ASSERT(which == RL_NET_ONLINE || net->params.target, "dense_forward: no target kept");
    float **acts = which == RL_NET_ONLINE ? d->acts : d->tacts;
    memcpy(acts[0], x, sizeof(float) * (size_t)K * B * net->n_in_total);
    for (int l = 0; l < d->n_levels; l++) {
        const DenseLevel *lv = &d->levels[l];
        const NnLinear *layers = which == RL_NET_ONLINE ? lv->online : lv->target;
        level_forward(lv, layers, K, B, acts[l], acts[l + 1]);
    }
    if (which == RL_NET_ONLINE) {
        d->last_B = B;
    }
    return acts[d->n_levels];
}

// dx (rows x I) = dz (rows x O) W for one layer, without parameter gradients.
static void input_grad(const NnLinear *layer, const float *dz, float *dx, int rows) {
    nn_sgemm(0, 0, rows, layer->n_in, layer->n_out,
                1.0f, dz, layer->n_out, layer->w, layer->n_in, 0.0f, dx, layer->n_in);
}

// One parallel job of shared_backward_split: items are tasks (weight
// gradients) or column chunks of D (sum and Gram), each writing its own
// memory, so the result does not depend on the thread count.
typedef struct SplitJob {
    RlSharedLayer *sl;
    const DenseLevel *lv;
    const float *x, *dz;
    float *g;                          // the layer's summed gradient in params.g
    double *parts;                     // (chunks x K x K)
    int K, B;
    int add_sum;                       // 1: g is the sum of D's rows
} SplitJob;

// Task t's block of D: dW_t = dz_t^T x_t and db_t = column sums of dz_t,
// written with beta = 0, so D needs no zeroing first.
static void split_task_item(void *ctx, int t) {
    const SplitJob *job = ctx;
    int n_in = job->lv->n_in, n_out = job->lv->n_out, B = job->B;
    const float *dz_t = job->dz + (size_t)t * B * n_out;
    float *dw = job->sl->d + (size_t)t * job->sl->n;
    float *db = dw + (size_t)n_in * n_out;
    nn_sgemm(1, 0, n_out, n_in, B, 1.0f, dz_t, n_out, job->x + (size_t)t * B * n_in, n_in, 0.0f,
             dw, n_in);
    memset(db, 0, sizeof(float) * (size_t)n_out);
    nn_dense_bias_grad(db, dz_t, B, n_out);
}

// Chunk c of D's columns: the task rows summed into g and their Gram
// product, while the chunk is in cache.
static void split_chunk_item(void *ctx, int c) {
    const SplitJob *job = ctx;
    const RlSharedLayer *sl = job->sl;
    size_t b = (size_t)c * GRAM_CHUNK;
    size_t len = sl->n - b < GRAM_CHUNK ? sl->n - b : GRAM_CHUNK;
    for (int t = 0; job->add_sum && t < job->K; t++) {
        const float *row = sl->d + (size_t)t * sl->n + b;
        for (size_t i = 0; i < len; i++) {
            job->g[b + i] += row[i];
        }
    }
    double *part = job->parts + (size_t)c * (size_t)(job->K * job->K);
    memset(part, 0, sizeof(double) * (size_t)(job->K * job->K));
    conal_gram_accumulate(sl->d + b, job->K, len, sl->n, part);
}

// Backward through a shared level with its weight gradient split by task
// into the level's D block and the Gram matrix D D^T (the chunks' products
// added in chunk order). With from_d, the summed gradient in params.g is the
// sum of D's rows, which saves a product. Otherwise it comes from the same
// full-batch product as a backward without D. Observing the per-task
// gradients then leaves the update bit for bit unchanged.
static void shared_backward_split(RlNet *net, DenseLevel *lv, const float *x,
                                  const float *dz, float *dx, int B, int from_d) {
    Dense *d = net->impl;
    int K = net->spec.n_tasks;
    RlSharedLayer *sl = &net->shared[lv->shared_index];
    SplitJob job = {sl, lv, x, dz, net->params.g + sl->offset, d->gram_parts, K, B, from_d};
    if (!from_d) {
        nn_linear_backward(&lv->online[0], x, dz, dx, K * B);
    }
    nn_parallel_run(split_task_item, &job, K);
    if (dx && from_d) {
        input_grad(&lv->online[0], dz, dx, K * B);
    }
    int n_chunks = (int)((sl->n + GRAM_CHUNK - 1) / GRAM_CHUNK);
    nn_parallel_run(split_chunk_item, &job, n_chunks);
    memset(sl->gram, 0, sizeof(double) * (size_t)(K * K));
    for (int c = 0; c < n_chunks; c++) {
        const double *part = d->gram_parts + (size_t)c * (size_t)(K * K);
        for (int i = 0; i < K * K; i++) {
            sl->gram[i] += part[i];
        }
    }
}

// Input gradients of one level only (SAC's actor step through the critics,
// whose parameter gradients it would discard).
static void level_input_grad(const DenseLevel *lv, int K, int B, const float *dz, float *dx) {
    if (lv->shared) {
        input_grad(&lv->online[0], dz, dx, K * B);
        return;
    }
    for (int t = 0; t < K; t++) {
        input_grad(&lv->online[t], dz + (size_t)t * B * lv->n_out,
                   dx + (size_t)t * B * lv->n_in, B);
    }
}

// Backward pass through the last online forward.
static void dense_backward(RlNet *net, const float *dy, float *dx, int B) {
    Dense *d = net->impl;
    int K = net->spec.n_tasks;
    ASSERT(B == d->last_B, "dense_backward: B=%d but the last forward had B=%d", B,
           d->last_B);
    const float *dcur = dy;
    int split = net->want_task_grads || net->sum_task_grads;
    for (int l = d->n_levels - 1; l >= 0; l--) {
        DenseLevel *lv = &d->levels[l];
        size_t n_out = (size_t)K * B * lv->n_out;

        // dz = dcur * act'(y), kept in the scratch buffer the level's dx does not use
        float *dz = d->dbuf[l & 1];
        nn_activation_backward(lv->act, d->acts[l + 1], dcur, dz, n_out);
        float *dxl = l > 0 ? d->dbuf[(l + 1) & 1] : dx;

        // parameter gradients and the input gradient
        const float *x = d->acts[l];
        if (net->input_grad_only) {
            if (dxl) {
                level_input_grad(lv, K, B, dz, dxl);
            }
        } else if (lv->shared && split && lv->shared_index >= 0) {
            shared_backward_split(net, lv, x, dz, dxl, B, net->sum_task_grads);
        } else if (lv->shared) {
            nn_linear_backward(&lv->online[0], x, dz, dxl, K * B);
        } else {
            for (int t = 0; t < K; t++) {
                nn_linear_backward(&lv->online[t], x + (size_t)t * B * lv->n_in,
                                   dz + (size_t)t * B * lv->n_out,
                                   dxl ? dxl + (size_t)t * B * lv->n_in : NULL, B);
            }
        }
        dcur = dxl;
    }
    if (!net->input_grad_only) {
        net->task_grads_fresh = split && net->n_shared > 0;
    }
}

// Plain Adam on the summed gradient.
static void adam_apply(RlNet *net, const NnAdamConfig *adam) {
    net->adam_step++;
    nn_adam_update(adam, net->adam_step, net->params.w, net->params.g, net->params.m,
                   net->params.v, net->params.n);
}

// Runs the method's update, or plain Adam.
static void dense_apply_update(RlNet *net, const NnAdamConfig *adam) {
    Dense *d = net->impl;
    if (d->apply_update) {
        d->apply_update(net, adam);
    } else {
        adam_apply(net, adam);
    }
}

// Frees a dense network.
static void dense_destroy(RlNet *net) {
    Dense *d = net->impl;
    if (d) {
        for (int l = 0; l <= d->n_levels; l++) {
            free(d->acts[l]);
            free(d->tacts[l]);
        }
        free(d->dbuf[0]);
        free(d->dbuf[1]);
        free(d->gram_parts);
        free(d->scratch_grad);
        free(d);
    }
    for (int s = 0; s < net->n_shared; s++) {
        free(net->shared[s].d);
    }
    nn_params_deinit(&net->params);
    free(net);
}

static const RlNetOps dense_ops = {
    .forward = dense_forward,
    .backward = dense_backward,
    .apply_update = dense_apply_update,
    .save = NULL,
    .load = NULL,
    .destroy = dense_destroy,
};

// ---- creation ----

// Binds every level's layers into the parameter blocks and allocates the
// per-task gradient blocks of shared levels. Returns 0 or ERR_NOMEM.
static int dense_bind(RlNet *net, Dense *d, int n_shared_levels) {
    const RlNetSpec *spec = &net->spec;
    size_t off = 0;
    for (int l = 0; l < d->n_levels; l++) {
        DenseLevel *lv = &d->levels[l];
        level_dims(spec, net->n_in_total, l, &lv->n_in, &lv->n_out);
        lv->shared = l < n_shared_levels;
        lv->act = l < spec->n_hidden ? spec->act : NN_ACT_NONE;
        lv->shared_index = -1;
        size_t per = nn_linear_n_params(lv->n_in, lv->n_out);
        int copies = lv->shared ? 1 : spec->n_tasks;
        if (lv->shared && spec->n_tasks > 1) {
            ASSERT(net->n_shared < RL_NET_MAX_SHARED, "dense_bind: too many shared levels");
            RlSharedLayer *sl = &net->shared[net->n_shared];
            snprintf(sl->name, sizeof sl->name, l < spec->n_hidden ? "hidden%d" : "output", l);
            sl->offset = off;
            sl->n = per;
            sl->d = calloc(per * (size_t)spec->n_tasks, sizeof(float));
            if (!sl->d) {
                return ERR_NOMEM;
            }
            lv->shared_index = net->n_shared++;
        }
        for (int c = 0; c < copies; c++) {
            nn_linear_bind(&lv->online[c], lv->n_in, lv->n_out, net->params.w + off,
                           net->params.g + off);
            if (net->params.target) {
                nn_linear_bind(&lv->target[c], lv->n_in, lv->n_out,
                               net->params.target + off, d->scratch_grad + off);
            }
            off += per;
        }
    }
    ASSERT(off == net->params.n, "dense_bind: bound %zu floats of %zu", off, net->params.n);
    return 0;
}

// Allocates activation and scratch buffers. Returns 0 or ERR_NOMEM.
static int dense_alloc_workspace(RlNet *net, Dense *d) {
    size_t rows = (size_t)net->spec.n_tasks * net->spec.max_block;
    for (int l = 0; l <= d->n_levels; l++) {
        int w = l == 0 ? net->n_in_total : d->levels[l - 1].n_out;
        d->acts[l] = malloc(sizeof(float) * rows * (size_t)w);
        d->tacts[l] = malloc(sizeof(float) * rows * (size_t)w);
        if (!d->acts[l] || !d->tacts[l]) {
            return ERR_NOMEM;
        }
    }
    size_t wmax = (size_t)dense_max_width(&net->spec, net->n_in_total);
    d->dbuf[0] = malloc(sizeof(float) * rows * wmax);
    d->dbuf[1] = malloc(sizeof(float) * rows * wmax);
    size_t chunks = 0, K = (size_t)net->spec.n_tasks;
    for (int s = 0; s < net->n_shared; s++) {
        size_t c = (net->shared[s].n + GRAM_CHUNK - 1) / GRAM_CHUNK;
        chunks = c > chunks ? c : chunks;
    }
    d->gram_parts = chunks ? malloc(sizeof(double) * chunks * K * K) : NULL;
    return d->dbuf[0] && d->dbuf[1] && (!chunks || d->gram_parts) ? 0 : ERR_NOMEM;
}

RlNet *rl_net_create_dense(const RlNetSpec *spec, int n_shared_levels, int one_hot,
                           void (*apply_update)(RlNet *net, const NnAdamConfig *adam),
                           RngState *rng, char *err, size_t err_sz) {
    if (spec_check(spec, err, err_sz) != 0) {
        return NULL;
    }
    RlNet *net = calloc(1, sizeof *net);
    Dense *d = calloc(1, sizeof *d);
    if (!net || !d) {
        free(net);
        free(d);
        err_set(err, err_sz, ERR_NOMEM, "network: out of memory");
        return NULL;
    }
    net->ops = &dense_ops;
    net->spec = *spec;
    net->impl = d;
    net->one_hot = one_hot;
    net->n_in_total = spec->n_in + (one_hot ? spec->n_tasks : 0);
    d->n_levels = spec->n_hidden + 1;
    d->apply_update = apply_update;

    // one block for every weight, then views, then workspaces
    size_t n = dense_count_params(spec, net->n_in_total, n_shared_levels);
    int rc = nn_params_init(&net->params, n, spec->with_target);
    if (rc == 0 && spec->with_target) {
        d->scratch_grad = calloc(n, sizeof(float));
        rc = d->scratch_grad ? 0 : ERR_NOMEM;
    }
    if (rc == 0) {
        rc = dense_bind(net, d, n_shared_levels);
    }
    if (rc == 0) {
        rc = dense_alloc_workspace(net, d);
    }
    if (rc != 0) {
        dense_destroy(net);
        err_set(err, err_sz, ERR_NOMEM, "network: out of memory for %zu parameters", n);
        return NULL;
    }

    // PyTorch's default init, level by level, copy by copy
    for (int l = 0; l < d->n_levels; l++) {
        int copies = d->levels[l].shared ? 1 : spec->n_tasks;
        for (int c = 0; c < copies; c++) {
            nn_linear_init(&d->levels[l].online[c], rng);
        }
    }
    if (spec->with_target) {
        nn_params_copy_to_target(&net->params);
    }
    return net;
}

// A CoNAL network with the options of spec. The search always sums task
// gradients; PCGrad or CAGrad act in the retrain phase of their methods.
static RlNet *create_conal(const RlNetSpec *spec, RngState *rng, char *err, size_t err_sz) {
    RlConalOptions opt = rl_conal_options_defaults();
    opt.arch = spec->conal_arch;
    opt.specific = spec->conal_specific;
    opt.conflict_noticing = spec->conal_conflict_noticing;
    opt.random_loss_weights = spec->conal_random_loss_weights;
    if (spec->conal_arch && spec->method == RL_METHOD_CONAL_PCGRAD) {
        opt.gradmix = CONAL_GRADMIX_PCGRAD;
    } else if (spec->conal_arch && spec->method == RL_METHOD_CONAL_CAGRAD) {
        opt.gradmix = CONAL_GRADMIX_CAGRAD;
    }
    opt.seed = rng_next_u64(rng);
    return rl_net_create_conal(spec, &opt, rng, err, err_sz);
}

RlNet *rl_net_create(const RlNetSpec *spec, RngState *rng, char *err, size_t err_sz) {
    int levels = spec->n_hidden + 1;
    switch (spec->method) {
    case RL_METHOD_STL:
        return rl_net_create_dense(spec, 0, 0, NULL, rng, err, err_sz);
    case RL_METHOD_MTSAC:
        return rl_net_create_dense(spec, levels, 1, NULL, rng, err, err_sz);
    case RL_METHOD_MHSAC:
        return rl_net_create_dense(spec, levels - 1, 0, NULL, rng, err, err_sz);
    case RL_METHOD_PCGRAD:
    case RL_METHOD_CAGRAD:
        return rl_net_create_gradmix(spec, rng, err, err_sz);
    case RL_METHOD_CONAL:
    case RL_METHOD_CONAL_PCGRAD:
    case RL_METHOD_CONAL_CAGRAD:
        return create_conal(spec, rng, err, err_sz);
    default:
        err_set(err, err_sz, ERR_CONFIG, "agent.method: unknown method id %d",
                (int)spec->method);
        return NULL;
    }
}

void rl_net_destroy(RlNet *net) {
    if (net) {
        net->ops->destroy(net);
    }
}

// ---- shared helpers ----

void rl_net_pack_input(const RlNet *net, const float *features, int B, float *x) {
    int K = net->spec.n_tasks;
    int n_in = net->spec.n_in;
    int width = net->n_in_total;
    for (int t = 0; t < K; t++) {
        for (int b = 0; b < B; b++) {
            size_t row = (size_t)t * B + (size_t)b;
            memcpy(x + row * width, features + row * n_in, sizeof(float) * (size_t)n_in);
            if (net->one_hot) {
                float *hot = x + row * width + n_in;
                memset(hot, 0, sizeof(float) * (size_t)K);
                hot[t] = 1.0f;
            }
        }
    }
}

const float *rl_net_forward(RlNet *net, const float *x, int B, RlNetWeights which) {
    return net->ops->forward(net, x, B, which);
}

void rl_net_backward(RlNet *net, const float *dy, float *dx, int B) {
    net->ops->backward(net, dy, dx, B);
}

void rl_net_update(RlNet *net, const NnAdamConfig *adam) {
    if (net->ops->apply_update) {
        net->ops->apply_update(net, adam);
    } else {
        adam_apply(net, adam);
    }
}

void rl_net_gram(const RlNet *net, int s, float *gram) {
    ASSERT(s >= 0 && s < net->n_shared, "rl_net_gram: shared layer %d of %d", s,
           net->n_shared);
    const RlSharedLayer *sl = &net->shared[s];
    int K = net->spec.n_tasks;
    nn_sgemm(0, 1, K, K, (int)sl->n, 1.0f, sl->d,
                (int)sl->n, sl->d, (int)sl->n, 0.0f, gram, K);
}

double rl_gram_conflict_ratio(const double *gram, int K) {
    int pairs = 0, negative = 0;
    for (int t = 0; t < K; t++) {
        for (int u = t + 1; u < K; u++) {
            pairs++;
            // the cosine has the sign of the inner product when both norms are non-zero
            int nonzero = gram[t * K + t] > 0.0 && gram[u * K + u] > 0.0;
            negative += nonzero && gram[t * K + u] < 0.0;
        }
    }
    return pairs ? (double)negative / pairs : 0.0;
}

double rl_net_conflict_ratio(const RlNet *net, int s) {
    int K = net->spec.n_tasks;
    float gram[RL_NET_MAX_TASKS * RL_NET_MAX_TASKS];
    double g[RL_NET_MAX_TASKS * RL_NET_MAX_TASKS];
    rl_net_gram(net, s, gram);
    for (int i = 0; i < K * K; i++) {
        g[i] = (double)gram[i];
    }
    return rl_gram_conflict_ratio(g, K);
}

// ---- checkpoints ----

int rl_net_save(const RlNet *net, NnCkptWriter *w, const char *prefix, char *err,
                size_t err_sz) {
    char name[NN_CKPT_NAME_LEN];
    size_t bytes = sizeof(float) * net->params.n;
    const float *blocks[4] = {net->params.w, net->params.m, net->params.v,
                              net->params.target};
    const char *suffix[4] = {"w", "m", "v", "target"};
    for (int i = 0; i < 4; i++) {
        if (!blocks[i]) {
            continue;
        }
        snprintf(name, sizeof name, "%s.%s", prefix, suffix[i]);
        int rc = nn_ckpt_write(w, name, blocks[i], bytes, err, err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    snprintf(name, sizeof name, "%s.step", prefix);
    int64_t step = net->adam_step;
    int rc = nn_ckpt_write(w, name, &step, sizeof step, err, err_sz);
    if (rc == 0 && net->ops->save) {
        rc = net->ops->save(net, w, prefix, err, err_sz);
    }
    return rc;
}

int rl_net_load(RlNet *net, const NnCkpt *ck, const char *prefix, char *err, size_t err_sz) {
    char name[NN_CKPT_NAME_LEN];
    size_t bytes = sizeof(float) * net->params.n;
    float *blocks[4] = {net->params.w, net->params.m, net->params.v, net->params.target};
    const char *suffix[4] = {"w", "m", "v", "target"};
    for (int i = 0; i < 4; i++) {
        if (!blocks[i]) {
            continue;
        }
        snprintf(name, sizeof name, "%s.%s", prefix, suffix[i]);
        int rc = nn_ckpt_read(ck, name, blocks[i], bytes, err, err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    snprintf(name, sizeof name, "%s.step", prefix);
    int64_t step = 0;
    int rc = nn_ckpt_read(ck, name, &step, sizeof step, err, err_sz);
    net->adam_step = (long)step;
    if (rc == 0 && net->ops->load) {
        rc = net->ops->load(net, ck, prefix, err, err_sz);
    }
    return rc;
}

// ---- sizes ----

size_t rl_net_estimate_bytes(const RlNetSpec *spec) {
    if (spec->method == RL_METHOD_CONAL || spec->method == RL_METHOD_CONAL_PCGRAD ||
        spec->method == RL_METHOD_CONAL_CAGRAD) {
        return rl_net_conal_estimate_bytes(spec);
    }
    int one_hot = spec->method == RL_METHOD_MTSAC;
    int n_in_total = spec->n_in + (one_hot ? spec->n_tasks : 0);
    size_t n = dense_count_params(spec, n_in_total, spec->n_hidden + 1);
    if (spec->method == RL_METHOD_STL) {
        n = dense_count_params(spec, n_in_total, 0);
    }
    size_t blocks = spec->with_target ? 6 : 4;          // w g m v (+ target, scratch)
    size_t per_task_grads = (size_t)spec->n_tasks;       // D blocks of shared layers
    size_t rows = (size_t)spec->n_tasks * spec->max_block;
    size_t acts = 0;
    for (int l = 0; l <= spec->n_hidden + 1; l++) {
        int w = l == 0 ? n_in_total : (l <= spec->n_hidden ? spec->hidden[l - 1] : spec->n_out);
        acts += 2 * rows * (size_t)w;
    }
    acts += 2 * rows * (size_t)dense_max_width(spec, n_in_total);
    return sizeof(float) * (n * (blocks + per_task_grads) + acts);
}

double rl_net_flops_forward(const RlNetSpec *spec, int B) {
    int one_hot = spec->method == RL_METHOD_MTSAC;
    int n_in_total = spec->n_in + (one_hot ? spec->n_tasks : 0);
    double macs = 0.0;
    for (int l = 0; l <= spec->n_hidden; l++) {
        int in, out;
        level_dims(spec, n_in_total, l, &in, &out);
        macs += (double)in * out;
    }
    return 2.0 * macs * spec->n_tasks * B;
}
