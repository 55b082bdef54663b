// CoNAL supernets behind the rl/net.h seam.
//
// Each network (actor, critic 1, critic 2) is a conal/ supernet whose module
// slots are the hidden layers and whose decoder is each task's output layer,
// with its own architecture weights. Target critics use the same
// architecture through the supernet's target copy. Inputs carry no task
// one-hot: every task has its own specific modules and decoder.
//
// Two phases share this file:
// - Search: the mixture over all branch points, conflict noticing on every
//   weight backward (ablation: conflict off). Alpha is trained by the
//   trainer on a second batch: forward, rl_net_conal_arch_backward with the
//   gradient of that batch's SAC loss, then rl_net_conal_arch_step.
// - Retrain: the derived network of an arch.json entry, from fresh weights,
//   with random loss weights w_t ~ U[0,1] normalised to sum 1, drawn once per
//   update (ablation: equal weights), and optionally PCGrad or CAGrad on the
//   shared modules.
#ifndef RL_NET_CONAL_H
#define RL_NET_CONAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "conal/arch.h"
#include "conal/gradmix.h"
#include "conal/supernet.h"
#include "rl/net.h"

typedef struct RlConalOptions {
    const ConalArchNet *arch;        // NULL: search supernet; else the derived network
    ConalSpecificKind specific;      // purely (CoNAL) or partially specific (ablation)
    int conflict_noticing;           // search: 1 skips conflicting shared modules' steps
    int random_loss_weights;         // retrain: 1 draws w_t every update, 0 uses 1/K
    ConalGradMixMethod gradmix;      // retrain: sum, pcgrad or cagrad on shared modules
    uint64_t seed;                   // seeds the loss weights and PCGrad's orders
} RlConalOptions;

// Defaults: search, purely specific, conflict noticing on, random loss
// weights on, plain sum.
RlConalOptions rl_conal_options_defaults(void);

// Creates a CoNAL network for spec (hidden layers become module slots).
// Returns NULL and fills err on a bad spec, an arch entry that does not fit
// spec, or a failed allocation.
RlNet *rl_net_create_conal(const RlNetSpec *spec, const RlConalOptions *opt, RngState *rng,
                           char *err, size_t err_sz);

// The search supernet spec of an RlNetSpec: hidden layers as dense slots,
// the output layer as each task's decoder. Returns 0 or ERR_CONFIG/ERR_ARG.
int rl_conal_spec(const RlNetSpec *spec, ConalSpecificKind kind, ConalNetSpec *out,
                  char *err, size_t err_sz);

// Bytes a CoNAL search network for spec allocates (the larger of the two
// phases: a derived network keeps a subset of the modules), plus its
// loss-weight buffer; for the trainer's memory estimate. Returns 0 for a
// spec the supernet rejects.
size_t rl_net_conal_estimate_bytes(const RlNetSpec *spec);

// The supernet behind net, or NULL when net is not a CoNAL network.
ConalNet *rl_net_conal(const RlNet *net);

// Accumulates the architecture-weight gradient of dy (K*B x O) through the
// last online forward (search only; weights are untouched).
void rl_net_conal_arch_backward(RlNet *net, const float *dy, int B);

// One Adam step on alpha from the accumulated gradient, which it then zeroes.
void rl_net_conal_arch_step(RlNet *net, const NnAdamConfig *adam);

#endif
