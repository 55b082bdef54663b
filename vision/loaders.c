// NYUv2, CityScapes and CelebA loaders and the .npy reader; see loaders.h.
#include "vision/loaders.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/log.h"

// ---- .npy ----

static uint64_t le_u(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

// Converts element i of raw data with the given dtype to double; returns 0
// when the dtype is not supported.
static int npy_value(const char *dtype, const unsigned char *raw, size_t i, double *out) {
    char kind = dtype[1];
    int size = atoi(dtype + 2);
    if (dtype[0] == '>' && size > 1) {
        return 0;
    }
    const unsigned char *p = raw + i * (size_t)size;
    uint64_t u = le_u(p, size);
    if (kind == 'f' && size == 4) {
        float f;
        memcpy(&f, p, 4);
        *out = (double)f;
    } else if (kind == 'f' && size == 8) {
        memcpy(out, p, 8);
    } else if (kind == 'u' || kind == 'b') {
        *out = (double)u;
    } else if (kind == 'i' && size >= 1 && size <= 8) {
        int shift = 64 - 8 * size;
        *out = (double)((int64_t)(u << shift) >> shift);
    } else {
        return 0;
    }
    return 1;
}

// Parses the header dict: descr, fortran_order and shape.
static int npy_header(const char *h, VisNpy *npy, const char *path, char *err, size_t err_sz) {
    const char *d = strstr(h, "'descr'");
    const char *f = strstr(h, "'fortran_order'");
    const char *s = strstr(h, "'shape'");

    // dtype string and memory order
    if (!d || !f || !s) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: .npy header lacks descr, fortran_order "
                       "or shape", path);
    }
    const char *q = strchr(d + 7, '\'');
    if (!q || sscanf(q + 1, "%7[^']", npy->dtype) != 1) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: unreadable dtype in .npy header", path);
    }
    const char *comma = strchr(f, ',');
    const char *fortran = strstr(f, "True");
    if (fortran && (!comma || fortran < comma)) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: Fortran-order arrays are not supported; "
                       "save with np.ascontiguousarray", path);
    }

    // shape tuple: one integer per dimension, "(n,)" for one dimension
    const char *p = strchr(s, '(');
    const char *end = p ? strchr(p, ')') : NULL;
    if (!p || !end) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: unreadable shape in .npy header", path);
    }
    npy->ndim = 0;
    npy->n = 1;
    for (p++; p < end;) {
        while (p < end && !isdigit((unsigned char)*p)) {
            p++;
        }
        if (p >= end) {
            break;
        }
        if (npy->ndim == 4) {
            return err_set(err, err_sz, ERR_FORMAT, "%s: more than 4 dimensions", path);
        }
        char *next = NULL;
        long v = strtol(p, &next, 10);
        p = next;
        npy->shape[npy->ndim++] = v;
        npy->n *= (size_t)v;
    }
    return 0;
}

int vis_npy_read(const char *path, VisNpy *npy, char *err, size_t err_sz) {
    memset(npy, 0, sizeof *npy);
    char *buf = NULL;
    size_t len = 0;
    int rc = file_read_all(path, &buf, &len, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    const unsigned char *u = (const unsigned char *)buf;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0 || u[6] < 1 || u[6] > 3) {
        free(buf);
        return err_set(err, err_sz, ERR_FORMAT, "%s: not a .npy file (version 1 to 3)", path);
    }

    // version 1 stores the header length in 2 bytes, versions 2 and 3 in 4
    size_t hlen = u[6] == 1 ? (size_t)le_u(u + 8, 2) : (size_t)le_u(u + 8, 4);
    size_t hstart = u[6] == 1 ? 10 : 12;
    if (hstart + hlen > len) {
        free(buf);
        return err_set(err, err_sz, ERR_FORMAT, "%s: truncated .npy header", path);
    }
    char *header = malloc(hlen + 1);
    memcpy(header, buf + hstart, hlen);
    header[hlen] = '\0';
    rc = npy_header(header, npy, path, err, err_sz);
    free(header);

    // the data must be exactly n elements of the dtype, converted to double
    int size = rc == 0 ? atoi(npy->dtype + 2) : 0;
    if (rc == 0 && (size < 1 || hstart + hlen + npy->n * (size_t)size != len)) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: %zu bytes of data do not match dtype %s and "
                     "%zu elements", path, len - hstart - hlen, npy->dtype, npy->n);
    }
    if (rc == 0) {
        npy->data = malloc(sizeof(double) * (npy->n ? npy->n : 1));
        const unsigned char *raw = u + hstart + hlen;
        for (size_t i = 0; npy->data && i < npy->n; i++) {
            if (!npy_value(npy->dtype, raw, i, &npy->data[i])) {
                rc = err_set(err, err_sz, ERR_FORMAT, "%s: unsupported dtype %s", path,
                             npy->dtype);
                break;
            }
        }
        if (!npy->data) {
            rc = err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", path);
        }
    }
    free(buf);
    if (rc != 0) {
        vis_npy_free(npy);
    }
    return rc;
}

void vis_npy_free(VisNpy *npy) {
    free(npy->data);
    npy->data = NULL;
}

int vis_npy_write_f32(const char *path, const float *data, int ndim, const long *shape,
                      char *err, size_t err_sz) {
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%ld,%s", shape[i],
                        i + 1 < ndim ? " " : "");
        n *= (size_t)shape[i];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");

    // the header is padded with spaces and a newline to a multiple of 64
    size_t hlen = (size_t)len + 1;
    hlen = (10 + hlen + 63) / 64 * 64 - 10;
    size_t total = 10 + hlen + n * 4;
    unsigned char *buf = malloc(total);
    if (!buf) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memset(buf + 10, ' ', hlen);
    memcpy(buf + 10, dict, (size_t)len);
    buf[10 + hlen - 1] = '\n';
    memcpy(buf + 10 + hlen, data, n * 4);
    int rc = file_write_atomic(path, buf, total, err, err_sz);
    free(buf);
    return rc;
}

// ---- NYUv2 and CityScapes ----

typedef struct DenseSpec {
    const char *name;
    int height, width, n_classes, normals;
} DenseSpec;

static const DenseSpec dense_specs[] = {
    {"nyuv2", 288, 384, 13, 1},
    {"cityscapes", 128, 256, 7, 0},
};

// Copies a (H x W x c) or (c x H x W) array (c = 1 also as (H x W)) into
// out (c x H x W) as float. Returns 0 or ERR_FORMAT naming the file.
static int copy_planes(const VisNpy *a, int c, int H, int W, float *out, const char *path,
                       char *err, size_t err_sz) {
    long hw = (long)H * W;
    int hwc = a->ndim == 3 && a->shape[0] == H && a->shape[1] == W && a->shape[2] == c;
    int chw = a->ndim == 3 && a->shape[0] == c && a->shape[1] == H && a->shape[2] == W;
    int plain = c == 1 && a->ndim == 2 && a->shape[0] == H && a->shape[1] == W;
    if (!hwc && !chw && !plain) {
        char got[96] = "";
        for (int i = 0; i < a->ndim; i++) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s%ld", i ? " x " : "", a->shape[i]);
        }
        return err_set(err, err_sz, ERR_FORMAT, "%s: shape (%s), expected %d x %d x %d or "
                       "%d x %d x %d", path, got, H, W, c, c, H, W);
    }
    for (long i = 0; i < hw; i++) {
        for (int k = 0; k < c; k++) {
            double v = hwc ? a->data[i * c + k] : a->data[k * hw + i];
            if (!isfinite(v)) {
                return err_set(err, err_sz, ERR_FORMAT, "%s: non-finite value at pixel %ld", path,
                               i);
            }
            out[k * hw + i] = (float)v;
        }
    }
    return 0;
}

// Reads DIR/split/kind/i.npy.
static int read_item(const char *dir, const char *split, const char *kind, int i, VisNpy *a,
                     char *path, size_t path_sz, char *err, size_t err_sz) {
    snprintf(path, path_sz, "%s/%s/%s/%d.npy", dir, split, kind, i);
    return vis_npy_read(path, a, err, err_sz);
}

// Loads image i of a split with its label, depth and (NYUv2) normals.
static int load_dense_item(const VisDataset *ds, const DenseSpec *sp, const char *dir,
                           const char *split_name, VisSplit *split, int i, char *err,
                           size_t err_sz) {
    int H = sp->height, W = sp->width;
    long hw = (long)H * W;
    char path[1200];
    VisNpy a;
    int rc = read_item(dir, split_name, "image", i, &a, path, sizeof path, err, err_sz);
    if (rc == 0) {
        rc = copy_planes(&a, 3, H, W, split->images + (size_t)i * 3 * hw, path, err, err_sz);
        vis_npy_free(&a);
    }
    if (rc == 0) {
        rc = read_item(dir, split_name, "label", i, &a, path, sizeof path, err, err_sz);
    }
    if (rc == 0) {
        float *tmp = malloc(sizeof(float) * (size_t)hw);
        rc = tmp ? copy_planes(&a, 1, H, W, tmp, path, err, err_sz)
                 : err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", path);
        int32_t *lab = split->labels[0] + (size_t)i * hw;
        for (long k = 0; rc == 0 && k < hw; k++) {
            float v = tmp[k];
            if (v != floorf(v) || (v != -1.0f && (v < 0.0f || v >= (float)sp->n_classes))) {
                rc = err_set(err, err_sz, ERR_FORMAT, "%s: label %g at pixel %ld is not -1 or "
                             "a class in 0..%d", path, (double)v, k, sp->n_classes - 1);
            }
            lab[k] = (int32_t)v;
        }
        free(tmp);
        vis_npy_free(&a);
    }
    if (rc == 0) {
        rc = read_item(dir, split_name, "depth", i, &a, path, sizeof path, err, err_sz);
    }
    if (rc == 0) {
        rc = copy_planes(&a, 1, H, W, split->targets[1] + (size_t)i * hw, path, err, err_sz);
        vis_npy_free(&a);
    }
    if (rc == 0 && sp->normals) {
        rc = read_item(dir, split_name, "normal", i, &a, path, sizeof path, err, err_sz);
        if (rc == 0) {
            rc = copy_planes(&a, 3, H, W, split->targets[2] + (size_t)i * 3 * hw, path, err,
                             err_sz);
            vis_npy_free(&a);
        }
    }
    (void)ds;
    return rc;
}

// Number of files in folder named like 12.npy (a number without leading
// zeros, then ".npy"), or -1 when the folder cannot be read.
static int count_numbered_npy(const char *folder) {
    DIR *d = opendir(folder);
    if (!d) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        const char *p = e->d_name;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
        int leading_zero = e->d_name[0] == '0' && p - e->d_name > 1;
        n += p > e->d_name && !leading_zero && strcmp(p, ".npy") == 0;
    }
    closedir(d);
    return n;
}

// Counts the N.npy files of DIR/split/image, which must run from 0 without
// gaps, so that a missing file is reported rather than dropped.
static int count_items(const char *dir, const char *split, int *n, char *err, size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/image", dir, split);
    if (!file_exists(path)) {
        return err_set(err, err_sz, ERR_IO, "%s: folder not found (expected the preprocessed "
                       "layout DIR/{train,val}/{image,label,depth[,normal]}/N.npy)", path);
    }
    int total = count_numbered_npy(path);
    int k = 0;
    for (;; k++) {
        snprintf(path, sizeof path, "%s/%s/image/%d.npy", dir, split, k);
        if (!file_exists(path)) {
            break;
        }
    }
    if (k == 0) {
        return err_set(err, err_sz, ERR_IO, "%s/%s/image/0.npy: file not found", dir, split);
    }
    if (total > k) {
        return err_set(err, err_sz, ERR_IO, "%s/%s/image/%d.npy: file not found, but the "
                       "folder has %d numbered files (they must run from 0.npy without gaps)",
                       dir, split, k, total);
    }
    *n = k;
    return 0;
}

int vis_dense_load(VisDataset *ds, const char *which, const char *dir, int n_train,
                   int n_test, char *err, size_t err_sz) {
    memset(ds, 0, sizeof *ds);
    const DenseSpec *sp = NULL;
    for (size_t i = 0; i < sizeof dense_specs / sizeof dense_specs[0]; i++) {
        if (strcmp(which, dense_specs[i].name) == 0) {
            sp = &dense_specs[i];
        }
    }
    if (!sp) {
        return err_set(err, err_sz, ERR_ARG, "vis_dense_load: unknown dataset '%s'", which);
    }
    snprintf(ds->name, sizeof ds->name, "%s", sp->name);
    ds->n_ch = 3;
    ds->height = sp->height;
    ds->width = sp->width;
    ds->n_tasks = sp->normals ? 3 : 2;
    snprintf(ds->tasks[0].name, sizeof ds->tasks[0].name, "segmentation");
    ds->tasks[0].kind = VIS_TASK_SEG;
    ds->tasks[0].n_classes = sp->n_classes;
    snprintf(ds->tasks[1].name, sizeof ds->tasks[1].name, "depth");
    ds->tasks[1].kind = VIS_TASK_DEPTH;
    if (sp->normals) {
        snprintf(ds->tasks[2].name, sizeof ds->tasks[2].name, "normal");
        ds->tasks[2].kind = VIS_TASK_NORMAL;
    }
    const char *split_names[2] = {"train", "val"};
    int limits[2] = {n_train, n_test};
    VisSplit *splits[2] = {&ds->train, &ds->test};
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        int n = 0;
        rc = count_items(dir, split_names[s], &n, err, err_sz);
        if (rc == 0 && limits[s] > n) {
            rc = err_set(err, err_sz, ERR_ARG, "%s: %s %d, but %s/%s/image has %d images",
                         sp->name, s ? "data.n_test" : "data.n_train", limits[s], dir,
                         split_names[s], n);
        }
        if (rc == 0 && limits[s] > 0) {
            n = limits[s];
        }
        if (rc == 0) {
            rc = vis_split_alloc(ds, splits[s], n, err, err_sz);
        }
        for (int i = 0; rc == 0 && i < n; i++) {
            rc = load_dense_item(ds, sp, dir, split_names[s], splits[s], i, err, err_sz);
        }
    }
    if (rc != 0) {
        vis_dataset_deinit(ds);
    } else {
        log_info("%s: loaded %d train and %d val images from %s", ds->name, ds->train.n,
                 ds->test.n, dir);
    }
    return rc;
}

// ---- CelebA ----

#define CELEBA_SIZE 64
#define CELEBA_N_ATTRS 40

static const char *const celeba_tasks[] = {
    "5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair", "Goatee",
    "Mustache", "No_Beard", "Rosy_Cheeks", "Wearing_Hat",
};
#define CELEBA_N_TASKS ((int)(sizeof celeba_tasks / sizeof celeba_tasks[0]))

typedef struct JpegErr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} JpegErr;

// libjpeg calls this on a fatal error; jump back to the reader.
static void jpeg_fail(j_common_ptr cinfo) {
    JpegErr *e = (JpegErr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

// Decodes path, centre-crops it to a square and box-averages it to
// 64 x 64, writing (3 x 64 x 64) floats in [0, 1].
static int load_face(const char *path, float *out, char *err, size_t err_sz) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot open", path);
    }
    struct jpeg_decompress_struct cinfo;
    JpegErr jerr;
    unsigned char *pix = NULL;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_fail;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        fclose(fp);
        free(pix);
        return err_set(err, err_sz, ERR_FORMAT, "%s: JPEG decode failed: %s", path, jerr.msg);
    }

    // decode to 8-bit RGB rows
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, fp);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int W = (int)cinfo.output_width, H = (int)cinfo.output_height;
    pix = malloc((size_t)W * H * 3);
    while (pix && cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pix + (size_t)cinfo.output_scanline * W * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(fp);
    if (!pix) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory", path);
    }
    if (W < CELEBA_SIZE || H < CELEBA_SIZE) {
        free(pix);
        return err_set(err, err_sz, ERR_FORMAT, "%s: %d x %d is smaller than %d x %d", path, W,
                       H, CELEBA_SIZE, CELEBA_SIZE);
    }

    // centre square, each output pixel the mean of its source box
    int side = W < H ? W : H, x0 = (W - side) / 2, y0 = (H - side) / 2;
    for (int i = 0; i < CELEBA_SIZE; i++) {
        int r0 = i * side / CELEBA_SIZE, r1 = (i + 1) * side / CELEBA_SIZE;
        for (int j = 0; j < CELEBA_SIZE; j++) {
            int c0 = j * side / CELEBA_SIZE, c1 = (j + 1) * side / CELEBA_SIZE;
            for (int k = 0; k < 3; k++) {
                double sum = 0.0;
                for (int r = r0; r < r1; r++) {
                    for (int c = c0; c < c1; c++) {
                        sum += pix[((size_t)(y0 + r) * W + x0 + c) * 3 + k];
                    }
                }
                out[(k * CELEBA_SIZE + i) * CELEBA_SIZE + j] =
                    (float)(sum / ((double)(r1 - r0) * (c1 - c0) * 255.0));
            }
        }
    }
    free(pix);
    return 0;
}

typedef struct CelebaRow {
    char file[64];
    int attrs[CELEBA_N_TASKS];   // 0 or 1
    int partition;               // 0 train, 1 val, 2 test; -1 unknown
} CelebaRow;

// Parses list_attr_celeba.txt into rows (caller frees *rows).
static int read_attrs(const char *dir, CelebaRow **rows, int *n_rows, char *err,
                      size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/list_attr_celeba.txt", dir);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        return err_set(err, err_sz, ERR_IO, "%s: file not found", path);
    }
    int n = 0, col[CELEBA_N_TASKS];
    char name[64];
    int rc = fscanf(fp, "%d", &n) == 1 && n > 0 ? 0 : ERR_FORMAT;
    for (int t = 0; t < CELEBA_N_TASKS; t++) {
        col[t] = -1;
    }
    for (int a = 0; rc == 0 && a < CELEBA_N_ATTRS; a++) {
        if (fscanf(fp, "%63s", name) != 1) {
            rc = ERR_FORMAT;
        }
        for (int t = 0; rc == 0 && t < CELEBA_N_TASKS; t++) {
            col[t] = strcmp(name, celeba_tasks[t]) == 0 ? a : col[t];
        }
    }
    for (int t = 0; rc == 0 && t < CELEBA_N_TASKS; t++) {
        if (col[t] < 0) {
            fclose(fp);
            return err_set(err, err_sz, ERR_FORMAT, "%s: attribute %s missing from the header",
                           path, celeba_tasks[t]);
        }
    }
    CelebaRow *r = rc == 0 ? calloc((size_t)n, sizeof *r) : NULL;
    for (int i = 0; r && rc == 0 && i < n; i++) {
        if (fscanf(fp, "%63s", r[i].file) != 1) {
            rc = ERR_FORMAT;
        }
        r[i].partition = -1;
        for (int a = 0; rc == 0 && a < CELEBA_N_ATTRS; a++) {
            int v = 0;
            if (fscanf(fp, "%d", &v) != 1 || (v != 1 && v != -1)) {
                err_set(err, err_sz, ERR_FORMAT, "%s: image %s: attribute %d is not -1 or 1",
                        path, r[i].file, a + 1);
                fclose(fp);
                free(r);
                return ERR_FORMAT;
            }
            for (int t = 0; t < CELEBA_N_TASKS; t++) {
                if (col[t] == a) {
                    r[i].attrs[t] = v == 1;
                }
            }
        }
    }
    fclose(fp);
    if (rc != 0 || !r) {
        free(r);
        return err_set(err, err_sz, rc ? ERR_FORMAT : ERR_NOMEM, "%s: %s", path,
                       rc ? "malformed (expected a count, 40 names, then one line per image)"
                          : "out of memory");
    }
    *rows = r;
    *n_rows = n;
    return 0;
}

// Reads list_eval_partition.txt when present; otherwise the last tenth is
// the test split.
static int read_partition(const char *dir, CelebaRow *rows, int n, char *err, size_t err_sz) {
    char path[1200];
    snprintf(path, sizeof path, "%s/list_eval_partition.txt", dir);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        for (int i = 0; i < n; i++) {
            rows[i].partition = i >= n - n / 10 ? 2 : 0;
        }
        return 0;
    }
    char file[64];
    int part;
    for (int i = 0; i < n; i++) {
        if (fscanf(fp, "%63s %d", file, &part) != 2 || strcmp(file, rows[i].file) != 0 ||
            part < 0 || part > 2) {
            fclose(fp);
            return err_set(err, err_sz, ERR_FORMAT, "%s: line %d does not match image %s of "
                           "list_attr_celeba.txt with a partition 0..2", path, i + 1,
                           rows[i].file);
        }
        rows[i].partition = part;
    }
    fclose(fp);
    return 0;
}

// Split of a partition number: 0 training, 1 test, -1 unused (validation).
static int split_of(int partition) {
    if (partition == 0) {
        return 0;
    }
    return partition == 2 ? 1 : -1;
}

int vis_celeba_load(VisDataset *ds, const char *dir, int n_train, int n_test, char *err,
                    size_t err_sz) {
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "celeba");
    ds->n_ch = 3;
    ds->height = ds->width = CELEBA_SIZE;
    ds->n_tasks = CELEBA_N_TASKS;
    for (int t = 0; t < CELEBA_N_TASKS; t++) {
        snprintf(ds->tasks[t].name, sizeof ds->tasks[t].name, "%s", celeba_tasks[t]);
        ds->tasks[t].kind = VIS_TASK_CLASS;
        ds->tasks[t].n_classes = 2;
    }
    CelebaRow *rows = NULL;
    int n = 0;
    int rc = read_attrs(dir, &rows, &n, err, err_sz);
    if (rc == 0) {
        rc = read_partition(dir, rows, n, err, err_sz);
    }
    int counts[2] = {0, 0}, limits[2] = {n_train, n_test};
    for (int i = 0; rc == 0 && i < n; i++) {
        int s = split_of(rows[i].partition);
        if (s >= 0 && (limits[s] == 0 || counts[s] < limits[s])) {
            counts[s]++;
        }
    }
    if (rc == 0 && (counts[0] == 0 || counts[1] == 0)) {
        rc = err_set(err, err_sz, ERR_FORMAT, "%s: no training or no test images", dir);
    }
    if (rc == 0) {
        rc = vis_split_alloc(ds, &ds->train, counts[0], err, err_sz);
    }
    if (rc == 0) {
        rc = vis_split_alloc(ds, &ds->test, counts[1], err, err_sz);
    }
    int filled[2] = {0, 0};
    size_t img = 3 * CELEBA_SIZE * CELEBA_SIZE;
    for (int i = 0; rc == 0 && i < n; i++) {
        int s = split_of(rows[i].partition);
        if (s < 0 || filled[s] == counts[s]) {
            continue;
        }
        VisSplit *split = s == 0 ? &ds->train : &ds->test;
        char path[1200];
        snprintf(path, sizeof path, "%s/img_align_celeba/%s", dir, rows[i].file);
        rc = load_face(path, split->images + (size_t)filled[s] * img, err, err_sz);
        for (int t = 0; rc == 0 && t < CELEBA_N_TASKS; t++) {
            split->labels[t][filled[s]] = rows[i].attrs[t];
        }
        filled[s]++;
    }
    free(rows);
    if (rc != 0) {
        vis_dataset_deinit(ds);
    } else {
        log_info("celeba: loaded %d train and %d test images from %s", ds->train.n, ds->test.n,
                 dir);
    }
    return rc;
}
