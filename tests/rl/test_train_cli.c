// `conal train`, `conal eval` and `conal config` run as a user runs them.
//
// Each test runs the built binary in a private temporary directory on a tiny
// config (20-step episodes, two hidden layers of 16) and checks exit codes,
// error messages and the run directory. Resume and interrupt tests compare
// the files of an interrupted run with those of an uninterrupted one.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "tests/check.h"
#include "tests/rl/cli_run.h"


static const char tiny_config[] =
    "{\n"
    "  \"seed\": 5,\n"
    "  \"env\": {\"episode_length\": 20},\n"
    "  \"agent\": {\"method\": \"mtsac\", \"actor\": {\"hidden\": [16, 16]},\n"
    "            \"critic\": {\"hidden\": [16, 16]}},\n"
    "  \"train\": {\"steps\": 120, \"batch_size\": 8, \"random_steps\": 40,\n"
    "            \"replay_capacity\": 500, \"log_interval\": 20, \"eval_interval\": 60,\n"
    "            \"eval_episodes\": 1, \"checkpoint_interval\": 40}\n"
    "}\n";

// metrics.jsonl of a run with the timing fields cut off each line.
static char *metrics_without_timing(const char *dir) {
    char name[600];
    snprintf(name, sizeof name, "%s/metrics.jsonl", dir);
    char *text = read_file(name);
    char *w = text;
    for (char *r = text; *r;) {
        char *cut = strstr(r, ",\"steps_per_s\"");
        char *eol = strchr(r, '\n');
        size_t keep = cut && (!eol || cut < eol) ? (size_t)(cut - r)
                                                 : (eol ? (size_t)(eol - r) : strlen(r));
        memmove(w, r, keep);
        w += keep;
        if (!eol) {
            break;
        }
        *w++ = '\n';
        r = eol + 1;
    }
    *w = '\0';
    return text;
}

// 1 when tmp/a and tmp/b have the same bytes.
static int same_file(const char *a, const char *b) {
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cmp -s '%s/%s' '%s/%s'", tmp, a, tmp, b);
    return system(cmd) == 0;
}

// Checks that runs a and b produced the same records and final state.
static void check_same_run(const char *a, const char *b) {
    char *ma = metrics_without_timing(a), *mb = metrics_without_timing(b);
    CHECK(ma[0] != '\0');
    CHECK_MSG(strcmp(ma, mb) == 0, "metrics of %s and %s differ", a, b);
    free(ma);
    free(mb);
    char fa[600], fb[600];
    snprintf(fa, sizeof fa, "%s/eval.jsonl", a);
    snprintf(fb, sizeof fb, "%s/eval.jsonl", b);
    CHECK_MSG(same_file(fa, fb), "%s differs from %s", fa, fb);
    snprintf(fa, sizeof fa, "%s/checkpoint.bin", a);
    snprintf(fb, sizeof fb, "%s/checkpoint.bin", b);
    CHECK_MSG(same_file(fa, fb), "%s differs from %s", fa, fb);
}

// A finished run writes every file of the run directory.
static void test_run_directory(void) {
    CHECK_EQ_INT(0, run("train tiny.json --out r1 --threads 1"));
    const char *files[] = {"config.json", "metrics.jsonl", "eval.jsonl", "checkpoint.bin",
                           "best.bin", "summary.json"};
    for (int i = 0; i < 6; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/r1/%s", tmp, files[i]);
        CHECK_MSG(file_exists(path), "missing %s", path);
    }
    CHECK_STR_CONTAINS(out_text, "reach-v3");          // the final table
    CHECK_STR_CONTAINS(out_text, "MuJoCo 2.2.2");      // start-of-run record
    char *ev = read_file("r1/eval.jsonl");
    CHECK_STR_CONTAINS(ev, "{\"step\":60,");
    CHECK_STR_CONTAINS(ev, "{\"step\":120,");          // every run evaluates at its end
    CHECK_STR_CONTAINS(ev, "\"mean_success\":");
    free(ev);
    char *m = read_file("r1/metrics.jsonl");
    CHECK_STR_CONTAINS(m, "\"conflict_ratio\":{\"actor\":{\"hidden0\":");
    CHECK_STR_CONTAINS(m, "\"q1\":{\"hidden0\":");
    CHECK_STR_CONTAINS(m, "\"temp\":[");
    free(m);
}

// Number after "key": in a JSON line, or NAN when the key is missing.
static double json_number(const char *line, const char *key) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(line, pattern);
    return p ? strtod(p + strlen(pattern), NULL) : (double)NAN;
}

// metrics.jsonl reports wall-clock steps per second over each interval,
// evaluations included, next to the env-only rate and the time breakdown.
static void test_metrics_wall_throughput(void) {
    // an evaluation after every record, costing 4 episodes of 20 steps
    CHECK_EQ_INT(0, run("train tiny.json --out t1 --threads 1 --steps 80 "
                        "--set train.eval_interval=20 --set train.eval_episodes=4"));
    CHECK_STR_CONTAINS(out_text, " sps=");
    CHECK_STR_CONTAINS(out_text, " eval=");
    char *m = read_file("t1/metrics.jsonl");
    int n = 0;
    double prev_updates = 0.0;
    for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n"), n++) {
        double sps = json_number(line, "steps_per_s");
        double ups = json_number(line, "updates_per_s");
        double wall = json_number(line, "interval_s");
        double env = json_number(line, "env_s"), update = json_number(line, "update_s");
        double eval = json_number(line, "eval_s");
        double env_only = json_number(line, "env_only_steps_per_s");
        double updates = json_number(line, "updates");
        CHECK_MSG(sps > 0.0, "record %d: steps_per_s %g", n, sps);
        CHECK_MSG(env_only > 0.0, "record %d: env_only_steps_per_s %g", n, env_only);
        CHECK_NEAR(20.0, sps * wall, 1e-6);
        CHECK_NEAR(updates - prev_updates, ups * wall, 1e-6);
        CHECK_NEAR(20.0, env_only * env, 1e-6);
        CHECK_MSG(wall >= env + update + eval - 1e-9,
                  "record %d: interval %g s shorter than its parts %g + %g + %g s", n, wall,
                  env, update, eval);
        if (n > 0) {
            // the evaluation after the previous record belongs to this interval
            CHECK_MSG(eval > 0.0, "record %d: eval_s %g", n, eval);
            CHECK_MSG(sps < env_only, "record %d: steps_per_s %g not below env-only %g", n,
                      sps, env_only);
        }
        prev_updates = updates;
    }
    CHECK_EQ_INT(4, n);
    free(m);
}

// Tiny CoNAL run: a 40-step search, then 40 steps of retraining.
static const char tiny_conal_config[] =
    "{\"seed\": 3, \"env\": {\"episode_length\": 20},\n"
    " \"agent\": {\"method\": \"conal\", \"actor\": {\"hidden\": [16, 16]},\n"
    "           \"critic\": {\"hidden\": [16, 16]}},\n"
    " \"search\": {\"steps\": 40}, \"retrain\": {\"steps\": 40},\n"
    " \"train\": {\"steps\": 80, \"batch_size\": 8, \"random_steps\": 20,\n"
    "            \"replay_capacity\": 100, \"log_interval\": 20, \"eval_interval\": 0,\n"
    "            \"eval_episodes\": 1, \"checkpoint_interval\": 0}}\n";

// The number after "key": in the object that follows "name": "net" in text.
static double net_number(const char *text, const char *net, const char *key) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "\"name\":\t\"%s\"", net);
    const char *p = strstr(text, pattern);
    return p ? json_number(p, key) : (double)NAN;
}

// Checks that `conal compare DIR` prints n_params in its params column.
static void check_compare_params(const char *dir, long long n_params) {
    char args[700], expected[64];
    snprintf(args, sizeof args, "compare %s", dir);
    CHECK_EQ_INT(0, run(args));
    snprintf(expected, sizeof expected, "  %lld\n", n_params);
    CHECK_MSG(strstr(out_text, expected) != NULL, "conal compare %s: no params %lld in %s", dir,
              n_params, out_text);
}

// summary.json has the parameter counts per network, `conal compare` prints
// them, and computes them from the config for runs without them.
static void test_param_counts_in_summary(void) {
    // r1: MT-SAC, two hidden layers of 16, the task one-hot on the inputs:
    // actor 39 + 10 -> 16 -> 16 -> 8, critics 39 + 4 + 10 -> 16 -> 16 -> 1
    long long actor = 49 * 16 + 16 + 16 * 16 + 16 + 16 * 8 + 8;
    long long critic = 53 * 16 + 16 + 16 * 16 + 16 + 16 + 1;
    char *summary = read_file("r1/summary.json");
    CHECK_NEAR((double)(actor + 2 * critic), json_number(summary, "n_params"), 0.0);
    CHECK_NEAR((double)actor, json_number(summary, "actor"), 0.0);
    CHECK_NEAR((double)critic, json_number(summary, "q1"), 0.0);
    CHECK_NEAR((double)critic, json_number(summary, "q2"), 0.0);
    free(summary);
    check_compare_params("r1", actor + 2 * critic);

    // a run whose summary.json predates n_params
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp -r '%s/r1' '%s/p1'", tmp, tmp);
    CHECK_EQ_INT(0, system(cmd));
    write_file("p1/summary.json", "{\"steps\": 120, \"wall_seconds\": 1}\n");
    check_compare_params("p1", actor + 2 * critic);

    // CoNAL: the derived networks that were retrained, as arch.json counts them
    write_file("conal.json", tiny_conal_config);
    CHECK_EQ_INT(0, run("train conal.json --out c1 --threads 1 --quiet"));
    char *arch = read_file("c1/arch.json");
    summary = read_file("c1/summary.json");
    double derived = 0.0, supernet = 0.0;
    static const char *const nets[3] = {"actor", "q1", "q2"};
    for (int i = 0; i < 3; i++) {
        double n = net_number(arch, nets[i], "params_derived");
        CHECK_NEAR(n, json_number(strstr(summary, "n_params_by_network"), nets[i]), 0.0);
        derived += n;
        supernet += net_number(arch, nets[i], "params_supernet");
    }
    CHECK(derived > 0.0);
    CHECK(derived < supernet);
    CHECK_NEAR(derived, json_number(summary, "n_params"), 0.0);
    check_compare_params("c1", (long long)derived);
    write_file("c1/summary.json", "{\"steps\": 80, \"wall_seconds\": 1}\n");
    check_compare_params("c1", (long long)derived);

    // without arch.json (a search that did not finish) the supernets count
    char path[700];
    snprintf(path, sizeof path, "%s/c1/arch.json", tmp);
    CHECK_EQ_INT(0, remove(path));
    check_compare_params("c1", (long long)supernet);
    free(arch);
    free(summary);
}

// Records logged before the first update (random_steps is 40) have null
// conflict ratios; later records average the ratios of 2 of their 20
// updates (train.conflict_interval is 10 by default).
static void test_conflict_null_without_updates(void) {
    char *m = read_file("r1/metrics.jsonl");
    int n = 0;
    for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n"), n++) {
        int before_updates = json_number(line, "step") <= 40.0;
        int has_null = strstr(line, "\"hidden0\":null") != NULL;
        CHECK_MSG(has_null == before_updates, "record %d: %.200s", n, line);
        double measured = json_number(line, "conflict_updates");
        CHECK_MSG(measured == (before_updates ? 0.0 : 2.0), "record %d: %.200s", n, line);
        if (before_updates) {
            CHECK_MSG(json_number(line, "updates") == 0.0, "record %d: %.200s", n, line);
        }
    }
    CHECK_EQ_INT(6, n);
    free(m);
}

// Measuring conflicts on every update instead of every tenth changes the
// records' conflict fields and nothing else: evaluations and the final
// checkpoint are the same bytes.
static void test_conflict_interval_leaves_run(void) {
    CHECK_EQ_INT(0, run("train tiny.json --out r1c --threads 1 --quiet "
                        "--set train.conflict_interval=1"));
    char *m = read_file("r1c/metrics.jsonl");
    char *last = strrchr(m, '{');
    CHECK(last != NULL);
    CHECK_NEAR(20.0, json_number(last, "conflict_updates"), 0.0);
    free(m);
    CHECK(same_file("r1/eval.jsonl", "r1c/eval.jsonl"));
    CHECK(same_file("r1/checkpoint.bin", "r1c/checkpoint.bin"));
}

// Two runs with the same seed are identical.
static void test_same_seed_same_run(void) {
    CHECK_EQ_INT(0, run("train tiny.json --out r2 --threads 1 --quiet"));
    check_same_run("r1", "r2");
    CHECK_EQ_INT(0, run("train tiny.json --out r3 --threads 1 --quiet --seed 6"));
    char *a = read_file("r1/eval.jsonl"), *b = read_file("r3/eval.jsonl");
    CHECK(strcmp(a, b) != 0);
    free(a);
    free(b);
}

// Wall-clock seconds of the monotonic clock.
static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// A run stopped at step 60 and resumed to 120 equals the uninterrupted run.
// Its summary's wall time covers both processes: at least the sum of the
// records' intervals, and more than the resuming process took.
static void test_resume_equals_uninterrupted(void) {
    CHECK_EQ_INT(0, run("train tiny.json --out r4 --threads 1 --quiet --steps 60"));
    double t0 = monotonic_seconds();
    CHECK_EQ_INT(0, run("train --resume --out r4 --threads 1 --quiet --steps 120"));
    double second = monotonic_seconds() - t0;
    check_same_run("r1", "r4");
    char *m = read_file("r4/metrics.jsonl");
    double intervals = 0.0;
    for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n")) {
        intervals += json_number(line, "interval_s");
    }
    free(m);
    char *summary = read_file("r4/summary.json");
    CHECK(intervals > 0.0);
    CHECK(json_number(summary, "wall_seconds") >= intervals);
    CHECK(json_number(summary, "wall_seconds") > second);
    free(summary);
    // a finished run cannot be resumed without more steps
    CHECK(run("train --resume --out r4 --threads 1") != 0);
    CHECK_STR_CONTAINS(out_text, "already finished at step 120");

}

// A run length that is not a multiple of the episode length is rejected
// before the run starts, from the config, --set and --steps alike.
static void test_steps_not_whole_episodes(void) {
    static const char *const expected = "50 is not a multiple of env.episode_length 20";
    CHECK(run("train tiny.json --out r7 --threads 1 --steps 50") != 0);
    CHECK_STR_CONTAINS(out_text, "--steps, which sets train.steps");
    CHECK_STR_CONTAINS(out_text, expected);
    CHECK(run("train tiny.json --out r7 --set train.steps=50") != 0);
    CHECK_STR_CONTAINS(out_text, "config: train.steps");
    CHECK_STR_CONTAINS(out_text, expected);
    CHECK(run("config tiny.json --set train.steps=50") != 0);
    CHECK_STR_CONTAINS(out_text, expected);
    char path[700];
    snprintf(path, sizeof path, "%s/r7", tmp);
    CHECK(!file_exists(path));

    // extending a finished run by a part of an episode
    CHECK(run("train --resume --out r4 --threads 1 --steps 130") != 0);
    CHECK_STR_CONTAINS(out_text, "130 is not a multiple of env.episode_length 20");
}

// Records a killed run logged after its last checkpoint are dropped on
// resume, so the resumed run still equals the uninterrupted one.
static void test_resume_drops_later_records(void) {
    CHECK_EQ_INT(0, run("train tiny.json --out r8 --threads 1 --quiet --steps 60"));

    // what a run killed with SIGKILL at step 100 would have left behind
    char path[700], err[256];
    snprintf(path, sizeof path, "%s/r8/metrics.jsonl", tmp);
    CHECK_EQ_INT(0, file_append_line(path, "{\"step\":100,\"late\":1}", err, sizeof err));
    snprintf(path, sizeof path, "%s/r8/eval.jsonl", tmp);
    CHECK_EQ_INT(0, file_append_line(path, "{\"step\":100,\"late\":1}", err, sizeof err));
    CHECK_EQ_INT(0, file_append_line(path, "{\"step\":1", err, sizeof err));

    CHECK_EQ_INT(0, run("train --resume --out r8 --threads 1 --steps 120"));
    CHECK_STR_CONTAINS(out_text, "dropped 1 record(s) of metrics.jsonl");
    CHECK_STR_CONTAINS(out_text, "dropped 2 record(s) of eval.jsonl");
    check_same_run("r1", "r8");
}

// A run killed before its first checkpoint resumes from step 0 with its
// config.json and ends like an uninterrupted run. A run whose checkpoint.bin
// was removed after it was saved is rejected and keeps its files.
static void test_resume_without_checkpoint(void) {
    // r1 without checkpoint.bin: records up to step 120, past the first
    // checkpoint at step 40
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp -r '%s/r1' '%s/k1' && rm '%s/k1/checkpoint.bin'", tmp, tmp,
             tmp);
    CHECK_EQ_INT(0, system(cmd));
    char *metrics_before = read_file("k1/metrics.jsonl");
    char *eval_before = read_file("k1/eval.jsonl");
    CHECK(run("train --resume --out k1 --threads 1") != 0);
    CHECK_STR_CONTAINS(out_text, "k1/checkpoint.bin not found");
    CHECK_STR_CONTAINS(out_text, "recorded steps up to 120");
    CHECK_STR_CONTAINS(out_text, "restore checkpoint.bin");
    CHECK(strstr(out_text, "starting it again") == NULL);
    char *metrics_after = read_file("k1/metrics.jsonl");
    char *eval_after = read_file("k1/eval.jsonl");
    CHECK(strcmp(metrics_before, metrics_after) == 0);
    CHECK(strcmp(eval_before, eval_after) == 0);
    CHECK(same_file("r1/best.bin", "k1/best.bin"));
    free(metrics_before);
    free(eval_before);
    free(metrics_after);
    free(eval_after);

    // records up to the first checkpoint step alone: the run never saved one
    snprintf(cmd, sizeof cmd, "cp -r '%s/r1' '%s/k5' && rm '%s/k5/checkpoint.bin' "
             "'%s/k5/summary.json' && sed -i '/\"step\":\\(60\\|80\\|100\\|120\\)[,}]/d' "
             "'%s/k5/metrics.jsonl' '%s/k5/eval.jsonl'", tmp, tmp, tmp, tmp, tmp, tmp);
    CHECK_EQ_INT(0, system(cmd));
    CHECK_EQ_INT(0, run("train --resume --out k5 --threads 1"));
    CHECK_STR_CONTAINS(out_text, "k5 has no checkpoint.bin");
    CHECK_STR_CONTAINS(out_text, "starting it again from step 0");
    check_same_run("r1", "k5");

    // a real SIGKILL during the first episodes of a run that saves only at
    // its end
    const char *k2[] = {"train", "tiny.json", "--out", "k2", "--threads", "1", "--steps",
                        "400", "--set", "train.checkpoint_interval=0", NULL};
    pid_t pid = start_until_file(k2, "k2/metrics.jsonl", 12.0);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    char ckpt[700];
    snprintf(ckpt, sizeof ckpt, "%s/k2/checkpoint.bin", tmp);
    CHECK(!file_exists(ckpt));
    CHECK_EQ_INT(0, run("train --resume --out k2 --threads 1 --quiet"));
    CHECK_STR_CONTAINS(out_text, "starting it again from step 0");
    CHECK_EQ_INT(0, run("train tiny.json --out k3 --threads 1 --quiet --steps 400 "
                        "--set train.checkpoint_interval=0"));
    check_same_run("k2", "k3");

    // killed before config.json: the messages give the command that clears it
    snprintf(cmd, sizeof cmd, "mkdir '%s/k4' && touch '%s/k4/.lock'", tmp, tmp);
    CHECK_EQ_INT(0, system(cmd));
    CHECK(run("train --resume --out k4") != 0);
    CHECK_STR_CONTAINS(out_text, "rm -r k4");
    CHECK(run("train tiny.json --out k4") != 0);
    CHECK_STR_CONTAINS(out_text, "rm -r k4");
}

// A diverging run stops with the loss that went non-finite, keeping its
// last checkpoint.
static void test_divergence_names_loss(void) {
    CHECK(run("train tiny.json --out r10 --threads 1 --quiet --set agent.critic_lr=10 "
              "--set agent.actor_lr=10 --set agent.temp_lr=10") != 0);
    CHECK_STR_CONTAINS(out_text, "training diverged at step ");
    CHECK_STR_CONTAINS(out_text, "lower the learning rates");
    char path[700];
    snprintf(path, sizeof path, "%s/r10/checkpoint.bin", tmp);
    CHECK(file_exists(path));
}

// A run directory in use by another process is rejected, not shared.
static void test_run_directory_locked(void) {
    CHECK_EQ_INT(0, run("train tiny.json --out r9 --threads 1 --quiet --steps 40"));
    char dir[700], err[512];
    snprintf(dir, sizeof dir, "%s/r9", tmp);
    int fd = -1;
    CHECK_EQ_INT(0, file_lock_dir(dir, &fd, err, sizeof err));
    CHECK(run("train --resume --out r9 --threads 1 --steps 80") != 0);
    CHECK_STR_CONTAINS(out_text, "is in use by another process");
    close(fd);
    CHECK_EQ_INT(0, run("train --resume --out r9 --threads 1 --quiet --steps 80"));
}

// SIGINT: the run saves at the next episode boundary, exits non-zero, and
// resuming it reproduces the uninterrupted run.
static void test_interrupt_then_resume(void) {
    // wait until training has started, then interrupt
    const char *r5[] = {"train", "tiny.json", "--out", "r5", "--threads", "1", "--steps", "400",
                        NULL};
    pid_t pid = start_until_file(r5, "r5/metrics.jsonl", 30.0);
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(130, WEXITSTATUS(status));
    char *m = metrics_without_timing("r5");
    CHECK(m[0] != '\0');
    free(m);

    // the resumed run must end exactly like an uninterrupted one
    CHECK_EQ_INT(0, run("train --resume --out r5 --threads 1 --quiet --steps 400"));
    CHECK_EQ_INT(0, run("train tiny.json --out r6 --threads 1 --quiet --steps 400"));
    check_same_run("r5", "r6");
}

// Config and flag errors: non-zero exit and a message naming the problem.
static void test_bad_configs_and_flags(void) {
    write_file("bad_key.json", "{\"train\": {\"stepz\": 10}}");
    CHECK(run("train bad_key.json --out x1") != 0);
    CHECK_STR_CONTAINS(out_text, "train.stepz");

    write_file("bad_type.json", "{\"train\": {\"batch_size\": \"64\"}}");
    CHECK(run("train bad_type.json --out x2") != 0);
    CHECK_STR_CONTAINS(out_text, "train.batch_size");

    CHECK(run("train tiny.json --out x3 --set train.nope=3") != 0);
    CHECK_STR_CONTAINS(out_text, "train.nope");

    CHECK(run("train tiny.json --out x4 --set agent.method=mt-sac") != 0);
    CHECK_STR_CONTAINS(out_text, "agent.method");

    // every error of the file and of the overrides at once
    CHECK(run("train bad_key.json --out x4 --set train.nope=3 --set agent.gamma=x "
              "--set agent.method=mt-sac") != 0);
    CHECK_STR_CONTAINS(out_text, "train.stepz");
    CHECK_STR_CONTAINS(out_text, "train.nope");
    CHECK_STR_CONTAINS(out_text, "agent.gamma");
    CHECK_STR_CONTAINS(out_text, "agent.method");
    CHECK(run("config tiny.json --set train.nope=3 --set agent.gamma=x") != 0);
    CHECK_STR_CONTAINS(out_text, "train.nope");
    CHECK_STR_CONTAINS(out_text, "agent.gamma");
    // vision configs share the mechanism
    CHECK(run("config " CONAL_SOURCE_DIR "/configs/multifashion-hps.json --set train.nope=3 "
              "--set seed=x") != 0);
    CHECK_STR_CONTAINS(out_text, "train.nope");
    CHECK_STR_CONTAINS(out_text, "config: seed:");

    CHECK(run("train tiny.json --out x5 --set train.checkpoint_interval=30") != 0);
    CHECK_STR_CONTAINS(out_text, "multiple of env.episode_length");

    CHECK(run("train tiny.json --out x6 --set train.replay_capacity=100000000000") != 0);
    CHECK_STR_CONTAINS(out_text, "physical memory");

    CHECK(run("train tiny.json --out r1") != 0);
    CHECK_STR_CONTAINS(out_text, "already exists");

    CHECK(run("train tiny.json --out x7 --threads zero") != 0);
    CHECK_STR_CONTAINS(out_text, "--threads");

    CHECK(run("train tiny.json --out x8 --bogus") != 0);
    CHECK_STR_CONTAINS(out_text, "--bogus");

    CHECK(run("train missing.json --out x9") != 0);
    CHECK_STR_CONTAINS(out_text, "missing.json");

    // none of the failed runs left a directory behind
    char path[700];
    snprintf(path, sizeof path, "%s/x1", tmp);
    CHECK(!file_exists(path));
}

// Bad numbers in the numeric flags of train, eval and view: exit status 2
// and a message naming the flag and the text given. Nothing starts.
static void test_numeric_flags_rejected(void) {
    static const struct {
        const char *args;       // arguments after `conal`
        const char *message;    // expected in the output
    } cases[] = {
        {"train tiny.json --out n1 --steps 0", "--steps: expected a positive integer, got '0'"},
        {"train tiny.json --out n1 --steps -5", "--steps: expected a positive integer, got '-5'"},
        {"train tiny.json --out n1 --steps ten", "--steps: expected a positive integer, got 'ten'"},
        {"train tiny.json --out n1 --steps 12x",
         "--steps: expected a positive integer, got '12x'"},
        {"train tiny.json --out n1 --steps ''", "--steps: expected a positive integer, got ''"},
        {"train tiny.json --out n1 --steps 99999999999999999999",
         "--steps: 99999999999999999999 is too large"},
        {"train tiny.json --out n1 --steps", "--steps: missing value"},
        {"train tiny.json --out ''", "--out: the directory name is empty"},
        {"train --resume --out ''", "--out: the directory name is empty"},
        {"train --resume --out r1 --steps 0", "--steps: expected a positive integer, got '0'"},
        {"train tiny.json --out n1 --seed -1",
         "--seed: expected an integer in 0..4294967295, got '-1'"},
        {"train tiny.json --out n1 --seed 4294967296",
         "--seed: expected an integer in 0..4294967295, got '4294967296'"},
        {"train tiny.json --out n1 --threads 0",
         "--threads: expected an integer in 1..256, got '0'"},
        {"train tiny.json --out n1 --threads zero",
         "--threads: expected an integer in 1..256, got 'zero'"},
        {"eval --random --episodes 0", "--episodes: expected an integer in 1..1000000, got '0'"},
        {"eval --random --episodes -1", "--episodes: expected an integer in 1..1000000, got '-1'"},
        {"eval --random --goal 50", "--goal: expected an integer in 0..49, got '50'"},
        {"eval --random --threads +2", "--threads: expected an integer in 1..256, got '+2'"},
        {"eval --random --episodes", "--episodes: missing value"},
        {"view --random --episodes 0", "--episodes: expected an integer in 1..1000000, got '0'"},
        {"view --random --frames -3", "--frames: expected an integer in 1..100000000, got '-3'"},
        {"view --random --width 8 --height 100",
         "--width: expected an integer in 16..8192, got '8'"},
        {"view --random --fps 2.5", "--fps: expected an integer in 1..80, got '2.5'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(cases[i].args);
        CHECK_MSG(rc == 2, "conal %s: exit status %d, expected 2", cases[i].args, rc);
        CHECK_MSG(strstr(out_text, cases[i].message) != NULL,
                  "conal %s: expected \"%s\" in \"%s\"", cases[i].args, cases[i].message,
                  out_text);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/n1", tmp);
    CHECK(!file_exists(path));
}

// A usage error (missing argument, unknown option) exits with status 2 in
// every command.
static void test_usage_errors_exit_2(void) {
    static const char *const cases[] = {
        "train",           "train tiny.json --bogus", "eval --bogus",
        "config",          "config --bogus",          "conflicts",
        "conflicts --bogus", "envs --bogus",          "envs --assets",
        "arch",            "arch --bogus",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run(cases[i]);
        CHECK_MSG(rc == 2, "conal %s: exit status %d, expected 2", cases[i], rc);
    }
}

// A missing --assets folder is reported once, not once per task.
static void test_envs_missing_assets_once(void) {
    CHECK_EQ_INT(1, run("envs --assets /nonexistent-assets"));
    static const char *const message = "'/nonexistent-assets' not found";
    const char *first = strstr(out_text, message);
    CHECK(first != NULL);
    CHECK(first == NULL || strstr(first + strlen(message), message) == NULL);
}

// A config given with --resume must match the run apart from train.steps.
static void test_resume_config_mismatch(void) {
    write_file("other.json",
               "{\"seed\": 5, \"env\": {\"episode_length\": 20},\n"
               " \"agent\": {\"gamma\": 0.9, \"actor\": {\"hidden\": [16, 16]},\n"
               "           \"critic\": {\"hidden\": [16, 16]}},\n"
               " \"train\": {\"steps\": 120, \"batch_size\": 8, \"random_steps\": 40,\n"
               "  \"replay_capacity\": 500, \"log_interval\": 20, \"eval_interval\": 60,\n"
               "  \"eval_episodes\": 1, \"checkpoint_interval\": 40}}");
    CHECK(run("train other.json --resume --out r1 --steps 160") != 0);
    CHECK_STR_CONTAINS(out_text, "agent.gamma");
    CHECK(run("train --resume --out nowhere") != 0);
    CHECK_STR_CONTAINS(out_text, "nowhere/config.json not found");
}

// `conal eval` on a run, on one task, and the random policy.
static void test_eval_command(void) {
    CHECK_EQ_INT(0, run("eval r1 --episodes 2 --threads 1"));
    CHECK_STR_CONTAINS(out_text, "window-close-v3");
    CHECK_STR_CONTAINS(out_text, "trained policy");
    CHECK_EQ_INT(0, run("eval r1/best.bin --task reach-v3 --goal 3 --episodes 1 --json"));
    CHECK_STR_CONTAINS(out_text, "\"reach-v3\":");
    CHECK_EQ_INT(0, run("eval --random --task push-v3 --episodes 1 --json"));
    CHECK_STR_CONTAINS(out_text, "\"policy\": \"random\"");
    CHECK(run("eval r1 --task reach-v2") != 0);
    CHECK_STR_CONTAINS(out_text, "unknown task 'reach-v2'");
    CHECK_STR_CONTAINS(out_text, "the MT10 tasks are reach-v3, push-v3, pick-place-v3, "
                                 "door-open-v3, drawer-open-v3, drawer-close-v3, "
                                 "button-press-topdown-v3, peg-insert-side-v3, "
                                 "window-open-v3, window-close-v3\n");
    CHECK(run("eval r1 --goal 50") != 0);
    CHECK_STR_CONTAINS(out_text, "--goal");
}

// `conal config` prints the resolved config with its defaults.
static void test_config_command(void) {
    CHECK_EQ_INT(0, run("config tiny.json"));
    CHECK_STR_CONTAINS(out_text, "\"replay_capacity\":\t500");
    CHECK_STR_CONTAINS(out_text, "\"target_entropy\":\t-4");
    CHECK_EQ_INT(0, run("config tiny.json --set agent.gamma=0.5"));
    CHECK_STR_CONTAINS(out_text, "\"gamma\":\t0.5");
    CHECK(run("config bad_key.json") != 0);
    CHECK_STR_CONTAINS(out_text, "train.stepz");
}

// --estimate measures and projects without creating a run directory.
static void test_estimate(void) {
    CHECK_EQ_INT(0, run("train tiny.json --out e1 --threads 1 --estimate"));
    CHECK_STR_CONTAINS(out_text, "projected:");
    char path[700];
    snprintf(path, sizeof path, "%s/e1", tmp);
    CHECK(!file_exists(path));
}

int main(void) {
    struct stat st;
    if (stat(CONAL_BINARY_DIR "/conal", &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s/conal is not the conal binary (build the conal_cli target)\n",
                CONAL_BINARY_DIR);
        return 1;
    }
    check_tmpdir(tmp, sizeof tmp, "rl-cli");
    write_file("tiny.json", tiny_config);
    RUN_TEST(test_run_directory);
    RUN_TEST(test_metrics_wall_throughput);
    RUN_TEST(test_param_counts_in_summary);
    RUN_TEST(test_conflict_null_without_updates);
    RUN_TEST(test_conflict_interval_leaves_run);
    RUN_TEST(test_same_seed_same_run);
    RUN_TEST(test_resume_equals_uninterrupted);
    RUN_TEST(test_steps_not_whole_episodes);
    RUN_TEST(test_resume_drops_later_records);
    RUN_TEST(test_resume_without_checkpoint);
    RUN_TEST(test_run_directory_locked);
    RUN_TEST(test_divergence_names_loss);
    RUN_TEST(test_interrupt_then_resume);
    RUN_TEST(test_bad_configs_and_flags);
    RUN_TEST(test_numeric_flags_rejected);
    RUN_TEST(test_usage_errors_exit_2);
    RUN_TEST(test_envs_missing_assets_once);
    RUN_TEST(test_resume_config_mismatch);
    RUN_TEST(test_eval_command);
    RUN_TEST(test_config_command);
    RUN_TEST(test_estimate);
    check_rmtree(tmp);
    return check_summary();
}
