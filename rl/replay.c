// Per-task replay rings and task-blocked uniform sampling.
#include "rl/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

size_t rl_replay_bytes(int n_tasks, int n_obs, int n_act, int64_t capacity) {
    size_t per = sizeof(float) * (2 * (size_t)n_obs + (size_t)n_act + 1);
    return (size_t)n_tasks * (size_t)capacity * per;
}

int rl_replay_init(RlReplay *rb, int n_tasks, int n_obs, int n_act, int64_t capacity,
                   char *err, size_t err_sz) {
    memset(rb, 0, sizeof *rb);
    rb->n_tasks = n_tasks;
    rb->n_obs = n_obs;
    rb->n_act = n_act;
    rb->capacity = capacity;
    rb->tasks = calloc((size_t)n_tasks, sizeof *rb->tasks);
    if (!rb->tasks) {
        return err_set(err, err_sz, ERR_NOMEM, "replay: out of memory");
    }
    size_t C = (size_t)capacity;
    for (int t = 0; t < n_tasks; t++) {
        RlReplayTask *rt = &rb->tasks[t];
        rt->obs = malloc(sizeof(float) * C * (size_t)n_obs);
        rt->action = malloc(sizeof(float) * C * (size_t)n_act);
        rt->reward = malloc(sizeof(float) * C);
        rt->next_obs = malloc(sizeof(float) * C * (size_t)n_obs);
        if (!rt->obs || !rt->action || !rt->reward || !rt->next_obs) {
            rl_replay_deinit(rb);
            return err_set(err, err_sz, ERR_NOMEM,
                           "replay: out of memory for %d tasks x %lld transitions (%zu bytes)",
                           n_tasks, (long long)capacity,
                           rl_replay_bytes(n_tasks, n_obs, n_act, capacity));
        }
    }
    return 0;
}

void rl_replay_deinit(RlReplay *rb) {
    if (rb->tasks) {
        for (int t = 0; t < rb->n_tasks; t++) {
            free(rb->tasks[t].obs);
            free(rb->tasks[t].action);
            free(rb->tasks[t].reward);
            free(rb->tasks[t].next_obs);
        }
    }
    free(rb->tasks);
    memset(rb, 0, sizeof *rb);
}

void rl_replay_add(RlReplay *rb, int t, const float *obs, const float *action, float reward,
                   const float *next_obs) {
    ASSERT(t >= 0 && t < rb->n_tasks, "rl_replay_add: task %d of %d", t, rb->n_tasks);
    RlReplayTask *rt = &rb->tasks[t];
    size_t i = (size_t)rt->next;
    size_t O = (size_t)rb->n_obs, A = (size_t)rb->n_act;
    memcpy(rt->obs + i * O, obs, sizeof(float) * O);
    memcpy(rt->action + i * A, action, sizeof(float) * A);
    rt->reward[i] = reward;
    memcpy(rt->next_obs + i * O, next_obs, sizeof(float) * O);
    rt->next = (rt->next + 1) % rb->capacity;
    if (rt->size < rb->capacity) {
        rt->size++;
    }
}

void rl_replay_sample(const RlReplay *rb, RngState *rng, RlBatch *batch) {
    ASSERT(batch->n_tasks == rb->n_tasks, "rl_replay_sample: batch has %d tasks, buffer %d",
           batch->n_tasks, rb->n_tasks);
    size_t O = (size_t)rb->n_obs, A = (size_t)rb->n_act;
    for (int t = 0; t < rb->n_tasks; t++) {
        const RlReplayTask *rt = &rb->tasks[t];
        ASSERT(rt->size > 0, "rl_replay_sample: task %d has no transitions", t);
        for (int b = 0; b < batch->B; b++) {
            size_t row = (size_t)t * (size_t)batch->B + (size_t)b;
            size_t i = (size_t)rng_below(rng, (uint64_t)rt->size);
            memcpy(batch->obs + row * O, rt->obs + i * O, sizeof(float) * O);
            memcpy(batch->action + row * A, rt->action + i * A, sizeof(float) * A);
            batch->reward[row] = rt->reward[i];
            memcpy(batch->next_obs + row * O, rt->next_obs + i * O, sizeof(float) * O);
        }
    }
}

int rl_batch_init(RlBatch *batch, int n_tasks, int B, int n_obs, int n_act) {
    size_t rows = (size_t)n_tasks * (size_t)B;
    batch->n_tasks = n_tasks;
    batch->B = B;
    batch->obs = malloc(sizeof(float) * rows * (size_t)n_obs);
    batch->action = malloc(sizeof(float) * rows * (size_t)n_act);
    batch->reward = malloc(sizeof(float) * rows);
    batch->next_obs = malloc(sizeof(float) * rows * (size_t)n_obs);
    if (!batch->obs || !batch->action || !batch->reward || !batch->next_obs) {
        rl_batch_deinit(batch);
        return ERR_NOMEM;
    }
    return 0;
}

void rl_batch_deinit(RlBatch *batch) {
    free(batch->obs);
    free(batch->action);
    free(batch->reward);
    free(batch->next_obs);
    memset(batch, 0, sizeof *batch);
}

// Name of section `what` of task t.
static void section_name(char *name, int t, const char *what) {
    snprintf(name, NN_CKPT_NAME_LEN, "replay.%d.%s", t, what);
}

int rl_replay_save(const RlReplay *rb, NnCkptWriter *w, char *err, size_t err_sz) {
    size_t O = (size_t)rb->n_obs, A = (size_t)rb->n_act;
    char name[NN_CKPT_NAME_LEN];
    for (int t = 0; t < rb->n_tasks; t++) {
        const RlReplayTask *rt = &rb->tasks[t];
        size_t n = (size_t)rt->size;
        int64_t counters[2] = {rt->size, rt->next};
        const void *data[5] = {counters, rt->obs, rt->action, rt->reward, rt->next_obs};
        size_t bytes[5] = {sizeof counters, sizeof(float) * n * O, sizeof(float) * n * A,
                           sizeof(float) * n, sizeof(float) * n * O};
        const char *what[5] = {"counters", "obs", "action", "reward", "next_obs"};
        for (int i = 0; i < 5; i++) {
            section_name(name, t, what[i]);
            int rc = nn_ckpt_write(w, name, data[i], bytes[i], err, err_sz);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

int rl_replay_load(RlReplay *rb, const NnCkpt *ck, char *err, size_t err_sz) {
    size_t O = (size_t)rb->n_obs, A = (size_t)rb->n_act;
    char name[NN_CKPT_NAME_LEN];
    for (int t = 0; t < rb->n_tasks; t++) {
        RlReplayTask *rt = &rb->tasks[t];
        int64_t counters[2];
        section_name(name, t, "counters");
        int rc = nn_ckpt_read(ck, name, counters, sizeof counters, err, err_sz);
        if (rc != 0) {
            return rc;
        }
        if (counters[0] < 0 || counters[0] > rb->capacity || counters[1] < 0 ||
            counters[1] >= rb->capacity) {
            return err_set(err, err_sz, ERR_MISMATCH,
                           "replay: task %d holds %lld transitions at position %lld, but the "
                           "capacity is %lld",
                           t, (long long)counters[0], (long long)counters[1],
                           (long long)rb->capacity);
        }
        rt->size = counters[0];
        rt->next = counters[1];
        size_t n = (size_t)rt->size;
        void *data[4] = {rt->obs, rt->action, rt->reward, rt->next_obs};
        size_t bytes[4] = {sizeof(float) * n * O, sizeof(float) * n * A, sizeof(float) * n,
                           sizeof(float) * n * O};
        const char *what[4] = {"obs", "action", "reward", "next_obs"};
        for (int i = 0; i < 4; i++) {
            section_name(name, t, what[i]);
            if ((rc = nn_ckpt_read(ck, name, data[i], bytes[i], err, err_sz)) != 0) {
                return rc;
            }
        }
    }
    return 0;
}
