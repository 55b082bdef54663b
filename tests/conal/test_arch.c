// Tests of deriving, pruning, arch.json and retraining loss weights.
#include <malloc.h>
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "common/fileio.h"
#include "conal/arch.h"
#include "tests/check.h"

// Slots 4 -> 5 -> 6 -> 5 (tanh), decoder 5 -> 2, three tasks: P = 4.
// Module sizes (O*I + O): slot 1 = 25, slot 2 = 36, slot 3 = 35, decoder = 12.
static ConalNetSpec small_spec(ConalSpecificKind kind, const int *branch) {
    static const int widths[] = {4, 5, 6, 5};
    ConalNetSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.n_tasks = 3;
    spec.n_slots = 3;
    for (int q = 0; q < 3; q++) {
        spec.slots[q] = conal_dense_module(widths[q], widths[q + 1], NN_ACT_TANH);
    }
    spec.decoder = conal_dense_module(5, 2, NN_ACT_NONE);
    spec.specific = kind;
    spec.max_block = 2;
    if (branch) {
        spec.derived = 1;
        memcpy(spec.branch, branch, 3 * sizeof(int));
    }
    return spec;
}

static size_t count(ConalSpecificKind kind, int b0, int b1, int b2) {
    int branch[3] = {b0, b1, b2};
    ConalNetSpec spec = small_spec(kind, b0 ? branch : NULL);
    return conal_spec_count_params(&spec);
}

static void test_param_counts_pure(void) {
    // shared 96 + three tasks of 96 specific + 12 decoder
    CHECK_EQ_INT(420, count(CONAL_PURELY_SPECIFIC, 0, 0, 0));
    // shared 96; task 0 decoder 12; task 1 slots 2-3 + 12 = 83; task 2 all = 108
    CHECK_EQ_INT(299, count(CONAL_PURELY_SPECIFIC, 4, 2, 1));
    // separate networks: no shared module survives
    CHECK_EQ_INT(324, count(CONAL_PURELY_SPECIFIC, 1, 1, 1));
    // hard sharing: shared 96 and three decoders
    CHECK_EQ_INT(132, count(CONAL_PURELY_SPECIFIC, 4, 4, 4));
}

static void test_param_counts_partial(void) {
    // shared 96; chains p=1: 96, p=2: 71, p=3: 35; decoders 36
    CHECK_EQ_INT(334, count(CONAL_PARTIALLY_SPECIFIC, 0, 0, 0));
    // shared slots 1-2 (61); chains p=2 (71) and p=3 (35); decoders 36
    CHECK_EQ_INT(203, count(CONAL_PARTIALLY_SPECIFIC, 3, 2, 3));
}

// The created network's block matches the count.
static void test_created_net_matches_count(void) {
    int branch[3] = {4, 2, 1};
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, branch);
    RngState rng;
    rng_init(&rng, 1);
    char err[256] = "";
    ConalNet *net = conal_net_create(&spec, 0, &rng, err, sizeof err);
    CHECK_MSG(net != NULL, "%s", err);
    CHECK_EQ_INT(299, net->params.n);
    CHECK_EQ_INT(0, net->alpha.n);
    conal_net_destroy(net);
}

// The estimate matches what conal_net_create allocates, measured with
// mallinfo2 (small layout tables aside). ASan replaces malloc and its
// mallinfo2 reports nothing, so the comparison runs in the Release build.
static void test_estimate_bytes_matches_allocation(void) {
    ConalNetSpec search = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    search.max_block = 64;
    int branch[3] = {4, 2, 1};
    ConalNetSpec derived = small_spec(CONAL_PURELY_SPECIFIC, branch);
    derived.max_block = 64;
    const ConalNetSpec *specs[2] = {&search, &derived};
    for (int i = 0; i < 2; i++) {
        for (int with_target = 0; with_target < 2; with_target++) {
            size_t est = conal_spec_estimate_bytes(specs[i], with_target);
            CHECK(est > 4 * sizeof(float) * conal_spec_count_params(specs[i]));
#ifndef __SANITIZE_ADDRESS__
            RngState rng;
            rng_init(&rng, 1);
            char err[256];
            struct mallinfo2 before = mallinfo2();
            ConalNet *net = conal_net_create(specs[i], with_target, &rng, err, sizeof err);
            struct mallinfo2 after = mallinfo2();
            double used = (double)(after.uordblks + after.hblkhd) -
                          (double)(before.uordblks + before.hblkhd);
            // layout tables and struct headers add a few KB at most
            CHECK_MSG(used >= (double)est && used <= (double)est + 16384.0,
                      "spec %d target %d: allocated %.0f bytes, estimate %zu", i,
                      with_target, used, est);
            conal_net_destroy(net);
#endif
        }
    }
}

static void test_derive_argmax_and_ties(void) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    RngState rng;
    rng_init(&rng, 2);
    char err[256] = "";
    ConalNet *net = conal_net_create(&spec, 0, &rng, err, sizeof err);
    CHECK_MSG(net != NULL, "%s", err);

    // task 0 keeps equal alpha (tie: most sharing), task 1 prefers 2, task 2 prefers 1
    net->alpha.w[4 + 1] = 1.0f;
    net->alpha.w[8 + 0] = 0.5f;
    net->alpha.w[8 + 3] = 0.25f;
    ConalArchNet arch;
    conal_arch_derive(net, "actor", &arch);
    CHECK_EQ_INT(4, arch.branch[0]);
    CHECK_EQ_INT(2, arch.branch[1]);
    CHECK_EQ_INT(1, arch.branch[2]);
    CHECK_EQ_INT(420, arch.params_supernet);
    CHECK_EQ_INT(299, arch.params_derived);
    CHECK_NEAR(0.25, arch.branch_weights[0][2], 1e-6);
    CHECK(strcmp(arch.name, "actor") == 0);

    // deriving from the alpha block alone gives the same architecture
    ConalArchNet from_alpha;
    conal_arch_from_alpha(&spec, net->alpha.w, "actor", &from_alpha);
    CHECK(memcmp(from_alpha.branch, arch.branch, sizeof arch.branch) == 0);
    CHECK_NEAR(arch.branch_weights[2][0], from_alpha.branch_weights[2][0], 1e-7);
    CHECK_EQ_INT(arch.params_derived, from_alpha.params_derived);

    // the derived spec builds a network of the derived size
    ConalNetSpec derived;
    CHECK_EQ_INT(0, conal_arch_apply(&arch, &spec, &derived, err, sizeof err));
    CHECK_EQ_INT(1, derived.derived);
    CHECK_EQ_INT(299, conal_spec_count_params(&derived));
    conal_net_destroy(net);
}

static void test_arch_json_round_trip(void) {
    char dir[512], path[600], err[512] = "";
    check_tmpdir(dir, sizeof dir, "arch");
    snprintf(path, sizeof path, "%s/arch.json", dir);
    ConalNetSpec spec = small_spec(CONAL_PARTIALLY_SPECIFIC, NULL);
    RngState rng;
    rng_init(&rng, 3);
    ConalNet *net = conal_net_create(&spec, 0, &rng, err, sizeof err);
    net->alpha.w[2] = 2.0f;
    ConalArch arch = {0};
    arch.n_nets = 2;
    conal_arch_derive(net, "critic1", &arch.nets[0]);
    conal_arch_derive(net, "critic2", &arch.nets[1]);
    CHECK_EQ_INT(0, conal_arch_save(&arch, path, err, sizeof err));

    ConalArch back;
    CHECK_EQ_INT(0, conal_arch_load(&back, path, err, sizeof err));
    CHECK_EQ_INT(2, back.n_nets);
    const ConalArchNet *c2 = conal_arch_find(&back, "critic2");
    CHECK(c2 != NULL);
    CHECK(conal_arch_find(&back, "actor") == NULL);
    CHECK_EQ_INT(3, c2->branch[0]);
    CHECK_EQ_INT(4, c2->branch[1]);
    CHECK_EQ_INT(CONAL_PARTIALLY_SPECIFIC, c2->specific);
    CHECK_EQ_INT(arch.nets[1].params_derived, c2->params_derived);
    CHECK_NEAR(arch.nets[1].branch_weights[0][2], c2->branch_weights[0][2], 1e-6);
    CHECK(memcmp(arch.nets[1].row_widths, c2->row_widths, sizeof c2->row_widths) == 0);
    conal_net_destroy(net);
    check_rmtree(dir);
}

// Writes text to dir/name and returns conal_arch_load's status and message.
static int load_text(const char *dir, const char *text, char *err, size_t err_sz) {
    char path[600];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    if (file_write_atomic(path, text, strlen(text), err, err_sz) != 0) {
        return 99;
    }
    ConalArch arch;
    return conal_arch_load(&arch, path, err, err_sz);
}

static void test_arch_load_errors(void) {
    char dir[512], err[1200];
    check_tmpdir(dir, sizeof dir, "arch-bad");
    CHECK_EQ_INT(ERR_FORMAT, load_text(dir, "{", err, sizeof err));
    CHECK_STR_CONTAINS(err, "not valid JSON");
    CHECK_EQ_INT(ERR_FORMAT, load_text(dir, "{\"format\":\"x\"}", err, sizeof err));
    CHECK_STR_CONTAINS(err, "format must be \"conal-arch\"");
    const char *bad_branch =
        "{\"format\":\"conal-arch\",\"version\":1,\"networks\":[{\"name\":\"actor\","
        "\"n_tasks\":2,\"n_slots\":3,\"specific\":\"purely\",\"row_widths\":[4,5,6,5,2],"
        "\"branch_point\":[4,5]}]}";
    CHECK_EQ_INT(ERR_FORMAT, load_text(dir, bad_branch, err, sizeof err));
    CHECK_STR_CONTAINS(err, "networks[0]: branch_point[1] must be an integer in [1, 4]");
    char path[600];
    snprintf(path, sizeof path, "%s/missing.json", dir);
    ConalArch arch;
    CHECK_EQ_INT(ERR_IO, conal_arch_load(&arch, path, err, sizeof err));
    check_rmtree(dir);
}

static void test_arch_apply_mismatch(void) {
    ConalNetSpec spec = small_spec(CONAL_PURELY_SPECIFIC, NULL);
    RngState rng;
    rng_init(&rng, 4);
    char err[256] = "";
    ConalNet *net = conal_net_create(&spec, 0, &rng, err, sizeof err);
    ConalArchNet arch;
    conal_arch_derive(net, "actor", &arch);
    ConalNetSpec other = spec, derived;
    other.slots[2] = conal_dense_module(6, 7, NN_ACT_TANH);
    other.decoder = conal_dense_module(7, 2, NN_ACT_NONE);
    CHECK_EQ_INT(ERR_MISMATCH, conal_arch_apply(&arch, &other, &derived, err, sizeof err));
    CHECK_STR_CONTAINS(err, "row_widths[3] = 5, network has 7");
    other = spec;
    other.specific = CONAL_PARTIALLY_SPECIFIC;
    CHECK_EQ_INT(ERR_MISMATCH, conal_arch_apply(&arch, &other, &derived, err, sizeof err));
    CHECK_STR_CONTAINS(err, "specific");
    conal_net_destroy(net);
}

static void test_loss_weights_normalised(void) {
    enum { K = 10, N = 4000 };
    RngState rng;
    rng_init(&rng, 77);
    double mean[K] = {0}, var0 = 0.0;
    int all_in_range = 1, all_sum_one = 1;
    for (int i = 0; i < N; i++) {
        float w[K];
        conal_loss_weights_draw(&rng, K, w);
        double s = 0.0;
        for (int t = 0; t < K; t++) {
            all_in_range &= w[t] >= 0.0f && w[t] <= 1.0f;
            s += (double)w[t];
            mean[t] += (double)w[t] / N;
        }
        all_sum_one &= fabs(s - 1.0) < 1e-5;
        var0 += (double)(w[0] - 0.1f) * (double)(w[0] - 0.1f) / N;
    }
    CHECK(all_in_range);
    CHECK(all_sum_one);
    // by symmetry each task's mean weight is 1/K; 4000 draws give about +-0.001
    for (int t = 0; t < K; t++) {
        CHECK_NEAR(0.1, mean[t], 0.005);
    }
    // the weights vary from draw to draw (fixed equal weights would give 0)
    CHECK(var0 > 1e-3);
}

static void test_loss_weights_reproducible(void) {
    RngState a, b;
    rng_init(&a, 5);
    rng_init(&b, 5);
    float wa[10], wb[10], wc[10];
    conal_loss_weights_draw(&a, 10, wa);
    conal_loss_weights_draw(&b, 10, wb);
    CHECK(memcmp(wa, wb, sizeof wa) == 0);
    conal_loss_weights_draw(&a, 10, wc);
    CHECK(memcmp(wa, wc, sizeof wa) != 0);
}

int main(void) {
    RUN_TEST(test_param_counts_pure);
    RUN_TEST(test_param_counts_partial);
    RUN_TEST(test_created_net_matches_count);
    RUN_TEST(test_estimate_bytes_matches_allocation);
    RUN_TEST(test_derive_argmax_and_ties);
    RUN_TEST(test_arch_json_round_trip);
    RUN_TEST(test_arch_load_errors);
    RUN_TEST(test_arch_apply_mismatch);
    RUN_TEST(test_loss_weights_normalised);
    RUN_TEST(test_loss_weights_reproducible);
    return check_summary();
}
