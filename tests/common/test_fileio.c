// File helpers: atomic writes leave no temporary behind, CRC-32 test vector.
#include "common/fileio.h"

#include <dirent.h>
#include <unistd.h>

#include "common/error.h"
#include "tests/check.h"

static void crc32_known_vector(void) {
    // the standard check value of CRC-32/ISO-HDLC
    CHECK(file_crc32(0, "123456789", 9) == 0xCBF43926u);
    uint32_t part = file_crc32(0, "12345", 5);
    CHECK(file_crc32(part, "6789", 4) == 0xCBF43926u);
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

static void atomic_write_roundtrip(void) {
    char dir[256], path[512], err[256];
    check_tmpdir(dir, sizeof dir, "fileio");
    snprintf(path, sizeof path, "%s/a.txt", dir);
    CHECK_EQ_INT(ERR_OK, file_write_atomic(path, "hello", 5, err, sizeof err));
    CHECK_EQ_INT(ERR_OK, file_write_atomic(path, "bye", 3, err, sizeof err));
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_OK, file_read_all(path, &text, &n, err, sizeof err));
    CHECK_EQ_INT(3, n);
    CHECK(strcmp(text, "bye") == 0);
    free(text);
    CHECK_EQ_INT(1, count_entries(dir));

    // an aborted write leaves the old file and no temporary
    FileAtomic w;
    CHECK_EQ_INT(ERR_OK, file_atomic_open(&w, path, err, sizeof err));
    fputs("partial", w.fp);
    file_atomic_abort(&w);
    CHECK_EQ_INT(ERR_OK, file_read_all(path, &text, &n, err, sizeof err));
    CHECK(strcmp(text, "bye") == 0);
    free(text);
    CHECK_EQ_INT(1, count_entries(dir));
    check_rmtree(dir);
}

static void missing_file_names_path(void) {
    char err[256];
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_IO, file_read_all("/nonexistent/x.json", &text, &n, err, sizeof err));
    CHECK_STR_CONTAINS(err, "/nonexistent/x.json");
}

static void append_and_mkdirs(void) {
    char dir[256], sub[512], path[600], err[256];
    check_tmpdir(dir, sizeof dir, "fileio");
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    CHECK_EQ_INT(ERR_OK, file_mkdirs(sub, err, sizeof err));
    CHECK(file_exists(sub));
    snprintf(path, sizeof path, "%s/m.jsonl", sub);
    CHECK_EQ_INT(ERR_OK, file_append_line(path, "{\"a\":1}", err, sizeof err));
    CHECK_EQ_INT(ERR_OK, file_append_line(path, "{\"a\":2}", err, sizeof err));
    char *text;
    size_t n;
    CHECK_EQ_INT(ERR_OK, file_read_all(path, &text, &n, err, sizeof err));
    CHECK(strcmp(text, "{\"a\":1}\n{\"a\":2}\n") == 0);
    free(text);
    check_rmtree(dir);
}

static void dir_lock_is_exclusive(void) {
    char dir[256], err[512];
    check_tmpdir(dir, sizeof dir, "fileio");
    int fd1 = -1, fd2 = -1;
    CHECK_EQ_INT(ERR_OK, file_lock_dir(dir, &fd1, err, sizeof err));
    CHECK(fd1 >= 0);

    // a second open file description conflicts even within one process
    CHECK_EQ_INT(ERR_IO, file_lock_dir(dir, &fd2, err, sizeof err));
    CHECK_STR_CONTAINS(err, "is in use by another process (pid ");
    CHECK_EQ_INT(-1, fd2);
    close(fd1);
    CHECK_EQ_INT(ERR_OK, file_lock_dir(dir, &fd2, err, sizeof err));
    close(fd2);
    check_rmtree(dir);
}

int main(void) {
    RUN_TEST(crc32_known_vector);
    RUN_TEST(atomic_write_roundtrip);
    RUN_TEST(missing_file_names_path);
    RUN_TEST(append_and_mkdirs);
    RUN_TEST(dir_lock_is_exclusive);
    return check_summary();
}
