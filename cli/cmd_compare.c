// `conal compare`: tables and plots of success, speed and size across runs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/compare.h"
#include "cli/compare_vision.h"
#include "common/error.h"

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
            "  --plot FILE         writes mean success over env steps; .svg or .png\n\n"
            "`conal vision` runs (config.json with \"dataset\") are compared instead by\n"
            "method on their summary.json: each task's test metrics and Delta_I (in\n"
            "percent against single-task models) as mean +- std over seeds, params, and\n"
            "train_seconds relative to the slowest method. p is Welch's test against the\n"
            "baseline (default: stl when present, else the first method) on Delta_I, or\n"
            "on mean_first_metric when a seed has no Delta_I. Runs without summary.json\n"
            "and runs whose dataset, data.n_train, data.n_test or train.epochs differ\n"
            "from the first usable run are excluded and listed. Vision and train runs\n"
            "cannot be mixed in one call, and --plot does not apply to vision runs.\n");
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

// Compares `conal vision` runs; returns the exit code.
static int compare_vision(const char *const *dirs, int n_dirs, const char *baseline,
                          CompareFormat format) {
    VisionSet *set = calloc(1, sizeof *set);
    if (!set) {
        fprintf(stderr, "conal compare: out of memory\n");
        return 1;
    }
    char err[2048];
    int rc = vision_set_build(set, dirs, n_dirs, baseline, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "conal compare: %s\n", err);
        free(set);
        return rc == ERR_ARG ? 2 : 1;   // a bad --baseline or run list is a usage error
    }
    compare_warn_flags(set->runs, sizeof set->runs[0], set->n_runs, stderr);
    vision_set_write(set, format, stdout);
    vision_set_deinit(set);
    free(set);
    return 0;
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

    char err[2048];
    int kind = compare_runs_kind(dirs, n_dirs, err, sizeof err);
    if (kind < 0) {
        fprintf(stderr, "conal compare: %s\n", err);
        return 2;
    }
    if (kind == COMPARE_KIND_VISION) {
        if (plot) {
            fprintf(stderr, "conal compare: --plot %s: vision runs have no curve over "
                            "training to plot; leave --plot out\n", plot);
            return 2;
        }
        return compare_vision(dirs, n_dirs, baseline, format);
    }

    CompareSet *set = calloc(1, sizeof *set);
    if (!set) {
        fprintf(stderr, "conal compare: out of memory\n");
        return 1;
    }
    int build_rc = compare_set_build(set, dirs, n_dirs, baseline, err, sizeof err);
    if (build_rc != 0) {
        fprintf(stderr, "conal compare: %s\n", err);
        free(set);
        return build_rc == ERR_ARG ? 2 : 1;   // a bad --baseline or run list is a usage error
    }
    compare_warn_flags(set->runs, sizeof set->runs[0], set->n_runs, stderr);
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
