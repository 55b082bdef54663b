// Multi-task image models on the CoNAL supernet; see model.h.
#include "vision/model.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "nn/loss_vision.h"
#include "nn/upsample.h"

static const char *const method_names[] = {
    "stl", "hps", "pcgrad", "cagrad", "conal", "conal-pcgrad", "conal-cagrad",
};
#define N_METHODS ((int)(sizeof method_names / sizeof method_names[0]))

const char *vis_method_name(VisMethod method) {
    ASSERT((int)method >= 0 && (int)method < N_METHODS, "vis_method_name: unknown method %d",
           (int)method);
    return method_names[method];
}

int vis_method_parse(const char *name) {
    for (int i = 0; i < N_METHODS; i++) {
        if (strcmp(name, method_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int vis_method_searches(VisMethod method) {
    return method == VIS_METHOD_CONAL || method == VIS_METHOD_CONAL_PCGRAD ||
           method == VIS_METHOD_CONAL_CAGRAD;
}

int vis_model_n_branch_points(const VisModel *model) {
    return model->n_slots + 1;
}

// Adds the conv slots (and the dense layer of image-level tasks) to the spec.
static int build_slots(VisModel *model, const VisArch *arch, int max_rows, char *err,
                       size_t err_sz) {
    int c = model->n_ch, h = model->height, w = model->width;
    int n_blocks = arch->n_enc + (model->dense ? arch->n_dec : 0);
    NnActivation act = arch->tanh_act ? NN_ACT_TANH : NN_ACT_RELU;
    int n_slots = n_blocks + (model->dense ? 0 : 1);
    if (arch->n_enc < 1 || n_slots > CONAL_MAX_SLOTS) {
        return err_set(err, err_sz, ERR_ARG, "arch: %d encoder blocks and %d slots in all; "
                       "need at least 1 encoder block and at most %d slots", arch->n_enc,
                       n_slots, CONAL_MAX_SLOTS);
    }
    for (int i = 0; i < n_blocks; i++) {
        int up = i >= arch->n_enc;
        int f = up ? arch->dec[i - arch->n_enc] : arch->enc[i];
        int rc = vis_conv_block_init(&model->blocks[i], c, h, w, f, arch->kernel,
                                     up ? VIS_RESAMPLE_UP : VIS_RESAMPLE_POOL,
                                     arch->batch_norm, max_rows, err, err_sz);
        if (rc != 0) {
            return rc;
        }
        model->spec.slots[i] = vis_conv_block_module(&model->blocks[i], act);
        c = f;
        h = vis_conv_block_out_h(&model->blocks[i]);
        w = vis_conv_block_out_w(&model->blocks[i]);
    }
    model->n_slots = n_slots;
    model->spec.n_slots = n_slots;
    if (!model->dense) {
        if (arch->hidden < 1) {
            return err_set(err, err_sz, ERR_ARG, "arch.hidden %d must be positive for "
                           "image-level tasks", arch->hidden);
        }
        model->spec.slots[n_blocks] = conal_dense_module(c * h * w, arch->hidden, act);
        model->spec.decoder = conal_dense_module(arch->hidden, model->dec_ch, NN_ACT_NONE);
        model->out_h = model->out_w = 1;
        return 0;
    }
    int rc = vis_conv_block_init(&model->head_block, c, h, w, model->dec_ch, 1,
                                 VIS_RESAMPLE_NONE, 0, model->max_batch, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    model->spec.decoder = vis_conv_block_module(&model->head_block, NN_ACT_NONE);
    model->out_h = h;
    model->out_w = w;
    return 0;
}

// Sets derived/branch and the conflict mode and combine hook of the method.
static void configure_method(VisModel *model, const VisModelOptions *opt) {
    int T = model->n_tasks, P = model->n_slots + 1;
    ConalNetSpec *spec = &model->spec;
    spec->derived = !opt->searching;
    for (int t = 0; t < T; t++) {
        switch (opt->method) {
        case VIS_METHOD_STL:
            spec->branch[t] = 1;
            break;
        case VIS_METHOD_HPS:
        case VIS_METHOD_PCGRAD:
        case VIS_METHOD_CAGRAD:
            spec->branch[t] = P;
            break;
        default:
            spec->branch[t] = opt->branch ? opt->branch[t] : P;
            break;
        }
    }
    model->use_gradmix = !opt->searching &&
                         (opt->method == VIS_METHOD_PCGRAD || opt->method == VIS_METHOD_CAGRAD ||
                          opt->method == VIS_METHOD_CONAL_PCGRAD ||
                          opt->method == VIS_METHOD_CONAL_CAGRAD);
    int pc = opt->method == VIS_METHOD_PCGRAD || opt->method == VIS_METHOD_CONAL_PCGRAD;
    conal_gradmix_init(&model->gradmix, pc ? CONAL_GRADMIX_PCGRAD : CONAL_GRADMIX_CAGRAD,
                       &opt->cagrad, opt->seed ^ 0x9e3779b97f4a7c15ULL);
}

// Allocates the model's own buffers.
static int alloc_buffers(VisModel *model, char *err, size_t err_sz) {
    size_t B = (size_t)model->max_batch, T = (size_t)model->n_tasks;
    size_t img = (size_t)model->n_ch * model->height * model->width;
    size_t area = model->dense ? (size_t)model->height * model->width : 1;
    size_t dec_n = (size_t)model->dec_ch * model->out_h * model->out_w;
    model->x = malloc(sizeof(float) * T * B * img);
    model->dy = malloc(sizeof(float) * T * B * dec_n);
    model->dpred = malloc(sizeof(float) * B * model->dec_ch * area);
    model->dsmall = malloc(sizeof(float) * B * dec_n);
    model->mask = malloc(B * area);
    int ok = model->x && model->dy && model->dpred && model->dsmall && model->mask;
    for (size_t t = 0; t < T; t++) {
        model->pred[t] = malloc(sizeof(float) * B * vis_task_channels(&model->tasks[t]) * area);
        ok &= model->pred[t] != NULL;
    }
    return ok ? 0 : err_set(err, err_sz, ERR_NOMEM, "vision model: out of memory for "
                            "batch %d", model->max_batch);
}

int vis_model_init(VisModel *model, const VisDataset *ds, const VisArch *arch,
                   const VisModelOptions *opt, char *err, size_t err_sz) {
    memset(model, 0, sizeof *model);
    model->n_tasks = ds->n_tasks;
    memcpy(model->tasks, ds->tasks, sizeof ds->tasks);
    model->n_ch = ds->n_ch;
    model->height = ds->height;
    model->width = ds->width;
    model->max_batch = opt->max_batch;
    model->dense = ds->tasks[0].kind != VIS_TASK_CLASS;
    for (int t = 0; t < ds->n_tasks; t++) {
        if ((ds->tasks[t].kind != VIS_TASK_CLASS) != model->dense) {
            return err_set(err, err_sz, ERR_ARG, "%s: mixing image-level and per-pixel tasks "
                           "is not supported (task %s)", ds->name, ds->tasks[t].name);
        }
        int ch = vis_task_channels(&ds->tasks[t]);
        model->dec_ch = ch > model->dec_ch ? ch : model->dec_ch;
    }

    // every slot may see the rows of all tasks or of all branch points
    int P_max = arch->n_enc + arch->n_dec + 2;
    int fan = ds->n_tasks > P_max ? ds->n_tasks : P_max;
    model->spec.n_tasks = ds->n_tasks;
    model->spec.specific = CONAL_PURELY_SPECIFIC;
    model->spec.max_block = opt->max_batch;
    int rc = build_slots(model, arch, fan * opt->max_batch, err, err_sz);
    if (rc == 0) {
        configure_method(model, opt);
        rc = alloc_buffers(model, err, err_sz);
    }
    if (rc == 0) {
        RngState rng;
        rng_init(&rng, opt->seed);
        model->net = conal_net_create(&model->spec, 0, &rng, err, err_sz);
        rc = model->net ? 0 : ERR_ARG;
    }
    if (rc != 0) {
        vis_model_deinit(model);
        return rc;
    }
    int searching = opt->searching;
    model->net->conflict = searching ? CONAL_CONFLICT_NOTICE
                           : (model->use_gradmix || opt->method == VIS_METHOD_HPS)
                               ? CONAL_CONFLICT_MEASURE
                               : CONAL_CONFLICT_OFF;
    if (model->use_gradmix) {
        model->net->combine = conal_gradmix_hook;
        model->net->combine_ctx = &model->gradmix;
    }
    return 0;
}

void vis_model_deinit(VisModel *model) {
    conal_net_destroy(model->net);
    for (int i = 0; i < CONAL_MAX_SLOTS; i++) {
        vis_conv_block_deinit(&model->blocks[i]);
    }
    vis_conv_block_deinit(&model->head_block);
    free(model->x);
    free(model->dy);
    free(model->dpred);
    free(model->dsmall);
    free(model->mask);
    for (int t = 0; t < VIS_MAX_TASKS; t++) {
        free(model->pred[t]);
    }
    memset(model, 0, sizeof *model);
}

void vis_model_set_training(VisModel *model, int training) {
    for (int i = 0; i < model->n_slots; i++) {
        model->blocks[i].training = training;
    }
    model->head_block.training = training;
}

void vis_model_forward(VisModel *model, const float *images, int B) {
    ASSERT(B > 0 && B <= model->max_batch, "vis_model_forward: batch %d not in [1, %d]", B,
           model->max_batch);
    int T = model->n_tasks;
    size_t img = (size_t)model->n_ch * model->height * model->width;
    size_t out_area = (size_t)model->out_h * model->out_w;
    size_t dec_n = (size_t)model->dec_ch * out_area;
    for (int t = 0; t < T; t++) {
        memcpy(model->x + (size_t)t * B * img, images, sizeof(float) * B * img);
    }
    const float *y = conal_net_forward(model->net, model->x, B, 0);

    // task t reads the first channels of its block of decoder rows
    for (int t = 0; t < T; t++) {
        int ch = vis_task_channels(&model->tasks[t]);
        for (int b = 0; b < B; b++) {
            const float *row = y + ((size_t)t * B + b) * dec_n;
            if (!model->dense) {
                memcpy(model->pred[t] + (size_t)b * ch, row, sizeof(float) * ch);
                continue;
            }
            size_t area = (size_t)model->height * model->width;
            nn_upsample_bilinear_forward(row, model->pred[t] + (size_t)b * ch * area, 1, ch,
                                         model->out_h, model->out_w, model->height,
                                         model->width);
        }
    }
}

// Loss of task t and its gradient at the prediction (into model->dpred).
static double task_loss(VisModel *model, const VisBatch *batch, int t, float scale) {
    const VisTask *task = &model->tasks[t];
    int B = batch->n;
    long area = model->dense ? (long)model->height * model->width : 1;
    switch (task->kind) {
    case VIS_TASK_CLASS:
    case VIS_TASK_SEG:
        return nn_softmax_xent_forward_backward(model->pred[t], batch->labels[t], B,
                                                task->n_classes, area, VIS_IGNORE_LABEL, scale,
                                                model->dpred, NULL);
    case VIS_TASK_DEPTH:
        for (long i = 0; i < B * area; i++) {
            model->mask[i] = batch->targets[t][i] > 0.0f;
        }
        return nn_l1_forward_backward(model->pred[t], batch->targets[t], model->mask,
                                      (size_t)(B * area), scale, model->dpred, NULL);
    case VIS_TASK_NORMAL:
        return nn_cosine_forward_backward(model->pred[t], batch->targets[t], B, area, scale,
                                          model->dpred, NULL);
    default:
        ASSERT(0, "task_loss: unknown task kind %d", (int)task->kind);
    }
}

double vis_model_backward(VisModel *model, const VisBatch *batch, const float *weights,
                          int flags, double *losses) {
    int T = model->n_tasks, B = batch->n;
    size_t out_area = (size_t)model->out_h * model->out_w;
    size_t dec_n = (size_t)model->dec_ch * out_area;
    memset(model->dy, 0, sizeof(float) * (size_t)T * B * dec_n);
    double total = 0.0;
    for (int t = 0; t < T; t++) {
        float w = weights ? weights[t] : 1.0f;
        double loss = task_loss(model, batch, t, w);
        losses[t] = loss;
        total += (double)w * loss;

        // the prediction gradient goes back through the resize into block t
        int ch = vis_task_channels(&model->tasks[t]);
        size_t area = model->dense ? (size_t)model->height * model->width : 1;
        for (int b = 0; b < B; b++) {
            float *row = model->dy + ((size_t)t * B + b) * dec_n;
            const float *g = model->dpred + (size_t)b * ch * area;
            if (!model->dense) {
                memcpy(row, g, sizeof(float) * ch);
                continue;
            }
            nn_upsample_bilinear_backward(g, row, 1, ch, model->out_h, model->out_w,
                                          model->height, model->width);
        }
    }
    conal_net_backward(model->net, model->dy, NULL, B, flags);
    return total;
}
