// Fork-join team on pthreads. An atomic generation counter starts a job and
// an atomic count reports the workers done with it. Both sides poll briefly
// before they sleep on a condition variable, so back-to-back jobs skip the
// futex round trip.
#include "common/team.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/error.h"

struct Team {
    int n_threads;               // T, the caller included
    int n_started;               // workers actually running
    pthread_t *workers;          // (T - 1)
    pthread_mutex_t mutex;
    pthread_cond_t start_cv;
    pthread_cond_t done_cv;
    atomic_long generation;      // bumped once per job
    atomic_int n_done;           // workers finished with the current job
    int n_sleeping;              // workers waiting on start_cv
    int caller_sleeping;         // the caller waits on done_cv
    int stop;

    // the current job
    TeamFn fn;
    void *ctx;
    int n_items;
};

typedef struct WorkerArg {
    Team *team;
    int index;                   // 1..T-1
} WorkerArg;

// Runs the items of the current job that belong to thread index.
static void run_share(const Team *team, int index) {
    for (int i = index; i < team->n_items; i += team->n_threads) {
        team->fn(team->ctx, i);
    }
}

// Polls before sleeping. Jobs come in bursts (one per layer of an update),
// and a futex wake-up costs more than a short spin. Workers give up soon,
// because between bursts other threads (the env pool) need the cores. The
// caller polls longer, since the job it waits for is nearly done.
#define WORKER_POLLS 20000
#define CALLER_POLLS 1000000

static void *worker_main(void *p) {
    WorkerArg arg = *(WorkerArg *)p;
    free(p);
    Team *team = arg.team;
    long seen = 0;
    for (;;) {
        for (int i = 0; i < WORKER_POLLS && atomic_load(&team->generation) == seen; i++) {
        }
        pthread_mutex_lock(&team->mutex);
        while (!team->stop && atomic_load(&team->generation) == seen) {
            team->n_sleeping++;
            pthread_cond_wait(&team->start_cv, &team->mutex);
            team->n_sleeping--;
        }
        int stop = team->stop;
        pthread_mutex_unlock(&team->mutex);
        if (stop) {
            return NULL;
        }
        seen = atomic_load(&team->generation);
        run_share(team, arg.index);
        if (atomic_fetch_add(&team->n_done, 1) + 1 == team->n_started) {
            pthread_mutex_lock(&team->mutex);
            if (team->caller_sleeping) {
                pthread_cond_signal(&team->done_cv);
            }
            pthread_mutex_unlock(&team->mutex);
        }
    }
}

Team *team_create(int n_threads) {
    if (n_threads < 1) {
        return NULL;
    }
    Team *team = calloc(1, sizeof *team);
    if (!team) {
        return NULL;
    }
    team->n_threads = n_threads;
    team->workers = calloc((size_t)n_threads, sizeof *team->workers);
    if (!team->workers) {
        free(team);
        return NULL;
    }
    pthread_mutex_init(&team->mutex, NULL);
    pthread_cond_init(&team->start_cv, NULL);
    pthread_cond_init(&team->done_cv, NULL);
    for (int w = 1; w < n_threads; w++) {
        WorkerArg *arg = malloc(sizeof *arg);
        if (!arg) {
            team_destroy(team);
            return NULL;
        }
        arg->team = team;
        arg->index = w;
        if (pthread_create(&team->workers[w - 1], NULL, worker_main, arg) != 0) {
            free(arg);
            team_destroy(team);
            return NULL;
        }
        team->n_started++;
    }
    return team;
}

void team_destroy(Team *team) {
    if (!team) {
        return;
    }
    pthread_mutex_lock(&team->mutex);
    team->stop = 1;
    pthread_cond_broadcast(&team->start_cv);
    pthread_mutex_unlock(&team->mutex);
    for (int w = 0; w < team->n_started; w++) {
        pthread_join(team->workers[w], NULL);
    }
    pthread_mutex_destroy(&team->mutex);
    pthread_cond_destroy(&team->start_cv);
    pthread_cond_destroy(&team->done_cv);
    free(team->workers);
    free(team);
}

int team_size(const Team *team) {
    return team ? team->n_threads : 1;
}

void team_run(Team *team, TeamFn fn, void *ctx, int n_items) {
    ASSERT(fn, "team_run: no item function");
    if (!team || team->n_started == 0 || n_items <= 1) {
        for (int i = 0; i < n_items; i++) {
            fn(ctx, i);
        }
        return;
    }
    team->fn = fn;
    team->ctx = ctx;
    team->n_items = n_items;
    atomic_store(&team->n_done, 0);
    pthread_mutex_lock(&team->mutex);
    atomic_fetch_add(&team->generation, 1);
    if (team->n_sleeping > 0) {
        pthread_cond_broadcast(&team->start_cv);
    }
    pthread_mutex_unlock(&team->mutex);

    run_share(team, 0);
    for (int i = 0; i < CALLER_POLLS && atomic_load(&team->n_done) < team->n_started; i++) {
    }
    if (atomic_load(&team->n_done) < team->n_started) {
        pthread_mutex_lock(&team->mutex);
        team->caller_sleeping = 1;
        while (atomic_load(&team->n_done) < team->n_started) {
            pthread_cond_wait(&team->done_cv, &team->mutex);
        }
        team->caller_sleeping = 0;
        pthread_mutex_unlock(&team->mutex);
    }
}
