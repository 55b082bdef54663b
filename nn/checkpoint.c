// Checkpoint files: a 16-byte header (magic, version, section count), named
// sections each with its own CRC-32, and a trailing CRC-32 over the file.
//
// The writer streams sections through common/fileio.h's atomic writer and
// only learns the section count at commit, after the header was written. It
// therefore keeps a running CRC of the body and combines it with the CRC of
// the final header arithmetically, so large checkpoints are never re-read.
#include "nn/checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static const char ckpt_magic[8] = {'C', 'O', 'N', 'A', 'L', 'C', 'K', 'P'};

enum {
    HEADER_BYTES = 16,                           // magic, version, count
    SECTION_HEADER_BYTES = NN_CKPT_NAME_LEN + 12, // name, u64 size, u32 CRC
    TRAILER_BYTES = 4,
};

// ---- little-endian encoding ----

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

// ---- CRC-32 of a concatenation ----

// Applies a linear map over GF(2)^32, given as the images of the 32 unit
// vectors, to v.
static uint32_t gf2_apply(const uint32_t map[32], uint32_t v) {
    uint32_t out = 0;
    for (int i = 0; v; i++, v >>= 1) {
        if (v & 1) {
            out ^= map[i];
        }
    }
    return out;
}

// Advances a raw CRC-32 register (no pre- or post-inversion) over n zero
// bytes in O(log n) map squarings.
static uint32_t crc32_skip_zeros(uint32_t reg, uint64_t n) {
    // one zero byte is eight shifts of the reflected polynomial 0xEDB88320
    uint32_t map[32], squared[32];
    for (int i = 0; i < 32; i++) {
        uint32_t c = 1u << i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
        map[i] = c;
    }

    // binary powering; powers of one map commute, so the order is free
    while (n) {
        if (n & 1) {
            reg = gf2_apply(map, reg);
        }
        n >>= 1;
        if (n) {
            for (int i = 0; i < 32; i++) {
                squared[i] = gf2_apply(map, map[i]);
            }
            memcpy(map, squared, sizeof map);
        }
    }
    return reg;
}

// CRC-32 of A followed by B from crc(A), crc(B) and the length of B. The
// register is linear, so crc(A B) = crc(B) xor (crc(A) advanced over |B|
// zero bytes). The pre- and post-inversions cancel in that difference.
static uint32_t crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
    return crc_b ^ crc32_skip_zeros(crc_a, len_b);
}

// ---- writer ----

// Writes bytes that belong to the body (after the header) and updates the
// running CRC. Marks the writer failed on a short write.
static int write_body(NnCkptWriter *w, const void *data, size_t n) {
    if (n > 0 && fwrite(data, 1, n, w->file.fp) != n) {
        w->failed = 1;
        return 0;
    }
    w->crc = file_crc32(w->crc, data, n);
    w->n_body += n;
    return 1;
}

static void free_names(NnCkptWriter *w) {
    free(w->names);
    w->names = NULL;
    w->names_cap = 0;
}

int nn_ckpt_writer_open(NnCkptWriter *w, const char *path, char *err, size_t err_sz) {
    memset(w, 0, sizeof *w);
    int rc = file_atomic_open(&w->file, path, err, err_sz);
    if (rc != ERR_OK) {
        return rc;
    }

    // the count stays 0 until commit patches it in place
    unsigned char header[HEADER_BYTES];
    memcpy(header, ckpt_magic, sizeof ckpt_magic);
    put_u32(header + 8, NN_CKPT_VERSION);
    put_u32(header + 12, 0);
    w->count_pos = 12;
    if (fwrite(header, 1, sizeof header, w->file.fp) != sizeof header) {
        file_atomic_abort(&w->file);
        return err_set(err, err_sz, ERR_IO, "%s: writing the checkpoint header failed", path);
    }
    return ERR_OK;
}

// Returns 1 when name was already written to this checkpoint.
static int name_taken(const NnCkptWriter *w, const char *name) {
    for (uint32_t i = 0; i < w->n_sections; i++) {
        if (strcmp(w->names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

// Records a section name, growing the list as needed. Returns 0 on failure.
static int remember_name(NnCkptWriter *w, const char *name) {
    if (w->n_sections == w->names_cap) {
        uint32_t cap = w->names_cap ? 2 * w->names_cap : 16;
        char(*grown)[NN_CKPT_NAME_LEN] = realloc(w->names, cap * sizeof *w->names);
        if (!grown) {
            return 0;
        }
        w->names = grown;
        w->names_cap = cap;
    }
    memset(w->names[w->n_sections], 0, NN_CKPT_NAME_LEN);
    memcpy(w->names[w->n_sections], name, strlen(name));
    return 1;
}

int nn_ckpt_write(NnCkptWriter *w, const char *name, const void *data, size_t size,
                  char *err, size_t err_sz) {
    const char *path = w->file.path;
    if (w->failed) {
        return err_set(err, err_sz, ERR_IO, "%s: an earlier write failed", path);
    }
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= NN_CKPT_NAME_LEN) {
        return err_set(err, err_sz, ERR_ARG,
                       "%s: section name '%s' must have 1 to %d characters", path,
                       name ? name : "(null)", NN_CKPT_NAME_LEN - 1);
    }
    if (name_taken(w, name)) {
        return err_set(err, err_sz, ERR_ARG, "%s: section '%s' written twice", path, name);
    }
    if (!data && size > 0) {
        return err_set(err, err_sz, ERR_ARG, "%s: section '%s' has %zu bytes but no data",
                       path, name, size);
    }
    if (!remember_name(w, name)) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory recording section '%s'",
                       path, name);
    }

    // name (NUL-padded), u64 size, u32 CRC of the data, then the data
    unsigned char record[SECTION_HEADER_BYTES] = {0};
    memcpy(record, name, len);
    put_u64(record + NN_CKPT_NAME_LEN, (uint64_t)size);
    put_u32(record + NN_CKPT_NAME_LEN + 8, file_crc32(0, data, size));
    if (!write_body(w, record, sizeof record) || !write_body(w, data, size)) {
        return err_set(err, err_sz, ERR_IO, "%s: writing section '%s' failed", path, name);
    }
    w->n_sections++;
    return ERR_OK;
}

int nn_ckpt_writer_commit(NnCkptWriter *w, char *err, size_t err_sz) {
    char path[sizeof w->file.path];
    memcpy(path, w->file.path, sizeof path);
    free_names(w);
    if (w->failed) {
        file_atomic_abort(&w->file);
        return err_set(err, err_sz, ERR_IO, "%s: not written because a section write failed",
                       path);
    }

    // patch the count into the header, then append the CRC of the whole file
    unsigned char header[HEADER_BYTES], trailer[TRAILER_BYTES];
    memcpy(header, ckpt_magic, sizeof ckpt_magic);
    put_u32(header + 8, NN_CKPT_VERSION);
    put_u32(header + 12, w->n_sections);
    uint32_t crc = crc32_combine(file_crc32(0, header, sizeof header), w->crc, w->n_body);
    put_u32(trailer, crc);
    FILE *fp = w->file.fp;
    int ok = fseek(fp, w->count_pos, SEEK_SET) == 0 && fwrite(header + 12, 1, 4, fp) == 4 &&
             fseek(fp, 0, SEEK_END) == 0 && fwrite(trailer, 1, sizeof trailer, fp) == 4;
    if (!ok) {
        file_atomic_abort(&w->file);
        return err_set(err, err_sz, ERR_IO, "%s: finishing the checkpoint failed", path);
    }
    return file_atomic_commit(&w->file, err, err_sz);
}

void nn_ckpt_writer_abort(NnCkptWriter *w) {
    free_names(w);
    file_atomic_abort(&w->file);
}

// ---- reader ----

// Fills ck->sections by walking the section records, checking every bound.
static int parse_sections(NnCkpt *ck, uint32_t count, char *err, size_t err_sz) {
    const char *path = ck->path;
    size_t end = ck->n_bytes - TRAILER_BYTES;
    size_t offset = HEADER_BYTES;

    // every section needs at least its record header, which bounds count
    // before it sizes an allocation
    if (count > (end - HEADER_BYTES) / SECTION_HEADER_BYTES) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "%s: truncated or corrupt: header declares %u sections in %zu bytes",
                       path, count, ck->n_bytes);
    }
    ck->sections = calloc(count ? count : 1, sizeof *ck->sections);
    if (!ck->sections) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory for %u sections", path,
                       count);
    }
    for (uint32_t s = 0; s < count; s++) {
        if (end - offset < SECTION_HEADER_BYTES) {
            return err_set(err, err_sz, ERR_FORMAT,
                           "%s: truncated: section %u of %u starts at byte %zu of %zu", path,
                           s + 1, count, offset, ck->n_bytes);
        }
        const unsigned char *rec = ck->buf + offset;
        NnCkptSection *sec = &ck->sections[s];
        if (rec[0] == '\0' || !memchr(rec, '\0', NN_CKPT_NAME_LEN)) {
            return err_set(err, err_sz, ERR_FORMAT,
                           "%s: corrupt: section %u has an invalid name", path, s + 1);
        }
        memcpy(sec->name, rec, NN_CKPT_NAME_LEN);
        uint64_t size = get_u64(rec + NN_CKPT_NAME_LEN);
        offset += SECTION_HEADER_BYTES;
        if (size > end - offset) {
            return err_set(err, err_sz, ERR_FORMAT,
                           "%s: truncated or corrupt: section '%s' declares %llu bytes, "
                           "%zu remain", path, sec->name, (unsigned long long)size,
                           end - offset);
        }
        sec->size = (size_t)size;
        sec->data = ck->buf + offset;
        if (file_crc32(0, sec->data, sec->size) != get_u32(rec + NN_CKPT_NAME_LEN + 8)) {
            return err_set(err, err_sz, ERR_FORMAT, "%s: corrupt: section '%s' fails its CRC-32",
                           path, sec->name);
        }
        for (uint32_t k = 0; k < s; k++) {
            if (strcmp(ck->sections[k].name, sec->name) == 0) {
                return err_set(err, err_sz, ERR_FORMAT, "%s: corrupt: section '%s' appears twice",
                               path, sec->name);
            }
        }
        offset += sec->size;
        ck->n_sections = (int)s + 1;
    }
    if (offset != end) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "%s: corrupt: %zu unexpected bytes after the last section", path,
                       end - offset);
    }
    return ERR_OK;
}

// Checks magic, version, the sections and the trailing CRC of ck->buf.
static int validate(NnCkpt *ck, char *err, size_t err_sz) {
    const char *path = ck->path;
    const unsigned char *buf = ck->buf;
    size_t n = ck->n_bytes;
    size_t n_magic = n < sizeof ckpt_magic ? n : sizeof ckpt_magic;
    if (memcmp(buf, ckpt_magic, n_magic) != 0) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "%s: not a conal checkpoint (the file does not start with CONALCKP)",
                       path);
    }
    if (n < HEADER_BYTES + TRAILER_BYTES) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "%s: truncated: %zu bytes, a checkpoint has at least %d", path, n,
                       HEADER_BYTES + TRAILER_BYTES);
    }
    uint32_t version = get_u32(buf + 8);
    if (version != NN_CKPT_VERSION) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "%s: unsupported checkpoint format version %u (this build reads %d)",
                       path, version, NN_CKPT_VERSION);
    }

    // when both the section walk and the file CRC fail, report the walk's
    // error: "truncated at byte N" says more than a CRC mismatch does
    uint32_t stored = get_u32(buf + n - TRAILER_BYTES);
    uint32_t computed = file_crc32(0, buf, n - TRAILER_BYTES);
    char walk_err[512] = "";
    int rc = parse_sections(ck, get_u32(buf + 12), walk_err, sizeof walk_err);
    if (rc == ERR_NOMEM || (rc != ERR_OK && stored != computed)) {
        return err_set(err, err_sz, rc, "%s", walk_err);
    }
    if (stored != computed) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "%s: corrupt: file CRC-32 is %08x, the trailer stores %08x", path,
                       computed, stored);
    }
    if (rc != ERR_OK) {
        return err_set(err, err_sz, rc, "%s. The file CRC-32 matches, so the writer produced it.",
                       walk_err);
    }
    return ERR_OK;
}

int nn_ckpt_load(NnCkpt *ck, const char *path, char *err, size_t err_sz) {
    memset(ck, 0, sizeof *ck);
    snprintf(ck->path, sizeof ck->path, "%s", path);
    char *text = NULL;
    int rc = file_read_all(path, &text, &ck->n_bytes, err, err_sz);
    if (rc != ERR_OK) {
        return rc;
    }
    ck->buf = (unsigned char *)text;
    rc = validate(ck, err, err_sz);
    if (rc != ERR_OK) {
        nn_ckpt_unload(ck);
    }
    return rc;
}

void nn_ckpt_unload(NnCkpt *ck) {
    free(ck->buf);
    free(ck->sections);
    ck->buf = NULL;
    ck->sections = NULL;
    ck->n_sections = 0;
    ck->n_bytes = 0;
}

const NnCkptSection *nn_ckpt_find(const NnCkpt *ck, const char *name) {
    for (int s = 0; s < ck->n_sections; s++) {
        if (strcmp(ck->sections[s].name, name) == 0) {
            return &ck->sections[s];
        }
    }
    return NULL;
}

int nn_ckpt_read(const NnCkpt *ck, const char *name, void *dst, size_t size, char *err,
                 size_t err_sz) {
    const NnCkptSection *sec = nn_ckpt_find(ck, name);
    if (!sec) {
        return err_set(err, err_sz, ERR_FORMAT, "%s: section '%s' not found", ck->path, name);
    }
    if (sec->size != size) {
        return err_set(err, err_sz, ERR_MISMATCH,
                       "%s: section '%s' has %zu bytes, expected %zu", ck->path, name,
                       sec->size, size);
    }
    if (size > 0) {
        memcpy(dst, sec->data, size);
    }
    return ERR_OK;
}
