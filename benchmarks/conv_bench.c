// conv_bench: nn/conv.h forward+backward against PyTorch's CPU Conv2d.
//
// For each shape of the vision backbones (the Multi-Fashion CNN at batch 256
// and one encoder layer of the dense-task network at NYUv2 scale) it times
// one forward and one backward pass (weight and bias gradients, and the
// input gradient except for a first layer), stride 1 and padding K / 2, on
// the nn/gemm.h thread team (nn_threads_set), then
// runs scripts/bench_conv_torch.py with the same shapes and thread count.
// Lines report medians in wall-clock and process-CPU milliseconds; ratio is
// torch time over conal time, so above 1 means conal is faster. On a shared
// machine the CPU-time ratio is the steadier of the two.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "nn/conv.h"
#include "nn/gemm.h"

typedef struct Shape {
    int B, C, F, H, W, K, dx;
    const char *what;
} Shape;

static const Shape shapes[] = {
    {256, 1, 16, 36, 36, 3, 0, "multifashion conv1"},
    {256, 16, 32, 18, 18, 3, 1, "multifashion conv2"},
    {4, 16, 32, 144, 192, 3, 1, "dense encoder conv2 (NYUv2 /2)"},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

// Times forward+backward of one shape; writes median wall and CPU ms.
static void time_conal(const Shape *s, int samples, int iters, double *ms, double *cpu_ms) {
    NnConv2d conv;
    size_t n_p = nn_conv2d_n_params(s->C, s->F, s->K);
    float *w = malloc(sizeof(float) * n_p), *g = calloc(n_p, sizeof(float));
    nn_conv2d_bind(&conv, s->C, s->F, s->K, 1, s->K / 2, w, g);
    RngState rng;
    rng_init(&rng, 0);
    nn_conv2d_init(&conv, &rng);
    size_t n_x = (size_t)s->B * s->C * s->H * s->W, n_y = (size_t)s->B * s->F * s->H * s->W;
    float *x = malloc(sizeof(float) * n_x), *dx = malloc(sizeof(float) * n_x);
    float *y = malloc(sizeof(float) * n_y), *dy = malloc(sizeof(float) * n_y);
    float *scratch =
        malloc(sizeof(float) * nn_conv2d_scratch_size(&conv, s->B, s->H, s->W, nn_threads()));
    for (size_t i = 0; i < n_x; i++) {
        x[i] = (float)rng_normal(&rng);
    }
    for (size_t i = 0; i < n_y; i++) {
        dy[i] = (float)rng_normal(&rng);
    }
    double wall[101], cpu[101];
    for (int k = -1; k < samples; k++) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < iters; i++) {
            nn_conv2d_forward(&conv, x, y, s->B, s->H, s->W, scratch);
            nn_conv2d_backward(&conv, x, dy, s->dx ? dx : NULL, s->B, s->H, s->W, scratch);
        }
        if (k >= 0) {   // the first pass warms caches and is not counted
            wall[k] = (now(CLOCK_MONOTONIC) - t0) / iters;
            cpu[k] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / iters;
        }
    }
    *ms = median(wall, samples);
    *cpu_ms = median(cpu, samples);
    free(w);
    free(g);
    free(x);
    free(dx);
    free(y);
    free(dy);
    free(scratch);
}

// Runs the PyTorch script for every shape; fills ms and cpu_ms per shape
// (-1 when a line is missing). Returns 0, or -1 when torch could not run.
static int time_torch(const char *script, int threads, int samples, int iters, double *ms,
                      double *cpu_ms) {
    char cmd[2048];
    int len = snprintf(cmd, sizeof cmd,
                       "OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d /usr/bin/python3 '%s' "
                       "--threads %d --samples %d --iters %d",
                       threads, threads, script, threads, samples, iters);
    for (int i = 0; i < N_SHAPES; i++) {
        const Shape *s = &shapes[i];
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " --shape %d,%d,%d,%d,%d,%d,%d",
                        s->B, s->C, s->F, s->H, s->W, s->K, s->dx);
        ms[i] = cpu_ms[i] = -1.0;
    }
    snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p) {
        return -1;
    }
    char line[512];
    int i = 0;
    while (fgets(line, sizeof line, p)) {
        const char *a = strstr(line, "torch_ms="), *b = strstr(line, "torch_cpu_ms=");
        if (a && b && i < N_SHAPES) {
            ms[i] = atof(a + strlen("torch_ms="));
            cpu_ms[i] = atof(b + strlen("torch_cpu_ms="));
            i++;
        } else {
            printf("# %s", line);
        }
    }
    return pclose(p) == 0 && i == N_SHAPES ? 0 : -1;
}

int main(int argc, char **argv) {
    int threads = 1, samples = 7, iters = 3, with_torch = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            samples = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            iters = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-torch") == 0) {
            with_torch = 0;
        } else {
            fprintf(stderr, "usage: conv_bench [--threads N] [--samples S] [--iters I] "
                            "[--no-torch]\n");
            return 2;
        }
    }
    if (threads < 1 || samples < 1 || samples > 101 || iters < 1) {
        fprintf(stderr, "conv_bench: invalid --threads, --samples or --iters\n");
        return 2;
    }
    if (nn_threads_set(threads) != 0) {
        fprintf(stderr, "conv_bench: cannot start %d threads\n", threads);
        return 1;
    }
    double ms[N_SHAPES], cpu[N_SHAPES], t_ms[N_SHAPES], t_cpu[N_SHAPES];
    for (int i = 0; i < N_SHAPES; i++) {
        time_conal(&shapes[i], samples, iters, &ms[i], &cpu[i]);
    }
    int torch_ok = with_torch && time_torch(CONAL_SOURCE_DIR "/scripts/bench_conv_torch.py",
                                            threads, samples, iters, t_ms, t_cpu) == 0;
    if (with_torch && !torch_ok) {
        fprintf(stderr, "conv_bench: the PyTorch reference failed (needs Debian's "
                        "python3-torch); conal times only\n");
    }
    printf("conv_bench: Conv2d forward+backward, stride 1, padding K/2, threads=%d, "
           "median of %d samples of %d passes\n", threads, samples, iters);
    for (int i = 0; i < N_SHAPES; i++) {
        const Shape *s = &shapes[i];
        NnConv2d conv;
        nn_conv2d_bind(&conv, s->C, s->F, s->K, 1, s->K / 2, NULL, NULL);
        double flops = nn_conv2d_flops_forward(&conv, s->B, s->H, s->W) * (s->dx ? 3.0 : 2.0);
        printf("shape=%d,%d,%d,%d,%d,%d,%d conal_ms=%.3f conal_cpu_ms=%.3f conal_cpu_gflops=%.1f",
               s->B, s->C, s->F, s->H, s->W, s->K, s->dx, ms[i], cpu[i], flops / cpu[i] * 1e-6);
        if (torch_ok) {
            printf(" torch_ms=%.3f torch_cpu_ms=%.3f ratio=%.3f cpu_ratio=%.3f", t_ms[i],
                   t_cpu[i], t_ms[i] / ms[i], t_cpu[i] / cpu[i]);
        }
        printf("  # %s\n", s->what);
    }
    return with_torch && !torch_ok ? 1 : 0;
}
