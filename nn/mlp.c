// Multi-layer perceptron over one parameter block and one gradient block.
//
// Each layer is an NnLinear view into the blocks. The activations of the
// last forward call and two backward scratch buffers live in one workspace
// allocated at create time, so forward and backward never allocate.
#include "nn/mlp.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

// 1 when sizes describes 1..NN_MLP_MAX_LAYERS layers of positive widths;
// otherwise logs which value is wrong and returns 0.
static int sizes_valid(const int *sizes, int n_sizes) {
    if (!sizes || n_sizes < 2 || n_sizes > NN_MLP_MAX_LAYERS + 1) {
        log_error("nn_mlp: %d layer sizes given, expected 2 to %d", n_sizes,
                  NN_MLP_MAX_LAYERS + 1);
        return 0;
    }
    for (int l = 0; l < n_sizes; l++) {
        if (sizes[l] <= 0) {
            log_error("nn_mlp: layer size %d at index %d must be positive", sizes[l], l);
            return 0;
        }
    }
    return 1;
}

size_t nn_mlp_count_params(const int *sizes, int n_sizes) {
    ASSERT(sizes_valid(sizes, n_sizes), "invalid MLP sizes");
    size_t n = 0;
    for (int l = 0; l + 1 < n_sizes; l++) {
        n += nn_linear_n_params(sizes[l], sizes[l + 1]);
    }
    return n;
}

// Points every layer into the blocks and checks that the views tile the
// parameter block exactly, with no gap or overlap.
static void bind_layers(NnMlp *mlp) {
    size_t offset = 0;
    for (int l = 0; l < mlp->n_layers; l++) {
        float *grads = mlp->grads ? mlp->grads + offset : NULL;
        nn_linear_bind(&mlp->layers[l], mlp->sizes[l], mlp->sizes[l + 1],
                       mlp->params + offset, grads);
        offset += nn_linear_n_params(mlp->sizes[l], mlp->sizes[l + 1]);
    }
    const NnLinear *last = &mlp->layers[mlp->n_layers - 1];
    ASSERT(offset == mlp->n_params, "layer views cover %zu floats, block has %zu", offset,
           mlp->n_params);
    ASSERT(last->b + last->n_out == mlp->params + mlp->n_params,
           "last bias does not end at the end of the parameter block");
}

// Allocates the activation cache and the backward scratch in one buffer.
static int alloc_workspace(NnMlp *mlp) {
    size_t rows = (size_t)mlp->max_batch;
    size_t max_width = 0, total = 0;
    for (int l = 0; l <= mlp->n_layers; l++) {
        total += rows * (size_t)mlp->sizes[l];
        if ((size_t)mlp->sizes[l] > max_width) {
            max_width = (size_t)mlp->sizes[l];
        }
    }
    total += 2 * rows * max_width;
    mlp->workspace = malloc(total * sizeof(float));
    if (!mlp->workspace) {
        log_error("nn_mlp: out of memory allocating a %zu-float workspace", total);
        return 0;
    }

    float *p = mlp->workspace;
    for (int l = 0; l <= mlp->n_layers; l++) {
        mlp->acts[l] = p;
        p += rows * (size_t)mlp->sizes[l];
    }
    mlp->dtmp[0] = p;
    mlp->dtmp[1] = p + rows * max_width;
    return 1;
}

NnMlp *nn_mlp_create(const int *sizes, int n_sizes, NnActivation hidden_act,
                     NnActivation out_act, int max_batch, float *params, float *grads) {
    if (!sizes_valid(sizes, n_sizes)) {
        return NULL;
    }
    if (max_batch <= 0) {
        log_error("nn_mlp: max_batch %d must be positive", max_batch);
        return NULL;
    }
    if (!params && grads) {
        log_error("nn_mlp: a gradient block was given without a parameter block");
        return NULL;
    }
    NnMlp *mlp = calloc(1, sizeof *mlp);
    if (!mlp) {
        return NULL;
    }
    mlp->n_layers = n_sizes - 1;
    memcpy(mlp->sizes, sizes, (size_t)n_sizes * sizeof *sizes);
    mlp->hidden_act = hidden_act;
    mlp->out_act = out_act;
    mlp->max_batch = max_batch;
    mlp->n_params = nn_mlp_count_params(sizes, n_sizes);

    // own both blocks, or borrow the caller's (grads may be NULL for a
    // network that is only ever run forward, such as a target copy)
    if (params) {
        mlp->params = params;
        mlp->grads = grads;
        mlp->borrowed = 1;
    } else {
        mlp->params = calloc(2 * mlp->n_params, sizeof(float));
        if (!mlp->params) {
            log_error("nn_mlp: out of memory allocating %zu parameters", mlp->n_params);
            free(mlp);
            return NULL;
        }
        mlp->grads = mlp->params + mlp->n_params;
    }
    bind_layers(mlp);
    if (!alloc_workspace(mlp)) {
        nn_mlp_destroy(mlp);
        return NULL;
    }
    return mlp;
}

void nn_mlp_destroy(NnMlp *mlp) {
    if (!mlp) {
        return;
    }
    if (!mlp->borrowed) {
        free(mlp->params);  // the gradient block shares this allocation
    }
    free(mlp->workspace);
    free(mlp);
}

void nn_mlp_init(NnMlp *mlp, RngState *rng) {
    for (int l = 0; l < mlp->n_layers; l++) {
        nn_linear_init(&mlp->layers[l], rng);
    }
}

const float *nn_mlp_forward(NnMlp *mlp, const float *x, int B) {
    ASSERT(B > 0 && B <= mlp->max_batch, "batch %d outside 1..%d", B, mlp->max_batch);

    // keep a copy of the input, because backward needs it after the caller
    // reuses x (memmove: x may be the cached input itself)
    memmove(mlp->acts[0], x, (size_t)B * (size_t)mlp->sizes[0] * sizeof *x);
    for (int l = 0; l < mlp->n_layers; l++) {
        NnActivation act = l + 1 < mlp->n_layers ? mlp->hidden_act : mlp->out_act;
        float *y = mlp->acts[l + 1];
        nn_linear_forward_act(&mlp->layers[l], mlp->acts[l], y, B, act);
    }
    return mlp->acts[mlp->n_layers];
}

void nn_mlp_backward(NnMlp *mlp, const float *dy, float *dx, int B) {
    ASSERT(B > 0 && B <= mlp->max_batch, "batch %d outside 1..%d", B, mlp->max_batch);
    int L = mlp->n_layers;

    // gradient at the last pre-activation
    float *cur = mlp->dtmp[0], *next = mlp->dtmp[1];
    nn_activation_backward(mlp->out_act, mlp->acts[L], dy, cur,
                           (size_t)B * (size_t)mlp->sizes[L]);

    // walk the layers backwards, ping-ponging between the two scratch buffers
    for (int l = L - 1; l >= 0; l--) {
        float *dinput = l > 0 ? next : dx;
        nn_linear_backward(&mlp->layers[l], mlp->acts[l], cur, dinput, B);
        if (l > 0) {
            nn_activation_backward(mlp->hidden_act, mlp->acts[l], next, next,
                                   (size_t)B * (size_t)mlp->sizes[l]);
            float *tmp = cur;
            cur = next;
            next = tmp;
        }
    }
}

double nn_mlp_flops_forward(const NnMlp *mlp, int B) {
    double flops = 0.0;
    for (int l = 0; l < mlp->n_layers; l++) {
        flops += 2.0 * B * mlp->sizes[l] * mlp->sizes[l + 1];
    }
    return flops;
}

double nn_mlp_flops_backward(const NnMlp *mlp, int B, int with_dx) {
    double flops = 0.0;
    for (int l = 0; l < mlp->n_layers; l++) {
        double gemm = 2.0 * B * mlp->sizes[l] * mlp->sizes[l + 1];
        flops += l > 0 || with_dx ? 2.0 * gemm : gemm;
    }
    return flops;
}
