// PCGrad and CAGrad networks (rl/net_gradmix): same weights and outputs as
// MT-SAC, per-task gradients on every backward, an optimiser step equal to
// Adam on the gradient conal/gradmix combines, and checkpointed order state.
//
// Dimension letters: K tasks, B rows per task block.
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "conal/gradmix.h"
#include "nn/checkpoint.h"
#include "rl/config.h"
#include "rl/net.h"
#include "rl/sac.h"
#include "tests/check.h"

enum { B = 6, N_IN = 5, N_OUT = 3, MAX_K = 4 };

// A small tanh network of the given method for K tasks, weights from seed 7.
static RlNet *small_net(RlMethod method, int K) {
    RlNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.method = method;
    spec.n_tasks = K;
    spec.n_in = N_IN;
    spec.n_out = N_OUT;
    spec.n_hidden = 2;
    spec.hidden[0] = 8;
    spec.hidden[1] = 7;
    spec.act = NN_ACT_TANH;
    spec.max_block = B;
    spec.with_target = 1;
    RngState rng;
    rng_init(&rng, 7);
    char err[256];
    RlNet *net = rl_net_create(&spec, &rng, err, sizeof err);
    if (!net) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return net;
}

// Fills the packed input x and the output gradient dy from seed.
static void random_batch(const RlNet *net, uint64_t seed, float *x, float *dy) {
    int K = net->spec.n_tasks;
    RngState rng;
    rng_init(&rng, seed);
    float feat[MAX_K * B * N_IN];
    for (int i = 0; i < K * B * N_IN; i++) {
        feat[i] = (float)rng_normal(&rng);
    }
    rl_net_pack_input(net, feat, B, x);
    for (int i = 0; i < K * B * N_OUT; i++) {
        dy[i] = (float)rng_normal(&rng);
    }
}

// Forward and backward on one batch with want_task_grads left at 0.
static void forward_backward(RlNet *net, uint64_t seed) {
    float x[MAX_K * B * (N_IN + MAX_K)], dy[MAX_K * B * N_OUT];
    random_batch(net, seed, x, dy);
    nn_params_zero_grad(&net->params);
    net->want_task_grads = 0;
    rl_net_forward(net, x, B, RL_NET_ONLINE);
    rl_net_backward(net, dy, NULL, B);
}

static void test_same_outputs_as_mtsac(void) {
    RlNet *plain = small_net(RL_METHOD_MTSAC, 3);
    RlMethod methods[2] = {RL_METHOD_PCGRAD, RL_METHOD_CAGRAD};
    for (int m = 0; m < 2; m++) {
        RlNet *net = small_net(methods[m], 3);
        CHECK_EQ_INT((long long)plain->params.n, (long long)net->params.n);
        CHECK_EQ_INT(0, memcmp(plain->params.w, net->params.w,
                               sizeof(float) * plain->params.n));
        CHECK_EQ_INT(plain->n_shared, net->n_shared);

        float x[3 * B * (N_IN + 3)], dy[3 * B * N_OUT];
        random_batch(net, 5, x, dy);
        const float *ya = rl_net_forward(plain, x, B, RL_NET_ONLINE);
        const float *yb = rl_net_forward(net, x, B, RL_NET_ONLINE);
        CHECK_EQ_INT(0, memcmp(ya, yb, sizeof(float) * 3 * B * N_OUT));
        rl_net_destroy(net);
    }
    rl_net_destroy(plain);
}

// Backward fills D and its Gram matrix even when the caller did not ask, and
// the rows of D sum to g.
static void test_backward_fills_task_grads(void) {
    RlNet *net = small_net(RL_METHOD_PCGRAD, 3);
    forward_backward(net, 9);
    CHECK_EQ_INT(0, net->want_task_grads);
    for (int s = 0; s < net->n_shared; s++) {
        const RlSharedLayer *sl = &net->shared[s];
        double max_err = 0.0, max_g = 0.0;
        for (size_t i = 0; i < sl->n; i++) {
            double sum = 0.0;
            for (int t = 0; t < 3; t++) {
                sum += (double)sl->d[(size_t)t * sl->n + i];
            }
            double g = (double)net->params.g[sl->offset + i];
            max_err = fmax(max_err, fabs(sum - g));
            max_g = fmax(max_g, fabs(g));
        }
        CHECK(max_g > 0.0);
        CHECK_MSG(max_err <= 1e-5 * max_g, "layer %s: rows of D differ from g by %g", sl->name,
                  max_err);

        // the Gram matrix formed in the backward matches one formed afresh
        double G[3 * 3] = {0};
        conal_gram_accumulate(sl->d, 3, sl->n, sl->n, G);
        for (int i = 0; i < 9; i++) {
            CHECK_NEAR(G[i], sl->gram[i], 1e-5 * (fabs(G[i]) + 1e-12));
        }
    }
    rl_net_destroy(net);
}

// Runs one update on net and checks it against Adam on the gradient that
// conal_gradmix_apply combines from the same D (K = 2 for PCGrad, where the
// visiting order is fixed, so no generator state is involved). The batch is
// the first from seed 13 on whose gradients the two tasks conflict.
static void check_update_matches(RlMethod method, ConalGradMixMethod mix, int K) {
    RlNet *net = small_net(method, K);
    uint64_t seed = 13;
    for (;; seed++) {
        forward_backward(net, seed);
        double G[MAX_K * MAX_K] = {0};
        for (int s = 0; s < net->n_shared; s++) {
            conal_gram_accumulate(net->shared[s].d, K, net->shared[s].n, net->shared[s].n, G);
        }
        if (G[1] < 0.0 || seed == 13 + 50) {
            break;
        }
    }
    CHECK_MSG(seed < 13 + 50, "no batch with conflicting task gradients in 50 seeds");
    size_t n = net->params.n;
    float *w = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
    float *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    memcpy(w, net->params.w, sizeof(float) * n);
    memcpy(g, net->params.g, sizeof(float) * n);

    // expected: combine every shared layer, then one Adam step from zero moments
    ConalGradMix gm;
    conal_gradmix_init(&gm, mix, NULL, 1);
    const float *d[RL_NET_MAX_SHARED];
    size_t sizes[RL_NET_MAX_SHARED];
    float *out[RL_NET_MAX_SHARED];
    for (int s = 0; s < net->n_shared; s++) {
        d[s] = net->shared[s].d;
        sizes[s] = net->shared[s].n;
        out[s] = g + net->shared[s].offset;
    }
    double c[MAX_K];
    conal_gradmix_apply(&gm, K, net->n_shared, d, sizes, out, c);
    NnAdamConfig adam = nn_adam_defaults();
    adam.lr = 1e-2f;
    nn_adam_update(&adam, 1, w, g, m, v, n);

    // surgery changed the weights: some task pair conflicts on this batch
    int differs = 0;
    for (int k = 0; k < K; k++) {
        differs |= fabs(c[k] - 1.0) > 1e-6;
    }
    CHECK(differs);

    rl_net_update(net, &adam);
    CHECK_EQ_INT(1, net->adam_step);
    double max_err = 0.0;
    for (size_t i = 0; i < n; i++) {
        max_err = fmax(max_err, fabs((double)net->params.w[i] - (double)w[i]));
    }
    CHECK_MSG(max_err < 1e-6, "%s: weights differ from the expected step by %g",
              rl_method_names[method], max_err);
    free(w);
    free(g);
    free(m);
    free(v);
    rl_net_destroy(net);
}

static void test_pcgrad_update_matches(void) {
    check_update_matches(RL_METHOD_PCGRAD, CONAL_GRADMIX_PCGRAD, 2);
}

static void test_cagrad_update_matches(void) {
    check_update_matches(RL_METHOD_CAGRAD, CONAL_GRADMIX_CAGRAD, 3);
}

// A network restored from a checkpoint continues with the same PCGrad orders.
static void test_checkpoint_restores_orders(void) {
    char dir[512], path[600], err[512];
    check_tmpdir(dir, sizeof dir, "gradmix-net");
    snprintf(path, sizeof path, "%s/net.ckpt", dir);
    NnAdamConfig adam = nn_adam_defaults();

    // a takes two steps, is saved, then b is loaded from the checkpoint
    RlNet *a = small_net(RL_METHOD_PCGRAD, 4), *b = small_net(RL_METHOD_PCGRAD, 4);
    for (int step = 0; step < 2; step++) {
        forward_backward(a, 20 + (uint64_t)step);
        rl_net_update(a, &adam);
    }
    NnCkptWriter w;
    CHECK_EQ_INT(0, nn_ckpt_writer_open(&w, path, err, sizeof err));
    CHECK_EQ_INT(0, rl_net_save(a, &w, "actor", err, sizeof err));
    CHECK_EQ_INT(0, nn_ckpt_writer_commit(&w, err, sizeof err));
    NnCkpt ck;
    CHECK_EQ_INT(0, nn_ckpt_load(&ck, path, err, sizeof err));
    CHECK(nn_ckpt_find(&ck, "actor.mix_rng") != NULL);
    CHECK_EQ_INT(0, rl_net_load(b, &ck, "actor", err, sizeof err));
    nn_ckpt_unload(&ck);

    // the same batches now give bit-identical weights on both
    for (int step = 0; step < 3; step++) {
        forward_backward(a, 40 + (uint64_t)step);
        forward_backward(b, 40 + (uint64_t)step);
        rl_net_update(a, &adam);
        rl_net_update(b, &adam);
    }
    CHECK_EQ_INT(0, memcmp(a->params.w, b->params.w, sizeof(float) * a->params.n));
    rl_net_destroy(a);
    rl_net_destroy(b);
    check_rmtree(dir);
}

static jmp_buf fatal_jump;
static char fatal_message[512];

// Fatal handler that records the message and returns to the test.
static _Noreturn void catch_fatal(const char *message) {
    snprintf(fatal_message, sizeof fatal_message, "%s", message);
    longjmp(fatal_jump, 1);
}

// An update after only an input-gradient pass has no per-task gradients to
// combine, and stops with a message instead of using stale ones.
static void test_update_without_task_grads_fails(void) {
    RlNet *net = small_net(RL_METHOD_CAGRAD, 3);
    float x[3 * B * (N_IN + 3)], dy[3 * B * N_OUT], dx[3 * B * (N_IN + 3)];
    random_batch(net, 3, x, dy);
    rl_net_forward(net, x, B, RL_NET_ONLINE);
    net->input_grad_only = 1;
    rl_net_backward(net, dy, dx, B);
    net->input_grad_only = 0;

    NnAdamConfig adam = nn_adam_defaults();
    ErrFatalHandler old = err_set_fatal_handler(catch_fatal);
    fatal_message[0] = '\0';
    if (setjmp(fatal_jump) == 0) {
        rl_net_update(net, &adam);
    }
    err_set_fatal_handler(old);
    CHECK_STR_CONTAINS(fatal_message, "no backward filled the per-task gradients");
    CHECK_EQ_INT(0, net->adam_step);
    rl_net_destroy(net);
}

// The agent.cagrad keys reach the network spec.
static void test_cagrad_keys_reach_spec(void) {
    RlConfig cfg;
    rl_config_defaults(&cfg);
    char err[1024] = "";
    CHECK_EQ_INT(0, cfg_set(rl_config_schema(), &cfg, "agent.cagrad.c=0.5", err, sizeof err));
    CHECK_EQ_INT(0, cfg_set(rl_config_schema(), &cfg, "agent.cagrad.iters=7", err, sizeof err));
    CHECK_EQ_INT(0, cfg_set(rl_config_schema(), &cfg, "agent.cagrad.lr=3", err, sizeof err));
    CHECK(cfg_set(rl_config_schema(), &cfg, "agent.cagrad.lr=0", err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "agent.cagrad.lr");
    RlNetSpec spec;
    rl_sac_critic_spec(&cfg, 10, 39, 4, &spec);
    CHECK_EQ_INT(1, spec.has_cagrad);
    CHECK_NEAR(0.5, spec.cagrad.c, 0.0);
    CHECK_EQ_INT(7, spec.cagrad.n_iters);
    CHECK_NEAR(3.0, spec.cagrad.lr, 0.0);
}

// A SAC update with CAGrad at radius 0 is the plain MT-SAC update, because
// all its weights are 1. The agents start from the same weights, and after
// one update the gradients agree up to the rounding of c^T D against the
// row sum.
static void test_cagrad_radius_zero_is_mtsac(void) {
    enum { K = 3, BB = 8, OBS = 6, ACT = 2 };
    RlSac *agents[2];
    const char *methods[2] = {"mtsac", "cagrad"};
    int same_init = 1;
    for (int m = 0; m < 2; m++) {
        RlConfig cfg;
        rl_config_defaults(&cfg);
        snprintf(cfg.method, sizeof cfg.method, "%s", methods[m]);
        cfg.cagrad_c = 0.0;
        cfg.batch_size = BB;
        cfg.n_actor_hidden = cfg.n_critic_hidden = 2;
        cfg.actor_hidden[0] = cfg.actor_hidden[1] = 16;
        cfg.critic_hidden[0] = cfg.critic_hidden[1] = 16;
        RngState rng;
        rng_init(&rng, 5);
        char err[512];
        agents[m] = rl_sac_create(&cfg, K, OBS, ACT, &rng, 6, err, sizeof err);
        CHECK_MSG(agents[m] != NULL, "%s: %s", methods[m], err);
    }
    if (!agents[0] || !agents[1]) {
        return;
    }
    same_init &= memcmp(agents[0]->q2->params.w, agents[1]->q2->params.w,
                        sizeof(float) * agents[0]->q2->params.n) == 0;
    CHECK(same_init);

    RngState rng;
    rng_init(&rng, 17);
    float obs[K * BB * OBS], next_obs[K * BB * OBS], action[K * BB * ACT], reward[K * BB];
    float eps_next[K * BB * ACT], eps_pi[K * BB * ACT];
    for (int i = 0; i < K * BB * OBS; i++) {
        obs[i] = (float)rng_normal(&rng);
        next_obs[i] = (float)rng_normal(&rng);
    }
    for (int i = 0; i < K * BB * ACT; i++) {
        action[i] = (float)rng_range(&rng, -1.0, 1.0);
        eps_next[i] = (float)rng_normal(&rng);
        eps_pi[i] = (float)rng_normal(&rng);
    }
    for (int i = 0; i < K * BB; i++) {
        reward[i] = (float)rng_uniform(&rng);
    }
    RlBatch batch = {K, BB, obs, action, reward, next_obs};
    for (int m = 0; m < 2; m++) {
        rl_sac_update_with_noise(agents[m], &batch, eps_next, eps_pi, 0);
    }

    // the optimiser steps leave each network's last gradient in params.g
    RlNet *nets[2][3] = {{agents[0]->actor, agents[0]->q1, agents[0]->q2},
                         {agents[1]->actor, agents[1]->q1, agents[1]->q2}};
    for (int k = 0; k < 3; k++) {
        double max_diff = 0.0, max_g = 0.0;
        for (size_t i = 0; i < nets[0][k]->params.n; i++) {
            double a = (double)nets[0][k]->params.g[i], b = (double)nets[1][k]->params.g[i];
            max_diff = fmax(max_diff, fabs(a - b));
            max_g = fmax(max_g, fabs(a));
        }
        CHECK(max_g > 0.0);
        CHECK_MSG(max_diff <= 1e-4 * max_g, "network %d: gradients differ by %g of max %g", k,
                  max_diff, max_g);
    }
    rl_sac_destroy(agents[0]);
    rl_sac_destroy(agents[1]);
}

static void test_config_accepts_methods(void) {
    const char *names[2] = {"pcgrad", "cagrad"};
    for (int i = 0; i < 2; i++) {
        RlConfig cfg;
        rl_config_defaults(&cfg);
        snprintf(cfg.method, sizeof cfg.method, "%s", names[i]);
        cfg.steps = 100 * (long long)cfg.episode_length;
        char err[1024] = "";
        CHECK_EQ_INT(0, rl_config_check(&cfg, err, sizeof err));
        CHECK_MSG(err[0] == '\0', "%s: %s", names[i], err);
    }
}

int main(void) {
    RUN_TEST(test_same_outputs_as_mtsac);
    RUN_TEST(test_backward_fills_task_grads);
    RUN_TEST(test_pcgrad_update_matches);
    RUN_TEST(test_cagrad_update_matches);
    RUN_TEST(test_checkpoint_restores_orders);
    RUN_TEST(test_update_without_task_grads_fails);
    RUN_TEST(test_cagrad_keys_reach_spec);
    RUN_TEST(test_cagrad_radius_zero_is_mtsac);
    RUN_TEST(test_config_accepts_methods);
    return check_summary();
}
