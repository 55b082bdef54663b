// SAC update: PyTorch fixture, finite-difference gradient checks, determinism.
//
// Dimension letters: K tasks, B rows per task block, O observation, A action.
// The fixture (scripts/gen_sac_fixture.py) holds one MT-SAC update computed
// with autograd. The gradient checks compare the analytic float gradients of
// rl/sac.c with central differences of a double-precision reference of the
// same losses written here from the formulas in rl/sac.h.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/fileio.h"
#include "nn/gemm.h"
#include "rl/sac.h"
#include "tests/check.h"

static cJSON *fixture;

// Float array field of the fixture; n receives its length.
static float *fx_array(const char *name, int *n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(fixture, name);
    if (!cJSON_IsArray(a)) {
        fprintf(stderr, "fixture: missing array %s\n", name);
        exit(2);
    }
    *n = cJSON_GetArraySize(a);
    float *out = malloc(sizeof(float) * (size_t)(*n > 0 ? *n : 1));
    for (int i = 0; i < *n; i++) {
        out[i] = (float)cJSON_GetArrayItem(a, i)->valuedouble;
    }
    return out;
}

// Number field of a fixture object.
static double fx_num(const char *obj, const char *name) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(fixture, obj);
    return cJSON_GetObjectItemCaseSensitive(o, name)->valuedouble;
}

// Loads tests/data/sac_fixture.json.
static void load_fixture(void) {
    char *text = NULL;
    size_t n = 0;
    char err[256];
    if (file_read_all(CONAL_SOURCE_DIR "/tests/data/sac_fixture.json", &text, &n, err,
                      sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    fixture = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(fixture, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "conal-sac-fixture") != 0 ||
        fx_num("sizes", "K") != 3) {
        fprintf(stderr, "fixture: unexpected format\n");
        exit(2);
    }
}

// Config matching the fixture's constants.
static void fixture_config(RlConfig *cfg) {
    rl_config_defaults(cfg);
    snprintf(cfg->method, sizeof cfg->method, "mtsac");
    cfg->n_actor_hidden = cfg->n_critic_hidden = 2;
    cfg->actor_hidden[0] = cfg->actor_hidden[1] = 8;
    cfg->critic_hidden[0] = cfg->critic_hidden[1] = 8;
    cfg->batch_size = (int)fx_num("sizes", "B");
    cfg->gamma = fx_num("constants", "gamma");
    cfg->tau = fx_num("constants", "tau");
    cfg->actor_lr = fx_num("constants", "actor_lr");
    cfg->critic_lr = fx_num("constants", "critic_lr");
    cfg->temp_lr = fx_num("constants", "temp_lr");
    cfg->target_entropy = fx_num("constants", "target_entropy");
    cfg->log_std_min = fx_num("constants", "log_std_min");
    cfg->log_std_max = fx_num("constants", "log_std_max");
}

// Copies fixture array name into dst (n floats, checked).
static void fx_copy(const char *name, float *dst, size_t n) {
    int len;
    float *v = fx_array(name, &len);
    CHECK_EQ_INT(n, len);
    memcpy(dst, v, sizeof(float) * (len < (int)n ? (size_t)len : n));
    free(v);
}

// Creates the agent with the fixture's weights and fills the batch.
static RlSac *fixture_agent(RlBatch *batch, float **eps_next, float **eps_pi) {
    RlConfig cfg;
    fixture_config(&cfg);
    int K = 3, O = 5, A = 2, B = cfg.batch_size;
    RngState rng;
    rng_init(&rng, 1);
    char err[256];
    RlSac *sac = rl_sac_create(&cfg, K, O, A, &rng, 2, err, sizeof err);
    if (!sac) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    fx_copy("actor", sac->actor->params.w, sac->actor->params.n);
    fx_copy("q1", sac->q1->params.w, sac->q1->params.n);
    fx_copy("q2", sac->q2->params.w, sac->q2->params.n);
    fx_copy("q1_target", sac->q1->params.target, sac->q1->params.n);
    fx_copy("q2_target", sac->q2->params.target, sac->q2->params.n);
    fx_copy("log_temp", sac->log_temp, (size_t)K);
    rl_batch_init(batch, K, B, O, A);
    size_t rows = (size_t)K * B;
    fx_copy("obs", batch->obs, rows * O);
    fx_copy("action", batch->action, rows * A);
    fx_copy("reward", batch->reward, rows);
    fx_copy("next_obs", batch->next_obs, rows * O);
    *eps_next = malloc(sizeof(float) * rows * A);
    *eps_pi = malloc(sizeof(float) * rows * A);
    fx_copy("eps_next", *eps_next, rows * A);
    fx_copy("eps_pi", *eps_pi, rows * A);
    return sac;
}

// Largest |a - b| / (|b| + floor) over n values, the float32 tolerance metric.
static double max_rel(const float *a, const float *b, size_t n, double floor) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (fabs((double)b[i]) + floor);
        worst = e > worst ? e : worst;
    }
    return worst;
}

// Compares n floats of the agent with fixture array name.
static void check_against(const char *name, const float *got, size_t n, double tol) {
    int len;
    float *want = fx_array(name, &len);
    CHECK_EQ_INT(n, len);
    double err = max_rel(got, want, n, 1e-3);
    CHECK_MSG(err < tol, "%s: max relative error %.3g >= %.3g", name, err, tol);
    free(want);
}

// Critic step alone: targets, losses, gradients and new weights.
static void test_fixture_critic(void) {
    RlBatch batch;
    float *eps_next, *eps_pi;
    RlSac *sac = fixture_agent(&batch, &eps_next, &eps_pi);
    sac->actor_update_interval = 1000;   // this update steps the critics only
    sac->target_update_interval = 1000;
    rl_sac_update_with_noise(sac, &batch, eps_next, eps_pi, 0);
    check_against("y", sac->y, 12, 1e-5);
    check_against("q1_loss", sac->stats.q1_loss, 3, 1e-5);
    check_against("q2_loss", sac->stats.q2_loss, 3, 1e-5);
    check_against("q1_grad", sac->q1->params.g, sac->q1->params.n, 1e-4);
    check_against("q2_grad", sac->q2->params.g, sac->q2->params.n, 1e-4);
    check_against("q1_new", sac->q1->params.w, sac->q1->params.n, 1e-5);
    check_against("q2_new", sac->q2->params.w, sac->q2->params.n, 1e-5);
    rl_sac_destroy(sac);
    rl_batch_deinit(&batch);
    free(eps_next);
    free(eps_pi);
}

// The whole update: actor, temperatures and targets as well.
static void test_fixture_full(void) {
    RlBatch batch;
    float *eps_next, *eps_pi;
    RlSac *sac = fixture_agent(&batch, &eps_next, &eps_pi);
    rl_sac_update_with_noise(sac, &batch, eps_next, eps_pi, 0);
    check_against("actor_loss", sac->stats.actor_loss, 3, 1e-5);
    check_against("actor_grad", sac->actor->params.g, sac->actor->params.n, 1e-4);
    check_against("actor_new", sac->actor->params.w, sac->actor->params.n, 1e-5);
    check_against("temp_loss", sac->stats.temp_loss, 3, 1e-5);
    check_against("log_temp_new", sac->log_temp, 3, 1e-5);
    check_against("q1_target_new", sac->q1->params.target, sac->q1->params.n, 1e-5);
    check_against("q2_target_new", sac->q2->params.target, sac->q2->params.n, 1e-5);
    CHECK_EQ_INT(1, sac->n_updates);
    rl_sac_destroy(sac);
    rl_batch_deinit(&batch);
    free(eps_next);
    free(eps_pi);
}

// ---- double-precision reference of the losses ----

// Dense ReLU MLP in double over one row; w contains W0 b0 W1 b1 ... (rl/ layout).
static void mlp_d(const double *w, const int *sizes, int n_layers, const double *x, double *y) {
    double a[64], b[64];
    memcpy(a, x, sizeof(double) * (size_t)sizes[0]);
    size_t off = 0;
    for (int l = 0; l < n_layers; l++) {
        int in = sizes[l], out = sizes[l + 1];
        for (int o = 0; o < out; o++) {
            double s = w[off + (size_t)out * in + o];
            for (int i = 0; i < in; i++) {
                s += w[off + (size_t)o * in + i] * a[i];
            }
            b[o] = l < n_layers - 1 && s < 0.0 ? 0.0 : s;
        }
        off += (size_t)out * in + out;
        memcpy(a, b, sizeof(double) * (size_t)out);
    }
    memcpy(y, a, sizeof(double) * (size_t)sizes[n_layers]);
}

// Tanh-squashed Gaussian in double: action (A) and log-probability.
static double policy_d(const double *head, const double *eps, int A, double lo, double hi,
                       double *action) {
    double logp = 0.0;
    for (int j = 0; j < A; j++) {
        double log_std = lo + 0.5 * (hi - lo) * (tanh(head[A + j]) + 1.0);
        double u = head[j] + exp(log_std) * eps[j];
        action[j] = tanh(u);
        double sp = log1p(exp(-2.0 * u));
        logp += -0.5 * eps[j] * eps[j] - log_std - 0.5 * log(2.0 * 3.14159265358979323846) -
                2.0 * (log(2.0) - u - sp);
    }
    return logp;
}

// Everything the reference losses read, in double.
typedef struct RefState {
    int K, B, O, A;
    int actor_sizes[4], critic_sizes[4];
    double *actor, *q1, *q2;       // weights
    double log_temp[3];
    double lo, hi, target_entropy;
    const RlBatch *batch;
    const float *eps_pi;
    const float *y;                // critic targets from the agent (constants of L_Q)
} RefState;

// Input row [features, one-hot of task t].
static void ref_row(const RefState *r, const float *feat, int n, int t, const double *extra,
                    int n_extra, double *x) {
    for (int i = 0; i < n; i++) {
        x[i] = feat[i];
    }
    for (int i = 0; i < n_extra; i++) {
        x[n + i] = extra[i];
    }
    for (int k = 0; k < r->K; k++) {
        x[n + n_extra + k] = k == t;
    }
}

// L_Q of critic q: sum over tasks of the block mean of (Q - y)^2.
static double ref_critic_loss(const RefState *r, const double *q) {
    double total = 0.0;
    for (int t = 0; t < r->K; t++) {
        double sum = 0.0;
        for (int b = 0; b < r->B; b++) {
            int row = t * r->B + b;
            double x[32], out, act[4];
            for (int j = 0; j < r->A; j++) {
                act[j] = r->batch->action[row * r->A + j];
            }
            ref_row(r, r->batch->obs + row * r->O, r->O, t, act, r->A, x);
            mlp_d(q, r->critic_sizes, 3, x, &out);
            double d = out - (double)r->y[row];
            sum += d * d;
        }
        total += sum / r->B;
    }
    return total;
}

// L_pi: sum over tasks of the block mean of temp * logp - min(Q1, Q2).
static double ref_actor_loss(const RefState *r, const double *actor) {
    double total = 0.0;
    for (int t = 0; t < r->K; t++) {
        double sum = 0.0, temp = exp(r->log_temp[t]);
        for (int b = 0; b < r->B; b++) {
            int row = t * r->B + b;
            double x[32], head[8], act[4], eps[4], q1, q2;
            ref_row(r, r->batch->obs + row * r->O, r->O, t, NULL, 0, x);
            mlp_d(actor, r->actor_sizes, 3, x, head);
            for (int j = 0; j < r->A; j++) {
                eps[j] = r->eps_pi[row * r->A + j];
            }
            double logp = policy_d(head, eps, r->A, r->lo, r->hi, act);
            ref_row(r, r->batch->obs + row * r->O, r->O, t, act, r->A, x);
            mlp_d(r->q1, r->critic_sizes, 3, x, &q1);
            mlp_d(r->q2, r->critic_sizes, 3, x, &q2);
            sum += temp * logp - (q1 < q2 ? q1 : q2);
        }
        total += sum / r->B;
    }
    return total;
}

// L_tmp as a function of log_temp, with logp from the reference actor.
static double ref_temp_loss(const RefState *r, const double *log_temp) {
    double total = 0.0;
    for (int t = 0; t < r->K; t++) {
        double sum = 0.0;
        for (int b = 0; b < r->B; b++) {
            int row = t * r->B + b;
            double x[32], head[8], act[4], eps[4];
            ref_row(r, r->batch->obs + row * r->O, r->O, t, NULL, 0, x);
            mlp_d(r->actor, r->actor_sizes, 3, x, head);
            for (int j = 0; j < r->A; j++) {
                eps[j] = r->eps_pi[row * r->A + j];
            }
            sum += policy_d(head, eps, r->A, r->lo, r->hi, act) + r->target_entropy;
        }
        total += -log_temp[t] * sum / r->B;
    }
    return total;
}

// Doubles of n floats (caller frees).
static double *to_double(const float *x, size_t n) {
    double *d = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        d[i] = x[i];
    }
    return d;
}

// Central difference of f at w[i] with step h.
static double central_diff(double (*f)(const RefState *, const double *), const RefState *r,
                           double *w, size_t i, double h) {
    double keep = w[i];
    w[i] = keep + h;
    double up = f(r, w);
    w[i] = keep - h;
    double down = f(r, w);
    w[i] = keep;
    return (up - down) / (2.0 * h);
}

// Checks analytic gradient g (n floats) against central differences of f.
static void grad_check(const char *what, double (*f)(const RefState *, const double *),
                       const RefState *r, double *w, const float *g, size_t n) {
    double worst = 0.0;
    int checked = 0;
    for (size_t i = 0; i < n; i++) {
        double fd = central_diff(f, r, w, i, 1e-6);
        if (fabs(fd) < 1e-6 && fabs((double)g[i]) < 1e-6) {
            continue;   // both zero: a dead ReLU unit
        }
        double e = check_rel_err((double)g[i], fd);
        worst = e > worst ? e : worst;
        checked++;
    }
    CHECK_MSG(worst < 1e-3, "%s: worst relative error %.3g over %d parameters", what, worst,
              checked);
    CHECK(checked > (int)n / 2);
}

// Reference state for the fixture agent before (or after) an update.
static void ref_init(RefState *r, const RlSac *sac, const RlBatch *batch, const float *eps_pi) {
    memset(r, 0, sizeof *r);
    r->K = 3;
    r->B = batch->B;
    r->O = 5;
    r->A = 2;
    int as[4] = {5 + 3, 8, 8, 4}, cs[4] = {5 + 2 + 3, 8, 8, 1};
    memcpy(r->actor_sizes, as, sizeof as);
    memcpy(r->critic_sizes, cs, sizeof cs);
    r->actor = to_double(sac->actor->params.w, sac->actor->params.n);
    r->q1 = to_double(sac->q1->params.w, sac->q1->params.n);
    r->q2 = to_double(sac->q2->params.w, sac->q2->params.n);
    for (int t = 0; t < 3; t++) {
        r->log_temp[t] = sac->log_temp[t];
    }
    r->lo = sac->policy.log_std_min;
    r->hi = sac->policy.log_std_max;
    r->target_entropy = sac->target_entropy;
    r->batch = batch;
    r->eps_pi = eps_pi;
    r->y = sac->y;
}

static void ref_deinit(RefState *r) {
    free(r->actor);
    free(r->q1);
    free(r->q2);
}

// Critic loss gradient against central differences.
static void test_gradcheck_critic(void) {
    RlBatch batch;
    float *eps_next, *eps_pi;
    RlSac *sac = fixture_agent(&batch, &eps_next, &eps_pi);
    RefState r;
    ref_init(&r, sac, &batch, eps_pi);   // weights before the step
    sac->actor_update_interval = 1000;
    rl_sac_update_with_noise(sac, &batch, eps_next, eps_pi, 0);
    grad_check("critic q1", ref_critic_loss, &r, r.q1, sac->q1->params.g, sac->q1->params.n);
    grad_check("critic q2", ref_critic_loss, &r, r.q2, sac->q2->params.g, sac->q2->params.n);
    ref_deinit(&r);
    rl_sac_destroy(sac);
    rl_batch_deinit(&batch);
    free(eps_next);
    free(eps_pi);
}

// Actor loss gradient (through the tanh-Gaussian and both critics) and the
// temperature loss gradient against central differences.
static void test_gradcheck_actor_temp(void) {
    RlBatch batch;
    float *eps_next, *eps_pi;
    RlSac *sac = fixture_agent(&batch, &eps_next, &eps_pi);
    double *actor_before = to_double(sac->actor->params.w, sac->actor->params.n);
    double log_temp_before[3] = {sac->log_temp[0], sac->log_temp[1], sac->log_temp[2]};
    rl_sac_update_with_noise(sac, &batch, eps_next, eps_pi, 0);

    // the actor step ran with the updated critics and the old actor
    RefState r;
    ref_init(&r, sac, &batch, eps_pi);
    memcpy(r.actor, actor_before, sizeof(double) * sac->actor->params.n);
    memcpy(r.log_temp, log_temp_before, sizeof log_temp_before);
    grad_check("actor", ref_actor_loss, &r, r.actor, sac->actor->params.g,
               sac->actor->params.n);
    grad_check("temperature", ref_temp_loss, &r, r.log_temp, sac->stats.temp_grad, 3);
    ref_deinit(&r);
    free(actor_before);
    rl_sac_destroy(sac);
    rl_batch_deinit(&batch);
    free(eps_next);
    free(eps_pi);
}

// Same seed, same losses and weights after several updates.
static void test_same_seed_same_updates(void) {
    float w[2][4];
    for (int run = 0; run < 2; run++) {
        RlBatch batch;
        float *eps_next, *eps_pi;
        RlSac *sac = fixture_agent(&batch, &eps_next, &eps_pi);
        rng_init(&sac->rng, 77);
        for (int u = 0; u < 5; u++) {
            rl_sac_update(sac, &batch, 1);
        }
        w[run][0] = sac->stats.q1_loss[0];
        w[run][1] = sac->stats.actor_loss[2];
        w[run][2] = sac->actor->params.w[17];
        w[run][3] = sac->log_temp[1];
        rl_sac_destroy(sac);
        rl_batch_deinit(&batch);
        free(eps_next);
        free(eps_pi);
    }
    CHECK(memcmp(w[0], w[1], sizeof w[0]) == 0);
}

// Snapshot of everything an update writes, for bitwise comparison.
static float *snapshot(const RlSac *sac, size_t *n_out) {
    const RlNet *nets[3] = {sac->actor, sac->q1, sac->q2};
    size_t n = sizeof sac->stats / sizeof(float) + (size_t)sac->n_tasks;
    for (int i = 0; i < 3; i++) {
        n += 2 * nets[i]->params.n;
    }
    float *buf = malloc(n * sizeof(float)), *p = buf;
    for (int i = 0; i < 3; i++) {
        memcpy(p, nets[i]->params.w, nets[i]->params.n * sizeof(float));
        p += nets[i]->params.n;
        const float *t = nets[i]->params.target ? nets[i]->params.target : nets[i]->params.w;
        memcpy(p, t, nets[i]->params.n * sizeof(float));
        p += nets[i]->params.n;
    }
    memcpy(p, sac->log_temp, (size_t)sac->n_tasks * sizeof(float));
    p += sac->n_tasks;
    memcpy(p, &sac->stats, sizeof sac->stats);
    *n_out = n;
    return buf;
}

static void fill_normal(float *x, size_t n, RngState *rng) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)rng_normal(rng);
    }
}

// Updates at the MT-SAC shapes (large enough that products split and the
// twin critics run side by side) give the same bits on 1, 2 and 3 threads.
static void test_thread_count_invariant(void) {
    const char *methods[] = {"mtsac", "mhsac", "pcgrad"};
    enum { K = 10, O = 39, A = 4 };
    for (int m = 0; m < 3; m++) {
        float *first = NULL;
        size_t n_first = 0;
        for (int threads = 1; threads <= 3; threads++) {
            CHECK_EQ_INT(0, nn_threads_set(threads));
            RlConfig cfg;
            rl_config_defaults(&cfg);
            snprintf(cfg.method, sizeof cfg.method, "%s", methods[m]);
            cfg.batch_size = 64;
            RngState rng;
            rng_init(&rng, 9);
            char err[256];
            RlSac *sac = rl_sac_create(&cfg, K, O, A, &rng, 3, err, sizeof err);
            CHECK_MSG(sac != NULL, "%s", err);
            if (!sac) {
                return;
            }
            RlBatch batch;
            rl_batch_init(&batch, K, cfg.batch_size, O, A);
            size_t rows = (size_t)K * (size_t)cfg.batch_size;
            fill_normal(batch.obs, rows * O, &rng);
            fill_normal(batch.next_obs, rows * O, &rng);
            fill_normal(batch.action, rows * A, &rng);
            fill_normal(batch.reward, rows, &rng);
            for (int u = 0; u < 3; u++) {
                rl_sac_update(sac, &batch, u == 2);
            }
            size_t n;
            float *snap = snapshot(sac, &n);
            if (!first) {
                first = snap;
                n_first = n;
            } else {
                CHECK_MSG(n == n_first && memcmp(first, snap, n * sizeof(float)) == 0,
                          "%s: %d threads differ from 1", methods[m], threads);
                free(snap);
            }
            rl_sac_destroy(sac);
            rl_batch_deinit(&batch);
        }
        free(first);
    }
    nn_threads_set(1);
}

int main(void) {
    load_fixture();
    RUN_TEST(test_fixture_critic);
    RUN_TEST(test_fixture_full);
    RUN_TEST(test_gradcheck_critic);
    RUN_TEST(test_gradcheck_actor_temp);
    RUN_TEST(test_same_seed_same_updates);
    RUN_TEST(test_thread_count_invariant);
    cJSON_Delete(fixture);
    return check_summary();
}
