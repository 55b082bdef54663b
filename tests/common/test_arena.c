// Arena: alignment, mark/reset and the peak counter.
#include "common/arena.h"

#include <stdint.h>

#include "common/error.h"
#include "tests/check.h"

static void alloc_aligned_and_reset(void) {
    Arena a;
    CHECK_EQ_INT(ERR_OK, arena_init(&a, 4096));
    float *x = arena_alloc_floats(&a, 3);
    CHECK(((uintptr_t)x & 63) == 0);
    CHECK(x[0] == 0.0f);
    CHECK(x[2] == 0.0f);
    size_t mark = arena_mark(&a);
    void *y = arena_alloc(&a, 100);
    CHECK(((uintptr_t)y & 63) == 0);
    CHECK(arena_mark(&a) > mark);
    arena_reset(&a, mark);
    CHECK_EQ_INT(mark, arena_mark(&a));
    void *z = arena_alloc(&a, 100);
    CHECK(z == y);
    CHECK(a.peak >= 64 + 128);
    arena_deinit(&a);
    CHECK(a.base == NULL);
}

int main(void) {
    RUN_TEST(alloc_aligned_and_reset);
    return check_summary();
}
