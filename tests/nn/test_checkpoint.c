// Checkpoints: bit-exact round trips, the documented byte layout, and
// rejection of truncated, bit-flipped, foreign, newer and mismatched files
// with messages that name the path and the problem.
#include "nn/checkpoint.h"

#include <dirent.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/fileio.h"
#include "tests/check.h"

static char tmp_dir[256];

// Builds a path inside the test's private directory.
static void tmp_path(char *out, size_t out_sz, const char *name) {
    snprintf(out, out_sz, "%s/%s", tmp_dir, name);
}

// Writes raw bytes to path (no atomic rename: tests forge broken files).
static void write_raw(const char *path, const unsigned char *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        CHECK(fwrite(data, 1, n, fp) == n);
        fclose(fp);
    }
}

// Stores a fresh trailing CRC-32, so a forged change passes the file check.
static void refresh_trailer(unsigned char *data, size_t n) {
    uint32_t crc = file_crc32(0, data, n - 4);
    for (int i = 0; i < 4; i++) {
        data[n - 4 + i] = (unsigned char)(crc >> (8 * i));
    }
}

static uint32_t read_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float params_data[37];
static int64_t step_data[2] = {123456789012LL, -5};

// Writes the standard three-section test checkpoint to path.
static int write_sample(const char *path) {
    char err[512];
    NnCkptWriter w;
    int rc = nn_ckpt_writer_open(&w, path, err, sizeof err);
    if (rc != ERR_OK) {
        fprintf(stderr, "%s\n", err);
        return rc;
    }
    if ((rc = nn_ckpt_write(&w, "params", params_data, sizeof params_data, err, sizeof err)) ||
        (rc = nn_ckpt_write(&w, "empty", NULL, 0, err, sizeof err)) ||
        (rc = nn_ckpt_write(&w, "step", step_data, sizeof step_data, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        nn_ckpt_writer_abort(&w);
        return rc;
    }
    rc = nn_ckpt_writer_commit(&w, err, sizeof err);
    if (rc != ERR_OK) {
        fprintf(stderr, "%s\n", err);
    }
    return rc;
}

static void fill_params(void) {
    // values whose bits a lossy round trip would change
    for (int i = 0; i < 37; i++) {
        params_data[i] = (float)i * 0.1f - 1.7f;
    }
    params_data[0] = -0.0f;
    params_data[1] = 1e-42f;  // subnormal
    params_data[2] = NAN;
    params_data[3] = -INFINITY;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static void round_trip_bit_exact(void) {
    char path[512], err[512];
    tmp_path(path, sizeof path, "round.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(path));

    NnCkpt ck;
    CHECK_EQ_INT(ERR_OK, nn_ckpt_load(&ck, path, err, sizeof err));
    CHECK_EQ_INT(3, ck.n_sections);
    float params[37];
    int64_t step[2];
    CHECK_EQ_INT(ERR_OK, nn_ckpt_read(&ck, "params", params, sizeof params, err, sizeof err));
    CHECK(memcmp(params, params_data, sizeof params) == 0);
    CHECK_EQ_INT(ERR_OK, nn_ckpt_read(&ck, "step", step, sizeof step, err, sizeof err));
    CHECK(memcmp(step, step_data, sizeof step) == 0);
    CHECK_EQ_INT(ERR_OK, nn_ckpt_read(&ck, "empty", NULL, 0, err, sizeof err));

    // sections keep their order and names
    CHECK(strcmp(ck.sections[0].name, "params") == 0);
    CHECK(strcmp(ck.sections[1].name, "empty") == 0);
    CHECK(strcmp(ck.sections[2].name, "step") == 0);
    CHECK(nn_ckpt_find(&ck, "step") == &ck.sections[2]);
    CHECK(nn_ckpt_find(&ck, "steps") == NULL);
    nn_ckpt_unload(&ck);
    CHECK(ck.buf == NULL);
    nn_ckpt_unload(&ck);

    // only the checkpoint is left, no temporary file
    CHECK_EQ_INT(1, count_entries(tmp_dir));
    remove(path);
}

static void layout_matches_documentation(void) {
    char path[512], err[512];
    tmp_path(path, sizeof path, "layout.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(path));
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_OK, file_read_all(path, &text, &n, err, sizeof err));
    const unsigned char *buf = (const unsigned char *)text;

    // header, three records of 32 + 8 + 4 bytes plus data, trailer
    size_t expected = 16 + 3 * 44 + sizeof params_data + sizeof step_data + 4;
    CHECK_EQ_INT(expected, n);
    CHECK(memcmp(buf, "CONALCKP", 8) == 0);
    CHECK_EQ_INT(NN_CKPT_VERSION, read_le32(buf + 8));
    CHECK_EQ_INT(3, read_le32(buf + 12));
    CHECK(strcmp((const char *)buf + 16, "params") == 0);
    CHECK_EQ_INT(sizeof params_data, read_le32(buf + 16 + 32));
    CHECK_EQ_INT(0, read_le32(buf + 16 + 36));
    CHECK_EQ_INT(file_crc32(0, params_data, sizeof params_data), read_le32(buf + 16 + 40));

    // the trailer, computed by the writer without re-reading, is the plain
    // CRC-32 of every byte before it
    CHECK_EQ_INT(file_crc32(0, buf, n - 4), read_le32(buf + n - 4));
    free(text);
    remove(path);
}

static void large_section_crc(void) {
    // a 3 MB body exercises the CRC combination over many squarings
    size_t n_floats = 3 << 18;
    float *big = malloc(n_floats * sizeof(float));
    for (size_t i = 0; i < n_floats; i++) {
        big[i] = (float)(i % 1000) * 0.5f;
    }
    char path[512], err[512];
    tmp_path(path, sizeof path, "big.ckpt");
    NnCkptWriter w;
    CHECK_EQ_INT(ERR_OK, nn_ckpt_writer_open(&w, path, err, sizeof err));
    CHECK_EQ_INT(ERR_OK, nn_ckpt_write(&w, "big", big, n_floats * sizeof(float), err,
                                       sizeof err));
    CHECK_EQ_INT(ERR_OK, nn_ckpt_write(&w, "tail", "x", 1, err, sizeof err));
    CHECK_EQ_INT(ERR_OK, nn_ckpt_writer_commit(&w, err, sizeof err));
    NnCkpt ck;
    CHECK_EQ_INT(ERR_OK, nn_ckpt_load(&ck, path, err, sizeof err));
    const NnCkptSection *sec = nn_ckpt_find(&ck, "big");
    CHECK(sec != NULL);
    if (sec) {
        CHECK_EQ_INT(n_floats * sizeof(float), sec->size);
        CHECK(memcmp(sec->data, big, sec->size) == 0);
    }
    nn_ckpt_unload(&ck);
    free(big);
    remove(path);
}

// Loads path and checks the code and that the message names the path and
// contains what.
static void expect_load_error(const char *path, int code, const char *what) {
    char err[512] = "";
    NnCkpt ck;
    CHECK_EQ_INT(code, nn_ckpt_load(&ck, path, err, sizeof err));
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, what);
    CHECK(ck.buf == NULL);
    CHECK(ck.sections == NULL);
}

static void truncated_rejected(void) {
    char good[512], cut[512], err[512];
    tmp_path(good, sizeof good, "good.ckpt");
    tmp_path(cut, sizeof cut, "cut.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(good));
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_OK, file_read_all(good, &text, &n, err, sizeof err));

    // cut inside the header, a record header, the data and the trailer
    size_t lengths[] = {0, 5, 12, 19, 20, 40, 70, 16 + 44 + 20, n - 40, n - 4, n - 1};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        write_raw(cut, (const unsigned char *)text, lengths[k]);
        expect_load_error(cut, ERR_FORMAT, "truncated");
    }
    free(text);
    remove(good);
    remove(cut);
}

static void every_bit_flip_rejected(void) {
    char good[512], bad[512], err[512];
    tmp_path(good, sizeof good, "flip-src.ckpt");
    tmp_path(bad, sizeof bad, "flip.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(good));
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_OK, file_read_all(good, &text, &n, err, sizeof err));
    unsigned char *buf = (unsigned char *)text;

    // every single-bit error anywhere in the file is detected
    int accepted = 0, wrong_code = 0;
    for (size_t byte = 0; byte < n; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            // a fresh name per file: rewriting one file in place makes ext4
            // flush it on every truncate (auto_da_alloc), which is slow
            char name[64];
            snprintf(name, sizeof name, "flip-%zu-%d.ckpt", byte, bit);
            tmp_path(bad, sizeof bad, name);
            buf[byte] ^= (unsigned char)(1u << bit);
            write_raw(bad, buf, n);
            buf[byte] ^= (unsigned char)(1u << bit);
            NnCkpt ck;
            err[0] = '\0';
            int rc = nn_ckpt_load(&ck, bad, err, sizeof err);
            if (rc == ERR_OK) {
                accepted++;
                nn_ckpt_unload(&ck);
            } else if (rc != ERR_FORMAT || !strstr(err, bad)) {
                wrong_code++;
            }
            remove(bad);
        }
    }
    CHECK_EQ_INT(0, accepted);
    CHECK_EQ_INT(0, wrong_code);

    // a flip in the data alone is reported as corruption
    buf[16 + 44 + 8] ^= 0x10;
    write_raw(bad, buf, n);
    expect_load_error(bad, ERR_FORMAT, "corrupt");
    free(text);
    remove(good);
    remove(bad);
}

static void section_crc_checked(void) {
    // change data and refresh the file CRC: the section CRC still catches it
    char good[512], bad[512], err[512];
    tmp_path(good, sizeof good, "sec-src.ckpt");
    tmp_path(bad, sizeof bad, "sec.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(good));
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_OK, file_read_all(good, &text, &n, err, sizeof err));
    unsigned char *buf = (unsigned char *)text;
    buf[16 + 44 + 4] ^= 0x01;
    refresh_trailer(buf, n);
    write_raw(bad, buf, n);
    expect_load_error(bad, ERR_FORMAT, "section 'params' fails its CRC-32");
    free(text);
    remove(good);
    remove(bad);
}

static void foreign_file_rejected(void) {
    char path[512];
    tmp_path(path, sizeof path, "foreign.ckpt");
    const unsigned char zip[] = "PK\x03\x04 this is some other file, long enough to parse";
    write_raw(path, zip, sizeof zip);
    expect_load_error(path, ERR_FORMAT, "not a conal checkpoint");
    write_raw(path, (const unsigned char *)"CONX", 4);
    expect_load_error(path, ERR_FORMAT, "not a conal checkpoint");
    remove(path);
}

static void newer_version_rejected(void) {
    char good[512], bad[512], err[512];
    tmp_path(good, sizeof good, "ver-src.ckpt");
    tmp_path(bad, sizeof bad, "ver.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(good));
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_OK, file_read_all(good, &text, &n, err, sizeof err));
    unsigned char *buf = (unsigned char *)text;
    buf[8] = 2;
    refresh_trailer(buf, n);
    write_raw(bad, buf, n);
    expect_load_error(bad, ERR_FORMAT, "unsupported checkpoint format version 2");
    free(text);
    remove(good);
    remove(bad);
}

static void section_size_mismatch(void) {
    char path[512], err[512];
    tmp_path(path, sizeof path, "size.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(path));
    NnCkpt ck;
    CHECK_EQ_INT(ERR_OK, nn_ckpt_load(&ck, path, err, sizeof err));
    float small[36];
    CHECK_EQ_INT(ERR_MISMATCH, nn_ckpt_read(&ck, "params", small, sizeof small, err, sizeof err));
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "section 'params' has 148 bytes, expected 144");
    CHECK_EQ_INT(ERR_FORMAT, nn_ckpt_read(&ck, "target", small, sizeof small, err, sizeof err));
    CHECK_STR_CONTAINS(err, path);
    CHECK_STR_CONTAINS(err, "section 'target' not found");
    nn_ckpt_unload(&ck);
    remove(path);
}

static void missing_file_is_io_error(void) {
    char path[512];
    tmp_path(path, sizeof path, "absent.ckpt");
    expect_load_error(path, ERR_IO, "cannot open");
}

static void writer_rejects_bad_names(void) {
    char path[512], err[512];
    tmp_path(path, sizeof path, "names.ckpt");
    NnCkptWriter w;
    CHECK_EQ_INT(ERR_OK, nn_ckpt_writer_open(&w, path, err, sizeof err));
    float x = 1.0f;
    CHECK_EQ_INT(ERR_ARG, nn_ckpt_write(&w, "", &x, sizeof x, err, sizeof err));
    CHECK_STR_CONTAINS(err, "must have 1 to 31 characters");
    CHECK_EQ_INT(ERR_ARG, nn_ckpt_write(&w, "a_name_that_is_thirty_two_chars_", &x, sizeof x,
                                        err, sizeof err));
    CHECK_EQ_INT(ERR_OK, nn_ckpt_write(&w, "a_name_that_is_thirty_one_chars", &x, sizeof x,
                                       err, sizeof err));
    CHECK_EQ_INT(ERR_ARG, nn_ckpt_write(&w, "a_name_that_is_thirty_one_chars", &x, sizeof x,
                                        err, sizeof err));
    CHECK_STR_CONTAINS(err, "written twice");
    CHECK_EQ_INT(ERR_ARG, nn_ckpt_write(&w, "nodata", NULL, 4, err, sizeof err));
    CHECK_EQ_INT(ERR_OK, nn_ckpt_writer_commit(&w, err, sizeof err));

    NnCkpt ck;
    CHECK_EQ_INT(ERR_OK, nn_ckpt_load(&ck, path, err, sizeof err));
    CHECK_EQ_INT(1, ck.n_sections);
    nn_ckpt_unload(&ck);
    remove(path);
}

static void abort_keeps_old_file(void) {
    char path[512], err[512];
    tmp_path(path, sizeof path, "keep.ckpt");
    CHECK_EQ_INT(ERR_OK, write_sample(path));
    char *before;
    size_t n_before;
    CHECK_EQ_INT(ERR_OK, file_read_all(path, &before, &n_before, err, sizeof err));

    NnCkptWriter w;
    CHECK_EQ_INT(ERR_OK, nn_ckpt_writer_open(&w, path, err, sizeof err));
    CHECK_EQ_INT(ERR_OK, nn_ckpt_write(&w, "params", "new", 3, err, sizeof err));
    nn_ckpt_writer_abort(&w);

    char *after;
    size_t n_after;
    CHECK_EQ_INT(ERR_OK, file_read_all(path, &after, &n_after, err, sizeof err));
    CHECK_EQ_INT(n_before, n_after);
    CHECK(memcmp(before, after, n_before) == 0);
    CHECK_EQ_INT(1, count_entries(tmp_dir));
    free(before);
    free(after);
    remove(path);
}

static void unwritable_path_is_io_error(void) {
    char path[512], err[512] = "";
    tmp_path(path, sizeof path, "no/such/dir/x.ckpt");
    NnCkptWriter w;
    CHECK_EQ_INT(ERR_IO, nn_ckpt_writer_open(&w, path, err, sizeof err));
    CHECK_STR_CONTAINS(err, "no/such/dir/x.ckpt");
}

int main(void) {
    check_tmpdir(tmp_dir, sizeof tmp_dir, "ckpt");
    fill_params();
    RUN_TEST(round_trip_bit_exact);
    RUN_TEST(layout_matches_documentation);
    RUN_TEST(large_section_crc);
    RUN_TEST(truncated_rejected);
    RUN_TEST(every_bit_flip_rejected);
    RUN_TEST(section_crc_checked);
    RUN_TEST(foreign_file_rejected);
    RUN_TEST(newer_version_rejected);
    RUN_TEST(section_size_mismatch);
    RUN_TEST(missing_file_is_io_error);
    RUN_TEST(writer_rejects_bad_names);
    RUN_TEST(abort_keeps_old_file);
    RUN_TEST(unwritable_path_is_io_error);
    check_rmtree(tmp_dir);
    return check_summary();
}
