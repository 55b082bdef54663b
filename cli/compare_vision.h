// `conal compare` for `conal vision` runs.
//
// A vision run directory contains config.json (dataset, data.n_train,
// data.n_test, method, seed, train.epochs, ...) and, once training finished,
// summary.json with params, train_seconds, the test metrics per task
// ("test": {"top_left": {"acc": F}, ...}), mean_first_metric and delta_i
// (null when it could not be computed, with delta_i_missing saying why).
// Runs are grouped by method, and the runs of a group are its seeds.
//
// Runs that cannot be compared are flagged and left out: a run with no
// summary.json is incomplete, a run whose protocol (dataset,
// data.n_train, data.n_test, train.epochs) differs from the first usable run
// is mismatched, and a run whose config differs from the first run of its
// method in any key but seed, data.cache_dir, train.log_interval and
// stl_summary is not another seed of that experiment. The metrics listed are every numeric test metric that a
// usable run reports, in the order first seen.
#ifndef CLI_COMPARE_VISION_H
#define CLI_COMPARE_VISION_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "cli/compare.h"

#define VISION_MAX_METRICS 64

// Which kind of run directories a `conal compare` call was given.
typedef enum CompareKind {
    COMPARE_KIND_TRAIN = 0,    // `conal train` runs
    COMPARE_KIND_VISION = 1,   // `conal vision` runs
} CompareKind;

// Sorts the directories into train and vision runs by their config.json. A
// vision config has "dataset" and no agent.method. A directory whose
// config.json cannot be read counts as neither, so the loader reports it
// later. Returns the kind, or ERR_ARG with a message naming one run of each
// kind when both kinds are given.
int compare_runs_kind(const char *const *dirs, int n_dirs, char *err, size_t err_sz);

typedef struct VisionRun {
    CompareRunHead head;                 // first, for the compare_head helpers
    cJSON *config;                       // config.json, owned
    cJSON *summary;                      // summary.json, owned; NULL when incomplete
    char dataset[COMPARE_NAME_LEN];
    long long n_train, n_test, epochs;   // protocol, from config.json
    double params;                       // NaN if unknown
    double train_seconds;                // NaN if unknown
    double delta_i;                      // NaN when null
    char delta_i_missing[256];           // summary.json's reason when delta_i is null
    double mean_first;                   // mean_first_metric, NaN if unknown
} VisionRun;

// One test metric of one task, e.g. top_left acc.
typedef struct VisionMetric {
    char task[COMPARE_NAME_LEN];
    char name[COMPARE_NAME_LEN];
    int lower_is_better;                 // vis_metric_lower_is_better(name)
} VisionMetric;

typedef struct VisionGroup {
    char method[COMPARE_NAME_LEN];
    int n_runs;
    int runs[COMPARE_MAX_RUNS];          // indices into VisionSet.runs
    CompareStat metric[VISION_MAX_METRICS];   // over the seeds that report it
    int metric_n[VISION_MAX_METRICS];    // seeds that report the metric
    CompareStat delta_i;                 // over seeds with a delta_i; NaN if none
    int delta_i_n;
    CompareStat mean_first;
    double params;                       // mean over seeds, NaN if unknown
    double train_seconds;                // mean over seeds, NaN if unknown
    double time_ratio;                   // train_seconds / slowest method's, NaN: n/a
    double p;                            // Welch p-value against the baseline, NaN: n/a
    const char *p_on;                    // "delta_i" or "mean_first_metric"
} VisionGroup;

typedef struct VisionSet {
    int n_runs;
    VisionRun runs[COMPARE_MAX_RUNS];
    int n_metrics;
    VisionMetric metrics[VISION_MAX_METRICS];
    int n_groups;
    VisionGroup groups[COMPARE_MAX_GROUPS];
    int baseline;                        // group index
} VisionSet;

// Loads every directory, flags incomplete and mismatched runs, groups by
// method and aggregates. baseline names the method for p-values (NULL: stl
// when present, else the first method). The p-value compares Delta_I when
// every seed of both methods has one, else mean_first_metric. Returns 0, or
// a negative ErrCode with the message in err.
int vision_set_build(VisionSet *set, const char *const *dirs, int n_dirs, const char *baseline,
                     char *err, size_t err_sz);

// Frees what vision_set_build allocated.
void vision_set_deinit(VisionSet *set);

// Writes the comparison in the given format (the formats of compare_set_write).
void vision_set_write(const VisionSet *set, CompareFormat format, FILE *out);

#endif
