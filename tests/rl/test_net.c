// Task-blocked networks (stl, mtsac, mhsac), conflict ratios and replay.
//
// Dimension letters: K tasks, B rows per task block, I input, O output.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/net.h"
#include "rl/replay.h"
#include "tests/check.h"

enum { K = 3, B = 5, N_IN = 4, N_OUT = 2 };

// A small network of the given method with tanh hidden layers (smooth, so
// finite differences need no care around kinks).
static RlNet *small_net(RlMethod method) {
    RlNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.method = method;
    spec.n_tasks = K;
    spec.n_in = N_IN;
    spec.n_out = N_OUT;
    spec.n_hidden = 2;
    spec.hidden[0] = 6;
    spec.hidden[1] = 5;
    spec.act = NN_ACT_TANH;
    spec.max_block = B;
    spec.with_target = 1;
    RngState rng;
    rng_init(&rng, 11);
    char err[256];
    RlNet *net = rl_net_create(&spec, &rng, err, sizeof err);
    if (!net) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return net;
}

// Random packed input (K*B x I) for net.
static float *random_input(const RlNet *net, uint64_t seed) {
    RngState rng;
    rng_init(&rng, seed);
    float feat[K * B * N_IN];
    for (int i = 0; i < K * B * N_IN; i++) {
        feat[i] = (float)rng_normal(&rng);
    }
    float *x = malloc(sizeof(float) * K * B * (size_t)net->n_in_total);
    rl_net_pack_input(net, feat, B, x);
    return x;
}

// Scalar loss sum(c * y) over the outputs, with fixed weights c.
static double weighted_sum(RlNet *net, const float *x, const float *c) {
    const float *y = rl_net_forward(net, x, B, RL_NET_ONLINE);
    double s = 0.0;
    for (int i = 0; i < K * B * N_OUT; i++) {
        s += (double)c[i] * (double)y[i];
    }
    return s;
}

// Backward of every method against central differences of sum(c * y).
static void check_method_gradients(RlMethod method) {
    RlNet *net = small_net(method);
    float *x = random_input(net, 5);
    float c[K * B * N_OUT];
    for (int i = 0; i < K * B * N_OUT; i++) {
        c[i] = (float)(0.1 * ((i * 7) % 11) - 0.5);
    }
    nn_params_zero_grad(&net->params);
    weighted_sum(net, x, c);
    float *dx = malloc(sizeof(float) * K * B * (size_t)net->n_in_total);
    rl_net_backward(net, c, dx, B);

    double worst = 0.0;
    for (size_t i = 0; i < net->params.n; i++) {
        float keep = net->params.w[i];
        float h = 1e-2f;
        net->params.w[i] = keep + h;
        double up = weighted_sum(net, x, c);
        net->params.w[i] = keep - h;
        double down = weighted_sum(net, x, c);
        net->params.w[i] = keep;
        double fd = (up - down) / (2.0 * (double)h);
        if (fabs(fd) > 1e-4 || fabs((double)net->params.g[i]) > 1e-4) {
            double e = check_rel_err((double)net->params.g[i], fd);
            worst = e > worst ? e : worst;
        }
    }
    CHECK_MSG(worst < 1e-2, "%s: worst relative error %.3g", rl_method_names[method], worst);
    free(dx);
    free(x);
    rl_net_destroy(net);
}

static void test_gradients_mtsac(void) {
    check_method_gradients(RL_METHOD_MTSAC);
}

static void test_gradients_mhsac(void) {
    check_method_gradients(RL_METHOD_MHSAC);
}

static void test_gradients_stl(void) {
    check_method_gradients(RL_METHOD_STL);
}

// Measuring per-task gradients (want_task_grads) leaves the summed gradient
// bit for bit as a plain backward writes it; summing it from D
// (sum_task_grads) agrees to rounding. Row t of D equals the gradient of
// task t's rows alone, and gram contains D D^T.
static void test_task_grads_split(void) {
    RlNet *net = small_net(RL_METHOD_MTSAC);
    CHECK_EQ_INT(3, net->n_shared);   // two hidden layers and the output layer
    float *x = random_input(net, 6);
    float dy[K * B * N_OUT];
    for (int i = 0; i < K * B * N_OUT; i++) {
        dy[i] = (float)(0.3 * ((i * 5) % 7) - 0.9);
    }
    size_t n = net->params.n;
    float *plain = malloc(sizeof(float) * n);
    rl_net_forward(net, x, B, RL_NET_ONLINE);
    nn_params_zero_grad(&net->params);
    rl_net_backward(net, dy, NULL, B);
    memcpy(plain, net->params.g, sizeof(float) * n);

    nn_params_zero_grad(&net->params);
    net->want_task_grads = 1;
    rl_net_backward(net, dy, NULL, B);
    CHECK(net->task_grads_fresh);
    CHECK_EQ_INT(0, memcmp(plain, net->params.g, sizeof(float) * n));
    for (int s = 0; s < net->n_shared; s++) {
        const RlSharedLayer *l = &net->shared[s];
        for (int t = 0; t < K; t++) {
            for (int u = 0; u < K; u++) {
                double dot = 0.0, scale = 0.0;
                for (size_t i = 0; i < l->n; i++) {
                    double a = l->d[t * l->n + i], b = l->d[u * l->n + i];
                    dot += a * b;
                    scale += fabs(a * b);
                }
                CHECK_NEAR(dot, l->gram[t * K + u], 1e-5 * scale + 1e-12);
            }
        }
    }
    net->want_task_grads = 0;

    nn_params_zero_grad(&net->params);
    net->sum_task_grads = 1;
    rl_net_backward(net, dy, NULL, B);
    net->sum_task_grads = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)(plain[i] - net->params.g[i])));
    }
    CHECK_MSG(worst < 1e-5, "gradient summed from D differs from the plain one by %.3g", worst);

    // task 1 alone: zero dy outside its block
    const RlSharedLayer *sl = &net->shared[0];
    float *row1 = malloc(sizeof(float) * sl->n);
    memcpy(row1, sl->d + sl->n, sizeof(float) * sl->n);
    float dy1[K * B * N_OUT] = {0};
    memcpy(dy1 + B * N_OUT, dy + B * N_OUT, sizeof(float) * B * N_OUT);
    nn_params_zero_grad(&net->params);
    rl_net_backward(net, dy1, NULL, B);
    worst = 0.0;
    for (size_t i = 0; i < sl->n; i++) {
        worst = fmax(worst, fabs((double)(row1[i] - net->params.g[sl->offset + i])));
    }
    CHECK_MSG(worst < 1e-5, "task 1's gradient block differs by %.3g", worst);
    free(row1);
    free(plain);
    free(x);
    rl_net_destroy(net);
}

// input_grad_only gives the same dx and leaves the gradients untouched.
static void check_input_grad_only(RlMethod method) {
    RlNet *net = small_net(method);
    float *x = random_input(net, 12);
    float dy[K * B * N_OUT];
    for (int i = 0; i < K * B * N_OUT; i++) {
        dy[i] = (float)(0.2 * ((i * 3) % 5) - 0.4);
    }
    size_t nx = (size_t)K * B * (size_t)net->n_in_total;
    float *dx_full = malloc(sizeof(float) * nx), *dx_only = malloc(sizeof(float) * nx);
    rl_net_forward(net, x, B, RL_NET_ONLINE);
    nn_params_zero_grad(&net->params);
    rl_net_backward(net, dy, dx_full, B);
    nn_params_zero_grad(&net->params);
    net->input_grad_only = 1;
    rl_net_backward(net, dy, dx_only, B);
    double worst = 0.0;
    for (size_t i = 0; i < nx; i++) {
        worst = fmax(worst, fabs((double)(dx_full[i] - dx_only[i])));
    }
    CHECK_MSG(worst < 1e-6, "%s: dx differs by %.3g", rl_method_names[method], worst);
    CHECK_EQ_INT(0, nn_grad_norm(net->params.g, net->params.n) > 0.0);
    free(dx_full);
    free(dx_only);
    free(x);
    rl_net_destroy(net);
}

static void test_input_grad_only(void) {
    check_input_grad_only(RL_METHOD_MTSAC);
    check_input_grad_only(RL_METHOD_MHSAC);
    check_input_grad_only(RL_METHOD_STL);
}

// Gram matrix and conflict ratio on hand-made task gradients.
static void test_conflict_ratio(void) {
    RlNet *net = small_net(RL_METHOD_MTSAC);
    RlSharedLayer *sl = &net->shared[0];
    memset(sl->d, 0, sizeof(float) * sl->n * K);
    // task 0: +e0, task 1: -e0 (conflict with 0), task 2: e1 (orthogonal)
    sl->d[0] = 1.0f;
    sl->d[sl->n] = -1.0f;
    sl->d[2 * sl->n + 1] = 1.0f;
    float gram[K * K];
    rl_net_gram(net, 0, gram);
    CHECK_NEAR(1.0, gram[0], 1e-7);
    CHECK_NEAR(-1.0, gram[1], 1e-7);
    CHECK_NEAR(0.0, gram[2], 1e-7);
    CHECK_NEAR(1.0, gram[8], 1e-7);
    CHECK_NEAR(1.0 / 3.0, rl_net_conflict_ratio(net, 0), 1e-12);

    // all three pairs conflict: three unit vectors 120 degrees apart
    memset(sl->d, 0, sizeof(float) * sl->n * K);
    for (int t = 0; t < K; t++) {
        sl->d[t * sl->n] = cosf(2.0943951f * (float)t);
        sl->d[t * sl->n + 1] = sinf(2.0943951f * (float)t);
    }
    CHECK_NEAR(1.0, rl_net_conflict_ratio(net, 0), 1e-12);
    rl_net_destroy(net);
}

// mhsac's output layer and stl's whole network are per task: changing task
// 2's weights changes only block 2's outputs.
static void check_block_locality(RlMethod method) {
    RlNet *net = small_net(method);
    float *x = random_input(net, 8);
    float before[K * B * N_OUT];
    memcpy(before, rl_net_forward(net, x, B, RL_NET_ONLINE), sizeof before);
    // the last private copy belongs to task K-1; nudge its last weights
    for (size_t i = net->params.n - 3; i < net->params.n; i++) {
        net->params.w[i] += 0.5f;
    }
    const float *after = rl_net_forward(net, x, B, RL_NET_ONLINE);
    int other_changed = 0, own_changed = 0;
    for (int r = 0; r < K * B; r++) {
        for (int j = 0; j < N_OUT; j++) {
            int changed = after[r * N_OUT + j] != before[r * N_OUT + j];
            if (r / B == K - 1) {
                own_changed |= changed;
            } else {
                other_changed |= changed;
            }
        }
    }
    CHECK(own_changed);
    CHECK(!other_changed);
    free(x);
    rl_net_destroy(net);
}

static void test_mhsac_heads_per_task(void) {
    check_block_locality(RL_METHOD_MHSAC);
}

static void test_stl_networks_per_task(void) {
    check_block_locality(RL_METHOD_STL);
}

// One-hot columns follow the features for mtsac only.
static void test_pack_one_hot(void) {
    RlNet *mt = small_net(RL_METHOD_MTSAC);
    RlNet *mh = small_net(RL_METHOD_MHSAC);
    CHECK_EQ_INT(N_IN + K, mt->n_in_total);
    CHECK_EQ_INT(N_IN, mh->n_in_total);
    float *x = random_input(mt, 9);
    for (int r = 0; r < K * B; r++) {
        for (int k = 0; k < K; k++) {
            CHECK_EQ_INT(k == r / B, (int)x[r * (N_IN + K) + N_IN + k]);
        }
    }
    free(x);
    rl_net_destroy(mt);
    rl_net_destroy(mh);
}

// A CoNAL spec without hidden layers is rejected; method names parse.
static void test_unbuilt_method_rejected(void) {
    RlNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.method = RL_METHOD_CONAL;
    spec.n_tasks = K;
    spec.n_in = N_IN;
    spec.n_out = N_OUT;
    spec.max_block = B;
    RngState rng;
    rng_init(&rng, 1);
    char err[256] = "";
    CHECK(rl_net_create(&spec, &rng, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "0 hidden layers");
    CHECK_EQ_INT(RL_METHOD_MHSAC, rl_method_parse("mhsac"));
    CHECK_EQ_INT(-1, rl_method_parse("mt-sac"));
}

// Replay batches are task-blocked: block t holds only task t's transitions.
static void test_replay_task_blocked(void) {
    RlReplay rb;
    char err[256];
    CHECK_EQ_INT(0, rl_replay_init(&rb, K, 2, 1, 8, err, sizeof err));
    for (int t = 0; t < K; t++) {
        for (int i = 0; i < 5 + t; i++) {
            float obs[2] = {(float)t, (float)i}, act = (float)(10 * t + i), next[2] = {0, 0};
            rl_replay_add(&rb, t, obs, &act, (float)t, next);
        }
    }
    RlBatch batch;
    CHECK_EQ_INT(0, rl_batch_init(&batch, K, 16, 2, 1));
    RngState rng;
    rng_init(&rng, 3);
    rl_replay_sample(&rb, &rng, &batch);
    for (int r = 0; r < K * 16; r++) {
        int t = r / 16;
        CHECK_EQ_INT(t, (int)batch.obs[r * 2]);
        CHECK_EQ_INT(t, (int)batch.reward[r]);
        CHECK((int)batch.obs[r * 2 + 1] < 5 + t);
        CHECK_EQ_INT(10 * t + (int)batch.obs[r * 2 + 1], (int)batch.action[r]);
    }
    rl_batch_deinit(&batch);
    rl_replay_deinit(&rb);
}

// Sampling is uniform over the stored transitions, and the ring keeps the
// newest C transitions.
static void test_replay_uniform_ring(void) {
    RlReplay rb;
    char err[256];
    CHECK_EQ_INT(0, rl_replay_init(&rb, 1, 1, 1, 10, err, sizeof err));
    for (int i = 0; i < 25; i++) {
        float v = (float)i, zero = 0.0f;
        rl_replay_add(&rb, 0, &v, &zero, 0.0f, &zero);
    }
    CHECK_EQ_INT(10, rb.tasks[0].size);
    RlBatch batch;
    CHECK_EQ_INT(0, rl_batch_init(&batch, 1, 1000, 1, 1));
    RngState rng;
    rng_init(&rng, 4);
    int counts[25] = {0};
    for (int round = 0; round < 100; round++) {
        rl_replay_sample(&rb, &rng, &batch);
        for (int r = 0; r < 1000; r++) {
            counts[(int)batch.obs[r]]++;
        }
    }
    // 100,000 draws over 10 slots: 10,000 each, standard deviation 95
    for (int i = 0; i < 15; i++) {
        CHECK_EQ_INT(0, counts[i]);
    }
    for (int i = 15; i < 25; i++) {
        CHECK_MSG(abs(counts[i] - 10000) < 500, "slot %d drawn %d times", i, counts[i]);
    }
    rl_batch_deinit(&batch);
    rl_replay_deinit(&rb);
}

int main(void) {
    RUN_TEST(test_gradients_mtsac);
    RUN_TEST(test_gradients_mhsac);
    RUN_TEST(test_gradients_stl);
    RUN_TEST(test_task_grads_split);
    RUN_TEST(test_input_grad_only);
    RUN_TEST(test_conflict_ratio);
    RUN_TEST(test_mhsac_heads_per_task);
    RUN_TEST(test_stl_networks_per_task);
    RUN_TEST(test_pack_one_hot);
    RUN_TEST(test_unbuilt_method_rejected);
    RUN_TEST(test_replay_task_blocked);
    RUN_TEST(test_replay_uniform_ring);
    return check_summary();
}
