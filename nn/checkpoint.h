// Checkpoint files: named binary sections with a checked header.
//
// Layout (little-endian): magic "CONALCKP", u32 format version, u32 section
// count, then per section: name (32 bytes, NUL-padded), u64 size in bytes,
// u32 CRC-32 of the data, the data. A trailing u32 CRC-32 covers everything
// before it. Files are written to a temporary path and renamed, so a crash
// never leaves a half-written checkpoint. Loading validates the whole file
// first: a truncated, corrupted or foreign file is an error naming the path
// and the problem; a section of unexpected size is ERR_MISMATCH naming it.
#ifndef NN_CHECKPOINT_H
#define NN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/fileio.h"

#define NN_CKPT_VERSION 1
#define NN_CKPT_NAME_LEN 32

typedef struct NnCkptWriter {
    FileAtomic file;
    uint32_t n_sections;
    uint32_t crc;            // running CRC-32 of everything after the 16-byte header
    long count_pos;          // file offset of the section count
    int failed;
    uint64_t n_body;         // bytes written after the header
    char (*names)[NN_CKPT_NAME_LEN];  // (n_sections) names written, for uniqueness
    uint32_t names_cap;      // capacity of names
} NnCkptWriter;

// Starts a checkpoint at path (written atomically on commit).
int nn_ckpt_writer_open(NnCkptWriter *w, const char *path, char *err, size_t err_sz);

// Appends one section; name is at most 31 characters and unique.
int nn_ckpt_write(NnCkptWriter *w, const char *name, const void *data, size_t size,
                  char *err, size_t err_sz);

// Finishes the file and renames it into place; on error nothing is replaced.
int nn_ckpt_writer_commit(NnCkptWriter *w, char *err, size_t err_sz);

// Abandons the write; the old file at path, if any, is untouched.
void nn_ckpt_writer_abort(NnCkptWriter *w);

typedef struct NnCkptSection {
    char name[NN_CKPT_NAME_LEN];
    size_t size;
    const unsigned char *data;   // borrowed: points into NnCkpt.buf
} NnCkptSection;

typedef struct NnCkpt {
    char path[1024];
    unsigned char *buf;          // whole file contents
    size_t n_bytes;
    int n_sections;
    NnCkptSection *sections;     // (n_sections)
} NnCkpt;

// Reads and validates a checkpoint. Returns 0, ERR_IO or ERR_FORMAT.
int nn_ckpt_load(NnCkpt *ck, const char *path, char *err, size_t err_sz);
void nn_ckpt_unload(NnCkpt *ck);

// Section by name, or NULL.
const NnCkptSection *nn_ckpt_find(const NnCkpt *ck, const char *name);

// Copies section name into dst, which must be exactly size bytes. Returns 0,
// ERR_FORMAT when missing or ERR_MISMATCH when the size differs (the message
// names the section, the path and both sizes).
int nn_ckpt_read(const NnCkpt *ck, const char *name, void *dst, size_t size,
                 char *err, size_t err_sz);

#endif
