// Configuration of `conal vision` runs: dataset, method, model and training.
//
// Loaded strictly from JSON through common/cfg.h: unknown keys, wrong types
// and out-of-range values are errors naming the JSON path. vis_config_defaults
// is the single place defaults live; vis_config_check adds the checks that
// span several fields.
#ifndef VISION_CONFIG_H
#define VISION_CONFIG_H

#include <stddef.h>

#include "common/cfg.h"
#include "vision/model.h"

typedef struct VisConfig {
    char dataset[32];          // multifashion, nyuv2, cityscapes, celeba
    char data_dir[512];        // dataset folder; "" = the Debian Fashion-MNIST folder
    char cache_dir[512];       // generated Multi-Fashion canvases; "" disables the cache
    int n_train;               // training images used, 0 = all
    int n_test;                // test images used, 0 = all
    int n_val;                 // training images held out for the architecture search
    char method[32];           // stl, hps, pcgrad, cagrad, conal, conal-pcgrad, conal-cagrad
    long long seed;
    int epochs;                // training (or retraining) epochs
    int search_epochs;         // conal methods: search epochs before retraining
    int batch_size;            // images per step
    int eval_batch;            // images per evaluation forward
    double lr;                 // Adam learning rate of the weights
    double alpha_lr;           // Adam learning rate of the architecture weights
    double weight_decay;       // decoupled (AdamW) decay of the weights
    int log_interval;          // steps between progress lines
    int kernel;                // conv kernel size
    int enc[VIS_MAX_BLOCKS];   // encoder filters per block
    int n_enc;
    int dec[VIS_MAX_BLOCKS];   // decoder filters per block (per-pixel tasks only)
    int n_dec;
    int hidden;                // dense width of image-level tasks
    int batch_norm;            // 1: batch norm after each encoder and decoder conv
    double cagrad_c;           // CAGrad's radius c
    char stl_summary[512];     // summary.json of an STL run, for Delta_I; "" = none
} VisConfig;

extern const CfgSchema vis_config_schema;

// Defaults: Multi-Fashion, hps, the small CNN sized for 36 x 36 canvases.
void vis_config_defaults(VisConfig *cfg);

// Cross-field checks (known dataset and method, odd kernel, n_val below
// n_train). Returns 0 or ERR_CONFIG naming the field.
int vis_config_check(const VisConfig *cfg, char *err, size_t err_sz);

// The model architecture the config describes.
void vis_config_arch(const VisConfig *cfg, VisArch *arch);

// 1 when the JSON file at path is a vision config rather than a train
// config: its top level has a key only vision configs have (dataset, data,
// method, arch, cagrad, stl_summary). 0 otherwise, also when unreadable.
int vis_config_is_vision_file(const char *path);

// Defaults, then the file at path, then the "key=value" sets in order, then
// vis_config_check. Returns 0 or the first error.
int vis_config_resolve(VisConfig *cfg, const char *path, const char *const *sets, int n_sets,
                       char *err, size_t err_sz);

#endif
