// Multi-Fashion: two Fashion-MNIST items on one 36 x 36 canvas.
//
// Item a sits with its top-left corner at (u, v) and item b at
// (8 - u', 8 - v'), each offset a uniform integer in 0..4, so a leans to the
// top left and b to the bottom right. Where they overlap, a pixel takes the
// larger value. Task 0 is a's class, task 1 is b's. Canvas i of a split uses
// training (or test) item i as a and a uniformly drawn item of the same split
// as b. Its draws come from an RNG stream derived from (seed, split, i), so
// a canvas does not depend on how many are generated. Pixels are scaled to
// [0, 1].
// The source is the four IDX files of Fashion-MNIST (gzip-compressed, as
// Debian's dataset-fashion-mnist installs them in
// /usr/share/datasets/fashion-mnist). Generated canvases are cached as one
// file per split in cache_dir, written atomically and checked by CRC-32 on
// load; a cache from another seed or size is regenerated.
#ifndef VISION_MULTIFASHION_H
#define VISION_MULTIFASHION_H

#include <stddef.h>
#include <stdint.h>

#include "vision/dataset.h"

#define VIS_MF_SIZE 36
#define VIS_MF_ITEM 28
#define VIS_MF_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

// Loads (or generates and caches) n_train training canvases from the
// train files and n_test test canvases from the t10k files (at most 60,000
// and 10,000). cache_dir may be empty to skip caching. Returns 0, ERR_IO or
// ERR_FORMAT with a message naming the file, or ERR_ARG for bad sizes.
int vis_multifashion_load(VisDataset *ds, const char *fmnist_dir, const char *cache_dir,
                          uint64_t seed, int n_train, int n_test, char *err, size_t err_sz);

// Composes one canvas (36 x 36 bytes) from two 28 x 28 items at the given
// offsets (each 0..4); exposed for tests.
void vis_multifashion_compose(const uint8_t *item_a, const uint8_t *item_b, int u, int v,
                              int u2, int v2, uint8_t *canvas);

#endif
