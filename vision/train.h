// The `conal vision` training loop, evaluation and run directories.
//
// Dimension letters: B images per step, T tasks, P branch points.
// A run directory contains config.json (fully resolved), metrics.jsonl (one
// record per epoch with training losses and test metrics), checkpoint.bin
// (written atomically after every epoch) and summary.json when the run
// finishes. Methods that search (conal, conal-pcgrad, conal-cagrad) first
// run train.search_epochs of bilevel search on the supernet: each step takes
// one Adam step on the architecture weights from a held-out batch, then one
// step on the weights with conflict noticing. Each task then keeps the
// branch point with the largest weight, and a fresh derived network is
// trained for train.epochs with task weights drawn uniformly from [0, 1]
// and normalised to sum 1 at every step. config.json is written once the
// dataset has loaded. SIGINT or SIGTERM stops a run between two steps and
// writes checkpoint.bin with the epoch in progress (its image order, its
// next batch and its loss sums), so resume continues that epoch where it
// stopped. A run killed otherwise resumes after its last finished epoch.
// Delta_I in summary.json needs an STL run (stl_summary) whose config.json
// agrees on dataset, data.dir, data.n_train, data.n_test and train.epochs;
// otherwise delta_i is null and delta_i_missing says which key differs.
#ifndef VISION_TRAIN_H
#define VISION_TRAIN_H

#include <stddef.h>

#include "vision/config.h"
#include "vision/metrics.h"

#define VIS_MAX_SETS 64

// Command-line options of `conal vision`.
typedef struct VisTrainOptions {
    const char *config_path;          // CONFIG.json, or NULL with resume
    const char *out_dir;              // run directory, or NULL for the default
    long long seed;                   // -1: from the config
    int threads;                      // threads of nn/gemm.h (nn_threads_set), >= 1
    const char *sets[VIS_MAX_SETS];   // "key=value" overrides, in order
    int n_sets;
    int resume;
} VisTrainOptions;

// vis_train_main's status when a signal stopped the run (checkpoint written).
#define VIS_TRAIN_STOPPED 1

// Runs `conal vision`. Returns 0 when the run finished, VIS_TRAIN_STOPPED
// after SIGINT or SIGTERM, or a negative ErrCode, with err filled.
int vis_train_main(const VisTrainOptions *opt, char *err, size_t err_sz);

// Loads the dataset a config names (Multi-Fashion, NYUv2, CityScapes or
// CelebA), limited to data.n_train and data.n_test images.
int vis_dataset_load(const VisConfig *cfg, VisDataset *ds, char *err, size_t err_sz);

// Evaluates the model on images [0, n) of split (n <= split->n) in
// evaluation mode, then returns the model to training mode: one
// VisTaskMetrics per task in out.
int vis_evaluate(VisModel *model, const VisDataset *ds, const VisSplit *split, int n,
                 int eval_batch, VisTaskMetrics *out, char *err, size_t err_sz);

// Reads the test metrics of each task of ds from an STL run's summary.json.
// Returns 0, ERR_IO, or ERR_FORMAT naming the missing task or metric.
int vis_read_stl_summary(const char *path, const VisDataset *ds, VisTaskMetrics *out,
                         char *err, size_t err_sz);

#endif
