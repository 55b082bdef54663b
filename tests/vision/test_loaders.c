// NYUv2, CityScapes and CelebA loaders on fixture files the test writes:
// .npy arrays from C and JPEG faces through libjpeg.
#include "vision/loaders.h"

#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/log.h"
#include "tests/check.h"

static char tmp[256];

static void write_npy(const char *path, const float *data, int ndim, const long *shape) {
    char err[256];
    int rc = vis_npy_write_f32(path, data, ndim, shape, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
}

static void npy_round_trip(void) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/a.npy", tmp);
    float data[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, 7.0f};
    long shape[2] = {2, 3};
    write_npy(path, data, 2, shape);
    VisNpy a;
    CHECK_EQ_INT(0, vis_npy_read(path, &a, err, sizeof err));
    CHECK_EQ_INT(2, a.ndim);
    CHECK_EQ_INT(2, a.shape[0]);
    CHECK_EQ_INT(3, a.shape[1]);
    CHECK(strcmp(a.dtype, "<f4") == 0);
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(data[i], a.data[i], 0);
    }
    vis_npy_free(&a);
}

// numpy's own bytes for np.array([[-1, 2], [3, 40000]], dtype="<i8") and
// np.array([1, 255], dtype="|u1"), header padded as numpy pads it.
static void npy_integer_dtypes(void) {
    char path[512], err[256];
    const char *dicts[2] = {"{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }",
                            "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }"};
    int64_t ints[4] = {-1, 2, 3, 40000};
    uint8_t bytes[2] = {1, 255};
    for (int k = 0; k < 2; k++) {
        unsigned char buf[256];
        size_t hlen = 118;   // 10 + 118 = 128, a multiple of 64
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)hlen;
        buf[9] = 0;
        memset(buf + 10, ' ', hlen);
        memcpy(buf + 10, dicts[k], strlen(dicts[k]));
        buf[10 + hlen - 1] = '\n';
        size_t n = k == 0 ? sizeof ints : sizeof bytes;
        memcpy(buf + 10 + hlen, k == 0 ? (const void *)ints : (const void *)bytes, n);
        snprintf(path, sizeof path, "%s/int%d.npy", tmp, k);
        CHECK_EQ_INT(0, file_write_atomic(path, buf, 10 + hlen + n, err, sizeof err));
        VisNpy a;
        CHECK_EQ_INT(0, vis_npy_read(path, &a, err, sizeof err));
        CHECK_NEAR(k == 0 ? -1.0 : 1.0, a.data[0], 0);
        CHECK_NEAR(k == 0 ? 40000.0 : 255.0, a.data[a.n - 1], 0);
        vis_npy_free(&a);
    }
    snprintf(path, sizeof path, "%s/junk.npy", tmp);
    CHECK_EQ_INT(0, file_write_atomic(path, "PK\x03\x04 zip", 8, err, sizeof err));
    VisNpy a;
    CHECK_EQ_INT(ERR_FORMAT, vis_npy_read(path, &a, err, sizeof err));
    CHECK_STR_CONTAINS(err, "junk.npy: not a .npy file");
}

// Writes n CityScapes-shaped items (128 x 256) into root/split/...; image
// i has value i + 0.5 in channel 0 and labels cycling through the classes.
static void write_city_split(const char *root, const char *split, int n, int hwc) {
    const int H = 128, W = 256;
    long hw = (long)H * W;
    char path[600];
    const char *kinds[3] = {"image", "label", "depth"};
    for (int k = 0; k < 3; k++) {
        char err[256];
        snprintf(path, sizeof path, "%s/%s/%s", root, split, kinds[k]);
        CHECK_EQ_INT(0, file_mkdirs(path, err, sizeof err));
    }
    float *img = malloc(sizeof(float) * 3 * (size_t)hw);
    float *lab = malloc(sizeof(float) * (size_t)hw);
    float *dep = malloc(sizeof(float) * (size_t)hw);
    for (int i = 0; i < n; i++) {
        for (long p = 0; p < hw; p++) {
            for (int c = 0; c < 3; c++) {
                float v = c == 0 ? (float)i + 0.5f : (float)c;
                img[hwc ? p * 3 + c : c * hw + p] = v;
            }
            lab[p] = p % 9 == 8 ? -1.0f : (float)(p % 7);
            dep[p] = p % 5 == 0 ? 0.0f : 10.0f;
        }
        long s3[3] = {hwc ? H : 3, hwc ? W : H, hwc ? 3 : W}, s2[2] = {H, W};
        snprintf(path, sizeof path, "%s/%s/image/%d.npy", root, split, i);
        write_npy(path, img, 3, s3);
        snprintf(path, sizeof path, "%s/%s/label/%d.npy", root, split, i);
        write_npy(path, lab, 2, s2);
        snprintf(path, sizeof path, "%s/%s/depth/%d.npy", root, split, i);
        write_npy(path, dep, 2, s2);
    }
    free(img);
    free(lab);
    free(dep);
}

static void cityscapes_fixture_loads(void) {
    char root[512], err[512];
    snprintf(root, sizeof root, "%s/city", tmp);
    write_city_split(root, "train", 3, 1);
    write_city_split(root, "val", 2, 0);
    VisDataset ds;
    int rc = vis_dense_load(&ds, "cityscapes", root, 0, 0, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc != 0) {
        return;
    }
    long hw = 128L * 256;
    CHECK_EQ_INT(3, ds.train.n);
    CHECK_EQ_INT(2, ds.test.n);
    CHECK_EQ_INT(2, ds.n_tasks);
    CHECK_EQ_INT(7, ds.tasks[0].n_classes);
    CHECK_EQ_INT(VIS_TASK_DEPTH, ds.tasks[1].kind);
    CHECK_NEAR(2.5, ds.train.images[2 * 3 * hw + 17], 0);        // image 2, channel 0
    CHECK_NEAR(2.0, ds.train.images[2 * 3 * hw + 2 * hw + 17], 0);
    CHECK_NEAR(1.5, ds.test.images[3 * hw + 5], 0);              // CHW layout, image 1
    CHECK_EQ_INT(VIS_IGNORE_LABEL, ds.train.labels[0][8]);
    CHECK_EQ_INT(3, ds.train.labels[0][10]);
    CHECK_NEAR(0.0, ds.train.targets[1][5], 0);
    CHECK_NEAR(10.0, ds.train.targets[1][6], 0);
    vis_dataset_deinit(&ds);

    rc = vis_dense_load(&ds, "cityscapes", root, 2, 1, err, sizeof err);
    CHECK_EQ_INT(0, rc);
    CHECK_EQ_INT(2, ds.train.n);
    CHECK_EQ_INT(1, ds.test.n);
    vis_dataset_deinit(&ds);
}

static void dense_loader_errors_name_the_file(void) {
    char root[512], path[700], err[512];
    VisDataset ds;
    snprintf(root, sizeof root, "%s/missing", tmp);
    CHECK_EQ_INT(ERR_IO, vis_dense_load(&ds, "cityscapes", root, 0, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "missing/train/image: folder not found");

    // NYUv2 shapes do not fit CityScapes files
    snprintf(root, sizeof root, "%s/city", tmp);
    CHECK_EQ_INT(ERR_FORMAT, vis_dense_load(&ds, "nyuv2", root, 0, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "train/image/0.npy: shape (128 x 256 x 3), expected 288 x 384");

    // a label outside the classes
    snprintf(root, sizeof root, "%s/badlabel", tmp);
    write_city_split(root, "train", 1, 1);
    write_city_split(root, "val", 1, 1);
    float *lab = calloc(128 * 256, sizeof(float));
    lab[300] = 7.0f;
    long s2[2] = {128, 256};
    snprintf(path, sizeof path, "%s/val/label/0.npy", root);
    write_npy(path, lab, 2, s2);
    CHECK_EQ_INT(ERR_FORMAT, vis_dense_load(&ds, "cityscapes", root, 0, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "val/label/0.npy: label 7 at pixel 300 is not -1 or a class in 0..6");

    // a missing depth file
    lab[300] = 0.0f;
    write_npy(path, lab, 2, s2);
    snprintf(path, sizeof path, "%s/train/depth/0.npy", root);
    remove(path);
    CHECK_EQ_INT(ERR_IO, vis_dense_load(&ds, "cityscapes", root, 0, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "train/depth/0.npy");
    free(lab);

    // a gap in the numbering is reported, not cut off
    snprintf(root, sizeof root, "%s/gap", tmp);
    write_city_split(root, "train", 4, 1);
    write_city_split(root, "val", 1, 1);
    snprintf(path, sizeof path, "%s/train/image/2.npy", root);
    remove(path);
    CHECK_EQ_INT(ERR_IO, vis_dense_load(&ds, "cityscapes", root, 0, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "train/image/2.npy: file not found, but the folder has 3");

    // more images requested than the folder has
    snprintf(root, sizeof root, "%s/city", tmp);
    CHECK_EQ_INT(ERR_ARG, vis_dense_load(&ds, "cityscapes", root, 100, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "data.n_train 100, but");
}

// A 178 x 218 JPEG whose left half is dark and right half bright.
static void write_face(const char *path) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) {
        return;
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = 178;
    c.image_height = 218;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[178 * 3];
    for (int x = 0; x < 178; x++) {
        unsigned char v = x < 89 ? 20 : 230;
        row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = v;
    }
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(fp);
}

static const char *attr_names =
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses "
    "Goatee Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache "
    "Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks "
    "Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick "
    "Wearing_Necklace Wearing_Necktie Young";

static void celeba_fixture_loads(void) {
    char root[512], path[700], err[512];
    snprintf(root, sizeof root, "%s/celeba", tmp);
    snprintf(path, sizeof path, "%s/img_align_celeba", root);
    CHECK_EQ_INT(0, file_mkdirs(path, err, sizeof err));
    char text[8192];
    int len = snprintf(text, sizeof text, "4\n%s\n", attr_names);
    for (int i = 1; i <= 4; i++) {
        snprintf(path, sizeof path, "%s/img_align_celeba/%06d.jpg", root, i);
        write_face(path);
        len += snprintf(text + len, sizeof text - (size_t)len, "%06d.jpg", i);
        for (int a = 0; a < 40; a++) {
            // image i has attribute a set when a % 4 == i % 4
            len += snprintf(text + len, sizeof text - (size_t)len, " %2d",
                            a % 4 == i % 4 ? 1 : -1);
        }
        len += snprintf(text + len, sizeof text - (size_t)len, "\n");
    }
    snprintf(path, sizeof path, "%s/list_attr_celeba.txt", root);
    CHECK_EQ_INT(0, file_write_atomic(path, text, (size_t)len, err, sizeof err));
    const char *parts = "000001.jpg 0\n000002.jpg 0\n000003.jpg 1\n000004.jpg 2\n";
    snprintf(path, sizeof path, "%s/list_eval_partition.txt", root);
    CHECK_EQ_INT(0, file_write_atomic(path, parts, strlen(parts), err, sizeof err));

    VisDataset ds;
    int rc = vis_celeba_load(&ds, root, 0, 0, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc != 0) {
        return;
    }
    CHECK_EQ_INT(9, ds.n_tasks);
    CHECK_EQ_INT(2, ds.train.n);   // partition 1 (validation) is not used
    CHECK_EQ_INT(1, ds.test.n);
    CHECK(strcmp(ds.tasks[8].name, "Wearing_Hat") == 0);
    // 5_o_Clock_Shadow is column 0: set for i % 4 == 0, so image 4 only
    CHECK_EQ_INT(0, ds.train.labels[0][0]);
    CHECK_EQ_INT(1, ds.test.labels[0][0]);
    // Black_Hair is column 8 (8 % 4 == 0): image 4; Blond_Hair column 9: image 1
    CHECK_EQ_INT(1, ds.train.labels[2][0]);
    CHECK_EQ_INT(0, ds.train.labels[2][1]);
    // the centre crop keeps both halves: dark on the left, bright on the right
    CHECK_NEAR(20.0 / 255.0, ds.train.images[10 * 64 + 3], 0.03);
    CHECK_NEAR(230.0 / 255.0, ds.train.images[10 * 64 + 60], 0.03);
    vis_dataset_deinit(&ds);

    // a JPEG that is not one is named in the error
    snprintf(path, sizeof path, "%s/img_align_celeba/000002.jpg", root);
    CHECK_EQ_INT(0, file_write_atomic(path, "not a jpeg", 10, err, sizeof err));
    CHECK_EQ_INT(ERR_FORMAT, vis_celeba_load(&ds, root, 0, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "000002.jpg: JPEG decode failed");
    CHECK_EQ_INT(ERR_IO, vis_celeba_load(&ds, tmp, 0, 0, err, sizeof err));
    CHECK_STR_CONTAINS(err, "list_attr_celeba.txt: file not found");
}

int main(void) {
    log_set_level(LOG_WARN);
    check_tmpdir(tmp, sizeof tmp, "visload");
    RUN_TEST(npy_round_trip);
    RUN_TEST(npy_integer_dtypes);
    RUN_TEST(cityscapes_fixture_loads);
    RUN_TEST(dense_loader_errors_name_the_file);
    RUN_TEST(celeba_fixture_loads);
    check_rmtree(tmp);
    return check_summary();
}
