// sac_bench: updates per second of the MT-SAC update against bare sgemm and
// against PyTorch.
//
// Dimension letters: K tasks, B rows per task block, O observation, A action.
// Our update: rl_sac_update at K=10, B=128, O=39, A=4, actor and critics
// 3x400 ReLU, the task one-hot appended (the mtrl MT-SAC shapes). The sgemm
// reference issues the dense products of one update (the same shapes,
// transposes and thread count) and nothing else, so ours / reference is the
// share of the sgemm roofline the update reaches. It runs two ways, and the
// faster one counts: through nn_sgemm on the project's team (each product
// split into one block per thread, OpenBLAS single-threaded), and as plain
// cblas_sgemm threaded by OpenBLAS. The OpenBLAS runs come last, because
// OpenBLAS's threads keep spinning for a while after each call and would
// steal cycles from whatever ran next. The PyTorch reference is
// scripts/bench_sac_torch.py, the same update in torch on the CPU, run as a
// child process in each thread setting; the fastest setting counts.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nn/gemm.h"
#include "rl/sac.h"

#define MAX_GEMMS 128

// One sgemm of the update: C (M x N) = op(A) op(B), K the inner dimension.
typedef struct Gemm {
    int trans_a, trans_b;
    int M, N, K;
    float beta;
} Gemm;

typedef struct GemmList {
    Gemm g[MAX_GEMMS];
    int n;
    double flops;
} GemmList;

// Wall-clock seconds.
static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Process CPU seconds (all threads).
static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

// Appends one sgemm.
static void add(GemmList *l, int ta, int tb, int M, int N, int K, float beta) {
    Gemm *g = &l->g[l->n++];
    g->trans_a = ta;
    g->trans_b = tb;
    g->M = M;
    g->N = N;
    g->K = K;
    g->beta = beta;
    l->flops += 2.0 * M * N * K;
}

// The products of one forward (Y = X W^T) over rows of a layer chain.
static void add_forward(GemmList *l, const int *sizes, int n_layers, int rows) {
    for (int i = 0; i < n_layers; i++) {
        add(l, 0, 1, rows, sizes[i + 1], sizes[i], 0.0f);
    }
}

// The products of one backward: dW += dY^T X unless input_only, and
// dX = dY W where wanted.
static void add_backward(GemmList *l, const int *sizes, int n_layers, int rows,
                         int with_input_grad, int input_only) {
    for (int i = n_layers - 1; i >= 0; i--) {
        if (!input_only) {
            add(l, 1, 0, sizes[i + 1], sizes[i], rows, 1.0f);
        }
        if (i > 0 || with_input_grad) {
            add(l, 0, 0, rows, sizes[i], sizes[i + 1], 0.0f);
        }
    }
}

// Every dense product of one rl_sac_update (see rl/sac.c): target actions
// and target critics, both critic steps, the actor step through both
// critics (input gradients only) and the actor's backward.
static void build_update_gemms(GemmList *l, const int *actor, const int *critic, int rows) {
    add_forward(l, actor, 4, rows);                 // a' ~ pi(s')
    add_forward(l, critic, 4, rows);                // Q1'(s', a')
    add_forward(l, critic, 4, rows);                // Q2'(s', a')
    for (int q = 0; q < 2; q++) {                   // critic steps
        add_forward(l, critic, 4, rows);
        add_backward(l, critic, 4, rows, 0, 0);
    }
    add_forward(l, actor, 4, rows);                 // a~ ~ pi(s)
    add_forward(l, critic, 4, rows);                // Q1(s, a~)
    add_forward(l, critic, 4, rows);                // Q2(s, a~)
    add_backward(l, critic, 4, rows, 1, 1);         // dQ1/da, no critic weights
    add_backward(l, critic, 4, rows, 1, 1);         // dQ2/da
    add_backward(l, actor, 4, rows, 0, 0);          // actor weights
}

// Runs the list once on buffers large enough for every shape, through
// nn_sgemm (team) or cblas_sgemm (OpenBLAS threads).
static void run_gemms(const GemmList *l, const float *a, const float *b, float *c,
                      int through_team) {
    for (int i = 0; i < l->n; i++) {
        const Gemm *g = &l->g[i];
        int lda = g->trans_a ? g->M : g->K;
        int ldb = g->trans_b ? g->K : g->N;
        if (through_team) {
            nn_sgemm(g->trans_a, g->trans_b, g->M, g->N, g->K, 1.0f, a, lda, b, ldb, g->beta,
                     c, g->N);
        } else {
            cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                        g->trans_b ? CblasTrans : CblasNoTrans, g->M, g->N, g->K, 1.0f, a,
                        lda, b, ldb, g->beta, c, g->N);
        }
    }
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

// Median of n values (sorts them).
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

// Runs the PyTorch reference with intra-op and BLAS threads; returns its
// updates per second (and CPU ms per update in *cpu_ms), or -1 when it could
// not run.
static double torch_updates_per_s(const char *script, int B, int intra, int blas, int n_upd,
                                  double *cpu_ms) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d /usr/bin/python3 '%s' --batch %d "
             "--intra-threads %d --updates %d 2>&1",
             blas, blas, script, B, intra, n_upd);
    FILE *p = popen(cmd, "r");
    if (!p) {
        return -1.0;
    }
    char line[512];
    double ups = -1.0;
    while (fgets(line, sizeof line, p)) {
        const char *at = strstr(line, "updates_per_s=");
        const char *cpu_at = strstr(line, "cpu_ms=");
        if (at) {
            ups = atof(at + strlen("updates_per_s="));
            *cpu_ms = cpu_at ? atof(cpu_at + strlen("cpu_ms=")) : -1.0;
        } else {
            fprintf(stderr, "torch: %s", line);
        }
    }
    pclose(p);
    return ups;
}

int main(int argc, char **argv) {
    int threads = 2, B = 128, samples = 7, n_upd = 5;
    const char *script = CONAL_SOURCE_DIR "/scripts/bench_sac_torch.py";
    int with_torch = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            B = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            samples = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-torch") == 0) {
            with_torch = 0;
        } else {
            fprintf(stderr, "usage: sac_bench [--threads N] [--batch B] [--samples S] "
                            "[--no-torch]\n");
            return 2;
        }
    }
    if (threads < 1 || B < 1 || samples < 1 || samples > 101) {
        fprintf(stderr, "sac_bench: invalid --threads, --batch or --samples\n");
        return 2;
    }
    openblas_set_num_threads(threads);

    // the agent: mtrl's MT-SAC shapes
    enum { K = 10, O = 39, A = 4 };
    RlConfig cfg;
    rl_config_defaults(&cfg);
    cfg.batch_size = B;
    RngState rng;
    rng_init(&rng, 1);
    char err[256];
    RlSac *sac = rl_sac_create(&cfg, K, O, A, &rng, 2, err, sizeof err);
    if (!sac) {
        fprintf(stderr, "sac_bench: %s\n", err);
        return 1;
    }
    RlBatch batch;
    rl_batch_init(&batch, K, B, O, A);
    for (int i = 0; i < K * B * O; i++) {
        batch.obs[i] = (float)rng_normal(&rng);
        batch.next_obs[i] = (float)rng_normal(&rng);
    }
    for (int i = 0; i < K * B * A; i++) {
        batch.action[i] = (float)rng_range(&rng, -1.0, 1.0);
    }
    for (int i = 0; i < K * B; i++) {
        batch.reward[i] = (float)rng_range(&rng, 0.0, 10.0);
    }

    // the reference: the same products on scratch buffers
    int actor[5] = {O + K, 400, 400, 400, 2 * A}, critic[5] = {O + A + K, 400, 400, 400, 1};
    GemmList list = {0};
    build_update_gemms(&list, actor, critic, K * B);
    size_t big = (size_t)K * B * 400 + 400 * 400;
    float *ga = calloc(big, sizeof(float)), *gb = calloc(big, sizeof(float));
    float *gc = calloc(big, sizeof(float));
    for (size_t i = 0; i < big; i++) {
        ga[i] = 0.01f * (float)(i % 97);
        gb[i] = 0.01f * (float)(i % 89);
    }

    // warm-up, then alternate our update and the team reference within each
    // sample; the OpenBLAS-threaded reference runs afterwards
    if (nn_threads_set(threads) != 0) {
        fprintf(stderr, "sac_bench: cannot start %d threads\n", threads);
        return 1;
    }
    rl_sac_update(sac, &batch, 0);
    run_gemms(&list, ga, gb, gc, 1);
    double ours[101], ref[101], ours_cpu[101], ref_cpu[101], blas[101], blas_cpu[101];
    for (int s = 0; s < samples; s++) {
        double t0 = wall(), c0 = cpu();
        for (int u = 0; u < n_upd; u++) {
            rl_sac_update(sac, &batch, 0);
        }
        ours[s] = (wall() - t0) / n_upd;
        ours_cpu[s] = (cpu() - c0) / n_upd;
        t0 = wall();
        c0 = cpu();
        for (int u = 0; u < n_upd; u++) {
            run_gemms(&list, ga, gb, gc, 1);
        }
        ref[s] = (wall() - t0) / n_upd;
        ref_cpu[s] = (cpu() - c0) / n_upd;
    }
    nn_threads_set(1);
    openblas_set_num_threads(threads);
    run_gemms(&list, ga, gb, gc, 0);
    for (int s = 0; s < samples; s++) {
        double t0 = wall(), c0 = cpu();
        for (int u = 0; u < n_upd; u++) {
            run_gemms(&list, ga, gb, gc, 0);
        }
        blas[s] = (wall() - t0) / n_upd;
        blas_cpu[s] = (cpu() - c0) / n_upd;
    }
    double t_ours = median(ours, samples), c_ours = median(ours_cpu, samples);
    double t_team = median(ref, samples), c_team = median(ref_cpu, samples);
    double t_blas = median(blas, samples), c_blas = median(blas_cpu, samples);
    int team_faster = t_team <= t_blas;
    double t_ref = team_faster ? t_team : t_blas, c_ref = team_faster ? c_team : c_blas;
    double gflop = list.flops / 1e9;
    printf("sac_bench: MT-SAC update, K=%d B=%d (batch %d), actor %d-400-400-400-%d, critics "
           "%d-400-400-400-1, %d threads, median of %d samples of %d updates\n",
           K, B, K * B, O + K, 2 * A, O + A + K, threads, samples, n_upd);
    printf("update: %.2f GFLOP in %d sgemm calls\n", gflop, list.n);
    printf("ours: updates_per_s=%.2f gflops=%.1f ms=%.2f cpu_ms=%.2f\n", 1.0 / t_ours,
           gflop / t_ours, 1e3 * t_ours, 1e3 * c_ours);
    printf("sgemm reference (team): updates_per_s=%.2f gflops=%.1f ms=%.2f cpu_ms=%.2f\n",
           1.0 / t_team, gflop / t_team, 1e3 * t_team, 1e3 * c_team);
    printf("sgemm reference (openblas threads): updates_per_s=%.2f gflops=%.1f ms=%.2f "
           "cpu_ms=%.2f\n",
           1.0 / t_blas, gflop / t_blas, 1e3 * t_blas, 1e3 * c_blas);
    printf("ratio ours/sgemm=%.3f (cpu %.3f) against the faster reference (%s)\n",
           t_ref / t_ours, c_ref / c_ours, team_faster ? "team" : "openblas threads");

    // PyTorch in its thread settings; the fastest one is the reference
    if (with_torch) {
        int settings[3][2] = {{1, threads}, {threads, 1}, {threads, threads}};
        double best = -1.0;
        for (int i = 0; i < 3; i++) {
            double cpu_ms = -1.0;
            double ups =
                torch_updates_per_s(script, B, settings[i][0], settings[i][1], 10, &cpu_ms);
            printf("pytorch intra_threads=%d blas_threads=%d: updates_per_s=%.2f cpu_ms=%.1f\n",
                   settings[i][0], settings[i][1], ups, cpu_ms);
            best = ups > best ? ups : best;
        }
        if (best > 0) {
            printf("ratio ours/pytorch_fastest=%.2f\n", (1.0 / t_ours) / best);
        } else {
            printf("pytorch: not measured (see the messages above)\n");
        }
    }
    free(ga);
    free(gb);
    free(gc);
    rl_batch_deinit(&batch);
    rl_sac_destroy(sac);
    return 0;
}
