// env_bench: cost of the MT10 envs against bare MuJoCo physics.
//
// Per task: the env step (action handling, 5 mj_step, mj_forward,
// observation, reward) against the same 5 mj_step + 1 mj_forward on the
// same model with the same mocap and gripper inputs (recorded from the env
// run), nothing else. Both replay one scripted episode from the same reset
// state, so the physics does identical work. Also: the cost of one reset in
// env steps, and the ten-task vector env with 1 and 2 threads. Samples of
// the two sides alternate and each line reports medians; wall-clock and
// thread CPU time are both given because the machine may be shared.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mujoco/mujoco.h>

#include "envs/env.h"
#include "envs/scripted.h"
#include "envs/vec.h"

#define MAX_EPISODE 500

typedef struct Timer {
    double wall, cpu;
} Timer;

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static Timer timer_start(void) {
    Timer t = {now(CLOCK_MONOTONIC), now(CLOCK_THREAD_CPUTIME_ID)};
    return t;
}

static Timer timer_stop(Timer t0) {
    Timer t = {now(CLOCK_MONOTONIC) - t0.wall, now(CLOCK_THREAD_CPUTIME_ID) - t0.cpu};
    return t;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One recorded episode: actions, and the mocap and ctrl they produced.
typedef struct Episode {
    int n_steps;
    double actions[MAX_EPISODE][ENV_ACT_DIM];
    double mocap_pos[MAX_EPISODE][3];
    double ctrl[MAX_EPISODE][2];
} Episode;

static char err[2048];

// Runs the scripted controller for one episode on goal 0 and records it.
static void record_episode(EnvTask *env, int task, Episode *ep) {
    double obs[ENV_OBS_DIM], r;
    int trunc = 0;
    env_reset(env, 0, obs, err, sizeof err);
    mjData *d = env_data(env);
    ep->n_steps = 0;
    while (!trunc && ep->n_steps < MAX_EPISODE) {
        double *a = ep->actions[ep->n_steps];
        env_scripted_action(task, obs, a);
        env_step(env, a, obs, &r, &trunc, NULL, err, sizeof err);
        memcpy(ep->mocap_pos[ep->n_steps], d->mocap_pos, 3 * sizeof(double));
        memcpy(ep->ctrl[ep->n_steps], d->ctrl, 2 * sizeof(double));
        ep->n_steps++;
    }
}

// Times the env replaying the episode from a fresh reset on goal 0; also
// leaves the reset state in bare (for the physics replay) and returns the
// time of the reset itself in *reset_time.
static Timer time_env(EnvTask *env, const Episode *ep, mjData *bare, Timer *reset_time) {
    double obs[ENV_OBS_DIM], r;
    int trunc;
    Timer t0 = timer_start();
    env_reset(env, 0, obs, err, sizeof err);
    *reset_time = timer_stop(t0);
    mj_copyData(bare, env_model(env), env_data(env));
    t0 = timer_start();
    for (int t = 0; t < ep->n_steps; t++) {
        env_step(env, ep->actions[t], obs, &r, &trunc, NULL, err, sizeof err);
    }
    return timer_stop(t0);
}

// Times the bare physics: the same inputs, 5 mj_step and 1 mj_forward.
static Timer time_bare(const mjModel *m, mjData *d, const Episode *ep) {
    Timer t0 = timer_start();
    for (int t = 0; t < ep->n_steps; t++) {
        memcpy(d->mocap_pos, ep->mocap_pos[t], 3 * sizeof(double));
        d->mocap_quat[0] = 1.0;
        d->mocap_quat[1] = 0.0;
        d->mocap_quat[2] = 1.0;
        d->mocap_quat[3] = 0.0;
        memcpy(d->ctrl, ep->ctrl[t], 2 * sizeof(double));
        for (int s = 0; s < 5; s++) {
            mj_step(m, d);
        }
        mj_forward(m, d);
    }
    return timer_stop(t0);
}

// Benchmarks one task; returns 1 when it misses a goal.
static int bench_task(int task, const EnvConfig *cfg, int samples) {
    EnvTask *env = NULL;
    if (env_create(&env, env_task_name(task), cfg, err, sizeof err) != 0) {
        fprintf(stderr, "env_bench: %s\n", err);
        exit(1);
    }
    static Episode ep;
    record_episode(env, task, &ep);

    // alternate the env and the bare physics, one episode each per sample
    mjData *bare = mj_makeData(env_model(env));
    double env_wall[64], env_cpu[64], bare_wall[64], bare_cpu[64], reset_cpu[64];
    for (int s = 0; s < samples; s++) {
        Timer reset;
        Timer e = time_env(env, &ep, bare, &reset);
        Timer b = time_bare(env_model(env), bare, &ep);
        env_wall[s] = e.wall;
        env_cpu[s] = e.cpu;
        bare_wall[s] = b.wall;
        bare_cpu[s] = b.cpu;
        reset_cpu[s] = reset.cpu;
    }

    // rates from medians; the reset in units of one env step's CPU time
    double n = ep.n_steps;
    double env_sps = n / median(env_wall, samples), bare_sps = n / median(bare_wall, samples);
    double env_cpu_s = median(env_cpu, samples) / n, bare_cpu_s = median(bare_cpu, samples) / n;
    double cpu_ratio = bare_cpu_s / env_cpu_s;
    double reset_steps = median(reset_cpu, samples) / env_cpu_s;
    printf("task=%-24s steps=%d bare_sps=%.0f env_sps=%.0f ratio=%.3f cpu_ratio=%.3f "
           "reset_env_steps=%.1f\n", env_task_name(task), ep.n_steps, bare_sps, env_sps,
           env_sps / bare_sps, cpu_ratio, reset_steps);

    mj_deleteData(bare);
    env_destroy(env);
    return cpu_ratio < 0.90 || reset_steps > 50.0;
}

// Times n_steps vector steps of the ten tasks with the scripted
// controllers, resetting truncated envs.
static Timer time_vec(EnvVec *vec, int n_steps) {
    static float obs[ENV_N_TASKS][ENV_OBS_DIM], act[ENV_N_TASKS][ENV_ACT_DIM];
    float rewards[ENV_N_TASKS];
    int trunc[ENV_N_TASKS];
    env_vec_reset_all(vec, &obs[0][0], err, sizeof err);
    Timer t0 = timer_start();
    for (int t = 0; t < n_steps; t++) {
        for (int i = 0; i < ENV_N_TASKS; i++) {
            double o[ENV_OBS_DIM], a[ENV_ACT_DIM];
            for (int j = 0; j < ENV_OBS_DIM; j++) {
                o[j] = obs[i][j];
            }
            env_scripted_action(i, o, a);
            for (int j = 0; j < ENV_ACT_DIM; j++) {
                act[i][j] = (float)a[j];
            }
        }
        env_vec_step(vec, &act[0][0], &obs[0][0], rewards, trunc, NULL, err, sizeof err);
        for (int i = 0; i < ENV_N_TASKS; i++) {
            if (trunc[i]) {
                env_vec_reset(vec, i, ENV_GOAL_NEXT, obs[i], err, sizeof err);
            }
        }
    }
    return timer_stop(t0);
}

// Ten-task vector env with 1 and 2 threads, samples alternating.
static int bench_vec(const EnvConfig *cfg, int samples, int n_steps) {
    static const int tasks[ENV_N_TASKS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    EnvVec *one = NULL, *two = NULL;
    if (env_vec_create(&one, tasks, ENV_N_TASKS, cfg, 1, err, sizeof err) != 0 ||
        env_vec_create(&two, tasks, ENV_N_TASKS, cfg, 2, err, sizeof err) != 0) {
        fprintf(stderr, "env_bench: %s\n", err);
        exit(1);
    }
    double w1[64], w2[64];
    for (int s = 0; s < samples; s++) {
        w1[s] = time_vec(one, n_steps).wall;
        w2[s] = time_vec(two, n_steps).wall;
    }
    double sps1 = ENV_N_TASKS * n_steps / median(w1, samples);
    double sps2 = ENV_N_TASKS * n_steps / median(w2, samples);
    printf("vec tasks=10 steps=%d threads=1 env_sps=%.0f threads=2 env_sps=%.0f "
           "speedup=%.2f\n", n_steps, sps1, sps2, sps2 / sps1);
    env_vec_destroy(one);
    env_vec_destroy(two);
    return sps2 / sps1 < 1.5;
}

int main(int argc, char **argv) {
    EnvConfig cfg;
    env_config_defaults(&cfg);
    int samples = 5, vec_steps = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--assets") == 0 && i + 1 < argc) {
            snprintf(cfg.assets, sizeof cfg.assets, "%s", argv[++i]);
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            samples = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--vec-steps") == 0 && i + 1 < argc) {
            vec_steps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: env_bench [--assets DIR] [--samples N (1..64)] "
                            "[--vec-steps N]\n");
            return 1;
        }
    }
    if (samples < 1 || samples > 64 || vec_steps < 1) {
        fprintf(stderr, "env_bench: --samples must be 1..64 and --vec-steps positive\n");
        return 1;
    }
    printf("env_bench: MuJoCo %s, scenes %s, median of %d samples; ratio = env steps/s "
           "over bare physics steps/s (wall), cpu_ratio the same in thread CPU time\n",
           mj_versionString(), cfg.assets[0] ? cfg.assets : "built-in", samples);
    int missed = 0;
    for (int k = 0; k < ENV_N_TASKS; k++) {
        missed += bench_task(k, &cfg, samples);
    }
    missed += bench_vec(&cfg, samples, vec_steps);
    printf("goals (cpu_ratio >= 0.90, reset <= 50 env steps, speedup >= 1.5): %s\n",
           missed ? "missed" : "met");
    return 0;
}
