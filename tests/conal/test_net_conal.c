// Tests of CoNAL networks behind the rl/net.h seam and of the SAC upper-level
// (architecture-weight) step.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "conal/arch.h"
#include "nn/checkpoint.h"
#include "rl/config.h"
#include "rl/net_conal.h"
#include "rl/sac.h"
#include "rl/sac_conal.h"
#include "tests/check.h"

enum { K = 3, B = 4, IN = 5, OUT = 2 };

static RlNetSpec small_spec(int with_target) {
    RlNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.method = RL_METHOD_CONAL;
    spec.n_tasks = K;
    spec.n_in = IN;
    spec.n_out = OUT;
    spec.n_hidden = 3;
    spec.hidden[0] = 6;
    spec.hidden[1] = 7;
    spec.hidden[2] = 6;
    spec.act = NN_ACT_TANH;
    spec.max_block = B;
    spec.with_target = with_target;
    return spec;
}

static void fill_normal(float *x, size_t n, RngState *rng) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)rng_normal(rng);
    }
}

static RlNet *make(const RlConalOptions *opt, uint64_t seed, int with_target) {
    RlNetSpec spec = small_spec(with_target);
    RngState rng;
    rng_init(&rng, seed);
    char err[256] = "";
    RlNet *net = rl_net_create_conal(&spec, opt, &rng, err, sizeof err);
    CHECK_MSG(net != NULL, "%s", err);
    return net;
}

// The retraining gradient is the supernet's gradient of w_t-weighted losses,
// with w drawn from the options' seed.
static void test_retrain_weights_scale_grads(void) {
    ConalArchNet arch;
    memset(&arch, 0, sizeof arch);
    snprintf(arch.name, sizeof arch.name, "actor");
    arch.n_tasks = K;
    arch.n_slots = 3;
    arch.specific = CONAL_PURELY_SPECIFIC;
    int widths[5] = {IN, 6, 7, 6, OUT};
    memcpy(arch.row_widths, widths, sizeof widths);
    arch.branch[0] = 4;
    arch.branch[1] = 2;
    arch.branch[2] = 3;
    RlConalOptions opt = rl_conal_options_defaults();
    opt.arch = &arch;
    opt.seed = 99;
    RlNet *net = make(&opt, 5, 0);

    // the same derived supernet, built directly
    RlNetSpec rs = small_spec(0);
    ConalNetSpec cs;
    memset(&cs, 0, sizeof cs);
    cs.n_tasks = K;
    cs.n_slots = 3;
    for (int q = 0; q < 3; q++) {
        cs.slots[q] = conal_dense_module(widths[q], widths[q + 1], NN_ACT_TANH);
    }
    cs.decoder = conal_dense_module(6, OUT, NN_ACT_NONE);
    cs.max_block = B;
    cs.derived = 1;
    memcpy(cs.branch, arch.branch, sizeof arch.branch);
    RngState rng;
    rng_init(&rng, 5);
    char err[256] = "";
    ConalNet *ref = conal_net_create(&cs, rs.with_target, &rng, err, sizeof err);
    CHECK_MSG(ref != NULL, "%s", err);
    CHECK_EQ_INT(ref->params.n, net->params.n);
    CHECK(memcmp(ref->params.w, net->params.w, ref->params.n * sizeof(float)) == 0);

    RngState wr;
    rng_init_stream(&wr, 99, 1);
    float w[K];
    conal_loss_weights_draw(&wr, K, w);
    rng_init(&rng, 8);
    float x[K * B * IN], dy[K * B * OUT], dys[K * B * OUT];
    fill_normal(x, sizeof x / sizeof x[0], &rng);
    fill_normal(dy, sizeof dy / sizeof dy[0], &rng);
    for (int i = 0; i < K * B * OUT; i++) {
        dys[i] = w[i / (B * OUT)] * dy[i];
    }
    nn_params_zero_grad(&net->params);
    rl_net_forward(net, x, B, RL_NET_ONLINE);
    rl_net_backward(net, dy, NULL, B);
    conal_net_zero_grad(ref);
    conal_net_forward(ref, x, B, 0);
    conal_net_backward(ref, dys, NULL, B, CONAL_GRAD_WEIGHTS);
    double worst = 0.0;
    for (size_t i = 0; i < ref->params.n; i++) {
        double e = fabs((double)ref->params.g[i] - (double)net->params.g[i]);
        worst = e > worst ? e : worst;
    }
    CHECK_NEAR(0.0, worst, 1e-7);
    conal_net_destroy(ref);
    rl_net_destroy(net);
}

// The estimate covers the supernet and exceeds its parameter block.
static void test_estimate_bytes(void) {
    RlNetSpec spec = small_spec(1);
    size_t est = rl_net_conal_estimate_bytes(&spec);
    RlConalOptions opt = rl_conal_options_defaults();
    RlNet *net = make(&opt, 3, 1);
    CHECK(est > 5 * sizeof(float) * net->params.n);
    spec.n_hidden = 0;
    CHECK_EQ_INT(0, rl_net_conal_estimate_bytes(&spec));
    rl_net_destroy(net);
}

// Search: every weight backward fills D; each update either steps a shared
// module or counts a stop.
static void test_search_updates_and_ratios(void) {
    RlConalOptions opt = rl_conal_options_defaults();
    RlNet *net = make(&opt, 7, 1);
    ConalNet *cn = rl_net_conal(net);
    CHECK(cn != NULL);
    CHECK_EQ_INT(3, net->n_shared);
    NnAdamConfig adam = nn_adam_defaults();
    RngState rng;
    rng_init(&rng, 9);
    float x[K * B * IN], dy[K * B * OUT];

    // twenty updates, each checked against the supernet's own report
    for (int it = 0; it < 20; it++) {
        fill_normal(x, sizeof x / sizeof x[0], &rng);
        fill_normal(dy, sizeof dy / sizeof dy[0], &rng);
        nn_params_zero_grad(&net->params);
        rl_net_forward(net, x, B, RL_NET_ONLINE);
        rl_net_backward(net, dy, NULL, B);
        for (int s = 0; s < net->n_shared; s++) {
            double r = rl_net_conflict_ratio(net, s);
            CHECK(r >= 0.0);
            CHECK(r <= 1.0);
        }
        rl_net_update(net, &adam);
        for (int s = 0; s < net->n_shared; s++) {
            CHECK_NEAR(rl_net_conflict_ratio(net, s), cn->last.conflict_ratio[s], 1e-6);
        }
    }
    for (int q = 0; q < 3; q++) {
        CHECK_EQ_INT(20, cn->step_shared[q] + cn->stop_count[q]);
    }
    CHECK_EQ_INT(20, net->adam_step);
    rl_net_destroy(net);
}

// A derived architecture for small_spec with branch points 4, 2 and 3.
static ConalArchNet small_arch(ConalSpecificKind kind) {
    ConalArchNet arch;
    memset(&arch, 0, sizeof arch);
    snprintf(arch.name, sizeof arch.name, "q1");
    arch.n_tasks = K;
    arch.n_slots = 3;
    arch.specific = kind;
    int widths[5] = {IN, 6, 7, 6, OUT};
    memcpy(arch.row_widths, widths, sizeof widths);
    arch.branch[0] = 4;
    arch.branch[1] = 2;
    arch.branch[2] = 3;
    return arch;
}

// One backward and update of net on x and dy; returns a copy of the weights.
static float *update_once(RlNet *net, const float *x, const float *dy) {
    NnAdamConfig adam = nn_adam_defaults();
    nn_params_zero_grad(&net->params);
    rl_net_forward(net, x, B, RL_NET_ONLINE);
    rl_net_backward(net, dy, NULL, B);
    rl_net_update(net, &adam);
    float *w = malloc(net->params.n * sizeof(float));
    memcpy(w, net->params.w, net->params.n * sizeof(float));
    return w;
}

// With gradient only from task 0, the other rows of D are zero, so PCGrad
// projects nothing and its update equals the plain sum's.
static void test_retrain_pcgrad_without_conflict(void) {
    ConalArchNet arch = small_arch(CONAL_PURELY_SPECIFIC);
    RlConalOptions opt = rl_conal_options_defaults();
    opt.arch = &arch;
    opt.random_loss_weights = 0;
    RlNet *plain = make(&opt, 61, 0);
    opt.gradmix = CONAL_GRADMIX_PCGRAD;
    RlNet *pcgrad = make(&opt, 61, 0);
    RngState rng;
    rng_init(&rng, 67);
    float x[K * B * IN], dy[K * B * OUT];
    fill_normal(x, sizeof x / sizeof x[0], &rng);
    memset(dy, 0, sizeof dy);
    fill_normal(dy, B * OUT, &rng);
    float *wa = update_once(plain, x, dy), *wb = update_once(pcgrad, x, dy);
    CHECK(memcmp(wa, wb, plain->params.n * sizeof(float)) == 0);
    free(wa);
    free(wb);
    rl_net_destroy(plain);
    rl_net_destroy(pcgrad);
}

// The partially-specific ablation builds, runs and updates behind the seam.
static void test_partially_specific_networks(void) {
    ConalArchNet arch = small_arch(CONAL_PARTIALLY_SPECIFIC);
    RlConalOptions opt = rl_conal_options_defaults();
    opt.specific = CONAL_PARTIALLY_SPECIFIC;
    opt.conflict_noticing = 0;
    RlNet *search = make(&opt, 71, 1);
    opt.arch = &arch;
    RlNet *derived = make(&opt, 71, 1);
    CHECK(derived->params.n < search->params.n);
    RngState rng;
    rng_init(&rng, 73);
    float x[K * B * IN], dy[K * B * OUT];
    fill_normal(x, sizeof x / sizeof x[0], &rng);
    fill_normal(dy, sizeof dy / sizeof dy[0], &rng);
    RlNet *nets[2] = {search, derived};
    for (int i = 0; i < 2; i++) {
        float *w0 = malloc(nets[i]->params.n * sizeof(float));
        memcpy(w0, nets[i]->params.w, nets[i]->params.n * sizeof(float));
        float *w1 = update_once(nets[i], x, dy);
        CHECK(memcmp(w0, w1, nets[i]->params.n * sizeof(float)) != 0);
        CHECK(nn_all_finite(w1, nets[i]->params.n));
        free(w0);
        free(w1);
    }
    // conflict noticing off: the search never skips a shared module's step
    ConalNet *cn = rl_net_conal(search);
    for (int q = 0; q < 3; q++) {
        CHECK_EQ_INT(0, cn->stop_count[q]);
    }
    rl_net_destroy(search);
    rl_net_destroy(derived);
}

// Checkpoints restore alpha, its moments and the counters.
static void test_checkpoint_round_trip(void) {
    char dir[512], path[600], err[512] = "";
    check_tmpdir(dir, sizeof dir, "netconal");
    snprintf(path, sizeof path, "%s/ck.bin", dir);
    RlConalOptions opt = rl_conal_options_defaults();
    RlNet *a = make(&opt, 11, 1), *b = make(&opt, 12, 1);
    ConalNet *ca = rl_net_conal(a), *cb = rl_net_conal(b);
    RngState rng;
    rng_init(&rng, 13);
    fill_normal(ca->alpha.w, ca->alpha.n, &rng);
    fill_normal(ca->alpha.m, ca->alpha.n, &rng);
    ca->stop_count[1] = 17;
    ca->step_shared[0] = 23;
    ca->step_alpha = 5;

    NnCkptWriter w;
    CHECK_EQ_INT(0, nn_ckpt_writer_open(&w, path, err, sizeof err));
    CHECK_EQ_INT(0, rl_net_save(a, &w, "actor", err, sizeof err));
    CHECK_EQ_INT(0, nn_ckpt_writer_commit(&w, err, sizeof err));
    NnCkpt ck;
    CHECK_EQ_INT(0, nn_ckpt_load(&ck, path, err, sizeof err));
    CHECK_EQ_INT(0, rl_net_load(b, &ck, "actor", err, sizeof err));
    nn_ckpt_unload(&ck);
    CHECK(memcmp(ca->alpha.w, cb->alpha.w, ca->alpha.n * sizeof(float)) == 0);
    CHECK(memcmp(ca->alpha.m, cb->alpha.m, ca->alpha.n * sizeof(float)) == 0);
    CHECK(memcmp(ca->params.w, cb->params.w, ca->params.n * sizeof(float)) == 0);
    CHECK_EQ_INT(17, cb->stop_count[1]);
    CHECK_EQ_INT(23, cb->step_shared[0]);
    CHECK_EQ_INT(5, cb->step_alpha);
    rl_net_destroy(a);
    rl_net_destroy(b);
    check_rmtree(dir);
}

// The SAC upper-level step moves alpha of all three networks and nothing else.
static void test_sac_arch_update(void) {
    enum { O = 4, A = 2, SB = 3 };
    RlConfig cfg;
    rl_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "mtsac");
    cfg.n_actor_hidden = cfg.n_critic_hidden = 3;
    for (int i = 0; i < 3; i++) {
        cfg.actor_hidden[i] = cfg.critic_hidden[i] = 8;
    }
    cfg.batch_size = SB;
    RngState rng;
    rng_init(&rng, 3);
    char err[512] = "";
    RlSac *s = rl_sac_create(&cfg, K, O, A, &rng, 4, err, sizeof err);
    CHECK_MSG(s != NULL, "%s", err);
    if (!s) {
        return;
    }

    // swap the MT-SAC networks for CoNAL search supernets of the same shapes
    RlConalOptions opt = rl_conal_options_defaults();
    RlNetSpec spec;
    RlNet **nets[3] = {&s->actor, &s->q1, &s->q2};
    for (int i = 0; i < 3; i++) {
        if (i == 0) {
            rl_sac_actor_spec(&cfg, K, O, A, &spec);
        } else {
            rl_sac_critic_spec(&cfg, K, O, A, &spec);
        }
        spec.method = RL_METHOD_CONAL;
        rl_net_destroy(*nets[i]);
        *nets[i] = rl_net_create_conal(&spec, &opt, &rng, err, sizeof err);
        CHECK_MSG(*nets[i] != NULL, "%s", err);
    }

    float obs[K * SB * O], act[K * SB * A], rew[K * SB], next[K * SB * O];
    fill_normal(obs, sizeof obs / sizeof obs[0], &rng);
    fill_normal(next, sizeof next / sizeof next[0], &rng);
    fill_normal(rew, sizeof rew / sizeof rew[0], &rng);
    for (int i = 0; i < K * SB * A; i++) {
        act[i] = tanhf((float)rng_normal(&rng));
    }
    RlBatch val = {K, SB, obs, act, rew, next};
    float *w0[3];
    for (int i = 0; i < 3; i++) {
        const RlNet *n = *nets[i];
        w0[i] = malloc(n->params.n * sizeof(float));
        memcpy(w0[i], n->params.w, n->params.n * sizeof(float));
    }
    float temp0 = s->log_temp[0];
    NnAdamConfig adam = nn_adam_defaults();
    rl_sac_conal_arch_update(s, &val, &adam);
    for (int i = 0; i < 3; i++) {
        ConalNet *cn = rl_net_conal(*nets[i]);
        double moved = 0.0;
        for (size_t j = 0; j < cn->alpha.n; j++) {
            moved += fabs((double)cn->alpha.w[j]);
        }
        CHECK_MSG(moved > 0.0, "network %d: alpha did not move", i);
        CHECK_EQ_INT(1, cn->step_alpha);
        CHECK(memcmp(w0[i], cn->params.w, cn->params.n * sizeof(float)) == 0);
        free(w0[i]);
    }
    CHECK(s->log_temp[0] == temp0);

    // the weight update still runs on the swapped networks
    rl_sac_update(s, &val, 1);
    CHECK(nn_all_finite(s->q1->params.w, s->q1->params.n));
    rl_sac_destroy(s);
}

int main(void) {
    RUN_TEST(test_retrain_weights_scale_grads);
    RUN_TEST(test_search_updates_and_ratios);
    RUN_TEST(test_estimate_bytes);
    RUN_TEST(test_retrain_pcgrad_without_conflict);
    RUN_TEST(test_partially_specific_networks);
    RUN_TEST(test_checkpoint_round_trip);
    RUN_TEST(test_sac_arch_update);
    return check_summary();
}
