// Metrics: known values per task kind, and Delta_I.
#include "vision/metrics.h"

#include "tests/check.h"

static void accumulate(VisMetricAcc *acc, const VisTask *task) {
    char err[128];
    CHECK_EQ_INT(0, vis_metric_acc_init(acc, task, err, sizeof err));
}

static void classification_accuracy(void) {
    VisTask task = {"c", VIS_TASK_CLASS, 3};
    VisMetricAcc acc;
    accumulate(&acc, &task);
    float logits[4 * 3] = {1, 0, 0,  0, 2, 1,  0, 0, 3,  5, 4, 0};
    int32_t labels[4] = {0, 2, 2, 1};
    vis_metric_acc_update(&acc, logits, labels, NULL, 4, 1);
    VisTaskMetrics m;
    vis_metric_acc_result(&acc, &m);
    CHECK_EQ_INT(1, m.n);
    CHECK(strcmp(m.names[0], "acc") == 0);
    CHECK_NEAR(0.5, m.values[0], 1e-12);
    CHECK_EQ_INT(0, m.lower_is_better[0]);
    vis_metric_acc_reset(&acc);
    vis_metric_acc_update(&acc, logits, labels, NULL, 1, 1);
    vis_metric_acc_result(&acc, &m);
    CHECK_NEAR(1.0, m.values[0], 1e-12);
    vis_metric_acc_deinit(&acc);
}

// One image of four pixels, two classes, one pixel unlabelled:
// labels 0 0 1 -, predictions 0 1 1 0. IoU(0) = 1/2, IoU(1) = 1/2.
static void segmentation_miou(void) {
    VisTask task = {"s", VIS_TASK_SEG, 2};
    VisMetricAcc acc;
    accumulate(&acc, &task);
    float logits[2 * 4] = {1, 0, 0, 1,   0, 1, 1, 0};
    int32_t labels[4] = {0, 0, 1, VIS_IGNORE_LABEL};
    vis_metric_acc_update(&acc, logits, labels, NULL, 1, 4);
    VisTaskMetrics m;
    vis_metric_acc_result(&acc, &m);
    CHECK_EQ_INT(2, m.n);
    CHECK_NEAR(0.5, m.values[0], 1e-12);
    CHECK_NEAR(2.0 / 3.0, m.values[1], 1e-12);
    vis_metric_acc_deinit(&acc);
}

static void depth_errors_skip_unknown(void) {
    VisTask task = {"d", VIS_TASK_DEPTH, 0};
    VisMetricAcc acc;
    accumulate(&acc, &task);
    float pred[3] = {1.5f, 3.0f, 9.0f}, gt[3] = {1.0f, 4.0f, 0.0f};
    vis_metric_acc_update(&acc, pred, NULL, gt, 1, 3);
    VisTaskMetrics m;
    vis_metric_acc_result(&acc, &m);
    CHECK_NEAR(0.75, m.values[0], 1e-6);                  // (0.5 + 1) / 2
    CHECK_NEAR((0.5 + 0.25) / 2.0, m.values[1], 1e-6);    // (0.5/1 + 1/4) / 2
    CHECK_EQ_INT(1, m.lower_is_better[0]);
    CHECK_EQ_INT(1, m.lower_is_better[1]);
    vis_metric_acc_deinit(&acc);
}

// Without one labelled pixel the metrics are undefined (NaN), not a
// perfect score, and Delta_I leaves them out.
static void no_labelled_pixel_gives_nan(void) {
    VisTask depth = {"d", VIS_TASK_DEPTH, 0}, seg = {"s", VIS_TASK_SEG, 3};
    VisMetricAcc acc;
    accumulate(&acc, &depth);
    float pred[2] = {1.0f, 2.0f}, gt[2] = {0.0f, -1.0f};
    vis_metric_acc_update(&acc, pred, NULL, gt, 1, 2);
    VisTaskMetrics m;
    vis_metric_acc_result(&acc, &m);
    CHECK(isnan(m.values[0]));
    CHECK(isnan(m.values[1]));
    vis_metric_acc_deinit(&acc);

    accumulate(&acc, &seg);
    float logits[3] = {1.0f, 0.0f, 0.0f};
    int32_t labels[1] = {VIS_IGNORE_LABEL};
    vis_metric_acc_update(&acc, logits, labels, NULL, 1, 1);
    VisTaskMetrics s;
    vis_metric_acc_result(&acc, &s);
    CHECK(isnan(s.values[0]));
    CHECK(isnan(s.values[1]));
    vis_metric_acc_deinit(&acc);

    VisTaskMetrics stl = m;
    stl.values[0] = stl.values[1] = 2.0;
    CHECK(isnan(vis_delta_i(&m, &stl, 1)));
}

// Pixels at 0, 20 and 90 degrees from their ground truth, plus one unknown.
static void normal_angles(void) {
    VisTask task = {"n", VIS_TASK_NORMAL, 0};
    VisMetricAcc acc;
    accumulate(&acc, &task);
    double a = 20.0 * 3.14159265358979 / 180.0;
    // channels x, y, z of four pixels; the prediction is not unit length
    float pred[12] = {2, (float)cos(a), 0, 5,   0, (float)sin(a), 0, 0,   0, 0, 3, 0};
    float gt[12] = {1, 1, 1, 0,   0, 0, 0, 0,   0, 0, 0, 0};
    vis_metric_acc_update(&acc, pred, NULL, gt, 1, 4);
    VisTaskMetrics m;
    vis_metric_acc_result(&acc, &m);
    CHECK_EQ_INT(5, m.n);
    CHECK_NEAR(110.0 / 3.0, m.values[0], 1e-3);
    CHECK_NEAR(20.0, m.values[1], 0.01);
    CHECK_NEAR(100.0 / 3.0, m.values[2], 1e-9);   // within 11.25
    CHECK_NEAR(200.0 / 3.0, m.values[3], 1e-9);   // within 22.5
    CHECK_NEAR(200.0 / 3.0, m.values[4], 1e-9);   // within 30
    vis_metric_acc_deinit(&acc);
}

// Task 0 accuracy 0.9 vs STL 0.8 (+12.5%); task 1 errors 2 and 4 vs 4 and 4
// (+50% and 0%, mean +25%). Delta_I = (12.5 + 25) / 2.
static void delta_i_signs_and_mean(void) {
    VisTaskMetrics m[2], stl[2];
    memset(m, 0, sizeof m);
    memset(stl, 0, sizeof stl);
    m[0].n = stl[0].n = 1;
    m[0].values[0] = 0.9;
    stl[0].values[0] = 0.8;
    m[1].n = stl[1].n = 2;
    m[1].lower_is_better[0] = m[1].lower_is_better[1] = 1;
    stl[1].lower_is_better[0] = stl[1].lower_is_better[1] = 1;
    m[1].values[0] = 2.0;
    m[1].values[1] = 4.0;
    stl[1].values[0] = 4.0;
    stl[1].values[1] = 4.0;
    CHECK_NEAR(18.75, vis_delta_i(m, stl, 2), 1e-9);
    CHECK_NEAR(0.0, vis_delta_i(stl, stl, 2), 1e-12);
    stl[0].values[0] = 0.0;   // undefined ratio: the metric is skipped
    CHECK_NEAR(25.0, vis_delta_i(m, stl, 2), 1e-9);
}

int main(void) {
    RUN_TEST(classification_accuracy);
    RUN_TEST(segmentation_miou);
    RUN_TEST(depth_errors_skip_unknown);
    RUN_TEST(no_labelled_pixel_gives_nan);
    RUN_TEST(normal_angles);
    RUN_TEST(delta_i_signs_and_mean);
    return check_summary();
}
