// Tests of `conal conflicts`, run through the built binary on run
// directories written by the test (config.json and metrics.jsonl only).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "tests/check.h"
#include "tests/rl/cli_run.h"

// Writes run directory tmp/name: config.json with the method (none when
// method is NULL) and CoNAL's search.steps, and metrics.jsonl.
static void write_run(const char *name, const char *method, long long search_steps,
                      const char *metrics) {
    char path[700], text[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/config.json", name);
    if (method) {
        snprintf(text, sizeof text,
                 "{\"agent\": {\"method\": \"%s\"}, \"search\": {\"steps\": %lld}}\n", method,
                 search_steps);
        write_file(path, text);
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", name);
    write_file(path, metrics);
}

// The line of out_text that starts with prefix (leading spaces skipped), or
// "" when there is none. Points into a static buffer.
static const char *line_starting(const char *prefix, int nth) {
    static char line[1024];
    line[0] = '\0';
    for (const char *p = out_text; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *q = p + strspn(p, " ");
        if (strncmp(q, prefix, strlen(prefix)) == 0 && nth-- == 0) {
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            break;
        }
        p += len + (end ? 1 : 0);
    }
    return line;
}

// An MT-SAC run to step 300 and a CoNAL run to step 200: the shorter run
// shows "-" past its last record instead of repeating it.
static void test_shorter_run_shows_dash(void) {
    write_run("mt", "mtsac", 0,
              "{\"step\":100,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.1,\"hidden1\":0.2,"
              "\"output\":0.3},\"q1\":{\"hidden0\":0.4,\"hidden1\":0.5,\"output\":0.6}}}\n"
              "{\"step\":200,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.15,\"hidden1\":0.25,"
              "\"output\":0.35},\"q1\":{\"hidden0\":0.45,\"hidden1\":0.55,\"output\":0.65}}}\n"
              "{\"step\":300,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.2,\"hidden1\":0.3,"
              "\"output\":0.4},\"q1\":{\"hidden0\":0.5,\"hidden1\":0.6,\"output\":0.7}}}\n");
    write_run("cn", "conal", 100,
              "{\"step\":100,\"conal_phase\":\"search\",\"conflict_ratio\":{\"actor\":"
              "{\"hidden0\":0.9,\"hidden1\":0.8},\"q1\":{\"hidden0\":0.7,\"hidden1\":0.6}}}\n"
              "{\"step\":200,\"conal_phase\":\"retrain\",\"conflict_ratio\":{\"actor\":"
              "{\"hidden0\":0.5},\"q1\":{}}}\n");
    CHECK_EQ_INT(0, run("conflicts mt cn"));

    // one line per run names it, its method and its records
    CHECK_STR_CONTAINS(out_text, "mt (mtsac): 3 records, steps 100 to 300");
    CHECK_STR_CONTAINS(out_text, "cn (conal): 2 records, steps 100 to 200");
    CHECK_STR_CONTAINS(out_text, "CoNAL search to step 100, then retraining");

    // header: the runs over their column groups, then the layer names
    CHECK_STR_CONTAINS(line_starting("mt (mtsac)", 1), "|  cn (conal)");
    CHECK_STR_CONTAINS(line_starting("step", 0),
                       "step  hidden0  hidden1  output |  hidden0  hidden1");

    // actor: cn ends at step 200, so step 300 shows "-"
    CHECK_STR_CONTAINS(out_text, "     100     0.10     0.20    0.30 |     0.90     0.80\n");
    CHECK_STR_CONTAINS(out_text, "     200     0.15     0.25    0.35 |     0.50        -\n");
    CHECK_STR_CONTAINS(out_text, "     300     0.20     0.30    0.40 |        -        -\n");
    CHECK_STR_CONTAINS(out_text, "    mean     0.15     0.25    0.35 |     0.70     0.80\n");

    // q1: the retrain record has no shared layer left
    CHECK_STR_CONTAINS(out_text, "     200     0.45     0.55    0.65 |        -        -\n");
    CHECK_STR_CONTAINS(out_text, "    mean     0.45     0.55    0.65 |     0.70     0.60\n");
}

// Runs logging at different steps: each cell shows the run's last record at
// or before the row's step, and "-" before its first record.
static void test_rows_from_logged_steps(void) {
    write_run("a", "mtsac", 0,
              "{\"step\":50,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.25},"
              "\"q1\":{\"hidden0\":0.5}}}\n"
              "{\"step\":150,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.75},"
              "\"q1\":{\"hidden0\":1}}}\n");
    write_run("b", "pcgrad", 0,
              "{\"step\":100,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.125},"
              "\"q1\":{\"hidden0\":0}}}\n");
    CHECK_EQ_INT(0, run("conflicts a b"));

    // the columns widen to the headers "a (mtsac)" and "b (pcgrad)"
    CHECK_STR_CONTAINS(out_text, "          a (mtsac) |  b (pcgrad)\n");
    CHECK_STR_CONTAINS(out_text, "    step    hidden0 |     hidden0\n");
    CHECK_STR_CONTAINS(out_text, "      50       0.25 |           -\n");
    CHECK_STR_CONTAINS(out_text, "     100       0.25 |        0.12\n");
    CHECK_STR_CONTAINS(out_text, "     150       0.75 |           -\n");

    // --rows 2 keeps the last logged step
    CHECK_EQ_INT(0, run("conflicts a b --rows 2"));
    CHECK_STR_CONTAINS(line_starting("100", 0), "0.25 |        0.12");
    CHECK_STR_CONTAINS(line_starting("150", 0), "0.75 |           -");
    CHECK(strstr(out_text, "\n      50 ") == NULL);
}

// Records without updates (null ratios, or 0 with "updates": 0 in older
// runs) show "-" and stay out of the mean.
static void test_records_without_updates(void) {
    write_run("nu", "mtsac", 0,
              "{\"step\":100,\"updates\":0,\"conflict_ratio\":{\"actor\":{\"hidden0\":null},"
              "\"q1\":{\"hidden0\":null}}}\n"
              "{\"step\":200,\"updates\":100,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.5},"
              "\"q1\":{\"hidden0\":0.25}}}\n"
              "{\"step\":300,\"updates\":200,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.25},"
              "\"q1\":{\"hidden0\":0.75}}}\n");
    write_run("old0", "mtsac", 0,
              "{\"step\":100,\"updates\":0,\"conflict_ratio\":{\"actor\":{\"hidden0\":0},"
              "\"q1\":{\"hidden0\":0}}}\n"
              "{\"step\":200,\"updates\":100,\"conflict_ratio\":{\"actor\":{\"hidden0\":1},"
              "\"q1\":{\"hidden0\":0.5}}}\n");
    CHECK_EQ_INT(0, run("conflicts nu old0"));
    // actor table: step 100 is "-" in both runs, and the means skip it
    CHECK_STR_CONTAINS(line_starting("100", 0), "-");
    CHECK(strstr(line_starting("100", 0), "0.00") == NULL);
    CHECK_STR_CONTAINS(line_starting("mean", 0), "0.38");
    CHECK_STR_CONTAINS(line_starting("mean", 0), "1.00");
    // q1 table
    CHECK(strstr(line_starting("100", 1), "0.00") == NULL);
    CHECK_STR_CONTAINS(line_starting("mean", 1), "0.50");
}

// Three runs of different methods, one without config.json and one written
// before layers were named (arrays in layer order).
static void test_three_runs_and_old_records(void) {
    write_run("old", NULL, 0,
              "{\"step\":100,\"conflict_ratio\":{\"actor\":[0.1,0.2],\"q1\":[0.3,0.4]}}\n");
    CHECK_EQ_INT(0, run("conflicts mt cn old/"));
    CHECK_STR_CONTAINS(out_text, "old (?): 1 record, steps 100 to 100");
    CHECK_STR_CONTAINS(line_starting("mt (mtsac)", 1), "|  cn (conal)");
    CHECK_STR_CONTAINS(line_starting("mt (mtsac)", 1), "|  old (?)");
    CHECK_STR_CONTAINS(line_starting("step", 0), "|  layer1  layer2");
    CHECK_STR_CONTAINS(out_text, "     100     0.10     0.20    0.30 |     0.90     0.80 |"
                                 "    0.10    0.20\n");
}

// Runs in directories of the same name are labelled with their paths.
static void test_same_names_use_paths(void) {
    char path[700];
    snprintf(path, sizeof path, "%s/x", tmp);
    mkdir(path, 0755);
    write_run("x/mt", "mtsac", 0,
              "{\"step\":100,\"conflict_ratio\":{\"actor\":{\"hidden0\":0.5},"
              "\"q1\":{\"hidden0\":0.5}}}\n");
    CHECK_EQ_INT(0, run("conflicts mt x/mt"));
    CHECK_STR_CONTAINS(out_text, "  mt (mtsac): 3 records");
    CHECK_STR_CONTAINS(out_text, "  x/mt (mtsac): 1 record");
}

// Bad input: non-zero exit and a message naming the file, line or value.
static void test_conflicts_errors(void) {
    write_run("bad", "mtsac", 0, "{\"step\":1}\nnot json\n");
    CHECK(run("conflicts bad") != 0);
    CHECK_STR_CONTAINS(out_text, "bad/metrics.jsonl:2: not a metrics record with a step");
    write_run("none", "mtsac", 0, "{\"step\":1}\n");
    CHECK(run("conflicts none") != 0);
    CHECK_STR_CONTAINS(out_text, "none/metrics.jsonl: no record has conflict_ratio");
    CHECK(run("conflicts missing") != 0);
    CHECK_STR_CONTAINS(out_text, "missing/metrics.jsonl");
    CHECK_EQ_INT(2, run("conflicts --rows 0 mt"));
    CHECK_STR_CONTAINS(out_text, "--rows: expected an integer in 1..10000, got '0'");
    CHECK_EQ_INT(2, run("conflicts mt --rows"));
    CHECK_STR_CONTAINS(out_text, "--rows: missing value");
    CHECK(run("conflicts") != 0);
    CHECK_STR_CONTAINS(out_text, "usage: conal conflicts");
}

int main(void) {
    struct stat st;
    if (stat(CONAL_BINARY_DIR "/conal", &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s/conal is not the conal binary (build the conal_cli target)\n",
                CONAL_BINARY_DIR);
        return 1;
    }
    check_tmpdir(tmp, sizeof tmp, "conflicts");
    RUN_TEST(test_shorter_run_shows_dash);
    RUN_TEST(test_rows_from_logged_steps);
    RUN_TEST(test_records_without_updates);
    RUN_TEST(test_three_runs_and_old_records);
    RUN_TEST(test_same_names_use_paths);
    RUN_TEST(test_conflicts_errors);
    check_rmtree(tmp);
    return check_summary();
}
