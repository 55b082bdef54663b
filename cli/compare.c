// Loading, checking and aggregating run directories for `conal compare`.
// Output formats are in compare_write.c, plots in compare_plot.c.
#include "cli/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/compare_stats.h"
#include "common/error.h"
#include "common/fileio.h"
#include "rl/train.h"

// ---- reading one run ----

cJSON *compare_read_json(const char *path, char *err, size_t err_sz) {
    char *text = NULL;
    size_t n = 0;
    if (file_read_all(path, &text, &n, err, err_sz) != 0) {
        return NULL;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) {
        err_set(err, err_sz, ERR_FORMAT, "%s: invalid JSON", path);
    }
    return root;
}

// Looks up a dotted path ("train.steps") in a JSON object.
static const cJSON *json_path(const cJSON *root, const char *path) {
    char key[128];
    const cJSON *node = root;
    while (node && *path) {
        size_t len = strcspn(path, ".");
        if (len >= sizeof key) {
            return NULL;
        }
        memcpy(key, path, len);
        key[len] = '\0';
        node = cJSON_GetObjectItemCaseSensitive(node, key);
        path += len + (path[len] == '.');
    }
    return node;
}

// Formats an integer JSON list as "400,400,400", or "?" when missing.
static void format_widths(const cJSON *list, char *out, size_t out_sz) {
    size_t len = 0;
    out[0] = '\0';
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        len += (size_t)snprintf(out + len, len < out_sz ? out_sz - len : 0, "%s%d",
                                len ? "," : "", item->valueint);
    }
    if (!cJSON_IsArray(list)) {
        snprintf(out, out_sz, "?");
    }
}

// Reads config.json: method, seed and the protocol fields.
static int load_config(CompareRun *run, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", run->head.dir);
    cJSON *root = compare_read_json(path, err, err_sz);
    if (!root) {
        return ERR_IO;
    }
    const cJSON *method = json_path(root, "agent.method");
    if (!method && cJSON_HasObjectItem(root, "dataset")) {
        cJSON_Delete(root);
        return err_set(err, err_sz, ERR_ARG, "%s is a `conal vision` run, which conal "
                       "compare does not read; its summary.json has the test metrics and "
                       "delta_i", run->head.dir);
    }
    if (!cJSON_IsString(method) || !method->valuestring[0]) {
        cJSON_Delete(root);
        return err_set(err, err_sz, ERR_FORMAT, "%s: missing string agent.method", path);
    }
    snprintf(run->head.method, sizeof run->head.method, "%s", method->valuestring);

    const cJSON *v = json_path(root, "seed");
    run->head.seed = cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
    v = json_path(root, "env.episode_length");
    run->episode_length = cJSON_IsNumber(v) ? v->valueint : -1;
    v = json_path(root, "train.steps");
    run->steps = cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
    v = json_path(root, "train.batch_size");
    run->batch_size = cJSON_IsNumber(v) ? v->valueint : -1;

    char actor[40], critic[40];
    format_widths(json_path(root, "agent.actor.hidden"), actor, sizeof actor);
    format_widths(json_path(root, "agent.critic.hidden"), critic, sizeof critic);
    snprintf(run->widths, sizeof run->widths, "actor %s critic %s", actor, critic);
    run->config = root;
    return 0;
}

// Reads the task names of one eval line's "success" object into the run, or
// checks them against the names already read.
static int eval_tasks(CompareRun *run, const cJSON *success, const char *where, char *err,
                      size_t err_sz) {
    int n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, success) {
        if (n >= COMPARE_MAX_TASKS) {
            return err_set(err, err_sz, ERR_FORMAT, "%s: more than %d tasks", where,
                           COMPARE_MAX_TASKS);
        }
        if (!cJSON_IsNumber(item)) {
            return err_set(err, err_sz, ERR_FORMAT, "%s: success of '%s' is not a number",
                           where, item->string);
        }
        if (run->n_evals == 0) {
            snprintf(run->tasks[n], COMPARE_NAME_LEN, "%s", item->string);
        } else if (n >= run->n_tasks || strcmp(run->tasks[n], item->string) != 0) {
            return err_set(err, err_sz, ERR_FORMAT,
                           "%s: task '%s' differs from the first line's task set", where,
                           item->string);
        }
        n++;
    }
    if (run->n_evals == 0) {
        run->n_tasks = n;
    } else if (n != run->n_tasks) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: %d tasks, the first line has %d", where,
                       n, run->n_tasks);
    }
    return n > 0 ? 0 : err_set(err, err_sz, ERR_FORMAT, "%s: empty success object", where);
}

// Appends one parsed eval line to the run's arrays.
static int eval_append(CompareRun *run, const cJSON *line, const char *where, char *err,
                       size_t err_sz) {
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(line, "step");
    const cJSON *success = cJSON_GetObjectItemCaseSensitive(line, "success");
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(line, "mean_success");
    if (!cJSON_IsNumber(step) || !cJSON_IsObject(success) || !cJSON_IsNumber(mean)) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "%s: expected {\"step\": S, \"success\": {...}, \"mean_success\": F}",
                       where);
    }
    if (eval_tasks(run, success, where, err, err_sz) != 0) {
        return ERR_FORMAT;
    }
    long long s = (long long)step->valuedouble;
    if (run->n_evals > 0 && s <= run->eval_steps[run->n_evals - 1]) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: step %lld does not increase", where, s);
    }

    // grow by doubling; realloc may move the arrays
    if (run->n_evals == run->eval_cap) {
        int cap = run->eval_cap < 16 ? 16 : run->eval_cap * 2;
        long long *st = realloc(run->eval_steps, sizeof(long long) * (size_t)cap);
        run->eval_steps = st ? st : run->eval_steps;
        double *su = realloc(run->success, sizeof(double) * (size_t)cap * COMPARE_MAX_TASKS);
        run->success = su ? su : run->success;
        double *me = realloc(run->mean_success, sizeof(double) * (size_t)cap);
        run->mean_success = me ? me : run->mean_success;
        if (!st || !su || !me) {
            return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", where);
        }
        run->eval_cap = cap;
    }
    int e = run->n_evals++;
    run->eval_steps[e] = s;
    run->mean_success[e] = mean->valuedouble;
    int t = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, success) {
        run->success[(size_t)e * COMPARE_MAX_TASKS + (size_t)t++] = item->valuedouble;
    }
    return 0;
}

// Reads eval.jsonl. A truncated last line (a run killed mid-write) is
// ignored; any other bad line is an error naming the line.
static int load_evals(CompareRun *run, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/eval.jsonl", run->head.dir);
    char *text = NULL;
    size_t n = 0;
    if (file_read_all(path, &text, &n, err, err_sz) != 0) {
        return ERR_IO;
    }
    int ends_with_newline = n > 0 && text[n - 1] == '\n';
    int rc = 0, line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (strspn(line, " \t\r") == strlen(line)) {
            continue;
        }
        char where[1200];
        snprintf(where, sizeof where, "%s:%d", path, line_no);
        cJSON *obj = cJSON_Parse(line);
        if (!obj) {
            int last = strspn(save, " \t\r\n") == strlen(save);
            if (!last || ends_with_newline) {
                rc = err_set(err, err_sz, ERR_FORMAT, "%s: invalid JSON", where);
            }
            continue;
        }
        rc = eval_append(run, obj, where, err, err_sz);
        cJSON_Delete(obj);
    }
    free(text);
    return rc;
}

// Number field of a JSON object, or NaN when absent or not a number.
static double number_field(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

// Training time and steps summed over metrics.jsonl. Each line covers the
// steps since the previous line. Current records give the seconds of env
// stepping and of updates ("env_s", "update_s"). Older records give
// env_steps_per_s over env time and updates_per_s over update time, so
// their interval took d_steps / env_steps_per_s + d_updates / updates_per_s
// seconds. A line whose step does not increase (a resume from an earlier
// checkpoint) restarts the differences. Adds to *steps and *seconds; the
// first n_params found goes to run->n_params when it is still unknown.
static void metrics_time(CompareRun *run, char *text, double *steps, double *seconds) {
    double prev_step = 0.0, prev_updates = 0.0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *obj = cJSON_Parse(line);
        if (!obj) {
            continue;
        }
        double step = number_field(obj, "step"), updates = number_field(obj, "updates");
        double env_s = number_field(obj, "env_s"), update_s = number_field(obj, "update_s");
        double sps = number_field(obj, "env_steps_per_s");
        double ups = number_field(obj, "updates_per_s");
        if (isnan(run->n_params)) {
            run->n_params = number_field(obj, "n_params");
        }
        cJSON_Delete(obj);
        if (isnan(step) || step <= prev_step) {
            prev_step = isnan(step) ? prev_step : step;
            prev_updates = isnan(updates) ? prev_updates : updates;
            continue;
        }
        double d_steps = step - prev_step;
        double d_updates = isnan(updates) ? 0.0 : updates - prev_updates;
        if (env_s > 0.0) {
            *steps += d_steps;
            *seconds += env_s + (update_s > 0.0 ? update_s : 0.0);
        } else if (sps > 0.0) {
            *steps += d_steps;
            *seconds += d_steps / sps + (ups > 0.0 && d_updates > 0.0 ? d_updates / ups : 0.0);
        }
        prev_step = step;
        prev_updates = isnan(updates) ? prev_updates : updates;
    }
}

// Speed and parameter count. The speed is env steps per second of training
// (env stepping plus updates, without evaluations), in this order of
// preference: summary.json's "env_steps_per_s", the sum over metrics.jsonl
// intervals, summary.json's steps / wall_seconds. The parameter count is
// "n_params" from summary.json or metrics.jsonl. Both files are optional.
static void load_speed(CompareRun *run) {
    char path[1100];
    double summary_rate = NAN;
    run->sps = NAN;
    run->n_params = NAN;
    snprintf(path, sizeof path, "%s/summary.json", run->head.dir);
    if (file_exists(path)) {
        cJSON *root = compare_read_json(path, NULL, 0);
        if (root) {
            run->sps = number_field(root, "env_steps_per_s");
            run->n_params = number_field(root, "n_params");
            summary_rate = number_field(root, "steps") / number_field(root, "wall_seconds");
            cJSON_Delete(root);
        }
    }

    snprintf(path, sizeof path, "%s/metrics.jsonl", run->head.dir);
    char *text = NULL;
    size_t n = 0;
    double steps = 0.0, seconds = 0.0;
    if (file_exists(path) && file_read_all(path, &text, &n, NULL, 0) == 0) {
        metrics_time(run, text, &steps, &seconds);
        free(text);
    }
    if (isnan(run->sps) && seconds > 0.0) {
        run->sps = steps / seconds;
    }
    if (isnan(run->sps) && isfinite(summary_rate) && summary_rate > 0.0) {
        run->sps = summary_rate;
    }
    if (!(run->sps > 0.0)) {
        run->sps = NAN;
    }
}

// Runs written before summary.json had n_params, and unfinished runs: the
// count from config.json (and arch.json for CoNAL), or NaN when that fails.
static void load_params(CompareRun *run) {
    RlParamCounts counts;
    char err[1400];
    if (isnan(run->n_params) &&
        rl_train_count_run_params(run->head.dir, &counts, err, sizeof err) == 0) {
        run->n_params = (double)counts.total;
    }
}

int compare_run_load(CompareRun *run, const char *dir, char *err, size_t err_sz) {
    memset(run, 0, sizeof *run);
    snprintf(run->head.dir, sizeof run->head.dir, "%s", dir);
    size_t len = strlen(run->head.dir);
    while (len > 1 && run->head.dir[len - 1] == '/') {
        run->head.dir[--len] = '\0';
    }
    int rc = load_config(run, err, err_sz);
    char evals[1100];
    snprintf(evals, sizeof evals, "%s/eval.jsonl", run->head.dir);
    int have_evals = file_exists(evals);
    if (rc == 0 && have_evals) {
        rc = load_evals(run, err, err_sz);
    }
    if (rc != 0) {
        compare_run_deinit(run);
        return rc;
    }
    if (run->n_evals == 0) {
        // stopped before its first evaluation: listed, not compared
        run->incomplete = 1;
        compare_exclude(&run->head, "excluded, incomplete: %s",
                        have_evals ? "eval.jsonl has no evaluation yet"
                                   : "no eval.jsonl (stopped before its first evaluation)");
        return 0;
    }
    load_speed(run);
    load_params(run);
    if (run->steps > 0 && run->eval_steps[run->n_evals - 1] < run->steps) {
        run->incomplete = 1;
        snprintf(run->head.flag, sizeof run->head.flag,
                 "incomplete: last evaluation at step %lld of %lld",
                 run->eval_steps[run->n_evals - 1], run->steps);
    }
    return 0;
}

void compare_run_deinit(CompareRun *run) {
    cJSON_Delete(run->config);
    run->config = NULL;
    free(run->eval_steps);
    free(run->success);
    free(run->mean_success);
    run->eval_steps = NULL;
    run->success = NULL;
    run->mean_success = NULL;
    run->n_evals = 0;
}

// ---- checking and grouping ----

// Writes why run does not match the reference protocol into run->head.flag and
// excludes it; leaves it alone when it matches.
static void check_protocol(CompareRun *run, const CompareRun *ref) {
    char why[256] = "";
    if (run->episode_length != ref->episode_length) {
        snprintf(why, sizeof why, "episode length %d, reference %d", run->episode_length,
                 ref->episode_length);
    } else if (run->steps != ref->steps) {
        snprintf(why, sizeof why, "train.steps %lld, reference %lld", run->steps, ref->steps);
    } else if (run->batch_size != ref->batch_size) {
        snprintf(why, sizeof why, "batch size %d, reference %d", run->batch_size,
                 ref->batch_size);
    } else if (strcmp(run->widths, ref->widths) != 0) {
        snprintf(why, sizeof why, "widths %s, reference %s", run->widths, ref->widths);
    } else if (run->n_tasks != ref->n_tasks) {
        snprintf(why, sizeof why, "%d tasks, reference %d", run->n_tasks, ref->n_tasks);
    } else {
        for (int t = 0; t < run->n_tasks && !why[0]; t++) {
            if (strcmp(run->tasks[t], ref->tasks[t]) != 0) {
                snprintf(why, sizeof why, "task %d is '%s', reference '%s'", t,
                         run->tasks[t], ref->tasks[t]);
            }
        }
    }
    if (why[0]) {
        compare_exclude(&run->head, "excluded, protocol differs from %s: %s", ref->head.dir,
                        why);
    }
}

// Config keys that may differ between seeds of one method: the seed, and
// intervals that change what is logged or saved but not what is trained.
static const char *const seed_free_keys[] = {
    "seed", "train.log_interval", "train.checkpoint_interval", NULL,
};

// Excludes run i when its config differs from the first run of its method
// in a key other than the seed-free ones: such runs are not seeds of one
// experiment.
static void check_same_config(CompareSet *set, int i, const CompareGroup *grp) {
    CompareRun *run = &set->runs[i];
    if (grp->n_runs == 0) {
        return;
    }
    const CompareRun *first = &set->runs[grp->runs[0]];
    char key[300];
    if (compare_config_diff(first->config, run->config, seed_free_keys, "", key, sizeof key)) {
        compare_exclude(&run->head, "excluded, config differs from %s at %s", first->head.dir,
                        key);
    }
}

// Index of the group for method, created when new; -1 when the table is full.
static int group_for(CompareSet *set, const char *method) {
    for (int g = 0; g < set->n_groups; g++) {
        if (strcmp(set->groups[g].method, method) == 0) {
            return g;
        }
    }
    if (set->n_groups >= COMPARE_MAX_GROUPS) {
        return -1;
    }
    CompareGroup *grp = &set->groups[set->n_groups];
    memset(grp, 0, sizeof *grp);
    size_t len = strnlen(method, sizeof grp->method - 1);
    memcpy(grp->method, method, len);
    grp->method[len] = '\0';
    return set->n_groups++;
}

// Position of step in a run's evaluations, or -1.
static int eval_index(const CompareRun *run, long long step) {
    for (int e = 0; e < run->n_evals; e++) {
        if (run->eval_steps[e] == step) {
            return e;
        }
    }
    return -1;
}

// Steps present in every seed of the group, taken from the first seed.
static int group_common_steps(CompareSet *set, CompareGroup *grp) {
    const CompareRun *first = &set->runs[grp->runs[0]];
    grp->steps = malloc(sizeof(long long) * (size_t)first->n_evals);
    grp->curve_mean = malloc(sizeof(double) * (size_t)first->n_evals);
    grp->curve_std = malloc(sizeof(double) * (size_t)first->n_evals);
    if (!grp->steps || !grp->curve_mean || !grp->curve_std) {
        return ERR_NOMEM;
    }
    for (int e = 0; e < first->n_evals; e++) {
        int everywhere = 1;
        for (int r = 1; r < grp->n_runs; r++) {
            everywhere &= eval_index(&set->runs[grp->runs[r]], first->eval_steps[e]) >= 0;
        }
        if (everywhere) {
            grp->steps[grp->n_steps++] = first->eval_steps[e];
        }
    }
    return 0;
}

// Collects one value per seed at a step: task < 0 is mean success.
static void seed_values(const CompareSet *set, const CompareGroup *grp, long long step,
                        int task, double *out) {
    for (int r = 0; r < grp->n_runs; r++) {
        const CompareRun *run = &set->runs[grp->runs[r]];
        int e = eval_index(run, step);
        out[r] = task < 0 ? run->mean_success[e]
                          : run->success[(size_t)e * COMPARE_MAX_TASKS + (size_t)task];
    }
}

// Best (max over steps of the seed mean) and final values of one series.
static void series_stats(const CompareSet *set, const CompareGroup *grp, int task,
                         CompareStat *best, CompareStat *final, double *best_seeds,
                         double *final_seeds, double *curve_mean, double *curve_std) {
    double vals[COMPARE_MAX_RUNS];
    best->mean = -INFINITY;
    for (int i = 0; i < grp->n_steps; i++) {
        seed_values(set, grp, grp->steps[i], task, vals);
        double m = compare_mean(vals, grp->n_runs), s = compare_std(vals, grp->n_runs);
        if (curve_mean) {
            curve_mean[i] = m;
            curve_std[i] = s;
        }
        if (m > best->mean) {
            *best = (CompareStat){m, s, grp->steps[i]};
            if (best_seeds) {
                memcpy(best_seeds, vals, sizeof(double) * (size_t)grp->n_runs);
            }
        }
        if (i == grp->n_steps - 1) {
            *final = (CompareStat){m, s, grp->steps[i]};
            if (final_seeds) {
                memcpy(final_seeds, vals, sizeof(double) * (size_t)grp->n_runs);
            }
        }
    }
}

// Aggregates one group: curves, best and final values, speed, parameters.
static int group_aggregate(CompareSet *set, CompareGroup *grp) {
    if (group_common_steps(set, grp) != 0) {
        return ERR_NOMEM;
    }
    if (grp->n_steps == 0) {
        return ERR_MISMATCH;
    }
    series_stats(set, grp, -1, &grp->best, &grp->final, grp->best_seeds, grp->final_seeds,
                 grp->curve_mean, grp->curve_std);
    for (int t = 0; t < set->n_tasks; t++) {
        series_stats(set, grp, t, &grp->task_best[t], &grp->task_final[t], NULL, NULL, NULL,
                     NULL);
    }

    // speed and parameters: means over the seeds that report them
    double sps[COMPARE_MAX_RUNS];
    int n_sps = 0;
    grp->n_params = NAN;
    for (int r = 0; r < grp->n_runs; r++) {
        const CompareRun *run = &set->runs[grp->runs[r]];
        if (!isnan(run->sps)) {
            sps[n_sps++] = run->sps;
        }
        if (!isnan(run->n_params)) {
            grp->n_params = run->n_params;
        }
        grp->incomplete |= run->incomplete;
    }
    grp->sps = compare_mean(sps, n_sps);
    return 0;
}

// Speed ratios against the slowest group and p-values against the baseline.
static void compare_groups(CompareSet *set) {
    double slowest = INFINITY;
    for (int g = 0; g < set->n_groups; g++) {
        if (!isnan(set->groups[g].sps)) {
            slowest = fmin(slowest, set->groups[g].sps);
        }
    }
    const CompareGroup *base = set->baseline >= 0 ? &set->groups[set->baseline] : NULL;
    for (int g = 0; g < set->n_groups; g++) {
        CompareGroup *grp = &set->groups[g];
        grp->speed_ratio = isnan(grp->sps) ? (double)NAN : grp->sps / slowest;
        grp->p_best = grp->p_final = NAN;
        if (base && g != set->baseline) {
            CompareWelch w;
            compare_welch(grp->best_seeds, grp->n_runs, base->best_seeds, base->n_runs, &w);
            grp->p_best = w.p;
            compare_welch(grp->final_seeds, grp->n_runs, base->final_seeds, base->n_runs, &w);
            grp->p_final = w.p;
        }
    }
}

// Picks the baseline group: the named method, else mtsac, else the first.
static int pick_baseline(CompareSet *set, const char *baseline, char *err, size_t err_sz) {
    set->baseline = set->n_groups > 0 ? 0 : -1;
    const char *want = baseline ? baseline : "mtsac";
    for (int g = 0; g < set->n_groups; g++) {
        if (strcmp(set->groups[g].method, want) == 0) {
            set->baseline = g;
            return 0;
        }
    }
    if (baseline) {
        return err_set(err, err_sz, ERR_ARG,
                       "--baseline %s: no usable run has agent.method '%s'", baseline,
                       baseline);
    }
    return 0;
}

int compare_set_build(CompareSet *set, const char *const *dirs, int n_dirs,
                      const char *baseline, char *err, size_t err_sz) {
    memset(set, 0, sizeof *set);
    set->baseline = -1;
    if (n_dirs > COMPARE_MAX_RUNS) {
        return err_set(err, err_sz, ERR_ARG, "%d run directories, at most %d", n_dirs,
                       COMPARE_MAX_RUNS);
    }
    for (int i = 0; i < n_dirs; i++) {
        int rc = compare_run_load(&set->runs[set->n_runs], dirs[i], err, err_sz);
        if (rc != 0) {
            compare_set_deinit(set);
            return rc;
        }
        set->n_runs++;
    }
    if (set->n_runs == 0) {
        return err_set(err, err_sz, ERR_ARG, "no run directories given");
    }

    // the first run with evaluations is the reference protocol and task set
    int r0 = compare_first_usable(set->runs, sizeof set->runs[0], set->n_runs, err, err_sz);
    if (r0 < 0) {
        compare_set_deinit(set);
        return r0;
    }
    const CompareRun *ref = &set->runs[r0];
    set->n_tasks = ref->n_tasks;
    memcpy(set->tasks, ref->tasks, sizeof set->tasks);
    for (int i = 0; i < set->n_runs; i++) {
        CompareRun *run = &set->runs[i];
        if (run->head.excluded) {
            continue;
        }
        check_protocol(run, ref);
        compare_check_duplicate(set->runs, sizeof set->runs[0], i);
        if (run->head.excluded) {
            continue;
        }
        int g = group_for(set, run->head.method);
        if (g < 0) {
            compare_set_deinit(set);
            return err_set(err, err_sz, ERR_ARG, "more than %d methods", COMPARE_MAX_GROUPS);
        }
        CompareGroup *grp = &set->groups[g];
        check_same_config(set, i, grp);
        if (run->head.excluded) {
            continue;
        }
        grp->runs[grp->n_runs++] = i;
    }

    if (set->n_groups == 0) {
        compare_set_deinit(set);
        return err_set(err, err_sz, ERR_MISMATCH,
                       "no usable run: every run is excluded");
    }
    for (int g = 0; g < set->n_groups; g++) {
        int rc = group_aggregate(set, &set->groups[g]);
        if (rc != 0) {
            if (rc == ERR_NOMEM) {
                err_set(err, err_sz, rc, "method %s: out of memory", set->groups[g].method);
            } else {
                err_set(err, err_sz, rc, "method %s: its seeds share no evaluation step",
                        set->groups[g].method);
            }
            compare_set_deinit(set);
            return rc;
        }
    }
    int rc = pick_baseline(set, baseline, err, err_sz);
    if (rc != 0) {
        compare_set_deinit(set);
        return rc;
    }
    compare_groups(set);
    return 0;
}

void compare_set_deinit(CompareSet *set) {
    for (int i = 0; i < set->n_runs; i++) {
        compare_run_deinit(&set->runs[i]);
    }
    for (int g = 0; g < set->n_groups; g++) {
        free(set->groups[g].steps);
        free(set->groups[g].curve_mean);
        free(set->groups[g].curve_std);
        set->groups[g].steps = NULL;
        set->groups[g].curve_mean = NULL;
        set->groups[g].curve_std = NULL;
    }
    set->n_runs = 0;
    set->n_groups = 0;
}
