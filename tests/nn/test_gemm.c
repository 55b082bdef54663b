// nn_sgemm on a team against one plain cblas_sgemm, bit for bit, and the
// element-wise partition helper.
#include "nn/gemm.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "tests/check.h"
#include "tests/nn/nn_check.h"

typedef struct Shape {
    int M, N, K;
} Shape;

// Small ones run whole; the large ones split by rows (M >= N) or by
// columns, with edges that are not multiples of the block alignment.
static const Shape shapes[] = {
    {3, 5, 7}, {1280, 400, 49}, {400, 53, 1280}, {1280, 53, 400}, {8, 400, 1280},
    {1, 400, 1280}, {1280, 1, 400}, {523, 617, 97}, {97, 1999, 31},
};

// Runs the product through nn_sgemm with the current threads and through
// cblas_sgemm on one OpenBLAS thread, and checks the outputs are identical.
static void compare_shape(const Shape *s, int ta, int tb, float beta, RngState *rng) {
    int lda = ta ? s->M : s->K, ldb = tb ? s->K : s->N;
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
    float *c1 = malloc(nc * sizeof(float)), *c2 = malloc(nc * sizeof(float));
    fill_uniform(a, na, rng, -1.0, 1.0);
    fill_uniform(b, nb, rng, -1.0, 1.0);
    fill_uniform(c1, nc, rng, -1.0, 1.0);
    memcpy(c2, c1, nc * sizeof(float));

    nn_sgemm(ta, tb, s->M, s->N, s->K, 0.5f, a, lda, b, ldb, beta, c1, s->N);
    int threads = nn_threads();
    nn_threads_set(1);
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                s->M, s->N, s->K, 0.5f, a, lda, b, ldb, beta, c2, s->N);
    nn_threads_set(threads);
    CHECK_MSG(memcmp(c1, c2, nc * sizeof(float)) == 0,
              "M=%d N=%d K=%d trans=%d%d beta=%g threads=%d", s->M, s->N, s->K, ta, tb,
              (double)beta, threads);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

static void split_products_match_whole(void) {
    RngState rng;
    rng_init(&rng, 5);
    for (int threads = 1; threads <= 3; threads++) {
        CHECK_EQ_INT(0, nn_threads_set(threads));
        CHECK_EQ_INT(threads, nn_threads());
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            for (int t = 0; t < 4; t++) {
                compare_shape(&shapes[i], t & 1, t >> 1, t == 3 ? 1.0f : 0.0f, &rng);
            }
        }
    }
    nn_threads_set(1);
}

typedef struct Cover {
    int *hits;
} Cover;

static void mark_range(void *ctx, size_t lo, size_t hi) {
    Cover *c = ctx;
    for (size_t i = lo; i < hi; i++) {
        c->hits[i]++;
    }
}

// Every index is visited exactly once, for lengths around the split limits.
static void ranges_cover_once(void) {
    size_t lengths[] = {0, 1, 31, 33, 4096, 40000, 100003};
    for (int threads = 1; threads <= 3; threads++) {
        nn_threads_set(threads);
        for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
            size_t n = lengths[k];
            int *hits = calloc(n + 1, sizeof(int));
            Cover c = {hits};
            nn_parallel_ranges(mark_range, &c, n, n);
            int once = 1;
            for (size_t i = 0; i < n; i++) {
                once &= hits[i] == 1;
            }
            CHECK_MSG(once && hits[n] == 0, "n=%zu threads=%d", n, threads);
            free(hits);
        }
    }
    nn_threads_set(1);
}

typedef struct Nested {
    int *hits;
    float *c;
} Nested;

// An item of a parallel job may call nn_sgemm and nn_parallel_ranges: they
// run on the item's thread instead of waiting for the busy team.
static void nested_item(void *ctx, int i) {
    Nested *job = ctx;
    float a[64 * 64], b[64 * 64];
    for (int k = 0; k < 64 * 64; k++) {
        a[k] = 1.0f;
        b[k] = 2.0f;
    }
    nn_sgemm(0, 0, 64, 64, 64, 1.0f, a, 64, b, 64, 0.0f, job->c + (size_t)i * 64 * 64, 64);
    Cover c = {job->hits + (size_t)i * 50000};
    nn_parallel_ranges(mark_range, &c, 50000, 50000);
}

static void nested_calls_run_inline(void) {
    nn_threads_set(2);
    Nested job = {calloc(2 * 50000, sizeof(int)), calloc(2 * 64 * 64, sizeof(float))};
    nn_parallel_run(nested_item, &job, 2);
    int ok = 1;
    for (int i = 0; i < 2 * 50000; i++) {
        ok &= job.hits[i] == 1;
    }
    for (int i = 0; i < 2 * 64 * 64; i++) {
        ok &= job.c[i] == 128.0f;
    }
    CHECK(ok);
    free(job.hits);
    free(job.c);
    nn_threads_set(1);
}

static void bad_thread_count_rejected(void) {
    CHECK_EQ_INT(-1, nn_threads_set(0));
    CHECK_EQ_INT(1, nn_threads());
}

int main(void) {
    RUN_TEST(split_products_match_whole);
    RUN_TEST(ranges_cover_once);
    RUN_TEST(nested_calls_run_inline);
    RUN_TEST(bad_thread_count_rejected);
    return check_summary();
}
