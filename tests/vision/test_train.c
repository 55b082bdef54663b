// `conal vision` runs end to end on a small Multi-Fashion: run files,
// determinism, resume, Delta_I and config errors. Reads Debian's
// Fashion-MNIST files.
#include "vision/train.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/log.h"
#include "tests/check.h"

static char tmp[256];

static void write_config(const char *name, const char *method, const char *extra) {
    char path[512], text[2048];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    snprintf(text, sizeof text,
             "{\"dataset\": \"multifashion\", \"method\": \"%s\", \"seed\": 2,\n"
             " \"data\": {\"cache_dir\": \"%s/cache\", \"n_train\": 512, \"n_test\": 128,"
             " \"n_val\": 128},\n"
             " \"train\": {\"epochs\": 2, \"search_epochs\": 1, \"batch_size\": 64,"
             " \"eval_batch\": 64, \"log_interval\": 1000}%s}\n",
             method, tmp, extra);
    char err[256];
    CHECK_EQ_INT(0, file_write_atomic(path, text, strlen(text), err, sizeof err));
}

// Runs one configured training; returns its status and leaves err filled.
static int run(const char *config, const char *out, int resume, const char *set, char *err,
               size_t err_sz) {
    char cfg_path[512], out_path[512];
    snprintf(cfg_path, sizeof cfg_path, "%s/%s", tmp, config);
    snprintf(out_path, sizeof out_path, "%s/%s", tmp, out);
    VisTrainOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.config_path = cfg_path;
    opt.out_dir = out_path;
    opt.seed = -1;
    opt.threads = 1;
    opt.resume = resume;
    if (set) {
        opt.sets[opt.n_sets++] = set;
    }
    err[0] = '\0';
    return vis_train_main(&opt, err, err_sz);
}

// The "test" object of a run's summary.json, printed, or NULL.
static char *summary_field(const char *out, const char *field) {
    char path[512], err[256], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s/summary.json", tmp, out);
    if (file_read_all(path, &text, &len, err, sizeof err) != 0) {
        return NULL;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, field));
    cJSON_Delete(root);
    return s;
}

static void hps_run_writes_files(void) {
    char err[1024];
    int rc = run("hps.json", "hps-a", 0, NULL, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    const char *files[] = {"config.json", "metrics.jsonl", "checkpoint.bin", "summary.json"};
    for (int i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/hps-a/%s", tmp, files[i]);
        CHECK_MSG(file_exists(path), "missing %s", path);
    }
    char *test = summary_field("hps-a", "test");
    CHECK_STR_CONTAINS(test, "\"top_left\":{\"acc\":");
    CHECK_STR_CONTAINS(test, "\"bottom_right\":{\"acc\":");
    free(test);
}

static void same_seed_same_result(void) {
    char err[1024];
    int rc = run("hps.json", "hps-b", 0, NULL, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    char *a = summary_field("hps-a", "test"), *b = summary_field("hps-b", "test");
    CHECK(a != NULL);
    CHECK(b != NULL);
    CHECK(a && b && strcmp(a, b) == 0);
    free(a);
    free(b);
}

// One epoch, then a resume to two epochs, ends where two straight epochs do.
static void resume_matches_straight_run(void) {
    char err[1024];
    int rc = run("hps.json", "hps-r", 0, "train.epochs=1", err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);

    // a record past the checkpoint and a line cut off by a kill are dropped
    char path[700];
    snprintf(path, sizeof path, "%s/hps-r/metrics.jsonl", tmp);
    CHECK_EQ_INT(0, file_append_line(path, "{\"stage\": \"train\", \"epoch\": 2}", err,
                                     sizeof err));
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"stage\": \"tr", f);
        fclose(f);
    }
    rc = run("hps.json", "hps-r", 1, "train.epochs=2", err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    char *text = NULL;
    size_t len = 0;
    CHECK_EQ_INT(0, file_read_all(path, &text, &len, err, sizeof err));
    int lines = 0, parsed = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        cJSON *rec = cJSON_Parse(line);
        lines++;
        parsed += rec != NULL;
        cJSON_Delete(rec);
    }
    CHECK_EQ_INT(2, lines);
    CHECK_EQ_INT(2, parsed);
    free(text);

    char *a = summary_field("hps-a", "test"), *r = summary_field("hps-r", "test");
    CHECK(a != NULL);
    CHECK(r != NULL);
    CHECK(a && r && strcmp(a, r) == 0);
    free(a);
    free(r);

    // a whole last record whose newline is missing is kept
    text = NULL;
    CHECK_EQ_INT(0, file_read_all(path, &text, &len, err, sizeof err));
    CHECK(text != NULL);
    CHECK(len > 0);
    CHECK(text && len > 0 && text[len - 1] == '\n');   // guards keep the read in bounds
    free(text);
    CHECK_EQ_INT(0, truncate(path, (off_t)len - 1));
    rc = run("hps.json", "hps-r", 1, "train.epochs=3", err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    text = NULL;
    CHECK_EQ_INT(0, file_read_all(path, &text, &len, err, sizeof err));
    lines = 0;
    for (size_t i = 0; text && i < len; i++) {
        lines += text[i] == '\n';
    }
    CHECK_EQ_INT(3, lines);
    free(text);
}

// Log sink that keeps the warning about a missing Delta_I in ctx (512 bytes).
static void keep_delta_warning(LogLevel level, const char *line, void *ctx) {
    (void)level;
    if (strstr(line, "no Delta_I")) {
        snprintf(ctx, 512, "%s", line);
    }
}

static void delta_i_against_stl_run(void) {
    char err[1024];
    int rc = run("stl.json", "stl", 0, NULL, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    char *self = summary_field("stl", "delta_i");
    CHECK(self != NULL);
    CHECK(self && strcmp(self, "0") == 0);
    rc = run("pcgrad.json", "pcgrad", 0, NULL, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    char *d = summary_field("pcgrad", "delta_i");
    CHECK(d != NULL);
    CHECK(d && strcmp(d, "null") != 0);
    free(self);
    free(d);

    // an STL reference trained for fewer epochs gives no Delta_I
    char warned[512] = "";
    log_set_sink(keep_delta_warning, warned);
    rc = run("pcgrad.json", "pcgrad-short", 0, "train.epochs=1", err, sizeof err);
    log_set_sink(NULL, NULL);
    CHECK_MSG(rc == 0, "%s", err);
    d = summary_field("pcgrad-short", "delta_i");
    CHECK(d != NULL);
    CHECK(d == NULL || strcmp(d, "null") == 0);
    free(d);
    CHECK_STR_CONTAINS(warned, "train.epochs differs: 2 in the STL run's");
    char *missing = summary_field("pcgrad-short", "delta_i_missing");
    CHECK_STR_CONTAINS(missing, "train.epochs differs");
    free(missing);

    // a reference that is not an STL run, or not there, is named as such
    char set[700];
    snprintf(set, sizeof set, "stl_summary=%s/pcgrad/summary.json", tmp);
    rc = run("pcgrad.json", "pcgrad-wrong-ref", 0, set, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    missing = summary_field("pcgrad-wrong-ref", "delta_i_missing");
    CHECK_STR_CONTAINS(missing, "belongs to a pcgrad run, not stl");
    free(missing);
    snprintf(set, sizeof set, "stl_summary=%s/nowhere/summary.json", tmp);
    rc = run("pcgrad.json", "pcgrad-no-ref", 0, set, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    missing = summary_field("pcgrad-no-ref", "delta_i_missing");
    CHECK_STR_CONTAINS(missing, "nowhere/summary.json: file not found");
    free(missing);
}

static void conal_searches_then_retrains(void) {
    char err[1024];
    int rc = run("conal.json", "conal", 0, "train.epochs=1", err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    char *branch = summary_field("conal", "branch");
    CHECK(branch != NULL);
    int b0 = 0, b1 = 0;
    CHECK(branch && sscanf(branch, "[%d,%d]", &b0, &b1) == 2);
    CHECK(b0 >= 1);
    CHECK(b0 <= 4);
    CHECK(b1 >= 1);
    CHECK(b1 <= 4);
    free(branch);
    char path[512], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/conal/metrics.jsonl", tmp);
    CHECK_EQ_INT(0, file_read_all(path, &text, &len, err, sizeof err));
    CHECK_STR_CONTAINS(text, "\"stage\":\"search\"");
    CHECK_STR_CONTAINS(text, "\"branch_weights\":");
    CHECK_STR_CONTAINS(text, "\"stage\":\"train\"");
    free(text);
}

// Log sink that sends SIGINT once a progress line reports step 3, the
// middle of the first epoch; it swallows every line.
static void interrupt_at_step3(LogLevel level, const char *line, void *ctx) {
    int *sent = ctx;
    (void)level;
    if (!*sent && strstr(line, " step=3 ")) {
        *sent = 1;
        raise(SIGINT);
    }
}

// Log sink that keeps the "vision: resumed" line in ctx (512 bytes).
static void keep_resumed_line(LogLevel level, const char *line, void *ctx) {
    (void)level;
    if (strstr(line, "vision: resumed")) {
        snprintf(ctx, 512, "%s", line);
    }
}

// SIGINT mid-epoch writes a checkpoint of the partial epoch, and the resumed
// run ends with the results of an uninterrupted one.
static void sigint_checkpoint_resumes_exactly(void) {
    char err[1024];
    int sent = 0;
    log_set_level(LOG_INFO);
    log_set_sink(interrupt_at_step3, &sent);
    int rc = run("hps.json", "hps-int", 0, "train.log_interval=1", err, sizeof err);
    log_set_sink(NULL, NULL);
    log_set_level(LOG_WARN);
    CHECK_EQ_INT(1, sent);
    CHECK_EQ_INT(VIS_TRAIN_STOPPED, rc);
    CHECK_STR_CONTAINS(err, "stopped by SIGINT at epoch 1 step 3");
    char path[512];
    snprintf(path, sizeof path, "%s/hps-int/checkpoint.bin", tmp);
    CHECK(file_exists(path));
    snprintf(path, sizeof path, "%s/hps-int/summary.json", tmp);
    CHECK(!file_exists(path));

    // the resume names the interrupted epoch as the stop message did
    char resumed[512] = "";
    log_set_level(LOG_INFO);
    log_set_sink(keep_resumed_line, resumed);
    rc = run("hps.json", "hps-int", 1, "train.log_interval=1", err, sizeof err);
    log_set_sink(NULL, NULL);
    log_set_level(LOG_WARN);
    CHECK_MSG(rc == 0, "%s", err);
    CHECK_STR_CONTAINS(resumed, "epoch=1 step=3 ");
    char *a = summary_field("hps-a", "test"), *r = summary_field("hps-int", "test");
    CHECK(a != NULL);
    CHECK(r != NULL);
    CHECK_MSG(a && r && strcmp(a, r) == 0, "straight %s, interrupted %s", a ? a : "-",
              r ? r : "-");
    free(a);
    free(r);
}

// A data.dir that does not load leaves no run directory behind.
// A run whose config.json predates arch.batch_norm (no such key: batch norm
// was off) resumes from its own config.
static void resumes_config_without_batch_norm_key(void) {
    char err[1024];
    int rc = run("hps-nobn.json", "hps-old", 0, "train.epochs=1", err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);

    // drop the key from the saved config, as an older version wrote it
    char path[512], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/hps-old/config.json", tmp);
    CHECK_EQ_INT(0, file_read_all(path, &text, &len, err, sizeof err));
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "arch"),
                                            "batch_norm");
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    CHECK(strstr(out, "batch_norm") == NULL);
    CHECK_EQ_INT(0, file_write_atomic(path, out, strlen(out), err, sizeof err));
    free(out);

    char out_path[512];
    snprintf(out_path, sizeof out_path, "%s/hps-old", tmp);
    VisTrainOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.out_dir = out_path;
    opt.seed = -1;
    opt.threads = 1;
    opt.resume = 1;
    opt.sets[opt.n_sets++] = "train.epochs=2";
    rc = vis_train_main(&opt, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    char *test = summary_field("hps-old", "test");
    CHECK(test != NULL);
    free(test);
}

static void bad_data_dir_makes_no_run_dir(void) {
    char err[1024], path[512];
    // a cache of its own, so the canvases must come from data.dir
    snprintf(path, sizeof path, "%s/nodata.json", tmp);
    const char *text = "{\"dataset\": \"multifashion\", \"method\": \"hps\",\n"
                       " \"data\": {\"dir\": \"/nonexistent/fashion\", \"cache_dir\": \"\","
                       " \"n_train\": 512, \"n_test\": 128}}\n";
    CHECK_EQ_INT(0, file_write_atomic(path, text, strlen(text), err, sizeof err));
    int rc = run("nodata.json", "nodata", 0, NULL, err, sizeof err);
    CHECK(rc != 0);
    CHECK_STR_CONTAINS(err, "/nonexistent/fashion");
    snprintf(path, sizeof path, "%s/nodata", tmp);
    CHECK(!file_exists(path));
}

static void rejects_reuse_and_changed_resume(void) {
    char err[1024];
    CHECK_EQ_INT(ERR_ARG, run("hps.json", "hps-a", 0, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "pass --resume");
    CHECK_EQ_INT(ERR_CONFIG, run("hps.json", "hps-a", 1, "train.lr=0.5", err, sizeof err));
    CHECK_STR_CONTAINS(err, "train.lr differs");
    // a CONFIG given with --resume is checked too, not replaced by the saved one
    CHECK_EQ_INT(ERR_CONFIG, run("pcgrad.json", "hps-a", 1, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "method differs");
    // a finished run is not trained again unless extended
    CHECK_EQ_INT(ERR_ARG, run("hps.json", "hps-a", 1, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "already finished at epoch 2 of train.epochs=2");
    CHECK_EQ_INT(ERR_IO, run("hps.json", "never-ran", 1, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "checkpoint.bin not found");
    // a run stopped before its first checkpoint is not mixed with a new one
    char stopped[600], path[700];
    snprintf(stopped, sizeof stopped, "%s/stopped", tmp);
    CHECK_EQ_INT(0, file_mkdirs(stopped, err, sizeof err));
    snprintf(path, sizeof path, "%s/metrics.jsonl", stopped);
    CHECK_EQ_INT(0, file_write_atomic(path, "{\"epoch\": 1}\n", 13, err, sizeof err));
    CHECK_EQ_INT(ERR_ARG, run("hps.json", "stopped", 0, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "contains metrics.jsonl but no checkpoint.bin");
    // a checkpoint copied in from a run of another method is named as such
    char copied[600], src[700], dst[700];
    snprintf(copied, sizeof copied, "%s/copied", tmp);
    CHECK_EQ_INT(0, file_mkdirs(copied, err, sizeof err));
    const char *files[2][2] = {{"hps-a", "config.json"}, {"stl", "checkpoint.bin"}};
    for (int i = 0; i < 2; i++) {
        char *data = NULL;
        size_t n = 0;
        snprintf(src, sizeof src, "%s/%s/%s", tmp, files[i][0], files[i][1]);
        snprintf(dst, sizeof dst, "%s/%s", copied, files[i][1]);
        CHECK_EQ_INT(0, file_read_all(src, &data, &n, err, sizeof err));
        CHECK_EQ_INT(0, file_write_atomic(dst, data, n, err, sizeof err));
        free(data);
    }
    CHECK(run("hps.json", "copied", 1, "train.epochs=3", err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "does not fit the run's config.json (copied from another run?)");

    CHECK_EQ_INT(ERR_CONFIG, run("hps.json", "big-batch", 0, "train.batch_size=600", err,
                                 sizeof err));
    CHECK_STR_CONTAINS(err, "train.batch_size: 600 is larger than the 512 training images");
    write_config("bad.json", "hps", ", \"arch\": {\"kernel\": 4, \"depth\": 2}");
    CHECK_EQ_INT(ERR_CONFIG, run("bad.json", "bad", 0, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "arch.depth");
    CHECK_EQ_INT(ERR_CONFIG, run("hps.json", "decay", 0, "train.weight_decay=0.01", err,
                                 sizeof err));
    CHECK_STR_CONTAINS(err, "train.weight_decay: 0.01 needs arch.batch_norm false");
    write_config("even.json", "hps", ", \"arch\": {\"kernel\": 4}");
    CHECK_EQ_INT(ERR_CONFIG, run("even.json", "even", 0, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "arch.kernel: 4 must be odd");
}

int main(void) {
    log_set_level(LOG_WARN);
    check_tmpdir(tmp, sizeof tmp, "vistrain");
    char stl_ref[600];
    snprintf(stl_ref, sizeof stl_ref, ", \"stl_summary\": \"%s/stl/summary.json\"", tmp);
    write_config("hps.json", "hps", "");
    write_config("hps-nobn.json", "hps", ", \"arch\": {\"batch_norm\": false}");
    write_config("stl.json", "stl", "");
    write_config("pcgrad.json", "pcgrad", stl_ref);
    write_config("conal.json", "conal", "");
    RUN_TEST(hps_run_writes_files);
    RUN_TEST(same_seed_same_result);
    RUN_TEST(resume_matches_straight_run);
    RUN_TEST(delta_i_against_stl_run);
    RUN_TEST(conal_searches_then_retrains);
    RUN_TEST(rejects_reuse_and_changed_resume);
    RUN_TEST(sigint_checkpoint_resumes_exactly);
    RUN_TEST(resumes_config_without_batch_norm_key);
    RUN_TEST(bad_data_dir_makes_no_run_dir);
    check_rmtree(tmp);
    return check_summary();
}
