// `conal vision`: training loop, evaluation, checkpoints and run files.
#include "vision/train.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/version_info.h"
#include "nn/checkpoint.h"
#include "nn/params.h"
#include "vision/loaders.h"
#include "vision/multifashion.h"

// Training state of one run.
typedef struct Trainer {
    VisConfig cfg;
    VisMethod method;
    char dir[1024];
    VisDataset ds;
    VisModel model;
    int have_model;
    VisBatch batch;                    // training batch
    VisBatch vbatch;                   // held-out batch of the search
    int stage;                         // 0 search, 1 training
    int epoch;                         // finished epochs of the stage
    long long step;                    // steps over the whole run
    RngState rng;                      // shuffles, held-out draws, task weights
    int branch[VIS_MAX_TASKS];         // derived branch points (conal methods)
    int *perm;                         // (n_train) epoch order
    NnAdamConfig adam, alpha_adam;
    double train_seconds;              // wall time spent in epochs, over resumes
    double cpu_seconds;                // process CPU time spent in epochs, over resumes
    int have_partial;                  // 1: the epoch in progress resumes from partial
    struct CkptPartial *partial;       // state of the epoch in progress
} Trainer;

typedef struct CkptMeta {
    int32_t stage, epoch;
    int64_t step;
    int32_t branch[VIS_MAX_TASKS];
    double train_seconds;
    double cpu_seconds;
} CkptMeta;

// The epoch in progress when a signal stopped the run: the next batch
// start in the saved order and the sums of the steps already taken.
typedef struct CkptPartial {
    int32_t next;                              // first image of perm not yet trained on
    int32_t n_fit;                             // images in perm
    int64_t n_steps, n_measured;
    double loss_sum[VIS_MAX_TASKS];
    double conflict_sum[CONAL_MAX_SLOTS];
    double seconds, cpu_seconds;               // time the epoch has taken so far
} CkptPartial;

// Set by the SIGINT and SIGTERM handlers; read between training steps.
static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) {
    g_stop_signal = sig;
}

typedef struct CkptSteps {
    long step_shared[CONAL_MAX_SLOTS];
    long step_rest;
    long step_alpha;
    long stop_count[CONAL_MAX_SLOTS];
} CkptSteps;

static double clock_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_seconds(void) {
    return clock_seconds(CLOCK_MONOTONIC);
}

// ---- data ----

int vis_dataset_load(const VisConfig *cfg, VisDataset *ds, char *err, size_t err_sz) {
    if (strcmp(cfg->dataset, "multifashion") == 0) {
        return vis_multifashion_load(ds, cfg->data_dir, cfg->cache_dir, (uint64_t)cfg->seed,
                                     cfg->n_train ? cfg->n_train : 60000,
                                     cfg->n_test ? cfg->n_test : 10000, err, err_sz);
    }
    if (!cfg->data_dir[0]) {
        return err_set(err, err_sz, ERR_CONFIG, "config: data.dir: %s needs the folder of "
                       "the dataset", cfg->dataset);
    }
    if (strcmp(cfg->dataset, "celeba") == 0) {
        return vis_celeba_load(ds, cfg->data_dir, cfg->n_train, cfg->n_test, err, err_sz);
    }
    return vis_dense_load(ds, cfg->dataset, cfg->data_dir, cfg->n_train, cfg->n_test, err,
                          err_sz);
}

// ---- evaluation ----

int vis_evaluate(VisModel *model, const VisDataset *ds, const VisSplit *split, int n,
                 int eval_batch, VisTaskMetrics *out, char *err, size_t err_sz) {
    VisMetricAcc acc[VIS_MAX_TASKS];
    VisBatch batch;
    int B = eval_batch < model->max_batch ? eval_batch : model->max_batch;
    int rc = vis_batch_init(ds, &batch, B, err, err_sz);
    int n_acc = 0;
    for (int t = 0; rc == 0 && t < ds->n_tasks; t++, n_acc++) {
        rc = vis_metric_acc_init(&acc[t], &ds->tasks[t], err, err_sz);
    }
    int *idx = malloc(sizeof(int) * (size_t)B);
    if (rc == 0 && !idx) {
        rc = err_set(err, err_sz, ERR_NOMEM, "evaluation: out of memory");
    }
    long area = model->dense ? (long)ds->height * ds->width : 1;
    vis_model_set_training(model, 0);
    for (int i0 = 0; rc == 0 && i0 < n; i0 += B) {
        int b = n - i0 < B ? n - i0 : B;
        for (int i = 0; i < b; i++) {
            idx[i] = i0 + i;
        }
        vis_batch_gather(ds, split, idx, b, &batch);
        vis_model_forward(model, batch.images, b);
        for (int t = 0; t < ds->n_tasks; t++) {
            vis_metric_acc_update(&acc[t], model->pred[t], batch.labels[t], batch.targets[t], b,
                                  area);
        }
    }
    vis_model_set_training(model, 1);
    for (int t = 0; t < n_acc; t++) {
        if (rc == 0) {
            vis_metric_acc_result(&acc[t], &out[t]);
        }
        vis_metric_acc_deinit(&acc[t]);
    }
    free(idx);
    vis_batch_deinit(&batch);
    return rc;
}

int vis_read_stl_summary(const char *path, const VisDataset *ds, VisTaskMetrics *out,
                         char *err, size_t err_sz) {
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, &text, &len, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(root, "test");
    if (!root || !cJSON_IsObject(test)) {
        cJSON_Delete(root);
        return err_set(err, err_sz, ERR_FORMAT, "%s: not a summary.json with a \"test\" object",
                       path);
    }
    for (int t = 0; t < ds->n_tasks && rc == 0; t++) {
        VisMetricAcc shape;
        rc = vis_metric_acc_init(&shape, &ds->tasks[t], err, err_sz);
        if (rc != 0) {
            break;
        }
        vis_metric_acc_result(&shape, &out[t]);
        vis_metric_acc_deinit(&shape);
        const cJSON *task = cJSON_GetObjectItemCaseSensitive(test, ds->tasks[t].name);
        for (int k = 0; k < out[t].n && rc == 0; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(task, out[t].names[k]);
            if (cJSON_IsNull(v)) {
                out[t].values[k] = NAN;   // no labelled pixel in the STL run's test split
            } else if (!cJSON_IsNumber(v)) {
                rc = err_set(err, err_sz, ERR_FORMAT, "%s: missing test.%s.%s", path,
                             ds->tasks[t].name, out[t].names[k]);
            } else {
                out[t].values[k] = v->valuedouble;
            }
        }
    }
    cJSON_Delete(root);
    return rc;
}

// ---- model per stage ----

static int build_model(Trainer *tr, char *err, size_t err_sz) {
    if (tr->have_model) {
        vis_model_deinit(&tr->model);
        tr->have_model = 0;
    }
    VisArch arch;
    vis_config_arch(&tr->cfg, &arch);
    VisModelOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.method = tr->method;
    opt.searching = tr->stage == 0;
    opt.branch = tr->branch;
    // evaluation batches never exceed the test split
    int eval_rows = tr->cfg.eval_batch < tr->ds.test.n ? tr->cfg.eval_batch : tr->ds.test.n;
    opt.max_batch = tr->cfg.batch_size > eval_rows ? tr->cfg.batch_size : eval_rows;
    opt.cagrad = conal_cagrad_defaults();
    opt.cagrad.c = tr->cfg.cagrad_c;
    opt.seed = (uint64_t)tr->cfg.seed * 2654435761ULL + (uint64_t)tr->stage;
    int rc = vis_model_init(&tr->model, &tr->ds, &arch, &opt, err, err_sz);
    if (rc == ERR_NOMEM) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        err_set(err, err_sz, rc, "%s; lower train.batch_size (%d) or train.eval_batch (%d)",
                why, tr->cfg.batch_size, tr->cfg.eval_batch);
    }
    tr->have_model = rc == 0;
    if (rc == 0) {
        log_info("vision: stage=%s params=%zu branch_points=%d", tr->stage ? "train" : "search",
                 tr->model.net->params.n, vis_model_n_branch_points(&tr->model));
    }
    return rc;
}

// Each task keeps the branch point with the largest architecture weight.
static void derive_branches(Trainer *tr) {
    int P = vis_model_n_branch_points(&tr->model);
    for (int t = 0; t < tr->ds.n_tasks; t++) {
        float a[CONAL_MAX_SLOTS + 1];
        conal_net_branch_weights(tr->model.net, t, a);
        int best = 0;
        for (int p = 1; p < P; p++) {
            best = a[p] > a[best] ? p : best;
        }
        tr->branch[t] = best + 1;
        log_info("vision: derived task=%s branch=%d weight=%.3f", tr->ds.tasks[t].name,
                 best + 1, (double)a[best]);
    }
}

// ---- checkpoints ----

// Writes checkpoint.bin atomically; with tr->have_partial it also contains
// the epoch in progress (its order and sums), so resume continues it.
static int save_checkpoint(const Trainer *tr, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.bin", tr->dir);
    CkptMeta meta;
    memset(&meta, 0, sizeof meta);
    meta.stage = tr->stage;
    meta.epoch = tr->epoch;
    meta.step = tr->step;
    meta.train_seconds = tr->train_seconds;
    meta.cpu_seconds = tr->cpu_seconds;
    memcpy(meta.branch, tr->branch, sizeof meta.branch);
    const ConalNet *net = tr->model.net;
    CkptSteps steps;
    memset(&steps, 0, sizeof steps);
    memcpy(steps.step_shared, net->step_shared, sizeof steps.step_shared);
    memcpy(steps.stop_count, net->stop_count, sizeof steps.stop_count);
    steps.step_rest = net->step_rest;
    steps.step_alpha = net->step_alpha;
    size_t n = net->params.n * sizeof(float), na = net->alpha.n * sizeof(float);

    NnCkptWriter w;
    int rc = nn_ckpt_writer_open(&w, path, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    const struct {
        const char *name;
        const void *data;
        size_t size;
    } sections[] = {
        {"meta", &meta, sizeof meta},
        {"steps", &steps, sizeof steps},
        {"rng", &tr->rng, sizeof tr->rng},
        {"gradmix_rng", &tr->model.gradmix.rng, sizeof tr->model.gradmix.rng},
        {"w", net->params.w, n},
        {"m", net->params.m, n},
        {"v", net->params.v, n},
        {"alpha_w", net->alpha.w, na},
        {"alpha_m", net->alpha.m, na},
        {"alpha_v", net->alpha.v, na},
        {"partial", tr->partial, tr->have_partial ? sizeof *tr->partial : 0},
        {"perm", tr->perm,
         tr->have_partial ? sizeof(int) * (size_t)tr->partial->n_fit : 0},
    };
    for (size_t i = 0; rc == 0 && i < sizeof sections / sizeof sections[0]; i++) {
        if (sections[i].size > 0) {
            rc = nn_ckpt_write(&w, sections[i].name, sections[i].data, sections[i].size, err,
                               err_sz);
        }
    }
    if (rc != 0) {
        nn_ckpt_writer_abort(&w);
        return rc;
    }
    return nn_ckpt_writer_commit(&w, err, err_sz);
}

static int load_checkpoint(Trainer *tr, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/checkpoint.bin", tr->dir);
    NnCkpt ck;
    int rc = nn_ckpt_load(&ck, path, err, err_sz);
    if (rc != 0) {
        return rc;
    }

    // the stage decides which network to build before its weights load
    CkptMeta meta;
    CkptSteps steps;
    rc = nn_ckpt_read(&ck, "meta", &meta, sizeof meta, err, err_sz);
    int searches = vis_method_searches(tr->method);
    if (rc == 0 && (meta.stage < !searches || meta.stage > 1 || meta.epoch < 0)) {
        rc = err_set(err, err_sz, ERR_FORMAT, "stage %d epoch %d does not fit method %s",
                     meta.stage, meta.epoch, tr->cfg.method);
    }
    if (rc == 0) {
        tr->stage = meta.stage;
        tr->epoch = meta.epoch;
        tr->step = meta.step;
        tr->train_seconds = meta.train_seconds;
        tr->cpu_seconds = meta.cpu_seconds;
        memcpy(tr->branch, meta.branch, sizeof tr->branch);
        rc = build_model(tr, err, err_sz);
    }
    ConalNet *net = tr->have_model ? tr->model.net : NULL;
    size_t n = net ? net->params.n * sizeof(float) : 0;
    size_t na = net ? net->alpha.n * sizeof(float) : 0;

    // optimiser counters, RNG streams, weights and Adam moments
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "steps", &steps, sizeof steps, err, err_sz);
    }
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "rng", &tr->rng, sizeof tr->rng, err, err_sz);
    }
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "gradmix_rng", &tr->model.gradmix.rng,
                          sizeof tr->model.gradmix.rng, err, err_sz);
    }
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "w", net->params.w, n, err, err_sz);
    }
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "m", net->params.m, n, err, err_sz);
    }
    if (rc == 0) {
        rc = nn_ckpt_read(&ck, "v", net->params.v, n, err, err_sz);
    }
    if (rc == 0 && na > 0) {
        rc = nn_ckpt_read(&ck, "alpha_w", net->alpha.w, na, err, err_sz);
        if (rc == 0) {
            rc = nn_ckpt_read(&ck, "alpha_m", net->alpha.m, na, err, err_sz);
        }
        if (rc == 0) {
            rc = nn_ckpt_read(&ck, "alpha_v", net->alpha.v, na, err, err_sz);
        }
    }
    tr->have_partial = 0;
    if (rc == 0 && nn_ckpt_find(&ck, "partial")) {
        rc = nn_ckpt_read(&ck, "partial", tr->partial, sizeof *tr->partial, err, err_sz);
        if (rc == 0 && (tr->partial->n_fit < 1 || tr->partial->n_fit > tr->ds.train.n ||
                        tr->partial->next < 0 || tr->partial->next > tr->partial->n_fit)) {
            rc = err_set(err, err_sz, ERR_FORMAT, "%s: partial epoch of %d images at %d "
                         "does not fit the %d training images", path, tr->partial->n_fit,
                         tr->partial->next, tr->ds.train.n);
        }
        if (rc == 0) {
            rc = nn_ckpt_read(&ck, "perm", tr->perm, sizeof(int) * (size_t)tr->partial->n_fit,
                              err, err_sz);
        }
        tr->have_partial = rc == 0;
    }
    if (rc != 0 && rc != ERR_NOMEM) {
        // the file passed its checks, so its sections were written for
        // another config: most likely it was copied from another run
        char why[1024];
        snprintf(why, sizeof why, "%s", err);
        err_set(err, err_sz, rc, "%s does not fit the run's config.json (copied from another "
                "run?): %s", path, why);
    }
    if (rc == 0) {
        memcpy(net->step_shared, steps.step_shared, sizeof steps.step_shared);
        memcpy(net->stop_count, steps.stop_count, sizeof steps.stop_count);
        net->step_rest = steps.step_rest;
        net->step_alpha = steps.step_alpha;
        // the epoch that continues, counted from 1 as the stop message does
        log_info("vision: resumed %s at stage=%s epoch=%d step=%lld partial_epoch_images=%d",
                 path, tr->stage ? "train" : "search", tr->epoch + 1, tr->step,
                 tr->have_partial ? tr->partial->next : 0);
    }
    nn_ckpt_unload(&ck);
    return rc;
}

// ---- one epoch ----

// Task weights of one step: 1 each, or for retraining a searched
// architecture uniform draws normalised to sum 1.
static void draw_weights(Trainer *tr, float *weights) {
    int T = tr->ds.n_tasks;
    int random = tr->stage == 1 && vis_method_searches(tr->method);
    double sum = 0.0;
    for (int t = 0; t < T; t++) {
        weights[t] = random ? rng_uniform_f(&tr->rng) : 1.0f;
        sum += (double)weights[t];
    }
    for (int t = 0; random && t < T; t++) {
        weights[t] = sum > 0.0 ? (float)((double)weights[t] / sum) : 1.0f / (float)T;
    }
}

// One architecture step on a random held-out batch [n_fit, n_train).
static void alpha_step(Trainer *tr, int n_fit) {
    int B = tr->cfg.batch_size, n_val = tr->ds.train.n - n_fit;
    int idx[65536];
    for (int i = 0; i < B; i++) {
        idx[i] = n_fit + (int)rng_below(&tr->rng, (uint64_t)n_val);
    }
    vis_batch_gather(&tr->ds, &tr->ds.train, idx, B, &tr->vbatch);
    vis_model_forward(&tr->model, tr->vbatch.images, B);
    conal_net_zero_grad(tr->model.net);
    double losses[VIS_MAX_TASKS];
    vis_model_backward(&tr->model, &tr->vbatch, NULL, CONAL_GRAD_ALPHA, losses);
    conal_net_alpha_step(tr->model.net, &tr->alpha_adam);
}

// Appends the epoch record to metrics.jsonl.
static int write_record(Trainer *tr, const double *loss_sum, long n_steps,
                        const double *conflict_sum, long n_measured,
                        const VisTaskMetrics *test, double seconds, char *err,
                        size_t err_sz) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stage", tr->stage ? "train" : "search");
    cJSON_AddNumberToObject(o, "epoch", tr->epoch);
    cJSON_AddNumberToObject(o, "step", (double)tr->step);
    cJSON_AddNumberToObject(o, "seconds", seconds);
    cJSON *loss = cJSON_AddObjectToObject(o, "train_loss");
    cJSON *te = cJSON_AddObjectToObject(o, "test");
    for (int t = 0; t < tr->ds.n_tasks; t++) {
        cJSON_AddNumberToObject(loss, tr->ds.tasks[t].name, loss_sum[t] / (double)n_steps);
        cJSON *m = cJSON_AddObjectToObject(te, tr->ds.tasks[t].name);
        for (int k = 0; k < test[t].n; k++) {
            cJSON_AddNumberToObject(m, test[t].names[k], test[t].values[k]);
        }
    }
    int P = vis_model_n_branch_points(&tr->model);
    if (n_measured > 0) {
        cJSON *cr = cJSON_AddArrayToObject(o, "conflict_ratio");
        for (int q = 0; q < P - 1; q++) {
            cJSON_AddItemToArray(cr, cJSON_CreateNumber(conflict_sum[q] / (double)n_measured));
        }
    }
    if (tr->stage == 0) {
        cJSON *aw = cJSON_AddArrayToObject(o, "branch_weights");
        for (int t = 0; t < tr->ds.n_tasks; t++) {
            float a[CONAL_MAX_SLOTS + 1];
            conal_net_branch_weights(tr->model.net, t, a);
            cJSON *row = cJSON_CreateArray();
            for (int p = 0; p < P; p++) {
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)a[p]));
            }
            cJSON_AddItemToArray(aw, row);
        }
    }
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", tr->dir);
    int rc = line ? file_append_line(path, line, err, err_sz)
                  : err_set(err, err_sz, ERR_NOMEM, "metrics.jsonl: out of memory");
    free(line);
    return rc;
}

// Keeps the records of metrics.jsonl that the checkpoint covers: whole
// lines of epochs up to the checkpoint's stage and epoch. A run killed
// after writing a record but before its checkpoint redoes that epoch. A
// run killed mid-line left a partial line. Both are dropped.
static int trim_records(const Trainer *tr, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", tr->dir);
    if (!file_exists(path)) {
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, &text, &len, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    size_t kept_len = 0, dropped = 0;
    int rewrite = 0;

    for (size_t at = 0; at < len;) {
        // a last line without its newline is kept when it is a whole
        // record (the buffer has room for the newline: text[len] is '\0')
        char *nl = memchr(text + at, '\n', len - at);
        if (!nl) {
            nl = text + len;
            rewrite = 1;
        }
        *nl = '\0';
        cJSON *rec = cJSON_Parse(text + at);
        const cJSON *stage = cJSON_GetObjectItemCaseSensitive(rec, "stage");
        const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(rec, "epoch");
        int keep = cJSON_IsString(stage) && cJSON_IsNumber(epoch);
        if (keep) {
            int rec_stage = strcmp(stage->valuestring, "train") == 0;
            keep = rec_stage < tr->stage ||
                   (rec_stage == tr->stage && epoch->valueint <= tr->epoch);
        }
        cJSON_Delete(rec);
        size_t line_len = (size_t)(nl - (text + at)) + 1;
        if (keep) {
            memmove(text + kept_len, text + at, line_len);
            text[kept_len + line_len - 1] = '\n';
            kept_len += line_len;
        } else {
            dropped++;
        }
        at += line_len;
    }

    if (dropped > 0) {
        log_warn("vision: dropped %zu record(s) of metrics.jsonl past the checkpoint or cut "
                 "off", dropped);
    }
    if (dropped > 0 || rewrite) {
        rc = file_write_atomic(path, text, kept_len, err, err_sz);
    }
    free(text);
    return rc;
}

// Logs one progress line of labelled fields.
static void log_progress(const Trainer *tr, const double *loss_sum, long n, double img_s) {
    char buf[1024];
    int len = snprintf(buf, sizeof buf, "stage=%s epoch=%d step=%lld",
                       tr->stage ? "train" : "search", tr->epoch + 1, tr->step);
    for (int t = 0; t < tr->ds.n_tasks && len < (int)sizeof buf; t++) {
        len += snprintf(buf + len, sizeof buf - (size_t)len, " loss_%s=%.4f",
                        tr->ds.tasks[t].name, loss_sum[t] / (double)n);
    }
    log_info("vision: %s img_per_s=%.0f", buf, img_s);
}

// Saves the epoch in progress and stops the run after a signal.
static int stop_partial(Trainer *tr, const CkptPartial *part, char *err, size_t err_sz) {
    *tr->partial = *part;
    tr->have_partial = 1;
    int rc = save_checkpoint(tr, err, err_sz);
    tr->have_partial = 0;
    if (rc != 0) {
        return rc;
    }
    int sig = (int)g_stop_signal;
    log_warn("vision: stopped by %s at stage=%s epoch=%d step=%lld; checkpoint written",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", tr->stage ? "train" : "search",
             tr->epoch + 1, tr->step);
    err_set(err, err_sz, ERR_IO, "stopped by %s at epoch %d step %lld; continue with "
            "--resume --out %s", sig == SIGTERM ? "SIGTERM" : "SIGINT", tr->epoch + 1,
            tr->step, tr->dir);
    return VIS_TRAIN_STOPPED;
}

// Fisher-Yates shuffle of the first n_fit training images into tr->perm.
static void shuffle(Trainer *tr, int n_fit) {
    for (int i = 0; i < n_fit; i++) {
        tr->perm[i] = i;
    }
    for (int i = n_fit - 1; i > 0; i--) {
        int j = (int)rng_below(&tr->rng, (uint64_t)i + 1);
        int k = tr->perm[i];
        tr->perm[i] = tr->perm[j];
        tr->perm[j] = k;
    }
}

// Training images of a stage: the search (stage 0) holds out data.n_val of
// them for the architecture steps.
static int fit_images(const Trainer *tr, int stage) {
    return stage == 0 ? tr->ds.train.n - tr->cfg.n_val : tr->ds.train.n;
}

static int run_epoch(Trainer *tr, VisTaskMetrics *test, char *err, size_t err_sz) {
    int T = tr->ds.n_tasks, B = tr->cfg.batch_size;
    int n_fit = fit_images(tr, tr->stage);
    double t0 = now_seconds(), t_log = t0, cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    double log_sum[VIS_MAX_TASKS] = {0};
    long n_log = 0;

    // a new epoch's order, or the order and sums of the one a signal stopped
    CkptPartial part;
    memset(&part, 0, sizeof part);
    if (tr->have_partial && tr->partial->n_fit == n_fit) {
        part = *tr->partial;
    } else {
        shuffle(tr, n_fit);
        part.n_fit = n_fit;
    }
    tr->have_partial = 0;
    double seconds0 = part.seconds, cpu_seconds0 = part.cpu_seconds;

    // full batches only, so every step has the same batch statistics
    for (int s = part.next; s + B <= n_fit; s += B) {
        if (g_stop_signal) {
            part.next = s;
            part.seconds = seconds0 + now_seconds() - t0;
            part.cpu_seconds =
                cpu_seconds0 + clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
            return stop_partial(tr, &part, err, err_sz);
        }
        if (tr->stage == 0) {
            alpha_step(tr, n_fit);
        }
        vis_batch_gather(&tr->ds, &tr->ds.train, tr->perm + s, B, &tr->batch);
        vis_model_forward(&tr->model, tr->batch.images, B);
        conal_net_zero_grad(tr->model.net);
        float weights[VIS_MAX_TASKS];
        draw_weights(tr, weights);
        double losses[VIS_MAX_TASKS];
        vis_model_backward(&tr->model, &tr->batch, weights, CONAL_GRAD_WEIGHTS, losses);
        conal_net_step(tr->model.net, &tr->adam);
        if (!nn_all_finite(tr->model.net->params.w, tr->model.net->params.n)) {
            return err_set(err, err_sz, ERR_ARG, "weights became non-finite at step "
                           "%lld; lower train.lr (now %g)", tr->step, tr->cfg.lr);
        }
        tr->step++;
        part.n_steps++;
        n_log++;
        for (int t = 0; t < T; t++) {
            part.loss_sum[t] += losses[t];
            log_sum[t] += losses[t];
        }
        if (tr->model.net->last.measured) {
            part.n_measured++;
            for (int q = 0; q < tr->model.n_slots; q++) {
                part.conflict_sum[q] += tr->model.net->last.conflict_ratio[q];
            }
        }
        if (tr->step % tr->cfg.log_interval == 0) {
            double t1 = now_seconds();
            log_progress(tr, log_sum, n_log, (double)(n_log * B) / (t1 - t_log));
            t_log = t1;
            n_log = 0;
            memset(log_sum, 0, sizeof log_sum);
        }
    }
    long n_steps = (long)part.n_steps, n_measured = (long)part.n_measured;
    const double *loss_sum = part.loss_sum, *conflict_sum = part.conflict_sum;
    if (n_steps == 0) {
        return err_set(err, err_sz, ERR_CONFIG, "%d training images make no batch "
                       "of train.batch_size %d", n_fit, B);
    }
    double seconds = seconds0 + now_seconds() - t0;
    tr->train_seconds += seconds;
    tr->cpu_seconds += cpu_seconds0 + clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    tr->epoch++;

    int rc = vis_evaluate(&tr->model, &tr->ds, &tr->ds.test, tr->ds.test.n, tr->cfg.eval_batch,
                          test, err, err_sz);
    if (rc == 0) {
        char buf[1024];
        int len = 0;
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < test[t].n && len < (int)sizeof buf; k++) {
                len += snprintf(buf + len, sizeof buf - (size_t)len, " %s.%s=%.4f",
                                tr->ds.tasks[t].name, test[t].names[k], test[t].values[k]);
            }
        }
        log_info("vision: test stage=%s epoch=%d%s seconds=%.1f", tr->stage ? "train" : "search",
                 tr->epoch, buf, seconds);
        for (int t = 0; t < T; t++) {
            if (test[t].n > 0 && isnan(test[t].values[0])) {
                log_warn("vision: task %s has no labelled pixel in the test split, so its "
                         "metrics are null", tr->ds.tasks[t].name);
            }
        }
        rc = write_record(tr, loss_sum, n_steps, conflict_sum, n_measured, test, seconds, err,
                          err_sz);
    }
    return rc;
}

// ---- run directory and summary ----

// Config keys that define the protocol Delta_I compares under: the data
// (which also fixes the task set and image size), its size and the epochs.
static const char *const protocol_keys[] = {"dataset", "data.dir", "data.n_train",
                                            "data.n_test", "train.epochs"};

// Warns about arch keys set away from their defaults that the dataset's
// network does not have: the decoder for image-level tasks (all tasks of a
// dataset are of one level), the dense layer for per-pixel ones.
static void warn_unused_arch(const Trainer *tr) {
    VisConfig defaults;
    vis_config_defaults(&defaults);
    int image_level = tr->ds.tasks[0].kind == VIS_TASK_CLASS;
    if (image_level && (tr->cfg.n_dec != defaults.n_dec ||
                        memcmp(tr->cfg.dec, defaults.dec, sizeof defaults.dec) != 0)) {
        log_warn("vision: arch.dec is not used: %s has image-level tasks and no decoder",
                 tr->ds.name);
    }
    if (!image_level && tr->cfg.hidden != defaults.hidden) {
        log_warn("vision: arch.hidden is not used: %s has per-pixel tasks", tr->ds.name);
    }
}

// Replaces a data.dir that exists by its absolute path, so that
// protocol checks compare folders rather than spellings ("cs", "./cs/",
// a symbolic link). A relative name is resolved against the working
// directory, which is where the run reads its data. A folder that does
// not exist only loses its trailing slashes (loading reports it).
static void resolve_data_dir(char *dir, size_t dir_sz) {
    char real[1024];
    if (dir[0] && file_resolve(dir, real, sizeof real) == 0 && strlen(real) < dir_sz) {
        memcpy(dir, real, strlen(real) + 1);
        return;
    }
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') {
        dir[--n] = '\0';
    }
}

// Checks the STL run's config.json, beside its summary.json, against the
// protocol of this run. Returns 0, or an error naming the first differing key.
static int check_stl_protocol(const Trainer *tr, char *err, size_t err_sz) {
    if (!file_exists(tr->cfg.stl_summary)) {
        return err_set(err, err_sz, ERR_IO, "stl_summary %s: file not found",
                       tr->cfg.stl_summary);
    }
    const char *slash = strrchr(tr->cfg.stl_summary, '/');
    int dir_len = slash ? (int)(slash - tr->cfg.stl_summary) + 1 : 0;
    char path[1100];
    snprintf(path, sizeof path, "%.*sconfig.json", dir_len, tr->cfg.stl_summary);
    if (!file_exists(path)) {
        return err_set(err, err_sz, ERR_IO, "stl_summary %s: no config.json beside it "
                       "(expected the summary.json in an STL run directory)",
                       tr->cfg.stl_summary);
    }
    VisConfig stl;
    vis_config_defaults(&stl);
    int rc = cfg_load_file(&vis_config_schema, &stl, path, err, err_sz);
    resolve_data_dir(stl.data_dir, sizeof stl.data_dir);
    if (rc == 0 && strcmp(stl.method, "stl") != 0) {
        rc = err_set(err, err_sz, ERR_CONFIG, "stl_summary %s belongs to a %s run, not stl",
                     tr->cfg.stl_summary, stl.method);
    }
    int n = (int)(sizeof protocol_keys / sizeof protocol_keys[0]);
    for (int i = 0; rc == 0 && i < n; i++) {
        const CfgField *f = cfg_find(&vis_config_schema, protocol_keys[i]);
        char there[256], here[256];
        cfg_format_value(f, &stl, there, sizeof there);
        cfg_format_value(f, &tr->cfg, here, sizeof here);
        if (strcmp(there, here) != 0) {
            rc = err_set(err, err_sz, ERR_CONFIG, "%s differs: %s in the STL run's %s, %s "
                         "here", protocol_keys[i], there, path, here);
        }
    }
    return rc;
}

// Writes summary.json: final test metrics, Delta_I against the STL run when
// stl_summary is set and that run used the same protocol, the branch points
// and the training time.
static int write_summary(Trainer *tr, const VisTaskMetrics *test, char *err, size_t err_sz) {
    int T = tr->ds.n_tasks;
    double delta = NAN;
    char why[1024] = "";
    if (tr->method == VIS_METHOD_STL) {
        delta = 0.0;
    } else if (!tr->cfg.stl_summary[0]) {
        snprintf(why, sizeof why, "no stl_summary in the config");
    } else {
        VisTaskMetrics stl[VIS_MAX_TASKS];
        if (check_stl_protocol(tr, why, sizeof why) != 0) {
            log_warn("vision: no Delta_I: %s", why);
        } else if (vis_read_stl_summary(tr->cfg.stl_summary, &tr->ds, stl, why,
                                        sizeof why) == 0) {
            delta = vis_delta_i(test, stl, T);
            for (int t = 0; t < T; t++) {
                for (int k = 0; k < stl[t].n; k++) {
                    if (isnan(stl[t].values[k]) || isnan(test[t].values[k])) {
                        log_warn("vision: Delta_I leaves out %s.%s, which is null in %s",
                                 tr->ds.tasks[t].name, stl[t].names[k],
                                 isnan(stl[t].values[k]) ? "the STL run" : "this run");
                    }
                }
            }
        } else {
            log_warn("vision: no Delta_I: %s (train the stl config first)", why);
        }
    }

    // run identity, cost, then per-task test metrics
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dataset", tr->cfg.dataset);
    cJSON_AddStringToObject(o, "method", tr->cfg.method);
    cJSON_AddNumberToObject(o, "seed", (double)tr->cfg.seed);
    cJSON_AddStringToObject(o, "git", CONAL_GIT_REV);
    cJSON_AddNumberToObject(o, "epochs", tr->cfg.epochs);
    cJSON_AddNumberToObject(o, "steps", (double)tr->step);
    cJSON_AddNumberToObject(o, "params", (double)tr->model.net->params.n);
    cJSON_AddNumberToObject(o, "train_seconds", tr->train_seconds);
    cJSON_AddNumberToObject(o, "train_cpu_seconds", tr->cpu_seconds);
    cJSON *te = cJSON_AddObjectToObject(o, "test");
    double mean_first = 0.0;
    for (int t = 0; t < T; t++) {
        cJSON *m = cJSON_AddObjectToObject(te, tr->ds.tasks[t].name);
        for (int k = 0; k < test[t].n; k++) {
            cJSON_AddNumberToObject(m, test[t].names[k], test[t].values[k]);
        }
        mean_first += test[t].values[0] / T;
    }
    cJSON_AddNumberToObject(o, "mean_first_metric", mean_first);
    if (isfinite(delta)) {
        cJSON_AddNumberToObject(o, "delta_i", delta);
        cJSON_AddStringToObject(o, "delta_i_reference",
                                tr->method == VIS_METHOD_STL ? "self" : tr->cfg.stl_summary);
    } else {
        cJSON_AddNullToObject(o, "delta_i");
        if (why[0]) {
            cJSON_AddStringToObject(o, "delta_i_missing", why);
        }
    }

    cJSON *br = cJSON_AddArrayToObject(o, "branch");
    for (int t = 0; t < T; t++) {
        cJSON_AddItemToArray(br, cJSON_CreateNumber(tr->model.spec.branch[t]));
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    char path[1100];
    snprintf(path, sizeof path, "%s/summary.json", tr->dir);
    int rc = text ? file_write_atomic(path, text, strlen(text), err, err_sz)
                  : err_set(err, err_sz, ERR_NOMEM, "summary.json: out of memory");
    free(text);
    if (rc == 0) {
        char delta_text[32] = "null";
        if (isfinite(delta)) {
            snprintf(delta_text, sizeof delta_text, "%.3f", delta);
        }
        log_info("vision: finished %s delta_i=%s train_seconds=%.1f train_cpu_seconds=%.1f",
                 path, delta_text, tr->train_seconds, tr->cpu_seconds);
    }
    return rc;
}

// Fills cfg with the defaults that a run's own config.json is read over. A
// key added after the run was written takes the value that reproduces the
// older runs: arch.batch_norm did not exist, so batch norm was off.
static void saved_config_defaults(VisConfig *cfg) {
    vis_config_defaults(cfg);
    cfg->batch_norm = 0;
}

// Resolves the config (defaults, file or the run's config.json, --seed,
// --set) and the run directory, and checks it against --resume.
static int resolve_config(Trainer *tr, const VisTrainOptions *opt, char *err, size_t err_sz) {
    vis_config_defaults(&tr->cfg);
    char saved[1100];
    const char *path = opt->config_path;
    if (!path && opt->resume && opt->out_dir) {
        // --resume --out DIR alone: the run's own config; a CONFIG given
        // with --resume is checked against it below
        snprintf(saved, sizeof saved, "%s/config.json", opt->out_dir);
        if (file_exists(saved)) {
            path = saved;
            saved_config_defaults(&tr->cfg);
        }
    }
    if (!path) {
        return err_set(err, err_sz, ERR_ARG, "no CONFIG given and no config.json to "
                       "resume from");
    }
    int rc = cfg_resolve(&vis_config_schema, &tr->cfg, path, opt->sets, opt->n_sets, err,
                         err_sz);
    // --seed applies before the --set overrides, so --set seed=N wins
    int seed_set = 0;
    for (int i = 0; i < opt->n_sets; i++) {
        seed_set |= strncmp(opt->sets[i], "seed=", 5) == 0;
    }
    if (rc == 0 && opt->seed >= 0 && !seed_set) {
        tr->cfg.seed = opt->seed;
    }
    if (rc == 0) {
        rc = vis_config_check(&tr->cfg, err, err_sz);
    }
    if (rc != 0) {
        return rc;
    }
    resolve_data_dir(tr->cfg.data_dir, sizeof tr->cfg.data_dir);

    // run directory: --out, or one named after dataset, method and seed
    tr->method = (VisMethod)vis_method_parse(tr->cfg.method);
    if (opt->out_dir) {
        snprintf(tr->dir, sizeof tr->dir, "%s", opt->out_dir);
    } else {
        snprintf(tr->dir, sizeof tr->dir, "runs/vision-%s-%s-s%lld", tr->cfg.dataset,
                 tr->cfg.method, tr->cfg.seed);
    }
    struct stat out_st;
    if (stat(tr->dir, &out_st) == 0 && !S_ISDIR(out_st.st_mode)) {
        return err_set(err, err_sz, ERR_ARG, "--out %s: exists and is not a directory",
                       tr->dir);
    }
    char ckpt[1100], cfg_path[1100];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", tr->dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", tr->dir);
    if (opt->resume && !file_exists(ckpt)) {
        return err_set(err, err_sz, ERR_IO, "--resume: %s not found; start the run "
                       "without --resume", ckpt);
    }
    if (!opt->resume && file_exists(ckpt)) {
        return err_set(err, err_sz, ERR_ARG, "%s already contains a run; pass --resume "
                       "to continue it or choose another --out", tr->dir);
    }
    // a run that stopped before its first checkpoint may have left records,
    // which a new run would mix with its own (a lone config.json is
    // rewritten)
    static const char *const run_files[] = {"metrics.jsonl", "summary.json"};
    for (size_t i = 0; !opt->resume && i < sizeof run_files / sizeof run_files[0]; i++) {
        char file[1100];
        snprintf(file, sizeof file, "%s/%s", tr->dir, run_files[i]);
        if (file_exists(file)) {
            return err_set(err, err_sz, ERR_ARG, "%s contains %s but no checkpoint.bin (a "
                           "run that stopped before its first checkpoint); remove it with "
                           "`rm -r %s` or choose another --out", tr->dir, run_files[i],
                           tr->dir);
        }
    }
    if (opt->resume) {
        // a resumed run keeps the config it started with, except that it may
        // be extended by more epochs
        VisConfig old;
        saved_config_defaults(&old);
        rc = cfg_load_file(&vis_config_schema, &old, cfg_path, err, err_sz);
        resolve_data_dir(old.data_dir, sizeof old.data_dir);
        static const char *const may_change[] = {"train.epochs", NULL};
        const CfgField *f =
            rc == 0 ? cfg_diff(&vis_config_schema, &old, &tr->cfg, may_change) : NULL;
        if (f) {
            char was[256], now[256];
            cfg_format_value(f, &old, was, sizeof was);
            cfg_format_value(f, &tr->cfg, now, sizeof now);
            return err_set(err, err_sz, ERR_CONFIG, "--resume: %s differs from the "
                           "run's config %s (%s there, %s now); only train.epochs may "
                           "change on resume", f->path, cfg_path, was, now);
        }
    }
    return rc;
}

// Creates the run directory and writes config.json, once the dataset has
// loaded, so that a bad data.dir leaves no run directory behind.
static int write_run_config(const Trainer *tr, char *err, size_t err_sz) {
    char cfg_path[1100];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", tr->dir);
    int rc = file_mkdirs(tr->dir, err, err_sz);
    if (rc == 0) {
        rc = cfg_save_file(&vis_config_schema, &tr->cfg, cfg_path, err, err_sz);
    }
    return rc;
}

static void trainer_deinit(Trainer *tr) {
    if (tr->have_model) {
        vis_model_deinit(&tr->model);
    }
    vis_batch_deinit(&tr->batch);
    vis_batch_deinit(&tr->vbatch);
    vis_dataset_deinit(&tr->ds);
    free(tr->perm);
    free(tr->partial);
}

// Runs the remaining epochs of both stages.
static int train_stages(Trainer *tr, VisTaskMetrics *test, char *err, size_t err_sz) {
    int rc = 0, evaluated = 0;
    int first_stage = vis_method_searches(tr->method) ? 0 : 1;
    if (!tr->have_model) {
        tr->stage = first_stage;
        rc = build_model(tr, err, err_sz);
    }
    while (rc == 0) {
        int n_epochs = tr->stage == 0 ? tr->cfg.search_epochs : tr->cfg.epochs;
        while (rc == 0 && tr->epoch < n_epochs) {
            rc = run_epoch(tr, test, err, err_sz);
            evaluated = rc == 0;
            if (rc == 0) {
                rc = save_checkpoint(tr, err, err_sz);
            }
        }
        if (rc != 0 || tr->stage == 1) {
            break;
        }
        derive_branches(tr);
        tr->stage = 1;
        tr->epoch = 0;
        rc = build_model(tr, err, err_sz);
    }
    if (rc == 0 && !evaluated) {
        // resumed after the last epoch: recompute the test metrics
        rc = vis_evaluate(&tr->model, &tr->ds, &tr->ds.test, tr->ds.test.n, tr->cfg.eval_batch,
                          test, err, err_sz);
    }
    return rc;
}

// Refuses to resume a run that wrote its summary.json and has no epochs
// left; a run killed before writing it may still finish.
static int check_not_finished(const Trainer *tr, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/summary.json", tr->dir);
    if (tr->stage == 1 && tr->epoch >= tr->cfg.epochs && !tr->have_partial &&
        file_exists(path)) {
        return err_set(err, err_sz, ERR_ARG, "run %s already finished at epoch %d of "
                       "train.epochs=%d; pass --set train.epochs=N with N larger than %d "
                       "to extend it", tr->dir, tr->epoch, tr->cfg.epochs, tr->epoch);
    }
    return 0;
}

int vis_train_main(const VisTrainOptions *opt, char *err, size_t err_sz) {
    Trainer *tr = calloc(1, sizeof *tr);
    if (!tr) {
        return err_set(err, err_sz, ERR_NOMEM, "training state: out of memory");
    }
    int rc = resolve_config(tr, opt, err, err_sz);
    if (rc == 0) {
        log_info("vision: run=%s config=%s dataset=%s method=%s seed=%lld git=%s threads=%d",
                 tr->dir, opt->config_path ? opt->config_path : "(resumed)", tr->cfg.dataset,
                 tr->cfg.method, tr->cfg.seed, CONAL_GIT_REV, opt->threads);
        rc = vis_dataset_load(&tr->cfg, &tr->ds, err, err_sz);
    }
    if (rc == 0 && vis_method_searches(tr->method) && tr->cfg.n_val >= tr->ds.train.n) {
        rc = err_set(err, err_sz, ERR_CONFIG, "config: data.n_val: %d held-out images leave "
                     "none of the %d training images", tr->cfg.n_val, tr->ds.train.n);
    }
    // the first stage has the fewest training images
    int n_fit = rc == 0 ? fit_images(tr, vis_method_searches(tr->method) ? 0 : 1) : 0;
    if (rc == 0 && tr->cfg.batch_size > n_fit) {
        rc = err_set(err, err_sz, ERR_CONFIG, "config: train.batch_size: %d is larger than "
                     "the %d training images; lower it or raise data.n_train",
                     tr->cfg.batch_size, n_fit);
    }
    if (rc == 0) {
        log_info("vision: dataset=%s train=%d test=%d tasks=%d", tr->ds.name, tr->ds.train.n,
                 tr->ds.test.n, tr->ds.n_tasks);
        warn_unused_arch(tr);
        tr->perm = malloc(sizeof(int) * (size_t)tr->ds.train.n);
        tr->partial = calloc(1, sizeof *tr->partial);
        rc = tr->perm && tr->partial ? 0 : err_set(err, err_sz, ERR_NOMEM, "epoch order: "
                                                   "out of memory");
    }
    if (rc == 0) {
        rc = write_run_config(tr, err, err_sz);
    }
    if (rc == 0) {
        rc = vis_batch_init(&tr->ds, &tr->batch, tr->cfg.batch_size, err, err_sz);
    }
    if (rc == 0) {
        rc = vis_batch_init(&tr->ds, &tr->vbatch, tr->cfg.batch_size, err, err_sz);
    }

    // optimisers and the trainer's RNG, then the checkpoint on resume
    if (rc == 0) {
        tr->adam = nn_adam_defaults();
        tr->adam.lr = (float)tr->cfg.lr;
        tr->adam.weight_decay = (float)tr->cfg.weight_decay;
        tr->alpha_adam = nn_adam_defaults();
        tr->alpha_adam.lr = (float)tr->cfg.alpha_lr;
        rng_init_stream(&tr->rng, (uint64_t)tr->cfg.seed, 7);
        if (opt->resume) {
            rc = load_checkpoint(tr, err, err_sz);
        }
        if (rc == 0 && opt->resume) {
            rc = check_not_finished(tr, err, err_sz);
        }
        if (rc == 0 && opt->resume) {
            rc = trim_records(tr, err, err_sz);
        }
    }
    // SIGINT and SIGTERM stop the run between steps with a checkpoint. The
    // handler stays, so a second signal during the save does not kill it
    // (conal train does the same); SIGKILL or SIGQUIT stop it at once.
    VisTaskMetrics test[VIS_MAX_TASKS];
    if (rc == 0) {
        struct sigaction sa, old_int, old_term;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        g_stop_signal = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        rc = train_stages(tr, test, err, err_sz);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    if (rc == 0) {
        rc = write_summary(tr, test, err, err_sz);
    }
    trainer_deinit(tr);
    free(tr);
    return rc;
}
