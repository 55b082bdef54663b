// `conal conflicts RUN_DIR...`: conflict ratios of several runs side by side.
//
// Every run logs, per metrics.jsonl record, "conflict_ratio": {"actor": {..},
// "q1": {..}}: per shared layer, keyed by layer name ("hidden0", ...,
// "output" for MT-SAC's shared output layer), the share of task pairs whose
// gradients have a negative cosine. Runs written before the names were
// added log arrays in layer order, read as "layer1", "layer2", ...
//
// The command prints one table per network. A column group per run, headed
// by the run's directory name and agent.method, has a column per shared
// layer. The rows are training steps taken evenly from the steps that any
// run logged, and a cell shows the run's last record at or before the row's
// step. Outside the steps a run logged (before its first record, after its
// last) the cell is "-", and so is a layer the record lacks or logs as null
// (no update in its interval). Records of older runs with "updates": 0 count
// as null too. The bottom row is each column's mean over the records with a
// value.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "common/fileio.h"

#define MAX_RUNS 16
#define MAX_LAYERS 8
#define NAME_LEN 24

typedef struct ConflictRun {
    const char *dir;
    char label[1024];                    // directory name, or the path when names repeat
    char method[48];                     // agent.method of config.json, or "?"
    long long search_steps;              // CoNAL: search.steps of config.json, else -1
    int n;                               // records with conflict_ratio
    long long *step;                     // (n)
    int n_layers[2];                     // per network: actor, q1
    char names[2][MAX_LAYERS][NAME_LEN]; // layer names in the order first logged
    double *ratio[2];                    // (n x MAX_LAYERS) per network; -1 when absent
} ConflictRun;

static const char *const nets[2] = {"actor", "q1"};

// ---- reading runs ----

// Column of layer `name` in network k of r, added when new; -1 when the
// table is full.
static int layer_column(ConflictRun *r, int k, const char *name) {
    for (int s = 0; s < r->n_layers[k]; s++) {
        if (strcmp(r->names[k][s], name) == 0) {
            return s;
        }
    }
    if (r->n_layers[k] == MAX_LAYERS) {
        return -1;
    }
    snprintf(r->names[k][r->n_layers[k]], NAME_LEN, "%s", name);
    return r->n_layers[k]++;
}

// Stores one record's ratios for network k at row i, from an object keyed
// by layer name or an array in layer order.
static void store_ratios(ConflictRun *r, int k, int i, const cJSON *layers) {
    double *row = r->ratio[k] + (size_t)i * MAX_LAYERS;
    for (int s = 0; s < MAX_LAYERS; s++) {
        row[s] = -1.0;
    }
    if (!cJSON_IsArray(layers) && !cJSON_IsObject(layers)) {
        return;
    }
    int index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, layers) {
        char name[NAME_LEN];
        if (item->string) {
            snprintf(name, sizeof name, "%s", item->string);
        } else {
            snprintf(name, sizeof name, "layer%d", index + 1);
        }
        index++;
        int s = layer_column(r, k, name);
        if (s >= 0 && cJSON_IsNumber(item)) {
            row[s] = item->valuedouble;
        }
    }
}

// Reads agent.method from dir/config.json ("?" when missing) and, for CoNAL
// methods, search.steps (-1 when missing).
static void read_config(ConflictRun *r) {
    snprintf(r->method, sizeof r->method, "?");
    r->search_steps = -1;
    char path[1100], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/config.json", r->dir);
    if (file_read_all(path, &text, &len, NULL, 0) != 0) {
        return;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(agent, "method");
    const cJSON *search = cJSON_GetObjectItemCaseSensitive(root, "search");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(search, "steps");
    if (cJSON_IsString(method)) {
        snprintf(r->method, sizeof r->method, "%s", method->valuestring);
    }
    if (strncmp(r->method, "conal", 5) == 0 && cJSON_IsNumber(steps)) {
        r->search_steps = (long long)steps->valuedouble;
    }
    cJSON_Delete(root);
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
    read_config(r);

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
            // runs written before null ratios log 0 for records without updates
            const cJSON *updates = cJSON_GetObjectItemCaseSensitive(o, "updates");
            int no_updates = cJSON_IsNumber(updates) && updates->valuedouble == 0.0;
            r->step[r->n] = (long long)step->valuedouble;
            for (int k = 0; k < 2; k++) {
                store_ratios(r, k, r->n, cJSON_GetObjectItemCaseSensitive(cr, nets[k]));
                for (int s = 0; no_updates && s < MAX_LAYERS; s++) {
                    r->ratio[k][(size_t)r->n * MAX_LAYERS + (size_t)s] = -1.0;
                }
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

// Labels every run with its directory name, or with the path as given when
// two runs share a name; trailing slashes are dropped.
static void label_runs(ConflictRun *runs, int n_runs) {
    char base[MAX_RUNS][1024];
    for (int j = 0; j < n_runs; j++) {
        snprintf(runs[j].label, sizeof runs[j].label, "%s", runs[j].dir);
        size_t len = strlen(runs[j].label);
        while (len > 1 && runs[j].label[len - 1] == '/') {
            runs[j].label[--len] = '\0';
        }
        const char *slash = strrchr(runs[j].label, '/');
        snprintf(base[j], sizeof base[j], "%s", slash ? slash + 1 : runs[j].label);
    }
    for (int j = 0; j < n_runs; j++) {
        int repeated = 0;
        for (int i = 0; i < n_runs; i++) {
            repeated |= i != j && strcmp(base[i], base[j]) == 0;
        }
        if (!repeated) {
            memcpy(runs[j].label, base[j], strlen(base[j]) + 1);
        }
    }
}

// ---- the tables ----

// Ascending comparison of long longs for qsort.
static int compare_steps(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

// Fills rows with at most n_rows steps taken evenly from the distinct steps
// any run logged, the last one included; returns their number.
static int pick_rows(const ConflictRun *runs, int n_runs, int n_rows, long long *rows) {
    int total = 0;
    for (int j = 0; j < n_runs; j++) {
        total += runs[j].n;
    }
    long long *all = err_xcalloc((size_t)total, sizeof *all, "conflict steps");
    int n = 0;
    for (int j = 0; j < n_runs; j++) {
        memcpy(all + n, runs[j].step, sizeof *all * (size_t)runs[j].n);
        n += runs[j].n;
    }
    qsort(all, (size_t)n, sizeof *all, compare_steps);
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        if (distinct == 0 || all[i] != all[distinct - 1]) {
            all[distinct++] = all[i];
        }
    }
    int count = distinct < n_rows ? distinct : n_rows;
    for (int r = 0; r < count; r++) {
        // row r of count takes the distinct step at index ceil((r+1) * distinct / count) - 1
        rows[r] = all[((long)(r + 1) * distinct + count - 1) / count - 1];
    }
    free(all);
    return count;
}

// Record of r shown at step: the last one at or before it, or -1 when step
// lies outside the steps r logged.
static int record_at(const ConflictRun *r, long long step) {
    if (step < r->step[0] || step > r->step[r->n - 1]) {
        return -1;
    }
    int best = -1;
    for (int i = 0; i < r->n && r->step[i] <= step; i++) {
        best = i;
    }
    return best;
}

// Width of column s of run r in network k: the layer name, at least "0.00".
static int column_width(const ConflictRun *r, int k, int s) {
    int w = (int)strlen(r->names[k][s]);
    return w > 4 ? w : 4;
}

// Extra width of the first column of run r, so that the group is as wide as its
// header "label (method)".
static int group_padding(const ConflictRun *r, int k) {
    int content = 0;
    for (int s = 0; s < r->n_layers[k]; s++) {
        content += 2 + column_width(r, k, s);
    }
    int header = 2 + (int)strlen(r->label) + 3 + (int)strlen(r->method);
    return header > content ? header - content : 0;
}

// One cell: the ratio, or "-" when v < 0 (no value).
static void print_cell(int width, double v) {
    if (v >= 0.0) {
        printf("  %*.2f", width, v);
    } else {
        printf("  %*s", width, "-");
    }
}

// Prints the two header lines: run labels over their groups, layer names.
static void print_header(const ConflictRun *runs, int n_runs, int k) {
    printf("%8s", "");
    for (int j = 0; j < n_runs; j++) {
        const ConflictRun *r = &runs[j];
        int width = group_padding(r, k) - 2;
        for (int s = 0; s < r->n_layers[k]; s++) {
            width += 2 + column_width(r, k, s);
        }
        char head[1100];
        snprintf(head, sizeof head, "%s (%s)", r->label, r->method);
        printf("%s  %-*s", j ? " |" : "", j + 1 < n_runs ? width : 0, head);
    }
    printf("\n%8s", "step");
    for (int j = 0; j < n_runs; j++) {
        const ConflictRun *r = &runs[j];
        printf("%s", j ? " |" : "");
        for (int s = 0; s < r->n_layers[k]; s++) {
            int pad = s == 0 ? group_padding(r, k) : 0;
            printf("  %*s", column_width(r, k, s) + pad, r->names[k][s]);
        }
        if (r->n_layers[k] == 0) {
            printf("  %*s", group_padding(r, k) - 2, "");
        }
    }
    printf("\n");
}

// Prints one row of cells, values[j][s] for run j and layer s (< 0: "-").
static void print_row(const ConflictRun *runs, int n_runs, int k, const char *label,
                      double values[MAX_RUNS][MAX_LAYERS]) {
    printf("%8s", label);
    for (int j = 0; j < n_runs; j++) {
        const ConflictRun *r = &runs[j];
        printf("%s", j ? " |" : "");
        for (int s = 0; s < r->n_layers[k]; s++) {
            int pad = s == 0 ? group_padding(r, k) : 0;
            print_cell(column_width(r, k, s) + pad, values[j][s]);
        }
        if (r->n_layers[k] == 0) {
            printf("  %*s", group_padding(r, k) - 2, "");
        }
    }
    printf("\n");
}

// Prints network k's table over the given row steps and the mean row.
static void print_table(const ConflictRun *runs, int n_runs, int k, const long long *rows,
                        int n_rows) {
    printf("%s: share of task pairs with conflicting gradients, per shared layer\n\n",
           nets[k]);
    print_header(runs, n_runs, k);
    double values[MAX_RUNS][MAX_LAYERS];
    for (int row = 0; row < n_rows; row++) {
        for (int j = 0; j < n_runs; j++) {
            int i = record_at(&runs[j], rows[row]);
            for (int s = 0; s < MAX_LAYERS; s++) {
                values[j][s] = i >= 0 ? runs[j].ratio[k][(size_t)i * MAX_LAYERS + (size_t)s]
                                      : -1.0;
            }
        }
        char label[24];
        snprintf(label, sizeof label, "%lld", rows[row]);
        print_row(runs, n_runs, k, label, values);
    }

    // mean over every record that has the layer
    for (int j = 0; j < n_runs; j++) {
        for (int s = 0; s < MAX_LAYERS; s++) {
            double sum = 0.0;
            int count = 0;
            for (int i = 0; i < runs[j].n; i++) {
                double v = runs[j].ratio[k][(size_t)i * MAX_LAYERS + (size_t)s];
                if (v >= 0.0) {
                    sum += v;
                    count++;
                }
            }
            values[j][s] = count ? sum / count : -1.0;
        }
    }
    print_row(runs, n_runs, k, "mean", values);
    printf("\n");
}

// Prints one line per run: label, method, records and the steps they span.
static void print_runs(const ConflictRun *runs, int n_runs) {
    printf("runs:\n");
    for (int j = 0; j < n_runs; j++) {
        const ConflictRun *r = &runs[j];
        printf("  %s (%s): %d record%s, steps %lld to %lld, from %s/metrics.jsonl", r->label,
               r->method, r->n, r->n == 1 ? "" : "s", r->step[0], r->step[r->n - 1],
               r->dir);
        if (r->search_steps > 0) {
            printf("; CoNAL search to step %lld, then retraining", r->search_steps);
        }
        printf("\n");
    }
    printf("\n");
}

// ---- the command ----

static const char conflicts_usage[] =
    "usage: conal conflicts RUN_DIR... [--rows N]\n\n"
    "Prints each run's conflict ratio per shared layer over training, side by\n"
    "side: the share of task pairs whose gradients on that layer have a\n"
    "negative cosine, from RUN_DIR/metrics.jsonl. One table per network\n"
    "(actor, q1), with a column group per run headed by its directory name\n"
    "and agent.method. MT-SAC-style methods log every hidden layer and the\n"
    "shared output layer; CoNAL logs its shared modules, which change when the\n"
    "retrain phase starts. Rows are steps any run logged; a cell shows the\n"
    "run's last record at or before that step, or - outside the steps the run\n"
    "logged. The last row is the mean over all of a run's records.\n"
    "  --rows N   number of step rows, 1 to 10000 (default 10)\n";

int cmd_conflicts(int argc, char **argv) {
    int n_rows = 10, n_runs = 0;
    ConflictRun runs[MAX_RUNS];
    memset(runs, 0, sizeof runs);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", conflicts_usage);
            return 0;
        }
        if (strcmp(argv[i], "--rows") == 0) {
            long long v = 0;
            if (i + 1 >= argc) {
                return cli_missing_value("conflicts", "--rows");
            }
            if (cli_parse_int("conflicts", "--rows", argv[++i], 1, 10000, &v) != 0) {
                return 2;
            }
            n_rows = (int)v;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "conal conflicts: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (n_runs == MAX_RUNS) {
            fprintf(stderr, "conal conflicts: at most %d runs\n", MAX_RUNS);
            return 2;
        } else {
            runs[n_runs++].dir = argv[i];
        }
    }
    if (n_runs == 0) {
        fprintf(stderr, "conal conflicts: missing RUN_DIR\n%s", conflicts_usage);
        return 2;
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
        label_runs(runs, n_runs);
        print_runs(runs, n_runs);
        long long *rows = err_xcalloc((size_t)n_rows, sizeof *rows, "conflict rows");
        int n = pick_rows(runs, n_runs, n_rows, rows);
        for (int k = 0; k < 2; k++) {
            print_table(runs, n_runs, k, rows, n);
        }
        free(rows);
    }
    for (int j = 0; j < n_runs; j++) {
        free(runs[j].step);
        free(runs[j].ratio[0]);
        free(runs[j].ratio[1]);
    }
    return status;
}
