// Vision configs: telling them from train configs, resolving them, and
// `conal config` printing them and listing their keys.
#include "vision/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/error.h"
#include "common/fileio.h"
#include "tests/check.h"

static char tmp[256];

// Runs `conal ARGS` with stdout and stderr in tmp/out.txt and tmp/err.txt;
// returns its exit status.
static int run_conal(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/conal' %s >'%s/out.txt' 2>'%s/err.txt'", CONAL_BINARY_DIR,
             args, tmp, tmp);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// tmp/name as a malloc'ed string, or NULL.
static char *read_tmp(const char *name) {
    char path[512], err[256], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return file_read_all(path, &text, &len, err, sizeof err) == 0 ? text : NULL;
}

static void tells_vision_from_train_configs(void) {
    CHECK_EQ_INT(1, vis_config_is_vision_file(CONAL_SOURCE_DIR
                                              "/configs/multifashion-hps.json"));
    CHECK_EQ_INT(1, vis_config_is_vision_file(CONAL_SOURCE_DIR "/configs/nyuv2-stl.json"));
    CHECK_EQ_INT(0, vis_config_is_vision_file(CONAL_SOURCE_DIR "/configs/mt10-mtsac.json"));
    CHECK_EQ_INT(0, vis_config_is_vision_file("/nonexistent/config.json"));
}

static void resolves_file_then_sets(void) {
    VisConfig cfg;
    char err[1024];
    const char *sets[] = {"train.epochs=3", "method=pcgrad"};
    int rc = vis_config_resolve(&cfg, CONAL_SOURCE_DIR "/configs/multifashion-hps.json", sets,
                                2, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    CHECK_EQ_INT(3, cfg.epochs);
    CHECK(strcmp(cfg.method, "pcgrad") == 0);
    CHECK_EQ_INT(256, cfg.batch_size);
    const char *bad[] = {"arch.kernel=4"};
    CHECK_EQ_INT(ERR_CONFIG, vis_config_resolve(&cfg, CONAL_SOURCE_DIR
                                                "/configs/multifashion-hps.json", bad, 1,
                                                err, sizeof err));
    CHECK_STR_CONTAINS(err, "arch.kernel: 4 must be odd");
}

static void config_command_prints_vision_config(void) {
    CHECK_EQ_INT(0, run_conal("config " CONAL_SOURCE_DIR "/configs/multifashion-hps.json "
                              "--set train.epochs=4"));
    char *out = read_tmp("out.txt");
    CHECK_STR_CONTAINS(out, "\"dataset\":\t\"multifashion\"");
    CHECK_STR_CONTAINS(out, "\"epochs\":\t4");
    CHECK_STR_CONTAINS(out, "\"n_val\":\t6000");
    free(out);

    CHECK_EQ_INT(1, run_conal("config " CONAL_SOURCE_DIR "/configs/multifashion-hps.json "
                              "--set arch.depth=2"));
    char *err = read_tmp("err.txt");
    CHECK_STR_CONTAINS(err, "arch.depth");
    free(err);

    CHECK_EQ_INT(0, run_conal("config --keys vision"));
    out = read_tmp("out.txt");
    CHECK_STR_CONTAINS(out, "stl_summary");
    CHECK_STR_CONTAINS(out, "train.search_epochs");
    free(out);
    CHECK_EQ_INT(0, run_conal("vision --keys"));
    out = read_tmp("out.txt");
    CHECK_STR_CONTAINS(out, "data.n_train");
    free(out);
}

int main(void) {
    check_tmpdir(tmp, sizeof tmp, "visconfig");
    RUN_TEST(tells_vision_from_train_configs);
    RUN_TEST(resolves_file_then_sets);
    RUN_TEST(config_command_prints_vision_config);
    check_rmtree(tmp);
    return check_summary();
}
