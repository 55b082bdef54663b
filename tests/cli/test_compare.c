// Tests of `conal compare`. The statistics are checked against closed forms
// and table values. Loading, aggregation and flagging run on directories this
// test writes into a private temporary directory. The output formats, both
// plot formats and the command's exit codes are checked last.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "cli/compare.h"
#include "cli/compare_stats.h"
#include "cli/compare_vision.h"
#include "common/error.h"
#include "tests/check.h"

static char tmp_root[512];

// ---- statistics ----

static void test_betainc_closed_forms(void) {
    const double xs[4] = {0.05, 0.3, 0.5, 0.92};
    for (int i = 0; i < 4; i++) {
        double x = xs[i];
        CHECK_NEAR(x, compare_betainc(1.0, 1.0, x), 1e-12);
        CHECK_NEAR(pow(x, 3.5), compare_betainc(3.5, 1.0, x), 1e-12);
        CHECK_NEAR(1.0 - pow(1.0 - x, 2.5), compare_betainc(1.0, 2.5, x), 1e-12);
    }
    CHECK_NEAR(0.5, compare_betainc(7.3, 7.3, 0.5), 1e-12);

    // integer a, b: I_x(a, b) = P(Binomial(a + b - 1, x) >= a);
    // I_0.3(2, 3) = 1 - 0.7^4 - 4 * 0.3 * 0.7^3 = 0.3483
    CHECK_NEAR(0.3483, compare_betainc(2.0, 3.0, 0.3), 1e-12);
    CHECK_NEAR(0.0, compare_betainc(2.0, 3.0, 0.0), 0.0);
    CHECK_NEAR(1.0, compare_betainc(2.0, 3.0, 1.0), 0.0);
    CHECK(isnan(compare_betainc(-1.0, 3.0, 0.5)));
    CHECK(isnan(compare_betainc(2.0, 3.0, 1.5)));
}

static void test_t_cdf_known_values(void) {
    // df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t) / pi
    const double ts[5] = {-3.0, -0.4, 0.0, 1.0, 12.0};
    for (int i = 0; i < 5; i++) {
        double t = ts[i];
        CHECK_NEAR(0.5 + atan(t) / (4.0 * atan(1.0)), compare_t_cdf(t, 1.0), 1e-12);

        // df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
        CHECK_NEAR(0.5 + t / (2.0 * sqrt(2.0 + t * t)), compare_t_cdf(t, 2.0), 1e-12);

        // df = 4: F(t) = 1/2 + 3/8 u (1 - u^2 / 12), u = t / sqrt(1 + t^2/4)
        double u = t / sqrt(1.0 + t * t / 4.0);
        CHECK_NEAR(0.5 + 0.375 * u * (1.0 - u * u / 12.0), compare_t_cdf(t, 4.0), 1e-12);
    }

    // quantiles from standard t tables
    CHECK_NEAR(0.975, compare_t_cdf(2.228138852, 10.0), 1e-9);
    CHECK_NEAR(0.995, compare_t_cdf(4.032142984, 5.0), 1e-9);
    CHECK_NEAR(0.95, compare_t_cdf(1.697260887, 30.0), 1e-9);
    CHECK_NEAR(0.025, compare_t_cdf(-2.228138852, 10.0), 1e-9);

    // large df approaches the normal distribution
    CHECK_NEAR(0.975, compare_t_cdf(1.959963985, 1e7), 1e-6);
    CHECK(isnan(compare_t_cdf(1.0, 0.0)));
}

static void test_welch_known_values(void) {
    // equal variances and sizes: df = 2 (n - 1) = 4, t = -3 / sqrt(2/3)
    double a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
    CompareWelch w;
    CHECK_EQ_INT(0, compare_welch(a, 3, b, 3, &w));
    CHECK_NEAR(-3.0 / sqrt(2.0 / 3.0), w.t, 1e-12);
    CHECK_NEAR(4.0, w.df, 1e-12);
    double u = fabs(w.t) / sqrt(1.0 + w.t * w.t / 4.0);
    double upper = 0.5 - 0.375 * u * (1.0 - u * u / 12.0);
    CHECK_NEAR(2.0 * upper, w.p, 1e-12);

    // unequal variances: var 5/3 over 4 values and 4 over 3 values, so
    // t = -1.5 / sqrt(1.75) and df = 1.75^2 / ((5/12)^2 / 3 + (4/3)^2 / 2)
    double c[4] = {1, 2, 3, 4}, d[3] = {2, 4, 6};
    CHECK_EQ_INT(0, compare_welch(c, 4, d, 3, &w));
    CHECK_NEAR(-1.5 / sqrt(1.75), w.t, 1e-12);
    double df = 1.75 * 1.75 / (pow(5.0 / 12.0, 2) / 3.0 + pow(4.0 / 3.0, 2) / 2.0);
    CHECK_NEAR(df, w.df, 1e-12);
    CHECK(w.p > 0.3);
    CHECK(w.p < 0.4);

    // undefined with one value or no variance
    CHECK_EQ_INT(-1, compare_welch(a, 1, b, 3, &w));
    CHECK(isnan(w.p));
    double same[3] = {2, 2, 2};
    CHECK_EQ_INT(-1, compare_welch(same, 3, same, 3, &w));
}

static void test_mean_std(void) {
    double x[4] = {2, 4, 4, 6};
    CHECK_NEAR(4.0, compare_mean(x, 4), 1e-15);
    CHECK_NEAR(sqrt(8.0 / 3.0), compare_std(x, 4), 1e-15);
    CHECK(isnan(compare_std(x, 1)));
    CHECK(isnan(compare_mean(x, 0)));
}

// ---- run fixtures ----

static const char *const task_names[3] = {"reach-v3", "push-v3", "door-open-v3"};

// Writes text to dir/name.
static void write_file(const char *dir, const char *name, const char *text) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

// Deletes dir/name.
static void remove_file(const char *dir, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK_EQ_INT(0, remove(path));
}

// A run directory under the temporary root: config.json, eval.jsonl with
// n_evals lines at steps 1000, 2000, ... where task t's success at
// evaluation e is success[e][t], and summary.json with speed and size.
typedef struct Fixture {
    const char *name;
    const char *method;
    int seed;
    int episode_length;
    long long steps;
    int n_evals;
    double success[4][3];
    double sps;              // <= 0: no summary.json
    const char *task2;       // name of the third task (NULL: door-open-v3)
} Fixture;

static void fixture_write(const Fixture *fx, char *dir, size_t dir_sz) {
    snprintf(dir, dir_sz, "%s/%s", tmp_root, fx->name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK_EQ_INT(0, system(cmd));

    char text[4096];
    snprintf(text, sizeof text,
             "{\"seed\": %d, \"env\": {\"episode_length\": %d},\n"
             " \"agent\": {\"method\": \"%s\", \"actor\": {\"hidden\": [400, 400, 400]},\n"
             "           \"critic\": {\"hidden\": [400, 400, 400]}},\n"
             " \"train\": {\"steps\": %lld, \"batch_size\": 128}}\n",
             fx->seed, fx->episode_length, fx->method, fx->steps);
    write_file(dir, "config.json", text);

    size_t len = 0;
    for (int e = 0; e < fx->n_evals; e++) {
        const double *s = fx->success[e];
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "{\"step\": %d, \"success\": {\"%s\": %g, \"%s\": %g, "
                                "\"%s\": %g}, \"mean_success\": %.17g}\n",
                                1000 * (e + 1), task_names[0], s[0], task_names[1], s[1],
                                fx->task2 ? fx->task2 : task_names[2], s[2],
                                (s[0] + s[1] + s[2]) / 3.0);
    }
    write_file(dir, "eval.jsonl", text);
    if (fx->sps > 0) {
        snprintf(text, sizeof text, "{\"env_steps_per_s\": %g, \"n_params\": 1234567}\n",
                 fx->sps);
        write_file(dir, "summary.json", text);
    }
}

// Seed-mean success of task t of a fixture list at evaluation e.
static double mean_over(const Fixture *fx, int n, int e, int t) {
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        s += t < 0 ? (fx[i].success[e][0] + fx[i].success[e][1] + fx[i].success[e][2]) / 3.0
                   : fx[i].success[e][t];
    }
    return s / n;
}

// Two methods with three seeds each, 3 evaluations of 3 tasks, 3000 steps.
static const Fixture base_runs[6] = {
    {"mt1", "mtsac", 1, 150, 3000, 3, {{0.0, 0.2, 0.0}, {0.4, 0.4, 0.2}, {0.2, 0.4, 0.2}},
     100.0, NULL},
    {"mt2", "mtsac", 2, 150, 3000, 3, {{0.2, 0.2, 0.0}, {0.6, 0.2, 0.2}, {0.4, 0.4, 0.0}},
     110.0, NULL},
    {"mt3", "mtsac", 3, 150, 3000, 3, {{0.0, 0.0, 0.2}, {0.2, 0.4, 0.6}, {0.8, 0.2, 0.2}},
     90.0, NULL},
    {"pc1", "pcgrad", 1, 150, 3000, 3, {{0.2, 0.2, 0.2}, {0.6, 0.8, 0.4}, {1.0, 0.8, 0.6}},
     80.0, NULL},
    {"pc2", "pcgrad", 2, 150, 3000, 3, {{0.4, 0.2, 0.0}, {0.8, 0.6, 0.6}, {0.8, 0.8, 0.8}},
     80.0, NULL},
    {"pc3", "pcgrad", 3, 150, 3000, 3, {{0.2, 0.4, 0.2}, {0.6, 0.6, 0.4}, {1.0, 1.0, 0.6}},
     80.0, NULL},
};

// Writes the six base runs and returns their directories.
static void write_base_runs(char dirs[6][1024]) {
    for (int i = 0; i < 6; i++) {
        fixture_write(&base_runs[i], dirs[i], sizeof dirs[i]);
    }
}

// Builds a set from directory strings; returns compare_set_build's code.
static int build(CompareSet *set, char dirs[][1024], int n, const char *baseline, char *err,
                 size_t err_sz) {
    const char *ptrs[16];
    for (int i = 0; i < n; i++) {
        ptrs[i] = dirs[i];
    }
    return compare_set_build(set, ptrs, n, baseline, err, err_sz);
}

// ---- aggregation ----

static void test_aggregate_two_methods(void) {
    char dirs[6][1024], err[1024] = "";
    write_base_runs(dirs);
    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 6, NULL, err, sizeof err));
    CHECK_EQ_INT(2, set->n_groups);
    CHECK_EQ_INT(3, set->n_tasks);
    CHECK(strcmp(set->groups[0].method, "mtsac") == 0);
    CHECK_EQ_INT(0, set->baseline);

    // mtsac: the seed-mean curve peaks at the second evaluation (step 2000)
    const CompareGroup *mt = &set->groups[0];
    CHECK_EQ_INT(3, mt->n_runs);
    CHECK_EQ_INT(3, mt->n_steps);
    CHECK_EQ_INT(2000, mt->best.step);
    CHECK_NEAR(mean_over(base_runs, 3, 1, -1), mt->best.mean, 1e-12);
    double seeds[3];
    for (int i = 0; i < 3; i++) {
        const double *s = base_runs[i].success[1];
        seeds[i] = (s[0] + s[1] + s[2]) / 3.0;
    }
    CHECK_NEAR(compare_std(seeds, 3), mt->best.std, 1e-12);
    CHECK_EQ_INT(3000, mt->final.step);
    CHECK_NEAR(mean_over(base_runs, 3, 2, -1), mt->final.mean, 1e-12);

    // per task the maximum is taken per task: reach-v3 peaks at step 3000
    CHECK_EQ_INT(3000, mt->task_best[0].step);
    CHECK_NEAR(mean_over(base_runs, 3, 2, 0), mt->task_best[0].mean, 1e-12);
    CHECK_EQ_INT(2000, mt->task_best[2].step);
    CHECK_NEAR(mean_over(base_runs, 3, 1, 2), mt->task_best[2].mean, 1e-12);

    // pcgrad: best at the last step; p against mtsac from the per-seed values
    const CompareGroup *pc = &set->groups[1];
    CHECK_EQ_INT(3000, pc->best.step);
    double pc_seeds[3];
    for (int i = 0; i < 3; i++) {
        const double *s = base_runs[3 + i].success[2];
        pc_seeds[i] = (s[0] + s[1] + s[2]) / 3.0;
    }
    CompareWelch w;
    compare_welch(pc_seeds, 3, seeds, 3, &w);
    CHECK_NEAR(w.p, pc->p_best, 1e-12);
    CHECK(pc->p_best < 0.05);
    CHECK(isnan(mt->p_best));

    // speed: mtsac 100 steps/s, pcgrad 80 steps/s, relative to the slowest
    CHECK_NEAR(100.0, mt->sps, 1e-9);
    CHECK_NEAR(1.25, mt->speed_ratio, 1e-12);
    CHECK_NEAR(1.0, pc->speed_ratio, 1e-12);
    CHECK_NEAR(1234567.0, pc->n_params, 0.0);
    compare_set_deinit(set);
    free(set);
}

static void test_baseline_option(void) {
    char dirs[6][1024], err[1024] = "";
    write_base_runs(dirs);
    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 6, "pcgrad", err, sizeof err));
    CHECK_EQ_INT(1, set->baseline);
    CHECK(!isnan(set->groups[0].p_best));
    compare_set_deinit(set);

    CHECK(build(set, dirs, 6, "cagrad", err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "--baseline cagrad");
    free(set);
}

static void test_one_seed_prints_na(void) {
    char dirs[2][1024], err[1024] = "";
    fixture_write(&base_runs[0], dirs[0], sizeof dirs[0]);
    fixture_write(&base_runs[3], dirs[1], sizeof dirs[1]);
    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 2, NULL, err, sizeof err));
    CHECK(isnan(set->groups[0].best.std));
    CHECK(isnan(set->groups[1].p_best));

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    compare_set_write(set, COMPARE_TABLE, out);
    fclose(out);
    CHECK_STR_CONTAINS(text, "+- n/a");
    CHECK_STR_CONTAINS(text, "baseline");
    free(text);
    compare_set_deinit(set);
    free(set);
}

// ---- flagging ----

static void test_mismatched_runs_excluded(void) {
    char dirs[6][1024], err[1024] = "";
    write_base_runs(dirs);
    Fixture long_ep = base_runs[4];
    long_ep.name = "long_episodes";
    long_ep.episode_length = 500;
    fixture_write(&long_ep, dirs[2], sizeof dirs[2]);
    Fixture other_task = base_runs[5];
    other_task.name = "other_task";
    other_task.task2 = "drawer-open-v3";
    fixture_write(&other_task, dirs[3], sizeof dirs[3]);
    Fixture short_run = base_runs[3];
    short_run.name = "short_run";
    short_run.steps = 6000;
    fixture_write(&short_run, dirs[4], sizeof dirs[4]);

    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 5, NULL, err, sizeof err));
    CHECK_EQ_INT(1, set->runs[2].head.excluded);
    CHECK_STR_CONTAINS(set->runs[2].head.flag, "episode length 500, reference 150");
    CHECK_EQ_INT(1, set->runs[3].head.excluded);
    CHECK_STR_CONTAINS(set->runs[3].head.flag, "drawer-open-v3");
    CHECK_EQ_INT(1, set->runs[4].head.excluded);
    CHECK_STR_CONTAINS(set->runs[4].head.flag, "train.steps 6000");

    // the excluded runs are in no group, and the flags reach the output
    CHECK_EQ_INT(1, set->n_groups);
    CHECK_EQ_INT(2, set->groups[0].n_runs);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    compare_set_write(set, COMPARE_MD, out);
    fclose(out);
    CHECK_STR_CONTAINS(text, "flagged runs:");
    CHECK_STR_CONTAINS(text, "long_episodes");
    free(text);
    compare_set_deinit(set);
    free(set);
}

static void test_incomplete_run_marked(void) {
    char dirs[3][1024], err[1024] = "";
    fixture_write(&base_runs[0], dirs[0], sizeof dirs[0]);
    fixture_write(&base_runs[1], dirs[1], sizeof dirs[1]);
    Fixture partial = base_runs[2];
    partial.name = "partial";
    partial.n_evals = 2;
    fixture_write(&partial, dirs[2], sizeof dirs[2]);

    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 3, NULL, err, sizeof err));
    CHECK_EQ_INT(1, set->runs[2].incomplete);
    CHECK_EQ_INT(0, set->runs[2].head.excluded);
    CHECK_STR_CONTAINS(set->runs[2].head.flag, "last evaluation at step 2000 of 3000");

    // the group keeps all three seeds but only the two common steps
    const CompareGroup *grp = &set->groups[0];
    CHECK_EQ_INT(3, grp->n_runs);
    CHECK_EQ_INT(2, grp->n_steps);
    CHECK_EQ_INT(1, grp->incomplete);
    CHECK_EQ_INT(2000, grp->final.step);
    compare_set_deinit(set);
    free(set);
}

// A run stopped before its first evaluation has no eval.jsonl: it is
// listed as incomplete and the others are compared; alone it is an error.
static void test_run_without_evals_flagged(void) {
    char dirs[3][1024], err[1024] = "";
    Fixture early = base_runs[0];
    early.name = "early";
    fixture_write(&early, dirs[0], sizeof dirs[0]);
    remove_file(dirs[0], "eval.jsonl");
    fixture_write(&base_runs[1], dirs[1], sizeof dirs[1]);
    fixture_write(&base_runs[2], dirs[2], sizeof dirs[2]);

    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 3, NULL, err, sizeof err));
    CHECK_EQ_INT(1, set->runs[0].head.excluded);
    CHECK_EQ_INT(1, set->runs[0].incomplete);
    CHECK_STR_CONTAINS(set->runs[0].head.flag, "incomplete: no eval.jsonl");
    CHECK_EQ_INT(1, set->n_groups);
    CHECK_EQ_INT(2, set->groups[0].n_runs);
    CHECK_EQ_INT(3, set->n_tasks);
    compare_set_deinit(set);

    CHECK_EQ_INT(ERR_MISMATCH, build(set, dirs, 1, NULL, err, sizeof err));
    CHECK_STR_CONTAINS(err, "no usable run");
    CHECK_STR_CONTAINS(err, "no eval.jsonl");
    free(set);
}

// A `conal vision` run directory is named as such, not as a broken config.
static void test_vision_run_rejected(void) {
    char dir[1100], err[1024] = "";
    snprintf(dir, sizeof dir, "%s/vision-run", tmp_root);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK_EQ_INT(0, system(cmd));
    write_file(dir, "config.json", "{\"dataset\": \"multifashion\", \"method\": \"hps\"}\n");
    CompareRun run;
    CHECK_EQ_INT(ERR_ARG, compare_run_load(&run, dir, err, sizeof err));
    CHECK_STR_CONTAINS(err, "is a `conal vision` run");
}

static void test_duplicate_run_excluded(void) {
    char dirs[2][1024], err[1024] = "";
    fixture_write(&base_runs[0], dirs[0], sizeof dirs[0]);
    size_t len = strlen(dirs[0]);
    CHECK(len + 2 < sizeof dirs[1]);
    memcpy(dirs[1], dirs[0], len);
    dirs[1][len] = '/';
    dirs[1][len + 1] = '\0';
    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 2, NULL, err, sizeof err));
    CHECK_EQ_INT(1, set->runs[1].head.excluded);
    CHECK_STR_CONTAINS(set->runs[1].head.flag, "same method and seed");
    CHECK_EQ_INT(1, set->groups[0].n_runs);
    compare_set_deinit(set);
    free(set);
}

// A run of the same method with another learning rate is not a seed of the
// same experiment; a different log interval does not matter.
static void test_different_config_excluded(void) {
    char dirs[3][1024], err[1024] = "";
    fixture_write(&base_runs[0], dirs[0], sizeof dirs[0]);
    Fixture other_lr = base_runs[1];
    other_lr.name = "other_lr";
    fixture_write(&other_lr, dirs[1], sizeof dirs[1]);
    write_file(dirs[1], "config.json",
               "{\"seed\": 2, \"env\": {\"episode_length\": 150},\n"
               " \"agent\": {\"method\": \"mtsac\", \"actor\": {\"hidden\": [400, 400, 400]},\n"
               "           \"critic\": {\"hidden\": [400, 400, 400]}, \"critic_lr\": 0.001},\n"
               " \"train\": {\"steps\": 3000, \"batch_size\": 128}}\n");
    Fixture other_log = base_runs[2];
    other_log.name = "other_log";
    fixture_write(&other_log, dirs[2], sizeof dirs[2]);
    write_file(dirs[2], "config.json",
               "{\"seed\": 3, \"env\": {\"episode_length\": 150},\n"
               " \"agent\": {\"method\": \"mtsac\", \"actor\": {\"hidden\": [400, 400, 400]},\n"
               "           \"critic\": {\"hidden\": [400, 400, 400]}},\n"
               " \"train\": {\"steps\": 3000, \"batch_size\": 128, \"log_interval\": 7}}\n");

    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 3, NULL, err, sizeof err));
    CHECK_EQ_INT(1, set->runs[1].head.excluded);
    CHECK_STR_CONTAINS(set->runs[1].head.flag, "config differs");
    CHECK_STR_CONTAINS(set->runs[1].head.flag, "agent.critic_lr");
    CHECK_EQ_INT(0, set->runs[2].head.excluded);
    CHECK_EQ_INT(2, set->groups[0].n_runs);
    compare_set_deinit(set);
    free(set);
}

static void test_bad_eval_line_rejected(void) {
    char dir[1024], err[1024] = "";
    fixture_write(&base_runs[0], dir, sizeof dir);
    write_file(dir, "eval.jsonl",
               "{\"step\": 1000, \"success\": {\"reach-v3\": 0.5}, \"mean_success\": 0.5}\n"
               "{\"step\": 2000, \"success\": {\"reach-v3\": \"high\"}, \"mean_success\": 1}\n");
    CompareRun run;
    CHECK(compare_run_load(&run, dir, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "eval.jsonl:2");
    CHECK_STR_CONTAINS(err, "not a number");

    // steps must increase
    write_file(dir, "eval.jsonl",
               "{\"step\": 2000, \"success\": {\"reach-v3\": 0.5}, \"mean_success\": 0.5}\n"
               "{\"step\": 1000, \"success\": {\"reach-v3\": 0.5}, \"mean_success\": 0.5}\n");
    CHECK(compare_run_load(&run, dir, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "does not increase");

    // a missing method is named
    write_file(dir, "config.json", "{\"agent\": {}}\n");
    CHECK(compare_run_load(&run, dir, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "agent.method");
}

static void test_truncated_last_line_ignored(void) {
    char dir[1024], err[1024] = "";
    fixture_write(&base_runs[0], dir, sizeof dir);
    write_file(dir, "eval.jsonl",
               "{\"step\": 1000, \"success\": {\"reach-v3\": 0.5}, \"mean_success\": 0.5}\n"
               "{\"step\": 2000, \"succ");
    CompareRun run;
    CHECK_EQ_INT(0, compare_run_load(&run, dir, err, sizeof err));
    CHECK_EQ_INT(1, run.n_evals);
    compare_run_deinit(&run);

    // the same line with a newline after it was complete, so it is an error
    write_file(dir, "eval.jsonl",
               "{\"step\": 1000, \"success\": {\"reach-v3\": 0.5}, \"mean_success\": 0.5}\n"
               "{\"step\": 2000, \"succ\n");
    CHECK(compare_run_load(&run, dir, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "invalid JSON");
}

static void test_speed_from_metrics(void) {
    char dir[1024], err[1024] = "";
    Fixture fx = base_runs[0];
    fx.name = "speed_metrics";
    fx.sps = 0.0;
    fixture_write(&fx, dir, sizeof dir);

    // 1000 steps at 500/s; 1000 steps at 500/s plus 1000 updates at 100/s; a
    // repeated step after a resume; 1000 steps at 1000/s plus 1000 updates at
    // 200/s: 3000 steps in 2 + 12 + 6 = 20 s
    write_file(dir, "metrics.jsonl",
               "{\"step\": 1000, \"updates\": 0, \"env_steps_per_s\": 500, "
               "\"updates_per_s\": 0}\n"
               "{\"step\": 2000, \"updates\": 1000, \"env_steps_per_s\": 500, "
               "\"updates_per_s\": 100}\n"
               "{\"step\": 2000, \"updates\": 1000, \"env_steps_per_s\": 9999, "
               "\"updates_per_s\": 9999}\n"
               "{\"step\": 3000, \"updates\": 2000, \"env_steps_per_s\": 1000, "
               "\"updates_per_s\": 200, \"n_params\": 42}\n");
    CompareRun run;
    CHECK_EQ_INT(0, compare_run_load(&run, dir, err, sizeof err));
    CHECK_NEAR(150.0, run.sps, 1e-9);
    CHECK_NEAR(42.0, run.n_params, 0.0);
    compare_run_deinit(&run);

    // records with the time breakdown: env and update seconds count, the
    // evaluation seconds do not; 3000 steps in 2 + (2 + 10) + 6 = 20 s
    write_file(dir, "metrics.jsonl",
               "{\"step\": 1000, \"updates\": 0, \"steps_per_s\": 400, \"env_s\": 2, "
               "\"update_s\": 0, \"eval_s\": 0.5}\n"
               "{\"step\": 2000, \"updates\": 1000, \"steps_per_s\": 50, \"env_s\": 2, "
               "\"update_s\": 10, \"eval_s\": 8}\n"
               "{\"step\": 3000, \"updates\": 2000, \"steps_per_s\": 125, \"env_s\": 1, "
               "\"update_s\": 5, \"eval_s\": 2}\n");
    CHECK_EQ_INT(0, compare_run_load(&run, dir, err, sizeof err));
    CHECK_NEAR(150.0, run.sps, 1e-9);
    compare_run_deinit(&run);

    // without metrics, summary.json's steps / wall_seconds
    remove_file(dir, "metrics.jsonl");
    write_file(dir, "summary.json", "{\"steps\": 3000, \"wall_seconds\": 60}\n");
    CHECK_EQ_INT(0, compare_run_load(&run, dir, err, sizeof err));
    CHECK_NEAR(50.0, run.sps, 1e-9);

    // without n_params anywhere, the count of the config's networks: MT-SAC
    // with three hidden layers of 400 and the task one-hot on the inputs,
    // actor (39 + 10 -> 400 -> 400 -> 400 -> 8) 344008, each critic
    // (39 + 4 + 10 -> 400 -> 400 -> 400 -> 1) 342801
    CHECK_NEAR(344008.0 + 2 * 342801.0, run.n_params, 0.0);
    compare_run_deinit(&run);
}

// ---- output ----

// Runs compare_set_write into a string the caller frees.
static char *write_to_string(const CompareSet *set, CompareFormat format) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    compare_set_write(set, format, out);
    fclose(out);
    return text;
}

static void test_output_formats(void) {
    char dirs[6][1024], err[1024] = "";
    write_base_runs(dirs);
    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 6, NULL, err, sizeof err));

    char *table = write_to_string(set, COMPARE_TABLE);
    CHECK_STR_CONTAINS(table, "pcgrad");
    CHECK_STR_CONTAINS(table, "door-open-v3");
    CHECK_STR_CONTAINS(table, "1.25x");
    free(table);

    char *md = write_to_string(set, COMPARE_MD);
    CHECK_STR_CONTAINS(md, "|---|");
    free(md);

    char *csv = write_to_string(set, COMPARE_CSV);
    CHECK_STR_CONTAINS(csv, "method,metric,task,mean,std,step,n_seeds\n");
    CHECK_STR_CONTAINS(csv, "mtsac,speed_ratio,,1.25,,3000,3\n");
    free(csv);

    char *json = write_to_string(set, COMPARE_JSON);
    cJSON *root = cJSON_Parse(json);
    CHECK(root != NULL);
    const cJSON *methods = cJSON_GetObjectItemCaseSensitive(root, "methods");
    CHECK_EQ_INT(2, cJSON_GetArraySize(methods));
    const cJSON *pc = cJSON_GetArrayItem(methods, 1);
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(pc, "success_best");
    CHECK_NEAR(set->groups[1].best.mean,
               cJSON_GetObjectItemCaseSensitive(best, "mean")->valuedouble, 1e-12);
    CHECK_EQ_INT(3, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pc, "curve")));
    cJSON_Delete(root);
    free(json);
    compare_set_deinit(set);
    free(set);
}

// Reads a whole file into a malloc'd string.
static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

static void test_plots_written(void) {
    char dirs[6][1024], err[1024] = "", path[1100];
    write_base_runs(dirs);
    CompareSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, build(set, dirs, 6, NULL, err, sizeof err));

    snprintf(path, sizeof path, "%s/plot.svg", tmp_root);
    CHECK_EQ_INT(0, compare_plot_svg(set, path, err, sizeof err));
    size_t n = 0;
    char *svg = slurp(path, &n);
    CHECK_STR_CONTAINS(svg, "<svg");
    CHECK_STR_CONTAINS(svg, "<polyline");
    CHECK_STR_CONTAINS(svg, "<polygon");
    CHECK_STR_CONTAINS(svg, ">pcgrad (3 seeds)</text>");
    free(svg);

#ifdef CONAL_HAVE_PNG
    snprintf(path, sizeof path, "%s/plot.png", tmp_root);
    CHECK_EQ_INT(0, compare_plot_png(set, path, err, sizeof err));
    unsigned char *png = (unsigned char *)slurp(path, &n);
    CHECK(n > 33);
    CHECK_EQ_INT(0, memcmp(png, "\x89PNG\r\n\x1a\n", 8));

    // IHDR: big-endian width and height right after the chunk type
    CHECK_EQ_INT(900, (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19]);
    CHECK_EQ_INT(540, (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23]);
    free(png);
#endif

    snprintf(path, sizeof path, "%s/missing-dir/plot.svg", tmp_root);
    CHECK(compare_plot_svg(set, path, err, sizeof err) != 0);
    CHECK_STR_CONTAINS(err, "cannot open");
    compare_set_deinit(set);
    free(set);
}

// ---- vision runs ----

// A `conal vision` run directory under the temporary root: config.json and,
// unless summary is 0, summary.json with two tasks (top_left acc,
// bottom_right acc and abs_err). A NaN delta_i is written as null.
typedef struct VisionFixture {
    const char *name;
    const char *method;
    int seed;
    int epochs;
    int summary;
    double top_acc, bottom_acc, bottom_err;
    double delta_i, mean_first, params, seconds;
} VisionFixture;

static void vision_fixture_write(const VisionFixture *fx, char *dir, size_t dir_sz) {
    snprintf(dir, dir_sz, "%s/%s", tmp_root, fx->name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK_EQ_INT(0, system(cmd));
    char text[2048];
    snprintf(text, sizeof text,
             "{\"dataset\": \"multifashion\", \"data\": {\"n_train\": 0, \"n_test\": 500},\n"
             " \"method\": \"%s\", \"seed\": %d, \"train\": {\"epochs\": %d}}\n",
             fx->method, fx->seed, fx->epochs);
    write_file(dir, "config.json", text);
    if (!fx->summary) {
        return;
    }
    char delta[96];
    if (isnan(fx->delta_i)) {
        snprintf(delta, sizeof delta, "null, \"delta_i_missing\": \"no stl summary\"");
    } else {
        snprintf(delta, sizeof delta, "%.17g", fx->delta_i);
    }
    char top[40];
    snprintf(top, sizeof top, isnan(fx->top_acc) ? "null" : "%.17g", fx->top_acc);
    snprintf(text, sizeof text,
             "{\"dataset\": \"multifashion\", \"method\": \"%s\", \"seed\": %d,\n"
             " \"params\": %.0f, \"train_seconds\": %.17g,\n"
             " \"test\": {\"top_left\": {\"acc\": %s},\n"
             "          \"bottom_right\": {\"acc\": %.17g, \"abs_err\": %.17g}},\n"
             " \"mean_first_metric\": %.17g, \"delta_i\": %s}\n",
             fx->method, fx->seed, fx->params, fx->seconds, top, fx->bottom_acc,
             fx->bottom_err, fx->mean_first, delta);
    write_file(dir, "summary.json", text);
}

// Two methods with two seeds each, an incomplete run, a run with other
// epochs and an stl seed whose delta_i is null.
static const VisionFixture vision_runs[7] = {
    {"v-hps-s1", "hps", 1, 6, 1, 0.70, 0.80, 0.5, 1.0, 0.75, 1000, 100},
    {"v-hps-s2", "hps", 2, 6, 1, 0.72, 0.84, 0.7, 3.0, 0.78, 1000, 120},
    {"v-stl-s1", "stl", 1, 6, 1, 0.68, 0.80, 0.6, 0.0, 0.74, 2000, 200},
    {"v-stl-s2", "stl", 2, 6, 1, 0.70, 0.78, 0.6, 0.0, 0.74, 2000, 220},
    {"v-hps-s3", "hps", 3, 6, 0, 0, 0, 0, 0, 0, 0, 0},
    {"v-stl-s3", "stl", 3, 5, 1, 0.90, 0.90, 0.1, 9.0, 0.90, 2000, 90},
    {"v-stl-s4", "stl", 4, 6, 1, 0.69, 0.79, 0.6, NAN, 0.74, 2000, 210},
};

static void write_vision_runs(char dirs[7][1024]) {
    for (int i = 0; i < 7; i++) {
        vision_fixture_write(&vision_runs[i], dirs[i], sizeof dirs[i]);
    }
}

static int vision_build(VisionSet *set, char dirs[][1024], int n, const char *baseline,
                        char *err, size_t err_sz) {
    const char *ptrs[16];
    for (int i = 0; i < n; i++) {
        ptrs[i] = dirs[i];
    }
    return vision_set_build(set, ptrs, n, baseline, err, err_sz);
}

static void test_vision_aggregate(void) {
    char dirs[7][1024], err[1024] = "";
    write_vision_runs(dirs);
    VisionSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, vision_build(set, dirs, 6, NULL, err, sizeof err));
    CHECK_EQ_INT(2, set->n_groups);
    CHECK_EQ_INT(3, set->n_metrics);
    CHECK(strcmp(set->metrics[2].task, "bottom_right") == 0);
    CHECK(strcmp(set->metrics[2].name, "abs_err") == 0);
    CHECK_EQ_INT(0, set->metrics[1].lower_is_better);
    CHECK_EQ_INT(1, set->metrics[2].lower_is_better);
    CHECK_EQ_INT(1, set->baseline);   // stl by default

    const VisionGroup *hps = &set->groups[0], *stl = &set->groups[1];
    CHECK(strcmp(hps->method, "hps") == 0);
    CHECK_EQ_INT(2, hps->n_runs);
    CHECK_EQ_INT(2, stl->n_runs);
    CHECK_NEAR(0.71, hps->metric[0].mean, 1e-12);
    CHECK_NEAR(sqrt(0.0002), hps->metric[0].std, 1e-12);
    CHECK_NEAR(0.82, hps->metric[1].mean, 1e-12);
    CHECK_NEAR(sqrt(0.0008), hps->metric[1].std, 1e-12);
    CHECK_NEAR(0.6, hps->metric[2].mean, 1e-12);
    CHECK_NEAR(2.0, hps->delta_i.mean, 1e-12);
    CHECK_NEAR(sqrt(2.0), hps->delta_i.std, 1e-12);
    CHECK_NEAR(0.0, stl->delta_i.std, 1e-12);
    CHECK_NEAR(1000.0, hps->params, 0.0);
    CHECK_NEAR(110.0, hps->train_seconds, 1e-12);
    CHECK_NEAR(110.0 / 210.0, hps->time_ratio, 1e-12);
    CHECK_NEAR(1.0, stl->time_ratio, 1e-12);

    // Delta_I {1, 3} against {0, 0}: t = 2, df = 1, a Cauchy tail
    CHECK(strcmp(hps->p_on, "delta_i") == 0);
    CHECK_NEAR(1.0 - 2.0 * atan(2.0) / (4.0 * atan(1.0)), hps->p, 1e-9);
    CHECK(isnan(stl->p));

    // the incomplete and the mismatched run are flagged and left out
    CHECK(set->runs[4].head.excluded);
    CHECK_STR_CONTAINS(set->runs[4].head.flag, "incomplete: no summary.json");
    CHECK(set->runs[5].head.excluded);
    CHECK_STR_CONTAINS(set->runs[5].head.flag, "train.epochs 5, reference 6");
    CHECK_STR_CONTAINS(set->runs[5].head.flag, dirs[0]);
    CHECK(!set->runs[0].head.excluded);
    CHECK(!set->runs[3].head.excluded);
    vision_set_deinit(set);
    free(set);
}

// A null delta_i leaves the seed out of Delta_I and moves p to
// mean_first_metric; one seed prints n/a for std and p.
// A metric that the first run reports as null keeps its row from the
// other runs.
static void test_vision_metric_null_in_first_run(void) {
    const VisionFixture null_top = {"v-hps-null", "hps", 9, 6, 1, NAN, 0.8, 0.5, 1.0, 0.75,
                                    1000, 100};
    char dirs[7][1024], picked[2][1024], err[1024] = "";
    write_vision_runs(dirs);
    vision_fixture_write(&null_top, picked[0], sizeof picked[0]);
    memcpy(picked[1], dirs[2], sizeof picked[1]);
    VisionSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, vision_build(set, picked, 2, NULL, err, sizeof err));
    CHECK_EQ_INT(3, set->n_metrics);
    int top = -1;
    for (int m = 0; m < set->n_metrics; m++) {
        if (strcmp(set->metrics[m].task, "top_left") == 0) {
            top = m;
        }
    }
    CHECK(top >= 0);
    if (top >= 0) {
        CHECK_EQ_INT(0, set->groups[0].metric_n[top]);   // hps: null
        CHECK_EQ_INT(1, set->groups[1].metric_n[top]);   // stl
    }
    vision_set_deinit(set);
    free(set);
}

// A run of a method whose config differs from its first seed's in a key
// other than the seed is flagged, not averaged in as another seed.
static void test_vision_other_config_excluded(void) {
    const VisionFixture other_lr = {"v-hps-lr", "hps", 5, 6, 1, 0.9, 0.9, 0.1, 9.0, 0.9,
                                    1000, 100};
    char dirs[7][1024], picked[3][1024], err[1024] = "";
    write_vision_runs(dirs);
    memcpy(picked[0], dirs[0], sizeof picked[0]);
    memcpy(picked[1], dirs[2], sizeof picked[1]);
    vision_fixture_write(&other_lr, picked[2], sizeof picked[2]);
    write_file(picked[2], "config.json",
               "{\"dataset\": \"multifashion\", \"data\": {\"n_train\": 0, \"n_test\": 500},\n"
               " \"method\": \"hps\", \"seed\": 5, \"train\": {\"epochs\": 6, \"lr\": 0.5}}\n");
    VisionSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, vision_build(set, picked, 3, NULL, err, sizeof err));
    CHECK_EQ_INT(1, set->runs[2].head.excluded);
    CHECK_STR_CONTAINS(set->runs[2].head.flag, "config differs from");
    CHECK_STR_CONTAINS(set->runs[2].head.flag, "train.lr (missing in one run)");
    CHECK_EQ_INT(1, set->groups[0].n_runs);
    vision_set_deinit(set);
    free(set);
}

static void test_vision_null_delta_and_one_seed(void) {
    char dirs[7][1024], err[1024] = "";
    write_vision_runs(dirs);
    char picked[5][1024];
    const int idx[5] = {0, 1, 2, 3, 6};
    for (int i = 0; i < 5; i++) {
        memcpy(picked[i], dirs[idx[i]], sizeof picked[i]);
    }
    VisionSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, vision_build(set, picked, 5, "stl", err, sizeof err));
    const VisionGroup *hps = &set->groups[0], *stl = &set->groups[1];
    CHECK_EQ_INT(3, stl->n_runs);
    CHECK_EQ_INT(2, stl->delta_i_n);
    CHECK_EQ_INT(3, stl->metric_n[0]);
    CHECK_NEAR(0.69, stl->metric[0].mean, 1e-12);
    // mean_first {0.75, 0.78} against {0.74, 0.74, 0.74}: t = 5/3, df = 1
    CHECK(strcmp(hps->p_on, "mean_first_metric") == 0);
    CHECK_NEAR(1.0 - 2.0 * atan(5.0 / 3.0) / (4.0 * atan(1.0)), hps->p, 1e-9);
    vision_set_deinit(set);

    char one[2][1024];
    memcpy(one[0], dirs[0], sizeof one[0]);
    memcpy(one[1], dirs[6], sizeof one[1]);
    CHECK_EQ_INT(0, vision_build(set, one, 2, NULL, err, sizeof err));
    CHECK(isnan(set->groups[0].delta_i.std));
    CHECK(isnan(set->groups[1].delta_i.mean));
    CHECK(isnan(set->groups[0].p));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    vision_set_write(set, COMPARE_TABLE, out);
    fclose(out);
    CHECK_STR_CONTAINS(text, "1.0000 +- n/a");
    CHECK_STR_CONTAINS(text, "p on first");
    CHECK_STR_CONTAINS(text, "no Delta_I: no stl summary");
    free(text);
    vision_set_deinit(set);

    CHECK_EQ_INT(ERR_ARG, vision_build(set, one, 2, "cagrad", err, sizeof err));
    CHECK_STR_CONTAINS(err, "--baseline cagrad");
    free(set);
}

// Runs vision_set_write into a string the caller frees.
static char *vision_to_string(const VisionSet *set, CompareFormat format) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    vision_set_write(set, format, out);
    fclose(out);
    return text;
}

static void test_vision_output_formats(void) {
    char dirs[7][1024], err[1024] = "";
    write_vision_runs(dirs);
    VisionSet *set = calloc(1, sizeof *set);
    CHECK_EQ_INT(0, vision_build(set, dirs, 6, NULL, err, sizeof err));

    char *table = vision_to_string(set, COMPARE_TABLE);
    CHECK_STR_CONTAINS(table, "against stl");
    CHECK_STR_CONTAINS(table, "2.0000 +- 1.4142");
    CHECK_STR_CONTAINS(table, "0.7100 +- 0.0141");
    CHECK_STR_CONTAINS(table, "bottom_right abs_err (lower)");
    CHECK_STR_CONTAINS(table, "except those marked (lower)");
    CHECK_STR_CONTAINS(table, "0.52x");
    CHECK_STR_CONTAINS(table, "baseline");
    CHECK_STR_CONTAINS(table, "flagged runs:");
    CHECK_STR_CONTAINS(table, "no summary.json");
    free(table);

    char *md = vision_to_string(set, COMPARE_MD);
    CHECK_STR_CONTAINS(md, "|---|");
    CHECK_STR_CONTAINS(md, "| hps ");
    free(md);

    char *csv = vision_to_string(set, COMPARE_CSV);
    CHECK_STR_CONTAINS(csv, "method,metric,task,mean,std,n_seeds\n");
    CHECK_STR_CONTAINS(csv, "hps,acc,top_left,0.71,0.0141421,2\n");
    CHECK_STR_CONTAINS(csv, "hps,delta_i,,2,1.41421,2\n");
    CHECK_STR_CONTAINS(csv, "hps,time_ratio,,0.52381,,2\n");
    CHECK_STR_CONTAINS(csv, "stl,n_params,,2000,,2\n");
    free(csv);

    char *json = vision_to_string(set, COMPARE_JSON);
    cJSON *root = cJSON_Parse(json);
    CHECK(root != NULL);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(root, "kind")->valuestring, "vision") == 0);
    const cJSON *hps = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "methods"), 0);
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(hps, "test");
    const cJSON *abs_err = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(test, "bottom_right"), "abs_err");
    CHECK_NEAR(0.6, cJSON_GetObjectItemCaseSensitive(abs_err, "mean")->valuedouble, 1e-12);
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    CHECK_EQ_INT(3, cJSON_GetArraySize(metrics));
    const cJSON *m_acc = cJSON_GetArrayItem(metrics, 1), *m_err = cJSON_GetArrayItem(metrics, 2);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(m_err, "name")->valuestring, "abs_err") == 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m_acc, "lower_is_better")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m_err, "lower_is_better")));
    CHECK_NEAR(1.0 - 2.0 * atan(2.0) / (4.0 * atan(1.0)),
               cJSON_GetObjectItemCaseSensitive(hps, "p")->valuedouble, 1e-9);
    CHECK_EQ_INT(2, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "flagged")));
    cJSON_Delete(root);
    free(json);
    vision_set_deinit(set);
    free(set);
}

// Train and vision runs in one call are refused, naming one of each.
static void test_vision_and_train_mixed(void) {
    char vdirs[7][1024], tdirs[6][1024], err[2048] = "";
    write_vision_runs(vdirs);
    write_base_runs(tdirs);
    const char *mixed[3] = {vdirs[0], tdirs[0], vdirs[1]};
    CHECK_EQ_INT(ERR_ARG, compare_runs_kind(mixed, 3, err, sizeof err));
    CHECK_STR_CONTAINS(err, vdirs[0]);
    CHECK_STR_CONTAINS(err, tdirs[0]);
    const char *vision[2] = {vdirs[0], vdirs[4]};
    CHECK_EQ_INT(COMPARE_KIND_VISION, compare_runs_kind(vision, 2, err, sizeof err));
    const char *train[2] = {tdirs[0], tdirs[1]};
    CHECK_EQ_INT(COMPARE_KIND_TRAIN, compare_runs_kind(train, 2, err, sizeof err));
}

// ---- the command ----

// Runs the conal binary with arguments and returns its exit code; stdout and
// stderr go to files under the temporary root.
static int run_cli(const char *fmt, ...) {
    char args[3000], cmd[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s/conal' compare %s >'%s/out.txt' 2>'%s/err.txt'",
             CONAL_BINARY_DIR, args, tmp_root, tmp_root);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_exit_codes(void) {
    char dirs[6][1024], path[1100];
    write_base_runs(dirs);
    size_t n = 0;

    CHECK_EQ_INT(0, run_cli("'%s' '%s' '%s' '%s' --plot '%s/cli.svg'", dirs[0], dirs[1],
                            dirs[3], dirs[4], tmp_root));
    snprintf(path, sizeof path, "%s/out.txt", tmp_root);
    char *out = slurp(path, &n);
    CHECK_STR_CONTAINS(out, "pcgrad");
    free(out);

    // usage errors exit 2, failures on valid usage exit 1
    CHECK_EQ_INT(2, run_cli(""));
    CHECK_EQ_INT(2, run_cli("'%s' --format yaml", dirs[0]));
    snprintf(path, sizeof path, "%s/err.txt", tmp_root);
    char *err = slurp(path, &n);
    CHECK_STR_CONTAINS(err, "--format yaml");
    free(err);

    CHECK_EQ_INT(2, run_cli("'%s' --baseline cagrad", dirs[0]));
    CHECK_EQ_INT(2, run_cli("'%s' --plot out.pdf", dirs[0]));
    CHECK_EQ_INT(2, run_cli("'%s' --bogus", dirs[0]));
    CHECK_EQ_INT(1, run_cli("'%s/no-such-run'", tmp_root));
    err = slurp(path, &n);
    CHECK_STR_CONTAINS(err, "no-such-run/config.json");
    free(err);
    CHECK_EQ_INT(0, run_cli("--help"));
}

static void test_cli_vision_runs(void) {
    char vdirs[7][1024], tdirs[6][1024], path[1100];
    write_vision_runs(vdirs);
    write_base_runs(tdirs);
    size_t n = 0;
    CHECK_EQ_INT(0, run_cli("'%s' '%s' '%s' '%s' '%s' '%s' --format md", vdirs[0], vdirs[1],
                            vdirs[2], vdirs[3], vdirs[4], vdirs[5]));
    snprintf(path, sizeof path, "%s/out.txt", tmp_root);
    char *out = slurp(path, &n);
    CHECK_STR_CONTAINS(out, "| hps ");
    CHECK_STR_CONTAINS(out, "2.0000 +- 1.4142");
    free(out);
    snprintf(path, sizeof path, "%s/err.txt", tmp_root);
    char *err = slurp(path, &n);
    CHECK_STR_CONTAINS(err, "warning");
    CHECK_STR_CONTAINS(err, "train.epochs 5");
    free(err);

    CHECK_EQ_INT(2, run_cli("'%s' '%s'", vdirs[0], tdirs[0]));
    err = slurp(path, &n);
    CHECK_STR_CONTAINS(err, "`conal train` run");
    free(err);
    CHECK_EQ_INT(2, run_cli("'%s' --plot '%s/v.svg'", vdirs[0], tmp_root));
    err = slurp(path, &n);
    CHECK_STR_CONTAINS(err, "no curve");
    free(err);
    CHECK_EQ_INT(2, run_cli("'%s' --baseline mtsac", vdirs[0]));
    CHECK_EQ_INT(1, run_cli("'%s'", vdirs[4]));
}

int main(void) {
    check_tmpdir(tmp_root, sizeof tmp_root, "compare");
    RUN_TEST(test_betainc_closed_forms);
    RUN_TEST(test_t_cdf_known_values);
    RUN_TEST(test_welch_known_values);
    RUN_TEST(test_mean_std);
    RUN_TEST(test_aggregate_two_methods);
    RUN_TEST(test_baseline_option);
    RUN_TEST(test_one_seed_prints_na);
    RUN_TEST(test_mismatched_runs_excluded);
    RUN_TEST(test_incomplete_run_marked);
    RUN_TEST(test_run_without_evals_flagged);
    RUN_TEST(test_vision_run_rejected);
    RUN_TEST(test_duplicate_run_excluded);
    RUN_TEST(test_different_config_excluded);
    RUN_TEST(test_bad_eval_line_rejected);
    RUN_TEST(test_truncated_last_line_ignored);
    RUN_TEST(test_speed_from_metrics);
    RUN_TEST(test_output_formats);
    RUN_TEST(test_plots_written);
    RUN_TEST(test_vision_aggregate);
    RUN_TEST(test_vision_null_delta_and_one_seed);
    RUN_TEST(test_vision_metric_null_in_first_run);
    RUN_TEST(test_vision_other_config_excluded);
    RUN_TEST(test_vision_output_formats);
    RUN_TEST(test_vision_and_train_mixed);
    RUN_TEST(test_cli_exit_codes);
    RUN_TEST(test_cli_vision_runs);
    check_rmtree(tmp_root);
    return check_summary();
}
