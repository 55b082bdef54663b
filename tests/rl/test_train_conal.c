// `conal train` with the CoNAL methods: search, derive, retrain, resume,
// --arch and `conal arch`.
//
// Every test runs the built binary with one thread in a private temporary
// directory on a tiny config: 20-step episodes, two hidden layers of 16, a
// search of 200 steps and a retrain of 100. Run "a" is the uninterrupted
// reference that resumed runs must reproduce byte for byte.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/fileio.h"
#include "conal/arch.h"
#include "envs/env.h"
#include "nn/checkpoint.h"
#include "rl/config.h"
#include "rl/sac.h"
#include "rl/train_conal.h"
#include "tests/check.h"
#include "tests/rl/cli_run.h"

#define SEARCH_STEPS 200
#define RETRAIN_STEPS 100


static const char tiny_config[] =
    "{\n"
    "  \"seed\": 3,\n"
    "  \"env\": {\"episode_length\": 20},\n"
    "  \"agent\": {\"method\": \"conal\", \"actor\": {\"hidden\": [16, 16]},\n"
    "            \"critic\": {\"hidden\": [16, 16]}},\n"
    "  \"search\": {\"steps\": 200},\n"
    "  \"retrain\": {\"steps\": 100},\n"
    "  \"train\": {\"batch_size\": 8, \"random_steps\": 40, \"replay_capacity\": 500,\n"
    "            \"log_interval\": 20, \"eval_interval\": 100, \"eval_episodes\": 1,\n"
    "            \"checkpoint_interval\": 40}\n"
    "}\n";

// Full path of tmp/name.
static const char *in_tmp(const char *name) {
    static char path[4][1200];
    static int next = 0;
    next = (next + 1) % 4;
    snprintf(path[next], sizeof path[next], "%s/%s", tmp, name);
    return path[next];
}

// 1 when the text files tmp/a and tmp/b have the same, non-empty content.
static int same_file(const char *a, const char *b) {
    char *x = read_file(a), *y = read_file(b);
    int same = x[0] != '\0' && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

// 1 when the binary files tmp/a and tmp/b are byte-identical.
static int same_bytes(const char *a, const char *b) {
    char err[256];
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int ok = file_read_all(in_tmp(a), &x, &nx, err, sizeof err) == 0 &&
             file_read_all(in_tmp(b), &y, &ny, err, sizeof err) == 0;
    int same = ok && nx > 0 && nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

// Parses tmp/name as JSON (NULL when missing or invalid).
static cJSON *read_json(const char *name) {
    char *text = read_file(name);
    cJSON *json = cJSON_Parse(text);
    free(text);
    return json;
}

// The metrics.jsonl record of dir at step, or NULL.
static cJSON *metrics_at(const char *dir, long step) {
    char name[600];
    snprintf(name, sizeof name, "%s/metrics.jsonl", dir);
    char *text = read_file(name);
    cJSON *found = NULL;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
        cJSON *rec = cJSON_Parse(line);
        cJSON *s = cJSON_GetObjectItem(rec, "step");
        if (cJSON_IsNumber(s) && (long)s->valuedouble == step) {
            found = rec;
        } else {
            cJSON_Delete(rec);
        }
    }
    free(text);
    return found;
}

// The string value of item, or "" when it is not a string.
static const char *string_of(const cJSON *item) {
    return cJSON_IsString(item) ? item->valuestring : "";
}

// The number value of item, or -1 when it is not a number.
static double number_of(const cJSON *item) {
    return cJSON_IsNumber(item) ? item->valuedouble : -1.0;
}

// "steps" of dir/summary.json, or -1.
static long summary_steps(const char *dir) {
    char name[600];
    snprintf(name, sizeof name, "%s/summary.json", dir);
    cJSON *json = read_json(name);
    cJSON *s = cJSON_GetObjectItem(json, "steps");
    long steps = cJSON_IsNumber(s) ? (long)s->valuedouble : -1;
    cJSON_Delete(json);
    return steps;
}

// Runs the uninterrupted reference run "a" once.
static int reference_run(void) {
    static int rc = -1;
    if (rc < 0) {
        rc = run("train tiny.json --out a --threads 1 --quiet");
    }
    return rc;
}

// Starts `conal train tiny.json --out dir` in tmp, interrupts it with SIGINT
// once dir has a metrics record, and returns its exit code.
static int run_interrupted(const char *dir) {
    const char *args[] = {"train", "tiny.json", "--out", dir, "--threads", "1", "--quiet", NULL};
    char metrics[700];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    pid_t pid = start_until_file(args, metrics, 12.0);
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads section name of dir/checkpoint.bin into dst (size bytes). Returns 0
// or the checkpoint error code, printing the message.
static int read_section(const char *dir, const char *name, void *dst, size_t size) {
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    NnCkpt ck;
    int rc = nn_ckpt_load(&ck, in_tmp(path), err, sizeof err);
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, name, dst, size, err, sizeof err);
        nn_ckpt_unload(&ck);
    }
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
    }
    return rc;
}

// ---- search, derive, retrain ----

// The run searches, derives arch.json with a branch point per task per
// network, retrains and counts both phases' steps.
static void test_search_then_retrain(void) {
    CHECK_EQ_INT(0, reference_run());
    CHECK_EQ_INT(SEARCH_STEPS + RETRAIN_STEPS, summary_steps("a"));

    ConalArch arch;
    char err[512] = "";
    CHECK_EQ_INT(0, conal_arch_load(&arch, in_tmp("a/arch.json"), err, sizeof err));
    CHECK_EQ_INT(3, arch.n_nets);
    const char *names[3] = {"actor", "q1", "q2"};
    for (int i = 0; i < 3; i++) {
        const ConalArchNet *net = conal_arch_find(&arch, names[i]);
        CHECK_MSG(net != NULL, "arch.json has no network %s", names[i]);
        if (!net) {
            continue;
        }
        CHECK_EQ_INT(ENV_N_TASKS, net->n_tasks);
        CHECK_EQ_INT(2, net->n_slots);
        for (int t = 0; t < net->n_tasks; t++) {
            CHECK(net->branch[t] >= 1);
            CHECK(net->branch[t] <= net->n_slots + 1);
        }
        CHECK(net->params_derived <= net->params_supernet);
    }

    // the last search record, then the first retrain records start over
    cJSON *last_search = metrics_at("a", SEARCH_STEPS);
    cJSON *first_retrain = metrics_at("a", SEARCH_STEPS + 20);
    CHECK(last_search != NULL);
    CHECK(first_retrain != NULL);
    cJSON *phase = cJSON_GetObjectItem(last_search, "conal_phase");
    CHECK(strcmp(string_of(phase), "search") == 0);
    phase = cJSON_GetObjectItem(first_retrain, "conal_phase");
    CHECK(strcmp(string_of(phase), "retrain") == 0);
    cJSON *updates = cJSON_GetObjectItem(last_search, "updates");
    CHECK(number_of(updates) > 0);
    updates = cJSON_GetObjectItem(first_retrain, "updates");
    CHECK_NEAR(0.0, number_of(updates), 0.0);

    // stop counts per shared module and K x P branch weights per network
    cJSON *stops = cJSON_GetObjectItem(last_search, "stop_count");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(stops, "q2"), "hidden1")));
    cJSON *weights = cJSON_GetObjectItem(cJSON_GetObjectItem(last_search, "branch_weights"),
                                         "actor");
    CHECK_EQ_INT(ENV_N_TASKS, cJSON_GetArraySize(weights));
    CHECK_EQ_INT(3, cJSON_GetArraySize(cJSON_GetArrayItem(weights, 0)));
    cJSON_Delete(last_search);
    cJSON_Delete(first_retrain);
}

// Retraining starts from fresh weights (those of a new derived agent, not
// the searched ones) with empty replay buffers.
static void test_retrain_starts_fresh(void) {
    // one retrain episode: random actions (random_steps is 40), no update yet
    CHECK_EQ_INT(0, run("train tiny.json --out f --threads 1 --quiet --steps 20"));
    CHECK_EQ_INT(SEARCH_STEPS + 20, summary_steps("f"));
    for (int t = 0; t < ENV_N_TASKS; t++) {
        char name[64];
        int64_t replay[2] = {-1, -1};
        snprintf(name, sizeof name, "replay.%d.counters", t);
        CHECK_EQ_INT(0, read_section("f", name, replay, sizeof replay));
        CHECK_EQ_INT(20, (int)replay[0]);
    }
    int64_t phase[2] = {-1, -1};
    CHECK_EQ_INT(0, read_section("f", "conal.phase", phase, sizeof phase));
    CHECK_EQ_INT(1, (int)phase[0]);
    CHECK_EQ_INT(SEARCH_STEPS, (int)phase[1]);

    // a derived agent created from the retrain streams has the same weights
    RlConfig cfg;
    ConalArch arch;
    char err[1024] = "";
    CHECK_EQ_INT(0, rl_config_load(&cfg, in_tmp("f/config.json"), NULL, 0, err, sizeof err));
    CHECK_EQ_INT(0, conal_arch_load(&arch, in_tmp("f/arch.json"), err, sizeof err));
    cfg.conal_arch = &arch;
    RngState init_rng, noise;
    rng_init_stream(&init_rng, (uint64_t)cfg.seed, 5);
    rng_init_stream(&noise, (uint64_t)cfg.seed, 6);
    RlSac *fresh = rl_sac_create(&cfg, ENV_N_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &init_rng,
                                 rng_next_u64(&noise), err, sizeof err);
    CHECK_MSG(fresh != NULL, "%s", err);
    if (!fresh) {
        return;
    }
    size_t n = fresh->actor->params.n;
    CHECK_EQ_INT((int)conal_arch_find(&arch, "actor")->params_derived, (int)n);
    float *saved = calloc(n, sizeof *saved);
    CHECK_EQ_INT(0, read_section("f", "actor.w", saved, n * sizeof *saved));
    CHECK(memcmp(saved, fresh->actor->params.w, n * sizeof *saved) == 0);
    int64_t adam_step = -1;
    CHECK_EQ_INT(0, read_section("f", "actor.step", &adam_step, sizeof adam_step));
    CHECK_EQ_INT(0, (int)adam_step);

    // the end-of-search actor is a supernet of another size
    size_t n_search = conal_arch_find(&arch, "actor")->params_supernet;
    CHECK(n_search != n);
    free(saved);
    rl_sac_destroy(fresh);
}

// ---- resume ----

// An interrupt during the search, resumed across the boundary, ends exactly
// like the uninterrupted run.
static void test_resume_from_search(void) {
    CHECK_EQ_INT(0, reference_run());
    CHECK_EQ_INT(130, run_interrupted("b"));
    int64_t phase[2] = {-1, -1};
    CHECK_EQ_INT(0, read_section("b", "conal.phase", phase, sizeof phase));
    CHECK_EQ_INT(0, (int)phase[0]);
    CHECK(!file_exists(in_tmp("b/arch.json")));

    // a search checkpoint keeps the supernet
    RlConfig cfg;
    ConalArch arch;
    NnCkpt ck;
    char err[1024] = "";
    CHECK_EQ_INT(0, rl_config_load(&cfg, in_tmp("b/config.json"), NULL, 0, err, sizeof err));
    CHECK_EQ_INT(0, nn_ckpt_load(&ck, in_tmp("b/checkpoint.bin"), err, sizeof err));
    CHECK_EQ_INT(0, rl_conal_arch_for_checkpoint(&cfg, &ck, in_tmp("b"), &arch, err,
                                                 sizeof err));
    CHECK(cfg.conal_arch == NULL);
    nn_ckpt_unload(&ck);

    // conal arch reads a searching run's checkpoint
    CHECK_EQ_INT(0, run("arch b"));
    CHECK_STR_CONTAINS(out_text, "current search architecture");
    CHECK_STR_CONTAINS(out_text, "q2:");

    CHECK_EQ_INT(0, run("train --resume --out b --threads 1 --quiet"));
    CHECK(same_bytes("a/checkpoint.bin", "b/checkpoint.bin"));
    CHECK(same_file("a/arch.json", "b/arch.json"));
    CHECK_EQ_INT(SEARCH_STEPS + RETRAIN_STEPS, summary_steps("b"));
}

// A run stopped in the retrain phase (--steps sets retrain.steps) and
// extended ends exactly like the uninterrupted run.
static void test_resume_in_retrain(void) {
    CHECK_EQ_INT(0, reference_run());
    CHECK_EQ_INT(0, run("train tiny.json --out c --threads 1 --quiet --steps 40"));
    CHECK_EQ_INT(SEARCH_STEPS + 40, summary_steps("c"));
    CHECK_EQ_INT(0, run("train --resume --out c --threads 1 --quiet --steps 100"));
    CHECK(same_bytes("a/checkpoint.bin", "c/checkpoint.bin"));
    CHECK_EQ_INT(SEARCH_STEPS + RETRAIN_STEPS, summary_steps("c"));

    // conal eval loads the derived networks of a retrained run
    CHECK_EQ_INT(0, run("eval c --episodes 1 --threads 1 --task reach-v3"));
    CHECK_EQ_INT(0, run("eval c/best.bin --episodes 1 --threads 1 --task reach-v3"));
}

// An agent loaded from a retrain checkpoint gets the derived networks.
static void test_checkpoint_arch_lookup(void) {
    CHECK_EQ_INT(0, reference_run());
    RlConfig cfg;
    ConalArch arch;
    char err[1024] = "";
    CHECK_EQ_INT(0, rl_config_load(&cfg, in_tmp("a/config.json"), NULL, 0, err, sizeof err));
    NnCkpt ck;
    CHECK_EQ_INT(0, nn_ckpt_load(&ck, in_tmp("a/best.bin"), err, sizeof err));
    CHECK_EQ_INT(0, rl_conal_arch_for_checkpoint(&cfg, &ck, in_tmp("a"), &arch, err,
                                                 sizeof err));
    CHECK(cfg.conal_arch == &arch);

    // the agent it builds loads the checkpoint
    RngState rng;
    rng_init(&rng, 0);
    RlSac *sac = rl_sac_create(&cfg, ENV_N_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &rng, 0, err,
                               sizeof err);
    CHECK_MSG(sac != NULL, "%s", err);
    if (sac) {
        CHECK_EQ_INT(0, rl_sac_load(sac, &ck, err, sizeof err));
    }
    rl_sac_destroy(sac);
    nn_ckpt_unload(&ck);
}

// ---- --arch and conal arch ----

// --arch retrains a given architecture without a search, and the run
// directory records it.
static void test_arch_flag_retrains(void) {
    CHECK_EQ_INT(0, reference_run());
    CHECK_EQ_INT(0, run("train tiny.json --out d --threads 1 --quiet --arch a/arch.json"));
    CHECK_EQ_INT(RETRAIN_STEPS, summary_steps("d"));
    cJSON *cfg = read_json("d/config.json");
    cJSON *search = cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "search"), "steps");
    CHECK_NEAR(0.0, number_of(search), 0.0);
    cJSON_Delete(cfg);

    ConalArch given, recorded;
    char err[512] = "";
    CHECK_EQ_INT(0, conal_arch_load(&given, in_tmp("a/arch.json"), err, sizeof err));
    CHECK_EQ_INT(0, conal_arch_load(&recorded, in_tmp("d/arch.json"), err, sizeof err));
    CHECK_EQ_INT(given.n_nets, recorded.n_nets);
    for (int i = 0; i < given.n_nets && i < recorded.n_nets; i++) {
        CHECK(memcmp(given.nets[i].branch, recorded.nets[i].branch,
                     sizeof given.nets[i].branch) == 0);
    }
    cJSON *first = metrics_at("d", 20);
    cJSON *phase = cJSON_GetObjectItem(first, "conal_phase");
    CHECK(strcmp(string_of(phase), "retrain") == 0);
    cJSON_Delete(first);

    // it resumes from its own arch.json
    CHECK_EQ_INT(0, run("train --resume --out d --threads 1 --quiet --steps 140"));
    CHECK_EQ_INT(140, summary_steps("d"));

    CHECK_EQ_INT(0, run("arch d"));
    CHECK_STR_CONTAINS(out_text, "derived architecture");
    CHECK_STR_CONTAINS(out_text, "actor: 10 tasks, 2 module slots");
}

// Retraining with conflicts measured on every update instead of every tenth
// gives the same evaluations and final checkpoint: measuring never changes
// the derived network's updates.
static void test_retrain_conflict_interval_leaves_run(void) {
    CHECK_EQ_INT(0, reference_run());
    CHECK_EQ_INT(0, run("train tiny.json --out d10 --threads 1 --quiet --arch a/arch.json"));
    CHECK_EQ_INT(0, run("train tiny.json --out d1 --threads 1 --quiet --arch a/arch.json "
                        "--set train.conflict_interval=1"));
    cJSON *last = metrics_at("d1", RETRAIN_STEPS);
    CHECK(last != NULL);
    CHECK_NEAR(20.0, number_of(cJSON_GetObjectItem(last, "conflict_updates")), 0.0);
    cJSON_Delete(last);
    CHECK(same_file("d1/eval.jsonl", "d10/eval.jsonl"));
    CHECK(same_bytes("d1/checkpoint.bin", "d10/checkpoint.bin"));
}

// A missing, malformed, incomplete or misfitting arch.json is a clear error.
static void test_bad_arch_rejected(void) {
    CHECK_EQ_INT(0, reference_run());
    CHECK(run("train tiny.json --out e1 --threads 1 --arch missing.json") != 0);
    CHECK_STR_CONTAINS(out_text, "missing.json");
    CHECK(!file_exists(in_tmp("e1")));

    write_file("broken.json", "{\"format\": \"conal-arch\", \"version\": 1, \"networks\": [");
    CHECK(run("train tiny.json --out e2 --threads 1 --arch broken.json") != 0);
    CHECK_STR_CONTAINS(out_text, "broken.json");

    // an arch.json without the critics
    char *text = read_file("a/arch.json");
    cJSON *json = cJSON_Parse(text);
    free(text);
    cJSON *nets = cJSON_GetObjectItem(json, "networks");
    cJSON_DeleteItemFromArray(nets, 2);
    char *cut = cJSON_Print(json);
    write_file("no-q2.json", cut);
    free(cut);
    cJSON_Delete(json);
    CHECK(run("train tiny.json --out e3 --threads 1 --arch no-q2.json") != 0);
    CHECK_STR_CONTAINS(out_text, "no network named \"q2\"");

    // an architecture of other widths does not fit the config's networks
    CHECK(run("train tiny.json --out e4 --threads 1 --arch a/arch.json "
              "--set agent.actor.hidden=[32,32]") != 0);
    CHECK_STR_CONTAINS(out_text, "conal train:");

    // --arch needs a CoNAL method and a new run
    CHECK(run("train tiny.json --out e5 --threads 1 --arch a/arch.json "
              "--set agent.method=mtsac") != 0);
    CHECK_STR_CONTAINS(out_text, "--arch: agent.method is \"mtsac\"");
    CHECK(run("train --resume --out a --threads 1 --arch a/arch.json --steps 200") != 0);
    CHECK_STR_CONTAINS(out_text, "--arch with --resume");

    // search.steps 0 without --arch, and a search ending mid-episode
    CHECK(run("train tiny.json --out e6 --threads 1 --set search.steps=0") != 0);
    CHECK_STR_CONTAINS(out_text, "pass --arch FILE");
    CHECK(run("train tiny.json --out e7 --threads 1 --set search.steps=30") != 0);
    CHECK_STR_CONTAINS(out_text, "search.steps: 30 is not a multiple");

    // train.steps is derived from search.steps and retrain.steps
    CHECK(run("train tiny.json --out e8 --threads 1 --set train.steps=400") != 0);
    CHECK_STR_CONTAINS(out_text, "train.steps: --set train.steps=400 has no effect");
    CHECK_STR_CONTAINS(out_text, "set search.steps or retrain.steps instead");
    CHECK(run("config tiny.json --set train.steps=400") != 0);
    CHECK_STR_CONTAINS(out_text, "train.steps: --set train.steps=400 has no effect");
}

// ---- variants ----

// Sum of a metrics record's stop counts over all networks and modules.
static double total_stops(const cJSON *rec) {
    double total = 0.0;
    const cJSON *net = NULL, *module = NULL;
    cJSON_ArrayForEach(net, cJSON_GetObjectItem(rec, "stop_count")) {
        cJSON_ArrayForEach(module, net) {
            total += module->valuedouble;
        }
    }
    return total;
}

// The ablations and the PCGrad/CAGrad retraining methods run end to end;
// with conflict noticing off no shared-module step is skipped.
static void test_ablations_and_gradmix(void) {
    const char *short_run = "--threads 1 --quiet --set search.steps=80 --steps 60";
    char args[512];
    snprintf(args, sizeof args, "train tiny.json --out v1 %s --set agent.method=conal-pcgrad",
             short_run);
    CHECK_EQ_INT(0, run(args));
    snprintf(args, sizeof args, "train tiny.json --out v2 %s --set agent.method=conal-cagrad",
             short_run);
    CHECK_EQ_INT(0, run(args));
    snprintf(args, sizeof args,
             "train tiny.json --out v3 %s --set agent.conal.random_loss_weights=false",
             short_run);
    CHECK_EQ_INT(0, run(args));
    CHECK(!same_bytes("v3/checkpoint.bin", "v1/checkpoint.bin"));

    snprintf(args, sizeof args,
             "train tiny.json --out v4 %s --set agent.conal.conflict_noticing=false "
             "--set agent.conal.specific=partially",
             short_run);
    CHECK_EQ_INT(0, run(args));
    cJSON *rec = metrics_at("v4", 80);
    CHECK(rec != NULL);
    CHECK(cJSON_GetObjectItem(rec, "stop_count") != NULL);
    CHECK_NEAR(0.0, total_stops(rec), 0.0);
    cJSON_Delete(rec);
    CHECK_EQ_INT(0, run("arch v4"));
    CHECK_STR_CONTAINS(out_text, "partially-specific modules");
}

int main(void) {
    check_tmpdir(tmp, sizeof tmp, "train_conal");
    write_file("tiny.json", tiny_config);
    RUN_TEST(test_search_then_retrain);
    RUN_TEST(test_retrain_starts_fresh);
    RUN_TEST(test_resume_from_search);
    RUN_TEST(test_resume_in_retrain);
    RUN_TEST(test_checkpoint_arch_lookup);
    RUN_TEST(test_arch_flag_retrains);
    RUN_TEST(test_retrain_conflict_interval_leaves_run);
    RUN_TEST(test_bad_arch_rejected);
    RUN_TEST(test_ablations_and_gradmix);
    int rc = check_summary();
    if (rc == 0) {
        check_rmtree(tmp);
    }
    return rc;
}
