// CoNAL supernet: layout, forward, backward, conflict noticing and steps.
//
// Row blocks. The input of specific slot q (SP[q]) and the mixture's input
// (Z, written "slot P") are stacks of B-row blocks, one per (task t, branch
// point p) with p <= min(q, P - 1) that the network keeps. Blocks are ordered
// by chain owner (task t when purely specific, branch point p when partially
// specific), so every owner's blocks are contiguous and one sgemm runs them.
// An owner's blocks at slot q are a prefix of its blocks at slot q + 1, so
// slot q writes its output straight into SP[q + 1]. The only copy is the new
// branch (t, q), whose input is task t's block of the shared chain's S[q - 1].
// Shared module q runs over runs of consecutive tasks that use it (all K in
// the search supernet).
//
// It does not do: losses, SAC, checkpoint files (conal/ckpt.c), deriving
// (conal/arch.c).
#include "conal/supernet.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "conal/gradmix.h"
#include "nn/gemm.h"

#define SLOT_LIMIT (CONAL_MAX_SLOTS + 2)

// One owner's stack of blocks at a specific slot.
typedef struct ConalInstance {
    int first_blk;       // first block in SP[q]
    int n_blk;           // blocks (B rows each)
    int out_blk;         // first block of the output in SP[q + 1] (or Z)
    size_t param_off;    // module parameters in the block
} ConalInstance;

// Per-forward activations and, for the online workspace, their gradients.
typedef struct ConalWorkspace {
    float *S[SLOT_LIMIT];    // (K*B x d_q) shared chain, S[0] = input copy
    float *SP[SLOT_LIMIT];   // (nblk[q]*B x d_(q-1)) specific slot inputs, SP[P] = Z
    float *O;                // (K*B x d_(P-1)) mixture
    float *Y;                // (K*B x n_out) decoder output
    float *a;                // (K x P) mixture weights of the last forward
    float *dS[SLOT_LIMIT];
    float *dSP[SLOT_LIMIT];
    float *dO;
    float *dY;
    int B;                   // rows per block of the last forward
} ConalWorkspace;

struct ConalNetImpl {
    int K, P;
    int width[SLOT_LIMIT];                     // d_q, q = 0..P-1
    int nblk[SLOT_LIMIT];                      // blocks of SP[q], q = 1..P
    int *blk_of;                               // ((P+1) x K x (P+1)) block or -1
    int n_inst[SLOT_LIMIT];
    ConalInstance *inst[SLOT_LIMIT];           // (n_inst[q]) slot q's owners
    int shared_used[SLOT_LIMIT][CONAL_MAX_TASKS];
    size_t dec_off[CONAL_MAX_TASKS];           // decoder parameters of task t
    size_t rest_off;                           // first float after the shared modules
    float *gram;                               // (n_slots x K x K) Gram matrix per module
    double *gram_parts;                        // (n_chunks x K x K) per-chunk Gram products
    double *gram_sum;                          // ((P-1) x K x K) gram in double; owns
                                               // gram_parts, which follows it
    float *dy_copy;                            // (K*B x widest d_q) for OBSERVE, on first use
    int gram_valid;                            // 1 when gram matches D of the last backward
    ConalWorkspace ws[2];                      // online, target
    float *mem;                                // owns every float buffer above
};

// ---- layout ----

// Index into blk_of for slot q, task t, branch point p.
static inline int *blk_at(const ConalNetImpl *im, int q, int t, int p) {
    return &im->blk_of[((size_t)q * (size_t)im->K + (size_t)t) * (size_t)(im->P + 1) +
                       (size_t)p];
}

// 1 when task t keeps branch point p.
static int branch_kept(const ConalNetSpec *spec, int t, int p) {
    return !spec->derived || spec->branch[t] == p;
}

// 1 when some task needs the shared module of slot q.
static int shared_needed(const ConalNetSpec *spec, int q) {
    for (int t = 0; t < spec->n_tasks; t++) {
        if (!spec->derived || spec->branch[t] > q) {
            return 1;
        }
    }
    return 0;
}

// 1 when the partially-specific chain of branch point p is kept.
static int chain_needed(const ConalNetSpec *spec, int p) {
    for (int t = 0; t < spec->n_tasks; t++) {
        if (branch_kept(spec, t, p)) {
            return 1;
        }
    }
    return 0;
}

int conal_spec_validate(const ConalNetSpec *spec, char *err, size_t err_sz) {
    if (spec->n_tasks < 1 || spec->n_tasks > CONAL_MAX_TASKS) {
        return err_set(err, err_sz, ERR_ARG, "conal spec: n_tasks %d not in [1, %d]",
                       spec->n_tasks, CONAL_MAX_TASKS);
    }
    if (spec->n_slots < 1 || spec->n_slots > CONAL_MAX_SLOTS) {
        return err_set(err, err_sz, ERR_ARG, "conal spec: n_slots %d not in [1, %d]",
                       spec->n_slots, CONAL_MAX_SLOTS);
    }
    if (spec->max_block < 1) {
        return err_set(err, err_sz, ERR_ARG, "conal spec: max_block %d must be positive",
                       spec->max_block);
    }
    if (spec->specific != CONAL_PURELY_SPECIFIC && spec->specific != CONAL_PARTIALLY_SPECIFIC) {
        return err_set(err, err_sz, ERR_ARG, "conal spec: unknown specific kind %d",
                       (int)spec->specific);
    }
    for (int i = 0; i < spec->n_slots; i++) {
        const ConalModule *m = &spec->slots[i];
        if (!m->ops || m->n_in < 1 || m->n_out < 1) {
            return err_set(err, err_sz, ERR_ARG, "conal spec: slot %d has no type or shape",
                           i + 1);
        }
        if (i > 0 && m->n_in != spec->slots[i - 1].n_out) {
            return err_set(err, err_sz, ERR_ARG,
                           "conal spec: slot %d input %d != slot %d output %d", i + 1,
                           m->n_in, i, spec->slots[i - 1].n_out);
        }
    }
    const ConalModule *dec = &spec->decoder;
    if (!dec->ops || dec->n_in != spec->slots[spec->n_slots - 1].n_out || dec->n_out < 1) {
        return err_set(err, err_sz, ERR_ARG,
                       "conal spec: decoder input %d must equal the last slot's output %d",
                       dec->n_in, spec->slots[spec->n_slots - 1].n_out);
    }
    for (int t = 0; spec->derived && t < spec->n_tasks; t++) {
        if (spec->branch[t] < 1 || spec->branch[t] > spec->n_slots + 1) {
            return err_set(err, err_sz, ERR_ARG, "conal spec: task %d branch point %d not in "
                           "[1, %d]", t, spec->branch[t], spec->n_slots + 1);
        }
    }
    return 0;
}

// Assigns parameter offsets in block order; returns the total float count.
// im may be NULL (counting only).
static size_t layout_params(const ConalNetSpec *spec, ConalNetImpl *im, size_t *shared_off,
                            size_t *shared_n, size_t chain_off[][CONAL_MAX_SLOTS + 1],
                            size_t task_off[][CONAL_MAX_SLOTS + 1]) {
    int K = spec->n_tasks, P = spec->n_slots + 1;
    size_t off = 0;

    // shared modules, in slot order
    for (int q = 1; q < P; q++) {
        size_t n = shared_needed(spec, q) ? spec->slots[q - 1].ops->n_params(&spec->slots[q - 1])
                                          : 0;
        shared_off[q - 1] = off;
        shared_n[q - 1] = n;
        off += n;
    }
    if (im) {
        im->rest_off = off;
    }

    // partially-specific chains: branch point p owns slots p..P-1
    for (int p = 1; p < P && spec->specific == CONAL_PARTIALLY_SPECIFIC; p++) {
        for (int q = p; q < P && chain_needed(spec, p); q++) {
            chain_off[p][q] = off;
            off += spec->slots[q - 1].ops->n_params(&spec->slots[q - 1]);
        }
    }

    // one region per task: its specific modules, then its decoder
    for (int t = 0; t < K; t++) {
        for (int q = 1; q < P && spec->specific == CONAL_PURELY_SPECIFIC; q++) {
            if (!spec->derived || spec->branch[t] <= q) {
                task_off[t][q] = off;
                off += spec->slots[q - 1].ops->n_params(&spec->slots[q - 1]);
            }
        }
        if (im) {
            im->dec_off[t] = off;
        }
        off += spec->decoder.ops->n_params(&spec->decoder);
    }
    return off;
}

size_t conal_spec_count_params(const ConalNetSpec *spec) {
    size_t shared_off[CONAL_MAX_SLOTS], shared_n[CONAL_MAX_SLOTS];
    size_t chain_off[CONAL_MAX_SLOTS + 1][CONAL_MAX_SLOTS + 1] = {{0}};
    size_t(*task_off)[CONAL_MAX_SLOTS + 1] =
        err_xcalloc(CONAL_MAX_TASKS, sizeof *task_off, "conal task offsets");
    size_t n = layout_params(spec, NULL, shared_off, shared_n, chain_off, task_off);
    free(task_off);
    return n;
}

// Orders the blocks of every slot and builds the owner stacks.
static void layout_blocks(const ConalNetSpec *spec, ConalNetImpl *im,
                          size_t chain_off[][CONAL_MAX_SLOTS + 1],
                          size_t task_off[][CONAL_MAX_SLOTS + 1]) {
    int K = im->K, P = im->P;
    int pure = spec->specific == CONAL_PURELY_SPECIFIC;

    // block order per slot: by owner, then by the other index
    for (int q = 1; q <= P; q++) {
        int top = q < P ? q : P - 1, n = 0;
        int n_outer = pure ? K : top, n_inner = pure ? top : K;
        for (int i = 0; i < n_outer; i++) {
            for (int j = 0; j < n_inner; j++) {
                int t = pure ? i : j, p = pure ? j + 1 : i + 1;
                if (branch_kept(spec, t, p)) {
                    *blk_at(im, q, t, p) = n++;
                }
            }
        }
        im->nblk[q] = n;
    }

    // owner stacks: owner key is t (pure) or p (partial)
    for (int q = 1; q < P; q++) {
        int n_keys = pure ? K : q;
        for (int key = 0; key < n_keys; key++) {
            int first_t = -1, first_p = -1, count = 0;
            for (int j = 0; j < (pure ? q : K); j++) {
                int t = pure ? key : j, p = pure ? j + 1 : key + 1;
                if (!branch_kept(spec, t, p)) {
                    continue;
                }
                if (count++ == 0) {
                    first_t = t;
                    first_p = p;
                }
            }
            if (count == 0) {
                continue;
            }
            ConalInstance *in = &im->inst[q][im->n_inst[q]++];
            in->first_blk = *blk_at(im, q, first_t, first_p);
            in->n_blk = count;
            in->out_blk = *blk_at(im, q + 1, first_t, first_p);
            in->param_off = pure ? task_off[key][q] : chain_off[key + 1][q];
        }
    }

    // tasks that run each shared module
    for (int q = 1; q < P; q++) {
        for (int t = 0; t < K; t++) {
            im->shared_used[q][t] = !spec->derived || spec->branch[t] > q;
        }
    }
}

// ---- create and destroy ----

// Floats one workspace needs; with_grads adds the gradient buffers.
static size_t workspace_floats(const ConalNetSpec *spec, const ConalNetImpl *im,
                               int with_grads) {
    size_t B = (size_t)spec->max_block, K = (size_t)im->K, n = 0;
    for (int q = 0; q < im->P; q++) {
        n += K * B * (size_t)im->width[q];
    }
    for (int q = 1; q <= im->P; q++) {
        n += (size_t)im->nblk[q] * B * (size_t)im->width[q - 1];
    }
    n += K * B * (size_t)(im->width[im->P - 1] + spec->decoder.n_out);
    return (with_grads ? 2 * n : n) + K * (size_t)im->P;
}

// Points a workspace's buffers into mem; returns the floats used.
static size_t workspace_bind(const ConalNetSpec *spec, const ConalNetImpl *im,
                             ConalWorkspace *ws, float *mem, int with_grads) {
    size_t B = (size_t)spec->max_block, K = (size_t)im->K;
    float *p = mem;
    for (int pass = 0; pass < (with_grads ? 2 : 1); pass++) {
        float **S = pass ? ws->dS : ws->S, **SP = pass ? ws->dSP : ws->SP;
        for (int q = 0; q < im->P; q++) {
            S[q] = p;
            p += K * B * (size_t)im->width[q];
        }
        for (int q = 1; q <= im->P; q++) {
            SP[q] = p;
            p += (size_t)im->nblk[q] * B * (size_t)im->width[q - 1];
        }
        *(pass ? &ws->dO : &ws->O) = p;
        p += K * B * (size_t)im->width[im->P - 1];
        *(pass ? &ws->dY : &ws->Y) = p;
        p += K * B * (size_t)spec->decoder.n_out;
    }
    ws->a = p;
    p += K * (size_t)im->P;
    return (size_t)(p - mem);
}

// Columns of D per chunk of the Gram pass: K x chunk floats of about 512 KB,
// to stay in a core's L2 cache.
static size_t gram_chunk(const ConalNetImpl *im) {
    size_t chunk = (size_t)131072 / (size_t)im->K;
    return chunk < 256 ? 256 : chunk;
}

// Chunks of the Gram pass over n columns.
static size_t gram_chunks(const ConalNetImpl *im, size_t n) {
    size_t chunk = gram_chunk(im);
    return (n + chunk - 1) / chunk;
}

// Doubles of the Gram pass: a K x K matrix per module slot and K x K per
// chunk of the widest shared module.
static size_t gram_doubles(const ConalNet *net) {
    const ConalNetImpl *im = net->impl;
    size_t max_chunks = 1;
    for (int q = 1; q < im->P; q++) {
        size_t chunks = gram_chunks(im, net->shared_n[q - 1]);
        max_chunks = chunks > max_chunks ? chunks : max_chunks;
    }
    return (max_chunks + (size_t)(im->P - 1)) * (size_t)im->K * (size_t)im->K;
}

// Floats of the workspace block: activations, their gradients, D, Gram.
static size_t impl_mem_floats(const ConalNet *net, int with_target) {
    const ConalNetImpl *im = net->impl;
    size_t K = (size_t)im->K;
    size_t n = workspace_floats(&net->spec, im, 1) +
               (with_target ? workspace_floats(&net->spec, im, 0) : 0);
    for (int q = 1; q < im->P; q++) {
        n += K * net->shared_n[q - 1];
    }
    return n + (size_t)CONAL_MAX_SLOTS * K * K;
}

// Allocates the workspace block and points every buffer into it; returns 0
// or ERR_NOMEM.
static int impl_alloc(ConalNet *net, int with_target, char *err, size_t err_sz) {
    const ConalNetSpec *spec = &net->spec;
    ConalNetImpl *im = net->impl;
    size_t K = (size_t)im->K;
    size_t n = impl_mem_floats(net, with_target);
    im->mem = calloc(n, sizeof(float));
    if (!im->mem) {
        return err_set(err, err_sz, ERR_NOMEM, "conal net: cannot allocate %zu floats of "
                       "workspace", n);
    }
    float *p = im->mem;
    p += workspace_bind(spec, im, &im->ws[0], p, 1);
    if (with_target) {
        p += workspace_bind(spec, im, &im->ws[1], p, 0);
    }
    for (int q = 1; q < im->P; q++) {
        net->task_grads[q - 1] = net->shared_n[q - 1] ? p : NULL;
        p += K * net->shared_n[q - 1];
    }
    im->gram = p;
    im->gram_sum = calloc(gram_doubles(net), sizeof(double));
    if (!im->gram_sum) {
        return err_set(err, err_sz, ERR_NOMEM, "conal net: cannot allocate the Gram pass's "
                       "%zu doubles", gram_doubles(net));
    }
    im->gram_parts = im->gram_sum + (size_t)(im->P - 1) * K * K;
    return 0;
}

// Initialises every module in ascending parameter order, so the draws from
// rng follow the block layout.
static void net_init_weights(ConalNet *net, RngState *rng) {
    const ConalNetSpec *spec = &net->spec;
    ConalNetImpl *im = net->impl;
    float *w = net->params.w;
    for (int q = 1; q < im->P; q++) {
        if (net->shared_n[q - 1]) {
            spec->slots[q - 1].ops->init(&spec->slots[q - 1], w + net->shared_off[q - 1], rng);
        }
    }

    // specific modules and decoders: find the module that starts at pos
    size_t pos = im->rest_off;
    while (pos < net->params.n) {
        int found = 0;
        for (int q = 1; q < im->P && !found; q++) {
            for (int i = 0; i < im->n_inst[q] && !found; i++) {
                if (im->inst[q][i].param_off == pos) {
                    const ConalModule *m = &spec->slots[q - 1];
                    m->ops->init(m, w + pos, rng);
                    pos += m->ops->n_params(m);
                    found = 1;
                }
            }
        }
        for (int t = 0; t < im->K && !found; t++) {
            if (im->dec_off[t] == pos) {
                spec->decoder.ops->init(&spec->decoder, w + pos, rng);
                pos += spec->decoder.ops->n_params(&spec->decoder);
                found = 1;
            }
        }
        ASSERT(found, "conal net: no module starts at parameter offset %zu", pos);
    }
}

// A network with its layout computed (parameter offsets, blocks, owner
// stacks) but no parameter or workspace memory yet. *n_params receives the
// parameter count.
static ConalNet *net_layout(const ConalNetSpec *spec, size_t *n_params) {
    ConalNet *net = err_xcalloc(1, sizeof *net, "conal net");
    ConalNetImpl *im = err_xcalloc(1, sizeof *im, "conal net layout");
    net->spec = *spec;
    net->P = spec->n_slots + 1;
    net->impl = im;
    im->K = spec->n_tasks;
    im->P = net->P;
    im->width[0] = spec->slots[0].n_in;
    for (int q = 1; q < im->P; q++) {
        im->width[q] = spec->slots[q - 1].n_out;
    }

    // parameter offsets, then block layout
    size_t chain_off[CONAL_MAX_SLOTS + 1][CONAL_MAX_SLOTS + 1] = {{0}};
    size_t(*task_off)[CONAL_MAX_SLOTS + 1] =
        err_xcalloc(CONAL_MAX_TASKS, sizeof *task_off, "conal task offsets");
    *n_params = layout_params(spec, im, net->shared_off, net->shared_n, chain_off, task_off);
    im->blk_of = err_xmalloc((size_t)(im->P + 1) * (size_t)im->K * (size_t)(im->P + 1) *
                                 sizeof(int), "conal block table");
    memset(im->blk_of, 0xff, (size_t)(im->P + 1) * (size_t)im->K * (size_t)(im->P + 1) *
                                 sizeof(int));
    for (int q = 1; q < im->P; q++) {
        im->inst[q] = err_xcalloc((size_t)(im->K + im->P), sizeof(ConalInstance),
                                  "conal instances");
    }
    layout_blocks(spec, im, chain_off, task_off);
    free(task_off);
    return net;
}

size_t conal_spec_estimate_bytes(const ConalNetSpec *spec, int with_target) {
    ASSERT(conal_spec_validate(spec, NULL, 0) == 0, "conal estimate: invalid spec");
    size_t n_params;
    ConalNet *net = net_layout(spec, &n_params);
    size_t blocks = 4 + (with_target ? 1 : 0);   // w, g, m, v (+ target)
    size_t alpha = spec->derived ? 0 : 4 * (size_t)net->spec.n_tasks * (size_t)net->P;
    size_t floats = blocks * n_params + alpha + impl_mem_floats(net, with_target);
    size_t bytes = floats * sizeof(float) + gram_doubles(net) * sizeof(double);
    conal_net_destroy(net);
    return bytes;
}

ConalNet *conal_net_create(const ConalNetSpec *spec, int with_target, RngState *rng,
                           char *err, size_t err_sz) {
    if (conal_spec_validate(spec, err, err_sz) != 0) {
        return NULL;
    }
    size_t n_params;
    ConalNet *net = net_layout(spec, &n_params);
    ConalNetImpl *im = net->impl;

    // parameter block, alpha, workspaces
    int rc = nn_params_init(&net->params, n_params, with_target);
    if (rc == 0 && !spec->derived) {
        rc = nn_params_init(&net->alpha, (size_t)im->K * (size_t)im->P, 0);
    }
    if (rc != 0) {
        err_set(err, err_sz, ERR_NOMEM, "conal net: cannot allocate %zu parameters", n_params);
        conal_net_destroy(net);
        return NULL;
    }
    if (impl_alloc(net, with_target, err, err_sz) != 0) {
        conal_net_destroy(net);
        return NULL;
    }
    net_init_weights(net, rng);
    if (with_target) {
        nn_params_copy_to_target(&net->params);
    }
    net->last.frozen_from = net->P;
    return net;
}

void conal_net_destroy(ConalNet *net) {
    if (!net) {
        return;
    }
    ConalNetImpl *im = net->impl;
    if (im) {
        for (int q = 0; q < SLOT_LIMIT; q++) {
            free(im->inst[q]);
        }
        free(im->blk_of);
        free(im->mem);
        free(im->gram_sum);
        free(im->dy_copy);
        free(im);
    }
    nn_params_deinit(&net->params);
    nn_params_deinit(&net->alpha);
    free(net);
}

// ---- forward ----

void conal_net_branch_weights(const ConalNet *net, int t, float *out) {
    int P = net->P;
    ASSERT(t >= 0 && t < net->spec.n_tasks, "task %d not in [0, %d)", t, net->spec.n_tasks);
    if (net->spec.derived) {
        for (int p = 1; p <= P; p++) {
            out[p - 1] = p == net->spec.branch[t] ? 1.0f : 0.0f;
        }
        return;
    }

    // softmax with the max subtracted, summed in double
    const float *al = net->alpha.w + (size_t)t * (size_t)P;
    float mx = al[0];
    for (int p = 1; p < P; p++) {
        mx = al[p] > mx ? al[p] : mx;
    }
    double sum = 0.0;
    for (int p = 0; p < P; p++) {
        sum += exp((double)(al[p] - mx));
    }
    for (int p = 0; p < P; p++) {
        out[p] = (float)(exp((double)(al[p] - mx)) / sum);
    }
}

// Row block of branch (t, p)'s encoder output: Z for p < P, S[P-1] for p = P.
static float *branch_output(const ConalNetImpl *im, const ConalWorkspace *ws, int t, int p,
                            int B, int grad) {
    size_t d = (size_t)im->width[im->P - 1], rows = (size_t)B;
    if (p == im->P) {
        return (grad ? ws->dS : ws->S)[im->P - 1] + (size_t)t * rows * d;
    }
    return (grad ? ws->dSP : ws->SP)[im->P] + (size_t)*blk_at(im, im->P, t, p) * rows * d;
}

// Runs shared module q over each run of consecutive tasks that use it.
static void shared_forward(const ConalNet *net, ConalWorkspace *ws, const float *w, int q,
                           int B) {
    const ConalNetImpl *im = net->impl;
    const ConalModule *m = &net->spec.slots[q - 1];
    size_t din = (size_t)im->width[q - 1], dout = (size_t)im->width[q];
    for (int t0 = 0; t0 < im->K;) {
        if (!im->shared_used[q][t0]) {
            t0++;
            continue;
        }
        int t1 = t0;
        while (t1 < im->K && im->shared_used[q][t1]) {
            t1++;
        }
        size_t row0 = (size_t)t0 * (size_t)B;
        m->ops->forward(m, w + net->shared_off[q - 1], ws->S[q - 1] + row0 * din,
                        ws->S[q] + row0 * dout, (t1 - t0) * B);
        t0 = t1;
    }
}

// One parallel job over the owners of a slot or over tasks. The items write
// disjoint blocks, so the result does not depend on the thread count.
typedef struct SlotJob {
    ConalNet *net;
    ConalWorkspace *ws;
    const float *w;
    int q, B, flags, need_dx;
} SlotJob;

static void specific_forward_item(void *ctx, int i) {
    const SlotJob *job = ctx;
    const ConalNetImpl *im = job->net->impl;
    const ConalModule *m = &job->net->spec.slots[job->q - 1];
    const ConalInstance *in = &im->inst[job->q][i];
    size_t din = (size_t)m->n_in, dout = (size_t)m->n_out, rows = (size_t)job->B;
    m->ops->forward(m, job->w + in->param_off,
                    job->ws->SP[job->q] + (size_t)in->first_blk * rows * din,
                    job->ws->SP[job->q + 1] + (size_t)in->out_blk * rows * dout,
                    in->n_blk * job->B);
}

// Copies S[q-1] of each task branching at q into its first specific block,
// then runs every owner's stack of slot q into the next slot's input.
static void specific_forward(ConalNet *net, ConalWorkspace *ws, const float *w, int q, int B) {
    const ConalNetImpl *im = net->impl;
    size_t din = (size_t)im->width[q - 1], rows = (size_t)B;
    for (int t = 0; t < im->K; t++) {
        int blk = *blk_at(im, q, t, q);
        if (blk >= 0) {
            memcpy(ws->SP[q] + (size_t)blk * rows * din, ws->S[q - 1] + (size_t)t * rows * din,
                   rows * din * sizeof(float));
        }
    }
    SlotJob job = {net, ws, w, q, B, 0, 0};
    nn_parallel_run(specific_forward_item, &job, im->n_inst[q]);
}

// Task t's mixture weights, mixture and decoder.
static void mixture_forward_item(void *ctx, int t) {
    const SlotJob *job = ctx;
    const ConalNet *net = job->net;
    const ConalNetImpl *im = net->impl;
    ConalWorkspace *ws = job->ws;
    const ConalModule *dec = &net->spec.decoder;
    size_t rows = (size_t)job->B, d = (size_t)im->width[im->P - 1];
    float *a = ws->a + (size_t)t * (size_t)im->P;
    float *o = ws->O + (size_t)t * rows * d;
    conal_net_branch_weights(net, t, a);
    memset(o, 0, rows * d * sizeof(float));
    for (int p = 1; p <= im->P; p++) {
        if (branch_kept(&net->spec, t, p)) {
            cblas_saxpy((int)(rows * d), a[p - 1], branch_output(im, ws, t, p, job->B, 0), 1, o,
                        1);
        }
    }
    dec->ops->forward(dec, job->w + im->dec_off[t], o,
                      ws->Y + (size_t)t * rows * (size_t)dec->n_out, job->B);
}

const float *conal_net_forward(ConalNet *net, const float *x, int B, int use_target) {
    ConalNetImpl *im = net->impl;
    ASSERT(B > 0 && B <= net->spec.max_block, "conal forward: B %d not in [1, %d]", B,
           net->spec.max_block);
    ASSERT(!use_target || net->params.target, "conal forward: network keeps no target copy");
    ConalWorkspace *ws = &im->ws[use_target ? 1 : 0];
    const float *w = use_target ? net->params.target : net->params.w;
    size_t K = (size_t)im->K, rows = (size_t)B;
    ws->B = B;

    // shared prefix once, then every specific slot
    memcpy(ws->S[0], x, K * rows * (size_t)im->width[0] * sizeof(float));
    for (int q = 1; q < im->P; q++) {
        shared_forward(net, ws, w, q, B);
        specific_forward(net, ws, w, q, B);
    }

    // mixture o_t = sum_p a_tp * branch output, then the task's decoder
    SlotJob job = {net, ws, w, im->P, B, 0, 0};
    nn_parallel_run(mixture_forward_item, &job, im->K);
    return ws->Y;
}

// ---- backward ----

// Task t's decoder backward and, when flags ask for it, its alpha gradient
// from dO and the branch outputs: dL/da_tp = <dO_t, H_tp>, through the
// softmax Jacobian.
static void mixture_backward_item(void *ctx, int t) {
    const SlotJob *job = ctx;
    ConalNet *net = job->net;
    const ConalNetImpl *im = net->impl;
    ConalWorkspace *ws = job->ws;
    const ConalModule *dec = &net->spec.decoder;
    size_t rows = (size_t)job->B, d = (size_t)im->width[im->P - 1], dout = (size_t)dec->n_out;
    size_t off = (size_t)t * rows;
    float *gw = (job->flags & CONAL_GRAD_WEIGHTS) ? net->params.g + im->dec_off[t] : NULL;
    dec->ops->backward(dec, net->params.w + im->dec_off[t], ws->O + off * d, ws->Y + off * dout,
                       ws->dY + off * dout, ws->dO + off * d, gw, 0, 1, job->B);
    if (!(job->flags & CONAL_GRAD_ALPHA)) {
        return;
    }
    const float *a = ws->a + (size_t)t * (size_t)im->P;
    const float *dO = ws->dO + off * d;
    double ga[CONAL_MAX_SLOTS + 1], mean = 0.0;
    for (int p = 1; p <= im->P; p++) {
        // float products summed in double
        const float *h = branch_output(im, ws, t, p, job->B, 0);
        double s = cblas_dsdot((int)(rows * d), dO, 1, h, 1);
        ga[p - 1] = s;
        mean += (double)a[p - 1] * s;
    }
    float *g = net->alpha.g + (size_t)t * (size_t)im->P;
    for (int p = 0; p < im->P; p++) {
        g[p] += (float)((double)a[p] * (ga[p] - mean));
    }
}

// Decoder backward per task, then the gradient of alpha.
static void mixture_backward(ConalNet *net, ConalWorkspace *ws, const float *dy, int B,
                             int flags) {
    ConalNetImpl *im = net->impl;
    ASSERT(!(flags & CONAL_GRAD_ALPHA) || !net->spec.derived,
           "conal backward: a derived network has no alpha");
    size_t dout = (size_t)net->spec.decoder.n_out;
    memcpy(ws->dY, dy, (size_t)im->K * (size_t)B * dout * sizeof(float));
    SlotJob job = {net, ws, NULL, im->P, B, flags, 0};
    nn_parallel_run(mixture_backward_item, &job, im->K);
}

// Scatters a_tp * dO_t to each kept branch output's gradient block of task t.
static void mixture_scatter_item(void *ctx, int t) {
    const SlotJob *job = ctx;
    const ConalNetImpl *im = job->net->impl;
    ConalWorkspace *ws = job->ws;
    size_t rows = (size_t)job->B, d = (size_t)im->width[im->P - 1];
    const float *a = ws->a + (size_t)t * (size_t)im->P;
    const float *dO = ws->dO + (size_t)t * rows * d;
    if (!branch_kept(&job->net->spec, t, im->P)) {
        memset(ws->dS[im->P - 1] + (size_t)t * rows * d, 0, rows * d * sizeof(float));
    }
    for (int p = 1; p <= im->P; p++) {
        if (!branch_kept(&job->net->spec, t, p)) {
            continue;
        }
        float *dst = branch_output(im, ws, t, p, job->B, 1);
        for (size_t i = 0; i < rows * d; i++) {
            dst[i] = a[p - 1] * dO[i];
        }
    }
}

// Backward of owner i's stack at slot q; writes dSP[q] when need_dx.
static void specific_backward_item(void *ctx, int i) {
    const SlotJob *job = ctx;
    ConalNet *net = job->net;
    const ConalNetImpl *im = net->impl;
    ConalWorkspace *ws = job->ws;
    int q = job->q;
    const ConalModule *m = &net->spec.slots[q - 1];
    size_t din = (size_t)m->n_in, dout = (size_t)m->n_out, rows = (size_t)job->B;
    const ConalInstance *in = &im->inst[q][i];
    size_t x_off = (size_t)in->first_blk * rows, y_off = (size_t)in->out_blk * rows;
    float *gw = (job->flags & CONAL_GRAD_WEIGHTS) ? net->params.g + in->param_off : NULL;
    m->ops->backward(m, net->params.w + in->param_off, ws->SP[q] + x_off * din,
                     ws->SP[q + 1] + y_off * dout, ws->dSP[q + 1] + y_off * dout,
                     job->need_dx ? ws->dSP[q] + x_off * din : NULL, gw, 0, in->n_blk, job->B);
}

typedef struct GramJob {
    ConalNet *net;
    int q;
    int add_sum;    // 1: also add D's rows to params.g
} GramJob;

// Chunk c of D: its task rows added to the summed gradient (with add_sum)
// and its Gram product into gram_parts, while the chunk is in cache.
static void gram_chunk_item(void *ctx, int c) {
    const GramJob *job = ctx;
    ConalNet *net = job->net;
    ConalNetImpl *im = net->impl;
    size_t K = (size_t)im->K, n = net->shared_n[job->q - 1], chunk = gram_chunk(im);
    size_t c0 = (size_t)c * chunk;
    size_t len = n - c0 < chunk ? n - c0 : chunk;
    const float *D = net->task_grads[job->q - 1] + c0;
    float *g = net->params.g + net->shared_off[job->q - 1] + c0;
    for (size_t t = 0; job->add_sum && t < K; t++) {
        const float *row = D + t * n;
        for (size_t i = 0; i < len; i++) {
            g[i] += row[i];
        }
    }
    double *part = im->gram_parts + (size_t)c * K * K;
    memset(part, 0, K * K * sizeof(double));
    conal_gram_accumulate(D, im->K, len, n, part);
}

// One pass over D of shared module q, in column chunks that stay in cache
// and run in parallel: the Gram matrix G = D D^T (the chunks' products summed
// in chunk order) and, with add_sum, the summed gradient g += 1^T D, which
// params.g always contains after a backward.
static void gram_pass(ConalNet *net, int q, int add_sum) {
    ConalNetImpl *im = net->impl;
    size_t K = (size_t)im->K, n_chunks = gram_chunks(im, net->shared_n[q - 1]);
    GramJob job = {net, q, add_sum};
    nn_parallel_run(gram_chunk_item, &job, (int)n_chunks);
    float *G = im->gram + (size_t)(q - 1) * K * K;
    double *Gd = im->gram_sum + (size_t)(q - 1) * K * K;
    for (size_t i = 0; i < K * K; i++) {
        double sum = 0.0;
        for (size_t c = 0; c < n_chunks; c++) {
            sum += im->gram_parts[c * K * K + i];
        }
        Gd[i] = sum;
        G[i] = (float)sum;
    }
}

// Runs shared module q's backward over each run of consecutive tasks that
// use it, reading dy from dy_base (K*B rows). Parameter gradients go to
// params.g summed, or to D per task when per_task. With need_dx, dx goes to
// dS[q-1].
static void shared_runs(ConalNet *net, ConalWorkspace *ws, int q, int B, int flags,
                        float *dy_base, int per_task, int need_dx) {
    ConalNetImpl *im = net->impl;
    const ConalModule *m = &net->spec.slots[q - 1];
    size_t din = (size_t)im->width[q - 1], dout = (size_t)im->width[q], rows = (size_t)B;
    size_t n = net->shared_n[q - 1];
    for (int t0 = 0; t0 < im->K;) {
        if (!im->shared_used[q][t0]) {
            t0++;
            continue;
        }
        int t1 = t0;
        while (t1 < im->K && im->shared_used[q][t1]) {
            t1++;
        }
        size_t row0 = (size_t)t0 * rows;
        float *gw = NULL;
        if (per_task) {
            gw = net->task_grads[q - 1] + (size_t)t0 * n;
        } else if (flags & CONAL_GRAD_WEIGHTS) {
            gw = net->params.g + net->shared_off[q - 1];
        }
        m->ops->backward(m, net->params.w + net->shared_off[q - 1], ws->S[q - 1] + row0 * din,
                         ws->S[q] + row0 * dout, dy_base + row0 * dout,
                         need_dx ? ws->dS[q - 1] + row0 * din : NULL, gw, per_task ? n : 0,
                         t1 - t0, B);
        t0 = t1;
    }
}

// Backward of shared module q into dS[q-1] (when need_dx) and its parameter
// gradient: summed, or per task into D when per-task gradients are on. With
// OBSERVE the summed gradient takes the same path as without per-task
// gradients, and D comes from a second pass over a copy of dy (the module's
// backward overwrites dy).
static void shared_backward(ConalNet *net, ConalWorkspace *ws, int q, int B, int flags,
                            int need_dx) {
    ConalNetImpl *im = net->impl;
    size_t din = (size_t)im->width[q - 1], dout = (size_t)im->width[q], rows = (size_t)B;
    size_t n = net->shared_n[q - 1];
    int per_task = (flags & CONAL_GRAD_WEIGHTS) && net->conflict != CONAL_CONFLICT_OFF;
    int observe = per_task && net->conflict == CONAL_CONFLICT_OBSERVE;
    // rows the module's dx does not overwrite start at zero
    for (int t = 0; need_dx && t < im->K; t++) {
        if (n == 0 || !im->shared_used[q][t]) {
            memset(ws->dS[q - 1] + (size_t)t * rows * din, 0, rows * din * sizeof(float));
        }
    }
    if (n == 0) {
        return;
    }
    if (observe) {
        if (!im->dy_copy) {
            int widest = 0;
            for (int p = 1; p < im->P; p++) {
                widest = im->width[p] > widest ? im->width[p] : widest;
            }
            im->dy_copy = err_xmalloc((size_t)im->K * (size_t)net->spec.max_block *
                                          (size_t)widest * sizeof(float),
                                      "conal observe buffer");
        }
        memcpy(im->dy_copy, ws->dS[q], (size_t)im->K * rows * dout * sizeof(float));
        shared_runs(net, ws, q, B, flags, ws->dS[q], 0, need_dx);
        shared_runs(net, ws, q, B, flags, im->dy_copy, 1, 0);
        gram_pass(net, q, 0);
        return;
    }
    shared_runs(net, ws, q, B, flags, ws->dS[q], per_task, need_dx);
    if (per_task) {
        gram_pass(net, q, 1);
    }
}

// Adds task t's new branch block's input gradient at slot q to dS[q-1].
static void branch_gather_item(void *ctx, int t) {
    const SlotJob *job = ctx;
    const ConalNetImpl *im = job->net->impl;
    int q = job->q;
    size_t din = (size_t)im->width[q - 1], rows = (size_t)job->B;
    int blk = *blk_at(im, q, t, q);
    if (blk < 0) {
        return;
    }
    const float *src = job->ws->dSP[q] + (size_t)blk * rows * din;
    float *dst = job->ws->dS[q - 1] + (size_t)t * rows * din;
    for (size_t i = 0; i < rows * din; i++) {
        dst[i] += src[i];
    }
}

void conal_net_backward(ConalNet *net, const float *dy, float *dx, int B, int flags) {
    ConalNetImpl *im = net->impl;
    ConalWorkspace *ws = &im->ws[0];
    ASSERT(ws->B == B, "conal backward: B %d differs from the last online forward's %d", B,
           ws->B);
    mixture_backward(net, ws, dy, B, flags);
    if (!(flags & CONAL_GRAD_WEIGHTS) && !dx) {
        return;
    }

    // per-task gradients are overwritten by this pass. Dense modules overwrite
    // their block gradients; other modules add, so their rows are zeroed
    // first. Rows of tasks that skip a shared module are never written and
    // stay zero from allocation.
    int per_task = (flags & CONAL_GRAD_WEIGHTS) && net->conflict != CONAL_CONFLICT_OFF;
    for (int q = 1; per_task && q < im->P; q++) {
        size_t n = net->shared_n[q - 1];
        if (n && net->spec.slots[q - 1].ops != &conal_dense_ops) {
            memset(net->task_grads[q - 1], 0, (size_t)im->K * n * sizeof(float));
        }
    }
    net->task_grads_valid = per_task;
    im->gram_valid = per_task;

    // slots from last to first: specific stacks, then the shared module
    SlotJob scatter = {net, ws, NULL, im->P, B, flags, 0};
    nn_parallel_run(mixture_scatter_item, &scatter, im->K);
    for (int q = im->P - 1; q >= 1; q--) {
        int need_dx = q > 1 || dx != NULL;
        SlotJob specific = {net, ws, NULL, q, B, flags, need_dx};
        nn_parallel_run(specific_backward_item, &specific, im->n_inst[q]);
        shared_backward(net, ws, q, B, flags, need_dx);
        if (need_dx) {
            SlotJob gather = {net, ws, NULL, q, B, flags, need_dx};
            nn_parallel_run(branch_gather_item, &gather, im->K);
        }
    }
    if (dx) {
        memcpy(dx, ws->dS[0], (size_t)im->K * (size_t)B * (size_t)im->width[0] * sizeof(float));
    }
}

void conal_net_zero_grad(ConalNet *net) {
    nn_params_zero_grad(&net->params);
    if (net->alpha.n) {
        memset(net->alpha.g, 0, net->alpha.n * sizeof(float));
    }
    net->task_grads_valid = 0;
    net->impl->gram_valid = 0;
}

// ---- conflict noticing and steps ----

int conal_conflict_scan(const float *gram, int K, int *n_negative, int *n_pairs) {
    int neg = 0, pairs = 0;
    for (int t = 0; t < K; t++) {
        for (int u = t + 1; u < K; u++) {
            // a zero gradient has no direction, so it conflicts with nothing
            if (!(gram[t * K + t] > 0.0f) || !(gram[u * K + u] > 0.0f)) {
                continue;
            }
            pairs++;
            neg += gram[t * K + u] < 0.0f;
        }
    }
    *n_negative = neg;
    *n_pairs = pairs;
    return neg > 0;
}

// Builds each shared module's Gram matrix and fills the conflict fields of
// the report; returns the first slot with a conflict, or P.
static int measure_conflicts(ConalNet *net, ConalStepReport *rep) {
    ConalNetImpl *im = net->impl;
    int first = im->P;
    for (int q = 1; q < im->P; q++) {
        size_t n = net->shared_n[q - 1];
        rep->conflict_ratio[q - 1] = 0.0;
        rep->n_negative[q - 1] = 0;
        rep->n_pairs[q - 1] = 0;
        if (n == 0) {
            continue;
        }
        // G = D D^T: from the backward, or a Gram pass when the caller wrote
        // D itself
        if (!im->gram_valid) {
            gram_pass(net, q, 0);
        }
        const float *G = im->gram + (size_t)(q - 1) * (size_t)im->K * (size_t)im->K;
        int neg, pairs;
        if (conal_conflict_scan(G, im->K, &neg, &pairs) && first == im->P) {
            first = q;
        }
        rep->n_negative[q - 1] = neg;
        rep->n_pairs[q - 1] = pairs;
        rep->conflict_ratio[q - 1] = pairs ? (double)neg / (double)pairs : 0.0;
    }
    return first;
}

// Replaces the summed shared gradients in params.g by the combine hook's,
// passing the Gram matrices of the modules summed in slot order.
static void combine_shared(ConalNet *net) {
    const ConalNetImpl *im = net->impl;
    const float *d[CONAL_MAX_SLOTS];
    float *out[CONAL_MAX_SLOTS];
    size_t n[CONAL_MAX_SLOTS];
    int K = im->K, n_seg = 0;
    double G[CONAL_MAX_TASKS * CONAL_MAX_TASKS];
    memset(G, 0, (size_t)K * (size_t)K * sizeof(double));
    for (int q = 1; q < net->P; q++) {
        if (net->shared_n[q - 1]) {
            d[n_seg] = net->task_grads[q - 1];
            out[n_seg] = net->params.g + net->shared_off[q - 1];
            n[n_seg] = net->shared_n[q - 1];
            const double *Gq = im->gram_sum + (size_t)(q - 1) * (size_t)K * (size_t)K;
            for (int i = 0; i < K * K; i++) {
                G[i] += Gq[i];
            }
            n_seg++;
        }
    }
    if (n_seg > 0) {
        net->combine(net->combine_ctx, K, G, n_seg, d, n, out);
    }
}

void conal_net_step(ConalNet *net, const NnAdamConfig *adam) {
    ConalNetImpl *im = net->impl;
    NnParamSet *ps = &net->params;
    ConalStepReport *rep = &net->last;
    memset(rep, 0, sizeof *rep);
    rep->frozen_from = im->P;

    // Gram matrices and conflicts from the last backward's per-task gradients
    int measured = net->conflict != CONAL_CONFLICT_OFF && net->task_grads_valid;
    int first_conflict = measured ? measure_conflicts(net, rep) : im->P;
    rep->measured = measured;
    if (net->conflict == CONAL_CONFLICT_NOTICE && measured) {
        rep->frozen_from = first_conflict;
    }
    ASSERT(!net->combine || net->task_grads_valid,
           "conal step: the combine hook needs per-task gradients; set conflict to MEASURE "
           "or NOTICE before backward");
    if (net->combine) {
        combine_shared(net);
    }

    // shared modules before the first conflict step; the others keep their
    // weights, moments and step count
    for (int q = 1; q < im->P; q++) {
        size_t off = net->shared_off[q - 1], n = net->shared_n[q - 1];
        if (n == 0) {
            continue;
        }
        if (q >= rep->frozen_from) {
            net->stop_count[q - 1]++;
            continue;
        }
        net->step_shared[q - 1]++;
        nn_adam_update(adam, net->step_shared[q - 1], ps->w + off, ps->g + off, ps->m + off,
                       ps->v + off, n);
    }

    // everything after the shared modules is one range with one step count
    size_t rest = ps->n - im->rest_off;
    net->step_rest++;
    nn_adam_update(adam, net->step_rest, ps->w + im->rest_off, ps->g + im->rest_off,
                   ps->m + im->rest_off, ps->v + im->rest_off, rest);
}

void conal_net_alpha_step(ConalNet *net, const NnAdamConfig *adam) {
    ASSERT(!net->spec.derived, "conal alpha step: a derived network has no alpha");
    net->step_alpha++;
    nn_adam_update(adam, net->step_alpha, net->alpha.w, net->alpha.g, net->alpha.m,
                   net->alpha.v, net->alpha.n);
    memset(net->alpha.g, 0, net->alpha.n * sizeof(float));
}

const float *conal_net_gram(const ConalNet *net, int q) {
    ASSERT(q >= 1 && q < net->P, "conal gram: slot %d not in [1, %d]", q, net->P - 1);
    if (net->shared_n[q - 1] == 0) {
        return NULL;
    }
    size_t K = (size_t)net->spec.n_tasks;
    return net->impl->gram + (size_t)(q - 1) * K * K;
}

double conal_net_flops_forward(const ConalNet *net, int B) {
    const ConalNetImpl *im = net->impl;
    const ConalNetSpec *spec = &net->spec;
    double flops = 0.0;
    for (int q = 1; q < im->P; q++) {
        const ConalModule *m = &spec->slots[q - 1];
        int used = 0;
        for (int t = 0; t < im->K; t++) {
            used += net->shared_n[q - 1] && im->shared_used[q][t];
        }
        if (used) {
            flops += m->ops->flops_forward(m, used * B);
        }
        flops += m->ops->flops_forward(m, im->nblk[q] * B);
    }
    flops += spec->decoder.ops->flops_forward(&spec->decoder, im->K * B);
    return flops;
}
