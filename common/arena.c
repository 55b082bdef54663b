// Scratch arena implementation.
#include "common/arena.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ARENA_ALIGN 64

int arena_init(Arena *arena, size_t cap) {
    memset(arena, 0, sizeof *arena);
    cap = (cap + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (cap == 0) {
        cap = ARENA_ALIGN;
    }
    arena->base = aligned_alloc(ARENA_ALIGN, cap);
    if (!arena->base) {
        return ERR_NOMEM;
    }
    arena->cap = cap;
    return ERR_OK;
}

void arena_deinit(Arena *arena) {
    free(arena->base);
    memset(arena, 0, sizeof *arena);
}

void *arena_alloc(Arena *arena, size_t n) {
    size_t size = (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    ASSERT(arena->used + size <= arena->cap,
           "arena full: request %zu bytes, %zu of %zu in use", n, arena->used, arena->cap);
    void *p = arena->base + arena->used;
    arena->used += size;
    if (arena->used > arena->peak) {
        arena->peak = arena->used;
    }
    return p;
}

float *arena_alloc_floats(Arena *arena, size_t n) {
    float *p = arena_alloc(arena, n * sizeof(float));
    memset(p, 0, n * sizeof(float));
    return p;
}

size_t arena_mark(const Arena *arena) {
    return arena->used;
}

void arena_reset(Arena *arena, size_t mark) {
    ASSERT(mark <= arena->used, "arena_reset: mark %zu past used %zu", mark, arena->used);
    arena->used = mark;
}
