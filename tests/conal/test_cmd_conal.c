// Tests of `conal arch`, run through the built binary (`conal conflicts` is
// tested in tests/cli/test_conflicts.c).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "conal/arch.h"
#include "nn/checkpoint.h"
#include "tests/check.h"

static char tmp[512];

// Runs `conal ARGS` with stdout and stderr in out; returns the exit status.
static int run_conal(const char *args, char *out, size_t out_sz) {
    char cmd[2048], log[700];
    snprintf(log, sizeof log, "%s/out.txt", tmp);
    snprintf(cmd, sizeof cmd, "%s/conal %s > '%s' 2>&1", CONAL_BINARY_DIR, args, log);
    int status = system(cmd);
    char *text = NULL;
    size_t n = 0;
    char err[256];
    out[0] = '\0';
    if (file_read_all(log, &text, &n, err, sizeof err) == 0) {
        snprintf(out, out_sz, "%s", text);
        free(text);
    }
    return status;
}

// Writes a run directory with an arch.json of one 10-task actor.
static void write_arch_run(const char *dir) {
    ConalNetSpec s;
    memset(&s, 0, sizeof s);
    s.n_tasks = 10;
    s.n_slots = 3;
    s.slots[0] = conal_dense_module(39, 400, NN_ACT_RELU);
    s.slots[1] = conal_dense_module(400, 400, NN_ACT_RELU);
    s.slots[2] = conal_dense_module(400, 400, NN_ACT_RELU);
    s.decoder = conal_dense_module(400, 8, NN_ACT_NONE);
    s.max_block = 1;
    float alpha[40] = {0};
    alpha[4 + 1] = 1.0f;   // push-v3 branches at 2
    alpha[12 + 0] = 1.0f;  // door-open-v3 branches at 1
    ConalArch a;
    memset(&a, 0, sizeof a);
    a.n_nets = 1;
    conal_arch_from_alpha(&s, alpha, "actor", &a.nets[0]);
    char path[700], err[256];
    snprintf(path, sizeof path, "%s/arch.json", dir);
    mkdir(dir, 0755);
    CHECK_EQ_INT(0, conal_arch_save(&a, path, err, sizeof err));
}

static void test_arch_prints_table(void) {
    char dir[600], args[700], out[8192];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    write_arch_run(dir);
    snprintf(args, sizeof args, "arch '%s'", dir);
    CHECK_EQ_INT(0, run_conal(args, out, sizeof out));
    CHECK_STR_CONTAINS(out, "derived architecture");
    CHECK_STR_CONTAINS(out, "actor: 10 tasks, 3 module slots, purely-specific modules");
    // shared 16000 + 2 * 160400 = 336800, decoders 10 * 3208; supernet adds
    // 10 * 336800 specific; derived adds push-v3's 320800 and door-open's 336800
    CHECK_STR_CONTAINS(out, "parameters: supernet 3736880, derived 1026480");
    CHECK_STR_CONTAINS(out, "push-v3                  S      own    own    | 2");
    CHECK_STR_CONTAINS(out, "door-open-v3             own    own    own    | 1");
    CHECK_STR_CONTAINS(out, "reach-v3                 S      S      S      | 4");
}

// A run still searching: config.json and checkpoint.bin with each network's
// alpha (10 tasks, two hidden layers, so P = 3).
static void test_arch_from_checkpoint(void) {
    char dir[600], path[700], args[700], out[8192], err[512];
    snprintf(dir, sizeof dir, "%s/search", tmp);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *cfg = "{\"agent\": {\"method\": \"conal\", \"actor\": {\"hidden\": [8, 8]}, "
                      "\"critic\": {\"hidden\": [8, 8]}}}\n";
    CHECK_EQ_INT(0, file_write_atomic(path, cfg, strlen(cfg), err, sizeof err));
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    NnCkptWriter w;
    CHECK_EQ_INT(0, nn_ckpt_writer_open(&w, path, err, sizeof err));
    const char *names[3] = {"actor.alpha", "q1.alpha", "q2.alpha"};
    for (int i = 0; i < 3; i++) {
        float alpha[30] = {0};
        alpha[3 * 2 + 0] = (float)(i + 1);   // pick-place-v3 prefers branch point 1
        CHECK_EQ_INT(0, nn_ckpt_write(&w, names[i], alpha, sizeof alpha, err, sizeof err));
    }
    CHECK_EQ_INT(0, nn_ckpt_writer_commit(&w, err, sizeof err));
    snprintf(args, sizeof args, "arch '%s'", dir);
    CHECK_EQ_INT(0, run_conal(args, out, sizeof out));
    CHECK_STR_CONTAINS(out, "current search architecture");
    CHECK_STR_CONTAINS(out, "q2: 10 tasks, 2 module slots");
    CHECK_STR_CONTAINS(out, "pick-place-v3            own    own    | 1");
    CHECK_STR_CONTAINS(out, "push-v3                  S      S      | 3");
}

static void test_arch_errors(void) {
    char args[700], out[4096];
    snprintf(args, sizeof args, "arch '%s/missing'", tmp);
    CHECK(run_conal(args, out, sizeof out) != 0);
    CHECK_STR_CONTAINS(out, "has neither arch.json nor checkpoint.bin");
    CHECK(run_conal("arch", out, sizeof out) != 0);
    CHECK_STR_CONTAINS(out, "usage: conal arch RUN_DIR");
}

int main(void) {
    struct stat st;
    if (stat(CONAL_BINARY_DIR "/conal", &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "test_cmd_conal: %s/conal is missing; build the conal_cli target\n",
                CONAL_BINARY_DIR);
        return 1;
    }
    check_tmpdir(tmp, sizeof tmp, "cmdconal");
    RUN_TEST(test_arch_prints_table);
    RUN_TEST(test_arch_from_checkpoint);
    RUN_TEST(test_arch_errors);
    check_rmtree(tmp);
    return check_summary();
}
