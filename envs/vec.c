// Vector env: N tasks stepped in parallel on a fixed pthread pool.
//
// The T threads (the caller and T - 1 workers) take envs one at a time from
// a shared atomic counter, which balances tasks of unequal cost: a window
// step costs about four reach steps. Every env owns its mjData and is
// stepped by exactly one thread, so the result does not depend on T or on
// which thread took which env. Buffers in double precision (the env API)
// are allocated once at create; a step allocates nothing.
#include "envs/vec.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

typedef enum VecJob {
    VEC_JOB_STEP,
    VEC_JOB_RESET,
} VecJob;

struct EnvVec {
    int n_envs;                  // N
    int obs_dim;                 // O
    int n_threads;               // T
    EnvTask **envs;              // (N)
    double *obs;                 // (N x O)
    double *act;                 // (N x A)
    double *rewards;             // (N)
    int *truncated;              // (N)
    EnvInfo *infos;              // (N)

    // pool: workers 1..T-1 wait for a new generation, run their block, and
    // report back through n_done
    pthread_t *threads;          // (T - 1)
    int n_started;               // worker threads actually running
    int pool_ready;              // mutex and condition variables initialised
    pthread_mutex_t mutex;
    pthread_cond_t start_cv;
    pthread_cond_t done_cv;
    long generation;
    int n_done;
    int stop;
    VecJob job;
    atomic_int next_env;         // next env index to take in the current job
};


// Runs the current job on env i; failures here are bugs because every
// input was checked before the job started.
static void run_env(EnvVec *vec, int i) {
    char err[512];
    double *obs = vec->obs + (size_t)i * vec->obs_dim;
    int rc;
    if (vec->job == VEC_JOB_RESET) {
        rc = env_reset(vec->envs[i], ENV_GOAL_NEXT, obs, err, sizeof err);
        memset(&vec->infos[i], 0, sizeof vec->infos[i]);
        vec->rewards[i] = 0.0;
        vec->truncated[i] = ENV_TRUNC_NONE;
    } else {
        rc = env_step(vec->envs[i], vec->act + (size_t)i * ENV_ACT_DIM, obs, &vec->rewards[i],
                      &vec->truncated[i], &vec->infos[i], err, sizeof err);
    }
    ASSERT(rc == 0, "env %d: %s", i, err);
}

// Runs the current job on envs taken from the shared counter until none is
// left.
static void run_share(EnvVec *vec) {
    for (;;) {
        int i = atomic_fetch_add(&vec->next_env, 1);
        if (i >= vec->n_envs) {
            return;
        }
        run_env(vec, i);
    }
}

// Worker loop: wait for a generation, take envs, report.
static void *worker_main(void *p) {
    EnvVec *vec = p;
    long seen = 0;
    for (;;) {
        pthread_mutex_lock(&vec->mutex);
        while (vec->generation == seen && !vec->stop) {
            pthread_cond_wait(&vec->start_cv, &vec->mutex);
        }
        if (vec->stop) {
            pthread_mutex_unlock(&vec->mutex);
            return NULL;
        }
        seen = vec->generation;
        pthread_mutex_unlock(&vec->mutex);

        run_share(vec);

        pthread_mutex_lock(&vec->mutex);
        vec->n_done++;
        if (vec->n_done == vec->n_threads - 1) {
            pthread_cond_signal(&vec->done_cv);
        }
        pthread_mutex_unlock(&vec->mutex);
    }
}

// Runs job on all envs: wakes the workers, takes envs itself, waits for
// the workers to finish theirs.
static void run_job(EnvVec *vec, VecJob job) {
    vec->job = job;
    atomic_store(&vec->next_env, 0);
    if (vec->n_threads == 1) {
        run_share(vec);
        return;
    }
    pthread_mutex_lock(&vec->mutex);
    vec->n_done = 0;
    vec->generation++;
    pthread_cond_broadcast(&vec->start_cv);
    pthread_mutex_unlock(&vec->mutex);

    run_share(vec);

    pthread_mutex_lock(&vec->mutex);
    while (vec->n_done < vec->n_threads - 1) {
        pthread_cond_wait(&vec->done_cv, &vec->mutex);
    }
    pthread_mutex_unlock(&vec->mutex);
}

// Starts the T - 1 worker threads.
static int start_pool(EnvVec *vec, char *err, size_t err_sz) {
    pthread_mutex_init(&vec->mutex, NULL);
    pthread_cond_init(&vec->start_cv, NULL);
    pthread_cond_init(&vec->done_cv, NULL);
    vec->pool_ready = 1;
    if (vec->n_threads == 1) {
        return 0;
    }
    vec->threads = calloc((size_t)vec->n_threads - 1, sizeof *vec->threads);
    if (!vec->threads) {
        return err_set(err, err_sz, ERR_NOMEM, "env_vec_create: cannot allocate %d threads",
                       vec->n_threads);
    }
    for (int t = 1; t < vec->n_threads; t++) {
        if (pthread_create(&vec->threads[t - 1], NULL, worker_main, vec) != 0) {
            return err_set(err, err_sz, ERR_NOMEM,
                           "env_vec_create: cannot start worker thread %d of %d", t,
                           vec->n_threads);
        }
        vec->n_started++;
    }
    return 0;
}

// Allocates the double-precision buffers for N envs.
static int alloc_buffers(EnvVec *vec) {
    size_t n = (size_t)vec->n_envs;
    vec->envs = calloc(n, sizeof *vec->envs);
    vec->obs = calloc(n * (size_t)ENV_OBS_DIM_ONE_HOT, sizeof *vec->obs);
    vec->act = calloc(n * ENV_ACT_DIM, sizeof *vec->act);
    vec->rewards = calloc(n, sizeof *vec->rewards);
    vec->truncated = calloc(n, sizeof *vec->truncated);
    vec->infos = calloc(n, sizeof *vec->infos);
    return vec->envs && vec->obs && vec->act && vec->rewards && vec->truncated && vec->infos;
}

int env_vec_create(EnvVec **out, const int *tasks, int n_envs, const EnvConfig *cfg,
                   int n_threads, char *err, size_t err_sz) {
    *out = NULL;
    if (n_envs < 1) {
        return err_set(err, err_sz, ERR_ARG, "env_vec_create: n_envs %d must be >= 1", n_envs);
    }
    if (n_threads < 1) {
        return err_set(err, err_sz, ERR_ARG, "env_vec_create: n_threads %d must be >= 1",
                       n_threads);
    }
    for (int i = 0; i < n_envs; i++) {
        if (!env_task_name(tasks[i])) {
            return err_set(err, err_sz, ERR_ARG,
                           "env_vec_create: env %d: task index %d outside 0..%d", i, tasks[i],
                           ENV_N_TASKS - 1);
        }
    }
    EnvVec *vec = calloc(1, sizeof *vec);
    if (!vec) {
        return err_set(err, err_sz, ERR_NOMEM, "env_vec_create: out of memory");
    }
    vec->n_envs = n_envs;
    vec->n_threads = n_threads < n_envs ? n_threads : n_envs;
    if (!alloc_buffers(vec)) {
        env_vec_destroy(vec);
        return err_set(err, err_sz, ERR_NOMEM, "env_vec_create: cannot allocate buffers");
    }

    // envs first, so a bad asset folder fails before any thread starts
    char env_err[1024];
    for (int i = 0; i < n_envs; i++) {
        int rc = env_create(&vec->envs[i], env_task_name(tasks[i]), cfg, env_err,
                            sizeof env_err);
        if (rc != 0) {
            env_vec_destroy(vec);
            return err_set(err, err_sz, rc, "env_vec_create: env %d: %s", i, env_err);
        }
    }
    vec->obs_dim = env_obs_dim(vec->envs[0]);
    int rc = start_pool(vec, err, err_sz);
    if (rc != 0) {
        env_vec_destroy(vec);
        return rc;
    }
    *out = vec;
    return 0;
}

void env_vec_destroy(EnvVec *vec) {
    if (!vec) {
        return;
    }
    if (vec->n_started > 0) {
        pthread_mutex_lock(&vec->mutex);
        vec->stop = 1;
        pthread_cond_broadcast(&vec->start_cv);
        pthread_mutex_unlock(&vec->mutex);
        for (int t = 0; t < vec->n_started; t++) {
            pthread_join(vec->threads[t], NULL);
        }
    }
    if (vec->pool_ready) {
        pthread_mutex_destroy(&vec->mutex);
        pthread_cond_destroy(&vec->start_cv);
        pthread_cond_destroy(&vec->done_cv);
    }
    for (int i = 0; vec->envs && i < vec->n_envs; i++) {
        env_destroy(vec->envs[i]);
    }
    free(vec->threads);
    free(vec->envs);
    free(vec->obs);
    free(vec->act);
    free(vec->rewards);
    free(vec->truncated);
    free(vec->infos);
    free(vec);
}

int env_vec_n_envs(const EnvVec *vec) {
    return vec->n_envs;
}

int env_vec_obs_dim(const EnvVec *vec) {
    return vec->obs_dim;
}

int env_vec_n_threads(const EnvVec *vec) {
    return vec->n_threads;
}

EnvTask *env_vec_env(EnvVec *vec, int i) {
    ASSERT(i >= 0 && i < vec->n_envs, "env index %d outside 0..%d", i, vec->n_envs - 1);
    return vec->envs[i];
}

// Copies env i's double observation into a float buffer (O).
static void copy_obs(const EnvVec *vec, int i, float *out) {
    const double *src = vec->obs + (size_t)i * vec->obs_dim;
    for (int j = 0; j < vec->obs_dim; j++) {
        out[j] = (float)src[j];
    }
}

int env_vec_reset_all(EnvVec *vec, float *obs, char *err, size_t err_sz) {
    (void)err;
    (void)err_sz;
    run_job(vec, VEC_JOB_RESET);
    for (int i = 0; i < vec->n_envs; i++) {
        copy_obs(vec, i, obs + (size_t)i * vec->obs_dim);
    }
    return 0;
}

int env_vec_reset(EnvVec *vec, int i, int goal, float *obs, char *err, size_t err_sz) {
    if (i < 0 || i >= vec->n_envs) {
        return err_set(err, err_sz, ERR_ARG, "env_vec_reset: env index %d outside 0..%d", i,
                       vec->n_envs - 1);
    }
    int rc = env_reset(vec->envs[i], goal, vec->obs + (size_t)i * vec->obs_dim, err, err_sz);
    if (rc == 0) {
        copy_obs(vec, i, obs);
    }
    return rc;
}

// Checks every env's action and episode state before any env moves.
static int check_actions(const EnvVec *vec, const float *actions, char *err, size_t err_sz) {
    for (int i = 0; i < vec->n_envs; i++) {
        const EnvTask *env = vec->envs[i];
        const char *name = env_task_name(env_task_id(env));
        int step = env_step_count(env) + 1;
        int state = env_truncated(env);
        if (state == ENV_NOT_STARTED) {
            return err_set(err, err_sz, ERR_ARG,
                           "env_vec_step: env %d (%s): step before the first reset", i, name);
        }
        if (state != ENV_TRUNC_NONE) {
            return err_set(err, err_sz, ERR_ARG,
                           "env_vec_step: env %d (%s) step %d: the episode is truncated; "
                           "call env_vec_reset first", i, name, step);
        }
        for (int j = 0; j < ENV_ACT_DIM; j++) {
            float a = actions[(size_t)i * ENV_ACT_DIM + j];
            if (!isfinite(a)) {
                return err_set(err, err_sz, ERR_ARG,
                               "env_vec_step: env %d (%s) step %d: action[%d] = %g is not "
                               "finite", i, name, step, j, (double)a);
            }
        }
    }
    return 0;
}

int env_vec_step(EnvVec *vec, const float *actions, float *next_obs, float *rewards,
                 int *truncated, EnvInfo *infos, char *err, size_t err_sz) {
    int rc = check_actions(vec, actions, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    for (size_t j = 0; j < (size_t)vec->n_envs * ENV_ACT_DIM; j++) {
        vec->act[j] = actions[j];
    }
    run_job(vec, VEC_JOB_STEP);
    for (int i = 0; i < vec->n_envs; i++) {
        copy_obs(vec, i, next_obs + (size_t)i * vec->obs_dim);
        rewards[i] = (float)vec->rewards[i];
        truncated[i] = vec->truncated[i];
        if (infos) {
            infos[i] = vec->infos[i];
        }
    }
    return 0;
}
