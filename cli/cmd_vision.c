// `conal vision`: train multi-task image models (see vision/train.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/error.h"
#include "nn/gemm.h"
#include "vision/train.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: conal vision CONFIG [--out DIR] [--resume] [--seed S] [--threads N]\n"
            "                    [--set KEY=VALUE]...\n"
            "       conal vision --resume --out DIR\n"
            "       conal vision --keys\n\n"
            "Trains STL, HPS, PCGrad, CAGrad or CoNAL (with PCGrad or CAGrad) on a\n"
            "multi-task image dataset: Multi-Fashion (generated from Debian's\n"
            "dataset-fashion-mnist), NYUv2, CityScapes or CelebA (from data.dir).\n\n"
            "options:\n"
            "  --out DIR        run directory (default runs/vision-DATASET-METHOD-sSEED)\n"
            "  --resume         continue the run in --out from its checkpoint.bin\n"
            "  --seed S         override the config's seed (integer >= 0)\n"
            "  --threads N      threads for convolutions and matrix products (default 1)\n"
            "  --set KEY=VALUE  override one config value, e.g. --set train.epochs=2\n"
            "  --keys           list every config key with its meaning (also\n"
            "                   `conal config --keys vision`); `conal config CONFIG`\n"
            "                   prints the resolved config, defaults included\n\n"
            "SIGINT or SIGTERM stops training after the current step, writes the\n"
            "checkpoint with the epoch in progress and exits with status 130;\n"
            "--resume continues from that step. A finished run resumes only when\n"
            "extended, e.g. --resume --out DIR --set train.epochs=N with a larger N.\n");
}

// Parses a non-negative integer option value; returns -1 when invalid.
static long long parse_count(const char *s) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return (end && *end == '\0' && end != s && v >= 0) ? v : -1;
}

int cmd_vision(int argc, char **argv) {
    VisTrainOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = -1;
    opt.threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--keys") == 0) {
            for (int k = 0; k < vis_config_schema.n_fields; k++) {
                printf("%-32s %s\n", vis_config_schema.fields[k].path,
                       vis_config_schema.fields[k].help);
            }
            return 0;
        } else if (strcmp(a, "--resume") == 0) {
            opt.resume = 1;
        } else if (strcmp(a, "--out") == 0 && has_value) {
            opt.out_dir = argv[++i];
            if (!opt.out_dir[0]) {
                fprintf(stderr, "conal vision: --out needs a directory name, not ''\n");
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0 && has_value) {
            opt.seed = parse_count(argv[++i]);
            if (opt.seed < 0) {
                fprintf(stderr, "conal vision: --seed '%s' is not a non-negative integer\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0 && has_value) {
            long long n = parse_count(argv[++i]);
            if (n < 1 || n > 256) {
                fprintf(stderr, "conal vision: --threads '%s' must be an integer in 1..256\n",
                        argv[i]);
                return 2;
            }
            opt.threads = (int)n;
        } else if (strcmp(a, "--set") == 0 && has_value) {
            if (opt.n_sets == VIS_MAX_SETS) {
                fprintf(stderr, "conal vision: more than %d --set options\n", VIS_MAX_SETS);
                return 2;
            }
            opt.sets[opt.n_sets++] = argv[++i];
            if (!strchr(argv[i], '=')) {
                fprintf(stderr, "conal vision: --set '%s': expected KEY=VALUE, e.g. --set "
                                "train.epochs=2\n", argv[i]);
                return 2;
            }
        } else if (a[0] != '-' && !opt.config_path) {
            opt.config_path = a;
        } else {
            fprintf(stderr, "conal vision: unexpected argument '%s'%s\n", a,
                    a[0] == '-' && !has_value ? " (missing value?)" : "");
            usage(stderr);
            return 2;
        }
    }
    if (!opt.config_path && !(opt.resume && opt.out_dir)) {
        fprintf(stderr, "conal vision: missing CONFIG (or --resume --out DIR)\n");
        usage(stderr);
        return 2;
    }
    if (nn_threads_set(opt.threads) != 0) {
        fprintf(stderr, "conal vision: cannot start %d threads\n", opt.threads);
        return 1;
    }
    char err[4096] = "";
    int rc = vis_train_main(&opt, err, sizeof err);
    if (rc == VIS_TRAIN_STOPPED) {
        fprintf(stderr, "conal vision: %s\n", err);
        return 130;
    }
    if (rc != 0) {
        fprintf(stderr, "conal vision: %s\n", err[0] ? err : err_name(rc));
        return 1;
    }
    return 0;
}
