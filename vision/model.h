// Multi-task image models on the CoNAL supernet, and how each method uses it.
//
// Dimension letters: B images per batch, T tasks, C x H x W images and label
// maps, D decoder channels (the largest task's), Ho x Wo the decoder's map.
// Every method runs on one ConalNet. Its slots are conv blocks (plus a
// dense layer for image-level tasks) and its decoder is a per-task head.
//   stl     derived, every task branches at 1: T separate networks
//   hps     derived, every task branches at P: one trunk, one head per task
//   pcgrad, cagrad   hps with the shared gradients combined by conal/gradmix
//   conal   search supernet with conflict noticing, then a derived network
//   conal-pcgrad, conal-cagrad   the derived network retrained with gradmix
// The supernet takes task-blocked batches (T blocks of B rows), so the model
// copies the B images into every task's block and routes task t's loss
// gradient into block t only. Shared slots therefore run over T*B rows.
// The decoder has D output channels for every task; task t reads its first
// channels (classes, 1 for depth, 3 for normals), and the unused channels get
// zero gradient. Dense predictions are resized bilinearly from Ho x Wo to
// H x W before the loss.
#ifndef VISION_MODEL_H
#define VISION_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "conal/gradmix.h"
#include "conal/supernet.h"
#include "vision/block.h"
#include "vision/dataset.h"

typedef enum VisMethod {
    VIS_METHOD_STL = 0,
    VIS_METHOD_HPS,
    VIS_METHOD_PCGRAD,
    VIS_METHOD_CAGRAD,
    VIS_METHOD_CONAL,
    VIS_METHOD_CONAL_PCGRAD,
    VIS_METHOD_CONAL_CAGRAD,
} VisMethod;

// Config spelling of a method, and the reverse (-1 when unknown).
const char *vis_method_name(VisMethod method);
int vis_method_parse(const char *name);

// 1 for the methods that search branch points before retraining.
int vis_method_searches(VisMethod method);

#define VIS_MAX_BLOCKS 6

typedef struct VisArch {
    int kernel;                   // conv kernel size (odd)
    int n_enc;                    // encoder blocks: conv, ReLU, 2x2 max pool
    int enc[VIS_MAX_BLOCKS];      // their filters
    int n_dec;                    // decoder blocks (dense tasks): x2 upsample, conv, ReLU
    int dec[VIS_MAX_BLOCKS];      // their filters
    int hidden;                   // image-level tasks: dense ReLU layer after flattening
    int batch_norm;               // 1: batch norm between each block's conv and ReLU
    int tanh_act;                 // 1: tanh in place of every ReLU, a smooth loss for
                                  // finite-difference checks (configs keep ReLU)
} VisArch;

typedef struct VisModel {
    int n_tasks;                                 // T
    VisTask tasks[VIS_MAX_TASKS];
    int n_ch, height, width;                     // C, H, W
    int dense;                                   // 1 for per-pixel tasks
    int max_batch;                               // B at most
    int n_slots;                                 // P - 1
    VisConvBlock blocks[CONAL_MAX_SLOTS];        // conv slot descriptions
    VisConvBlock head_block;                     // dense tasks: 1x1 conv decoder
    int dec_ch, out_h, out_w;                    // D, Ho, Wo
    ConalNetSpec spec;
    ConalNet *net;
    ConalGradMix gradmix;
    int use_gradmix;
    float *x;                                    // (T*B x C*H*W) replicated images
    float *dy;                                   // (T*B x D*Ho*Wo) decoder gradient
    float *pred[VIS_MAX_TASKS];                  // (B x ch_t x H x W), or (B x ch_t)
    float *dpred;                                // (B x D x H x W) loss gradient scratch
    float *dsmall;                               // (B x D x Ho x Wo) resize gradient
    uint8_t *mask;                               // (B x H x W) known depth pixels
} VisModel;

// Settings of one model build.
typedef struct VisModelOptions {
    VisMethod method;
    int searching;                 // 1: search supernet (conal methods, first stage)
    const int *branch;             // derived conal: branch point per task (1..P)
    int max_batch;
    ConalCagradConfig cagrad;
    uint64_t seed;                 // weight init and PCGrad orders
} VisModelOptions;

// Builds the slots from arch for the dataset's shape and tasks, then the
// network for the method. Returns 0, or ERR_ARG / ERR_NOMEM with a message.
int vis_model_init(VisModel *model, const VisDataset *ds, const VisArch *arch,
                   const VisModelOptions *opt, char *err, size_t err_sz);
void vis_model_deinit(VisModel *model);

// Branch points P = slots + 1.
int vis_model_n_branch_points(const VisModel *model);

// Sets training mode (1: batch statistics of batch norm, and the conv blocks
// keep what backward needs) or evaluation mode (0: running statistics, no
// backward) on every conv block. A model starts in training mode.
void vis_model_set_training(VisModel *model, int training);

// Runs the forward pass over B images (B x C x H x W) and fills pred[t] for
// every task.
void vis_model_forward(VisModel *model, const float *images, int B);

// Computes each task's loss of the last forward against the batch into
// losses[t], then runs the backward pass of sum_t weights[t] losses[t]
// (weights NULL: all 1) with the given CONAL_GRAD_* flags. Returns that sum.
double vis_model_backward(VisModel *model, const VisBatch *batch, const float *weights,
                          int flags, double *losses);

#endif
