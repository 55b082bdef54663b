// `conal arch RUN_DIR`: the derived (or current) CoNAL architecture of a run.
//
// A run that finished its search has arch.json; one still searching has
// checkpoint.bin with each network's alpha, from which the current argmax is
// derived. Output is one table per network: which module every task runs in
// each slot (the shared module or its own) and the parameter counts.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/cfg.h"
#include "common/error.h"
#include "common/fileio.h"
#include "conal/arch.h"
#include "envs/env.h"
#include "nn/checkpoint.h"
#include "rl/config.h"
#include "rl/net_conal.h"
#include "rl/sac.h"

static const char *const net_names[3] = {"actor", "q1", "q2"};

// Name of task t: the MT10 name when the run has the ten tasks.
static void task_label(int t, int K, char *out, size_t out_sz) {
    const char *name = K == ENV_N_TASKS ? env_task_name(t) : NULL;
    if (name) {
        snprintf(out, out_sz, "%s", name);
    } else {
        snprintf(out, out_sz, "task %d", t);
    }
}

// Prints one network as a table: S = shared module, own = the task's module
// (pN = the chain of branch point N when partially specific).
static void print_arch_net(const ConalArchNet *a) {
    int P = a->n_slots + 1;
    double share = a->params_supernet
                       ? 100.0 * (double)a->params_derived / (double)a->params_supernet
                       : 0.0;
    printf("%s: %d tasks, %d module slots, %s-specific modules\n", a->name, a->n_tasks,
           a->n_slots, a->specific == CONAL_PURELY_SPECIFIC ? "purely" : "partially");
    printf("  parameters: supernet %zu, derived %zu (%.1f%%)\n", a->params_supernet,
           a->params_derived, share);
    printf("  %-24s", "task");
    for (int q = 1; q < P; q++) {
        printf(" slot%-2d", q);
    }
    printf(" | branch  softmax(alpha) p=1..%d\n", P);
    for (int t = 0; t < a->n_tasks; t++) {
        char label[32], cell[16];
        task_label(t, a->n_tasks, label, sizeof label);
        printf("  %-24s", label);
        for (int q = 1; q < P; q++) {
            if (q < a->branch[t]) {
                snprintf(cell, sizeof cell, "S");
            } else if (a->specific == CONAL_PURELY_SPECIFIC) {
                snprintf(cell, sizeof cell, "own");
            } else {
                snprintf(cell, sizeof cell, "p%d", a->branch[t]);
            }
            printf(" %-6s", cell);
        }
        printf(" | %-6d ", a->branch[t]);
        for (int p = 0; p < P; p++) {
            printf(" %.3f", (double)a->branch_weights[t][p]);
        }
        printf("\n");
    }
}

// Derives the current architecture of each network from checkpoint.bin.
static int arch_from_checkpoint(const char *dir, ConalArch *arch, char *err, size_t err_sz) {
    char path[1100];
    RlConfig cfg;
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    if (!file_exists(path)) {
        return err_set(err, err_sz, ERR_IO, "%s has neither arch.json nor checkpoint.bin; "
                       "is it a run directory?", dir);
    }

    // the run's config gives the network shapes; it is read without the
    // trainer's cross-field checks, which reject methods it cannot run
    snprintf(path, sizeof path, "%s/config.json", dir);
    rl_config_defaults(&cfg);
    int rc = cfg_load_file(rl_config_schema(), &cfg, path, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    if (strncmp(cfg.method, "conal", 5) != 0) {
        return err_set(err, err_sz, ERR_ARG, "%s: agent.method is \"%s\", not a CoNAL method",
                       path, cfg.method);
    }

    // each network's alpha section, derived without building the network
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    NnCkpt ck;
    if ((rc = nn_ckpt_load(&ck, path, err, err_sz)) != 0) {
        return rc;
    }
    for (int i = 0; i < 3 && rc == 0; i++) {
        RlNetSpec spec;
        ConalNetSpec cs;
        if (i == 0) {
            rl_sac_actor_spec(&cfg, ENV_N_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &spec);
        } else {
            rl_sac_critic_spec(&cfg, ENV_N_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &spec);
        }
        rc = rl_conal_spec(&spec, CONAL_PURELY_SPECIFIC, &cs, err, err_sz);
        size_t n = (size_t)cs.n_tasks * (size_t)(cs.n_slots + 1);
        float *alpha = rc == 0 ? malloc(n * sizeof *alpha) : NULL;
        char name[NN_CKPT_NAME_LEN];
        snprintf(name, sizeof name, "%s.alpha", net_names[i]);
        if (rc == 0) {
            rc = nn_ckpt_read(&ck, name, alpha, n * sizeof *alpha, err, err_sz);
        }
        if (rc == 0) {
            conal_arch_from_alpha(&cs, alpha, net_names[i], &arch->nets[arch->n_nets++]);
        }
        free(alpha);
    }
    nn_ckpt_unload(&ck);
    return rc;
}

int cmd_arch(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: conal arch RUN_DIR\n\n"
               "Prints the CoNAL architecture of a run, one table per network: the\n"
               "derived one from RUN_DIR/arch.json after the search, otherwise the\n"
               "current argmax of alpha from RUN_DIR/checkpoint.bin. S marks the shared\n"
               "module, own the task's specific module.\n");
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: conal arch RUN_DIR (run `conal arch --help`)\n");
        return 2;
    }

    // arch.json once the search is over, otherwise the checkpoint's alpha
    const char *dir = argv[1];
    char path[1100], err[1024] = "";
    ConalArch arch;
    memset(&arch, 0, sizeof arch);
    snprintf(path, sizeof path, "%s/arch.json", dir);
    int derived = file_exists(path);
    int rc = derived ? conal_arch_load(&arch, path, err, sizeof err)
                     : arch_from_checkpoint(dir, &arch, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "conal arch: %s\n", err);
        return 1;
    }

    printf("%s architecture of %s (%s)\n\n", derived ? "derived" : "current search",
           dir, derived ? "arch.json" : "argmax of alpha in checkpoint.bin");
    for (int i = 0; i < arch.n_nets; i++) {
        print_arch_net(&arch.nets[i]);
        printf("\n");
    }
    return 0;
}
