// Multi-task image datasets and batches; see dataset.h.
#include "vision/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int vis_task_channels(const VisTask *task) {
    switch (task->kind) {
    case VIS_TASK_CLASS:
    case VIS_TASK_SEG:
        return task->n_classes;
    case VIS_TASK_DEPTH:
        return 1;
    case VIS_TASK_NORMAL:
        return 3;
    default:
        ASSERT(0, "vis_task_channels: unknown task kind %d", (int)task->kind);
    }
}

// Per-image element counts of a task's targets (labels or floats).
static size_t label_count(const VisDataset *ds, const VisTask *task) {
    size_t area = (size_t)ds->height * (size_t)ds->width;
    switch (task->kind) {
    case VIS_TASK_CLASS:
        return 1;
    case VIS_TASK_SEG:
        return area;
    default:
        return 0;
    }
}

static size_t target_count(const VisDataset *ds, const VisTask *task) {
    size_t area = (size_t)ds->height * (size_t)ds->width;
    switch (task->kind) {
    case VIS_TASK_DEPTH:
        return area;
    case VIS_TASK_NORMAL:
        return 3 * area;
    default:
        return 0;
    }
}

// Allocates image and target arrays with room for n images.
static int alloc_arrays(const VisDataset *ds, int n, float **images, int32_t **labels,
                        float **targets) {
    size_t img = (size_t)ds->n_ch * ds->height * ds->width;
    *images = calloc((size_t)n * img, sizeof(float));
    int ok = *images != NULL;
    for (int t = 0; t < ds->n_tasks; t++) {
        size_t nl = label_count(ds, &ds->tasks[t]), nt = target_count(ds, &ds->tasks[t]);
        labels[t] = nl ? calloc((size_t)n * nl, sizeof(int32_t)) : NULL;
        targets[t] = nt ? calloc((size_t)n * nt, sizeof(float)) : NULL;
        ok &= (!nl || labels[t]) && (!nt || targets[t]);
    }
    return ok;
}

static void free_arrays(float **images, int32_t **labels, float **targets) {
    free(*images);
    *images = NULL;
    for (int t = 0; t < VIS_MAX_TASKS; t++) {
        free(labels[t]);
        free(targets[t]);
        labels[t] = NULL;
        targets[t] = NULL;
    }
}

int vis_split_alloc(const VisDataset *ds, VisSplit *split, int n, char *err, size_t err_sz) {
    memset(split, 0, sizeof *split);
    if (!alloc_arrays(ds, n, &split->images, split->labels, split->targets)) {
        free_arrays(&split->images, split->labels, split->targets);
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory for %d images of %d x %d x %d",
                       ds->name, n, ds->n_ch, ds->height, ds->width);
    }
    split->n = n;
    return 0;
}

void vis_dataset_deinit(VisDataset *ds) {
    free_arrays(&ds->train.images, ds->train.labels, ds->train.targets);
    free_arrays(&ds->test.images, ds->test.labels, ds->test.targets);
    ds->train.n = ds->test.n = 0;
}

int vis_batch_init(const VisDataset *ds, VisBatch *batch, int cap, char *err, size_t err_sz) {
    memset(batch, 0, sizeof *batch);
    if (!alloc_arrays(ds, cap, &batch->images, batch->labels, batch->targets)) {
        free_arrays(&batch->images, batch->labels, batch->targets);
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory for a batch of %d", ds->name,
                       cap);
    }
    batch->cap = cap;
    return 0;
}

void vis_batch_deinit(VisBatch *batch) {
    free_arrays(&batch->images, batch->labels, batch->targets);
    batch->n = batch->cap = 0;
}

void vis_batch_gather(const VisDataset *ds, const VisSplit *split, const int *idx, int n,
                      VisBatch *batch) {
    ASSERT(n > 0 && n <= batch->cap, "vis_batch_gather: %d images, batch holds %d", n,
           batch->cap);
    size_t img = (size_t)ds->n_ch * ds->height * ds->width;
    for (int i = 0; i < n; i++) {
        ASSERT(idx[i] >= 0 && idx[i] < split->n, "vis_batch_gather: index %d outside [0, %d)",
               idx[i], split->n);
        size_t src = (size_t)idx[i];
        memcpy(batch->images + i * img, split->images + src * img, img * sizeof(float));
        for (int t = 0; t < ds->n_tasks; t++) {
            size_t nl = label_count(ds, &ds->tasks[t]), nt = target_count(ds, &ds->tasks[t]);
            if (nl) {
                memcpy(batch->labels[t] + i * nl, split->labels[t] + src * nl,
                       nl * sizeof(int32_t));
            }
            if (nt) {
                memcpy(batch->targets[t] + i * nt, split->targets[t] + src * nt,
                       nt * sizeof(float));
            }
        }
    }
    batch->n = n;
}
