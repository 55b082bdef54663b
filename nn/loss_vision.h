// Losses of the dense and classification image tasks, each with its gradient.
//
// Dimension letters: B batch, C classes, N pixels per image (N = 1 for
// image-level classification). Logits and predictions are NCHW, so class or
// channel c of image b at pixel i is at [(b C + c) N + i]. Every function
// returns the loss averaged over the valid elements and, when the gradient
// pointer is not NULL, overwrites it with scale * d loss / d input (zero at
// ignored positions). With no valid element the loss and gradient are 0.
#ifndef NN_LOSS_VISION_H
#define NN_LOSS_VISION_H

#include <stddef.h>
#include <stdint.h>

// Softmax cross-entropy over C classes at each pixel; pixels whose label
// equals ignore_label are skipped. labels (B x N); any other label outside
// [0, C) fails through ASSERT. *n_valid (if not NULL) receives the count.
float nn_softmax_xent_forward_backward(const float *logits, const int32_t *labels, int B,
                                       int C, long N, int ignore_label, float scale,
                                       float *dlogits, long *n_valid);

// Mean absolute error over n elements where valid is non-zero (all when
// valid is NULL). The gradient at pred == target is 0.
float nn_l1_forward_backward(const float *pred, const float *target, const uint8_t *valid,
                             size_t n, float scale, float *dpred, long *n_valid);

// Surface-normal loss: mean over pixels of 1 - <pred / |pred|, target>, with
// pred and target (B x 3 x N). Pixels whose target is all zero (no ground
// truth) are skipped. The target is used as given (unit length expected).
float nn_cosine_forward_backward(const float *pred, const float *target, int B, long N,
                                 float scale, float *dpred, long *n_valid);

#endif
