// xoshiro256** (Blackman and Vigna, 2018) with splitmix64 seeding.
#include "common/rng.h"

#include <math.h>

#include "common/error.h"

// One splitmix64 step: advances *x and returns a well-mixed 64-bit value.
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void rng_init(RngState *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        rng->s[i] = splitmix64(&x);
    }
    rng->spare_normal = 0.0;
    rng->has_spare = 0;
}

void rng_init_stream(RngState *rng, uint64_t seed, uint64_t stream) {
    // mix the stream id through splitmix64 so nearby ids give unrelated seeds
    uint64_t x = stream ^ 0x5851f42d4c957f2dULL;
    rng_init(rng, seed ^ splitmix64(&x));
}

uint64_t rng_next_u64(RngState *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(RngState *rng) {
    return (double)(rng_next_u64(rng) >> 11) * 0x1.0p-53;
}

float rng_uniform_f(RngState *rng) {
    return (float)(rng_next_u64(rng) >> 40) * 0x1.0p-24f;
}

double rng_range(RngState *rng, double lo, double hi) {
    return lo + (hi - lo) * rng_uniform(rng);
}

uint64_t rng_below(RngState *rng, uint64_t n) {
    ASSERT(n > 0, "rng_below: n must be positive");

    // reject the top sliver of the range so every residue is equally likely
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = rng_next_u64(rng);
    } while (x >= limit);
    return x % n;
}

double rng_normal(RngState *rng) {
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare_normal;
    }

    // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1]
    double u1 = 1.0 - rng_uniform(rng);
    double u2 = rng_uniform(rng);
    double r = sqrt(-2.0 * log(u1));
    double theta = 6.283185307179586476925 * u2;  // 2 pi
    rng->spare_normal = r * sin(theta);
    rng->has_spare = 1;
    return r * cos(theta);
}
