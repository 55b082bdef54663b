// Tests of the CoNAL supernet: gradients against central differences, the
// one-hot limits against naive reference networks, per-task gradients,
// conflict noticing on constructed gradients, target copies, determinism.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"
#include "conal/supernet.h"
#include "nn/gemm.h"
#include "tests/check.h"

enum { K_TEST = 3, B_TEST = 3, IN_TEST = 4, OUT_TEST = 2 };
static const int widths[] = {IN_TEST, 5, 6, 5};   // three slots: P = 4

// A small tanh supernet (tanh keeps the finite differences away from kinks).
static ConalNetSpec small_spec(ConalSpecificKind kind, const int *branch) {
    ConalNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.n_tasks = K_TEST;
    spec.n_slots = 3;
    for (int q = 0; q < 3; q++) {
        spec.slots[q] = conal_dense_module(widths[q], widths[q + 1], NN_ACT_TANH);
    }
    spec.decoder = conal_dense_module(widths[3], OUT_TEST, NN_ACT_NONE);
    spec.specific = kind;
    spec.max_block = B_TEST;
    if (branch) {
        spec.derived = 1;
        memcpy(spec.branch, branch, K_TEST * sizeof(int));
    }
    return spec;
}

static ConalNet *make_net(const ConalNetSpec *spec, uint64_t seed, int with_target) {
    RngState rng;
    rng_init(&rng, seed);
    char err[256] = "";
    ConalNet *net = conal_net_create(spec, with_target, &rng, err, sizeof err);
    CHECK_MSG(net != NULL, "%s", err);
    return net;
}

static void fill_normal(float *x, size_t n, RngState *rng, double scale) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(scale * rng_normal(rng));
    }
}

// L = sum_i c_i y_i, accumulated in double.
static double linear_loss(ConalNet *net, const float *x, const float *c) {
    const float *y = conal_net_forward(net, x, B_TEST, 0);
    double s = 0.0;
    for (int i = 0; i < K_TEST * B_TEST * OUT_TEST; i++) {
        s += (double)c[i] * (double)y[i];
    }
    return s;
}

// Central difference of L in one float; the value is restored exactly.
static double central_diff(ConalNet *net, float *v, const float *x, const float *c,
                           float eps) {
    float saved = *v;
    *v = saved + eps;
    double lp = linear_loss(net, x, c);
    *v = saved - eps;
    double lm = linear_loss(net, x, c);
    *v = saved;
    return (lp - lm) / (2.0 * (double)eps);
}

// Scores analytic against numeric gradients over n floats; returns the
// number of entries outside the tolerance.
static int count_bad(ConalNet *net, float *vals, const float *grad, size_t n, const float *x,
                     const float *c, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double num = central_diff(net, &vals[i], x, c, 1e-2f);
        double ana = (double)grad[i];
        double rel = check_rel_err(ana, num);
        // float rounding of L dominates below 1e-4 absolute
        if (rel > 2e-2 && fabs(ana - num) > 1e-4) {
            if (bad++ < 5) {
                fprintf(stderr, "  %s[%zu]: analytic %.6g numeric %.6g\n", what, i, ana, num);
            }
        }
    }
    return bad;
}

// Gradient check of weights, inputs and (search only) alpha.
static void check_gradients(ConalSpecificKind kind, const int *branch) {
    ConalNetSpec spec = small_spec(kind, branch);
    ConalNet *net = make_net(&spec, 7, 0);
    RngState rng;
    rng_init(&rng, 11);
    size_t nx = (size_t)K_TEST * B_TEST * IN_TEST, ny = (size_t)K_TEST * B_TEST * OUT_TEST;
    float *x = malloc(nx * sizeof *x), *c = malloc(ny * sizeof *c);
    float *dx = malloc(nx * sizeof *dx);
    fill_normal(x, nx, &rng, 1.0);
    fill_normal(c, ny, &rng, 1.0);
    if (!spec.derived) {
        fill_normal(net->alpha.w, net->alpha.n, &rng, 0.5);
    }

    // analytic: one backward with every flag
    conal_net_zero_grad(net);
    linear_loss(net, x, c);
    int flags = CONAL_GRAD_WEIGHTS | (spec.derived ? 0 : CONAL_GRAD_ALPHA);
    conal_net_backward(net, c, dx, B_TEST, flags);

    CHECK_EQ_INT(0, count_bad(net, net->params.w, net->params.g, net->params.n, x, c, "w"));
    CHECK_EQ_INT(0, count_bad(net, x, dx, nx, x, c, "x"));
    if (!spec.derived) {
        CHECK_EQ_INT(0, count_bad(net, net->alpha.w, net->alpha.g, net->alpha.n, x, c,
                                  "alpha"));
    }
    free(x);
    free(c);
    free(dx);
    conal_net_destroy(net);
}

static void test_grad_search_pure(void) {
    check_gradients(CONAL_PURELY_SPECIFIC, NULL);
}

static void test_grad_search_partial(void) {
    check_gradients(CONAL_PARTIALLY_SPECIFIC, NULL);
}

static void test_grad_derived_pure(void) {
    const int branch[K_TEST] = {4, 2, 1};
    check_gradients(CONAL_PURELY_SPECIFIC, branch);
}

static void test_grad_derived_partial(void) {
    const int branch[K_TEST] = {3, 2, 3};
    check_gradients(CONAL_PARTIALLY_SPECIFIC, branch);
}

// Naive double-precision dense layer: y = act(W x + b), W (O x I) row-major.
static void naive_dense(const float *w, int n_in, int n_out, int act_tanh, const double *x,
                        double *y) {
    const float *b = w + (size_t)n_in * (size_t)n_out;
    for (int o = 0; o < n_out; o++) {
        double s = (double)b[o];
        for (int i = 0; i < n_in; i++) {
            s += (double)w[(size_t)o * (size_t)n_in + (size_t)i] * x[i];
        }
        y[o] = act_tanh ? tanh(s) : s;
    }
}

// Finds the parameter offset of a module by its position in the layout:
// shared modules first, then per task its specific modules and decoder.
static size_t dense_size(int n_in, int n_out) {
    return (size_t)n_in * (size_t)n_out + (size_t)n_out;
}

// Reference output of task t branching at p (purely specific, search layout).
static void reference_branch(const ConalNet *net, int t, int p, const float *xrow, double *y) {
    double a[8], b[8];
    size_t shared[3], off = 0;
    for (int q = 0; q < 3; q++) {
        shared[q] = off;
        off += dense_size(widths[q], widths[q + 1]);
    }
    size_t task_stride = dense_size(4, 5) + dense_size(5, 6) + dense_size(6, 5) +
                         dense_size(5, OUT_TEST);
    size_t task0 = off + (size_t)t * task_stride, specific[3], o2 = task0;
    for (int q = 0; q < 3; q++) {
        specific[q] = o2;
        o2 += dense_size(widths[q], widths[q + 1]);
    }
    for (int i = 0; i < IN_TEST; i++) {
        a[i] = xrow[i];
    }
    for (int q = 1; q <= 3; q++) {
        size_t w_off = q < p ? shared[q - 1] : specific[q - 1];
        naive_dense(net->params.w + w_off, widths[q - 1], widths[q], 1, a, b);
        memcpy(a, b, sizeof a);
    }
    naive_dense(net->params.w + o2, widths[3], OUT_TEST, 0, a, y);
}

// With alpha one-hot at p, the mixture equals the plain network of p.
static void check_one_hot(int p) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    ConalNet *net = make_net(&spec, 3, 0);
    // softmax of 60 against 0 leaves others at exp(-60) ~ 1e-26
    for (int t = 0; t < K_TEST; t++) {
        for (int j = 0; j < 4; j++) {
            net->alpha.w[t * 4 + j] = j == p - 1 ? 60.0f : 0.0f;
        }
    }
    RngState rng;
    rng_init(&rng, 5);
    float x[K_TEST * B_TEST * IN_TEST];
    fill_normal(x, sizeof x / sizeof x[0], &rng, 1.0);
    const float *y = conal_net_forward(net, x, B_TEST, 0);
    double worst = 0.0;
    for (int t = 0; t < K_TEST; t++) {
        for (int r = 0; r < B_TEST; r++) {
            double ref[OUT_TEST];
            int row = t * B_TEST + r;
            reference_branch(net, t, p, x + row * IN_TEST, ref);
            for (int o = 0; o < OUT_TEST; o++) {
                double e = fabs(ref[o] - (double)y[row * OUT_TEST + o]);
                worst = e > worst ? e : worst;
            }
        }
    }
    CHECK_NEAR(0.0, worst, 1e-5);
    conal_net_destroy(net);
}

static void test_one_hot_last_is_hard_sharing(void) {
    check_one_hot(4);
}

static void test_one_hot_first_is_separate(void) {
    check_one_hot(1);
}

static void test_one_hot_middle_branch(void) {
    check_one_hot(2);
    check_one_hot(3);
}

// A derived network where every task branches at P is hard sharing: its
// output equals a naive shared network followed by each task's decoder.
static void test_derived_all_shared_reference(void) {
    const int branch[K_TEST] = {4, 4, 4};
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, branch);
    ConalNet *net = make_net(&spec, 3, 0);
    RngState rng;
    rng_init(&rng, 5);
    float x[K_TEST * B_TEST * IN_TEST];
    fill_normal(x, sizeof x / sizeof x[0], &rng, 1.0);
    const float *y = conal_net_forward(net, x, B_TEST, 0);

    // hard sharing: shared modules, then decoder t right after them
    size_t off = 0, shared[3];
    for (int q = 0; q < 3; q++) {
        shared[q] = off;
        off += dense_size(widths[q], widths[q + 1]);
    }
    double worst = 0.0;
    for (int t = 0; t < K_TEST; t++) {
        size_t dec = off + (size_t)t * dense_size(5, OUT_TEST);
        for (int r = 0; r < B_TEST; r++) {
            double a[8], b[8], ref[OUT_TEST];
            int row = t * B_TEST + r;
            for (int i = 0; i < IN_TEST; i++) {
                a[i] = x[row * IN_TEST + i];
            }
            for (int q = 0; q < 3; q++) {
                naive_dense(net->params.w + shared[q], widths[q], widths[q + 1], 1, a, b);
                memcpy(a, b, sizeof a);
            }
            naive_dense(net->params.w + dec, 5, OUT_TEST, 0, a, ref);
            for (int o = 0; o < OUT_TEST; o++) {
                double e = fabs(ref[o] - (double)y[row * OUT_TEST + o]);
                worst = e > worst ? e : worst;
            }
        }
    }
    CHECK_NEAR(0.0, worst, 1e-5);
    CHECK_EQ_INT(off + 3 * dense_size(5, OUT_TEST), net->params.n);
    conal_net_destroy(net);
}

// Row t of D equals the shared gradient of a backward with only task t's dy.
static void test_task_grads_match_single_task(void) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    ConalNet *net = make_net(&spec, 9, 0);
    RngState rng;
    rng_init(&rng, 13);
    size_t nx = (size_t)K_TEST * B_TEST * IN_TEST, ny = (size_t)K_TEST * B_TEST * OUT_TEST;
    float x[K_TEST * B_TEST * IN_TEST], c[K_TEST * B_TEST * OUT_TEST], cm[sizeof c / sizeof c[0]];
    fill_normal(x, nx, &rng, 1.0);
    fill_normal(c, ny, &rng, 1.0);

    net->conflict = CONAL_CONFLICT_MEASURE;
    conal_net_zero_grad(net);
    conal_net_forward(net, x, B_TEST, 0);
    conal_net_backward(net, c, NULL, B_TEST, CONAL_GRAD_WEIGHTS);
    CHECK_EQ_INT(1, net->task_grads_valid);
    size_t n_shared = net->shared_off[2] + net->shared_n[2];
    float *d_copy[3], *g_sum = malloc(n_shared * sizeof(float));
    memcpy(g_sum, net->params.g, n_shared * sizeof(float));
    for (int q = 0; q < 3; q++) {
        size_t n = (size_t)K_TEST * net->shared_n[q];
        d_copy[q] = malloc(n * sizeof(float));
        memcpy(d_copy[q], net->task_grads[q], n * sizeof(float));
    }

    // one backward per task with the other blocks of dy zeroed
    net->conflict = CONAL_CONFLICT_OFF;
    double worst = 0.0, worst_sum = 0.0;
    float *acc = calloc(n_shared, sizeof(float));
    for (int t = 0; t < K_TEST; t++) {
        memset(cm, 0, sizeof cm);
        memcpy(cm + t * B_TEST * OUT_TEST, c + t * B_TEST * OUT_TEST,
               B_TEST * OUT_TEST * sizeof(float));
        conal_net_zero_grad(net);
        conal_net_forward(net, x, B_TEST, 0);
        conal_net_backward(net, cm, NULL, B_TEST, CONAL_GRAD_WEIGHTS);
        for (int q = 0; q < 3; q++) {
            const float *row = d_copy[q] + (size_t)t * net->shared_n[q];
            for (size_t i = 0; i < net->shared_n[q]; i++) {
                double e = fabs((double)row[i] - (double)net->params.g[net->shared_off[q] + i]);
                worst = e > worst ? e : worst;
            }
        }
        for (size_t i = 0; i < n_shared; i++) {
            acc[i] += net->params.g[i];
        }
    }
    for (size_t i = 0; i < n_shared; i++) {
        double e = fabs((double)acc[i] - (double)g_sum[i]);
        worst_sum = e > worst_sum ? e : worst_sum;
    }
    CHECK_NEAR(0.0, worst, 1e-5);
    CHECK_NEAR(0.0, worst_sum, 1e-5);
    for (int q = 0; q < 3; q++) {
        free(d_copy[q]);
    }
    free(g_sum);
    free(acc);
    conal_net_destroy(net);
}

// Fills D of slot q with rows sign[t] * v (v fixed, random) and sets g = 1^T D.
static void set_task_grads(ConalNet *net, int q, const float *sign, RngState *rng) {
    size_t n = net->shared_n[q - 1];
    float *v = malloc(n * sizeof *v);
    fill_normal(v, n, rng, 1.0);
    float *g = net->params.g + net->shared_off[q - 1];
    memset(g, 0, n * sizeof *g);
    for (int t = 0; t < K_TEST; t++) {
        float *row = net->task_grads[q - 1] + (size_t)t * n;
        for (size_t i = 0; i < n; i++) {
            row[i] = sign[t] * v[i];
            g[i] += row[i];
        }
    }
    free(v);
}

// In a derived network, D rows of tasks that skip a shared module stay zero.
static void test_derived_unused_rows_zero(void) {
    const int branch[K_TEST] = {4, 2, 1};
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, branch);
    ConalNet *net = make_net(&spec, 53, 0);
    net->conflict = CONAL_CONFLICT_MEASURE;
    RngState rng;
    rng_init(&rng, 59);
    float x[K_TEST * B_TEST * IN_TEST], c[K_TEST * B_TEST * OUT_TEST];
    for (int it = 0; it < 2; it++) {
        fill_normal(x, sizeof x / sizeof x[0], &rng, 1.0);
        fill_normal(c, sizeof c / sizeof c[0], &rng, 1.0);
        conal_net_zero_grad(net);
        conal_net_forward(net, x, B_TEST, 0);
        conal_net_backward(net, c, NULL, B_TEST, CONAL_GRAD_WEIGHTS);
    }
    for (int q = 1; q <= 3; q++) {
        size_t n = net->shared_n[q - 1];
        for (int t = 0; t < K_TEST; t++) {
            double norm = 0.0;
            for (size_t i = 0; i < n; i++) {
                double v = (double)net->task_grads[q - 1][(size_t)t * n + i];
                norm += v * v;
            }
            int uses = branch[t] > q;
            CHECK_MSG(uses ? norm > 0.0 : norm == 0.0, "slot %d task %d: |D row|^2 = %g", q,
                      t, norm);
        }
    }
    conal_net_destroy(net);
}

// Conflict at slot c freezes exactly slots c..P-1, moments and counts kept.
static void check_freeze_from(int c) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    ConalNet *net = make_net(&spec, 21, 0);
    net->conflict = CONAL_CONFLICT_NOTICE;
    NnAdamConfig adam = nn_adam_defaults();
    RngState rng;
    rng_init(&rng, 23);
    const float agree[K_TEST] = {1.0f, 2.0f, 0.5f};
    const float clash[K_TEST] = {1.0f, -1.0f, 1.0f};
    conal_net_zero_grad(net);
    for (int q = 1; q <= 3; q++) {
        set_task_grads(net, q, q == c ? clash : agree, &rng);
    }
    size_t rest0 = net->shared_off[2] + net->shared_n[2];
    fill_normal(net->params.g + rest0, net->params.n - rest0, &rng, 1.0);
    net->task_grads_valid = 1;
    size_t n = net->params.n;
    float *w0 = malloc(n * sizeof *w0), *m0 = malloc(n * sizeof *m0);
    memcpy(w0, net->params.w, n * sizeof *w0);
    memcpy(m0, net->params.m, n * sizeof *m0);
    conal_net_step(net, &adam);

    CHECK_EQ_INT(c, net->last.frozen_from);
    for (int q = 1; q <= 3; q++) {
        size_t off = net->shared_off[q - 1], len = net->shared_n[q - 1];
        int w_same = memcmp(w0 + off, net->params.w + off, len * sizeof(float)) == 0;
        int m_same = memcmp(m0 + off, net->params.m + off, len * sizeof(float)) == 0;
        int frozen = q >= c;
        CHECK_MSG(w_same == frozen, "slot %d weights %s", q, w_same ? "unchanged" : "moved");
        CHECK_MSG(m_same == frozen, "slot %d moments %s", q, m_same ? "unchanged" : "moved");
        CHECK_EQ_INT(frozen ? 0 : 1, net->step_shared[q - 1]);
        CHECK_EQ_INT(frozen ? 1 : 0, net->stop_count[q - 1]);
    }
    // the clashing slot has pairs (0,1) and (1,2) negative out of three
    CHECK_EQ_INT(2, net->last.n_negative[c - 1]);
    CHECK_EQ_INT(3, net->last.n_pairs[c - 1]);
    CHECK_NEAR(2.0 / 3.0, net->last.conflict_ratio[c - 1], 1e-12);
    size_t rest = net->shared_off[2] + net->shared_n[2];
    CHECK(memcmp(w0 + rest, net->params.w + rest, (n - rest) * sizeof(float)) != 0);
    CHECK_EQ_INT(1, net->step_rest);
    free(w0);
    free(m0);
    conal_net_destroy(net);
}

static void test_notice_freezes_from_conflict(void) {
    check_freeze_from(1);
    check_freeze_from(2);
    check_freeze_from(3);
}

// No conflict anywhere: every slot steps; MEASURE never freezes.
static void test_measure_and_no_conflict(void) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    for (int mode = 0; mode < 2; mode++) {
        ConalNet *net = make_net(&spec, 21, 0);
        net->conflict = mode ? CONAL_CONFLICT_MEASURE : CONAL_CONFLICT_NOTICE;
        NnAdamConfig adam = nn_adam_defaults();
        RngState rng;
        rng_init(&rng, 29);
        const float agree[K_TEST] = {1.0f, 2.0f, 0.5f};
        const float clash[K_TEST] = {1.0f, -1.0f, 1.0f};
        conal_net_zero_grad(net);
        for (int q = 1; q <= 3; q++) {
            set_task_grads(net, q, mode && q == 2 ? clash : agree, &rng);
        }
        net->task_grads_valid = 1;
        conal_net_step(net, &adam);
        CHECK_EQ_INT(4, net->last.frozen_from);
        for (int q = 0; q < 3; q++) {
            CHECK_EQ_INT(1, net->step_shared[q]);
            CHECK_EQ_INT(0, net->stop_count[q]);
        }
        CHECK_NEAR(mode ? 2.0 / 3.0 : 0.0, net->last.conflict_ratio[1], 1e-12);
        conal_net_destroy(net);
    }
}

// The Gram matrices built during backward (in column chunks) give the same
// conflict counts as inner products of D computed here in double.
static void test_backward_gram_matches_d(void) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    // slot 2 has 64 * 64 + 64 = 4160 parameters: more than one chunk of 2048
    spec.slots[0] = conal_dense_module(IN_TEST, 64, NN_ACT_TANH);
    spec.slots[1] = conal_dense_module(64, 64, NN_ACT_TANH);
    spec.slots[2] = conal_dense_module(64, 5, NN_ACT_TANH);
    ConalNet *net = make_net(&spec, 43, 0);
    net->conflict = CONAL_CONFLICT_MEASURE;
    RngState rng;
    rng_init(&rng, 47);
    float x[K_TEST * B_TEST * IN_TEST], c[K_TEST * B_TEST * OUT_TEST];
    fill_normal(x, sizeof x / sizeof x[0], &rng, 1.0);
    fill_normal(c, sizeof c / sizeof c[0], &rng, 1.0);
    conal_net_zero_grad(net);
    conal_net_forward(net, x, B_TEST, 0);
    conal_net_backward(net, c, NULL, B_TEST, CONAL_GRAD_WEIGHTS);
    NnAdamConfig adam = nn_adam_defaults();
    double worst = 0.0;
    for (int q = 0; q < 3; q++) {
        size_t n = net->shared_n[q];
        const float *d = net->task_grads[q];
        const float *gram = conal_net_gram(net, q + 1);
        for (int t = 0; t < K_TEST; t++) {
            for (int u = t; u < K_TEST; u++) {
                double dot = 0.0;
                for (size_t i = 0; i < n; i++) {
                    dot += (double)d[(size_t)t * n + i] * (double)d[(size_t)u * n + i];
                }
                double e = check_rel_err(dot, (double)gram[t * K_TEST + u]);
                worst = e > worst ? e : worst;
            }
        }
    }
    CHECK_NEAR(0.0, worst, 1e-4);

    // the step's conflict counts agree with the signs of the products
    conal_net_step(net, &adam);
    CHECK_EQ_INT(1, net->last.measured);
    for (int q = 0; q < 3; q++) {
        size_t n = net->shared_n[q];
        const float *d = net->task_grads[q];
        int neg = 0, pairs = 0;
        for (int t = 0; t < K_TEST; t++) {
            for (int u = t + 1; u < K_TEST; u++) {
                double dot = 0.0;
                for (size_t i = 0; i < n; i++) {
                    dot += (double)d[(size_t)t * n + i] * (double)d[(size_t)u * n + i];
                }
                pairs++;
                neg += dot < 0.0;
            }
        }
        CHECK_EQ_INT(pairs, net->last.n_pairs[q]);
        CHECK_EQ_INT(neg, net->last.n_negative[q]);
    }
    conal_net_destroy(net);
}

// OBSERVE writes the summed gradient and dx bit for bit as OFF does. It
// writes D and the Gram matrices bit for bit as MEASURE does. The derived
// network's shared modules skip some tasks.
static void test_observe_leaves_update_unchanged(void) {
    const int branch[K_TEST] = {4, 3, 1};
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, branch);
    ConalConflictMode modes[3] = {CONAL_CONFLICT_OFF, CONAL_CONFLICT_MEASURE,
                                  CONAL_CONFLICT_OBSERVE};
    ConalNet *nets[3];
    float x[K_TEST * B_TEST * IN_TEST], c[K_TEST * B_TEST * OUT_TEST];
    float dx[3][K_TEST * B_TEST * IN_TEST];
    RngState rng;
    rng_init(&rng, 61);
    fill_normal(x, sizeof x / sizeof x[0], &rng, 1.0);
    fill_normal(c, sizeof c / sizeof c[0], &rng, 1.0);
    NnAdamConfig adam = nn_adam_defaults();
    for (int i = 0; i < 3; i++) {
        nets[i] = make_net(&spec, 67, 0);
        nets[i]->conflict = modes[i];
        conal_net_zero_grad(nets[i]);
        conal_net_forward(nets[i], x, B_TEST, 0);
        conal_net_backward(nets[i], c, dx[i], B_TEST, CONAL_GRAD_WEIGHTS);
    }

    // OFF and OBSERVE: the same gradients
    size_t n = nets[0]->params.n;
    CHECK_EQ_INT(0, memcmp(nets[0]->params.g, nets[2]->params.g, n * sizeof(float)));
    CHECK_EQ_INT(0, memcmp(dx[0], dx[2], sizeof dx[0]));
    CHECK_EQ_INT(1, nets[2]->task_grads_valid);

    // MEASURE and OBSERVE: the same D and Gram matrices
    for (int q = 1; q <= 3; q++) {
        size_t len = nets[1]->shared_n[q - 1] * K_TEST;
        CHECK(len > 0);
        CHECK_EQ_INT(0, memcmp(nets[1]->task_grads[q - 1], nets[2]->task_grads[q - 1],
                               len * sizeof(float)));
        CHECK_EQ_INT(0, memcmp(conal_net_gram(nets[1], q), conal_net_gram(nets[2], q),
                               K_TEST * K_TEST * sizeof(float)));
    }

    // the step of OBSERVE measures and moves the weights as OFF's does
    conal_net_step(nets[0], &adam);
    conal_net_step(nets[2], &adam);
    CHECK_EQ_INT(1, nets[2]->last.measured);
    CHECK_EQ_INT(0, memcmp(nets[0]->params.w, nets[2]->params.w, n * sizeof(float)));
    for (int i = 0; i < 3; i++) {
        conal_net_destroy(nets[i]);
    }
}

// A zero gradient has no direction: it conflicts with nothing.
static void test_zero_gradient_no_conflict(void) {
    float gram[9] = {1.0f, -1.0f, 0.0f,
                     -1.0f, 0.0f, 0.0f,
                     0.0f, 0.0f, 1.0f};
    int neg = -1, pairs = -1;
    // task 1 has zero norm, so its negative entry with task 0 is ignored
    gram[4] = 0.0f;
    CHECK_EQ_INT(0, conal_conflict_scan(gram, 3, &neg, &pairs));
    CHECK_EQ_INT(0, neg);
    CHECK_EQ_INT(1, pairs);
    gram[4] = 2.0f;
    CHECK_EQ_INT(1, conal_conflict_scan(gram, 3, &neg, &pairs));
    CHECK_EQ_INT(1, neg);
    CHECK_EQ_INT(3, pairs);
}

// The target forward uses params.target and leaves the online cache alone.
static void test_target_forward(void) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    ConalNet *net = make_net(&spec, 31, 1);
    RngState rng;
    rng_init(&rng, 37);
    size_t ny = (size_t)K_TEST * B_TEST * OUT_TEST;
    float x[K_TEST * B_TEST * IN_TEST], y_online[K_TEST * B_TEST * OUT_TEST];
    fill_normal(x, sizeof x / sizeof x[0], &rng, 1.0);
    memcpy(y_online, conal_net_forward(net, x, B_TEST, 0), ny * sizeof(float));
    const float *y_target = conal_net_forward(net, x, B_TEST, 1);
    CHECK(memcmp(y_online, y_target, ny * sizeof(float)) == 0);

    // moving the online weights changes the online output, not the target's
    for (size_t i = 0; i < net->params.n; i++) {
        net->params.w[i] *= 0.5f;
    }
    float y_t2[K_TEST * B_TEST * OUT_TEST];
    memcpy(y_t2, conal_net_forward(net, x, B_TEST, 1), ny * sizeof(float));
    const float *y_o2 = conal_net_forward(net, x, B_TEST, 0);
    CHECK(memcmp(y_t2, y_online, ny * sizeof(float)) == 0);
    CHECK(memcmp(y_o2, y_online, ny * sizeof(float)) != 0);
    conal_net_destroy(net);
}

// Runs n search iterations (alpha step on one batch, weight step on another)
// and returns the final outputs' checksum bits for a determinism check.
static void run_search_steps(uint64_t seed, int n, float *out, size_t n_out) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    ConalNet *net = make_net(&spec, seed, 0);
    net->conflict = CONAL_CONFLICT_NOTICE;
    NnAdamConfig adam = nn_adam_defaults();
    RngState rng;
    rng_init(&rng, seed + 1);
    float x[K_TEST * B_TEST * IN_TEST], c[K_TEST * B_TEST * OUT_TEST];
    for (int it = 0; it < n; it++) {
        fill_normal(x, sizeof x / sizeof x[0], &rng, 1.0);
        fill_normal(c, sizeof c / sizeof c[0], &rng, 1.0);
        conal_net_zero_grad(net);
        conal_net_forward(net, x, B_TEST, 0);
        conal_net_backward(net, c, NULL, B_TEST, CONAL_GRAD_ALPHA);
        conal_net_alpha_step(net, &adam);
        conal_net_zero_grad(net);
        conal_net_forward(net, x, B_TEST, 0);
        conal_net_backward(net, c, NULL, B_TEST, CONAL_GRAD_WEIGHTS);
        conal_net_step(net, &adam);
    }
    memcpy(out, conal_net_forward(net, x, B_TEST, 0), n_out * sizeof(float));
    conal_net_destroy(net);
}

static void test_search_is_deterministic(void) {
    float a[K_TEST * B_TEST * OUT_TEST], b[K_TEST * B_TEST * OUT_TEST];
    run_search_steps(41, 20, a, sizeof a / sizeof a[0]);
    run_search_steps(41, 20, b, sizeof b / sizeof b[0]);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

// Runs one search iteration or one derived-network step at sizes where the
// parallel jobs split (10 tasks, width 400). Returns every output, weight,
// alpha and Gram value in one buffer.
static float *wide_run(int derived, ConalSpecificKind kind, size_t *n_out) {
    enum { K = 10, B = 32, IN = 39, H = 400, OUT = 8 };
    static const int branch[K] = {4, 4, 4, 3, 3, 2, 2, 1, 1, 4};
    ConalNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.n_tasks = K;
    spec.n_slots = 3;
    spec.slots[0] = conal_dense_module(IN, H, NN_ACT_RELU);
    spec.slots[1] = conal_dense_module(H, H, NN_ACT_RELU);
    spec.slots[2] = conal_dense_module(H, H, NN_ACT_RELU);
    spec.decoder = conal_dense_module(H, OUT, NN_ACT_NONE);
    spec.specific = kind;
    spec.max_block = B;
    if (derived) {
        spec.derived = 1;
        memcpy(spec.branch, branch, sizeof branch);
    }
    ConalNet *net = make_net(&spec, 12, 1);
    RngState rng;
    rng_init(&rng, 13);
    float *x = malloc((size_t)K * B * IN * sizeof(float));
    float *c = malloc((size_t)K * B * OUT * sizeof(float));
    fill_normal(x, (size_t)K * B * IN, &rng, 1.0);
    fill_normal(c, (size_t)K * B * OUT, &rng, 1.0);
    NnAdamConfig adam = nn_adam_defaults();
    net->conflict = CONAL_CONFLICT_MEASURE;

    if (!derived) {
        conal_net_zero_grad(net);
        conal_net_forward(net, x, B, 0);
        conal_net_backward(net, c, NULL, B, CONAL_GRAD_ALPHA);
        conal_net_alpha_step(net, &adam);
    }
    conal_net_zero_grad(net);
    conal_net_forward(net, x, B, 0);
    conal_net_backward(net, c, NULL, B, CONAL_GRAD_WEIGHTS);
    size_t n_gram = (size_t)(net->P - 1) * K * K;
    size_t n = (size_t)K * B * OUT + 2 * net->params.n + net->alpha.n + n_gram;
    float *out = calloc(n, sizeof(float)), *p = out;
    for (int q = 1; q < net->P; q++) {
        const float *G = conal_net_gram(net, q);
        if (G) {
            memcpy(p + (size_t)(q - 1) * K * K, G, (size_t)K * K * sizeof(float));
        }
    }
    p += n_gram;

    conal_net_step(net, &adam);
    memcpy(p, net->params.w, net->params.n * sizeof(float));
    p += net->params.n;
    memcpy(p, net->params.g, net->params.n * sizeof(float));
    p += net->params.n;
    if (net->alpha.n) {
        memcpy(p, net->alpha.w, net->alpha.n * sizeof(float));
    }
    p += net->alpha.n;
    memcpy(p, conal_net_forward(net, x, B, 1), (size_t)K * B * OUT * sizeof(float));
    *n_out = n;
    free(x);
    free(c);
    conal_net_destroy(net);
    return out;
}

// Search and derived networks give the same bits on 1, 2 and 3 threads.
static void test_thread_count_invariant(void) {
    for (int v = 0; v < 3; v++) {
        int derived = v > 0;
        ConalSpecificKind kind = v == 2 ? CONAL_PARTIALLY_SPECIFIC : CONAL_PURELY_SPECIFIC;
        CHECK_EQ_INT(0, nn_threads_set(1));
        size_t n1, n;
        float *serial = wide_run(derived, kind, &n1);
        for (int threads = 2; threads <= 3; threads++) {
            CHECK_EQ_INT(0, nn_threads_set(threads));
            float *parallel = wide_run(derived, kind, &n);
            CHECK_EQ_INT(n1, n);
            CHECK_MSG(memcmp(serial, parallel, n1 * sizeof(float)) == 0,
                      "derived=%d kind=%d: %d threads differ from 1", derived, (int)kind,
                      threads);
            free(parallel);
        }
        free(serial);
    }
    nn_threads_set(1);
}

// Bad specs are rejected with a message naming the field.
static void test_spec_errors(void) {
    char err[256];
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    spec.slots[1] = conal_dense_module(7, 6, NN_ACT_TANH);
    CHECK_EQ_INT(ERR_ARG, conal_spec_validate(&spec, err, sizeof err));
    CHECK_STR_CONTAINS(err, "slot 2 input 7 != slot 1 output 5");
    const int branch[K_TEST] = {4, 5, 1};
    spec = small_spec(CONAL_PURELY_SPECIFIC, branch);
    CHECK_EQ_INT(ERR_ARG, conal_spec_validate(&spec, err, sizeof err));
    CHECK_STR_CONTAINS(err, "task 1 branch point 5 not in [1, 4]");
    RngState rng;
    rng_init(&rng, 1);
    CHECK(conal_net_create(&spec, 0, &rng, err, sizeof err) == NULL);
}

int main(void) {
    RUN_TEST(test_grad_search_pure);
    RUN_TEST(test_grad_search_partial);
    RUN_TEST(test_grad_derived_pure);
    RUN_TEST(test_grad_derived_partial);
    RUN_TEST(test_one_hot_last_is_hard_sharing);
    RUN_TEST(test_one_hot_first_is_separate);
    RUN_TEST(test_one_hot_middle_branch);
    RUN_TEST(test_derived_all_shared_reference);
    RUN_TEST(test_task_grads_match_single_task);
    RUN_TEST(test_derived_unused_rows_zero);
    RUN_TEST(test_notice_freezes_from_conflict);
    RUN_TEST(test_measure_and_no_conflict);
    RUN_TEST(test_backward_gram_matches_d);
    RUN_TEST(test_observe_leaves_update_unchanged);
    RUN_TEST(test_zero_gradient_no_conflict);
    RUN_TEST(test_target_forward);
    RUN_TEST(test_thread_count_invariant);
    RUN_TEST(test_search_is_deterministic);
    RUN_TEST(test_spec_errors);
    return check_summary();
}
