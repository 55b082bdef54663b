// `conal config`: prints the resolved config, defaults included.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "common/cfg.h"
#include "rl/config.h"
#include "vision/config.h"

static const char config_usage[] =
    "usage: conal config CONFIG.json [--set key=value]...\n"
    "       conal config --keys [vision]\n"
    "\n"
    "Prints the resolved training config (the file applied onto the defaults) as JSON.\n"
    "A config with a vision key at its top level (dataset, data, method, arch, cagrad,\n"
    "stl_summary) is resolved as a `conal vision` config.\n"
    "--keys lists every key of `conal train` configs with its meaning; --keys vision\n"
    "lists those of `conal vision` configs.\n";

// Prints every key of the schema and its help line.
static void print_keys(const CfgSchema *schema) {
    for (int i = 0; i < schema->n_fields; i++) {
        printf("%-32s %s\n", schema->fields[i].path, schema->fields[i].help);
    }
}

int cmd_config(int argc, char **argv) {
    const char *path = NULL;
    const char *sets[64];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", config_usage);
            return 0;
        } else if (strcmp(argv[i], "--keys") == 0) {
            int vision = i + 1 < argc && strcmp(argv[i + 1], "vision") == 0;
            print_keys(vision ? &vis_config_schema : rl_config_schema());
            return 0;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && n_sets < 64) {
            sets[n_sets++] = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "conal config: unexpected argument '%s'\n%s", argv[i],
                    config_usage);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "conal config: missing CONFIG.json\n%s", config_usage);
        return 2;
    }
    char err[4096] = "";
    if (vis_config_is_vision_file(path)) {
        VisConfig vcfg;
        if (vis_config_resolve(&vcfg, path, sets, n_sets, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        cJSON *json = cfg_to_json(&vis_config_schema, &vcfg);
        char *text = cJSON_Print(json);
        printf("%s\n", text);
        free(text);
        cJSON_Delete(json);
        return 0;
    }
    RlConfig cfg;
    if (rl_config_load(&cfg, path, sets, n_sets, err, sizeof err) != 0 ||
        rl_config_check_steps(&cfg, 0, err, sizeof err) != 0) {
        fprintf(stderr, "%s%s", err, err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
        return 1;
    }
    cJSON *json = cfg_to_json(rl_config_schema(), &cfg);
    char *text = cJSON_Print(json);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(json);
    return 0;
}
