// Vision models on the supernet: end-to-end gradients of the weighted task
// losses with respect to weights and architecture weights, per method.
#include "vision/model.h"

#include <stdlib.h>

#include "common/error.h"
#include "common/rng.h"
#include "nn/checkpoint.h"
#include "tests/check.h"

enum { B = 3, HW = 8 };

// A small dataset of B random images: either two classification tasks with
// 3 and 5 classes, or segmentation (3 classes), depth and normals.
static void make_dataset(VisDataset *ds, int dense, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "synthetic");
    ds->n_ch = 2;
    ds->height = ds->width = HW;
    if (dense) {
        ds->n_tasks = 3;
        ds->tasks[0] = (VisTask){"seg", VIS_TASK_SEG, 3};
        ds->tasks[1] = (VisTask){"depth", VIS_TASK_DEPTH, 0};
        ds->tasks[2] = (VisTask){"normal", VIS_TASK_NORMAL, 0};
    } else {
        ds->n_tasks = 2;
        ds->tasks[0] = (VisTask){"a", VIS_TASK_CLASS, 3};
        ds->tasks[1] = (VisTask){"b", VIS_TASK_CLASS, 5};
    }
    char err[256];
    CHECK_EQ_INT(0, vis_split_alloc(ds, &ds->train, B, err, sizeof err));
    RngState rng;
    rng_init(&rng, seed);
    long area = HW * HW;
    for (long i = 0; i < (long)B * 2 * area; i++) {
        ds->train.images[i] = (float)rng_normal(&rng);
    }
    for (int t = 0; t < ds->n_tasks; t++) {
        const VisTask *task = &ds->tasks[t];
        long n = task->kind == VIS_TASK_CLASS ? B : (long)B * area;
        for (long i = 0; task->kind <= VIS_TASK_SEG && i < n; i++) {
            // a few unlabelled pixels exercise the ignore label
            int skip = task->kind == VIS_TASK_SEG && rng_below(&rng, 8) == 0;
            ds->train.labels[t][i] =
                skip ? VIS_IGNORE_LABEL : (int32_t)rng_below(&rng, (uint64_t)task->n_classes);
        }
        for (long i = 0; task->kind == VIS_TASK_DEPTH && i < n; i++) {
            ds->train.targets[t][i] = rng_below(&rng, 8) ? 1.0f + (float)rng_uniform(&rng) : 0;
        }
        for (long i = 0; task->kind == VIS_TASK_NORMAL && i < n; i++) {
            float *nv = ds->train.targets[t] + (i / area) * 3 * area + i % area;
            float a = (float)rng_normal(&rng), b = (float)rng_normal(&rng);
            float c = (float)rng_normal(&rng), len = sqrtf(a * a + b * b + c * c);
            nv[0] = a / len;
            nv[area] = b / len;
            nv[2 * area] = c / len;
        }
    }
}

typedef struct ModelFixture {
    VisDataset ds;
    VisBatch batch;
    VisModel model;
    float weights[VIS_MAX_TASKS];
} ModelFixture;

static double total_loss(ModelFixture *fx, int flags) {
    double losses[VIS_MAX_TASKS];
    vis_model_forward(&fx->model, fx->batch.images, B);
    conal_net_zero_grad(fx->model.net);
    return vis_model_backward(&fx->model, &fx->batch, fx->weights, flags, losses);
}

// Compares analytic and central-difference gradients on every stride-th
// float of x. ReLU and max pooling make the loss piecewise smooth, and a
// step that crosses a kink gives a wrong difference, so at most 5% of the
// sampled floats may miss the tolerance.
static void check_sampled(ModelFixture *fx, const char *what, float *x, const float *g,
                          size_t n, size_t stride, int flags) {
    float *analytic = malloc(sizeof(float) * n);
    memcpy(analytic, g, sizeof(float) * n);
    int checked = 0, bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i += stride) {
        float keep = x[i], h = 1e-3f;
        x[i] = keep + h;
        double up = total_loss(fx, flags);
        x[i] = keep - h;
        double down = total_loss(fx, flags);
        x[i] = keep;
        double num = (up - down) / (2.0 * (double)h);
        double den = fmax(fabs(num) + fabs((double)analytic[i]), 1e-2);
        double err = fabs(num - (double)analytic[i]) / den;
        worst = fmax(worst, err);
        checked++;
        bad += err > 2e-2;
    }
    fprintf(stderr, "  %s: %d sampled, %d over 2e-2, max rel err %.3g\n", what, checked, bad,
            worst);
    CHECK(checked >= 20 || checked == (int)((n + stride - 1) / stride));
    CHECK_MSG(bad * 20 <= checked, "%s: %d of %d sampled gradients off", what, bad, checked);
    free(analytic);
}

// batch_norm: 0 none, 1 with ReLU, 2 with tanh.
static int fixture_init(ModelFixture *fx, int dense, VisMethod method, int searching,
                        int batch_norm) {
    make_dataset(&fx->ds, dense, 100 + (uint64_t)dense);
    char err[512];
    CHECK_EQ_INT(0, vis_batch_init(&fx->ds, &fx->batch, B, err, sizeof err));
    int idx[B] = {0, 1, 2};
    vis_batch_gather(&fx->ds, &fx->ds.train, idx, B, &fx->batch);
    // batch norm centres the pre-activations on the ReLU kink, so a weight
    // step crosses it too often for the search supernet's many units: the
    // search with batch norm is checked with tanh (batch_norm 2)
    VisArch arch = {3, 2, {4, 4}, 1, {3}, 8, batch_norm != 0, batch_norm == 2};
    VisModelOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.method = method;
    opt.searching = searching;
    opt.max_batch = B;
    opt.cagrad = conal_cagrad_defaults();
    opt.seed = 5;
    int rc = vis_model_init(&fx->model, &fx->ds, &arch, &opt, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    for (int t = 0; t < fx->ds.n_tasks; t++) {
        fx->weights[t] = 0.5f + 0.25f * (float)t;
    }
    return rc;
}

static void fixture_deinit(ModelFixture *fx) {
    vis_model_deinit(&fx->model);
    vis_batch_deinit(&fx->batch);
    vis_dataset_deinit(&fx->ds);
}

static void run_case(int dense, VisMethod method, int searching, int batch_norm) {
    ModelFixture fx;
    fprintf(stderr, "  %s %s%s%s%s\n", dense ? "dense" : "class", vis_method_name(method),
            searching ? " (search)" : "", batch_norm ? " batch norm" : "",
            batch_norm == 2 ? " tanh" : "");
    if (fixture_init(&fx, dense, method, searching, batch_norm) != 0) {
        return;
    }
    int flags = CONAL_GRAD_WEIGHTS | (searching ? CONAL_GRAD_ALPHA : 0);
    ConalNet *net = fx.model.net;
    total_loss(&fx, flags);
    size_t n = net->params.n;
    check_sampled(&fx, "weights", net->params.w, net->params.g, n, n / 60 + 1, flags);
    if (searching) {
        total_loss(&fx, flags);
        check_sampled(&fx, "alpha", net->alpha.w, net->alpha.g, net->alpha.n, 1, flags);
    }
    fixture_deinit(&fx);
}

// Batch norm in every encoder and decoder block, in training mode.
static void batch_norm_gradients(void) {
    run_case(0, VIS_METHOD_HPS, 0, 1);
    run_case(0, VIS_METHOD_STL, 0, 1);
    run_case(0, VIS_METHOD_PCGRAD, 0, 1);
    run_case(1, VIS_METHOD_HPS, 0, 1);
    run_case(1, VIS_METHOD_STL, 0, 1);
    run_case(0, VIS_METHOD_CONAL, 1, 2);
    run_case(1, VIS_METHOD_CONAL, 1, 2);
}

// Evaluation-mode predictions of task 0 into out (n floats).
static void eval_predictions(ModelFixture *fx, float *out, size_t n) {
    vis_model_set_training(&fx->model, 0);
    vis_model_forward(&fx->model, fx->batch.images, B);
    vis_model_set_training(&fx->model, 1);
    memcpy(out, fx->model.pred[0], sizeof(float) * n);
}

// The running statistics of batch norm live in the parameter block, so a
// checkpoint of the weights carries them. After training steps, a copy
// loaded from the file predicts exactly as the original in evaluation mode.
// A fresh model, with the initial statistics, does not.
static void batch_norm_stats_survive_checkpoint(void) {
    ModelFixture a, b;
    if (fixture_init(&a, 0, VIS_METHOD_HPS, 0, 1) != 0 ||
        fixture_init(&b, 0, VIS_METHOD_HPS, 0, 1) != 0) {
        return;
    }
    NnAdamConfig adam = nn_adam_defaults();
    for (int i = 0; i < 3; i++) {
        total_loss(&a, CONAL_GRAD_WEIGHTS);
        conal_net_step(a.model.net, &adam);
    }
    size_t n_pred = (size_t)B * vis_task_channels(&a.ds.tasks[0]);
    float pa[64], pb[64], fresh[64];
    eval_predictions(&a, pa, n_pred);
    eval_predictions(&b, fresh, n_pred);

    char dir[256], path[300], err[256];
    check_tmpdir(dir, sizeof dir, "vismodel");
    snprintf(path, sizeof path, "%s/w.bin", dir);
    size_t bytes = a.model.net->params.n * sizeof(float);
    NnCkptWriter w;
    CHECK_EQ_INT(0, nn_ckpt_writer_open(&w, path, err, sizeof err));
    CHECK_EQ_INT(0, nn_ckpt_write(&w, "w", a.model.net->params.w, bytes, err, sizeof err));
    CHECK_EQ_INT(0, nn_ckpt_writer_commit(&w, err, sizeof err));
    NnCkpt ck;
    CHECK_EQ_INT(0, nn_ckpt_load(&ck, path, err, sizeof err));
    CHECK_EQ_INT(0, nn_ckpt_read(&ck, "w", b.model.net->params.w, bytes, err, sizeof err));
    nn_ckpt_unload(&ck);
    eval_predictions(&b, pb, n_pred);

    CHECK(memcmp(pa, pb, sizeof(float) * n_pred) == 0);
    CHECK(memcmp(pa, fresh, sizeof(float) * n_pred) != 0);
    check_rmtree(dir);
    fixture_deinit(&a);
    fixture_deinit(&b);
}

static void class_tasks_gradients(void) {
    run_case(0, VIS_METHOD_HPS, 0, 0);
    run_case(0, VIS_METHOD_STL, 0, 0);
    run_case(0, VIS_METHOD_CONAL, 1, 0);
}

static void dense_tasks_gradients(void) {
    run_case(1, VIS_METHOD_HPS, 0, 0);
    run_case(1, VIS_METHOD_CONAL, 1, 0);
}

// Task t reads the first channels of the decoder rows of its own block.
static void predictions_have_task_shapes(void) {
    ModelFixture fx;
    if (fixture_init(&fx, 1, VIS_METHOD_HPS, 0, 0) != 0) {
        return;
    }
    CHECK_EQ_INT(3, fx.model.dec_ch);
    CHECK_EQ_INT(4, fx.model.out_h);
    CHECK_EQ_INT(3, fx.model.n_slots);   // two encoder blocks, one decoder block
    vis_model_forward(&fx.model, fx.batch.images, B);
    int finite = 1;
    for (int t = 0; t < 3; t++) {
        finite &= nn_all_finite(fx.model.pred[t],
                                (size_t)B * vis_task_channels(&fx.ds.tasks[t]) * HW * HW);
    }
    CHECK(finite);
    fixture_deinit(&fx);
}

static void rejects_mixed_task_kinds(void) {
    VisDataset ds;
    make_dataset(&ds, 0, 1);
    ds.tasks[1] = (VisTask){"depth", VIS_TASK_DEPTH, 0};
    VisArch arch = {3, 1, {4}, 0, {0}, 8, 0, 0};
    VisModelOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.method = VIS_METHOD_HPS;
    opt.max_batch = B;
    VisModel model;
    char err[256] = "";
    CHECK_EQ_INT(ERR_ARG, vis_model_init(&model, &ds, &arch, &opt, err, sizeof err));
    CHECK_STR_CONTAINS(err, "mixing image-level and per-pixel tasks");
    vis_dataset_deinit(&ds);
}

int main(void) {
    RUN_TEST(predictions_have_task_shapes);
    RUN_TEST(rejects_mixed_task_kinds);
    RUN_TEST(class_tasks_gradients);
    RUN_TEST(dense_tasks_gradients);
    RUN_TEST(batch_norm_gradients);
    RUN_TEST(batch_norm_stats_survive_checkpoint);
    return check_summary();
}
