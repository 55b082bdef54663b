// Derive, arch.json and retraining loss weights.
#include "conal/arch.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fileio.h"

#define ARCH_FORMAT "conal-arch"
#define ARCH_VERSION 1

// Config spelling of a specific-module kind.
static const char *specific_name(ConalSpecificKind kind) {
    switch (kind) {
    case CONAL_PURELY_SPECIFIC:
        return "purely";
    case CONAL_PARTIALLY_SPECIFIC:
        return "partially";
    default:
        ASSERT(0, "unknown specific kind %d", (int)kind);
    }
    return "";
}

// softmax(alpha_t) of one task's P logits, the max subtracted.
static void softmax_row(const float *alpha, int P, float *out) {
    float mx = alpha[0];
    for (int p = 1; p < P; p++) {
        mx = alpha[p] > mx ? alpha[p] : mx;
    }
    double sum = 0.0;
    for (int p = 0; p < P; p++) {
        sum += exp((double)(alpha[p] - mx));
    }
    for (int p = 0; p < P; p++) {
        out[p] = (float)(exp((double)(alpha[p] - mx)) / sum);
    }
}

// Fills everything but the branch weights and branch points from spec.
static void arch_shape(const ConalNetSpec *spec, const char *name, ConalArchNet *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->n_tasks = spec->n_tasks;
    out->n_slots = spec->n_slots;
    out->specific = spec->specific;
    out->row_widths[0] = spec->slots[0].n_in;
    for (int q = 0; q < spec->n_slots; q++) {
        out->row_widths[q + 1] = spec->slots[q].n_out;
    }
    out->row_widths[spec->n_slots + 1] = spec->decoder.n_out;
}

// p*_t = argmax of the branch weights, scanning from P down so ties share
// more; then the parameter counts of the supernet and the pruned network.
static void arch_finish(const ConalNetSpec *spec, ConalArchNet *out) {
    int P = spec->n_slots + 1;
    for (int t = 0; t < spec->n_tasks; t++) {
        int best = P;
        for (int p = P - 1; p >= 1; p--) {
            if (out->branch_weights[t][p - 1] > out->branch_weights[t][best - 1]) {
                best = p;
            }
        }
        out->branch[t] = best;
    }
    ConalNetSpec s = *spec;
    s.derived = 0;
    out->params_supernet = conal_spec_count_params(&s);
    s.derived = 1;
    memcpy(s.branch, out->branch, sizeof s.branch);
    out->params_derived = conal_spec_count_params(&s);
}

void conal_arch_derive(const ConalNet *net, const char *name, ConalArchNet *out) {
    arch_shape(&net->spec, name, out);
    for (int t = 0; t < net->spec.n_tasks; t++) {
        conal_net_branch_weights(net, t, out->branch_weights[t]);
    }
    arch_finish(&net->spec, out);
}

void conal_arch_from_alpha(const ConalNetSpec *spec, const float *alpha, const char *name,
                           ConalArchNet *out) {
    int P = spec->n_slots + 1;
    arch_shape(spec, name, out);
    for (int t = 0; t < spec->n_tasks; t++) {
        softmax_row(alpha + (size_t)t * (size_t)P, P, out->branch_weights[t]);
    }
    arch_finish(spec, out);
}

int conal_arch_apply(const ConalArchNet *arch, const ConalNetSpec *search_spec,
                     ConalNetSpec *derived, char *err, size_t err_sz) {
    const ConalNetSpec *s = search_spec;
    if (arch->n_tasks != s->n_tasks) {
        return err_set(err, err_sz, ERR_MISMATCH, "arch %s: n_tasks %d, network has %d",
                       arch->name, arch->n_tasks, s->n_tasks);
    }
    if (arch->n_slots != s->n_slots) {
        return err_set(err, err_sz, ERR_MISMATCH, "arch %s: n_slots %d, network has %d",
                       arch->name, arch->n_slots, s->n_slots);
    }
    if (arch->specific != s->specific) {
        return err_set(err, err_sz, ERR_MISMATCH, "arch %s: specific \"%s\", network has "
                       "\"%s\"", arch->name, specific_name(arch->specific),
                       specific_name(s->specific));
    }
    for (int i = 0; i <= s->n_slots + 1; i++) {
        int want = i == 0 ? s->slots[0].n_in
                          : (i <= s->n_slots ? s->slots[i - 1].n_out : s->decoder.n_out);
        if (arch->row_widths[i] != want) {
            return err_set(err, err_sz, ERR_MISMATCH, "arch %s: row_widths[%d] = %d, network "
                           "has %d", arch->name, i, arch->row_widths[i], want);
        }
    }
    *derived = *s;
    derived->derived = 1;
    memcpy(derived->branch, arch->branch, sizeof derived->branch);
    return conal_spec_validate(derived, err, err_sz);
}

const ConalArchNet *conal_arch_find(const ConalArch *arch, const char *name) {
    for (int i = 0; i < arch->n_nets; i++) {
        if (strcmp(arch->nets[i].name, name) == 0) {
            return &arch->nets[i];
        }
    }
    return NULL;
}

// ---- arch.json ----

// One network entry as a JSON object.
static cJSON *arch_net_to_json(const ConalArchNet *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddNumberToObject(o, "n_tasks", a->n_tasks);
    cJSON_AddNumberToObject(o, "n_slots", a->n_slots);
    cJSON_AddStringToObject(o, "specific", specific_name(a->specific));
    cJSON_AddItemToObject(o, "row_widths", cJSON_CreateIntArray(a->row_widths, a->n_slots + 2));
    cJSON_AddItemToObject(o, "branch_point", cJSON_CreateIntArray(a->branch, a->n_tasks));
    cJSON *weights = cJSON_AddArrayToObject(o, "branch_weights");
    for (int t = 0; t < a->n_tasks; t++) {
        cJSON_AddItemToArray(weights,
                             cJSON_CreateFloatArray(a->branch_weights[t], a->n_slots + 1));
    }
    cJSON_AddNumberToObject(o, "params_supernet", (double)a->params_supernet);
    cJSON_AddNumberToObject(o, "params_derived", (double)a->params_derived);
    return o;
}

int conal_arch_save(const ConalArch *arch, const char *path, char *err, size_t err_sz) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", ARCH_FORMAT);
    cJSON_AddNumberToObject(root, "version", ARCH_VERSION);
    cJSON *nets = cJSON_AddArrayToObject(root, "networks");
    for (int i = 0; i < arch->n_nets; i++) {
        cJSON_AddItemToArray(nets, arch_net_to_json(&arch->nets[i]));
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    ASSERT(text, "arch save: cJSON_Print failed for %s", path);
    size_t n = strlen(text);
    text[n] = '\n';   // cJSON_Print's terminator becomes the final newline
    int rc = file_write_atomic(path, text, n + 1, err, err_sz);
    cJSON_free(text);
    return rc;
}

// Reads an integer member in [lo, hi] into *out; returns 0 or ERR_FORMAT.
static int json_int(const cJSON *o, const char *key, int lo, int hi, int *out,
                    const char *where, char *err, size_t err_sz) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble ||
        v->valueint < lo || v->valueint > hi) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: %s must be an integer in [%d, %d]", where,
                       key, lo, hi);
    }
    *out = v->valueint;
    return 0;
}

// Reads an integer array member of exactly n entries in [lo, hi].
static int json_int_array(const cJSON *o, const char *key, int n, int lo, int hi, int *out,
                          const char *where, char *err, size_t err_sz) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: %s must be an array of %d integers", where,
                       key, n);
    }
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != (double)(int)e->valuedouble ||
            e->valueint < lo || e->valueint > hi) {
            return err_set(err, err_sz, ERR_FORMAT, "%s: %s[%d] must be an integer in [%d, %d]",
                           where, key, i, lo, hi);
        }
        out[i] = e->valueint;
    }
    return 0;
}

// Parses one network entry; where names the path and entry for messages.
static int arch_net_from_json(const cJSON *o, ConalArchNet *a, const char *where, char *err,
                              size_t err_sz) {
    memset(a, 0, sizeof *a);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(name) || !name->valuestring[0] ||
        strlen(name->valuestring) >= sizeof a->name) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: name must be a string of 1 to %d "
                       "characters", where, CONAL_ARCH_NAME_LEN - 1);
    }
    snprintf(a->name, sizeof a->name, "%s", name->valuestring);
    int rc = json_int(o, "n_tasks", 1, CONAL_MAX_TASKS, &a->n_tasks, where, err, err_sz);
    if (rc == 0) {
        rc = json_int(o, "n_slots", 1, CONAL_MAX_SLOTS, &a->n_slots, where, err, err_sz);
    }
    if (rc == 0) {
        rc = json_int_array(o, "row_widths", a->n_slots + 2, 1, 1 << 30, a->row_widths, where,
                            err, err_sz);
    }
    if (rc == 0) {
        rc = json_int_array(o, "branch_point", a->n_tasks, 1, a->n_slots + 1, a->branch, where,
                            err, err_sz);
    }
    if (rc != 0) {
        return rc;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "specific");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "purely") == 0) {
        a->specific = CONAL_PURELY_SPECIFIC;
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "partially") == 0) {
        a->specific = CONAL_PARTIALLY_SPECIFIC;
    } else {
        return err_set(err, err_sz, ERR_FORMAT, "%s: specific must be \"purely\" or "
                       "\"partially\"", where);
    }

    // branch weights and parameter counts are informative, read when present
    const cJSON *weights = cJSON_GetObjectItemCaseSensitive(o, "branch_weights");
    for (int t = 0; cJSON_IsArray(weights) && t < a->n_tasks; t++) {
        const cJSON *row = cJSON_GetArrayItem(weights, t);
        for (int p = 0; cJSON_IsArray(row) && p <= a->n_slots; p++) {
            const cJSON *e = cJSON_GetArrayItem(row, p);
            a->branch_weights[t][p] = cJSON_IsNumber(e) ? (float)e->valuedouble : 0.0f;
        }
    }
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(o, "params_supernet");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(o, "params_derived");
    a->params_supernet = cJSON_IsNumber(before) ? (size_t)before->valuedouble : 0;
    a->params_derived = cJSON_IsNumber(after) ? (size_t)after->valuedouble : 0;
    return 0;
}

int conal_arch_load(ConalArch *arch, const char *path, char *err, size_t err_sz) {
    char *text = NULL;
    size_t n = 0;
    int rc = file_read_all(path, &text, &n, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    memset(arch, 0, sizeof *arch);
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *nets = cJSON_GetObjectItemCaseSensitive(root, "networks");
    if (!root) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: not valid JSON", path);
    } else if (!cJSON_IsString(format) || strcmp(format->valuestring, ARCH_FORMAT) != 0) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: format must be \"%s\"", path, ARCH_FORMAT);
    } else if (!cJSON_IsNumber(version) || version->valueint != ARCH_VERSION) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: version must be %d", path, ARCH_VERSION);
    } else if (!cJSON_IsArray(nets) || cJSON_GetArraySize(nets) < 1 ||
               cJSON_GetArraySize(nets) > CONAL_ARCH_MAX_NETS) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: networks must be an array of 1 to %d "
                     "entries", path, CONAL_ARCH_MAX_NETS);
    }
    for (int i = 0; rc == 0 && i < cJSON_GetArraySize(nets); i++) {
        char where[1100];
        snprintf(where, sizeof where, "%s: networks[%d]", path, i);
        rc = arch_net_from_json(cJSON_GetArrayItem(nets, i), &arch->nets[i], where, err,
                                err_sz);
        arch->n_nets = i + 1;
    }
    cJSON_Delete(root);
    return rc;
}

// ---- retraining ----

void conal_loss_weights_draw(RngState *rng, int K, float *w) {
    ASSERT(K > 0, "loss weights: K %d must be positive", K);
    double sum = 0.0;
    double u[CONAL_MAX_TASKS];
    ASSERT(K <= CONAL_MAX_TASKS, "loss weights: K %d exceeds %d", K, CONAL_MAX_TASKS);
    for (int t = 0; t < K; t++) {
        u[t] = rng_uniform(rng);
        sum += u[t];
    }
    // all K draws zero has probability 2^(-53 K); equal weights cover it
    for (int t = 0; t < K; t++) {
        w[t] = sum > 0.0 ? (float)(u[t] / sum) : 1.0f / (float)K;
    }
}
