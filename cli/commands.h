// Subcommands of the conal binary. Each takes the arguments after its name
// (argv[0] is the subcommand) and returns the process exit code.
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

typedef struct CliCommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;   // one line for `conal help`
} CliCommand;

int cmd_version(int argc, char **argv);
int cmd_arch(int argc, char **argv);
int cmd_conflicts(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_vision(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_envs(int argc, char **argv);

// Prints the library versions this binary links (MuJoCo, OpenBLAS, cJSON).
void cli_print_versions(void);

#endif
