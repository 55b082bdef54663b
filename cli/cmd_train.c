// `conal train`: parses flags and hands over to rl_train_main.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "common/log.h"
#include "rl/train.h"

static const char train_usage[] =
    "usage: conal train CONFIG.json [--out DIR] [--seed S] [--steps N] [--threads N]\n"
    "                   [--set key=value]... [--arch ARCH.json] [--resume] [--estimate]\n"
    "                   [--quiet]\n"
    "\n"
    "Trains multi-task SAC on the ten MT10 tasks. One step steps every task's env once.\n"
    "  --out DIR        run directory (default runs/<config name>-seed<seed>)\n"
    "  --seed S         overrides the config's seed\n"
    "  --steps N        overrides train.steps, or retrain.steps for CoNAL methods, a\n"
    "                   multiple of env.episode_length (with --resume: extends a\n"
    "                   finished run)\n"
    "  --threads N      env and BLAS threads (default: all cores)\n"
    "  --set key=value  overrides a config key by JSON path, e.g. train.batch_size=64\n"
    "  --arch FILE      CoNAL methods: skips the search and retrains the architecture in\n"
    "                   FILE (an arch.json written by a search) from fresh weights\n"
    "  --resume         continues the run in --out DIR from its checkpoint (a run that\n"
    "                   stopped before its first checkpoint starts again from step 0); a\n"
    "                   CONFIG given with it must match the run's config apart from\n"
    "                   train.steps\n"
    "  --estimate       measures a few hundred steps and prints the projected wall time\n"
    "  --quiet          prints warnings and errors only\n"
    "\n"
    "SIGINT (Ctrl-C) or SIGTERM: the run finishes the current episode, saves DIR/checkpoint.bin\n"
    "and exits with status 130; `conal train --resume --out DIR` continues it exactly.\n";

// Largest --steps and --seed: the bounds of train.steps and seed in configs.
#define MAX_STEPS 1000000000000000LL
#define MAX_SEED 4294967295LL

// Parses the value of a numeric flag of train into *out; returns 0 or 2 (the
// usage-error exit status) after printing the error.
static int parse_flag(int argc, char **argv, int *i, long long lo, long long hi,
                      long long *out) {
    const char *flag = argv[*i];
    if (*i + 1 >= argc) {
        return cli_missing_value("train", flag);
    }
    *i += 1;
    return cli_parse_int("train", flag, argv[*i], lo, hi, out) == 0 ? 0 : 2;
}

int cmd_train(int argc, char **argv) {
    RlTrainOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.seed = -1;
    opt.steps = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = cores > 0 ? (int)cores : 1;

    // flags in any order; the first plain argument is the config
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!has_value && (strcmp(a, "--out") == 0 || strcmp(a, "--arch") == 0 ||
                           strcmp(a, "--set") == 0)) {
            return cli_missing_value("train", a);
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", train_usage);
            return 0;
        } else if (strcmp(a, "--resume") == 0) {
            opt.resume = 1;
        } else if (strcmp(a, "--estimate") == 0) {
            opt.estimate = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            opt.quiet = 1;
        } else if (strcmp(a, "--out") == 0) {
            opt.out_dir = argv[++i];
            if (opt.out_dir[0] == '\0') {
                fprintf(stderr, "conal train: --out: the directory name is empty; give a run "
                                "directory, e.g. --out runs/mt10\n");
                return 2;
            }
        } else if (strcmp(a, "--arch") == 0) {
            opt.arch_path = argv[++i];
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_flag(argc, argv, &i, 0, MAX_SEED, &opt.seed) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--steps") == 0) {
            if (parse_flag(argc, argv, &i, 1, MAX_STEPS, &opt.steps) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0) {
            long long n = 0;
            if (parse_flag(argc, argv, &i, 1, 256, &n) != 0) {
                return 2;
            }
            opt.threads = (int)n;
        } else if (strcmp(a, "--set") == 0) {
            if (opt.n_sets == RL_MAX_SETS) {
                fprintf(stderr, "conal train: more than %d --set options\n", RL_MAX_SETS);
                return 2;
            }
            opt.sets[opt.n_sets++] = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "conal train: unknown option '%s'\n%s", a,
                    train_usage);
            return 2;
        } else if (!opt.config_path) {
            opt.config_path = a;
        } else {
            fprintf(stderr, "conal train: unexpected argument '%s' (config already %s)\n", a,
                    opt.config_path);
            return 2;
        }
    }

    if (!opt.config_path && !opt.resume) {
        fprintf(stderr, "conal train: missing CONFIG.json\n%s", train_usage);
        return 2;
    }
    if (opt.quiet) {
        log_set_level(LOG_WARN);
    }

    // 0: finished, 130: interrupted and saved, negative: an error in err
    char err[4096] = "";
    int rc = rl_train_main(&opt, err, sizeof err);
    if (rc < 0) {
        int has_newline = err[0] && err[strlen(err) - 1] == '\n';
        fprintf(stderr, "conal train: %s%s", err, has_newline ? "" : "\n");
        return 1;
    }
    return rc;
}
