// Evaluation metrics of the image tasks and the Delta_I summary.
//
// Dimension letters: B batch, C classes, H x W label size.
// Per task kind:
//   classification  acc (higher is better)
//   segmentation    miou, pix_acc (higher); mIoU averages the IoU of the
//                   classes that occur in the labels or the predictions
//   depth           abs_err, rel_err (lower); over pixels with depth > 0,
//                   rel_err = mean |pred - gt| / gt
//   normals         angle_mean, angle_median (lower), within_11.25,
//                   within_22.5, within_30 (percent of pixels, higher);
//                   over pixels with a non-zero ground-truth normal
// The median comes from a histogram with 0.01-degree bins, so it is exact
// to within 0.01 degrees.
// A task with no labelled pixel in the pass (every label -1, every depth
// <= 0 or every normal zero) gets NaN for each metric.
#ifndef VISION_METRICS_H
#define VISION_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "vision/dataset.h"

#define VIS_MAX_METRICS 5

// Final values of one task.
typedef struct VisTaskMetrics {
    int n;                                    // metrics in use
    const char *names[VIS_MAX_METRICS];       // static strings, e.g. "acc"
    double values[VIS_MAX_METRICS];
    int lower_is_better[VIS_MAX_METRICS];
} VisTaskMetrics;

// Running sums of one task over an evaluation pass.
typedef struct VisMetricAcc {
    VisTask task;
    double correct, count;                    // classification, pixel accuracy
    double *confusion;                        // (C x C) segmentation, [label][pred]
    double abs_err, rel_err;                  // depth sums
    long *angle_hist;                         // (18001) normals, 0.01-degree bins
    double angle_sum;
} VisMetricAcc;

// 1 for the metrics where lower is better (abs_err, rel_err, angle_mean,
// angle_median), 0 for every other name.
int vis_metric_lower_is_better(const char *name);

int vis_metric_acc_init(VisMetricAcc *acc, const VisTask *task, char *err, size_t err_sz);
void vis_metric_acc_deinit(VisMetricAcc *acc);
void vis_metric_acc_reset(VisMetricAcc *acc);

// Adds B predictions. pred is the head output at label size: (B x C) logits
// for classification, (B x C x H x W) logits for segmentation, (B x 1 x H x W)
// depth or (B x 3 x H x W) normals of any length (normalised here). labels
// or targets are the batch's for this task. area is H*W, or 1 for
// classification.
void vis_metric_acc_update(VisMetricAcc *acc, const float *pred, const int32_t *labels,
                           const float *targets, int B, long area);

// Final metrics of the pass.
void vis_metric_acc_result(const VisMetricAcc *acc, VisTaskMetrics *out);

// Delta_I in percent: the mean over tasks of the mean over their metrics of
// (-1)^l (M - M_stl) / M_stl, with l = 1 where lower is better. Positive
// means better than single-task learning. Metrics whose STL value is 0 are
// skipped (the ratio is undefined), and so are NaN metrics on either side;
// returns NAN when nothing is left.
double vis_delta_i(const VisTaskMetrics *m, const VisTaskMetrics *stl, int n_tasks);

#endif
