// Times CoNAL network updates against the sgemm calls they issue.
//
// It times five updates at the mtrl shapes. Each has 10 tasks of 128 rows,
// three hidden layers of 400 (ReLU), 8 outputs like the SAC actor, and Adam.
//   mtsac    one MLP 49-400-400-400-8 (task one-hot appended), nn/mlp.h
//   search   the CoNAL supernet (input 39): an alpha step on a validation
//            batch, then a weight step with conflict noticing
//   retrain  a derived network with per-task gradients, Gram matrices and
//            conflict ratios (the diagnostics, CONAL_CONFLICT_OBSERVE as the
//            trainer runs them on one update in train.conflict_interval),
//            random loss weights
//   retrain_nodiag  the same with the diagnostics off, as on the other updates
//   plain    the same derived network without any of that machinery
// The retrain goals are on the average update of a retrain, one measured
// update per --conflict-interval (train.conflict_interval's default, 10).
// The reference of each is the list of cblas_sgemm calls it made (recorded
// by wrapping cblas_sgemm in this program, on one thread so that no product
// is split), replayed on the same operand buffers, and nothing else. The
// updates run on the project's team (nn_threads_set). The reference runs
// two ways and the faster counts: through nn_sgemm on the team, rotating
// with the updates within each sample, and afterwards as plain cblas_sgemm
// threaded by OpenBLAS (last, because OpenBLAS's threads spin for a while
// after each call). Lines report medians of wall and process CPU time.
//
// It does not time SAC's losses or the environment (see sac_bench, env_bench).
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "conal/arch.h"
#include "conal/supernet.h"
#include "nn/gemm.h"
#include "nn/mlp.h"
#include "nn/params.h"

void openblas_set_num_threads(int n);

enum { K = 10, B = 128, OBS = 39, HID = 400, OUT = 8, MAX_CALLS = 8192 };

// ---- sgemm recording ----

typedef void (*SgemmFn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE,
                        blasint, blasint, blasint, float, const float *, blasint,
                        const float *, blasint, float, float *, blasint);

typedef struct SgemmCall {
    enum CBLAS_TRANSPOSE ta, tb;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} SgemmCall;

static SgemmFn real_sgemm;
static SgemmCall calls[MAX_CALLS];
static int n_calls, recording;

// Records the call when recording, then runs OpenBLAS's sgemm.
void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                 const blasint k, const float alpha, const float *a, const blasint lda,
                 const float *b, const blasint ldb, const float beta, float *c,
                 const blasint ldc) {
    if (recording && n_calls < MAX_CALLS) {
        SgemmCall call = {ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
        calls[n_calls++] = call;
    }
    real_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// A recorded sequence, replayed on the operands it was recorded with: the
// network's own weights, activations and gradient buffers, so the reference
// has the update's memory footprint. Replays overwrite activations and
// gradients; the next update recomputes them before use.
typedef struct Reference {
    SgemmCall *calls;
    int n;
    double flops;
} Reference;

static float *random_buffer(size_t n, RngState *rng) {
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "conal_bench: cannot allocate %zu floats\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)(0.1 * rng_normal(rng));
    }
    return p;
}

// Copies the recorded calls and counts their FLOPs (2 per multiply-add).
static void reference_init(Reference *ref) {
    ref->n = n_calls;
    ref->calls = malloc((size_t)n_calls * sizeof *ref->calls);
    memcpy(ref->calls, calls, (size_t)n_calls * sizeof *calls);
    ref->flops = 0.0;
    for (int i = 0; i < n_calls; i++) {
        ref->flops += 2.0 * (double)calls[i].m * (double)calls[i].n * (double)calls[i].k;
    }
}

// Replays the calls through nn_sgemm (the team) or straight to OpenBLAS.
static void reference_run(const Reference *ref, int through_team) {
    for (int i = 0; i < ref->n; i++) {
        const SgemmCall *c = &ref->calls[i];
        if (through_team) {
            nn_sgemm(c->ta == CblasTrans, c->tb == CblasTrans, c->m, c->n, c->k, c->alpha,
                     c->a, c->lda, c->b, c->ldb, c->beta, c->c, c->ldc);
        } else {
            real_sgemm(CblasRowMajor, c->ta, c->tb, c->m, c->n, c->k, c->alpha, c->a, c->lda,
                       c->b, c->ldb, c->beta, c->c, c->ldc);
        }
    }
}

static void reference_deinit(Reference *ref) {
    free(ref->calls);
}

// ---- the updates ----

typedef struct Subject {
    const char *name;
    NnMlp *mlp;                 // mtsac
    float *m, *v;               // mtsac Adam moments
    ConalNet *net;              // search, retrain, plain
    ConalConflictMode conflict;
    int loss_weights;           // retrain: scale dy by random task weights
    float *x, *x_val, *dy, *dy_scaled;
    long step;
    NnAdamConfig adam;
    RngState rng;
} Subject;

static void mtsac_update(Subject *s) {
    NnMlp *mlp = s->mlp;
    memset(mlp->grads, 0, mlp->n_params * sizeof(float));
    nn_mlp_forward(mlp, s->x, K * B);
    nn_mlp_backward(mlp, s->dy, NULL, K * B);
    s->step++;
    nn_adam_update(&s->adam, s->step, mlp->params, mlp->grads, s->m, s->v, mlp->n_params);
}

static void conal_update(Subject *s) {
    ConalNet *net = s->net;
    const float *dy = s->dy;

    // search: the alpha step on the validation batch comes first
    if (!net->spec.derived) {
        conal_net_forward(net, s->x_val, B, 0);
        conal_net_backward(net, s->dy, NULL, B, CONAL_GRAD_ALPHA);
        conal_net_alpha_step(net, &s->adam);
    }
    if (s->loss_weights) {
        float w[K];
        conal_loss_weights_draw(&s->rng, K, w);
        for (size_t i = 0; i < (size_t)K * B * OUT; i++) {
            s->dy_scaled[i] = w[i / ((size_t)B * OUT)] * s->dy[i];
        }
        dy = s->dy_scaled;
    }
    net->conflict = s->conflict;
    conal_net_zero_grad(net);
    conal_net_forward(net, s->x, B, 0);
    conal_net_backward(net, dy, NULL, B, CONAL_GRAD_WEIGHTS);
    conal_net_step(net, &s->adam);
}

static void subject_run(Subject *s) {
    if (s->mlp) {
        mtsac_update(s);
    } else {
        conal_update(s);
    }
}

// A CoNAL network: search supernet when branch is NULL, else derived.
static ConalNet *make_conal(const int *branch, RngState *rng) {
    ConalNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.n_tasks = K;
    spec.n_slots = 3;
    spec.slots[0] = conal_dense_module(OBS, HID, NN_ACT_RELU);
    spec.slots[1] = conal_dense_module(HID, HID, NN_ACT_RELU);
    spec.slots[2] = conal_dense_module(HID, HID, NN_ACT_RELU);
    spec.decoder = conal_dense_module(HID, OUT, NN_ACT_NONE);
    spec.max_block = B;
    if (branch) {
        spec.derived = 1;
        memcpy(spec.branch, branch, K * sizeof(int));
    }
    char err[256];
    ConalNet *net = conal_net_create(&spec, 0, rng, err, sizeof err);
    if (!net) {
        fprintf(stderr, "conal_bench: %s\n", err);
        exit(1);
    }
    return net;
}

static double clock_seconds(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
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

typedef struct Timing {
    double ms, ref_ms, cpu_ms, ref_cpu_ms, gflop;
} Timing;

// Records one update's sgemm calls (after two warm-up updates).
static void record_subject(Subject *s, Reference *ref) {
    subject_run(s);
    subject_run(s);
    n_calls = 0;
    recording = 1;
    subject_run(s);
    recording = 0;
    if (n_calls >= MAX_CALLS) {
        fprintf(stderr, "conal_bench: %s issued more than %d sgemm calls\n", s->name,
                MAX_CALLS);
        exit(1);
    }
    reference_init(ref);
    reference_run(ref, 0);
}

// Times every subject and its reference once per sample, rotating the order
// inside each sample so that load changes on a shared machine hit all
// variants alike. Fills t[i] with medians.
static void time_subjects(Subject *subs, const Reference *refs, int n_subs, int samples,
                          Timing *t) {
    int n_var = 2 * n_subs;
    double *wall = malloc((size_t)(n_var * samples) * sizeof(double));
    double *cpu = malloc((size_t)(n_var * samples) * sizeof(double));
    for (int i = 0; i < samples; i++) {
        for (int j = 0; j < n_var; j++) {
            int v = (i + j) % n_var;
            double w0 = clock_seconds(CLOCK_MONOTONIC);
            double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
            if (v % 2 == 0) {
                reference_run(&refs[v / 2], 1);
            } else {
                subject_run(&subs[v / 2]);
            }
            cpu[v * samples + i] = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
            wall[v * samples + i] = clock_seconds(CLOCK_MONOTONIC) - w0;
        }
    }

    // the OpenBLAS-threaded reference, then back to the team
    int threads = nn_threads();
    nn_threads_set(1);
    openblas_set_num_threads(threads);
    double *bwall = malloc((size_t)(n_subs * samples) * sizeof(double));
    double *bcpu = malloc((size_t)(n_subs * samples) * sizeof(double));
    for (int i = 0; i < samples; i++) {
        for (int k = 0; k < n_subs; k++) {
            double w0 = clock_seconds(CLOCK_MONOTONIC);
            double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
            reference_run(&refs[k], 0);
            bcpu[k * samples + i] = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
            bwall[k * samples + i] = clock_seconds(CLOCK_MONOTONIC) - w0;
        }
    }
    nn_threads_set(threads);

    for (int k = 0; k < n_subs; k++) {
        Timing *x = &t[k];
        double team_ms = 1e3 * median(wall + (2 * k) * samples, samples);
        double blas_ms = 1e3 * median(bwall + k * samples, samples);
        int team_faster = team_ms <= blas_ms;
        x->ref_ms = team_faster ? team_ms : blas_ms;
        x->ms = 1e3 * median(wall + (2 * k + 1) * samples, samples);
        x->ref_cpu_ms = 1e3 * (team_faster ? median(cpu + (2 * k) * samples, samples)
                                           : median(bcpu + k * samples, samples));
        x->cpu_ms = 1e3 * median(cpu + (2 * k + 1) * samples, samples);
        x->gflop = refs[k].flops * 1e-9;
        printf("%-14s sgemm_calls=%d gflop=%.2f ms=%.2f ref_ms=%.2f (%s) gflops=%.1f "
               "ref_gflops=%.1f ratio=%.3f cpu_ms=%.2f ref_cpu_ms=%.2f cpu_ratio=%.3f\n",
               subs[k].name, refs[k].n, x->gflop, x->ms, x->ref_ms,
               team_faster ? "team" : "openblas", x->gflop / x->ms * 1e3,
               x->gflop / x->ref_ms * 1e3, x->ref_ms / x->ms, x->cpu_ms, x->ref_cpu_ms,
               x->ref_cpu_ms / x->cpu_ms);
    }
    free(wall);
    free(cpu);
    free(bwall);
    free(bcpu);
}

int main(int argc, char **argv) {
    int samples = 11, threads = 2, interval = 10;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            samples = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--conflict-interval") == 0 && i + 1 < argc) {
            interval = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: conal_bench [--samples N] [--threads T] "
                            "[--conflict-interval N] [--only NAME]\n"
                            "  --only runs one update (mtsac, search, retrain, "
                            "retrain_nodiag, plain) without the summary, for profiling\n");
            return 1;
        }
    }
    if (samples < 1 || threads < 1 || interval < 1) {
        fprintf(stderr, "conal_bench: --samples, --threads and --conflict-interval must be "
                        "positive\n");
        return 1;
    }
    // POSIX's idiom for a function pointer from dlsym, which ISO C cannot cast
    void *sym = dlsym(RTLD_NEXT, "cblas_sgemm");
    memcpy(&real_sgemm, &sym, sizeof sym);
    if (!real_sgemm) {
        fprintf(stderr, "conal_bench: OpenBLAS's cblas_sgemm not found: %s\n", dlerror());
        return 1;
    }
    // record on one thread, so every product is one call; time on the team
    nn_threads_set(1);
    openblas_set_num_threads(1);
    printf("conal_bench: %d tasks x %d rows, hidden 3x%d ReLU, %d outputs, threads=%d, "
           "median of %d samples\n", K, B, HID, OUT, threads, samples);

    // a derived architecture with every kind of branch point
    static const int branch[K] = {4, 4, 4, 4, 4, 4, 3, 3, 2, 1};
    RngState rng;
    rng_init(&rng, 1);
    size_t nx = (size_t)K * B * (OBS + K), ny = (size_t)K * B * OUT;
    float *x = random_buffer(nx, &rng), *x_val = random_buffer(nx, &rng);
    float *dy = random_buffer(ny, &rng), *dy_scaled = random_buffer(ny, &rng);
    NnAdamConfig adam = nn_adam_defaults();
    adam.lr = 3e-4f;

    static const int mlp_sizes[5] = {OBS + K, HID, HID, HID, OUT};
    enum { N_SUBJECTS = 5 };
    Subject subjects[N_SUBJECTS] = {
        {.name = "mtsac"},
        {.name = "search", .conflict = CONAL_CONFLICT_NOTICE},
        {.name = "retrain", .conflict = CONAL_CONFLICT_OBSERVE, .loss_weights = 1},
        {.name = "retrain_nodiag", .conflict = CONAL_CONFLICT_OFF, .loss_weights = 1},
        {.name = "plain", .conflict = CONAL_CONFLICT_OFF},
    };
    subjects[0].mlp = nn_mlp_create(mlp_sizes, 5, NN_ACT_RELU, NN_ACT_NONE, K * B, NULL, NULL);
    nn_mlp_init(subjects[0].mlp, &rng);
    subjects[0].m = calloc(subjects[0].mlp->n_params, sizeof(float));
    subjects[0].v = calloc(subjects[0].mlp->n_params, sizeof(float));
    subjects[1].net = make_conal(NULL, &rng);
    subjects[2].net = make_conal(branch, &rng);
    subjects[3].net = make_conal(branch, &rng);
    subjects[4].net = make_conal(branch, &rng);

    Timing t[N_SUBJECTS];
    Reference refs[N_SUBJECTS];
    for (int i = 0; i < N_SUBJECTS; i++) {
        Subject *s = &subjects[i];
        s->x = x;
        s->x_val = x_val;
        s->dy = dy;
        s->dy_scaled = dy_scaled;
        s->adam = adam;
        rng_init(&s->rng, 5);
        record_subject(s, &refs[i]);
    }
    if (nn_threads_set(threads) != 0) {
        fprintf(stderr, "conal_bench: cannot start %d threads\n", threads);
        return 1;
    }
    if (only) {
        for (int i = 0; i < N_SUBJECTS; i++) {
            if (strcmp(subjects[i].name, only) == 0) {
                time_subjects(&subjects[i], &refs[i], 1, samples, &t[i]);
                return 0;
            }
        }
        fprintf(stderr, "conal_bench: --only %s is not an update name\n", only);
        return 1;
    }
    time_subjects(subjects, refs, N_SUBJECTS, samples, t);

    // the goals; a retrain's average update measures once per interval
    double extra = t[2].ms - t[3].ms, extra_cpu = t[2].cpu_ms - t[3].cpu_ms;
    double avg = t[3].ms + extra / interval, avg_cpu = t[3].cpu_ms + extra_cpu / interval;
    printf("search_vs_ref=%.3f cpu=%.3f (goal >= 0.80)\n", t[1].ref_ms / t[1].ms,
           t[1].ref_cpu_ms / t[1].cpu_ms);
    printf("conflict_share_of_measured_update=%.3f cpu=%.3f\n", extra / t[2].ms,
           extra_cpu / t[2].cpu_ms);
    printf("conflict_share_of_retrain=%.3f cpu=%.3f with 1 update in %d measured "
           "(goal <= 0.05)\n", extra / interval / avg, extra_cpu / interval / avg_cpu,
           interval);
    printf("retrain_vs_plain=%.3f cpu=%.3f (goal <= 1.15)\n", avg / t[4].ms,
           avg_cpu / t[4].cpu_ms);
    printf("measured_update_vs_plain=%.3f cpu=%.3f\n", t[2].ms / t[4].ms,
           t[2].cpu_ms / t[4].cpu_ms);
    printf("retrain_nodiag_vs_plain=%.3f cpu=%.3f\n", t[3].ms / t[4].ms,
           t[3].cpu_ms / t[4].cpu_ms);
    printf("search_gflop_vs_mtsac=%.2f\n", t[1].gflop / t[0].gflop);

    nn_mlp_destroy(subjects[0].mlp);
    free(subjects[0].m);
    free(subjects[0].v);
    for (int i = 1; i < N_SUBJECTS; i++) {
        conal_net_destroy(subjects[i].net);
    }
    for (int i = 0; i < N_SUBJECTS; i++) {
        reference_deinit(&refs[i]);
    }
    free(x);
    free(x_val);
    free(dy);
    free(dy_scaled);
    return 0;
}
