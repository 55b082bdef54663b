// Dense products and the threads that run them.
//
// Every sgemm of the project goes through nn_sgemm. By default it is a plain
// cblas_sgemm, threaded by OpenBLAS. After nn_threads_set(n) with n >= 2 the
// project runs its own team of n threads instead: OpenBLAS is set to one
// thread, nn_sgemm splits large products into n blocks of the output, and
// nn_parallel_run runs independent work (such as SAC's twin critics) side by
// side, each item on one thread. Independent single-threaded streams keep
// the cores busier than one stream whose threads meet at every call.
//
// Splitting by blocks of the output leaves the reduction order of every
// element unchanged, so results do not depend on the thread count
// (tests/nn/test_gemm checks this bit for bit).
#ifndef NN_GEMM_H
#define NN_GEMM_H

#include <stddef.h>

#include "common/team.h"

// Sets the threads of dense products and parallel jobs. Returns 0, or -1
// when a team of n threads cannot start (the previous setting stays). Call
// it between jobs, never from inside one.
int nn_threads_set(int n);

// The current thread count (1 until nn_threads_set is called with more).
int nn_threads(void);

// Runs fn(ctx, i) for i in 0..n_items-1 on the team, item i on thread
// i % nn_threads(), and waits. Inside an item nn_sgemm does not split and
// nested nn_parallel_run calls run their items in order on the item's thread.
void nn_parallel_run(TeamFn fn, void *ctx, int n_items);

// Runs fn(ctx, lo, hi) over a partition of 0..n-1, one contiguous range per
// thread when the whole pass touches enough floats (work) to pay for the
// hand-off, else once over all of it. For element-wise passes and sums
// along the other dimension: each index must be independent of the others,
// so the result does not depend on the partition.
typedef void (*NnRangeFn)(void *ctx, size_t lo, size_t hi);
void nn_parallel_ranges(NnRangeFn fn, void *ctx, size_t n, size_t work);

// C (M x N) = alpha op(A) op(B) + beta C on row-major data, where op
// transposes when trans_a / trans_b is set; lda, ldb and ldc are the row
// strides of A, B and C as stored.
void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
