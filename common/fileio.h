// Whole-file reads, atomic writes and CRC-32.
//
// Atomic writes go to "PATH.tmp.PID", are flushed and fsync'd, then renamed
// over PATH, so a reader sees the old file or the new one, never a partial
// write, even if the process is killed mid-write.
#ifndef COMMON_FILEIO_H
#define COMMON_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// Reads a whole file into a malloc'd, NUL-terminated buffer (*out, *out_n
// excludes the terminator). Returns 0 or ERR_IO with a message naming path.
int file_read_all(const char *path, char **out, size_t *out_n, char *err, size_t err_sz);

// Writes n bytes to path atomically.
int file_write_atomic(const char *path, const void *data, size_t n, char *err, size_t err_sz);

// Streamed atomic write: open, fwrite to w->fp, then commit (or abort).
typedef struct FileAtomic {
    FILE *fp;             // temporary file being written
    char path[1024];      // final path
    char tmp_path[1100];  // temporary path
} FileAtomic;

int file_atomic_open(FileAtomic *w, const char *path, char *err, size_t err_sz);

// Flushes, fsyncs and renames the temporary file over the final path.
int file_atomic_commit(FileAtomic *w, char *err, size_t err_sz);

// Closes and deletes the temporary file; the final path is untouched.
void file_atomic_abort(FileAtomic *w);

// Appends one line to a log file (JSONL metrics) and flushes it. The line is
// written with a single write call, so a crash leaves whole lines behind.
int file_append_line(const char *path, const char *line, char *err, size_t err_sz);

// CRC-32 (IEEE 802.3 polynomial), continuing from crc (start with 0).
uint32_t file_crc32(uint32_t crc, const void *data, size_t n);

// Takes an exclusive advisory lock (flock) on DIR/.lock, creating it, and
// writes this process's pid into it. The lock lasts until *fd is closed or
// the process exits, so a killed process never leaves a stale lock. Returns
// 0, or ERR_IO when another process holds the lock (the message names the
// directory and that process's pid).
int file_lock_dir(const char *dir, int *fd, char *err, size_t err_sz);

// 1 if path exists (file or directory).
int file_exists(const char *path);

// Writes the absolute path of an existing file or folder into out, with
// symbolic links, "." and ".." resolved. Returns 0, or -1 when path does
// not exist or the result does not fit out_sz.
int file_resolve(const char *path, char *out, size_t out_sz);

// Creates a directory and its parents (mkdir -p). Returns 0 or ERR_IO.
int file_mkdirs(const char *path, char *err, size_t err_sz);

#endif
