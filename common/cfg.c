// Strict JSON configs: loading, overrides, printing and comparison.
#include "common/cfg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fileio.h"

// Error lines accumulated while loading.
typedef struct ErrList {
    char *buf;
    size_t sz;
    size_t len;
    int n;
} ErrList;

// Appends "config: PATH: message\n" to the list.
static void err_add(ErrList *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_add(ErrList *e, const char *path, const char *fmt, ...) {
    e->n++;
    if (!e->buf || e->sz == 0 || e->len + 1 >= e->sz) {
        return;
    }
    int k = snprintf(e->buf + e->len, e->sz - e->len, "config: %s: ", path);
    if (k > 0) {
        e->len += (size_t)k < e->sz - e->len ? (size_t)k : e->sz - e->len - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(e->buf + e->len, e->sz - e->len, fmt, ap);
    va_end(ap);
    if (k > 0) {
        e->len += (size_t)k < e->sz - e->len ? (size_t)k : e->sz - e->len - 1;
    }
    if (e->len + 1 < e->sz) {
        e->buf[e->len++] = '\n';
        e->buf[e->len] = '\0';
    }
}

// Short JSON rendering of a value for "got ..." in messages.
static void json_brief(const cJSON *v, char *out, size_t out_sz) {
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
        // cJSON prints an overflowed literal such as 1e999 as null
        snprintf(out, out_sz, "a number too large for a double");
        return;
    }
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
        snprintf(out, out_sz, "?");
        return;
    }
    if (strlen(s) > 60) {
        snprintf(out, out_sz, "%.57s...", s);
    } else {
        snprintf(out, out_sz, "%s", s);
    }
    free(s);
}

// Human wording of what an integer field accepts.
static void describe_int(double lo, double hi, char *out, size_t out_sz) {
    if (lo == 1 && hi >= 2147483647.0) {
        snprintf(out, out_sz, "a positive integer");
    } else if (lo == 0 && hi >= 2147483647.0) {
        snprintf(out, out_sz, "a non-negative integer");
    } else {
        snprintf(out, out_sz, "an integer in [%.0f, %.0f]", lo, hi);
    }
}

// Human wording of what a number field accepts.
static void describe_double(double lo, double hi, char *out, size_t out_sz) {
    if (isinf(hi) && isinf(lo)) {
        snprintf(out, out_sz, "a finite number");
    } else if (isinf(hi)) {
        snprintf(out, out_sz, "a number >= %g", lo);
    } else {
        snprintf(out, out_sz, "a number in [%g, %g]", lo, hi);
    }
}

// Parses an integral JSON number within [lo, hi]; 0 on success.
static int json_int(const cJSON *v, double lo, double hi, long long *out) {
    if (!cJSON_IsNumber(v)) {
        return -1;
    }
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi) {
        return -1;
    }
    *out = (long long)d;
    return 0;
}

// Applies one JSON value to one field; errors go to e under path.
static void apply_field(const CfgField *f, void *cfg, const cJSON *v, const char *path,
                        ErrList *e) {
    char *base = (char *)cfg + f->offset;
    char got[80], want[96];
    json_brief(v, got, sizeof got);
    long long iv;

    switch (f->type) {
    case CFG_INT:
    case CFG_INT64:
        if (json_int(v, f->min, f->max, &iv) != 0) {
            describe_int(f->min, f->max, want, sizeof want);
            err_add(e, path, "expected %s, got %s", want, got);
        } else if (f->type == CFG_INT) {
            *(int *)base = (int)iv;
        } else {
            *(long long *)base = iv;
        }
        break;
    case CFG_DOUBLE:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < f->min ||
            v->valuedouble > f->max) {
            describe_double(f->min, f->max, want, sizeof want);
            err_add(e, path, "expected %s, got %s", want, got);
        } else {
            *(double *)base = v->valuedouble;
        }
        break;
    case CFG_BOOL:
        if (!cJSON_IsBool(v)) {
            err_add(e, path, "expected true or false, got %s", got);
        } else {
            *(int *)base = cJSON_IsTrue(v) ? 1 : 0;
        }
        break;
    case CFG_STRING:
        if (!cJSON_IsString(v)) {
            err_add(e, path, "expected a string, got %s", got);
        } else if (strlen(v->valuestring) >= (size_t)f->cap) {
            err_add(e, path, "string too long (max %d characters), got %s", f->cap - 1, got);
        } else if (f->min > 0 && v->valuestring[0] == '\0') {
            err_add(e, path, "expected a non-empty string");
        } else {
            snprintf(base, (size_t)f->cap, "%s", v->valuestring);
        }
        break;
    case CFG_ENUM: {
        int ok = 0;
        if (cJSON_IsString(v)) {
            for (int i = 0; f->choices[i]; i++) {
                ok |= strcmp(v->valuestring, f->choices[i]) == 0;
            }
        }
        if (!ok) {
            char list[512] = "";
            size_t len = 0;
            for (int i = 0; f->choices[i] && len < sizeof list; i++) {
                len += (size_t)snprintf(list + len, sizeof list - len, "%s\"%s\"",
                                        i ? ", " : "", f->choices[i]);
            }
            err_add(e, path, "expected one of %s, got %s", list, got);
        } else {
            snprintf(base, (size_t)f->cap, "%s", v->valuestring);
        }
        break;
    }
    case CFG_INT_LIST: {
        int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
        if (n < 1 || n > f->cap) {
            err_add(e, path, "expected a list of 1 to %d integers, got %s", f->cap, got);
            break;
        }
        int vals[256];
        int bad = 0;
        describe_int(f->min, f->max, want, sizeof want);
        for (int i = 0; i < n; i++) {
            const cJSON *item = cJSON_GetArrayItem(v, i);
            if (json_int(item, f->min, f->max, &iv) != 0) {
                char ipath[300], igot[80];
                snprintf(ipath, sizeof ipath, "%s[%d]", path, i);
                json_brief(item, igot, sizeof igot);
                err_add(e, ipath, "expected %s, got %s", want, igot);
                bad = 1;
            } else {
                vals[i] = (int)iv;
            }
        }
        if (!bad) {
            memcpy(base, vals, (size_t)n * sizeof(int));
            *(int *)((char *)cfg + f->count_offset) = n;
        }
        break;
    }
    default:
        ASSERT(0, "config field %s has unknown type %d", f->path, (int)f->type);
    }
}

const CfgField *cfg_find(const CfgSchema *schema, const char *path) {
    for (int i = 0; i < schema->n_fields; i++) {
        if (strcmp(schema->fields[i].path, path) == 0) {
            return &schema->fields[i];
        }
    }
    return NULL;
}

// 1 if some field lives under the group path ("agent" for "agent.actor.x").
static int is_group(const CfgSchema *schema, const char *path) {
    size_t n = strlen(path);
    for (int i = 0; i < schema->n_fields; i++) {
        const char *p = schema->fields[i].path;
        if (strncmp(p, path, n) == 0 && p[n] == '.') {
            return 1;
        }
    }
    return 0;
}

// Walks one JSON object whose members live under prefix.
static void apply_object(const CfgSchema *schema, void *cfg, const cJSON *obj,
                         const char *prefix, ErrList *e) {
    const cJSON *member;
    cJSON_ArrayForEach(member, obj) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", member->string);

        // JSON allows repeated keys; a config that sets a value twice is a mistake
        int repeated = 0;
        for (const cJSON *prev = obj->child; prev != member; prev = prev->next) {
            repeated |= strcmp(prev->string, member->string) == 0;
        }
        const CfgField *f = cfg_find(schema, path);
        if (repeated) {
            err_add(e, path, "key appears more than once");
        } else if (f) {
            apply_field(f, cfg, member, path, e);
        } else if (is_group(schema, path)) {
            if (!cJSON_IsObject(member)) {
                char got[80];
                json_brief(member, got, sizeof got);
                err_add(e, path, "expected an object, got %s", got);
            } else {
                apply_object(schema, cfg, member, path, e);
            }
        } else {
            err_add(e, path, "unknown key");
        }
    }
}

int cfg_apply_json(const CfgSchema *schema, void *cfg, const cJSON *root,
                   char *err, size_t err_sz) {
    ErrList e = {err, err_sz, 0, 0};
    if (err && err_sz) {
        err[0] = '\0';
    }
    if (!cJSON_IsObject(root)) {
        err_add(&e, "(root)", "expected a JSON object");
        return ERR_CONFIG;
    }
    apply_object(schema, cfg, root, "", &e);
    return e.n ? ERR_CONFIG : ERR_OK;
}

int cfg_load_file(const CfgSchema *schema, void *cfg, const char *path,
                  char *err, size_t err_sz) {
    char *text = NULL;
    size_t n = 0;
    int rc = file_read_all(path, &text, &n, err, err_sz);
    if (rc != ERR_OK) {
        return rc;
    }
    size_t nul_at = strlen(text);
    if (nul_at != n) {
        free(text);
        return err_set(err, err_sz, ERR_CONFIG,
                       "config: %s: contains a NUL byte at offset %zu; not a JSON text", path,
                       nul_at);
    }

    // require_null_terminated rejects anything after the top-level value
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n + 1, &end, 1);
    if (!root) {
        // locate the parse error by line and column (1-based) for the message
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = 1, column = 1;
        for (const char *p = text; at && p < at && *p; p++) {
            column = *p == '\n' ? 1 : column + 1;
            line += *p == '\n';
        }
        free(text);
        return err_set(err, err_sz, ERR_CONFIG, "config: %s:%d:%d: invalid JSON", path, line,
                       column);
    }
    free(text);
    rc = cfg_apply_json(schema, cfg, root, err, err_sz);
    cJSON_Delete(root);
    return rc;
}

// Error for --set on a section such as "env": names the keys under it.
static int section_error(const CfgSchema *schema, const char *path, char *err,
                         size_t err_sz) {
    char keys[1024] = "";
    size_t len = 0, n = strlen(path);
    const char *first = NULL;
    for (int i = 0; i < schema->n_fields && len + 1 < sizeof keys; i++) {
        const char *p = schema->fields[i].path;
        if (strncmp(p, path, n) == 0 && p[n] == '.') {
            first = first ? first : p;
            int k = snprintf(keys + len, sizeof keys - len, "%s%s", len ? ", " : "", p);
            len += k > 0 && (size_t)k < sizeof keys - len ? (size_t)k : 0;
        }
    }
    return err_set(err, err_sz, ERR_CONFIG,
                   "config: %s: a section (an object), not a value (from --set); set one "
                   "of its keys, e.g. --set %s=VALUE. Keys: %s",
                   path, first, keys);
}

int cfg_set(const CfgSchema *schema, void *cfg, const char *assignment,
            char *err, size_t err_sz) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        return err_set(err, err_sz, ERR_ARG,
                       "--set %s: expected KEY=VALUE, e.g. seed=3", assignment);
    }
    char path[256];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof path) {
        return err_set(err, err_sz, ERR_ARG, "--set: key too long");
    }
    memcpy(path, assignment, n);
    path[n] = '\0';
    const CfgField *f = cfg_find(schema, path);
    if (!f && is_group(schema, path)) {
        return section_error(schema, path, err, err_sz);
    }
    if (!f) {
        return err_set(err, err_sz, ERR_CONFIG, "config: %s: unknown key (from --set)", path);
    }

    // strings may be given bare: --set agent.method=mhsac; anything after a
    // complete JSON value ("64abc", "0.9.9") makes the value invalid
    cJSON *v = cJSON_ParseWithOpts(eq + 1, NULL, 1);
    if (!v || ((f->type == CFG_STRING || f->type == CFG_ENUM) && !cJSON_IsString(v))) {
        cJSON_Delete(v);
        v = cJSON_CreateString(eq + 1);
    }
    ErrList e = {err, err_sz, 0, 0};
    if (err && err_sz) {
        err[0] = '\0';
    }
    apply_field(f, cfg, v, path, &e);
    cJSON_Delete(v);
    return e.n ? ERR_CONFIG : ERR_OK;
}

// Appends the message in msg to err at *len, on a line of its own.
static void append_line(char *err, size_t err_sz, size_t *len, const char *msg) {
    if (!err || *len + 1 >= err_sz || !msg[0]) {
        return;
    }
    int k = snprintf(err + *len, err_sz - *len, "%s", msg);
    if (k > 0) {
        *len += (size_t)k < err_sz - *len ? (size_t)k : err_sz - *len - 1;
    }
    if (err[*len - 1] != '\n' && *len + 1 < err_sz) {
        err[(*len)++] = '\n';
        err[*len] = '\0';
    }
}

int cfg_resolve(const CfgSchema *schema, void *cfg, const char *path,
                const char *const *sets, int n_sets, char *err, size_t err_sz) {
    char msg[4096];
    size_t len = 0;
    if (err && err_sz) {
        err[0] = '\0';
    }
    msg[0] = '\0';
    int rc = cfg_load_file(schema, cfg, path, msg, sizeof msg);
    append_line(err, err_sz, &len, msg);
    for (int i = 0; i < n_sets; i++) {
        msg[0] = '\0';
        int set_rc = cfg_set(schema, cfg, sets[i], msg, sizeof msg);
        append_line(err, err_sz, &len, msg);
        rc = rc != 0 ? rc : set_rc;
    }
    return rc;
}

// JSON value of one field.
static cJSON *field_to_json(const CfgField *f, const void *cfg) {
    const char *base = (const char *)cfg + f->offset;
    switch (f->type) {
    case CFG_INT: return cJSON_CreateNumber(*(const int *)base);
    case CFG_INT64: return cJSON_CreateNumber((double)*(const long long *)base);
    case CFG_DOUBLE: return cJSON_CreateNumber(*(const double *)base);
    case CFG_BOOL: return cJSON_CreateBool(*(const int *)base);
    case CFG_STRING:
    case CFG_ENUM: return cJSON_CreateString(base);
    case CFG_INT_LIST: {
        int n = *(const int *)((const char *)cfg + f->count_offset);
        return cJSON_CreateIntArray((const int *)base, n);
    }
    default: ASSERT(0, "config field %s has unknown type %d", f->path, (int)f->type);
    }
}

cJSON *cfg_to_json(const CfgSchema *schema, const void *cfg) {
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; i < schema->n_fields; i++) {
        const CfgField *f = &schema->fields[i];

        // walk or create the parent objects of the dotted path
        cJSON *obj = root;
        char path[256];
        snprintf(path, sizeof path, "%s", f->path);
        char *part = path;
        char *dot;
        while ((dot = strchr(part, '.'))) {
            *dot = '\0';
            cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, part);
            if (!child) {
                child = cJSON_AddObjectToObject(obj, part);
            }
            obj = child;
            part = dot + 1;
        }
        cJSON_AddItemToObject(obj, part, field_to_json(f, cfg));
    }
    return root;
}

int cfg_save_file(const CfgSchema *schema, const void *cfg, const char *path,
                  char *err, size_t err_sz) {
    cJSON *root = cfg_to_json(schema, cfg);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    ASSERT(text, "cJSON_Print failed");
    size_t n = strlen(text);
    char *with_nl = err_xmalloc(n + 2, "config text");
    memcpy(with_nl, text, n);
    with_nl[n] = '\n';
    free(text);
    int rc = file_write_atomic(path, with_nl, n + 1, err, err_sz);
    free(with_nl);
    return rc;
}

// 1 if the field's value is the same in a and b.
static int field_equal(const CfgField *f, const void *a, const void *b) {
    const char *pa = (const char *)a + f->offset;
    const char *pb = (const char *)b + f->offset;
    switch (f->type) {
    case CFG_INT:
    case CFG_BOOL: return *(const int *)pa == *(const int *)pb;
    case CFG_INT64: return *(const long long *)pa == *(const long long *)pb;
    case CFG_DOUBLE: return *(const double *)pa == *(const double *)pb;
    case CFG_STRING:
    case CFG_ENUM: return strcmp(pa, pb) == 0;
    case CFG_INT_LIST: {
        int na = *(const int *)((const char *)a + f->count_offset);
        int nb = *(const int *)((const char *)b + f->count_offset);
        return na == nb && memcmp(pa, pb, (size_t)na * sizeof(int)) == 0;
    }
    default: ASSERT(0, "config field %s has unknown type %d", f->path, (int)f->type);
    }
}

const CfgField *cfg_diff(const CfgSchema *schema, const void *a, const void *b,
                         const char *const *ignore) {
    for (int i = 0; i < schema->n_fields; i++) {
        const CfgField *f = &schema->fields[i];
        int skip = 0;
        for (int j = 0; ignore && ignore[j]; j++) {
            skip |= strcmp(ignore[j], f->path) == 0;
        }
        if (!skip && !field_equal(f, a, b)) {
            return f;
        }
    }
    return NULL;
}

void cfg_format_value(const CfgField *field, const void *cfg, char *out, size_t out_sz) {
    cJSON *v = field_to_json(field, cfg);
    json_brief(v, out, out_sz);
    cJSON_Delete(v);
}
