// Cross-check of nn/ against PyTorch 1.13 numbers stored in
// tests/data/nn_fixture.json (written by scripts/gen_nn_fixture.py): MLP
// forward, MSE backward, Adam and AdamW steps, and the tanh-squashed
// Gaussian. The comparison runs without torch.
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/fileio.h"
#include "nn/loss.h"
#include "nn/mlp.h"
#include "nn/params.h"
#include "tests/check.h"

#define FIXTURE_PATH CONAL_SOURCE_DIR "/tests/data/nn_fixture.json"
#define FIXTURE_VERSION 1

static cJSON *fixture;

// Returns the float array at obj[key] as a malloc'd buffer, or NULL (after a
// failed check naming the key) when it is missing or has the wrong length.
static float *get_floats(const cJSON *obj, const char *key, size_t expected) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
    CHECK_MSG(n == expected, "fixture key '%s': %zu values, expected %zu", key, n, expected);
    if (n != expected) {
        return NULL;
    }
    float *out = malloc((n ? n : 1) * sizeof(float));
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        out[i++] = (float)item->valuedouble;
    }
    return out;
}

static double get_number(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    CHECK_MSG(cJSON_IsNumber(item), "fixture key '%s' missing or not a number", key);
    return cJSON_IsNumber(item) ? item->valuedouble : (double)NAN;
}

// Largest |a - b| / (1 + |b|) over n values: absolute for small values,
// relative for large ones.
static double worst_error(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        worst = isfinite(e) && e <= worst ? worst : e;
    }
    return worst;
}

static int load_fixture(void) {
    char *text, err[512];
    size_t n;
    if (file_read_all(FIXTURE_PATH, &text, &n, err, sizeof err) != ERR_OK) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    fixture = cJSON_Parse(text);
    free(text);
    if (!fixture) {
        fprintf(stderr, "%s: invalid JSON\n", FIXTURE_PATH);
        return 0;
    }
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(fixture, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, "conal-nn-fixture") != 0 ||
        get_number(fixture, "version") != FIXTURE_VERSION) {
        fprintf(stderr, "%s: not a version %d conal-nn-fixture file. Regenerate it with "
                "/usr/bin/python3 scripts/gen_nn_fixture.py\n", FIXTURE_PATH, FIXTURE_VERSION);
        return 0;
    }
    return 1;
}

// Builds the fixture's MLP with its stored parameters.
static NnMlp *fixture_mlp(const cJSON *c, int *n_in, int *n_out, int *B) {
    const cJSON *sizes_json = cJSON_GetObjectItemCaseSensitive(c, "sizes");
    int sizes[NN_MLP_MAX_LAYERS + 1], n_sizes = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, sizes_json) {
        if (n_sizes <= NN_MLP_MAX_LAYERS) {
            sizes[n_sizes++] = item->valueint;
        }
    }
    int hidden = nn_activation_parse(cJSON_GetStringValue(cJSON_GetObjectItem(c, "hidden_act")));
    int out = nn_activation_parse(cJSON_GetStringValue(cJSON_GetObjectItem(c, "out_act")));
    CHECK(hidden >= 0);
    CHECK(out >= 0);
    *B = (int)get_number(c, "batch");
    *n_in = sizes[0];
    *n_out = sizes[n_sizes - 1];
    NnMlp *mlp = nn_mlp_create(sizes, n_sizes, (NnActivation)hidden, (NnActivation)out, *B,
                               NULL, NULL);
    CHECK(mlp != NULL);
    return mlp;
}

static void mlp_forward_backward(void) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(fixture, "mlp");
    int n_in, n_out, B;
    NnMlp *mlp = fixture_mlp(c, &n_in, &n_out, &B);
    size_t n = mlp->n_params, n_x = (size_t)B * n_in, n_y = (size_t)B * n_out;
    float *params = get_floats(c, "params", n);
    float *x = get_floats(c, "x", n_x), *target = get_floats(c, "target", n_y);
    float *y_ref = get_floats(c, "y", n_y), *grads_ref = get_floats(c, "grads", n);
    float *dx_ref = get_floats(c, "dx", n_x);
    if (!params || !x || !target || !y_ref || !grads_ref || !dx_ref) {
        return;
    }
    memcpy(mlp->params, params, n * sizeof(float));

    // forward and loss
    const float *y = nn_mlp_forward(mlp, x, B);
    float *dy = malloc(n_y * sizeof(float)), *dx = malloc(n_x * sizeof(float));
    float loss = nn_mse_forward_backward(y, target, n_y, 1.0f, dy);
    double worst_y = worst_error(y, y_ref, n_y);
    CHECK_MSG(worst_y < 1e-6, "output worst error %g", worst_y);
    CHECK_NEAR(get_number(c, "loss"), loss, 1e-6);

    // backward into a zeroed gradient block
    memset(mlp->grads, 0, n * sizeof(float));
    nn_mlp_backward(mlp, dy, dx, B);
    double worst_g = worst_error(mlp->grads, grads_ref, n);
    double worst_dx = worst_error(dx, dx_ref, n_x);
    CHECK_MSG(worst_g < 1e-6, "parameter gradient worst error %g", worst_g);
    CHECK_MSG(worst_dx < 1e-6, "input gradient worst error %g", worst_dx);

    free(params);
    free(x);
    free(target);
    free(y_ref);
    free(grads_ref);
    free(dx_ref);
    free(dy);
    free(dx);
    nn_mlp_destroy(mlp);
}

// Reads Adam hyper-parameters from obj[key].
static NnAdamConfig fixture_adam(const cJSON *c, const char *key) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, key);
    NnAdamConfig cfg = {
        .lr = (float)get_number(a, "lr"),
        .beta1 = (float)get_number(a, "beta1"),
        .beta2 = (float)get_number(a, "beta2"),
        .eps = (float)get_number(a, "eps"),
        .weight_decay = (float)get_number(a, "weight_decay"),
    };
    return cfg;
}

static void adam_steps(void) {
    // the steps start from torch's own gradients: near-zero gradients make
    // Adam's first step +-lr by sign alone, so C gradients would add noise
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(fixture, "mlp");
    int n_in, n_out, B;
    NnMlp *mlp = fixture_mlp(c, &n_in, &n_out, &B);
    size_t n = mlp->n_params;
    nn_mlp_destroy(mlp);
    float *w = get_floats(c, "params", n), *g = get_floats(c, "grads", n);
    float *step1 = get_floats(c, "adam_step1", n), *step2 = get_floats(c, "adam_step2", n);
    float *w_decay = get_floats(c, "params", n), *decay1 = get_floats(c, "adamw_step1", n);
    if (!w || !g || !step1 || !step2 || !w_decay || !decay1) {
        return;
    }
    float *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));

    NnAdamConfig adam = fixture_adam(c, "adam");
    nn_adam_update(&adam, 1, w, g, m, v, n);
    double worst1 = worst_error(w, step1, n);
    nn_adam_update(&adam, 2, w, g, m, v, n);
    double worst2 = worst_error(w, step2, n);
    CHECK_MSG(worst1 < 1e-6, "Adam step 1 worst error %g", worst1);
    CHECK_MSG(worst2 < 1e-6, "Adam step 2 worst error %g", worst2);

    memset(m, 0, n * sizeof(float));
    memset(v, 0, n * sizeof(float));
    NnAdamConfig adamw = fixture_adam(c, "adamw");
    CHECK(adamw.weight_decay > 0.0f);
    nn_adam_update(&adamw, 1, w_decay, g, m, v, n);
    double worst_w = worst_error(w_decay, decay1, n);
    CHECK_MSG(worst_w < 1e-6, "AdamW step 1 worst error %g", worst_w);

    free(w);
    free(g);
    free(step1);
    free(step2);
    free(w_decay);
    free(decay1);
    free(m);
    free(v);
}

static void tanh_gaussian_matches(void) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(fixture, "tanh_gaussian");
    NnTanhGaussian tg = {
        .A = (int)get_number(c, "A"),
        .log_std_min = (float)get_number(c, "log_std_min"),
        .log_std_max = (float)get_number(c, "log_std_max"),
    };
    int B = (int)get_number(c, "batch");
    size_t n_a = (size_t)B * tg.A, n_head = 2 * n_a;
    float *head = get_floats(c, "head", n_head), *eps = get_floats(c, "eps", n_a);
    float *daction = get_floats(c, "daction", n_a), *dlogp = get_floats(c, "dlogp", B);
    float *action_ref = get_floats(c, "action", n_a), *logp_ref = get_floats(c, "logp", B);
    float *dhead_ref = get_floats(c, "dhead", n_head);
    if (!head || !eps || !daction || !dlogp || !action_ref || !logp_ref || !dhead_ref) {
        return;
    }
    float *buf = malloc((4 * n_a + B + n_head) * sizeof(float));
    NnTanhGaussianCache cache = {buf, buf + n_a, buf + 2 * n_a, buf + 3 * n_a};
    float *logp = buf + 4 * n_a, *dhead = logp + B;

    nn_tanh_gaussian_forward(&tg, head, eps, B, &cache, logp);
    nn_tanh_gaussian_backward(&tg, head, &cache, daction, dlogp, B, dhead);
    double worst_a = worst_error(cache.action, action_ref, n_a);
    double worst_lp = worst_error(logp, logp_ref, B);
    double worst_d = worst_error(dhead, dhead_ref, n_head);
    CHECK_MSG(worst_a < 1e-6, "action worst error %g", worst_a);
    CHECK_MSG(worst_lp < 1e-5, "logp worst error %g", worst_lp);
    CHECK_MSG(worst_d < 1e-5, "dhead worst error %g", worst_d);

    free(head);
    free(eps);
    free(daction);
    free(dlogp);
    free(action_ref);
    free(logp_ref);
    free(dhead_ref);
    free(buf);
}

int main(void) {
    if (!load_fixture()) {
        return 1;
    }
    RUN_TEST(mlp_forward_backward);
    RUN_TEST(adam_steps);
    RUN_TEST(tanh_gaussian_matches);
    cJSON_Delete(fixture);
    return check_summary();
}
