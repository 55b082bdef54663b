// `conal compare` for `conal vision` runs: loading, checking, aggregating
// and the table, Markdown, CSV and JSON output.
#include "cli/compare_vision.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/compare_stats.h"
#include "common/error.h"
#include "vision/metrics.h"

// ---- reading ----

// Returns a number field of obj, or NaN when it is missing, null or not a number.
static double number_or_nan(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

// Returns an integer field of obj (of its object sub when sub is not NULL), or -1.
static long long int_or_missing(const cJSON *obj, const char *sub, const char *key) {
    if (sub) {
        obj = cJSON_GetObjectItemCaseSensitive(obj, sub);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

// Returns 1 for a vision config, 0 for a train config and -1 when config.json
// cannot be read.
static int dir_kind(const char *dir) {
    char path[1100], err[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *root = compare_read_json(path, err, sizeof err);
    if (!root) {
        return -1;
    }
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent");
    int vision = !cJSON_HasObjectItem(agent, "method") && cJSON_HasObjectItem(root, "dataset");
    cJSON_Delete(root);
    return vision;
}

int compare_runs_kind(const char *const *dirs, int n_dirs, char *err, size_t err_sz) {
    int train = -1, vision = -1;
    for (int i = 0; i < n_dirs; i++) {
        int k = dir_kind(dirs[i]);
        if (k == 1 && vision < 0) {
            vision = i;
        } else if (k == 0 && train < 0) {
            train = i;
        }
    }
    if (vision >= 0 && train >= 0) {
        return err_set(err, err_sz, ERR_ARG, "%s is a `conal vision` run and %s a `conal "
                       "train` run; compare runs of one kind at a time", dirs[vision],
                       dirs[train]);
    }
    return vision >= 0 ? COMPARE_KIND_VISION : COMPARE_KIND_TRAIN;
}

// Reads config.json and, when present, summary.json of one run.
// Config keys that may differ between seeds of one method: the seed, and
// keys that change where data is cached, what is logged or which STL run
// Delta_I is taken against, but not what is trained.
static const char *const seed_free_keys[] = {
    "seed", "data.cache_dir", "train.log_interval", "stl_summary", NULL,
};

static int vision_run_load(VisionRun *run, const char *dir, char *err, size_t err_sz) {
    memset(run, 0, sizeof *run);
    run->params = run->train_seconds = run->delta_i = run->mean_first = NAN;
    if (strlen(dir) >= sizeof run->head.dir) {
        return err_set(err, err_sz, ERR_ARG, "run directory name too long: %.64s...", dir);
    }
    snprintf(run->head.dir, sizeof run->head.dir, "%s", dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *config = compare_read_json(path, err, err_sz);
    if (!config) {
        return ERR_IO;
    }
    const cJSON *dataset = cJSON_GetObjectItemCaseSensitive(config, "dataset");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(config, "method");
    if (!cJSON_IsString(dataset) || !cJSON_IsString(method) || !method->valuestring[0]) {
        cJSON_Delete(config);
        return err_set(err, err_sz, ERR_FORMAT, "%s: expected the strings \"dataset\" and "
                       "\"method\" of a `conal vision` config", path);
    }
    snprintf(run->dataset, sizeof run->dataset, "%s", dataset->valuestring);
    snprintf(run->head.method, sizeof run->head.method, "%s", method->valuestring);
    run->head.seed = int_or_missing(config, NULL, "seed");
    run->n_train = int_or_missing(config, "data", "n_train");
    run->n_test = int_or_missing(config, "data", "n_test");
    run->epochs = int_or_missing(config, "train", "epochs");
    run->config = config;

    snprintf(path, sizeof path, "%s/summary.json", dir);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        compare_exclude(&run->head, "excluded, incomplete: no summary.json");
        return 0;
    }
    fclose(probe);
    run->summary = compare_read_json(path, err, err_sz);
    if (!run->summary) {
        return ERR_FORMAT;
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(run->summary, "test"))) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: no \"test\" object of metrics", path);
    }
    run->params = number_or_nan(run->summary, "params");
    run->train_seconds = number_or_nan(run->summary, "train_seconds");
    run->delta_i = number_or_nan(run->summary, "delta_i");
    const cJSON *missing = cJSON_GetObjectItemCaseSensitive(run->summary, "delta_i_missing");
    if (isnan(run->delta_i)) {
        snprintf(run->delta_i_missing, sizeof run->delta_i_missing, "%s",
                 cJSON_IsString(missing) ? missing->valuestring : "no reason given");
    }
    run->mean_first = number_or_nan(run->summary, "mean_first_metric");
    return 0;
}

// ---- checking and aggregating ----

// Excludes run when its protocol differs from ref's, saying how.
static void check_protocol(VisionRun *run, const VisionRun *ref) {
    char why[256] = "";
    if (strcmp(run->dataset, ref->dataset) != 0) {
        snprintf(why, sizeof why, "dataset %s, reference %s", run->dataset, ref->dataset);
    } else if (run->n_train != ref->n_train) {
        snprintf(why, sizeof why, "data.n_train %lld, reference %lld", run->n_train,
                 ref->n_train);
    } else if (run->n_test != ref->n_test) {
        snprintf(why, sizeof why, "data.n_test %lld, reference %lld", run->n_test,
                 ref->n_test);
    } else if (run->epochs != ref->epochs) {
        snprintf(why, sizeof why, "train.epochs %lld, reference %lld", run->epochs,
                 ref->epochs);
    }
    if (why[0]) {
        compare_exclude(&run->head, "excluded, protocol differs from %s: %s", ref->head.dir,
                        why);
    }
}

// Adds the numeric (task, metric) pairs of run's "test" object that the
// list does not have yet, so that a metric a run reports as null (or
// leaves out) still has its row when other runs report it.
static int add_metrics(VisionSet *set, const VisionRun *run, char *err, size_t err_sz) {
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(run->summary, "test");
    const cJSON *task, *metric;
    cJSON_ArrayForEach(task, test) {
        cJSON_ArrayForEach(metric, task) {
            if (!cJSON_IsNumber(metric)) {
                continue;
            }
            int known = 0;
            for (int m = 0; m < set->n_metrics && !known; m++) {
                known = strcmp(set->metrics[m].task, task->string) == 0 &&
                        strcmp(set->metrics[m].name, metric->string) == 0;
            }
            if (known) {
                continue;
            }
            if (set->n_metrics >= VISION_MAX_METRICS) {
                return err_set(err, err_sz, ERR_FORMAT, "%s/summary.json: more than %d test "
                               "metrics", run->head.dir, VISION_MAX_METRICS);
            }
            VisionMetric *m = &set->metrics[set->n_metrics++];
            snprintf(m->task, sizeof m->task, "%s", task->string);
            snprintf(m->name, sizeof m->name, "%s", metric->string);
            m->lower_is_better = vis_metric_lower_is_better(metric->string);
        }
    }
    return 0;
}

// Returns the value of metric m in run, or NaN when the run does not report it.
static double run_metric(const VisionRun *run, const VisionMetric *m) {
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(run->summary, "test");
    return number_or_nan(cJSON_GetObjectItemCaseSensitive(test, m->task), m->name);
}

// Computes mean and std of the non-NaN values among x and returns their count.
static int stat_of(const double *x, int n, CompareStat *out) {
    double kept[COMPARE_MAX_RUNS];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!isnan(x[i])) {
            kept[k++] = x[i];
        }
    }
    out->mean = compare_mean(kept, k);
    out->std = compare_std(kept, k);
    out->step = 0;
    return k;
}

static void group_aggregate(VisionSet *set, VisionGroup *grp) {
    double x[COMPARE_MAX_RUNS];
    for (int m = 0; m < set->n_metrics; m++) {
        for (int r = 0; r < grp->n_runs; r++) {
            x[r] = run_metric(&set->runs[grp->runs[r]], &set->metrics[m]);
        }
        grp->metric_n[m] = stat_of(x, grp->n_runs, &grp->metric[m]);
    }
    for (int r = 0; r < grp->n_runs; r++) {
        x[r] = set->runs[grp->runs[r]].delta_i;
    }
    grp->delta_i_n = stat_of(x, grp->n_runs, &grp->delta_i);
    for (int r = 0; r < grp->n_runs; r++) {
        x[r] = set->runs[grp->runs[r]].mean_first;
    }
    stat_of(x, grp->n_runs, &grp->mean_first);
    CompareStat s;
    for (int r = 0; r < grp->n_runs; r++) {
        x[r] = set->runs[grp->runs[r]].params;
    }
    stat_of(x, grp->n_runs, &s);
    grp->params = s.mean;
    for (int r = 0; r < grp->n_runs; r++) {
        x[r] = set->runs[grp->runs[r]].train_seconds;
    }
    stat_of(x, grp->n_runs, &s);
    grp->train_seconds = s.mean;
}

// Fills x with a group's per-seed Delta_I or mean_first_metric for the p-value.
static int seed_values(const VisionSet *set, const VisionGroup *grp, int use_delta,
                       double *x) {
    for (int r = 0; r < grp->n_runs; r++) {
        const VisionRun *run = &set->runs[grp->runs[r]];
        x[r] = use_delta ? run->delta_i : run->mean_first;
    }
    return grp->n_runs;
}

// Computes time ratios against the slowest method and p-values against the
// baseline.
static void compare_groups(VisionSet *set) {
    double slowest = -INFINITY;
    for (int g = 0; g < set->n_groups; g++) {
        if (!isnan(set->groups[g].train_seconds)) {
            slowest = fmax(slowest, set->groups[g].train_seconds);
        }
    }
    const VisionGroup *base = &set->groups[set->baseline];
    for (int g = 0; g < set->n_groups; g++) {
        VisionGroup *grp = &set->groups[g];
        grp->time_ratio = isnan(grp->train_seconds) || !(slowest > 0)
                              ? (double)NAN : grp->train_seconds / slowest;
        grp->p = NAN;
        grp->p_on = "";
        if (g == set->baseline) {
            continue;
        }
        int use_delta = grp->delta_i_n == grp->n_runs && base->delta_i_n == base->n_runs;
        grp->p_on = use_delta ? "delta_i" : "mean_first_metric";
        double a[COMPARE_MAX_RUNS], b[COMPARE_MAX_RUNS];
        int na = seed_values(set, grp, use_delta, a);
        int nb = seed_values(set, base, use_delta, b);
        CompareWelch w;
        compare_welch(a, na, b, nb, &w);
        grp->p = w.p;
    }
}

// Returns the group of method, adding it when new, or -1 when there are too many.
static int group_for(VisionSet *set, const char *method) {
    for (int g = 0; g < set->n_groups; g++) {
        if (strcmp(set->groups[g].method, method) == 0) {
            return g;
        }
    }
    if (set->n_groups >= COMPARE_MAX_GROUPS) {
        return -1;
    }
    // memcpy, because method points into set and snprintf may not overlap
    VisionGroup *grp = &set->groups[set->n_groups];
    size_t len = strnlen(method, sizeof grp->method - 1);
    memcpy(grp->method, method, len);
    grp->method[len] = '\0';
    return set->n_groups++;
}

int vision_set_build(VisionSet *set, const char *const *dirs, int n_dirs, const char *baseline,
                     char *err, size_t err_sz) {
    memset(set, 0, sizeof *set);
    set->baseline = -1;
    if (n_dirs > COMPARE_MAX_RUNS) {
        return err_set(err, err_sz, ERR_ARG, "%d run directories, at most %d", n_dirs,
                       COMPARE_MAX_RUNS);
    }
    for (int i = 0; i < n_dirs; i++) {
        int rc = vision_run_load(&set->runs[set->n_runs], dirs[i], err, err_sz);
        set->n_runs++;
        if (rc != 0) {
            vision_set_deinit(set);
            return rc;
        }
    }
    if (set->n_runs == 0) {
        return err_set(err, err_sz, ERR_ARG, "no run directories given");
    }
    int r0 = compare_first_usable(set->runs, sizeof set->runs[0], set->n_runs, err, err_sz);
    if (r0 < 0) {
        vision_set_deinit(set);
        return r0;
    }

    for (int i = 0; i < set->n_runs; i++) {
        VisionRun *run = &set->runs[i];
        if (run->head.excluded) {
            continue;
        }
        check_protocol(run, &set->runs[r0]);
        compare_check_duplicate(set->runs, sizeof set->runs[0], i);
        if (run->head.excluded) {
            continue;
        }
        int g = group_for(set, run->head.method);
        if (g < 0) {
            vision_set_deinit(set);
            return err_set(err, err_sz, ERR_ARG, "more than %d methods", COMPARE_MAX_GROUPS);
        }
        const VisionGroup *grp = &set->groups[g];
        char key[300];
        if (grp->n_runs > 0 &&
            compare_config_diff(set->runs[grp->runs[0]].config, run->config, seed_free_keys,
                                "", key, sizeof key)) {
            compare_exclude(&run->head, "excluded, config differs from %s at %s",
                            set->runs[grp->runs[0]].head.dir, key);
            continue;
        }
        int rc = add_metrics(set, run, err, err_sz);
        if (rc != 0) {
            vision_set_deinit(set);
            return rc;
        }
        set->groups[g].runs[set->groups[g].n_runs++] = i;
    }
    if (set->n_metrics == 0) {
        err_set(err, err_sz, ERR_FORMAT, "%s/summary.json: \"test\" has no metrics",
                set->runs[r0].head.dir);
        vision_set_deinit(set);
        return ERR_FORMAT;
    }
    for (int g = 0; g < set->n_groups; g++) {
        group_aggregate(set, &set->groups[g]);
    }
    set->baseline = 0;
    const char *want = baseline ? baseline : "stl";
    int found = 0;
    for (int g = 0; g < set->n_groups && !found; g++) {
        if (strcmp(set->groups[g].method, want) == 0) {
            set->baseline = g;
            found = 1;
        }
    }
    if (baseline && !found) {
        vision_set_deinit(set);
        return err_set(err, err_sz, ERR_ARG, "--baseline %s: no usable run has method '%s'",
                       baseline, baseline);
    }
    compare_groups(set);
    return 0;
}

void vision_set_deinit(VisionSet *set) {
    for (int i = 0; i < set->n_runs; i++) {
        cJSON_Delete(set->runs[i].config);
        cJSON_Delete(set->runs[i].summary);
        set->runs[i].config = NULL;
        set->runs[i].summary = NULL;
    }
    set->n_runs = 0;
    set->n_groups = 0;
}

// ---- output ----

// Formats a statistic of test metrics with four decimals.
static void format_stat(const CompareStat *s, char *out, size_t out_sz) {
    compare_format_stat(s, 4, out, out_sz);
}

// Writes aligned text or Markdown: a summary table, then the test metrics.
static void write_tables(const VisionSet *set, int markdown, FILE *out) {
    const char *sep = markdown ? " | " : "  ";
    const char *lead = markdown ? "| " : "";
    const char *tail = markdown ? " |" : "";
    const char *bold = markdown ? "**" : "";
    fprintf(out, "%s%s: Delta_I, size and time (p: Welch t-test against %s)%s\n\n", bold,
            set->runs[set->groups[0].runs[0]].dataset, set->groups[set->baseline].method,
            bold);
    fprintf(out, "%s%-16s%s%5s%s%-19s%s%9s%s%-8s%s%9s%s%8s%s%6s%s\n", lead, "method", sep,
            "seeds", sep, "Delta_I (%)", sep, "p", sep, "p on", sep, "params", sep,
            "train s", sep, "time", tail);
    if (markdown) {
        fprintf(out, "|---|---:|---|---:|---|---:|---:|---:|\n");
    }
    int any_mean_first = 0;
    for (int g = 0; g < set->n_groups; g++) {
        const VisionGroup *grp = &set->groups[g];
        char seeds[16], delta[40], p[24], params[24], secs[24], ratio[24];
        snprintf(seeds, sizeof seeds, "%d", grp->n_runs);
        format_stat(&grp->delta_i, delta, sizeof delta);
        if (g == set->baseline) {
            snprintf(p, sizeof p, "baseline");
        } else {
            compare_format_num(grp->p, "%.3g", p, sizeof p);
        }
        const char *on = "";
        if (g != set->baseline) {
            on = strcmp(grp->p_on, "delta_i") == 0 ? "Delta_I" : "first";
        }
        any_mean_first |= strcmp(on, "first") == 0;
        compare_format_num(grp->params, "%.0f", params, sizeof params);
        compare_format_num(grp->train_seconds, "%.1f", secs, sizeof secs);
        compare_format_num(grp->time_ratio, "%.2fx", ratio, sizeof ratio);
        fprintf(out, "%s%-16s%s%5s%s%-19s%s%9s%s%-8s%s%9s%s%8s%s%6s%s\n", lead, grp->method,
                sep, seeds, sep, delta, sep, p, sep, on, sep, params, sep, secs, sep, ratio, tail);
    }

    fprintf(out, "\n%stest metrics (mean +- std over seeds)%s\n\n", bold, bold);
    fprintf(out, "%s%-28s", lead, "task metric");
    for (int g = 0; g < set->n_groups; g++) {
        fprintf(out, "%s%-19s", sep, set->groups[g].method);
    }
    fprintf(out, "%s\n", tail);
    if (markdown) {
        fprintf(out, "|---|");
        for (int g = 0; g < set->n_groups; g++) {
            fprintf(out, "---|");
        }
        fprintf(out, "\n");
    }
    for (int m = 0; m < set->n_metrics; m++) {
        char name[2 * COMPARE_NAME_LEN + 12];
        snprintf(name, sizeof name, "%s %s%s", set->metrics[m].task, set->metrics[m].name,
                 set->metrics[m].lower_is_better ? " (lower)" : "");
        fprintf(out, "%s%-28s", lead, name);
        for (int g = 0; g < set->n_groups; g++) {
            char cell[40];
            format_stat(&set->groups[g].metric[m], cell, sizeof cell);
            fprintf(out, "%s%-19s", sep, cell);
        }
        fprintf(out, "%s\n", tail);
    }

    fprintf(out, "\nDelta_I is the mean relative gain over single-task models in percent "
                 "(n/a: not reported); time is train_seconds relative to the slowest "
                 "method. Higher test metrics are better, except those marked (lower).\n");
    if (any_mean_first) {
        fprintf(out, "p on first: a seed of the method or the baseline has no Delta_I, so "
                     "p compares mean_first_metric.\n");
    }
    int any_missing = 0;
    for (int i = 0; i < set->n_runs; i++) {
        const VisionRun *run = &set->runs[i];
        if (!run->head.excluded && run->delta_i_missing[0]) {
            if (!any_missing) {
                fprintf(out, "\nruns without Delta_I:\n");
                any_missing = 1;
            }
            fprintf(out, "%s%s: no Delta_I: %s\n", markdown ? "- " : "  ", run->head.dir,
                    run->delta_i_missing);
        }
    }
    compare_write_flags(set->runs, sizeof set->runs[0], set->n_runs, markdown, out);
}

// Writes one CSV row; empty cells for NaN.
static void csv_row(FILE *out, const char *method, const char *metric, const char *task,
                    double mean, double std, int n) {
    fprintf(out, "%s,%s,%s,", method, metric, task);
    if (!isnan(mean)) {
        fprintf(out, "%.6g", mean);
    }
    fputc(',', out);
    if (!isnan(std)) {
        fprintf(out, "%.6g", std);
    }
    fprintf(out, ",%d\n", n);
}

// Writes long-format CSV: method,metric,task,mean,std,n_seeds.
static void write_csv(const VisionSet *set, FILE *out) {
    fprintf(out, "method,metric,task,mean,std,n_seeds\n");
    for (int g = 0; g < set->n_groups; g++) {
        const VisionGroup *grp = &set->groups[g];
        const char *m = grp->method;
        for (int k = 0; k < set->n_metrics; k++) {
            csv_row(out, m, set->metrics[k].name, set->metrics[k].task, grp->metric[k].mean,
                    grp->metric[k].std, grp->metric_n[k]);
        }
        csv_row(out, m, "delta_i", "", grp->delta_i.mean, grp->delta_i.std, grp->delta_i_n);
        csv_row(out, m, "mean_first_metric", "", grp->mean_first.mean, grp->mean_first.std,
                grp->n_runs);
        csv_row(out, m, grp->p_on[0] ? (strcmp(grp->p_on, "delta_i") == 0
                ? "p_delta_i" : "p_mean_first_metric") : "p", "", grp->p, NAN, grp->n_runs);
        csv_row(out, m, "n_params", "", grp->params, NAN, grp->n_runs);
        csv_row(out, m, "train_seconds", "", grp->train_seconds, NAN, grp->n_runs);
        csv_row(out, m, "time_ratio", "", grp->time_ratio, NAN, grp->n_runs);
    }
}

static cJSON *json_stat(const CompareStat *s, int n) {
    cJSON *o = cJSON_CreateObject();
    compare_json_num(o, "mean", s->mean);
    compare_json_num(o, "std", s->std);
    cJSON_AddNumberToObject(o, "n", n);
    return o;
}

// Writes one JSON object: methods with their statistics, then flags.
static void write_json(const VisionSet *set, FILE *out) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "kind", "vision");
    cJSON_AddStringToObject(root, "dataset", set->runs[set->groups[0].runs[0]].dataset);
    cJSON_AddStringToObject(root, "baseline", set->groups[set->baseline].method);
    cJSON *metrics = cJSON_AddArrayToObject(root, "metrics");
    for (int k = 0; k < set->n_metrics; k++) {
        cJSON *mk = cJSON_CreateObject();
        cJSON_AddStringToObject(mk, "task", set->metrics[k].task);
        cJSON_AddStringToObject(mk, "name", set->metrics[k].name);
        cJSON_AddBoolToObject(mk, "lower_is_better", set->metrics[k].lower_is_better);
        cJSON_AddItemToArray(metrics, mk);
    }
    cJSON *methods = cJSON_AddArrayToObject(root, "methods");
    for (int g = 0; g < set->n_groups; g++) {
        const VisionGroup *grp = &set->groups[g];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "method", grp->method);
        cJSON_AddNumberToObject(m, "n_seeds", grp->n_runs);
        cJSON_AddItemToObject(m, "delta_i", json_stat(&grp->delta_i, grp->delta_i_n));
        cJSON_AddItemToObject(m, "mean_first_metric",
                              json_stat(&grp->mean_first, grp->n_runs));
        compare_json_num(m, "p", grp->p);
        if (grp->p_on[0]) {
            cJSON_AddStringToObject(m, "p_on", grp->p_on);
        } else {
            cJSON_AddNullToObject(m, "p_on");
        }
        compare_json_num(m, "n_params", grp->params);
        compare_json_num(m, "train_seconds", grp->train_seconds);
        compare_json_num(m, "time_ratio", grp->time_ratio);
        cJSON *test = cJSON_AddObjectToObject(m, "test");
        for (int k = 0; k < set->n_metrics; k++) {
            cJSON *task = cJSON_GetObjectItemCaseSensitive(test, set->metrics[k].task);
            if (!task) {
                task = cJSON_AddObjectToObject(test, set->metrics[k].task);
            }
            cJSON_AddItemToObject(task, set->metrics[k].name,
                                  json_stat(&grp->metric[k], grp->metric_n[k]));
        }
        cJSON *runs = cJSON_AddArrayToObject(m, "runs");
        for (int r = 0; r < grp->n_runs; r++) {
            cJSON_AddItemToArray(runs, cJSON_CreateString(set->runs[grp->runs[r]].head.dir));
        }
        cJSON_AddItemToArray(methods, m);
    }
    compare_json_write(root, set->runs, sizeof set->runs[0], set->n_runs, out);
}

void vision_set_write(const VisionSet *set, CompareFormat format, FILE *out) {
    switch (format) {
    case COMPARE_TABLE:
        write_tables(set, 0, out);
        break;
    case COMPARE_MD:
        write_tables(set, 1, out);
        break;
    case COMPARE_CSV:
        write_csv(set, out);
        break;
    case COMPARE_JSON:
        write_json(set, out);
        break;
    default:
        fprintf(stderr, "vision_set_write: unknown format %d\n", (int)format);
        break;
    }
}
