// Whole-file reads, atomic writes, appends and CRC-32.
// realpath is an XSI function, declared only with _XOPEN_SOURCE.
#define _XOPEN_SOURCE 700
#include "common/fileio.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

int file_read_all(const char *path, char **out, size_t *out_n, char *err, size_t err_sz) {
    *out = NULL;
    *out_n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (n + 1 < cap) {
            break;
        }
        cap *= 2;
        char *grown = realloc(buf, cap);
        if (!grown) {
            free(buf);
            buf = NULL;
        }
        buf = grown;
    }
    int failed = ferror(fp), read_errno = errno;
    fclose(fp);
    if (!buf) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory reading file", path);
    }
    if (failed) {
        free(buf);
        // a directory opens for reading and fails on the first read (EISDIR)
        return err_set(err, err_sz, ERR_IO, "%s: read failed: %s", path, strerror(read_errno));
    }
    buf[n] = '\0';
    *out = buf;
    *out_n = n;
    return ERR_OK;
}

int file_atomic_open(FileAtomic *w, const char *path, char *err, size_t err_sz) {
    memset(w, 0, sizeof *w);
    if (strlen(path) >= sizeof w->path) {
        return err_set(err, err_sz, ERR_ARG, "%s: path too long", path);
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    w->fp = fopen(w->tmp_path, "wb");
    if (!w->fp) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot create: %s", w->tmp_path,
                       strerror(errno));
    }
    return ERR_OK;
}

int file_atomic_commit(FileAtomic *w, char *err, size_t err_sz) {
    int ok = fflush(w->fp) == 0 && !ferror(w->fp) && fsync(fileno(w->fp)) == 0;
    int saved = errno;
    ok &= fclose(w->fp) == 0;
    w->fp = NULL;
    if (!ok) {
        unlink(w->tmp_path);
        return err_set(err, err_sz, ERR_IO, "%s: write failed: %s", w->tmp_path,
                       strerror(saved));
    }
    if (rename(w->tmp_path, w->path) != 0) {
        saved = errno;
        unlink(w->tmp_path);
        return err_set(err, err_sz, ERR_IO, "%s: rename failed: %s", w->path,
                       strerror(saved));
    }
    return ERR_OK;
}

void file_atomic_abort(FileAtomic *w) {
    if (w->fp) {
        fclose(w->fp);
        w->fp = NULL;
    }
    unlink(w->tmp_path);
}

int file_write_atomic(const char *path, const void *data, size_t n, char *err, size_t err_sz) {
    FileAtomic w;
    int rc = file_atomic_open(&w, path, err, err_sz);
    if (rc != ERR_OK) {
        return rc;
    }
    if (n > 0 && fwrite(data, 1, n, w.fp) != n) {
        file_atomic_abort(&w);
        return err_set(err, err_sz, ERR_IO, "%s: write failed", path);
    }
    return file_atomic_commit(&w, err, err_sz);
}

int file_append_line(const char *path, const char *line, char *err, size_t err_sz) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot open for append: %s", path,
                       strerror(errno));
    }
    size_t n = strlen(line);
    char *buf = err_xmalloc(n + 1, "log line");
    memcpy(buf, line, n);
    buf[n] = '\n';
    ssize_t wrote = write(fd, buf, n + 1);
    free(buf);
    close(fd);
    if (wrote != (ssize_t)(n + 1)) {
        return err_set(err, err_sz, ERR_IO, "%s: append failed", path);
    }
    return ERR_OK;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

// Table for the reflected polynomial 0xEDB88320.
static void crc_table_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[i] = c;
    }
}

uint32_t file_crc32(uint32_t crc, const void *data, size_t n) {
    pthread_once(&crc_once, crc_table_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int file_mkdirs(const char *path, char *err, size_t err_sz) {
    char buf[1024];
    if (strlen(path) >= sizeof buf) {
        return err_set(err, err_sz, ERR_ARG, "%s: path too long", path);
    }
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return err_set(err, err_sz, ERR_IO, "%s: cannot create directory: %s", buf,
                               strerror(errno));
            }
            *p = saved;
            if (saved == '\0') {
                break;
            }
        }
    }
    return ERR_OK;
}

int file_lock_dir(const char *dir, int *fd, char *err, size_t err_sz) {
    char path[1100];
    snprintf(path, sizeof path, "%s/.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT, 0644);
    if (*fd < 0) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot open lock file: %s", path,
                       strerror(errno));
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(*fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(*fd);
        *fd = -1;
        return err_set(err, err_sz, ERR_IO,
                       "%s is in use by another process (pid %s); wait for it to finish "
                       "or stop it first",
                       dir, pid[0] ? pid : "unknown");
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    // the pid only improves the message a second process prints, so a failed
    // write leaves the lock in place and is not an error
    if (ftruncate(*fd, 0) == 0) {
        (void)!pwrite(*fd, pid, (size_t)n, 0);
    }
    return ERR_OK;
}

int file_resolve(const char *path, char *out, size_t out_sz) {
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        return -1;
    }
    if (strlen(real) >= out_sz) {
        return -1;
    }
    memcpy(out, real, strlen(real) + 1);
    return 0;
}
