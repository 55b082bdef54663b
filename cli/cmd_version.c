// `conal version`: version, git revision and the libraries linked.
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mujoco/mujoco.h>

#include "cli/commands.h"
#include "common/version_info.h"

// OpenBLAS exports these, but Debian's cblas.h does not declare them all
// under every alternative, so declare the two we use.
char *openblas_get_config(void);
int openblas_get_num_threads(void);

void cli_print_versions(void) {
    printf("mujoco %s\n", mj_versionString());
    printf("openblas %s (threads %d)\n", openblas_get_config(), openblas_get_num_threads());
    printf("cjson %s\n", cJSON_Version());
}

int cmd_version(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: conal version\n\nPrints the conal version, git revision and the "
               "versions of MuJoCo, OpenBLAS and cJSON it links.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "conal version: unexpected argument '%s'\n", argv[1]);
        return 1;
    }
    printf("conal %s (git %s)\n", CONAL_VERSION, CONAL_GIT_REV);
    cli_print_versions();
    return 0;
}
