// Text, Markdown, CSV and JSON output of `conal compare`.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/compare.h"

void compare_format_stat(const CompareStat *s, int digits, char *out, size_t out_sz) {
    if (isnan(s->mean)) {
        snprintf(out, out_sz, "n/a");
    } else if (isnan(s->std)) {
        snprintf(out, out_sz, "%.*f +- n/a", digits, s->mean);
    } else {
        snprintf(out, out_sz, "%.*f +- %.*f", digits, s->mean, digits, s->std);
    }
}

// Formats a statistic of success rates with three decimals.
static void format_stat(const CompareStat *s, char *out, size_t out_sz) {
    compare_format_stat(s, 3, out, out_sz);
}

void compare_format_num(double v, const char *fmt, char *out, size_t out_sz) {
    if (isnan(v)) {
        snprintf(out, out_sz, "n/a");
    } else {
        snprintf(out, out_sz, fmt, v);
    }
}

// Formats a p-value; the baseline's own row reads "baseline".
static void format_p(const CompareSet *set, int g, double p, char *out, size_t out_sz) {
    if (g == set->baseline) {
        snprintf(out, out_sz, "baseline");
    } else {
        compare_format_num(p, "%.3g", out, out_sz);
    }
}

// The cells of one method's summary row.
typedef struct SummaryRow {
    char method[COMPARE_NAME_LEN + 2];
    char seeds[16], best[40], best_step[24], final[40], p_best[24], p_final[24];
    char speed[24], ratio[24], params[24];
} SummaryRow;

static void summary_row(const CompareSet *set, int g, SummaryRow *row) {
    const CompareGroup *grp = &set->groups[g];
    snprintf(row->method, sizeof row->method, "%s%s", grp->method, grp->incomplete ? "*" : "");
    snprintf(row->seeds, sizeof row->seeds, "%d", grp->n_runs);
    format_stat(&grp->best, row->best, sizeof row->best);
    snprintf(row->best_step, sizeof row->best_step, "%lld", grp->best.step);
    format_stat(&grp->final, row->final, sizeof row->final);
    format_p(set, g, grp->p_best, row->p_best, sizeof row->p_best);
    format_p(set, g, grp->p_final, row->p_final, sizeof row->p_final);
    compare_format_num(grp->sps, "%.1f", row->speed, sizeof row->speed);
    compare_format_num(grp->speed_ratio, "%.2fx", row->ratio, sizeof row->ratio);
    compare_format_num(grp->n_params, "%.0f", row->params, sizeof row->params);
}

// Aligned text or Markdown: a summary table, then per-task success.
static void write_tables(const CompareSet *set, int markdown, FILE *out) {
    const char *sep = markdown ? " | " : "  ";
    const char *lead = markdown ? "| " : "";
    const char *tail = markdown ? " |" : "";
    const char *baseline = set->baseline >= 0 ? set->groups[set->baseline].method : "none";

    // summary: one row per method
    fprintf(out, "%smean success (max over training of the seed mean; p: Welch t-test "
                 "against %s)%s\n\n", markdown ? "**" : "", baseline, markdown ? "**" : "");
    fprintf(out, "%s%-16s%s%5s%s%-15s%s%9s%s%-15s%s%8s%s%8s%s%9s%s%6s%s%9s%s\n", lead,
            "method", sep, "seeds", sep, "best", sep, "at step", sep, "final", sep, "p best",
            sep, "p final", sep, "steps/s", sep, "speed", sep, "params", tail);
    if (markdown) {
        fprintf(out, "|---|---:|---|---:|---|---:|---:|---:|---:|---:|\n");
    }
    for (int g = 0; g < set->n_groups; g++) {
        SummaryRow r;
        summary_row(set, g, &r);
        fprintf(out, "%s%-16s%s%5s%s%-15s%s%9s%s%-15s%s%8s%s%8s%s%9s%s%6s%s%9s%s\n", lead,
                r.method, sep, r.seeds, sep, r.best, sep, r.best_step, sep, r.final, sep,
                r.p_best, sep, r.p_final, sep, r.speed, sep, r.ratio, sep, r.params, tail);
    }

    // per-task success, max rule, one column per method
    fprintf(out, "\n%sper-task success (max over training of the seed mean)%s\n\n",
            markdown ? "**" : "", markdown ? "**" : "");
    fprintf(out, "%s%-26s", lead, "task");
    for (int g = 0; g < set->n_groups; g++) {
        fprintf(out, "%s%-15s", sep, set->groups[g].method);
    }
    fprintf(out, "%s\n", tail);
    if (markdown) {
        fprintf(out, "|---|");
        for (int g = 0; g < set->n_groups; g++) {
            fprintf(out, "---|");
        }
        fprintf(out, "\n");
    }
    for (int t = 0; t < set->n_tasks; t++) {
        fprintf(out, "%s%-26s", lead, set->tasks[t]);
        for (int g = 0; g < set->n_groups; g++) {
            char cell[40];
            format_stat(&set->groups[g].task_best[t], cell, sizeof cell);
            fprintf(out, "%s%-15s", sep, cell);
        }
        fprintf(out, "%s\n", tail);
    }

    int any_incomplete = 0;
    for (int g = 0; g < set->n_groups; g++) {
        any_incomplete |= set->groups[g].incomplete;
    }
    if (any_incomplete) {
        fprintf(out, "\n* some seeds stopped before train.steps; the method uses the "
                     "evaluation steps all its seeds reached\n");
    }
    compare_write_flags(set->runs, sizeof set->runs[0], set->n_runs, markdown, out);
}

// Writes one CSV row; std and p print empty when NaN.
static void csv_row(FILE *out, const char *method, const char *metric, const char *task,
                    double mean, double std, long long step, int n) {
    fprintf(out, "%s,%s,%s,", method, metric, task);
    if (!isnan(mean)) {
        fprintf(out, "%.6g", mean);
    }
    fputc(',', out);
    if (!isnan(std)) {
        fprintf(out, "%.6g", std);
    }
    fprintf(out, ",%lld,%d\n", step, n);
}

// Long-format CSV: method,metric,task,mean,std,step,n_seeds.
static void write_csv(const CompareSet *set, FILE *out) {
    fprintf(out, "method,metric,task,mean,std,step,n_seeds\n");
    for (int g = 0; g < set->n_groups; g++) {
        const CompareGroup *grp = &set->groups[g];
        const char *m = grp->method;
        int n = grp->n_runs;
        csv_row(out, m, "success_best", "mean", grp->best.mean, grp->best.std,
                grp->best.step, n);
        csv_row(out, m, "success_final", "mean", grp->final.mean, grp->final.std,
                grp->final.step, n);
        for (int t = 0; t < set->n_tasks; t++) {
            csv_row(out, m, "success_best", set->tasks[t], grp->task_best[t].mean,
                    grp->task_best[t].std, grp->task_best[t].step, n);
            csv_row(out, m, "success_final", set->tasks[t], grp->task_final[t].mean,
                    grp->task_final[t].std, grp->task_final[t].step, n);
        }
        csv_row(out, m, "p_best", "mean", grp->p_best, NAN, grp->best.step, n);
        csv_row(out, m, "p_final", "mean", grp->p_final, NAN, grp->final.step, n);
        csv_row(out, m, "env_steps_per_s", "", grp->sps, NAN, grp->final.step, n);
        csv_row(out, m, "speed_ratio", "", grp->speed_ratio, NAN, grp->final.step, n);
        csv_row(out, m, "n_params", "", grp->n_params, NAN, grp->final.step, n);
    }
}

void compare_json_num(cJSON *obj, const char *key, double v) {
    if (isnan(v)) {
        cJSON_AddNullToObject(obj, key);
    } else {
        cJSON_AddNumberToObject(obj, key, v);
    }
}

static cJSON *json_stat(const CompareStat *s) {
    cJSON *o = cJSON_CreateObject();
    compare_json_num(o, "mean", s->mean);
    compare_json_num(o, "std", s->std);
    cJSON_AddNumberToObject(o, "step", (double)s->step);
    return o;
}

// One JSON object: methods with their statistics and curves, then flags.
static void write_json(const CompareSet *set, FILE *out) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "baseline",
                            set->baseline >= 0 ? set->groups[set->baseline].method : "");
    cJSON *methods = cJSON_AddArrayToObject(root, "methods");
    for (int g = 0; g < set->n_groups; g++) {
        const CompareGroup *grp = &set->groups[g];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "method", grp->method);
        cJSON_AddNumberToObject(m, "n_seeds", grp->n_runs);
        cJSON_AddBoolToObject(m, "incomplete", grp->incomplete);
        cJSON_AddItemToObject(m, "success_best", json_stat(&grp->best));
        cJSON_AddItemToObject(m, "success_final", json_stat(&grp->final));
        compare_json_num(m, "p_best", grp->p_best);
        compare_json_num(m, "p_final", grp->p_final);
        compare_json_num(m, "env_steps_per_s", grp->sps);
        compare_json_num(m, "speed_ratio", grp->speed_ratio);
        compare_json_num(m, "n_params", grp->n_params);
        cJSON *tasks = cJSON_AddObjectToObject(m, "tasks");
        for (int t = 0; t < set->n_tasks; t++) {
            cJSON *task = cJSON_AddObjectToObject(tasks, set->tasks[t]);
            cJSON_AddItemToObject(task, "best", json_stat(&grp->task_best[t]));
            cJSON_AddItemToObject(task, "final", json_stat(&grp->task_final[t]));
        }
        cJSON *runs = cJSON_AddArrayToObject(m, "runs");
        for (int r = 0; r < grp->n_runs; r++) {
            cJSON_AddItemToArray(runs, cJSON_CreateString(set->runs[grp->runs[r]].head.dir));
        }
        cJSON *curve = cJSON_AddArrayToObject(m, "curve");
        for (int i = 0; i < grp->n_steps; i++) {
            cJSON *pt = cJSON_CreateObject();
            cJSON_AddNumberToObject(pt, "step", (double)grp->steps[i]);
            compare_json_num(pt, "mean", grp->curve_mean[i]);
            compare_json_num(pt, "std", grp->curve_std[i]);
            cJSON_AddItemToArray(curve, pt);
        }
        cJSON_AddItemToArray(methods, m);
    }
    compare_json_write(root, set->runs, sizeof set->runs[0], set->n_runs, out);
}

void compare_set_write(const CompareSet *set, CompareFormat format, FILE *out) {
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
        fprintf(stderr, "compare_set_write: unknown format %d\n", (int)format);
        break;
    }
}
