// `conal compare`: tables and plots of success, speed and size across runs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/compare.h"

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: conal compare RUN_DIR... [--baseline METHOD] [--format table|md|csv|json]\n"
            "                     [--plot FILE.svg|FILE.png]\n\n"
            "Compares training runs grouped by agent.method (the runs of a method are its\n"
            "seeds). Each RUN_DIR needs config.json and eval.jsonl; a run without an\n"
            "evaluation yet is listed as incomplete and left out. metrics.jsonl and\n"
            "summary.json add the training speed when present. params is the number of\n"
            "parameters of actor and both critics, from summary.json or else counted\n"
            "from config.json (for CoNAL runs the derived networks of arch.json).\n\n"
            "Success is the maximum over training of the seed-mean success (the mtrl\n"
            "reporting rule), given as mean +- std over seeds at that step, beside the\n"
            "value at the last evaluation. Speed is env steps per second of training\n"
            "(env stepping plus updates, evaluations excluded) relative to the slowest\n"
            "method. p is Welch's two-sided t-test against the baseline, and\n"
            "std and p print n/a with one seed.\n\n"
            "Runs whose protocol (episode length, steps, batch size, widths, task set)\n"
            "differs from the first RUN_DIR are excluded and listed, and so are runs\n"
            "whose config differs from their method's first run in any key but the\n"
            "seed and the log and checkpoint intervals. Runs that stopped early are\n"
            "marked with *.\n\n"
            "options:\n"
            "  --baseline METHOD   method the p-values compare against (default: mtsac\n"
            "                      when present, else the first method)\n"
            "  --format FORMAT     table (default), md, csv or json, on stdout\n"
            "  --plot FILE         writes mean success over env steps; .svg or .png\n");
}

// Matches a file name's extension, case-sensitively.
static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

// Parses --format's value; -1 when unknown.
static int parse_format(const char *name) {
    static const char *const names[] = {"table", "md", "csv", "json"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int cmd_compare(int argc, char **argv) {
    const char *dirs[COMPARE_MAX_RUNS];
    int n_dirs = 0;
    const char *baseline = NULL, *plot = NULL;
    CompareFormat format = COMPARE_TABLE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--baseline") == 0 || strcmp(a, "--format") == 0 ||
            strcmp(a, "--plot") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "conal compare: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--baseline") == 0) {
                baseline = v;
            } else if (strcmp(a, "--plot") == 0) {
                plot = v;
            } else if (parse_format(v) < 0) {
                fprintf(stderr, "conal compare: --format %s: expected table, md, csv or json\n",
                        v);
                return 2;
            } else {
                format = (CompareFormat)parse_format(v);
            }
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "conal compare: unknown option '%s'; run `conal compare --help`\n",
                    a);
            return 2;
        }
        if (n_dirs >= COMPARE_MAX_RUNS) {
            fprintf(stderr, "conal compare: more than %d run directories\n", COMPARE_MAX_RUNS);
            return 2;
        }
        dirs[n_dirs++] = a;
    }
    if (n_dirs == 0) {
        print_usage(stderr);
        return 2;
    }
    if (plot && !has_suffix(plot, ".svg") && !has_suffix(plot, ".png")) {
        fprintf(stderr, "conal compare: --plot %s: expected a file name ending in .svg or "
                        ".png\n", plot);
        return 2;
    }

    CompareSet *set = calloc(1, sizeof *set);
    if (!set) {
        fprintf(stderr, "conal compare: out of memory\n");
        return 1;
    }
    char err[2048];
    if (compare_set_build(set, dirs, n_dirs, baseline, err, sizeof err) != 0) {
        fprintf(stderr, "conal compare: %s\n", err);
        free(set);
        return 1;
    }
    for (int i = 0; i < set->n_runs; i++) {
        if (set->runs[i].flag[0]) {
            fprintf(stderr, "conal compare: warning: %s: %s\n", set->runs[i].dir,
                    set->runs[i].flag);
        }
    }
    compare_set_write(set, format, stdout);

    int rc = 0;
    if (plot) {
        rc = has_suffix(plot, ".png") ? compare_plot_png(set, plot, err, sizeof err)
                                      : compare_plot_svg(set, plot, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "conal compare: %s\n", err);
        }
    }
    compare_set_deinit(set);
    free(set);
    return rc != 0 ? 1 : 0;
}
