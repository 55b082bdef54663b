// Deriving a CoNAL architecture from a searched supernet, and arch.json.
//
// Derive: each task's branch point is p*_t = argmax_p alpha_t (ties go to the
// larger p, the one with more sharing). The derived network keeps only the
// modules some task uses (conal_net_create with spec.derived = 1 prunes the
// rest), and its parameter count is reported beside the supernet's.
//
// arch.json contains one entry per network of a run (e.g. actor, critic1,
// critic2):
//   {"format": "conal-arch", "version": 1, "networks": [
//     {"name": "actor", "n_tasks": 10, "n_slots": 3,
//      "specific": "purely", "row_widths": [39, 400, 400, 400, 8],
//      "branch_point": [4, 4, 2, ...], "branch_weights": [[...P floats], ...],
//      "params_supernet": 2023208, "params_derived": 581208}]}
// row_widths are the input width, each slot's output width and the decoder's
// output width, used to check that an arch file fits a network spec.
// Retraining from a derived architecture lives with the trainer; this file
// also draws the random loss weights it uses.
#ifndef CONAL_ARCH_H
#define CONAL_ARCH_H

#include <stddef.h>

#include "common/rng.h"
#include "conal/supernet.h"

#define CONAL_ARCH_MAX_NETS 8
#define CONAL_ARCH_NAME_LEN 32

typedef struct ConalArchNet {
    char name[CONAL_ARCH_NAME_LEN];                         // network name, e.g. "critic1"
    int n_tasks;                                            // K
    int n_slots;                                            // P - 1
    ConalSpecificKind specific;
    int row_widths[CONAL_MAX_SLOTS + 2];                    // input, slots, decoder output
    int branch[CONAL_MAX_TASKS];                            // p*_t in 1..P
    float branch_weights[CONAL_MAX_TASKS][CONAL_MAX_SLOTS + 1];  // softmax(alpha_t)
    size_t params_supernet;                                 // floats of the search supernet
    size_t params_derived;                                  // floats of the derived network
} ConalArchNet;

typedef struct ConalArch {
    int n_nets;
    ConalArchNet nets[CONAL_ARCH_MAX_NETS];
} ConalArch;

// Derives the architecture of net (a search supernet or a derived network,
// whose branch points are copied) under the given name.
void conal_arch_derive(const ConalNet *net, const char *name, ConalArchNet *out);

// Derives from the architecture weights alpha (K x P logits, row t for task
// t) of a search supernet with this spec, without building the network.
void conal_arch_from_alpha(const ConalNetSpec *spec, const float *alpha, const char *name,
                           ConalArchNet *out);

// The derived spec for arch: search_spec with derived = 1 and the branch
// points of arch. Returns 0, or ERR_MISMATCH naming the first field of arch
// that does not fit search_spec (task count, slot count, widths, kind).
int conal_arch_apply(const ConalArchNet *arch, const ConalNetSpec *search_spec,
                     ConalNetSpec *derived, char *err, size_t err_sz);

// Entry by name, or NULL.
const ConalArchNet *conal_arch_find(const ConalArch *arch, const char *name);

// Writes arch as arch.json at path (atomically). Returns 0 or ERR_IO.
int conal_arch_save(const ConalArch *arch, const char *path, char *err, size_t err_sz);

// Reads an arch.json. Returns 0, ERR_IO, or ERR_FORMAT naming the path and
// the bad field.
int conal_arch_load(ConalArch *arch, const char *path, char *err, size_t err_sz);

// Draws retraining loss weights: w_t ~ U[0, 1] for K tasks, normalised to
// sum 1, from rng (so a run reproduces them from its seed and saved state).
void conal_loss_weights_draw(RngState *rng, int K, float *w);

#endif
