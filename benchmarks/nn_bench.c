// Times one MLP forward+backward at the MT-SAC shapes against a reference:
// the same sequence of cblas_sgemm calls, with the same shapes and thread
// count, issued bare. The ratio shows what the layer code (bias broadcast,
// activations, bias gradients, input copy) costs on top of the products.
//
// Dimension letters: B batch rows, L layers.
// Network: 49-400-400-400-8, ReLU hidden, linear output. Backward computes
// every dW and db and the dx of layers 1..L-1 but not of the input, as a
// critic update does. Reference and MLP runs alternate within each sample so
// clock and thermal drift hit both alike; each reports the median sample.
// Besides wall time, the process CPU time per run is printed: on a machine
// shared with other jobs it leaves out time spent descheduled, so its ratio
// is the steadier one for the single-thread case. With two threads it also
// counts OpenBLAS's spin-waiting and is only a rough figure.
//
// Usage: nn_bench [--samples N] (default 15)
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "nn/mlp.h"

#define N_SIZES 5

static const int mlp_sizes[N_SIZES] = {49, 400, 400, 400, 8};

// Buffers for the bare sgemm sequence, shaped like the MLP's.
typedef struct Reference {
    float *w[N_SIZES - 1];    // (O x I) per layer
    float *dw[N_SIZES - 1];   // (O x I)
    float *act[N_SIZES];      // (B x sizes[l])
    float *grad[N_SIZES];     // (B x sizes[l])
} Reference;

static double clock_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Allocates a float buffer filled with small uniform values.
static float *random_buffer(size_t n, RngState *rng) {
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "nn_bench: out of memory allocating %zu floats\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)rng_range(rng, -0.05, 0.05);
    }
    return p;
}

static void reference_init(Reference *ref, int B, RngState *rng) {
    for (int l = 0; l < N_SIZES; l++) {
        ref->act[l] = random_buffer((size_t)B * mlp_sizes[l], rng);
        ref->grad[l] = random_buffer((size_t)B * mlp_sizes[l], rng);
        if (l + 1 < N_SIZES) {
            size_t n = (size_t)mlp_sizes[l] * mlp_sizes[l + 1];
            ref->w[l] = random_buffer(n, rng);
            ref->dw[l] = random_buffer(n, rng);
        }
    }
}

static void reference_deinit(Reference *ref) {
    for (int l = 0; l < N_SIZES; l++) {
        free(ref->act[l]);
        free(ref->grad[l]);
        if (l + 1 < N_SIZES) {
            free(ref->w[l]);
            free(ref->dw[l]);
        }
    }
}

// Issues the sgemm calls of one MLP forward+backward and nothing else.
static void reference_run(Reference *ref, int B) {
    for (int l = 0; l + 1 < N_SIZES; l++) {
        int n_in = mlp_sizes[l], n_out = mlp_sizes[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_out, n_in, 1.0f,
                    ref->act[l], n_in, ref->w[l], n_in, 1.0f, ref->act[l + 1], n_out);
    }
    for (int l = N_SIZES - 2; l >= 0; l--) {
        int n_in = mlp_sizes[l], n_out = mlp_sizes[l + 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, B, 1.0f,
                    ref->grad[l + 1], n_out, ref->act[l], n_in, 1.0f, ref->dw[l], n_in);
        if (l > 0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n_in, n_out, 1.0f,
                        ref->grad[l + 1], n_out, ref->w[l], n_in, 0.0f, ref->grad[l], n_in);
        }
    }
}

static void mlp_run(NnMlp *mlp, const float *x, const float *dy, int B) {
    nn_mlp_forward(mlp, x, B);
    nn_mlp_backward(mlp, dy, NULL, B);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Times both variants at one batch size and thread count and prints a line.
static void bench_case(int B, int threads, int samples) {
    openblas_set_num_threads(threads);
    RngState rng;
    rng_init(&rng, 7);
    NnMlp *mlp = nn_mlp_create(mlp_sizes, N_SIZES, NN_ACT_RELU, NN_ACT_NONE, B, NULL, NULL);
    if (!mlp) {
        fprintf(stderr, "nn_bench: creating the MLP failed\n");
        exit(1);
    }
    nn_mlp_init(mlp, &rng);
    float *x = random_buffer((size_t)B * mlp_sizes[0], &rng);
    float *dy = random_buffer((size_t)B * mlp_sizes[N_SIZES - 1], &rng);
    Reference ref;
    reference_init(&ref, B, &rng);

    // about 25 ms of work per sample at 100 GFLOP/s, and at least one run
    double flops = nn_mlp_flops_forward(mlp, B) + nn_mlp_flops_backward(mlp, B, 0);
    int iters = (int)(2.5e9 / flops) + 1;

    // warm up caches, thread pools and page mappings
    reference_run(&ref, B);
    mlp_run(mlp, x, dy, B);

    // wall and CPU seconds per run: [0] reference, [1] MLP
    double *wall[2], *cpu[2];
    for (int v = 0; v < 2; v++) {
        wall[v] = malloc((size_t)samples * sizeof(double));
        cpu[v] = malloc((size_t)samples * sizeof(double));
    }
    for (int s = 0; s < samples; s++) {
        // alternate which variant goes first
        for (int k = 0; k < 2; k++) {
            int v = (s + k) % 2;
            double w0 = clock_seconds(CLOCK_MONOTONIC);
            double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
            for (int i = 0; i < iters; i++) {
                if (v == 0) {
                    reference_run(&ref, B);
                } else {
                    mlp_run(mlp, x, dy, B);
                }
            }
            cpu[v][s] = (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0) / iters;
            wall[v][s] = (clock_seconds(CLOCK_MONOTONIC) - w0) / iters;
        }
    }
    double ref_s = median(wall[0], samples), mlp_s = median(wall[1], samples);
    double ref_cpu = median(cpu[0], samples), mlp_cpu = median(cpu[1], samples);
    printf("batch=%d threads=%d iters=%d mlp_ms=%.3f ref_ms=%.3f mlp_gflops=%.1f "
           "ref_gflops=%.1f ratio=%.3f mlp_cpu_ms=%.3f ref_cpu_ms=%.3f cpu_ratio=%.3f\n",
           B, threads, iters, 1e3 * mlp_s, 1e3 * ref_s, flops / mlp_s * 1e-9,
           flops / ref_s * 1e-9, ref_s / mlp_s, 1e3 * mlp_cpu, 1e3 * ref_cpu,
           ref_cpu / mlp_cpu);
    fflush(stdout);
    for (int v = 0; v < 2; v++) {
        free(wall[v]);
        free(cpu[v]);
    }
    free(x);
    free(dy);
    reference_deinit(&ref);
    nn_mlp_destroy(mlp);
}

int main(int argc, char **argv) {
    int samples = 15;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 1000) {
                fprintf(stderr, "nn_bench: invalid --samples '%s': expected 1 to 1000\n",
                        argv[i]);
                return 2;
            }
            samples = (int)v;
        } else {
            fprintf(stderr, "nn_bench: unknown argument '%s'\nusage: nn_bench [--samples N]\n",
                    argv[i]);
            return 2;
        }
    }
    printf("nn_bench: MLP 49-400-400-400-8 forward+backward (no input gradient), "
           "median of %d samples\n", samples);
    int batches[] = {1280, 128};
    int threads[] = {1, 2};
    for (int b = 0; b < 2; b++) {
        for (int t = 0; t < 2; t++) {
            bench_case(batches[b], threads[t], samples);
        }
    }
    return 0;
}
