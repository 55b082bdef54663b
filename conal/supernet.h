// CoNAL supernet: a chain of module slots with learned per-task branch points.
//
// Dimension letters: K tasks, B rows per task block, P branch points (the
// chain has P - 1 module slots), d_q the row width after slot q (d_0 is the
// input width).
//
// Every task t has a shared chain f_S^(1..P-1), its own chain of specific
// modules h_t^(1..P-1), a decoder g_t (its output module) and architecture
// weights alpha_t (P entries, initialised equal). Branching at p runs shared
// modules 1..p-1, then the task's modules p..P-1: p = P is hard sharing and
// p = 1 a separate network. The search supernet feeds the decoder the
// mixture over all branch points,
//     o_t = sum_p softmax(alpha_t)_p * h_t(f_S(x, p), p),
// and a derived network keeps one branch point per task (mixture weight 1)
// and only the modules some task uses (see conal/arch.h).
//
// Batches are task-blocked: K contiguous blocks of B rows, block t holding
// task t's rows. Shared modules run once over all blocks, so the shared
// prefix is computed once for every branch point. Each task's specific
// module at slot q runs one sgemm over the stacked rows of all branch points
// that pass through it. One backward pass yields every task's gradient on
// every shared module (D, K x n per module, row t = dY_t^T X_t over task t's
// block), from which conflict noticing builds the Gram matrix D D^T.
//
// Partially-specific ablation: instead of one chain per task, branch point p
// owns one chain c_p^(p..P-1) that every task routed through p trains.
//
// Parameters are one block (NnParamSet): the shared modules in slot order,
// then the partially-specific chains, then one contiguous region per task
// (its specific modules in slot order, then its decoder). Gradients, Adam
// moments and the target copy share the layout. Workspaces are sized at
// create time; forward, backward and step never allocate.
//
// This module does not include rl/ or envs/: it has no notion of SAC or of
// environments.
#ifndef CONAL_SUPERNET_H
#define CONAL_SUPERNET_H

#include <stddef.h>

#include "common/rng.h"
#include "conal/module.h"
#include "nn/params.h"

#define CONAL_MAX_SLOTS 8     // P - 1 at most
#define CONAL_MAX_TASKS 64    // K at most

typedef enum ConalSpecificKind {
    CONAL_PURELY_SPECIFIC = 0,     // one chain per task, trained by that task only
    CONAL_PARTIALLY_SPECIFIC = 1,  // one chain per branch point, trained by its tasks
} ConalSpecificKind;

typedef enum ConalConflictMode {
    CONAL_CONFLICT_OFF = 0,      // no per-task gradients: plain summed gradient
    CONAL_CONFLICT_MEASURE = 1,  // per-task gradients, Gram matrix and conflict ratio
    CONAL_CONFLICT_NOTICE = 2,   // measure, and skip the step of a conflicting shared
                                 // module and of every later shared module
    CONAL_CONFLICT_OBSERVE = 3,  // measure, with the summed gradient computed bit for
                                 // bit as with OFF (one more product per shared module)
} ConalConflictMode;

typedef struct ConalNetSpec {
    int n_tasks;                          // K
    int n_slots;                          // P - 1
    ConalModule slots[CONAL_MAX_SLOTS];   // shape of each slot; slot q's n_out is q+1's n_in
    ConalModule decoder;                  // per-task output module; n_in = last slot's n_out
    ConalSpecificKind specific;
    int max_block;                        // largest B
    int derived;                          // 0: search supernet, 1: one branch point per task
    int branch[CONAL_MAX_TASKS];          // derived only: branch point of task t, in 1..P
} ConalNetSpec;

// Backward flags.
enum {
    CONAL_GRAD_WEIGHTS = 1,   // accumulate weight gradients into params.g (and D)
    CONAL_GRAD_ALPHA = 2,     // accumulate architecture-weight gradients into alpha.g
};

// Outcome of the last conal_net_step.
typedef struct ConalStepReport {
    int measured;                            // 1 when per-task gradients were examined
    int frozen_from;                         // first skipped slot (1-based); P when none
    double conflict_ratio[CONAL_MAX_SLOTS];  // share of task pairs with negative cosine
    int n_negative[CONAL_MAX_SLOTS];         // task pairs with negative cosine
    int n_pairs[CONAL_MAX_SLOTS];            // task pairs where both gradients are non-zero
} ConalStepReport;

// Replaces the summed gradient of the shared modules before the step (PCGrad,
// CAGrad): segment s has per-task gradients d[s] (K x n[s]) and its combined
// gradient goes to out[s] (n[s]). G (K x K) is the Gram matrix of the task
// gradients summed over the segments, from the backward's Gram pass.
// conal_gradmix_hook has this shape.
typedef void (*ConalCombineFn)(void *ctx, int K, const double *G, int n_seg,
                               const float *const *d, const size_t *n, float *const *out);

typedef struct ConalNetImpl ConalNetImpl;

typedef struct ConalNet {
    ConalNetSpec spec;
    int P;                                    // branch points: n_slots + 1
    NnParamSet params;                        // every weight of the network
    NnParamSet alpha;                         // (K x P) architecture weights; n = 0 when derived
    ConalConflictMode conflict;               // set by the caller, default OFF
    ConalCombineFn combine;                   // NULL: plain sum of the task gradients
    void *combine_ctx;

    // shared module of slot q (index q - 1); n = 0 when no task uses it
    size_t shared_off[CONAL_MAX_SLOTS];       // first float in params
    size_t shared_n[CONAL_MAX_SLOTS];         // floats
    float *task_grads[CONAL_MAX_SLOTS];       // (K x shared_n) D of the last backward;
                                              // rows of tasks that skip the module stay
                                              // zero. To write D, zero_grad first.
    int task_grads_valid;                     // 1 when D contains the last backward's values

    // optimiser state: one Adam step count per shared module, one for the rest
    long step_shared[CONAL_MAX_SLOTS];
    long step_rest;
    long step_alpha;
    long stop_count[CONAL_MAX_SLOTS];         // steps skipped by conflict noticing
    ConalStepReport last;                     // report of the last step

    ConalNetImpl *impl;                       // layout tables and workspaces
} ConalNet;

// Checks spec and returns 0, or ERR_ARG with a message naming the bad field.
int conal_spec_validate(const ConalNetSpec *spec, char *err, size_t err_sz);

// Floats of the parameter block the spec needs.
size_t conal_spec_count_params(const ConalNetSpec *spec);

// Bytes conal_net_create allocates for spec: the parameter block (weights,
// gradients, Adam moments, target when with_target), alpha and its state,
// and the workspaces (activations, gradients, per-task gradients, Gram
// matrices). Small layout tables are not counted, nor the copy of dy that
// the first backward with CONAL_CONFLICT_OBSERVE allocates (K * max_block *
// widest slot floats). spec must be valid.
size_t conal_spec_estimate_bytes(const ConalNetSpec *spec, int with_target);

// Creates the network, initialises every module from rng in parameter order
// (torch.nn.Linear's default for dense modules) and alpha to zero. with_target
// keeps a target copy (initialised to the weights) and a second workspace
// for target forwards. Returns NULL and fills err on a bad spec or a failed
// allocation.
ConalNet *conal_net_create(const ConalNetSpec *spec, int with_target, RngState *rng,
                           char *err, size_t err_sz);

// Frees the network; NULL is a no-op.
void conal_net_destroy(ConalNet *net);

// Runs x (K*B x d_0) through the online weights, or through params.target
// when use_target (no backward through it). Returns y (K*B x decoder n_out),
// valid until the next forward with the same weights. B <= max_block.
const float *conal_net_forward(ConalNet *net, const float *x, int B, int use_target);

// Backpropagates dy (K*B x n_out) through the last online forward. flags
// select what accumulates: CONAL_GRAD_WEIGHTS into params.g (and, when
// conflict != OFF, overwrites task_grads with this pass's per-task gradients
// of the shared modules), CONAL_GRAD_ALPHA into alpha.g (search only). dx
// (K*B x d_0) is overwritten when not NULL. Loss weights per task are applied
// by the caller, by scaling task t's block of dy.
void conal_net_backward(ConalNet *net, const float *dy, float *dx, int B, int flags);

// Zeroes params.g and alpha.g and marks the per-task gradients stale (the
// next backward that computes them overwrites them).
void conal_net_zero_grad(ConalNet *net);

// One Adam step on the weights from params.g. With conflict != OFF and
// per-task gradients from the last backward, it reads each shared module's
// Gram matrix (built by that backward, or from D when the caller wrote D)
// and fills the conflict ratios. With CONAL_CONFLICT_NOTICE, the first
// module with a negative-cosine pair and every later shared module skip the
// step (weights, moments and step count unchanged) and their stop counts
// grow. The combine hook, when set, then replaces the shared modules'
// gradients. Everything else takes one step. Fills net->last.
void conal_net_step(ConalNet *net, const NnAdamConfig *adam);

// One Adam step on alpha from alpha.g, which it then zeroes (search only).
void conal_net_alpha_step(ConalNet *net, const NnAdamConfig *adam);

// softmax(alpha_t) (P floats); a derived network gives 1 at its branch point.
void conal_net_branch_weights(const ConalNet *net, int t, float *out);

// Counts pairs t < u with G[t][u] < 0 among tasks whose G[t][t] > 0: the
// negative cosines. gram is K x K (upper triangle read). Returns 1 when any
// pair is negative.
int conal_conflict_scan(const float *gram, int K, int *n_negative, int *n_pairs);

// Gram matrix D D^T (K x K, both triangles) of shared slot q (1-based)
// from the last backward with per-task gradients or the last step; NULL when
// the slot has no shared module.
const float *conal_net_gram(const ConalNet *net, int q);

// FLOPs of one forward over K blocks of B rows (2 per multiply-add).
double conal_net_flops_forward(const ConalNet *net, int B);

#endif
