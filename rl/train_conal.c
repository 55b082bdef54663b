// The CoNAL phases of `conal train`: search, derive, retrain.
//
// Dimension letters: K tasks, P branch points.
#include "rl/train_conal.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/log.h"
#include "envs/env.h"
#include "rl/net_conal.h"
#include "rl/sac_conal.h"

// Networks of an agent, in arch.json and checkpoint order.
static const char *const net_names[3] = {"actor", "q1", "q2"};

// RNG streams of the retrain phase's fresh agent, after the trainer's 1 to 4.
enum { STREAM_RETRAIN_INIT = 5, STREAM_RETRAIN_NOISE = 6 };

// The three networks of sac.
static void sac_nets(const RlSac *sac, const RlNet *nets[3]) {
    nets[0] = sac->actor;
    nets[1] = sac->q1;
    nets[2] = sac->q2;
}

// Loads arch.json at path and checks that it has every network of an agent.
static int load_arch(ConalArch *arch, const char *path, char *err, size_t err_sz) {
    int rc = conal_arch_load(arch, path, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        if (!conal_arch_find(arch, net_names[i])) {
            return err_set(err, err_sz, ERR_FORMAT,
                           "%s: no network named \"%s\"; a SAC agent needs actor, q1 and q2",
                           path, net_names[i]);
        }
    }
    return 0;
}

// Creates the retrain agent for cfg (cfg->conal_arch set) with fresh weights
// from streams of the run seed, sized like old.
static RlSac *create_retrain_sac(const RlConfig *cfg, const RlSac *old, char *err,
                                 size_t err_sz) {
    uint64_t seed = (uint64_t)cfg->seed;
    RngState init_rng, noise;
    rng_init_stream(&init_rng, seed, STREAM_RETRAIN_INIT);
    rng_init_stream(&noise, seed, STREAM_RETRAIN_NOISE);
    return rl_sac_create(cfg, old->n_tasks, old->n_obs, old->n_act, &init_rng,
                         rng_next_u64(&noise), err, err_sz);
}

int rl_conal_run_init(RlConalRun *run, RlConfig *cfg, const char *dir, const char *arch_path,
                      char *err, size_t err_sz) {
    memset(run, 0, sizeof *run);
    cfg->conal_arch = NULL;
    if (!rl_config_is_conal(cfg)) {
        if (arch_path) {
            return err_set(err, err_sz, ERR_ARG,
                           "--arch: agent.method is \"%s\"; only conal, conal-pcgrad and "
                           "conal-cagrad retrain an architecture",
                           cfg->method);
        }
        return 0;
    }
    run->active = 1;
    run->search_steps = cfg->search_steps;
    run->arch_adam = nn_adam_defaults();
    run->arch_adam.lr = (float)cfg->search_arch_lr;
    run->arch_adam.beta1 = (float)cfg->adam_beta1;
    run->arch_adam.beta2 = (float)cfg->adam_beta2;
    run->arch_adam.eps = (float)cfg->adam_eps;

    // a run without search retrains a given architecture from the start
    if (cfg->search_steps == 0) {
        char path[1200];
        if (arch_path) {
            snprintf(path, sizeof path, "%s", arch_path);
        } else {
            snprintf(path, sizeof path, "%s/arch.json", dir);
            if (!file_exists(path)) {
                return err_set(err, err_sz, ERR_ARG,
                               "search.steps is 0 and %s does not exist; pass --arch FILE "
                               "to retrain a given architecture",
                               path);
            }
        }
        int rc = load_arch(&run->arch, path, err, err_sz);
        if (rc != 0) {
            return rc;
        }
        run->retraining = 1;
        cfg->conal_arch = &run->arch;
    }
    if (rl_batch_init(&run->val, ENV_N_TASKS, cfg->batch_size, ENV_OBS_DIM, ENV_ACT_DIM) != 0) {
        return err_set(err, err_sz, ERR_NOMEM, "conal: out of memory for the validation batch");
    }
    return 0;
}

int rl_conal_run_write_arch(const RlConalRun *run, const char *dir, char *err, size_t err_sz) {
    if (!run->active || !run->retraining || run->search_steps > 0) {
        return 0;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/arch.json", dir);
    return conal_arch_save(&run->arch, path, err, err_sz);
}

void rl_conal_run_deinit(RlConalRun *run) {
    if (run->active) {
        rl_batch_deinit(&run->val);
    }
    memset(run, 0, sizeof *run);
}

int64_t rl_conal_run_phase_start(const RlConalRun *run) {
    return run->retraining ? (int64_t)run->search_steps : 0;
}

void rl_conal_run_arch_update(RlConalRun *run, RlSac *sac, const RlReplay *replay,
                              RngState *rng) {
    if (!run->active || run->retraining) {
        return;
    }
    rl_replay_sample(replay, rng, &run->val);
    rl_sac_conal_arch_update(sac, &run->val, &run->arch_adam);
}

int rl_conal_run_switch_due(const RlConalRun *run, int64_t step) {
    return run->active && !run->retraining && step >= (int64_t)run->search_steps;
}

// Logs each network's branch points, one line per network.
static void log_arch(const ConalArch *arch, const char *path) {
    for (int i = 0; i < arch->n_nets; i++) {
        const ConalArchNet *a = &arch->nets[i];
        char text[256];
        size_t len = 0;
        for (int t = 0; t < a->n_tasks && len < sizeof text; t++) {
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%d", t ? " " : "",
                                    a->branch[t]);
        }
        log_info("conal: %s branch points per task [%s], %zu of %zu parameters kept (%s)",
                 a->name, text, a->params_derived, a->params_supernet, path);
    }
}

int rl_conal_run_switch(RlConalRun *run, RlConfig *cfg, const char *dir, RlSac **sac,
                        RlReplay *replay, char *err, size_t err_sz) {
    ASSERT(rl_conal_run_switch_due(run, (int64_t)run->search_steps),
           "conal switch: the run is not searching");

    // derive every network; the target critics share their critic's supernet
    ConalArch arch;
    memset(&arch, 0, sizeof arch);
    const RlNet *nets[3];
    sac_nets(*sac, nets);
    for (int i = 0; i < 3; i++) {
        const ConalNet *cn = rl_net_conal(nets[i]);
        ASSERT(cn, "conal switch: network %s is not a CoNAL network", net_names[i]);
        conal_arch_derive(cn, net_names[i], &arch.nets[arch.n_nets++]);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/arch.json", dir);
    int rc = conal_arch_save(&arch, path, err, err_sz);
    if (rc != 0) {
        return rc;
    }

    // the derived networks from fresh weights, and empty replay buffers
    run->arch = arch;
    cfg->conal_arch = &run->arch;
    RlSac *fresh = create_retrain_sac(cfg, *sac, err, err_sz);
    if (!fresh) {
        cfg->conal_arch = NULL;
        return ERR_CONFIG;
    }
    rl_sac_destroy(*sac);
    *sac = fresh;
    run->retraining = 1;

    // the old buffers go first, so the peak stays at one replay's memory
    RlReplay shape = *replay;
    rl_replay_deinit(replay);
    rc = rl_replay_init(replay, shape.n_tasks, shape.n_obs, shape.n_act, shape.capacity, err,
                        err_sz);
    if (rc != 0) {
        return rc;
    }
    log_info("conal: search ended at step %lld; retraining the derived networks from fresh "
             "weights for %lld steps",
             run->search_steps, cfg->retrain_steps);
    log_arch(&run->arch, path);
    return 0;
}

// Checkpoint section "conal.phase": {retraining, search_steps}.
int rl_conal_run_save(const RlConalRun *run, NnCkptWriter *w, char *err, size_t err_sz) {
    int64_t phase[2] = {run->retraining, run->search_steps};
    return nn_ckpt_write(w, "conal.phase", phase, sizeof phase, err, err_sz);
}

int rl_conal_run_resume(RlConalRun *run, RlConfig *cfg, const NnCkpt *ck, const char *dir,
                        RlSac **sac, char *err, size_t err_sz) {
    int64_t phase[2];
    int rc = nn_ckpt_read(ck, "conal.phase", phase, sizeof phase, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    if (phase[1] != run->search_steps) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "checkpoint of %s: taken with search.steps %lld, the config has %lld",
                       dir, (long long)phase[1], run->search_steps);
    }
    if (!phase[0] && run->retraining) {
        return err_set(err, err_sz, ERR_FORMAT,
                       "checkpoint of %s: taken while searching, but the run has no search "
                       "(search.steps 0)",
                       dir);
    }
    if (!phase[0] || run->retraining) {
        return 0;
    }

    // the checkpoint is past the search: rebuild the derived networks
    char path[1200];
    snprintf(path, sizeof path, "%s/arch.json", dir);
    if ((rc = load_arch(&run->arch, path, err, err_sz)) != 0) {
        return rc;
    }
    cfg->conal_arch = &run->arch;
    RlSac *fresh = create_retrain_sac(cfg, *sac, err, err_sz);
    if (!fresh) {
        cfg->conal_arch = NULL;
        return ERR_CONFIG;
    }
    rl_sac_destroy(*sac);
    *sac = fresh;
    run->retraining = 1;
    return 0;
}

int rl_conal_arch_for_checkpoint(RlConfig *cfg, const NnCkpt *ck, const char *run_dir,
                                 ConalArch *arch, char *err, size_t err_sz) {
    if (!rl_config_is_conal(cfg)) {
        return 0;
    }
    int64_t phase[2];
    int rc = nn_ckpt_read(ck, "conal.phase", phase, sizeof phase, err, err_sz);
    if (rc != 0 || !phase[0]) {
        return rc;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/arch.json", run_dir);
    if ((rc = load_arch(arch, path, err, err_sz)) == 0) {
        cfg->conal_arch = arch;
    }
    return rc;
}

// {"hidden0": n, ...}: updates skipped by conflict noticing per shared module.
static cJSON *stop_count_object(const ConalNet *cn) {
    cJSON *o = cJSON_CreateObject();
    for (int q = 0; q < cn->spec.n_slots; q++) {
        if (cn->shared_n[q] == 0) {
            continue;
        }
        char name[24];
        snprintf(name, sizeof name, "hidden%d", q);
        cJSON_AddNumberToObject(o, name, (double)cn->stop_count[q]);
    }
    return o;
}

// [[softmax(alpha_0)], ...]: K rows of P branch weights.
static cJSON *branch_weights_array(const ConalNet *cn) {
    cJSON *rows = cJSON_CreateArray();
    float w[CONAL_MAX_SLOTS + 1];
    for (int t = 0; t < cn->spec.n_tasks; t++) {
        conal_net_branch_weights(cn, t, w);
        cJSON *row = cJSON_CreateArray();
        for (int p = 0; p < cn->P; p++) {
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)w[p]));
        }
        cJSON_AddItemToArray(rows, row);
    }
    return rows;
}

void rl_conal_run_metrics(const RlConalRun *run, const RlSac *sac, cJSON *o) {
    if (!run->active) {
        return;
    }
    cJSON_AddStringToObject(o, "conal_phase", run->retraining ? "retrain" : "search");
    cJSON *stops = cJSON_CreateObject();
    cJSON *weights = cJSON_CreateObject();
    const RlNet *nets[3];
    sac_nets(sac, nets);
    for (int i = 0; i < 3; i++) {
        const ConalNet *cn = rl_net_conal(nets[i]);
        ASSERT(cn, "conal metrics: network %s is not a CoNAL network", net_names[i]);
        cJSON_AddItemToObject(stops, net_names[i], stop_count_object(cn));
        cJSON_AddItemToObject(weights, net_names[i], branch_weights_array(cn));
    }
    cJSON_AddItemToObject(o, "stop_count", stops);
    cJSON_AddItemToObject(o, "branch_weights", weights);
}
