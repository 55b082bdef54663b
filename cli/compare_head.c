// Checks and output that train and vision comparisons share (CompareRunHead).
#include "cli/compare.h"

#include <stdarg.h>
#include <string.h>

#include "common/error.h"

CompareRunHead *compare_head(void *runs, size_t stride, int i) {
    return (CompareRunHead *)(void *)((char *)runs + (size_t)i * stride);
}

const CompareRunHead *compare_head_const(const void *runs, size_t stride, int i) {
    return (const CompareRunHead *)(const void *)((const char *)runs + (size_t)i * stride);
}

void compare_exclude(CompareRunHead *run, const char *fmt, ...) {
    // through a copy, because the arguments may point into run->flag
    char flag[sizeof run->flag];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(flag, sizeof flag, fmt, ap);
    va_end(ap);
    memcpy(run->flag, flag, sizeof flag);
    run->excluded = 1;
}

void compare_check_duplicate(void *runs, size_t stride, int i) {
    CompareRunHead *run = compare_head(runs, stride, i);
    for (int j = 0; j < i && !run->excluded; j++) {
        const CompareRunHead *other = compare_head_const(runs, stride, j);
        if (!other->excluded && other->seed == run->seed &&
            strcmp(other->method, run->method) == 0) {
            compare_exclude(run, "excluded, same method and seed %lld as %s", run->seed,
                            other->dir);
        }
    }
}

int compare_first_usable(const void *runs, size_t stride, int n, char *err, size_t err_sz) {
    for (int i = 0; i < n; i++) {
        if (!compare_head_const(runs, stride, i)->excluded) {
            return i;
        }
    }
    const CompareRunHead *first = compare_head_const(runs, stride, 0);
    return err_set(err, err_sz, ERR_MISMATCH, "no usable run: %s: %s%s", first->dir,
                   first->flag, n > 1 ? ", and so are the others" : "");
}

void compare_write_flags(const void *runs, size_t stride, int n, int markdown, FILE *out) {
    int any = 0;
    for (int i = 0; i < n; i++) {
        const CompareRunHead *run = compare_head_const(runs, stride, i);
        if (!run->flag[0]) {
            continue;
        }
        if (!any) {
            fprintf(out, "\nflagged runs:\n");
            any = 1;
        }
        fprintf(out, "%s%s: %s\n", markdown ? "- " : "  ", run->dir, run->flag);
    }
}

void compare_warn_flags(const void *runs, size_t stride, int n, FILE *out) {
    for (int i = 0; i < n; i++) {
        const CompareRunHead *run = compare_head_const(runs, stride, i);
        if (run->flag[0]) {
            fprintf(out, "conal compare: warning: %s: %s\n", run->dir, run->flag);
        }
    }
}

void compare_json_write(cJSON *root, const void *runs, size_t stride, int n, FILE *out) {
    cJSON *flags = cJSON_AddArrayToObject(root, "flagged");
    for (int i = 0; i < n; i++) {
        const CompareRunHead *run = compare_head_const(runs, stride, i);
        if (run->flag[0]) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "run", run->dir);
            cJSON_AddStringToObject(f, "reason", run->flag);
            cJSON_AddBoolToObject(f, "excluded", run->excluded);
            cJSON_AddItemToArray(flags, f);
        }
    }
    char *text = cJSON_Print(root);
    if (text) {
        fprintf(out, "%s\n", text);
        cJSON_free(text);
    }
    cJSON_Delete(root);
}

static int is_listed(const char *path, const char *const *keys) {
    for (int i = 0; keys[i]; i++) {
        if (strcmp(path, keys[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int compare_config_diff(const cJSON *a, const cJSON *b, const char *const *skip,
                        const char *prefix, char *out, size_t out_sz) {
    char path[256];
    const cJSON *item;
    cJSON_ArrayForEach(item, a) {
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", item->string);
        if (is_listed(path, skip)) {
            continue;
        }
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(b, item->string);
        if (!other) {
            snprintf(out, out_sz, "%s (missing in one run)", path);
            return 1;
        }
        if (cJSON_IsObject(item) && cJSON_IsObject(other)) {
            if (compare_config_diff(item, other, skip, path, out, out_sz)) {
                return 1;
            }
        } else if (!cJSON_Compare(item, other, 1)) {
            snprintf(out, out_sz, "%s", path);
            return 1;
        }
    }

    // keys only b has
    cJSON_ArrayForEach(item, b) {
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", item->string);
        if (!is_listed(path, skip) && !cJSON_GetObjectItemCaseSensitive(a, item->string)) {
            snprintf(out, out_sz, "%s (missing in one run)", path);
            return 1;
        }
    }
    return 0;
}
