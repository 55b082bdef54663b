// The 50 fixed goal variations ("random vectors") per MT10 task, reproduced
// from a benchmark seed exactly as Meta-World v3 builds them.
//
// Meta-World seeds numpy's legacy global RandomState (MT19937) once, then for
// each task in MT10 order resets a fresh env 50 times and records the random
// vector of each reset. One reset draws two vectors (reset_model runs twice),
// each with the task's rejection rule, and keeps the second; the stream
// continues from task to task. Shapes: K = ENV_N_TASKS, G = ENV_N_GOALS,
// R = ENV_RAND_DIM.
#ifndef ENVS_GOALS_H
#define ENVS_GOALS_H

#include <stdint.h>

#include "envs/env.h"

// Mersenne Twister MT19937 state, as in numpy's legacy RandomState.
typedef struct EnvMt19937 {
    uint32_t mt[624];
    int index;
} EnvMt19937;

// Seeds with init_genrand(seed), which is what np.random.seed(int) does for
// seeds below 2^32.
void env_mt_init(EnvMt19937 *mt, uint32_t seed);

// Next 32-bit output.
uint32_t env_mt_next(EnvMt19937 *mt);

// Uniform double in [0, 1) with 53 bits from two outputs (genrand_res53,
// numpy's random_sample).
double env_mt_uniform(EnvMt19937 *mt);

// Writes the goal table of all ten tasks for a benchmark seed (< 2^32) to
// goals (K x G x R, unused tail entries 0).
void env_goals_generate(uint32_t seed, double goals[ENV_N_TASKS][ENV_N_GOALS][ENV_RAND_DIM]);

#endif
