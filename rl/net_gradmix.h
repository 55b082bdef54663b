// PCGrad and CAGrad networks behind the rl/net.h seam.
//
// Both methods are MT-SAC (one network for all tasks, task one-hot appended
// to the input) whose optimiser step combines the per-task gradients of the
// shared layers with conal/gradmix instead of summing them. Layers that are
// not shared keep their summed gradient, which for a per-task layer is that
// task's own gradient. The network fills the per-task gradient blocks on
// every backward, whatever want_task_grads the caller set, except one with
// input_grad_only set, which touches neither params.g nor D.
#ifndef RL_NET_GRADMIX_H
#define RL_NET_GRADMIX_H

#include <stddef.h>

#include "common/rng.h"
#include "rl/net.h"

// Creates a PCGrad or CAGrad network (spec->method RL_METHOD_PCGRAD or
// RL_METHOD_CAGRAD) with spec->cagrad, or the reference CAGrad settings of
// conal_cagrad_defaults when spec->has_cagrad is 0. Initialises the weights
// from rng exactly as MT-SAC does and leaves rng where MT-SAC would, so the
// same seed gives the same weights under every dense method. PCGrad's order
// seed is derived from rng's state without advancing it. Returns NULL with
// a message in err for another method or a failed allocation.
RlNet *rl_net_create_gradmix(const RlNetSpec *spec, RngState *rng, char *err, size_t err_sz);

#endif
