// Element-wise activations and their backward passes.
#ifndef NN_ACTIVATION_H
#define NN_ACTIVATION_H

#include <stddef.h>

typedef enum NnActivation {
    NN_ACT_NONE = 0,   // identity
    NN_ACT_RELU = 1,
    NN_ACT_TANH = 2,
} NnActivation;

// Name for logs and configs: "none", "relu", "tanh".
const char *nn_activation_name(NnActivation act);

// Parses a name; returns -1 when unknown.
int nn_activation_parse(const char *name);

// y = act(x) over n elements; x and y may alias.
void nn_activation_forward(NnActivation act, const float *x, float *y, size_t n);

// dx = dy * act'(.) computed from the forward output y (relu: y > 0,
// tanh: 1 - y^2); dy and dx may alias.
void nn_activation_backward(NnActivation act, const float *y, const float *dy, float *dx,
                            size_t n);

#endif
