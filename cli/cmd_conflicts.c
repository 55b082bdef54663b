// `conal conflicts RUN_DIR...`: conflict ratios of several runs side by side.
//
// Every run logs, per metrics.jsonl record, "conflict_ratio": {"actor": {..},
// "q1": {..}}: per shared layer, keyed by layer name ("hidden0", ...), the
// share of task pairs whose gradients have a negative cosine. Runs written
// before the names were added log arrays in layer order; both are read. This command prints one table per network: a row per
// sampled training step, a column per run and shared layer, and the mean over
// all records at the bottom.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/fileio.h"

#define MAX_RUNS 16
#define MAX_LAYERS 8

typedef struct ConflictRun {
    const char *dir;
    int n;                       // records
    long long *step;             // (n)
    int n_layers[2];             // per network: actor, q1
    char names[2][MAX_LAYERS][24];   // layer names of the first record, or "1", "2", ...
    double *ratio[2];            // (n x MAX_LAYERS) per network; -1 when absent
} ConflictRun;

static const char *const nets[2] = {"actor", "q1"};

// Stores one record's ratios for network k at row i, from an object keyed
// by layer name or an array in layer order.
static void store_ratios(ConflictRun *r, int k, int i, const cJSON *layers) {
    int n = cJSON_IsArray(layers) || cJSON_IsObject(layers) ? cJSON_GetArraySize(layers) : 0;
    n = n > MAX_LAYERS ? MAX_LAYERS : n;
    for (int s = r->n_layers[k]; s < n; s++) {
        const cJSON *item = cJSON_GetArrayItem(layers, s);
        if (item->string) {
            snprintf(r->names[k][s], sizeof r->names[k][s], "%s", item->string);
        } else {
            snprintf(r->names[k][s], sizeof r->names[k][s], "%d", s + 1);
        }
    }
    if (n > r->n_layers[k]) {
        r->n_layers[k] = n;
    }
    for (int s = 0; s < MAX_LAYERS; s++) {
        const cJSON *v = s < n ? cJSON_GetArrayItem(layers, s) : NULL;
        r->ratio[k][(size_t)i * MAX_LAYERS + (size_t)s] = cJSON_IsNumber(v) ? v->valuedouble
                                                                            : -1.0;
    }
}

// Reads dir/metrics.jsonl; returns 0, ERR_IO or ERR_FORMAT naming path:line.
static int read_run(ConflictRun *r, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->dir);
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, &text, &len, err, err_sz);
    if (rc != 0) {
        return rc;
    }

    // one record per line at most
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) {
        cap += text[i] == '\n';
    }
    r->step = err_xcalloc(cap, sizeof *r->step, "conflict steps");
    for (int k = 0; k < 2; k++) {
        r->ratio[k] = err_xcalloc(cap * MAX_LAYERS, sizeof(double), "conflict ratios");
    }

    // records without conflict_ratio (none logged yet) are skipped
    int line_no = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        line_no++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(o, "conflict_ratio");
        if (!o || !cJSON_IsNumber(step)) {
            cJSON_Delete(o);
            free(text);
            return err_set(err, err_sz, ERR_FORMAT, "%s:%d: not a metrics record with a step",
                           path, line_no);
        }
        if (cJSON_IsObject(cr)) {
            r->step[r->n] = (long long)step->valuedouble;
            for (int k = 0; k < 2; k++) {
                store_ratios(r, k, r->n, cJSON_GetObjectItemCaseSensitive(cr, nets[k]));
            }
            r->n++;
        }
        cJSON_Delete(o);
    }
    free(text);
    if (r->n == 0) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: no record has conflict_ratio", path);
    }
    return 0;
}

// One table cell: the ratio, or "-" when the record lacks it.
static void print_cell(double v) {
    if (v >= 0.0) {
        printf("  %4.2f", v);
    } else {
        printf("  %4s", "-");
    }
}

// Last record of r at or before step, or -1.
static int record_at(const ConflictRun *r, long long step) {
    int best = -1;
    for (int i = 0; i < r->n && r->step[i] <= step; i++) {
        best = i;
    }
    return best;
}

// Prints one network's table over n_rows steps sampled from [0, max_step].
static void print_table(const ConflictRun *runs, int n_runs, int k, int n_rows) {
    long long max_step = 0;
    for (int j = 0; j < n_runs; j++) {
        max_step = runs[j].step[runs[j].n - 1] > max_step ? runs[j].step[runs[j].n - 1]
                                                          : max_step;
    }
    printf("%s: conflict ratio per shared layer (column R<run>.<layer>)\n", nets[k]);
    for (int j = 0; j < n_runs; j++) {
        printf("  R%d layers:", j + 1);
        for (int s = 0; s < runs[j].n_layers[k]; s++) {
            printf(" %d=%s", s + 1, runs[j].names[k][s]);
        }
        printf("\n");
    }
    printf("%10s", "step");
    for (int j = 0; j < n_runs; j++) {
        for (int s = 0; s < runs[j].n_layers[k]; s++) {
            printf("  R%d.%d", j + 1, s + 1);
        }
    }
    printf("\n");
    for (int row = 1; row <= n_rows; row++) {
        long long step = max_step * row / n_rows;
        printf("%10lld", step);
        for (int j = 0; j < n_runs; j++) {
            int i = record_at(&runs[j], step);
            for (int s = 0; s < runs[j].n_layers[k]; s++) {
                double v = i >= 0 ? runs[j].ratio[k][(size_t)i * MAX_LAYERS + (size_t)s] : -1;
                print_cell(v);
            }
        }
        printf("\n");
    }

    // mean over every record that has the layer
    printf("%10s", "mean");
    for (int j = 0; j < n_runs; j++) {
        for (int s = 0; s < runs[j].n_layers[k]; s++) {
            double sum = 0.0;
            int count = 0;
            for (int i = 0; i < runs[j].n; i++) {
                double v = runs[j].ratio[k][(size_t)i * MAX_LAYERS + (size_t)s];
                if (v >= 0.0) {
                    sum += v;
                    count++;
                }
            }
            print_cell(count ? sum / count : -1.0);
        }
    }
    printf("\n\n");
}

int cmd_conflicts(int argc, char **argv) {
    int n_rows = 10, n_runs = 0;
    ConflictRun runs[MAX_RUNS];
    memset(runs, 0, sizeof runs);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: conal conflicts RUN_DIR... [--rows N]\n\n"
                   "Prints each run's conflict ratio per shared layer over training, side by\n"
                   "side: the share of task pairs whose gradients on that layer have a\n"
                   "negative cosine, from RUN_DIR/metrics.jsonl. One table per network\n"
                   "(actor, q1); --rows sets the number of sampled steps (default 10).\n");
            return 0;
        }
        if (strcmp(argv[i], "--rows") == 0) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *end || v < 1 || v > 10000) {
                fprintf(stderr, "conal conflicts: --rows needs an integer in [1, 10000]\n");
                return 1;
            }
            n_rows = (int)v;
            i++;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "conal conflicts: unknown option '%s'\n", argv[i]);
            return 1;
        } else if (n_runs == MAX_RUNS) {
            fprintf(stderr, "conal conflicts: at most %d runs\n", MAX_RUNS);
            return 1;
        } else {
            runs[n_runs++].dir = argv[i];
        }
    }
    if (n_runs == 0) {
        fprintf(stderr, "usage: conal conflicts RUN_DIR... [--rows N]\n");
        return 1;
    }

    int status = 0;
    char err[1400] = "";
    for (int j = 0; j < n_runs && status == 0; j++) {
        if (read_run(&runs[j], err, sizeof err) != 0) {
            fprintf(stderr, "conal conflicts: %s\n", err);
            status = 1;
        }
    }
    if (status == 0) {
        for (int j = 0; j < n_runs; j++) {
            printf("R%d = %s (%d records)\n", j + 1, runs[j].dir, runs[j].n);
        }
        printf("\n");
        for (int k = 0; k < 2; k++) {
            print_table(runs, n_runs, k, n_rows);
        }
    }
    for (int j = 0; j < n_runs; j++) {
        free(runs[j].step);
        free(runs[j].ratio[0]);
        free(runs[j].ratio[1]);
    }
    return status;
}
