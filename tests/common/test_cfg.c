// Config helpers: defaults, strict errors naming the path, overrides, diff.
#include "common/cfg.h"

#include "common/error.h"
#include "tests/check.h"

typedef struct DemoConfig {
    int steps;
    double lr;
    int use_bias;
    char method[16];
    char name[8];
    int hidden[4];
    int n_hidden;
} DemoConfig;

static const char *const methods[] = {"mtsac", "mhsac", "stl", NULL};

static const CfgField demo_fields[] = {
    CFG_F_INT("train.steps", DemoConfig, steps, 1, 2147483647, "steps"),
    CFG_F_DOUBLE("agent.lr", DemoConfig, lr, 0.0, 1.0, "learning rate"),
    CFG_F_BOOL("agent.bias", DemoConfig, use_bias, "bias"),
    CFG_F_ENUM("agent.method", DemoConfig, method, methods, "method"),
    CFG_F_STRING("name", DemoConfig, name, "name"),
    CFG_F_INT_LIST("agent.actor.hidden", DemoConfig, hidden, n_hidden, 1, 2147483647, "widths"),
};
static const CfgSchema demo = {demo_fields, sizeof demo_fields / sizeof demo_fields[0]};

static void defaults(DemoConfig *c) {
    memset(c, 0, sizeof *c);
    c->steps = 100;
    c->lr = 3e-4;
    c->use_bias = 1;
    snprintf(c->method, sizeof c->method, "mtsac");
    c->hidden[0] = c->hidden[1] = c->hidden[2] = 400;
    c->n_hidden = 3;
}

static int apply_text(DemoConfig *c, const char *text, char *err, size_t err_sz) {
    cJSON *root = cJSON_Parse(text);
    CHECK(root != NULL);
    int rc = cfg_apply_json(&demo, c, root, err, err_sz);
    cJSON_Delete(root);
    return rc;
}

static void partial_file_keeps_defaults(void) {
    DemoConfig c;
    defaults(&c);
    char err[1024];
    CHECK_EQ_INT(ERR_OK, apply_text(&c, "{\"train\": {\"steps\": 5}}", err, sizeof err));
    CHECK_EQ_INT(5, c.steps);
    CHECK_NEAR(3e-4, c.lr, 0);
    CHECK_EQ_INT(3, c.n_hidden);
}

static void errors_name_path_and_value(void) {
    DemoConfig c;
    defaults(&c);
    char err[2048];
    int rc = apply_text(&c,
        "{\"agent\": {\"actor\": {\"hidden\": [400, \"400\"]}, \"lr\": 2, \"method\": \"x\","
        " \"typo\": 1}, \"train\": {\"steps\": 0}}",
        err, sizeof err);
    CHECK_EQ_INT(ERR_CONFIG, rc);
    CHECK_STR_CONTAINS(err,
        "config: agent.actor.hidden[1]: expected a positive integer, got \"400\"");
    CHECK_STR_CONTAINS(err, "config: agent.lr: expected a number in [0, 1], got 2");
    CHECK_STR_CONTAINS(err, "config: agent.method: expected one of \"mtsac\", \"mhsac\"");
    CHECK_STR_CONTAINS(err, "config: agent.typo: unknown key");
    CHECK_STR_CONTAINS(err, "config: train.steps: expected a positive integer, got 0");

    // the rejected list leaves the previous value in place
    CHECK_EQ_INT(3, c.n_hidden);
}

static void wrong_types_rejected(void) {
    DemoConfig c;
    defaults(&c);
    char err[1024];
    CHECK_EQ_INT(ERR_CONFIG, apply_text(&c, "{\"agent\": 3}", err, sizeof err));
    CHECK_STR_CONTAINS(err, "config: agent: expected an object, got 3");
    CHECK_EQ_INT(ERR_CONFIG, apply_text(&c, "{\"agent\": {\"bias\": 1}}", err, sizeof err));
    CHECK_STR_CONTAINS(err, "agent.bias: expected true or false");
    CHECK_EQ_INT(ERR_CONFIG, apply_text(&c, "{\"name\": \"far too long\"}", err, sizeof err));
    CHECK_STR_CONTAINS(err, "name: string too long");
    CHECK_EQ_INT(ERR_CONFIG, apply_text(&c, "{\"train\": {\"steps\": 1.5}}", err, sizeof err));
    CHECK_EQ_INT(ERR_CONFIG, apply_text(&c, "[1]", err, sizeof err));
}

static void set_overrides_by_path(void) {
    DemoConfig c;
    defaults(&c);
    char err[512];
    CHECK_EQ_INT(ERR_OK, cfg_set(&demo, &c, "train.steps=77", err, sizeof err));
    CHECK_EQ_INT(77, c.steps);
    CHECK_EQ_INT(ERR_OK, cfg_set(&demo, &c, "agent.method=stl", err, sizeof err));
    CHECK(strcmp(c.method, "stl") == 0);
    CHECK_EQ_INT(ERR_OK, cfg_set(&demo, &c, "agent.actor.hidden=[64,32]", err, sizeof err));
    CHECK_EQ_INT(2, c.n_hidden);
    CHECK_EQ_INT(32, c.hidden[1]);
    CHECK_EQ_INT(ERR_CONFIG, cfg_set(&demo, &c, "agent.nope=1", err, sizeof err));
    CHECK_STR_CONTAINS(err, "agent.nope: unknown key");

    // a section is not a value: the message names its keys
    CHECK_EQ_INT(ERR_CONFIG, cfg_set(&demo, &c, "agent.actor=5", err, sizeof err));
    CHECK_STR_CONTAINS(err, "agent.actor: a section (an object), not a value");
    CHECK_STR_CONTAINS(err, "--set agent.actor.hidden=VALUE");
    CHECK_EQ_INT(ERR_CONFIG, cfg_set(&demo, &c, "train={}", err, sizeof err));
    CHECK_STR_CONTAINS(err, "train: a section (an object), not a value");
    CHECK_STR_CONTAINS(err, "Keys: train.steps");
    CHECK_EQ_INT(ERR_ARG, cfg_set(&demo, &c, "train.steps", err, sizeof err));
    CHECK_EQ_INT(ERR_CONFIG, cfg_set(&demo, &c, "train.steps=abc", err, sizeof err));
    CHECK_STR_CONTAINS(err, "train.steps: expected a positive integer");

    // a valid prefix followed by junk is not a value
    const char *junk[] = {"train.steps=0x10", "train.steps=64abc", "agent.lr=0.9.9",
                          "train.steps=1,2"};
    for (int i = 0; i < 4; i++) {
        c.steps = 77;
        c.lr = 0.5;
        CHECK_EQ_INT(ERR_CONFIG, cfg_set(&demo, &c, junk[i], err, sizeof err));
        CHECK_EQ_INT(77, c.steps);
        CHECK_NEAR(0.5, c.lr, 0);
    }
    CHECK_EQ_INT(ERR_CONFIG, cfg_set(&demo, &c, "agent.lr=1e999", err, sizeof err));
    CHECK_STR_CONTAINS(err, "agent.lr: expected a number in [0, 1], got a number too large");
}

static void repeated_key_rejected(void) {
    DemoConfig c;
    defaults(&c);
    char err[512];
    CHECK_EQ_INT(ERR_CONFIG,
                 apply_text(&c, "{\"train\": {\"steps\": 5, \"steps\": 6}}", err, sizeof err));
    CHECK_STR_CONTAINS(err, "config: train.steps: key appears more than once");
}

static void json_roundtrip_and_diff(void) {
    DemoConfig a, b;
    defaults(&a);
    defaults(&b);
    a.steps = 9;
    snprintf(a.name, sizeof a.name, "run");
    cJSON *j = cfg_to_json(&demo, &a);
    char err[256];
    CHECK_EQ_INT(ERR_OK, cfg_apply_json(&demo, &b, j, err, sizeof err));
    cJSON_Delete(j);
    CHECK(cfg_diff(&demo, &a, &b, NULL) == NULL);
    b.lr = 0.1;
    const CfgField *f = cfg_diff(&demo, &a, &b, NULL);
    CHECK(f != NULL);
    CHECK(f && strcmp(f->path, "agent.lr") == 0);
    const char *ignore[] = {"agent.lr", NULL};
    CHECK(cfg_diff(&demo, &a, &b, ignore) == NULL);
}

static void file_errors_name_file(void) {
    DemoConfig c;
    defaults(&c);
    char dir[256], path[512], err[512];
    check_tmpdir(dir, sizeof dir, "cfg");
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *fp = fopen(path, "w");
    fputs("{\n  \"train\": {\n    \"steps\": ,\n  }\n}\n", fp);
    fclose(fp);
    CHECK_EQ_INT(ERR_CONFIG, cfg_load_file(&demo, &c, path, err, sizeof err));
    CHECK_STR_CONTAINS(err, "bad.json:3:14: invalid JSON");

    // a second value after the first is not one JSON document
    fp = fopen(path, "w");
    fputs("{\"train\": {\"steps\": 1}}\n{\"train\": {\"steps\": 2}}\n", fp);
    fclose(fp);
    CHECK_EQ_INT(ERR_CONFIG, cfg_load_file(&demo, &c, path, err, sizeof err));
    CHECK_STR_CONTAINS(err, "bad.json:2:1: invalid JSON");

    // bytes hidden behind a NUL are rejected, not ignored
    fp = fopen(path, "wb");
    fwrite("{}\0{\"x\":1}", 1, 11, fp);
    fclose(fp);
    CHECK_EQ_INT(ERR_CONFIG, cfg_load_file(&demo, &c, path, err, sizeof err));
    CHECK_STR_CONTAINS(err, "NUL byte at offset 2");
    CHECK_EQ_INT(ERR_IO, cfg_load_file(&demo, &c, "/nonexistent.json", err, sizeof err));
    CHECK_STR_CONTAINS(err, "/nonexistent.json");
    check_rmtree(dir);
}

// Every error of the file and of the overrides is reported in one message.
static void resolve_reports_every_error(void) {
    DemoConfig c;
    defaults(&c);
    char dir[256], path[512], err[2048];
    check_tmpdir(dir, sizeof dir, "cfg");
    snprintf(path, sizeof path, "%s/two.json", dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"train\": {\"stepz\": 5}}\n", fp);
    fclose(fp);
    const char *sets[] = {"agent.nope=1", "agent.lr=abc", "agent.method=sac",
                          "agent.bias=true", "train.steps"};
    CHECK_EQ_INT(ERR_CONFIG, cfg_resolve(&demo, &c, path, sets, 5, err, sizeof err));
    CHECK_STR_CONTAINS(err, "config: train.stepz: unknown key\n");
    CHECK_STR_CONTAINS(err, "config: agent.nope: unknown key");
    CHECK_STR_CONTAINS(err, "config: agent.lr:");
    CHECK_STR_CONTAINS(err, "config: agent.method:");
    CHECK_STR_CONTAINS(err, "--set train.steps: expected KEY=VALUE");
    CHECK(strstr(err, "agent.bias") == NULL);
    CHECK_EQ_INT(1, c.use_bias);

    // no errors: the overrides apply in order
    defaults(&c);
    fp = fopen(path, "w");
    fputs("{\"train\": {\"steps\": 5}}\n", fp);
    fclose(fp);
    const char *good[] = {"train.steps=7", "train.steps=9"};
    CHECK_EQ_INT(ERR_OK, cfg_resolve(&demo, &c, path, good, 2, err, sizeof err));
    CHECK_EQ_INT(9, c.steps);
    CHECK_EQ_INT(0, (int)strlen(err));
    check_rmtree(dir);
}

int main(void) {
    RUN_TEST(partial_file_keeps_defaults);
    RUN_TEST(errors_name_path_and_value);
    RUN_TEST(wrong_types_rejected);
    RUN_TEST(set_overrides_by_path);
    RUN_TEST(repeated_key_rejected);
    RUN_TEST(json_roundtrip_and_diff);
    RUN_TEST(file_errors_name_file);
    RUN_TEST(resolve_reports_every_error);
    return check_summary();
}
