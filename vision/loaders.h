// Loaders of the user-provided datasets: NYUv2, CityScapes and CelebA.
//
// NYUv2 and CityScapes use the public preprocessed layout of .npy files:
//   DIR/{train,val}/image/N.npy    (H x W x 3) float32 or float64, or (3 x H x W)
//   DIR/{train,val}/label/N.npy    (H x W) class per pixel, -1 unlabelled
//   DIR/{train,val}/depth/N.npy    (H x W) or (H x W x 1) or (1 x H x W), 0 unknown
//   DIR/{train,val}/normal/N.npy   (H x W x 3) or (3 x H x W), NYUv2 only
// with N = 0, 1, ... without gaps. NYUv2 is 288 x 384 with 13 classes;
// CityScapes is 128 x 256 with 7 classes. The val split serves as the test
// split. Labels may be stored as any integer or float dtype; values other
// than -1 outside [0, classes) are rejected with the file and pixel named.
//
// CelebA uses the aligned release: DIR/img_align_celeba/NNNNNN.jpg (178 x 218)
// and DIR/list_attr_celeba.txt (a count line, the 40 attribute names, then
// one line per image of -1/1 values). Each image is centre-cropped to
// 178 x 178 and resized to 64 x 64 by area averaging. The tasks are nine
// attributes (5_o_Clock_Shadow, Black_Hair, Blond_Hair, Brown_Hair, Goatee,
// Mustache, No_Beard, Rosy_Cheeks, Wearing_Hat) as two-class problems. When
// DIR/list_eval_partition.txt exists, partition 0 is training and 2 is test;
// otherwise the last tenth of the attribute list is the test split.
#ifndef VISION_LOADERS_H
#define VISION_LOADERS_H

#include <stddef.h>
#include <stdint.h>

#include "vision/dataset.h"

// Loads NYUv2 (which = "nyuv2") or CityScapes ("cityscapes") from dir, at
// most n_train / n_test images (0 = all). Returns 0, ERR_IO naming a missing
// folder or file, or ERR_FORMAT naming the file with a bad shape or value.
int vis_dense_load(VisDataset *ds, const char *which, const char *dir, int n_train,
                   int n_test, char *err, size_t err_sz);

// Loads CelebA from dir (see above), at most n_train / n_test images.
int vis_celeba_load(VisDataset *ds, const char *dir, int n_train, int n_test, char *err,
                    size_t err_sz);

// A parsed .npy array (format versions 1 to 3, little-endian, C order).
typedef struct VisNpy {
    int ndim;
    long shape[4];
    char dtype[8];          // "<f4", "<f8", "|u1", "<i8", ...
    size_t n;               // elements
    double *data;           // (n) values converted to double
} VisNpy;

// Reads path into npy. Returns 0, ERR_IO or ERR_FORMAT with the path.
int vis_npy_read(const char *path, VisNpy *npy, char *err, size_t err_sz);
void vis_npy_free(VisNpy *npy);

// Writes a float32 .npy file of the given shape (tests build fixtures with
// it). Returns 0 or ERR_IO.
int vis_npy_write_f32(const char *path, const float *data, int ndim, const long *shape,
                      char *err, size_t err_sz);

#endif
