// Bilinear resizing of NCHW tensors, as F.interpolate(mode="bilinear",
// align_corners=False) computes it.
//
// Dimension letters: B batch, C channels, H x W input, P x Q output.
// Output pixel (p, q) samples the input at ((p + 0.5) H / P - 0.5,
// (q + 0.5) W / Q - 0.5), clamped below at 0, from its four neighbours.
// The backward pass scatters dy to the same four neighbours with the same
// weights. Used to enlarge decoder features and to resize predictions.
#ifndef NN_UPSAMPLE_H
#define NN_UPSAMPLE_H

// y (B x C x P x Q) = bilinear resize of x (B x C x H x W).
void nn_upsample_bilinear_forward(const float *x, float *y, int B, int C, int H, int W, int P,
                                  int Q);

// dx (B x C x H x W) is overwritten with the gradient of the resize.
void nn_upsample_bilinear_backward(const float *dy, float *dx, int B, int C, int H, int W,
                                   int P, int Q);

#endif
