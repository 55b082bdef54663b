// In-memory image datasets with several tasks per image.
//
// Dimension letters: N images, C image channels, H x W image size (label
// maps share it), B batch, T tasks.
// Every image carries a target for every task. Classification targets are
// one class per image, segmentation one class per pixel (VIS_IGNORE_LABEL
// where unlabelled), depth one value per pixel (0 where unknown) and surface
// normals three per pixel (all 0 where unknown). Images are float and
// already scaled for the model.
#ifndef VISION_DATASET_H
#define VISION_DATASET_H

#include <stddef.h>
#include <stdint.h>

#define VIS_MAX_TASKS 16
#define VIS_IGNORE_LABEL (-1)

typedef enum VisTaskKind {
    VIS_TASK_CLASS = 0,    // image classification, softmax cross-entropy
    VIS_TASK_SEG = 1,      // semantic segmentation, per-pixel cross-entropy
    VIS_TASK_DEPTH = 2,    // depth regression, L1 on known pixels
    VIS_TASK_NORMAL = 3,   // surface normals, cosine loss on known pixels
} VisTaskKind;

typedef struct VisTask {
    char name[32];
    VisTaskKind kind;
    int n_classes;         // CLASS and SEG; 0 otherwise
} VisTask;

// Channels a model head predicts for a task: classes, 1 for depth, 3 for
// normals.
int vis_task_channels(const VisTask *task);

typedef struct VisSplit {
    int n;                                 // N
    float *images;                         // (N x C x H x W)
    int32_t *labels[VIS_MAX_TASKS];        // CLASS (N), SEG (N x H x W); NULL otherwise
    float *targets[VIS_MAX_TASKS];         // DEPTH (N x 1 x H x W), NORMAL (N x 3 x H x W)
} VisSplit;

typedef struct VisDataset {
    char name[32];
    int n_ch, height, width;               // C, H, W
    int n_tasks;                           // T
    VisTask tasks[VIS_MAX_TASKS];
    VisSplit train;
    VisSplit test;                         // the test split (or val for NYUv2/CityScapes)
} VisDataset;

// Allocates a split of n images for the dataset's shape and tasks, zeroed.
// Returns 0 or ERR_NOMEM.
int vis_split_alloc(const VisDataset *ds, VisSplit *split, int n, char *err, size_t err_sz);
void vis_dataset_deinit(VisDataset *ds);

// A batch gathered from a split: the same layout with B images.
typedef struct VisBatch {
    int n;                                 // B in use
    int cap;                               // B allocated
    float *images;                         // (cap x C x H x W)
    int32_t *labels[VIS_MAX_TASKS];
    float *targets[VIS_MAX_TASKS];
} VisBatch;

int vis_batch_init(const VisDataset *ds, VisBatch *batch, int cap, char *err, size_t err_sz);
void vis_batch_deinit(VisBatch *batch);

// Copies images idx[0..n) of split into the batch (n <= cap).
void vis_batch_gather(const VisDataset *ds, const VisSplit *split, const int *idx, int n,
                      VisBatch *batch);

#endif
