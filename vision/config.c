// `conal vision` configuration; see config.h.
#include "vision/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/error.h"
#include "common/fileio.h"

static const char *const dataset_choices[] = {"multifashion", "nyuv2", "cityscapes", "celeba",
                                              NULL};
static const char *const method_choices[] = {"stl", "hps", "pcgrad", "cagrad", "conal",
                                             "conal-pcgrad", "conal-cagrad", NULL};

static const CfgField fields[] = {
    CFG_F_ENUM("dataset", VisConfig, dataset, dataset_choices, "dataset to train on"),
    CFG_F_STRING("data.dir", VisConfig, data_dir,
                 "dataset folder (Multi-Fashion: the Fashion-MNIST IDX files)"),
    CFG_F_STRING("data.cache_dir", VisConfig, cache_dir,
                 "folder for generated Multi-Fashion canvases; empty disables the cache"),
    CFG_F_INT("data.n_train", VisConfig, n_train, 0, 1e9, "training images, 0 = all"),
    CFG_F_INT("data.n_test", VisConfig, n_test, 0, 1e9, "test images, 0 = all"),
    CFG_F_INT("data.n_val", VisConfig, n_val, 1, 1e9,
              "training images held out for the architecture search (conal methods)"),
    CFG_F_ENUM("method", VisConfig, method, method_choices, "multi-task method"),
    CFG_F_INT64("seed", VisConfig, seed, 0, 9.0e15, "seed of data, init and batches"),
    CFG_F_INT("train.epochs", VisConfig, epochs, 1, 100000, "training epochs"),
    CFG_F_INT("train.search_epochs", VisConfig, search_epochs, 1, 100000,
              "conal methods: search epochs before retraining"),
    CFG_F_INT("train.batch_size", VisConfig, batch_size, 2, 65536, "images per step"),
    CFG_F_INT("train.eval_batch", VisConfig, eval_batch, 1, 65536,
              "images per evaluation forward"),
    CFG_F_DOUBLE("train.lr", VisConfig, lr, 1e-8, 10, "Adam learning rate of the weights"),
    CFG_F_DOUBLE("train.alpha_lr", VisConfig, alpha_lr, 1e-8, 10,
                 "Adam learning rate of the architecture weights"),
    CFG_F_DOUBLE("train.weight_decay", VisConfig, weight_decay, 0, 1,
                 "decoupled weight decay (AdamW)"),
    CFG_F_INT("train.log_interval", VisConfig, log_interval, 1, 1e9,
              "steps between progress lines"),
    CFG_F_INT("arch.kernel", VisConfig, kernel, 1, 15, "conv kernel size (odd)"),
    CFG_F_INT_LIST("arch.enc", VisConfig, enc, n_enc, 1, 4096,
                   "filters of the encoder blocks (conv, ReLU, 2x2 max pool)"),
    CFG_F_INT_LIST("arch.dec", VisConfig, dec, n_dec, 1, 4096,
                   "filters of the decoder blocks (x2 upsample, conv, ReLU); per-pixel tasks"),
    CFG_F_INT("arch.hidden", VisConfig, hidden, 1, 65536,
              "dense width after the encoder (image-level tasks)"),
    CFG_F_BOOL("arch.batch_norm", VisConfig, batch_norm,
               "batch norm between each encoder and decoder conv and its ReLU"),
    CFG_F_DOUBLE("cagrad.c", VisConfig, cagrad_c, 0, 100, "CAGrad's radius c"),
    CFG_F_STRING("stl_summary", VisConfig, stl_summary,
                 "summary.json of an STL run of the same dataset, for Delta_I"),
};

const CfgSchema vis_config_schema = {fields, (int)(sizeof fields / sizeof fields[0])};

void vis_config_defaults(VisConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->dataset, sizeof cfg->dataset, "multifashion");
    snprintf(cfg->cache_dir, sizeof cfg->cache_dir, "runs/cache");
    cfg->n_val = 6000;
    snprintf(cfg->method, sizeof cfg->method, "hps");
    cfg->seed = 1;
    cfg->epochs = 10;
    cfg->search_epochs = 3;
    cfg->batch_size = 256;
    cfg->eval_batch = 500;
    cfg->lr = 1e-3;
    cfg->alpha_lr = 3e-3;
    cfg->log_interval = 50;
    cfg->kernel = 3;
    cfg->n_enc = 2;
    cfg->enc[0] = 16;
    cfg->enc[1] = 32;
    cfg->n_dec = 1;
    cfg->dec[0] = 16;
    cfg->hidden = 64;
    cfg->batch_norm = 1;
    cfg->cagrad_c = 0.4;
}

int vis_config_check(const VisConfig *cfg, char *err, size_t err_sz) {
    if (cfg->kernel % 2 == 0) {
        return err_set(err, err_sz, ERR_CONFIG, "config: arch.kernel: %d must be odd",
                       cfg->kernel);
    }
    if (cfg->batch_norm && cfg->weight_decay > 0.0) {
        return err_set(err, err_sz, ERR_CONFIG, "config: train.weight_decay: %g needs "
                       "arch.batch_norm false, because the decay would also shrink the "
                       "running statistics kept among the weights", cfg->weight_decay);
    }
    if (vis_method_parse(cfg->method) < 0) {
        return err_set(err, err_sz, ERR_CONFIG, "config: method: unknown method '%s'",
                       cfg->method);
    }
    if (cfg->n_train > 0 && vis_method_searches((VisMethod)vis_method_parse(cfg->method)) &&
        cfg->n_val >= cfg->n_train) {
        return err_set(err, err_sz, ERR_CONFIG, "config: data.n_val: %d must be below "
                       "data.n_train %d", cfg->n_val, cfg->n_train);
    }
    return 0;
}

void vis_config_arch(const VisConfig *cfg, VisArch *arch) {
    memset(arch, 0, sizeof *arch);
    arch->kernel = cfg->kernel;
    arch->n_enc = cfg->n_enc;
    memcpy(arch->enc, cfg->enc, sizeof arch->enc);
    arch->n_dec = cfg->n_dec;
    memcpy(arch->dec, cfg->dec, sizeof arch->dec);
    arch->hidden = cfg->hidden;
    arch->batch_norm = cfg->batch_norm;
}

int vis_config_is_vision_file(const char *path) {
    static const char *const vision_only[] = {"dataset", "data", "method", "arch", "cagrad",
                                              "stl_summary"};
    char *text = NULL, err[256];
    size_t len = 0;
    if (file_read_all(path, &text, &len, err, sizeof err) != 0) {
        return 0;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    int found = 0;
    for (int i = 0; cJSON_IsObject(root) && i < (int)(sizeof vision_only / sizeof *vision_only);
         i++) {
        found |= cJSON_HasObjectItem(root, vision_only[i]);
    }
    cJSON_Delete(root);
    return found;
}

int vis_config_resolve(VisConfig *cfg, const char *path, const char *const *sets, int n_sets,
                       char *err, size_t err_sz) {
    vis_config_defaults(cfg);
    int rc = cfg_resolve(&vis_config_schema, cfg, path, sets, n_sets, err, err_sz);
    return rc == 0 ? vis_config_check(cfg, err, err_sz) : rc;
}
