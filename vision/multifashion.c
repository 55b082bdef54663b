// Multi-Fashion generation and caching; see multifashion.h.
#include "vision/multifashion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/rng.h"

#define CACHE_MAGIC "CONALMF2"
#define IDX_LABELS 0x00000801u
#define IDX_IMAGES 0x00000803u
#define CANVAS_BYTES (VIS_MF_SIZE * VIS_MF_SIZE)

// Items of one IDX pair: n images of 28 x 28 bytes and their labels.
typedef struct Items {
    int n;
    uint8_t *pixels;   // (n x 28 x 28)
    uint8_t *labels;   // (n)
} Items;

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

// Reads a whole gzip (or plain) file; zlib reads uncompressed files as-is.
static int read_gz(const char *path, unsigned char **out, size_t *out_n, char *err,
                   size_t err_sz) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot open (is dataset-fashion-mnist "
                       "installed?)", path);
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    int got = 0;
    while (buf && (got = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    gzclose(gz);
    if (!buf) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory while reading", path);
    }
    if (got < 0) {
        free(buf);
        return err_set(err, err_sz, ERR_FORMAT, "%s: corrupt gzip data", path);
    }
    *out = buf;
    *out_n = n;
    return 0;
}

// Loads prefix-images-idx3-ubyte.gz and prefix-labels-idx1-ubyte.gz.
static int load_items(const char *dir, const char *prefix, Items *items, char *err,
                      size_t err_sz) {
    char img_path[1024], lab_path[1024];
    snprintf(img_path, sizeof img_path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lab_path, sizeof lab_path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    unsigned char *img = NULL, *lab = NULL;
    size_t n_img = 0, n_lab = 0;
    int rc = read_gz(img_path, &img, &n_img, err, err_sz);
    if (rc == 0) {
        rc = read_gz(lab_path, &lab, &n_lab, err, err_sz);
    }
    if (rc == 0 && (n_img < 16 || be32(img) != IDX_IMAGES || be32(img + 8) != VIS_MF_ITEM ||
                    be32(img + 12) != VIS_MF_ITEM)) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: not an IDX file of 28 x 28 images",
                     img_path);
    }
    if (rc == 0 && (n_lab < 8 || be32(lab) != IDX_LABELS)) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: not an IDX label file", lab_path);
    }
    uint32_t n = rc == 0 ? be32(img + 4) : 0;
    if (rc == 0 && (be32(lab + 4) != n || n_img != 16 + (size_t)n * 784 ||
                    n_lab != 8 + (size_t)n)) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s, %s: counts or sizes disagree (%u images)",
                     img_path, lab_path, n);
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (lab[8 + i] > 9) {
            rc = err_set(err, err_sz, ERR_FORMAT, "%s: label %d of item %u outside 0..9",
                         lab_path, lab[8 + i], i);
        }
    }
    if (rc == 0) {
        items->n = (int)n;
        items->pixels = malloc((size_t)n * 784);
        items->labels = malloc(n);
        if (!items->pixels || !items->labels) {
            rc = err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", img_path);
        } else {
            memcpy(items->pixels, img + 16, (size_t)n * 784);
            memcpy(items->labels, lab + 8, n);
        }
    }
    free(img);
    free(lab);
    return rc;
}

void vis_multifashion_compose(const uint8_t *item_a, const uint8_t *item_b, int u, int v,
                              int u2, int v2, uint8_t *canvas) {
    memset(canvas, 0, CANVAS_BYTES);
    int off = VIS_MF_SIZE - VIS_MF_ITEM;   // 8
    for (int r = 0; r < VIS_MF_ITEM; r++) {
        for (int c = 0; c < VIS_MF_ITEM; c++) {
            uint8_t *pa = canvas + (u + r) * VIS_MF_SIZE + v + c;
            *pa = item_a[r * VIS_MF_ITEM + c] > *pa ? item_a[r * VIS_MF_ITEM + c] : *pa;
            uint8_t *pb = canvas + (off - u2 + r) * VIS_MF_SIZE + off - v2 + c;
            *pb = item_b[r * VIS_MF_ITEM + c] > *pb ? item_b[r * VIS_MF_ITEM + c] : *pb;
        }
    }
}

// Builds n canvases (n x 1296 bytes) and their two labels per canvas.
static void generate(const Items *items, uint64_t seed, uint64_t split_id, int n,
                     uint8_t *canvases, uint8_t *labels) {
    for (int i = 0; i < n; i++) {
        RngState rng;
        rng_init_stream(&rng, seed, (split_id << 32) | (uint64_t)i);
        int b = (int)rng_below(&rng, (uint64_t)items->n);
        int u = (int)rng_below(&rng, 5), v = (int)rng_below(&rng, 5);
        int u2 = (int)rng_below(&rng, 5), v2 = (int)rng_below(&rng, 5);
        vis_multifashion_compose(items->pixels + (size_t)i * 784,
                                 items->pixels + (size_t)b * 784, u, v, u2, v2,
                                 canvases + (size_t)i * CANVAS_BYTES);
        labels[2 * i] = items->labels[i];
        labels[2 * i + 1] = items->labels[b];
    }
}

// Identifies the IDX pair that a split is generated from: the CRC-32 of
// each file's bytes as stored (compressed or not). A cache written from
// other files (another data.dir, or files changed since, even with the
// same size and time) then misses. Reading the files costs about as much
// as one pass over 30 MB; generating the canvases costs far more. Fails
// with the path of a file that cannot be read.
static int source_key(const char *dir, const char *prefix, uint64_t *key, char *err,
                      size_t err_sz) {
    const char *kinds[2] = {"images-idx3", "labels-idx1"};
    uint64_t k = 0;
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s-%s-ubyte.gz", dir, prefix, kinds[i]);
        char *bytes = NULL;
        size_t n = 0;
        if (!file_exists(path) || file_read_all(path, &bytes, &n, err, err_sz) != 0) {
            free(bytes);
            return err_set(err, err_sz, ERR_IO, "%s: cannot open (is dataset-fashion-mnist "
                           "installed?)", path);
        }
        k = k << 32 | file_crc32(0, bytes, n);
        free(bytes);
    }
    *key = k;
    return 0;
}

// Cache layout: magic, u64 seed, u64 source key, u32 count, canvases,
// labels, u32 CRC-32 of everything before it.
#define CACHE_HEAD 28

static size_t cache_bytes(int n) {
    return CACHE_HEAD + (size_t)n * CANVAS_BYTES + 2 * (size_t)n + 4;
}

// Reads a cache file into data when it exists, matches seed, source key
// and n, and passes its CRC; returns 1 on a hit.
static int cache_read(const char *path, uint64_t seed, uint64_t key, int n,
                      unsigned char *data) {
    char *buf = NULL;
    size_t len = 0;
    char err[256];
    if (!file_exists(path) || file_read_all(path, &buf, &len, err, sizeof err) != 0) {
        return 0;
    }
    int hit = len == cache_bytes(n) && memcmp(buf, CACHE_MAGIC, 8) == 0;
    uint64_t s = 0, k = 0;
    uint32_t count = 0, crc = 0;
    if (hit) {
        memcpy(&s, buf + 8, 8);
        memcpy(&k, buf + 16, 8);
        memcpy(&count, buf + 24, 4);
        memcpy(&crc, buf + len - 4, 4);
        hit = s == seed && k == key && count == (uint32_t)n &&
              file_crc32(0, buf, len - 4) == crc;
    }
    if (hit) {
        memcpy(data, buf + CACHE_HEAD, len - CACHE_HEAD - 4);
    } else {
        log_warn("multifashion: cache %s is stale or corrupt; regenerating", path);
    }
    free(buf);
    return hit;
}

static int cache_write(const char *path, uint64_t seed, uint64_t key, int n,
                       const unsigned char *data, char *err, size_t err_sz) {
    size_t len = cache_bytes(n);
    unsigned char *buf = malloc(len);
    if (!buf) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", path);
    }
    uint32_t count = (uint32_t)n;
    memcpy(buf, CACHE_MAGIC, 8);
    memcpy(buf + 8, &seed, 8);
    memcpy(buf + 16, &key, 8);
    memcpy(buf + 24, &count, 4);
    memcpy(buf + CACHE_HEAD, data, len - CACHE_HEAD - 4);
    uint32_t crc = file_crc32(0, buf, len - 4);
    memcpy(buf + len - 4, &crc, 4);
    int rc = file_write_atomic(path, buf, len, err, err_sz);
    free(buf);
    return rc;
}

// Fills one split: from the cache, or from the IDX files (then cached).
static int load_split(VisDataset *ds, VisSplit *split, const char *dir, const char *prefix,
                      const char *cache_dir, uint64_t seed, uint64_t split_id, int n,
                      char *err, size_t err_sz) {
    unsigned char *data = malloc((size_t)n * (CANVAS_BYTES + 2));
    if (!data) {
        return err_set(err, err_sz, ERR_NOMEM, "multifashion: out of memory for %d canvases",
                       n);
    }
    char path[1024] = "";
    if (cache_dir && cache_dir[0]) {
        snprintf(path, sizeof path, "%s/multifashion-%s-seed%llu-n%d.bin", cache_dir, prefix,
                 (unsigned long long)seed, n);
    }
    uint64_t key = 0;
    int rc = source_key(dir, prefix, &key, err, err_sz);
    if (rc != 0) {
        free(data);
        return rc;
    }
    if (!path[0] || !cache_read(path, seed, key, n, data)) {
        Items items = {0, NULL, NULL};
        rc = load_items(dir, prefix, &items, err, err_sz);
        if (rc == 0 && n > items.n) {
            rc = err_set(err, err_sz, ERR_ARG, "multifashion: %d %s canvases requested, the "
                         "%s files have %d items", n, prefix, prefix, items.n);
        }
        if (rc == 0) {
            generate(&items, seed, split_id, n, data, data + (size_t)n * CANVAS_BYTES);
            log_info("multifashion: generated %d %s canvases seed=%llu", n, prefix,
                     (unsigned long long)seed);
        }
        if (rc == 0 && path[0]) {
            rc = file_mkdirs(cache_dir, err, err_sz);
            if (rc == 0) {
                rc = cache_write(path, seed, key, n, data, err, err_sz);
            }
        }
        free(items.pixels);
        free(items.labels);
    }
    if (rc == 0) {
        rc = vis_split_alloc(ds, split, n, err, err_sz);
    }
    if (rc == 0) {
        const uint8_t *labels = data + (size_t)n * CANVAS_BYTES;
        for (size_t i = 0; i < (size_t)n * CANVAS_BYTES; i++) {
            split->images[i] = (float)data[i] / 255.0f;
        }
        for (int i = 0; i < n; i++) {
            split->labels[0][i] = labels[2 * i];
            split->labels[1][i] = labels[2 * i + 1];
        }
    }
    free(data);
    return rc;
}

int vis_multifashion_load(VisDataset *ds, const char *fmnist_dir, const char *cache_dir,
                          uint64_t seed, int n_train, int n_test, char *err, size_t err_sz) {
    memset(ds, 0, sizeof *ds);
    if (n_train < 1 || n_train > 60000 || n_test < 1 || n_test > 10000) {
        return err_set(err, err_sz, ERR_ARG, "multifashion: n_train %d must be in 1..60000 "
                       "and n_test %d in 1..10000", n_train, n_test);
    }
    snprintf(ds->name, sizeof ds->name, "multifashion");
    ds->n_ch = 1;
    ds->height = ds->width = VIS_MF_SIZE;
    ds->n_tasks = 2;
    const char *names[2] = {"top_left", "bottom_right"};
    for (int t = 0; t < 2; t++) {
        snprintf(ds->tasks[t].name, sizeof ds->tasks[t].name, "%s", names[t]);
        ds->tasks[t].kind = VIS_TASK_CLASS;
        ds->tasks[t].n_classes = 10;
    }
    const char *dir = fmnist_dir && fmnist_dir[0] ? fmnist_dir : VIS_MF_DEFAULT_DIR;
    int rc = load_split(ds, &ds->train, dir, "train", cache_dir, seed, 0, n_train, err, err_sz);
    if (rc == 0) {
        rc = load_split(ds, &ds->test, dir, "t10k", cache_dir, seed, 1, n_test, err, err_sz);
    }
    if (rc != 0) {
        vis_dataset_deinit(ds);
    }
    return rc;
}
