// Upper level of the CoNAL search for SAC: architecture-weight steps.
//
// The CoNAL search is first-order bilevel. Each iteration the trainer first
// calls rl_sac_conal_arch_update on a validation batch (a second batch from
// each task's replay buffer), then rl_sac_update on the training batch. The
// upper-level losses are SAC's own: each critic's TD loss and the actor loss
// on the validation batch, with the current temperatures and target critics.
#ifndef RL_SAC_CONAL_H
#define RL_SAC_CONAL_H

#include "nn/params.h"
#include "rl/replay.h"
#include "rl/sac.h"

// One Adam step on the alpha of the actor and of both critics (all must be
// CoNAL search supernets) from the losses on val. Weights, temperatures and
// targets are unchanged; the noise comes from sac->rng.
void rl_sac_conal_arch_update(RlSac *sac, const RlBatch *val, const NnAdamConfig *adam);

#endif
