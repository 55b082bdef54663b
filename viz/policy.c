// Loading a run's actor for the viewer, and its actions.
#include "viz/policy.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "nn/checkpoint.h"

int viz_locate_run(const char *arg, char *cfg_path, char *ckpt_path, size_t path_sz,
                   char *err, size_t err_sz) {
    struct stat st;
    if (stat(arg, &st) != 0) {
        return err_set(err, err_sz, ERR_IO,
                       "%s: not found; expected a run directory or a checkpoint file", arg);
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(cfg_path, path_sz, "%s/config.json", arg);
        snprintf(ckpt_path, path_sz, "%s/checkpoint.bin", arg);
        return 0;
    }
    const char *slash = strrchr(arg, '/');
    if (slash) {
        snprintf(cfg_path, path_sz, "%.*s/config.json", (int)(slash - arg), arg);
    } else {
        snprintf(cfg_path, path_sz, "config.json");
    }
    snprintf(ckpt_path, path_sz, "%s", arg);
    return 0;
}

// Training step stored by the trainer, or -1 when the checkpoint has none.
// NOTE: reads the first two int64 fields (format 1, then step) of the
// trainer's "trainer.counters" section. Its struct is private to rl/train.c,
// so another format gives -1 and the overlay shows an unknown step.
static long long read_train_step(const NnCkpt *ck) {
    const NnCkptSection *s = nn_ckpt_find(ck, "trainer.counters");
    int64_t head[2];
    if (!s || s->size < sizeof head) {
        return -1;
    }
    memcpy(head, s->data, sizeof head);
    return head[0] == 1 ? (long long)head[1] : -1;
}

// Creates the agent for p->cfg and loads the checkpoint into it. A CoNAL
// run's networks depend on its phase, which rl_conal_run_resume reads from
// the checkpoint, as a resumed `conal train` does.
static int load_agent(VizPolicy *p, const char *cfg_path, const char *ckpt_path, char *err,
                      size_t err_sz) {
    char dir[1200];
    const char *slash = strrchr(cfg_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - cfg_path) : 1,
             slash ? cfg_path : ".");
    int rc = rl_conal_run_init(&p->conal, &p->cfg, dir, NULL, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    RngState init;
    rng_init(&init, 0);
    p->sac = rl_sac_create(&p->cfg, ENV_N_TASKS, ENV_OBS_DIM, ENV_ACT_DIM, &init, 0, err,
                           err_sz);
    if (!p->sac) {
        return ERR_CONFIG;
    }
    NnCkpt ck;
    rc = nn_ckpt_load(&ck, ckpt_path, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    if (p->conal.active) {
        rc = rl_conal_run_resume(&p->conal, &p->cfg, &ck, dir, &p->sac, err, err_sz);
        if (rc != 0) {
            nn_ckpt_unload(&ck);
            return rc;
        }
    }
    char detail[2048];
    rc = rl_sac_load(p->sac, &ck, detail, sizeof detail);
    if (rc == ERR_MISMATCH || rc == ERR_FORMAT) {
        rc = err_set(err, err_sz, ERR_MISMATCH,
                     "%s does not fit the networks of %s (%s, %d tasks): %s; was the "
                     "checkpoint written by another run or another architecture?",
                     ckpt_path, cfg_path, p->cfg.method, ENV_N_TASKS, detail);
    } else if (rc != 0) {
        err_set(err, err_sz, rc, "%s", detail);
    }
    p->train_step = read_train_step(&ck);
    nn_ckpt_unload(&ck);
    return rc;
}

int viz_policy_load(VizPolicy *p, const char *run, int random, char *err, size_t err_sz) {
    memset(p, 0, sizeof *p);
    p->train_step = -1;
    rl_config_defaults(&p->cfg);
    char cfg_path[1200] = "", ckpt_path[1200] = "";
    int rc = 0;
    if (run) {
        rc = viz_locate_run(run, cfg_path, ckpt_path, sizeof cfg_path, err, err_sz);
        if (rc == 0) {
            rc = rl_config_load(&p->cfg, cfg_path, NULL, 0, err, err_sz);
        }
    }
    if (rc == 0 && !random) {
        ASSERT(run, "viz_policy_load: no run and not random");
        rc = load_agent(p, cfg_path, ckpt_path, err, err_sz);
    }
    if (rc != 0) {
        viz_policy_free(p);
        return rc;
    }
    rng_init(&p->rng, (uint64_t)p->cfg.seed);
    snprintf(p->source, sizeof p->source, "%s", random ? "random" : ckpt_path);
    return 0;
}

void viz_policy_free(VizPolicy *p) {
    rl_sac_destroy(p->sac);
    p->sac = NULL;
    rl_conal_run_deinit(&p->conal);
    p->cfg.conal_arch = NULL;
}

void viz_policy_act(VizPolicy *p, const int *tasks, const float *obs, int n, float *actions) {
    ASSERT(n >= 1 && n <= ENV_N_TASKS, "viz_policy_act: %d envs", n);
    if (!p->sac) {
        for (int j = 0; j < n * ENV_ACT_DIM; j++) {
            actions[j] = (float)rng_range(&p->rng, -1.0, 1.0);
        }
        return;
    }

    // one row per task block; tasks not playing keep zero rows
    float blocks[ENV_N_TASKS * ENV_OBS_DIM] = {0};
    float out[ENV_N_TASKS * ENV_ACT_DIM];
    for (int i = 0; i < n; i++) {
        ASSERT(tasks[i] >= 0 && tasks[i] < ENV_N_TASKS, "viz_policy_act: task %d", tasks[i]);
        memcpy(blocks + tasks[i] * ENV_OBS_DIM, obs + i * ENV_OBS_DIM,
               sizeof(float) * ENV_OBS_DIM);
    }
    rl_sac_act(p->sac, blocks, 1, 1, NULL, out);
    for (int i = 0; i < n; i++) {
        memcpy(actions + i * ENV_ACT_DIM, out + tasks[i] * ENV_ACT_DIM,
               sizeof(float) * ENV_ACT_DIM);
    }
}

void viz_env_config(const RlConfig *cfg, EnvConfig *ec) {
    env_config_defaults(ec);
    snprintf(ec->assets, sizeof ec->assets, "%s", cfg->assets);
    ec->max_steps = cfg->episode_length;
    ec->seed = (uint64_t)cfg->benchmark_seed;
    ec->torquescale = cfg->torquescale;
    ec->one_hot = 0;
}
