// Explicit random number state: xoshiro256** seeded through splitmix64.
//
// Every object that draws random numbers owns an RngState, so results never
// depend on a hidden global stream or on thread scheduling. The state is a
// plain struct: copying it forks the stream, saving it checkpoints it.
#ifndef COMMON_RNG_H
#define COMMON_RNG_H

#include <stdint.h>

typedef struct RngState {
    uint64_t s[4];          // xoshiro256** state, never all zero
    double spare_normal;    // second draw of the last Box-Muller pair
    int has_spare;          // 1 when spare_normal is valid
} RngState;

// Seeds the state from one 64-bit seed (splitmix64 expansion).
void rng_init(RngState *rng, uint64_t seed);

// Seeds a stream derived from (seed, stream), for per-env or per-task
// generators that must not overlap.
void rng_init_stream(RngState *rng, uint64_t seed, uint64_t stream);

uint64_t rng_next_u64(RngState *rng);

// Uniform double in [0, 1) with 53 random bits.
double rng_uniform(RngState *rng);

// Uniform float in [0, 1) with 24 random bits.
float rng_uniform_f(RngState *rng);

// Uniform double in [lo, hi).
double rng_range(RngState *rng, double lo, double hi);

// Uniform integer in [0, n) without modulo bias; n must be positive.
uint64_t rng_below(RngState *rng, uint64_t n);

// Standard normal draw (Box-Muller, caches the second value).
double rng_normal(RngState *rng);

#endif
