// The network seam of the SAC trainer: one interface for every architecture.
//
// Dimension letters: K tasks, B rows per task block, I input features per row
// (including the task one-hot when the method appends one), O output features.
//
// Every batch is task-blocked: K contiguous blocks of B rows, block t holding
// task t's rows. SAC (rl/sac.c) calls only the functions below, so a new
// method (PCGrad, CAGrad, CoNAL) plugs in by filling an RlNetOps table and an
// RlNet, without touching the trainer. The actor and each critic are separate
// RlNets; each owns one NnParamSet (weights, gradients, Adam moments and, for
// critics, the target copy, all with one layout).
//
// Shared layers (used by more than one task) expose per-task gradient blocks:
// when want_task_grads is set before backward, shared[s].d holds the K x n
// matrix D whose row t is task t's gradient on that layer (weights then bias),
// computed as dY_t^T X_t over task t's rows, and shared[s].gram its Gram
// matrix D D^T. The summed gradient in params.g is always written, bit for bit
// as without want_task_grads, so measuring conflicts never changes a run.
// Methods whose update needs D every step (PCGrad, CAGrad) set
// sum_task_grads instead, which sums params.g from D's rows and saves one
// product per shared layer. Conflict diagnostics, PCGrad, CAGrad and conflict
// noticing need only D and its Gram matrix.
//
// This file does not know SAC: losses, targets and temperatures live in sac.c.
#ifndef RL_NET_H
#define RL_NET_H

#include <stddef.h>
#include <stdio.h>

#include "common/rng.h"
#include "conal/arch.h"
#include "conal/gradmix.h"
#include "nn/activation.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "nn/params.h"

#define RL_NET_MAX_HIDDEN 6
#define RL_NET_MAX_TASKS 16
#define RL_NET_MAX_SHARED 8

// Methods accepted by agent.method, in the config's spelling.
typedef enum RlMethod {
    RL_METHOD_STL = 0,         // K independent networks in one process
    RL_METHOD_MTSAC,           // one network, task one-hot appended to the input
    RL_METHOD_MHSAC,           // shared trunk, one output layer per task
    RL_METHOD_PCGRAD,          // MT-SAC with PCGrad on the shared layers
    RL_METHOD_CAGRAD,          // MT-SAC with CAGrad on the shared layers
    RL_METHOD_CONAL,           // CoNAL supernet
    RL_METHOD_CONAL_PCGRAD,
    RL_METHOD_CONAL_CAGRAD,
    RL_METHOD_COUNT,
} RlMethod;

// NULL-terminated config spellings, indexed by RlMethod.
extern const char *const rl_method_names[];

// Parses a method name; returns -1 when unknown.
int rl_method_parse(const char *name);

// Shape of one network (actor or critic).
typedef struct RlNetSpec {
    RlMethod method;
    int n_tasks;                       // K
    int n_in;                          // input features per row, without one-hot
    int n_out;                         // O
    int n_hidden;                      // hidden layers
    int hidden[RL_NET_MAX_HIDDEN];     // hidden widths
    NnActivation act;                  // hidden activation (output is linear)
    int max_block;                     // B: largest rows per task block
    int with_target;                   // 1 to keep a Polyak target copy (critics)
    int has_cagrad;                    // 0: CAGrad methods use conal_cagrad_defaults
    ConalCagradConfig cagrad;          // CAGrad settings when has_cagrad is 1

    // CoNAL methods only (rl/net_conal.h)
    const ConalArchNet *conal_arch;    // borrowed; NULL: search supernet, else derived
    ConalSpecificKind conal_specific;  // purely or partially specific modules
    int conal_conflict_noticing;       // search: skip conflicting shared-module steps
    int conal_random_loss_weights;     // retrain: random task loss weights, else 1/K
} RlNetSpec;

// Which weights a forward pass uses.
typedef enum RlNetWeights {
    RL_NET_ONLINE = 0,
    RL_NET_TARGET = 1,   // the Polyak copy; no backward through it
} RlNetWeights;

// One shared layer's view for diagnostics and gradient surgery.
typedef struct RlSharedLayer {
    char name[24];        // e.g. "hidden0"
    size_t offset;        // first float of the layer in params (weights, then bias)
    size_t n;             // floats of the layer: O*I + O
    float *d;             // (K x n) per-task gradients of the last backward
    double gram[RL_NET_MAX_TASKS * RL_NET_MAX_TASKS];   // (K x K) D D^T, same backward
} RlSharedLayer;

typedef struct RlNet RlNet;

// Method table. forward, backward and destroy are required; apply_update
// may be NULL (plain Adam on the summed gradient, see rl_net_update).
typedef struct RlNetOps {
    // Runs x (K*B x I) and returns y (K*B x O), valid until the next forward
    // with the same weights. Online forwards cache activations for backward.
    const float *(*forward)(RlNet *net, const float *x, int B, RlNetWeights which);
    // Backpropagates dy (K*B x O) through the last online forward: adds to
    // params.g, fills shared[].d and .gram when want_task_grads or
    // sum_task_grads, writes dx (K*B x I) when dx is not NULL.
    void (*backward)(RlNet *net, const float *dy, float *dx, int B);
    // Turns params.g (and shared[].d) into one optimiser step. This is where
    // gradient surgery and conflict noticing go.
    void (*apply_update)(RlNet *net, const NnAdamConfig *adam);
    // Writes and reads method-specific state (e.g. architecture weights) as
    // checkpoint sections prefixed with prefix. May be NULL when none.
    int (*save)(const RlNet *net, NnCkptWriter *w, const char *prefix, char *err,
                size_t err_sz);
    int (*load)(RlNet *net, const NnCkpt *ck, const char *prefix, char *err, size_t err_sz);
    void (*destroy)(RlNet *net);
} RlNetOps;

struct RlNet {
    const RlNetOps *ops;
    RlNetSpec spec;
    int n_in_total;                          // I: n_in plus K when one_hot
    int one_hot;                             // 1 when rows end with the task one-hot
    NnParamSet params;                       // every weight of this network
    long adam_step;                          // Adam steps applied so far
    int want_task_grads;                     // set by the caller before backward
    int sum_task_grads;                      // set by a method: fill D and sum
                                             // params.g from its rows
    int input_grad_only;                     // set by the caller: backward writes dx
                                             // only, params.g and D stay untouched
    int task_grads_fresh;                    // 1 when the last backward that was not
                                             // input_grad_only filled D and gram
    int n_shared;
    RlSharedLayer shared[RL_NET_MAX_SHARED];
    void *impl;                              // owned by the method
};

// Creates the network for spec->method and initialises its weights from rng
// (PyTorch's nn.Linear default), copying them to the target when kept.
// Returns NULL and fills err for a method that is not built yet, bad sizes or
// a failed allocation.
RlNet *rl_net_create(const RlNetSpec *spec, RngState *rng, char *err, size_t err_sz);

// Frees the network; NULL is a no-op.
void rl_net_destroy(RlNet *net);

// Fills x (K*B x I) from features (K*B x n_in) and appends the task one-hot
// when the method wants one.
void rl_net_pack_input(const RlNet *net, const float *features, int B, float *x);

// Shorthands for the method table.
const float *rl_net_forward(RlNet *net, const float *x, int B, RlNetWeights which);
void rl_net_backward(RlNet *net, const float *dy, float *dx, int B);

// One optimiser step through ops->apply_update, or plain Adam on params.g
// with adam_step + 1 when the method has none.
void rl_net_update(RlNet *net, const NnAdamConfig *adam);

// Writes G (K x K) = D D^T for shared layer s with one sgemm (float
// accumulation, as in sgemm).
void rl_net_gram(const RlNet *net, int s, float *gram);

// Share of task pairs (t < u) whose gradients on shared layer s have a
// negative cosine, computed from D (so also after D was written by hand).
// Pairs where either gradient is zero count as not conflicting.
double rl_net_conflict_ratio(const RlNet *net, int s);

// The same share from a K x K Gram matrix, such as shared[s].gram after a
// backward that left task_grads_fresh set.
double rl_gram_conflict_ratio(const double *gram, int K);

// Checkpoint sections "<prefix>.w", ".m", ".v", ".target", ".step" and the
// method's own. Loading checks every size against this network.
int rl_net_save(const RlNet *net, NnCkptWriter *w, const char *prefix, char *err,
                size_t err_sz);
int rl_net_load(RlNet *net, const NnCkpt *ck, const char *prefix, char *err, size_t err_sz);

// Dense MLP networks, the base of stl, mtsac and mhsac and of methods that
// only change the optimiser step (PCGrad, CAGrad). Layers [0, n_shared_levels)
// are shared by all tasks and the rest have one copy per task (mtsac: all
// layers shared, mhsac: all but the output layer, stl: none). one_hot appends
// the task one-hot to the input. apply_update, when not NULL, replaces plain
// Adam. rl_net_create calls this for the methods built here.
RlNet *rl_net_create_dense(const RlNetSpec *spec, int n_shared_levels, int one_hot,
                           void (*apply_update)(RlNet *net, const NnAdamConfig *adam),
                           RngState *rng, char *err, size_t err_sz);

// Bytes the network will allocate for spec (parameters, optimiser state,
// target, workspaces), for the memory estimate before a run starts.
size_t rl_net_estimate_bytes(const RlNetSpec *spec);

// FLOPs of one forward over K*B rows (2 per multiply-add), for benchmarks.
double rl_net_flops_forward(const RlNetSpec *spec, int B);

#endif
