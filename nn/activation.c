// Element-wise activations: identity, ReLU and tanh, with backward passes
// written in terms of the forward output so no pre-activation is kept.
#include "nn/activation.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "nn/gemm.h"

const char *nn_activation_name(NnActivation act) {
    switch (act) {
    case NN_ACT_NONE: return "none";
    case NN_ACT_RELU: return "relu";
    case NN_ACT_TANH: return "tanh";
    default: return "invalid";
    }
}

int nn_activation_parse(const char *name) {
    if (!name) {
        return -1;
    }
    if (strcmp(name, "none") == 0) {
        return NN_ACT_NONE;
    }
    if (strcmp(name, "relu") == 0) {
        return NN_ACT_RELU;
    }
    if (strcmp(name, "tanh") == 0) {
        return NN_ACT_TANH;
    }
    return -1;
}

typedef struct ActPass {
    NnActivation act;
    const float *x, *y, *dy;
    float *out;
} ActPass;

static void forward_range(NnActivation act, const float *x, float *y, size_t n) {
    switch (act) {
    case NN_ACT_NONE:
        if (x != y) {
            memmove(y, x, n * sizeof *y);
        }
        return;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        }
        return;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            y[i] = tanhf(x[i]);
        }
        return;
    default:
        ASSERT(0, "invalid activation %d", (int)act);
    }
}

static void backward_range(NnActivation act, const float *y, const float *dy, float *dx,
                           size_t n) {
    switch (act) {
    case NN_ACT_NONE:
        if (dx != dy) {
            memmove(dx, dy, n * sizeof *dx);
        }
        return;
    case NN_ACT_RELU:
        // the subgradient at 0 is taken as 0, as PyTorch does. Loading dy[i]
        // before the select lets GCC vectorise the loop with a blend.
        for (size_t i = 0; i < n; i++) {
            float d = dy[i];
            dx[i] = y[i] > 0.0f ? d : 0.0f;
        }
        return;
    case NN_ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        }
        return;
    default:
        ASSERT(0, "invalid activation %d", (int)act);
    }
}

static void forward_item(void *ctx, size_t lo, size_t hi) {
    const ActPass *p = ctx;
    forward_range(p->act, p->x + lo, p->out + lo, hi - lo);
}

static void backward_item(void *ctx, size_t lo, size_t hi) {
    const ActPass *p = ctx;
    backward_range(p->act, p->y + lo, p->dy + lo, p->out + lo, hi - lo);
}

void nn_activation_forward(NnActivation act, const float *x, float *y, size_t n) {
    if (act == NN_ACT_NONE) {
        forward_range(act, x, y, n);
        return;
    }
    ActPass p = {.act = act, .x = x, .out = y};
    nn_parallel_ranges(forward_item, &p, n, n);
}

void nn_activation_backward(NnActivation act, const float *y, const float *dy, float *dx,
                            size_t n) {
    if (act == NN_ACT_NONE) {
        backward_range(act, y, dy, dx, n);
        return;
    }
    ActPass p = {.act = act, .y = y, .dy = dy, .out = dx};
    nn_parallel_ranges(backward_item, &p, n, n);
}
