// conal: entry point and subcommand dispatch.
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static int cmd_help(int argc, char **argv);

static const CliCommand commands[] = {
    {"help", cmd_help, "list the subcommands"},
    {"version", cmd_version, "print the version, git revision and linked libraries"},
    {"arch", cmd_arch, "print a CoNAL run's architecture per network"},
    {"conflicts", cmd_conflicts, "print runs' conflict ratios per shared layer side by side"},
    {"compare", cmd_compare, "compare runs: success over seeds, speed, p-values, plots"},
    {"train", cmd_train, "train multi-task SAC on MT10 from a JSON config"},
    {"eval", cmd_eval, "measure per-task success of a trained or random policy"},
    {"config", cmd_config, "print a resolved training config, defaults included"},
    {"vision", cmd_vision, "train multi-task image models (Multi-Fashion, NYUv2, ...)"},
    {"view", cmd_view, "watch a policy play in a window, or record it to MP4 or PNG"},
    {"envs", cmd_envs, "list the MT10 tasks and scenes; --check steps each task once"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

// Prints the list of subcommands.
static int cmd_help(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("usage: conal COMMAND [ARGS...]\n\n"
           "Multi-task SAC with conflict-noticed architecture learning on the\n"
           "Meta-World MT10 tasks, simulated with MuJoCo.\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++) {
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    printf("\nRun `conal COMMAND --help` for the options of one command.\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cmd_help(0, NULL);
        return 1;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        return cmd_help(0, NULL);
    }
    if (strcmp(name, "--version") == 0) {
        name = "version";
    }
    for (int i = 0; i < n_commands; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "conal: unknown command '%s'; run `conal help` for the list\n", name);
    return 1;
}
