// MT19937 (Matsumoto and Nishimura, 1998) and Meta-World's goal draw order.
#include "envs/goals.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "envs/tasks.h"

#define MT_N 624
#define MT_M 397

void env_mt_init(EnvMt19937 *mt, uint32_t seed) {
    mt->mt[0] = seed;
    for (int i = 1; i < MT_N; i++) {
        uint32_t prev = mt->mt[i - 1];
        mt->mt[i] = 1812433253u * (prev ^ (prev >> 30)) + (uint32_t)i;
    }
    mt->index = MT_N;
}

// Regenerates the 624 words of state.
static void mt_twist(EnvMt19937 *mt) {
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (mt->mt[i] & 0x80000000u) | (mt->mt[(i + 1) % MT_N] & 0x7fffffffu);
        mt->mt[i] = mt->mt[(i + MT_M) % MT_N] ^ (y >> 1) ^ mag01[y & 1u];
    }
    mt->index = 0;
}

uint32_t env_mt_next(EnvMt19937 *mt) {
    if (mt->index >= MT_N) {
        mt_twist(mt);
    }
    uint32_t y = mt->mt[mt->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double env_mt_uniform(EnvMt19937 *mt) {
    uint32_t a = env_mt_next(mt) >> 5;
    uint32_t b = env_mt_next(mt) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

// One numpy uniform(lo, hi, size=dim) draw: lo + (hi - lo) * u per component.
static void draw_vector(EnvMt19937 *mt, const EnvTaskDef *def, double *v) {
    for (int i = 0; i < def->rand_dim; i++) {
        double u = env_mt_uniform(mt);
        v[i] = def->rand_lo[i] + (def->rand_hi[i] - def->rand_lo[i]) * u;
    }
}

// One reset_model call: draw, then redraw while the object and goal (or peg
// and box) are closer than the task's minimum xy distance.
static void draw_accepted(EnvMt19937 *mt, const EnvTaskDef *def, double *v) {
    draw_vector(mt, def, v);
    while (def->min_xy_dist > 0.0 &&
           hypot(v[0] - v[3], v[1] - v[4]) < def->min_xy_dist) {
        draw_vector(mt, def, v);
    }
}

void env_goals_generate(uint32_t seed, double goals[ENV_N_TASKS][ENV_N_GOALS][ENV_RAND_DIM]) {
    EnvMt19937 mt;
    env_mt_init(&mt, seed);
    memset(goals, 0, sizeof(double) * ENV_N_TASKS * ENV_N_GOALS * ENV_RAND_DIM);
    for (int k = 0; k < ENV_N_TASKS; k++) {
        const EnvTaskDef *def = env_task_def(k);
        for (int g = 0; g < ENV_N_GOALS; g++) {
            // each reset runs reset_model twice; the second vector is kept
            draw_accepted(&mt, def, goals[k][g]);
            draw_accepted(&mt, def, goals[k][g]);
        }

        // Meta-World asserts that the 50 vectors are distinct
        for (int g = 0; g < ENV_N_GOALS; g++) {
            for (int h = 0; h < g; h++) {
                ASSERT(memcmp(goals[k][g], goals[k][h], sizeof goals[k][g]) != 0,
                       "seed %u: task %s goals %d and %d are equal", (unsigned)seed,
                       def->name, h, g);
            }
        }
    }
}
