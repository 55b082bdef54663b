// One replay buffer per task, sampled in task blocks.
//
// Dimension letters: K tasks, C capacity per task, O observation, A action,
// B rows per task block. Task t's ring keeps its last C transitions
// (obs, action, reward, next_obs). Meta-World episodes end only by
// truncation, which is not a terminal state, so no done flag is stored and
// every transition bootstraps. A sample draws B indices per task uniformly
// with replacement and writes K contiguous blocks of B rows, block t from
// task t. Sampling never allocates.
#ifndef RL_REPLAY_H
#define RL_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "nn/checkpoint.h"

typedef struct RlReplayTask {
    float *obs;        // (C x O)
    float *action;     // (C x A)
    float *reward;     // (C)
    float *next_obs;   // (C x O)
    int64_t size;      // transitions stored, <= C
    int64_t next;      // ring position of the next write
} RlReplayTask;

typedef struct RlReplay {
    int n_tasks;          // K
    int n_obs;            // O
    int n_act;            // A
    int64_t capacity;     // C
    RlReplayTask *tasks;  // (K)
} RlReplay;

// A task-blocked batch (K*B rows), filled by rl_replay_sample.
typedef struct RlBatch {
    int n_tasks, B;
    float *obs;        // (K*B x O)
    float *action;     // (K*B x A)
    float *reward;     // (K*B)
    float *next_obs;   // (K*B x O)
} RlBatch;

// Bytes the buffers of K tasks with capacity C take.
size_t rl_replay_bytes(int n_tasks, int n_obs, int n_act, int64_t capacity);

// Allocates the rings. Returns 0 or ERR_NOMEM naming the bytes requested.
int rl_replay_init(RlReplay *rb, int n_tasks, int n_obs, int n_act, int64_t capacity,
                   char *err, size_t err_sz);
void rl_replay_deinit(RlReplay *rb);

// Appends one transition to task t, overwriting the oldest when full.
void rl_replay_add(RlReplay *rb, int t, const float *obs, const float *action, float reward,
                   const float *next_obs);

// Draws B rows per task (each task must hold at least one transition).
void rl_replay_sample(const RlReplay *rb, RngState *rng, RlBatch *batch);

int rl_batch_init(RlBatch *batch, int n_tasks, int B, int n_obs, int n_act);
void rl_batch_deinit(RlBatch *batch);

// Checkpoint sections "replay.<t>.*" holding only the filled part of each
// ring, and their reader, which checks sizes against this buffer.
int rl_replay_save(const RlReplay *rb, NnCkptWriter *w, char *err, size_t err_sz);
int rl_replay_load(RlReplay *rb, const NnCkpt *ck, char *err, size_t err_sz);

#endif
