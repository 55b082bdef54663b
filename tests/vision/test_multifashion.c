// Multi-Fashion: canvas composition, determinism, caching, bad input.
// Reads the Fashion-MNIST files of Debian's dataset-fashion-mnist.
#include "vision/multifashion.h"

#include <stdlib.h>

#include "common/error.h"
#include "common/fileio.h"
#include "tests/check.h"

static void compose_places_items_and_takes_max(void) {
    uint8_t a[28 * 28], b[28 * 28], canvas[36 * 36];
    memset(a, 10, sizeof a);
    memset(b, 20, sizeof b);
    a[0] = 200;               // a's top-left pixel
    b[28 * 28 - 1] = 250;     // b's bottom-right pixel
    vis_multifashion_compose(a, b, 1, 2, 3, 4, canvas);
    CHECK_EQ_INT(0, canvas[0]);
    CHECK_EQ_INT(200, canvas[1 * 36 + 2]);            // a at (1, 2)
    CHECK_EQ_INT(250, canvas[(5 + 27) * 36 + 4 + 27]); // b at (8 - 3, 8 - 4)
    CHECK_EQ_INT(20, canvas[10 * 36 + 10]);           // overlap keeps the max
    CHECK_EQ_INT(10, canvas[1 * 36 + 3]);             // a only
    CHECK_EQ_INT(0, canvas[35 * 36 + 0]);             // neither
}

static int same_split(const VisSplit *x, const VisSplit *y, int n) {
    return memcmp(x->images, y->images, sizeof(float) * (size_t)n * 36 * 36) == 0 &&
           memcmp(x->labels[0], y->labels[0], sizeof(int32_t) * (size_t)n) == 0 &&
           memcmp(x->labels[1], y->labels[1], sizeof(int32_t) * (size_t)n) == 0;
}

static void same_seed_same_canvases_and_cache(void) {
    char dir[256], err[512];
    check_tmpdir(dir, sizeof dir, "mf");
    VisDataset a, b, c, d;
    CHECK_EQ_INT(0, vis_multifashion_load(&a, "", "", 3, 300, 50, err, sizeof err));
    CHECK_EQ_INT(0, vis_multifashion_load(&b, "", dir, 3, 300, 50, err, sizeof err));
    CHECK_EQ_INT(0, vis_multifashion_load(&c, "", dir, 3, 300, 50, err, sizeof err));
    CHECK_EQ_INT(0, vis_multifashion_load(&d, "", "", 4, 300, 50, err, sizeof err));
    char cache[512];
    snprintf(cache, sizeof cache, "%s/multifashion-train-seed3-n300.bin", dir);
    CHECK(file_exists(cache));
    CHECK(same_split(&a.train, &b.train, 300));
    CHECK(same_split(&a.train, &c.train, 300));   // c came from the cache
    CHECK(same_split(&a.test, &c.test, 50));
    CHECK(!same_split(&a.train, &d.train, 300));
    CHECK_EQ_INT(2, a.n_tasks);
    CHECK(strcmp(a.tasks[0].name, "top_left") == 0);

    // labels are classes, pixels in [0, 1], item a of canvas i is train item i
    int ok = 1;
    for (int i = 0; i < 300; i++) {
        ok &= a.train.labels[0][i] >= 0 && a.train.labels[0][i] < 10;
        ok &= a.train.labels[1][i] >= 0 && a.train.labels[1][i] < 10;
    }
    for (int i = 0; i < 300 * 36 * 36; i++) {
        ok &= a.train.images[i] >= 0.0f && a.train.images[i] <= 1.0f;
    }
    CHECK(ok);
    CHECK_EQ_INT(9, a.train.labels[0][0]);   // Fashion-MNIST train item 0 is an ankle boot

    // a corrupted cache is regenerated, not trusted
    FILE *fp = fopen(cache, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, 100, SEEK_SET);
        fputc(0x5a, fp);
        fclose(fp);
    }
    VisDataset e;
    CHECK_EQ_INT(0, vis_multifashion_load(&e, "", dir, 3, 300, 50, err, sizeof err));
    CHECK(same_split(&a.train, &e.train, 300));
    vis_dataset_deinit(&a);
    vis_dataset_deinit(&b);
    vis_dataset_deinit(&c);
    vis_dataset_deinit(&d);
    vis_dataset_deinit(&e);
    check_rmtree(dir);
}

static void rejects_bad_sizes_and_folders(void) {
    VisDataset ds;
    char err[512] = "";
    CHECK_EQ_INT(ERR_ARG, vis_multifashion_load(&ds, "", "", 1, 60001, 10, err, sizeof err));
    CHECK_STR_CONTAINS(err, "n_train 60001");
    CHECK_EQ_INT(ERR_IO, vis_multifashion_load(&ds, "/nonexistent/fmnist", "", 1, 10, 10, err,
                                               sizeof err));
    CHECK_STR_CONTAINS(err, "/nonexistent/fmnist/train-images-idx3-ubyte.gz");

    // a file that is not IDX data is rejected by name
    char dir[256], path[512];
    check_tmpdir(dir, sizeof dir, "mfbad");
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    CHECK_EQ_INT(0, file_write_atomic(path, "not idx data at all", 19, err, sizeof err));
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    CHECK_EQ_INT(0, file_write_atomic(path, "not idx data at all", 19, err, sizeof err));
    CHECK_EQ_INT(ERR_FORMAT, vis_multifashion_load(&ds, dir, "", 1, 10, 10, err, sizeof err));
    CHECK_STR_CONTAINS(err, "train-images-idx3-ubyte.gz: not an IDX file");
    check_rmtree(dir);
}

// Writes prefix-images and prefix-labels IDX files of n blank items, all
// with the given label, uncompressed (zlib reads them as they are).
static void write_idx_pair(const char *dir, const char *prefix, int n, uint8_t label) {
    char path[512], err[256];
    size_t n_img = 16 + (size_t)n * 784, n_lab = 8 + (size_t)n;
    unsigned char *img = calloc(n_img, 1), *lab = calloc(n_lab, 1);
    const unsigned char img_head[16] = {0, 0, 8, 3, 0, 0, 0, (unsigned char)n,
                                        0, 0, 0, 28, 0, 0, 0, 28};
    const unsigned char lab_head[8] = {0, 0, 8, 1, 0, 0, 0, (unsigned char)n};
    memcpy(img, img_head, 16);
    memcpy(lab, lab_head, 8);
    memset(lab + 8, label, (size_t)n);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    CHECK_EQ_INT(0, file_write_atomic(path, img, n_img, err, sizeof err));
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    CHECK_EQ_INT(0, file_write_atomic(path, lab, n_lab, err, sizeof err));
    free(img);
    free(lab);
}

// A cache written from other source files is not reused: replacing the
// files, or pointing at a folder without them, misses it.
static void cache_follows_source_files(void) {
    char src[256], cache[256], err[512];
    check_tmpdir(src, sizeof src, "mfsrc");
    check_tmpdir(cache, sizeof cache, "mfcache");
    write_idx_pair(src, "train", 20, 3);
    write_idx_pair(src, "t10k", 10, 3);
    VisDataset a, b;
    CHECK_EQ_INT(0, vis_multifashion_load(&a, src, cache, 5, 20, 10, err, sizeof err));
    CHECK_EQ_INT(3, a.train.labels[0][0]);

    write_idx_pair(src, "train", 20, 7);
    CHECK_EQ_INT(0, vis_multifashion_load(&b, src, cache, 5, 20, 10, err, sizeof err));
    CHECK_EQ_INT(7, b.train.labels[0][0]);
    CHECK_EQ_INT(7, b.train.labels[1][19]);

    VisDataset c;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none", src);
    CHECK_EQ_INT(ERR_IO, vis_multifashion_load(&c, missing, cache, 5, 20, 10, err, sizeof err));
    CHECK_STR_CONTAINS(err, "none/train-images-idx3-ubyte.gz: cannot open");
    vis_dataset_deinit(&a);
    vis_dataset_deinit(&b);
    check_rmtree(src);
    check_rmtree(cache);
}

int main(void) {
    RUN_TEST(compose_places_items_and_takes_max);
    RUN_TEST(same_seed_same_canvases_and_cache);
    RUN_TEST(rejects_bad_sizes_and_folders);
    RUN_TEST(cache_follows_source_files);
    return check_summary();
}
