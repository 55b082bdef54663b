// Image-task metrics; see metrics.h.
#include "vision/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ANGLE_BINS 18001   // 0.00 .. 180.00 degrees in 0.01 steps
#define DEG_PER_RAD 57.29577951308232

int vis_metric_acc_init(VisMetricAcc *acc, const VisTask *task, char *err, size_t err_sz) {
    memset(acc, 0, sizeof *acc);
    acc->task = *task;
    if (task->kind == VIS_TASK_SEG) {
        acc->confusion = calloc((size_t)task->n_classes * task->n_classes, sizeof(double));
    } else if (task->kind == VIS_TASK_NORMAL) {
        acc->angle_hist = calloc(ANGLE_BINS, sizeof(long));
    }
    if ((task->kind == VIS_TASK_SEG && !acc->confusion) ||
        (task->kind == VIS_TASK_NORMAL && !acc->angle_hist)) {
        return err_set(err, err_sz, ERR_NOMEM, "metrics of task %s: out of memory",
                       task->name);
    }
    return 0;
}

void vis_metric_acc_deinit(VisMetricAcc *acc) {
    free(acc->confusion);
    free(acc->angle_hist);
    memset(acc, 0, sizeof *acc);
}

void vis_metric_acc_reset(VisMetricAcc *acc) {
    acc->correct = acc->count = acc->abs_err = acc->rel_err = acc->angle_sum = 0.0;
    if (acc->confusion) {
        memset(acc->confusion, 0, sizeof(double) * acc->task.n_classes * acc->task.n_classes);
    }
    if (acc->angle_hist) {
        memset(acc->angle_hist, 0, sizeof(long) * ANGLE_BINS);
    }
}

// Class with the largest logit at pixel i of a (C x area) map.
static int argmax_class(const float *logits, int C, long area, long i) {
    int best = 0;
    for (int c = 1; c < C; c++) {
        if (logits[c * area + i] > logits[best * area + i]) {
            best = c;
        }
    }
    return best;
}

static void update_labels(VisMetricAcc *acc, const float *pred, const int32_t *labels, int B,
                          long area) {
    int C = acc->task.n_classes;
    for (int b = 0; b < B; b++) {
        const float *pb = pred + (long)b * C * area;
        for (long i = 0; i < area; i++) {
            int32_t y = labels[(long)b * area + i];
            if (y == VIS_IGNORE_LABEL) {
                continue;
            }
            int p = argmax_class(pb, C, area, i);
            acc->correct += p == y;
            acc->count += 1.0;
            if (acc->confusion) {
                acc->confusion[(long)y * C + p] += 1.0;
            }
        }
    }
}

static void update_depth(VisMetricAcc *acc, const float *pred, const float *gt, long n) {
    for (long i = 0; i < n; i++) {
        if (gt[i] <= 0.0f) {
            continue;
        }
        double e = fabs((double)pred[i] - (double)gt[i]);
        acc->abs_err += e;
        acc->rel_err += e / (double)gt[i];
        acc->count += 1.0;
    }
}

static void update_normals(VisMetricAcc *acc, const float *pred, const float *gt, int B,
                           long area) {
    for (int b = 0; b < B; b++) {
        const float *p = pred + (long)b * 3 * area, *t = gt + (long)b * 3 * area;
        for (long i = 0; i < area; i++) {
            double t0 = t[i], t1 = t[area + i], t2 = t[2 * area + i];
            double tn = sqrt(t0 * t0 + t1 * t1 + t2 * t2);
            if (tn == 0.0) {
                continue;
            }
            double p0 = p[i], p1 = p[area + i], p2 = p[2 * area + i];
            double pn = sqrt(p0 * p0 + p1 * p1 + p2 * p2);
            double cosv = pn > 0.0 ? (p0 * t0 + p1 * t1 + p2 * t2) / (pn * tn) : 0.0;
            cosv = fmax(-1.0, fmin(1.0, cosv));
            double deg = acos(cosv) * DEG_PER_RAD;
            acc->angle_sum += deg;
            acc->angle_hist[(long)lround(deg * 100.0)]++;
            acc->count += 1.0;
        }
    }
}

void vis_metric_acc_update(VisMetricAcc *acc, const float *pred, const int32_t *labels,
                           const float *targets, int B, long area) {
    switch (acc->task.kind) {
    case VIS_TASK_CLASS:
    case VIS_TASK_SEG:
        update_labels(acc, pred, labels, B, area);
        break;
    case VIS_TASK_DEPTH:
        update_depth(acc, pred, targets, (long)B * area);
        break;
    case VIS_TASK_NORMAL:
        update_normals(acc, pred, targets, B, area);
        break;
    default:
        ASSERT(0, "vis_metric_acc_update: unknown task kind %d", (int)acc->task.kind);
    }
}

int vis_metric_lower_is_better(const char *name) {
    static const char *const lower[] = {"abs_err", "rel_err", "angle_mean", "angle_median"};
    for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++) {
        if (strcmp(name, lower[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void put(VisTaskMetrics *out, const char *name, double value) {
    out->names[out->n] = name;
    out->values[out->n] = value;
    out->lower_is_better[out->n] = vis_metric_lower_is_better(name);
    out->n++;
}

// Mean IoU over classes present in labels or predictions.
static double mean_iou(const VisMetricAcc *acc) {
    int C = acc->task.n_classes;
    double sum = 0.0;
    int used = 0;
    for (int c = 0; c < C; c++) {
        double tp = acc->confusion[(long)c * C + c], row = 0.0, col = 0.0;
        for (int k = 0; k < C; k++) {
            row += acc->confusion[(long)c * C + k];
            col += acc->confusion[(long)k * C + c];
        }
        double uni = row + col - tp;
        if (uni > 0.0) {
            sum += tp / uni;
            used++;
        }
    }
    return used ? sum / used : 0.0;
}

// Angle at which the running count reaches half of all pixels.
static double median_angle(const VisMetricAcc *acc) {
    double half = acc->count / 2.0, seen = 0.0;
    for (int i = 0; i < ANGLE_BINS; i++) {
        seen += (double)acc->angle_hist[i];
        if (seen >= half) {
            return i / 100.0;
        }
    }
    return 180.0;
}

// Percent of pixels whose angle error is at most deg.
static double within(const VisMetricAcc *acc, double deg) {
    double n = 0.0;
    for (int i = 0; i <= (int)lround(deg * 100.0); i++) {
        n += (double)acc->angle_hist[i];
    }
    return 100.0 * n / acc->count;
}

void vis_metric_acc_result(const VisMetricAcc *acc, VisTaskMetrics *out) {
    memset(out, 0, sizeof *out);
    // with no labelled pixel every metric is undefined: NaN, not a perfect 0
    double n = acc->count > 0.0 ? acc->count : (double)NAN;
    switch (acc->task.kind) {
    case VIS_TASK_CLASS:
        put(out, "acc", acc->correct / n);
        break;
    case VIS_TASK_SEG:
        put(out, "miou", acc->count > 0.0 ? mean_iou(acc) : (double)NAN);
        put(out, "pix_acc", acc->correct / n);
        break;
    case VIS_TASK_DEPTH:
        put(out, "abs_err", acc->abs_err / n);
        put(out, "rel_err", acc->rel_err / n);
        break;
    case VIS_TASK_NORMAL:
        put(out, "angle_mean", acc->angle_sum / n);
        put(out, "angle_median", acc->count > 0.0 ? median_angle(acc) : (double)NAN);
        put(out, "within_11.25", acc->count > 0.0 ? within(acc, 11.25) : (double)NAN);
        put(out, "within_22.5", acc->count > 0.0 ? within(acc, 22.5) : (double)NAN);
        put(out, "within_30", acc->count > 0.0 ? within(acc, 30.0) : (double)NAN);
        break;
    default:
        ASSERT(0, "vis_metric_acc_result: unknown task kind %d", (int)acc->task.kind);
    }
}

double vis_delta_i(const VisTaskMetrics *m, const VisTaskMetrics *stl, int n_tasks) {
    double total = 0.0;
    int used_tasks = 0;
    for (int t = 0; t < n_tasks; t++) {
        ASSERT(m[t].n == stl[t].n, "vis_delta_i: task %d has %d metrics, STL has %d", t,
               m[t].n, stl[t].n);
        double sum = 0.0;
        int used = 0;
        for (int k = 0; k < m[t].n; k++) {
            if (stl[t].values[k] == 0.0 || isnan(stl[t].values[k]) || isnan(m[t].values[k])) {
                continue;
            }
            double rel = (m[t].values[k] - stl[t].values[k]) / stl[t].values[k];
            sum += m[t].lower_is_better[k] ? -rel : rel;
            used++;
        }
        if (used) {
            total += sum / used;
            used_tasks++;
        }
    }
    return used_tasks ? 100.0 * total / used_tasks : (double)NAN;
}
