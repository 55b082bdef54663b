// Strict JSON configs described by a field table.
//
// A config is a plain C struct with defaults set by its owner's *_defaults()
// function. A CfgField table maps each JSON path ("agent.actor.hidden") to a
// struct member, its type and its valid range. From the table this module
// loads a JSON file onto the defaults, applies "path=value" overrides, writes
// the resolved config back as JSON and compares two configs key by key.
//
// Loading is strict: unknown keys, wrong types and out-of-range values are
// errors that name the JSON path, e.g.
//   config: agent.actor.hidden[1]: expected a positive integer, got "400"
// and every error in the file is reported, not just the first.
#ifndef COMMON_CFG_H
#define COMMON_CFG_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef enum CfgType {
    CFG_INT,        // int, range [min, max]
    CFG_INT64,      // long long, range [min, max]
    CFG_DOUBLE,     // double, range [min, max], must be finite
    CFG_BOOL,       // int holding 0 or 1
    CFG_STRING,     // char[cap]; an empty string is allowed unless min > 0
    CFG_ENUM,       // char[cap] holding one of choices
    CFG_INT_LIST,   // int[cap] with its length in an int at count_offset
} CfgType;

typedef struct CfgField {
    const char *path;              // dotted JSON path, e.g. "train.batch_size"
    CfgType type;
    size_t offset;                 // offsetof the member in the config struct
    double min, max;               // numeric range, inclusive; element range for lists
    int cap;                       // CFG_STRING/ENUM: buffer size; CFG_INT_LIST: capacity
    size_t count_offset;           // CFG_INT_LIST: offsetof the length member
    const char *const *choices;    // CFG_ENUM: NULL-terminated list of accepted values
    const char *help;              // one line for `conal config --help` and docs
} CfgField;

// Convenience initialisers for field tables.
#define CFG_F_INT(p, T, m, lo, hi, h) \
    {p, CFG_INT, offsetof(T, m), lo, hi, 0, 0, NULL, h}
#define CFG_F_INT64(p, T, m, lo, hi, h) \
    {p, CFG_INT64, offsetof(T, m), lo, hi, 0, 0, NULL, h}
#define CFG_F_DOUBLE(p, T, m, lo, hi, h) \
    {p, CFG_DOUBLE, offsetof(T, m), lo, hi, 0, 0, NULL, h}
#define CFG_F_BOOL(p, T, m, h) \
    {p, CFG_BOOL, offsetof(T, m), 0, 1, 0, 0, NULL, h}
#define CFG_F_STRING(p, T, m, h) \
    {p, CFG_STRING, offsetof(T, m), 0, 0, (int)sizeof(((T *)0)->m), 0, NULL, h}
#define CFG_F_ENUM(p, T, m, choices, h) \
    {p, CFG_ENUM, offsetof(T, m), 0, 0, (int)sizeof(((T *)0)->m), 0, choices, h}
#define CFG_F_INT_LIST(p, T, m, n, lo, hi, h)                                        \
    {p, CFG_INT_LIST, offsetof(T, m), lo, hi,                                        \
     (int)(sizeof(((T *)0)->m) / sizeof(int)), offsetof(T, n), NULL, h}

typedef struct CfgSchema {
    const CfgField *fields;
    int n_fields;
} CfgSchema;

// Applies a parsed JSON object onto cfg (which holds defaults or an earlier
// state). Appends one line per error to err ("config: PATH: message\n").
// Returns 0, or ERR_CONFIG when any error was found.
int cfg_apply_json(const CfgSchema *schema, void *cfg, const cJSON *root,
                   char *err, size_t err_sz);

// Reads and applies a JSON file. Errors are prefixed with the file name.
int cfg_load_file(const CfgSchema *schema, void *cfg, const char *path,
                  char *err, size_t err_sz);

// Applies one override "path=value". The value is parsed as JSON when it can
// be ("3", "[400,400]", "true", "\"x\""), otherwise taken as a bare string.
int cfg_set(const CfgSchema *schema, void *cfg, const char *assignment,
            char *err, size_t err_sz);

// Loads the file at path onto cfg, then applies the overrides sets[0..n_sets)
// in order. Every error of the file and of each override is reported, one
// per line; an override is still applied when the file has errors. Returns
// 0 or the code of the first error.
int cfg_resolve(const CfgSchema *schema, void *cfg, const char *path,
                const char *const *sets, int n_sets, char *err, size_t err_sz);

// Builds the full resolved config, defaults included, as a nested object.
// The caller owns the result (cJSON_Delete).
cJSON *cfg_to_json(const CfgSchema *schema, const void *cfg);

// Writes the resolved config to path atomically (pretty-printed).
int cfg_save_file(const CfgSchema *schema, const void *cfg, const char *path,
                  char *err, size_t err_sz);

// Returns the first field whose value differs between a and b, skipping the
// paths in ignore (NULL-terminated, may be NULL); NULL when they agree.
const CfgField *cfg_diff(const CfgSchema *schema, const void *a, const void *b,
                         const char *const *ignore);

// Formats a field's value in a and b for a mismatch message.
void cfg_format_value(const CfgField *field, const void *cfg, char *out, size_t out_sz);

// Looks up a field by exact path; NULL when unknown.
const CfgField *cfg_find(const CfgSchema *schema, const char *path);

#endif
