// Scratch arena: one block, bump allocation, mark and reset.
//
// Objects size their arena from the config at create time and take hot-path
// temporaries from it, so forward, backward and step never call malloc.
// Running out of arena space is a sizing bug and fails through ASSERT.
#ifndef COMMON_ARENA_H
#define COMMON_ARENA_H

#include <stddef.h>

typedef struct Arena {
    char *base;      // (cap) owned block, 64-byte aligned
    size_t cap;      // capacity in bytes
    size_t used;     // bytes in use
    size_t peak;     // high-water mark of used, for sizing
} Arena;

// Allocates an arena of cap bytes; returns 0 or ERR_NOMEM.
int arena_init(Arena *arena, size_t cap);
void arena_deinit(Arena *arena);

// Returns n bytes aligned to 64; fails through ASSERT when the arena is full.
void *arena_alloc(Arena *arena, size_t n);

// Typed helper: zero-filled array of n floats.
float *arena_alloc_floats(Arena *arena, size_t n);

// Current position, to hand back to arena_reset later.
size_t arena_mark(const Arena *arena);

// Frees everything allocated since mark.
void arena_reset(Arena *arena, size_t mark);

#endif
