// RNG: reproducible streams, ranges and moments.
#include "common/rng.h"

#include "tests/check.h"

static void same_seed_same_stream(void) {
    RngState a, b;
    rng_init(&a, 1234);
    rng_init(&b, 1234);
    int equal = 1;
    for (int i = 0; i < 1000; i++) {
        equal &= rng_next_u64(&a) == rng_next_u64(&b);
    }
    CHECK(equal);
}

static void different_seeds_differ(void) {
    RngState a, b;
    rng_init(&a, 1);
    rng_init(&b, 2);
    CHECK(rng_next_u64(&a) != rng_next_u64(&b));
    rng_init_stream(&a, 7, 0);
    rng_init_stream(&b, 7, 1);
    CHECK(rng_next_u64(&a) != rng_next_u64(&b));
}

// Known first outputs pin the algorithm, so a change to seeding or the
// generator (which would silently change every run) fails here.
static void golden_first_values(void) {
    RngState a;
    rng_init(&a, 0);
    uint64_t first = rng_next_u64(&a);
    RngState b;
    rng_init(&b, 0);
    CHECK(first == rng_next_u64(&b));
    // splitmix64(0) expansion then xoshiro256**: value computed once and frozen
    CHECK_MSG(first == 0x99ec5f36cb75f2b4ULL, "got 0x%016llx", (unsigned long long)first);
}

static void uniform_in_range_and_mean(void) {
    RngState r;
    rng_init(&r, 42);
    double sum = 0.0;
    int in_range = 1;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        in_range &= u >= 0.0 && u < 1.0;
        sum += u;
    }
    CHECK(in_range);
    CHECK_NEAR(0.5, sum / n, 0.005);

    float f = rng_uniform_f(&r);
    CHECK(f >= 0.0f);
    CHECK(f < 1.0f);
    double x = rng_range(&r, -2.0, 3.0);
    CHECK(x >= -2.0);
    CHECK(x < 3.0);
}

static void below_covers_all_values(void) {
    RngState r;
    rng_init(&r, 5);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t k = rng_below(&r, 7);
        CHECK(k < 7);
        counts[k]++;
    }
    for (int k = 0; k < 7; k++) {
        CHECK_NEAR(10000, counts[k], 500);
    }
}

static void normal_moments(void) {
    RngState r;
    rng_init(&r, 99);
    const int n = 200000;
    double s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double z = rng_normal(&r);
        s1 += z;
        s2 += z * z;
    }
    CHECK_NEAR(0.0, s1 / n, 0.01);
    CHECK_NEAR(1.0, s2 / n, 0.02);
}

static void state_copy_forks_stream(void) {
    RngState a;
    rng_init(&a, 3);
    rng_normal(&a);
    RngState b = a;
    CHECK(rng_normal(&a) == rng_normal(&b));
    CHECK(rng_next_u64(&a) == rng_next_u64(&b));
}

int main(void) {
    RUN_TEST(same_seed_same_stream);
    RUN_TEST(different_seeds_differ);
    RUN_TEST(golden_first_values);
    RUN_TEST(uniform_in_range_and_mean);
    RUN_TEST(below_covers_all_values);
    RUN_TEST(normal_moments);
    RUN_TEST(state_copy_forks_stream);
    return check_summary();
}
