// Loading and aggregating training runs for `conal compare`.
//
// A run directory contains config.json (agent.method, env.episode_length,
// train.steps, train.batch_size, the hidden widths), eval.jsonl with one line
// per evaluation,
//   {"step": S, "success": {"reach-v3": F, ...}, "mean_success": F},
// and optionally metrics.jsonl and summary.json, which supply the training
// speed (env steps per second of env stepping plus updates, see
// compare_run_load) and the parameter count ("n_params", else counted from
// config.json and arch.json). Runs are grouped by agent.method, and the runs
// of a group are its seeds.
//
// Success follows the mtrl reporting rule: at each evaluation step take the
// mean over seeds, then report the maximum of that curve over training, with
// the standard deviation over seeds at the same step. The value at the last
// evaluation step is reported beside it.
//
// Runs that cannot be compared are flagged, never mixed in silently. A run
// with no evaluation yet (no eval.jsonl) is excluded as incomplete. A run
// whose protocol (episode length, steps, batch size, widths, task set)
// differs from the reference run is excluded with its reason. So is a run
// whose config differs from the first run of its method in any key but the
// seed, train.log_interval and train.checkpoint_interval, because it is not
// another seed of the same experiment. A run that stopped early is included
// but marked incomplete, and its group then uses only the evaluation steps
// all its seeds reached.
#ifndef CLI_COMPARE_H
#define CLI_COMPARE_H

#include <stdio.h>

#include <cjson/cJSON.h>

#define COMPARE_MAX_TASKS 16
#define COMPARE_MAX_RUNS 256
#define COMPARE_MAX_GROUPS 32
#define COMPARE_NAME_LEN 48

// The fields of a run that the train and vision comparisons check alike.
// It is the first member of CompareRun and VisionRun, so the compare_head
// helpers below walk an array of either with its element size as stride.
typedef struct CompareRunHead {
    char dir[1024];
    char method[COMPARE_NAME_LEN];       // agent.method, or a vision run's method
    long long seed;
    int excluded;                        // 1: not used (see flag)
    char flag[1400];                     // why the run is excluded or marked, or ""
} CompareRunHead;

typedef struct CompareRun {
    CompareRunHead head;                 // first, for the compare_head helpers
    cJSON *config;                       // config.json, owned
    int episode_length;
    long long steps;                     // train.steps
    int batch_size;
    char widths[96];                     // "actor 400,400,400 critic 400,400,400"
    int n_tasks;
    char tasks[COMPARE_MAX_TASKS][COMPARE_NAME_LEN];   // in eval.jsonl order
    int n_evals;
    int eval_cap;                        // allocated evaluations
    long long *eval_steps;               // (n_evals)
    double *success;                     // (n_evals x n_tasks)
    double *mean_success;                // (n_evals)
    double sps;                          // env steps per wall second, NaN if unknown
    double n_params;                     // parameter count, NaN if unknown
    int incomplete;                      // 1: last evaluation before train.steps
} CompareRun;

// Aggregate of one value over seeds.
typedef struct CompareStat {
    double mean, std;                    // std is NaN with one seed
    long long step;                      // evaluation step the value comes from
} CompareStat;

typedef struct CompareGroup {
    char method[COMPARE_NAME_LEN];
    int n_runs;
    int runs[COMPARE_MAX_RUNS];          // indices into CompareSet.runs
    int n_steps;                         // evaluation steps every seed reached
    long long *steps;                    // (n_steps)
    double *curve_mean, *curve_std;      // (n_steps) mean success over seeds
    CompareStat best;                    // mean success, max over steps (mtrl rule)
    CompareStat final;                   // mean success at the last common step
    CompareStat task_best[COMPARE_MAX_TASKS];
    CompareStat task_final[COMPARE_MAX_TASKS];
    double best_seeds[COMPARE_MAX_RUNS];   // per-seed mean success at best.step
    double final_seeds[COMPARE_MAX_RUNS];  // per-seed mean success at final.step
    double sps;                          // mean over seeds, NaN if unknown
    double speed_ratio;                  // sps / slowest group's sps, NaN if unknown
    double n_params;                     // NaN if unknown
    double p_best, p_final;              // Welch p-values against the baseline, NaN: n/a
    int incomplete;                      // 1 when any seed is incomplete
} CompareGroup;

typedef struct CompareSet {
    int n_runs;
    CompareRun runs[COMPARE_MAX_RUNS];
    int n_tasks;                         // task set of the reference run
    char tasks[COMPARE_MAX_TASKS][COMPARE_NAME_LEN];
    int n_groups;
    CompareGroup groups[COMPARE_MAX_GROUPS];
    int baseline;                        // group index, or -1
} CompareSet;

// Reads one run directory into run. The speed comes from summary.json's
// "env_steps_per_s" when present, else from the metrics.jsonl lines (each
// with step and the seconds of env stepping and updates, env_s and update_s,
// or in older runs env_steps_per_s over env time and updates_per_s over
// update time), else from summary.json's steps / wall_seconds. Returns 0, or
// a negative ErrCode with a message naming the file and the problem in err.
int compare_run_load(CompareRun *run, const char *dir, char *err, size_t err_sz);

// Frees the arrays of a run.
void compare_run_deinit(CompareRun *run);

// Loads every directory, flags mismatched and incomplete runs against the
// first readable one, groups by method and aggregates. baseline names the
// method for p-values (NULL: "mtsac" when present, else the first group).
// Returns 0, or a negative ErrCode with the message in err when a directory
// cannot be read, the baseline method has no runs or no run is usable.
int compare_set_build(CompareSet *set, const char *const *dirs, int n_dirs,
                      const char *baseline, char *err, size_t err_sz);

// Frees everything compare_set_build allocated.
void compare_set_deinit(CompareSet *set);

// Output formats of `conal compare`.
typedef enum CompareFormat {
    COMPARE_TABLE = 0,   // aligned text
    COMPARE_MD,          // Markdown tables
    COMPARE_CSV,         // one row per (method, metric, task)
    COMPARE_JSON,        // one object
} CompareFormat;

// Writes the comparison in the given format.
void compare_set_write(const CompareSet *set, CompareFormat format, FILE *out);

// Helpers shared by the train and vision comparisons.
// Parses path as one JSON document. Returns NULL with a message on failure.
cJSON *compare_read_json(const char *path, char *err, size_t err_sz);
// Formats "0.812 +- 0.041" with `digits` decimals, "0.812 +- n/a" with one
// value, or "n/a".
void compare_format_stat(const CompareStat *s, int digits, char *out, size_t out_sz);
// Formats a number with the given printf format, or "n/a" when NaN.
void compare_format_num(double v, const char *fmt, char *out, size_t out_sz);
// Adds a number to obj, or null when NaN.
void compare_json_num(cJSON *obj, const char *key, double v);

// Run i of an array of runs `stride` bytes apart, each starting with its
// CompareRunHead.
CompareRunHead *compare_head(void *runs, size_t stride, int i);
const CompareRunHead *compare_head_const(const void *runs, size_t stride, int i);
// Excludes run with the printf-formatted reason as its flag.
void compare_exclude(CompareRunHead *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Excludes run i when an earlier usable run has the same method and seed,
// e.g. the same directory given twice.
void compare_check_duplicate(void *runs, size_t stride, int i);
// Returns the index of the first run not excluded, or ERR_MISMATCH with a
// message naming the first run's flag when every run is excluded.
int compare_first_usable(const void *runs, size_t stride, int n, char *err, size_t err_sz);
// Writes "flagged runs:" and one line per flagged run, or nothing.
void compare_write_flags(const void *runs, size_t stride, int n, int markdown, FILE *out);
// Writes one "conal compare: warning" line per flagged run.
void compare_warn_flags(const void *runs, size_t stride, int n, FILE *out);
// Adds the "flagged" list to root, writes root to out and deletes it.
void compare_json_write(cJSON *root, const void *runs, size_t stride, int n, FILE *out);
// Finds the first key path (from prefix, "" at the top) where two config
// objects differ, skipping the paths in the NULL-terminated list skip.
// Returns 1 and writes the path into out when they differ.
int compare_config_diff(const cJSON *a, const cJSON *b, const char *const *skip,
                        const char *prefix, char *out, size_t out_sz);

// Writes an SVG plot of mean success over env steps, one line per method
// with a +-1 std band and its label at the line's end. Returns 0 or ERR_IO.
int compare_plot_svg(const CompareSet *set, const char *path, char *err, size_t err_sz);

// Writes the same plot as a PNG (libpng). Returns 0 or ERR_IO.
int compare_plot_png(const CompareSet *set, const char *path, char *err, size_t err_sz);

#endif
