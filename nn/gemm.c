// nn_sgemm and the process-wide team behind it.
#include "nn/gemm.h"

#include <cblas.h>
#include <stddef.h>

#include "common/error.h"

// Products below this many multiply-adds run whole: splitting them costs
// more in thread hand-off than it saves.
#define SPLIT_MIN_MACS (1L << 21)

// Block edges are multiples of this many rows or columns, so each block
// keeps whole 64-byte runs of a row.
#define SPLIT_ALIGN 16

static Team *g_team;
static int g_threads = 1;

// Set while the thread runs an item of a team job.
static _Thread_local int t_in_job;

int nn_threads_set(int n) {
    ASSERT(!t_in_job, "nn_threads_set called from inside a parallel job");
    if (n < 1) {
        return -1;
    }
    Team *team = NULL;
    if (n >= 2) {
        team = team_create(n);
        if (!team) {
            return -1;
        }
    }
    team_destroy(g_team);
    g_team = team;
    g_threads = n;

    // With a team, every thread runs single-threaded sgemm. Without one,
    // OpenBLAS threads each product itself.
    openblas_set_num_threads(n >= 2 ? 1 : n);
    return 0;
}

int nn_threads(void) {
    return g_threads;
}

typedef struct Job {
    TeamFn fn;
    void *ctx;
} Job;

static void job_item(void *ctx, int i) {
    const Job *job = ctx;
    t_in_job = 1;
    job->fn(job->ctx, i);
    t_in_job = 0;
}

void nn_parallel_run(TeamFn fn, void *ctx, int n_items) {
    if (!g_team || t_in_job) {
        for (int i = 0; i < n_items; i++) {
            fn(ctx, i);
        }
        return;
    }
    Job job = {fn, ctx};
    team_run(g_team, job_item, &job, n_items);
}

// Passes over fewer floats than this run whole.
#define RANGE_MIN ((size_t)1 << 15)

typedef struct Ranges {
    NnRangeFn fn;
    void *ctx;
    size_t n;
    int parts;
} Ranges;

static void range_item(void *ctx, int p) {
    const Ranges *r = ctx;
    size_t lo = r->n * (size_t)p / (size_t)r->parts;
    size_t hi = r->n * (size_t)(p + 1) / (size_t)r->parts;
    lo -= lo % SPLIT_ALIGN;
    hi = p + 1 == r->parts ? r->n : hi - hi % SPLIT_ALIGN;
    if (hi > lo) {
        t_in_job = 1;
        r->fn(r->ctx, lo, hi);
        t_in_job = 0;
    }
}

void nn_parallel_ranges(NnRangeFn fn, void *ctx, size_t n, size_t work) {
    if (!g_team || t_in_job || work < RANGE_MIN || n < (size_t)(2 * SPLIT_ALIGN)) {
        fn(ctx, 0, n);
        return;
    }
    Ranges r = {fn, ctx, n, g_threads};
    team_run(g_team, range_item, &r, r.parts);
}

typedef struct Gemm {
    int trans_a, trans_b;
    int M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
    int split_rows;              // split M (rows of C) or else N (columns)
    int parts;
} Gemm;

static void gemm_whole(const Gemm *g, int M, int N, const float *A, const float *B, float *C) {
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, M, N, g->K, g->alpha, A, g->lda, B,
                g->ldb, g->beta, C, g->ldc);
}

// Start of block p of n rows or columns, aligned.
static int block_start(int n, int parts, int p) {
    if (p >= parts) {
        return n;
    }
    long start = (long)n * p / parts;
    start -= start % SPLIT_ALIGN;
    return (int)start;
}

static void gemm_part(void *ctx, int p) {
    const Gemm *g = ctx;
    t_in_job = 1;
    if (g->split_rows) {
        int m0 = block_start(g->M, g->parts, p), m1 = block_start(g->M, g->parts, p + 1);
        if (m1 > m0) {
            const float *A = g->trans_a ? g->A + m0 : g->A + (size_t)m0 * (size_t)g->lda;
            gemm_whole(g, m1 - m0, g->N, A, g->B, g->C + (size_t)m0 * (size_t)g->ldc);
        }
    } else {
        int n0 = block_start(g->N, g->parts, p), n1 = block_start(g->N, g->parts, p + 1);
        if (n1 > n0) {
            const float *B = g->trans_b ? g->B + (size_t)n0 * (size_t)g->ldb : g->B + n0;
            gemm_whole(g, g->M, n1 - n0, g->A, B, g->C + n0);
        }
    }
    t_in_job = 0;
}

void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    Gemm g = {trans_a, trans_b, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc, 1, 1};
    long macs = (long)M * (long)N * (long)K;
    int wide = M >= N ? M : N;
    if (!g_team || t_in_job || macs < SPLIT_MIN_MACS || wide < 2 * SPLIT_ALIGN * g_threads) {
        gemm_whole(&g, M, N, A, B, C);
        return;
    }
    g.split_rows = M >= N;
    g.parts = g_threads;
    team_run(g_team, gemm_part, &g, g.parts);
}
