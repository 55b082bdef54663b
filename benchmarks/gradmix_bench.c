// Times one MT-SAC update (both critics, actor, temperatures) with the plain
// summed gradient, with PCGrad and with CAGrad, and reports updates/s and the
// ratio of each method's update time to the plain update's, measured in the
// same run. The goal is a ratio of at most 1.15.
//
// Dimension letters: K tasks, B rows per task block.
// Shapes: K = 10 tasks, B = 128 rows per task (a 1280-row batch), 39-float
// observations, 4-float actions, actor and critics 3 x 400 ReLU, every layer
// shared (MT-SAC with the task one-hot appended to the input). The three
// agents run on the same random batch, one update each per round, in
// rotating order so clock drift hits all alike. Each reports the median
// round in wall time and in process CPU time (all threads), which other
// processes on a shared machine do not inflate. Threads are the project's
// team (nn_threads_set), as in `conal train --threads T`. A second table times conal_gradmix_apply
// alone (its own Gram pass, the weights, the combination) on the critic's
// per-task gradients. The networks take their Gram matrices from the
// backward instead, so their surgery costs less than this.
//
// Usage: gradmix_bench [--rounds N] [--threads T] (defaults 15 and 1)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "conal/gradmix.h"
#include "nn/gemm.h"
#include "rl/config.h"
#include "rl/replay.h"
#include "rl/sac.h"

enum { K = 10, B = 128, N_OBS = 39, N_ACT = 4, N_METHODS = 3 };

static const char *const method_names[N_METHODS] = {"mtsac", "pcgrad", "cagrad"};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// CPU time of the process, every thread included. Unlike the wall clock it
// does not count time lost to other processes on a shared machine.
static double process_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Allocates n floats drawn uniformly from [lo, hi).
static float *random_floats(size_t n, RngState *rng, double lo, double hi) {
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "gradmix_bench: out of memory allocating %zu floats\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)rng_range(rng, lo, hi);
    }
    return p;
}

// An MT-SAC agent of the given method with the mtrl-protocol defaults.
static RlSac *create_agent(const char *method) {
    RlConfig cfg;
    rl_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    cfg.batch_size = B;
    RngState rng;
    rng_init(&rng, 1);
    char err[512];
    RlSac *sac = rl_sac_create(&cfg, K, N_OBS, N_ACT, &rng, 2, err, sizeof err);
    if (!sac) {
        fprintf(stderr, "gradmix_bench: %s: %s\n", method, err);
        exit(1);
    }
    return sac;
}

// Times the surgery alone, in thread CPU time, on the first critic's per-task
// gradients: Gram matrices of every shared layer, the weights, and c^T D.
static double time_surgery(RlSac *sac, ConalGradMixMethod method, int rounds) {
    RlNet *q = sac->q1;
    ConalGradMix gm;
    conal_gradmix_init(&gm, method, NULL, 3);
    const float *d[RL_NET_MAX_SHARED];
    size_t n[RL_NET_MAX_SHARED];
    float *out[RL_NET_MAX_SHARED];
    for (int s = 0; s < q->n_shared; s++) {
        d[s] = q->shared[s].d;
        n[s] = q->shared[s].n;
        out[s] = q->params.g + q->shared[s].offset;
    }
    double *t = malloc(sizeof(double) * (size_t)rounds);
    for (int r = 0; r < rounds; r++) {
        double t0 = process_cpu_seconds();
        conal_gradmix_apply(&gm, K, q->n_shared, d, n, out, NULL);
        t[r] = process_cpu_seconds() - t0;
    }
    double m = median(t, rounds);
    free(t);
    return m;
}

int main(int argc, char **argv) {
    int rounds = 15, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: gradmix_bench [--rounds N] [--threads T]\n");
            return 1;
        }
    }
    if (rounds < 1 || threads < 1) {
        fprintf(stderr, "gradmix_bench: --rounds %d and --threads %d must be positive\n",
                rounds, threads);
        return 1;
    }
    if (nn_threads_set(threads) != 0) {
        fprintf(stderr, "gradmix_bench: cannot start %d threads\n", threads);
        return 1;
    }

    // one random batch shared by all agents
    RngState rng;
    rng_init(&rng, 7);
    size_t rows = (size_t)K * B;
    RlBatch batch = {
        .n_tasks = K,
        .B = B,
        .obs = random_floats(rows * N_OBS, &rng, -1.0, 1.0),
        .action = random_floats(rows * N_ACT, &rng, -1.0, 1.0),
        .reward = random_floats(rows, &rng, 0.0, 1.0),
        .next_obs = random_floats(rows * N_OBS, &rng, -1.0, 1.0),
    };
    RlSac *agents[N_METHODS];
    for (int m = 0; m < N_METHODS; m++) {
        agents[m] = create_agent(method_names[m]);
        rl_sac_update(agents[m], &batch, 0);   // warm-up: first-touch pages
    }

    // rounds: every agent updates once, the order rotating per round
    double *t = malloc(sizeof(double) * (size_t)rounds * N_METHODS);
    double *cpu = malloc(sizeof(double) * (size_t)rounds * N_METHODS);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < N_METHODS; k++) {
            int m = (r + k) % N_METHODS;
            double t0 = now_seconds(), c0 = process_cpu_seconds();
            rl_sac_update(agents[m], &batch, 0);
            t[(size_t)m * rounds + (size_t)r] = now_seconds() - t0;
            cpu[(size_t)m * rounds + (size_t)r] = process_cpu_seconds() - c0;
        }
    }

    printf("MT-SAC update, K=%d tasks x B=%d rows, actor and critics 3x400, %d "
           "thread%s, median of %d rounds\n", K, B, threads, threads == 1 ? "" : "s",
           rounds);
    printf("%-8s %12s %10s %14s %14s %14s\n", "method", "wall ms", "updates/s", "wall ratio",
           "cpu ms", "cpu ratio");
    double plain = median(t, rounds), plain_cpu = median(cpu, rounds);
    for (int m = 0; m < N_METHODS; m++) {
        double med = m == 0 ? plain : median(t + (size_t)m * rounds, rounds);
        double med_cpu = m == 0 ? plain_cpu : median(cpu + (size_t)m * rounds, rounds);
        printf("%-8s %12.2f %10.2f %13.3fx %14.2f %13.3fx\n", method_names[m], 1e3 * med,
               1.0 / med, med / plain, 1e3 * med_cpu, med_cpu / plain_cpu);
    }

    // the surgery alone, on the critic's D from the last update
    printf("\nsurgery alone on one critic's per-task gradients (%zu floats per task)\n",
           agents[1]->q1->params.n);
    printf("%-8s %12s %26s\n", "method", "cpu ms/call", "share of plain update cpu");
    for (int m = 1; m < N_METHODS; m++) {
        ConalGradMixMethod mix = m == 1 ? CONAL_GRADMIX_PCGRAD : CONAL_GRADMIX_CAGRAD;
        double s = time_surgery(agents[1], mix, rounds);
        printf("%-8s %12.3f %25.1f%%\n", method_names[m], 1e3 * s, 100.0 * s / plain_cpu);
    }

    for (int m = 0; m < N_METHODS; m++) {
        rl_sac_destroy(agents[m]);
    }
    free(t);
    free(cpu);
    free(batch.obs);
    free(batch.action);
    free(batch.reward);
    free(batch.next_obs);
    return 0;
}
