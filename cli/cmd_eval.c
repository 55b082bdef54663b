// `conal eval`: success rates of a trained policy or of the random policy.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/error.h"
#include "common/fileio.h"
#include "envs/env.h"
#include "nn/checkpoint.h"
#include "rl/train.h"
#include "rl/train_conal.h"

static const char eval_usage[] =
    "usage: conal eval [RUN_DIR|CHECKPOINT] [--task NAME] [--goal I] [--episodes N]\n"
    "                  [--random] [--json] [--threads N]\n"
    "\n"
    "Runs deterministic episodes (mean action) of a trained policy and prints the\n"
    "success rate per task (success = the task's rule holds at any step).\n"
    "  RUN_DIR          a run directory: loads RUN_DIR/checkpoint.bin and config.json\n"
    "  CHECKPOINT       a checkpoint file (checkpoint.bin, best.bin) inside a run directory\n"
    "  --task NAME      evaluates one task (e.g. reach-v3) instead of all ten\n"
    "  --goal I         uses goal variation I (0..49) in every episode instead of\n"
    "                   spreading the episodes over the 50 goals\n"
    "  --episodes N     episodes per task (default 50)\n"
    "  --random         uniform random actions: the floor every table compares to;\n"
    "                   without RUN_DIR it uses the default config (150-step episodes)\n"
    "  --json           prints one JSON object instead of a table\n"
    "  --threads N      env threads (default: all cores)\n";

// Splits a RUN_DIR or CHECKPOINT argument into the run's config and checkpoint.
static int locate_run(const char *arg, char *cfg_path, char *ckpt_path, size_t n) {
    struct stat st;
    if (stat(arg, &st) != 0) {
        fprintf(stderr, "conal eval: %s: not found\n", arg);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(cfg_path, n, "%s/config.json", arg);
        snprintf(ckpt_path, n, "%s/checkpoint.bin", arg);
        return 0;
    }
    const char *slash = strrchr(arg, '/');
    int dir_len = slash ? (int)(slash - arg) : 1;
    snprintf(cfg_path, n, "%.*s/config.json", dir_len, slash ? arg : ".");
    snprintf(ckpt_path, n, "%s", arg);
    return 0;
}

// Prints the result as a table or as JSON.
static void print_result(const RlEvalResult *res, int json, int random) {
    if (json) {
        printf("{\"policy\": \"%s\", \"episodes\": %d, \"success\": {", random ? "random" : "agent",
               res->episodes);
        for (int i = 0; i < res->n_tasks; i++) {
            printf("%s\"%s\": %.4f", i ? ", " : "", env_task_name(res->tasks[i]),
                   res->success[i]);
        }
        printf("}, \"return\": {");
        for (int i = 0; i < res->n_tasks; i++) {
            printf("%s\"%s\": %.3f", i ? ", " : "", env_task_name(res->tasks[i]), res->ret[i]);
        }
        printf("}, \"mean_success\": %.4f}\n", res->mean_success);
        return;
    }
    printf("%-26s %8s %10s   (%s policy, %d episodes per task)\n", "task", "success", "return",
           random ? "random" : "trained", res->episodes);
    for (int i = 0; i < res->n_tasks; i++) {
        printf("%-26s %8.2f %10.1f\n", env_task_name(res->tasks[i]), res->success[i],
               res->ret[i]);
    }
    printf("%-26s %8.3f\n", "mean", res->mean_success);
}

// Parses an integer flag value in [lo, hi] into *out; returns 0 or -1 after
// printing the error.
static int parse_int(const char *flag, const char *text, int lo, int hi, int *out) {
    long long v = 0;
    if (cli_parse_int("eval", flag, text, lo, hi, &v) != 0) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *run = NULL, *task = NULL;
    RlEvalOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.goal = -1;
    opt.episodes = 50;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = cores > 0 ? (int)cores : 1;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!has_value && (strcmp(a, "--task") == 0 || strcmp(a, "--goal") == 0 ||
                           strcmp(a, "--episodes") == 0 || strcmp(a, "--threads") == 0)) {
            return cli_missing_value("eval", a);
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", eval_usage);
            return 0;
        } else if (strcmp(a, "--random") == 0) {
            opt.random = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--task") == 0) {
            task = argv[++i];
        } else if (strcmp(a, "--goal") == 0) {
            if (parse_int(a, argv[++i], 0, ENV_N_GOALS - 1, &opt.goal) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--episodes") == 0) {
            if (parse_int(a, argv[++i], 1, 1000000, &opt.episodes) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_int(a, argv[++i], 1, 256, &opt.threads) != 0) {
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "conal eval: unknown option '%s'\n%s", a,
                    eval_usage);
            return 2;
        } else if (!run) {
            run = a;
        } else {
            fprintf(stderr, "conal eval: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!run && !opt.random) {
        fprintf(stderr, "conal eval: missing RUN_DIR or CHECKPOINT (or --random)\n%s",
                eval_usage);
        return 2;
    }

    // tasks: one by name, or all ten
    if (task) {
        int t = env_task_index(task);
        if (t < 0) {
            fprintf(stderr, "conal eval: --task: unknown task '%s'; the MT10 tasks are", task);
            for (int k = 0; k < ENV_N_TASKS; k++) {
                fprintf(stderr, "%s %s", k ? "," : "", env_task_name(k));
            }
            fprintf(stderr, "\n");
            return 2;
        }
        opt.tasks[0] = t;
        opt.n_tasks = 1;
    } else {
        for (int t = 0; t < ENV_N_TASKS; t++) {
            opt.tasks[t] = t;
        }
        opt.n_tasks = ENV_N_TASKS;
    }

    // config and agent
    RlConfig cfg;
    char err[4096] = "", cfg_path[1200], ckpt_path[1200];
    rl_config_defaults(&cfg);
    if (run && locate_run(run, cfg_path, ckpt_path, sizeof cfg_path) != 0) {
        return 1;
    }
    if (run && rl_config_load(&cfg, cfg_path, NULL, 0, err, sizeof err) != 0) {
        fprintf(stderr, "conal eval: %s\n", err);
        return 1;
    }
    opt.seed = (uint64_t)cfg.seed;
    rl_set_blas_threads(opt.threads);
    RlSac *sac = NULL;
    if (!opt.random) {
        // a CoNAL checkpoint taken while retraining contains the derived
        // networks of RUN_DIR/arch.json, not the search supernet of config.json
        char run_dir[1200];
        snprintf(run_dir, sizeof run_dir, "%.*s", (int)(strlen(cfg_path) - strlen("/config.json")),
                 cfg_path);
        static ConalArch arch;
        NnCkpt ck;
        int rc = nn_ckpt_load(&ck, ckpt_path, err, sizeof err);
        if (rc == 0) {
            rc = rl_conal_arch_for_checkpoint(&cfg, &ck, run_dir, &arch, err, sizeof err);
        }
        if (rc == 0) {
            RngState rng;
            rng_init(&rng, 0);
            sac = rl_sac_create(&cfg, ENV_N_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &rng, 0, err,
                                sizeof err);
            rc = sac ? rl_sac_load(sac, &ck, err, sizeof err) : -1;
        }
        if (ck.buf) {
            nn_ckpt_unload(&ck);
        }
        if (rc != 0) {
            fprintf(stderr, "conal eval: %s\n", err);
            rl_sac_destroy(sac);
            return 1;
        }
    }
    RlEvalResult res;
    int rc = rl_evaluate(&cfg, sac, &opt, &res, err, sizeof err);
    rl_sac_destroy(sac);
    if (rc != 0) {
        fprintf(stderr, "conal eval: %s\n", err);
        return 1;
    }
    print_result(&res, json, opt.random);
    return 0;
}
