// Upper-level (architecture-weight) step of the CoNAL search on SAC losses.
//
// The loss formulas are the ones rl/sac.c trains the weights with, computed
// here on the validation batch and backpropagated into alpha only.
#include "rl/sac_conal.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "rl/net_conal.h"

// x_critic = [obs | action] per row, packed for the critics.
static void pack_critic_input(RlSac *s, const float *obs, const float *action, int B) {
    size_t rows = (size_t)s->n_tasks * (size_t)B, O = (size_t)s->n_obs, A = (size_t)s->n_act;
    for (size_t r = 0; r < rows; r++) {
        memcpy(s->features + r * (O + A), obs + r * O, O * sizeof(float));
        memcpy(s->features + r * (O + A) + O, action + r * A, A * sizeof(float));
    }
    rl_net_pack_input(s->q1, s->features, B, s->x_critic);
}

// Samples the actor's actions for obs with noise eps into s->cache, s->logp.
static const float *sample_actions(RlSac *s, const float *obs, const float *eps, int B) {
    rl_net_pack_input(s->actor, obs, B, s->x_actor);
    const float *head = rl_net_forward(s->actor, s->x_actor, B, RL_NET_ONLINE);
    nn_tanh_gaussian_forward(&s->policy, head, eps, s->n_tasks * B, &s->cache, s->logp);
    return head;
}

// TD targets y = r + gamma (min Q' - temp logp') from the target critics.
static void td_targets(RlSac *s, const RlBatch *val) {
    int B = val->B;
    sample_actions(s, val->next_obs, s->eps_next, B);
    pack_critic_input(s, val->next_obs, s->cache.action, B);
    const float *q1t, *q2t;
    rl_sac_twin_forward(s, B, RL_NET_TARGET, &q1t, &q2t);
    for (int t = 0; t < s->n_tasks; t++) {
        float temp = expf(s->log_temp[t]);
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)t * (size_t)B + (size_t)b;
            s->y[r] = val->reward[r] + s->gamma * (fminf(q1t[r], q2t[r]) - temp * s->logp[r]);
        }
    }
}

typedef struct CriticArchJob {
    RlSac *s;
    int B;
} CriticArchJob;

// Critic i's alpha gradient from its TD loss (per-task means, summed).
static void critic_arch_grad(void *ctx, int i) {
    CriticArchJob *job = ctx;
    RlSac *s = job->s;
    RlNet *q = rl_sac_critic(s, i);
    float *dq = i == 0 ? s->dq1 : s->dq2;
    int B = job->B;
    const float *pred = rl_net_forward(q, s->x_critic, B, RL_NET_ONLINE);
    for (int t = 0; t < s->n_tasks; t++) {
        size_t off = (size_t)t * (size_t)B;
        nn_mse_forward_backward(pred + off, s->y + off, (size_t)B, 1.0f, dq + off);
    }
    rl_net_conal_arch_backward(q, dq, B);
}

// The actor's alpha gradient from the actor loss mean(temp logp - min Q).
static void actor_arch_grad(RlSac *s, const RlBatch *val) {
    int B = val->B;
    size_t rows = (size_t)s->n_tasks * (size_t)B;
    const float *head = sample_actions(s, val->obs, s->eps_pi, B);
    pack_critic_input(s, val->obs, s->cache.action, B);
    const float *q1, *q2;
    rl_sac_twin_forward(s, B, RL_NET_ONLINE, &q1, &q2);
    for (int t = 0; t < s->n_tasks; t++) {
        float temp = expf(s->log_temp[t]);
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)t * (size_t)B + (size_t)b;
            int first = q1[r] <= q2[r];
            s->dq1[r] = first ? -1.0f / (float)B : 0.0f;
            s->dq2[r] = first ? 0.0f : -1.0f / (float)B;
            s->dlogp[r] = temp / (float)B;
        }
    }

    // d loss / d action through both critics (input gradients only)
    rl_sac_twin_action_grad(s, B);
    nn_tanh_gaussian_backward(&s->policy, head, &s->cache, s->daction, s->dlogp, (int)rows,
                              s->dhead);
    rl_net_conal_arch_backward(s->actor, s->dhead, B);
}

void rl_sac_conal_arch_update(RlSac *s, const RlBatch *val, const NnAdamConfig *adam) {
    int B = val->B;
    ASSERT(val->n_tasks == s->n_tasks, "conal arch update: batch has %d tasks, agent %d",
           val->n_tasks, s->n_tasks);
    ASSERT(B >= 1 && B <= s->max_block, "conal arch update: B=%d outside 1..%d", B,
           s->max_block);
    ASSERT(rl_net_conal(s->actor) && rl_net_conal(s->q1) && rl_net_conal(s->q2),
           "conal arch update: actor and critics must be CoNAL networks");

    // fresh noise for the target and the actor's actions
    size_t n = (size_t)s->n_tasks * (size_t)B * (size_t)s->n_act;
    for (size_t i = 0; i < n; i++) {
        s->eps_next[i] = (float)rng_normal(&s->rng);
    }
    for (size_t i = 0; i < n; i++) {
        s->eps_pi[i] = (float)rng_normal(&s->rng);
    }

    // critics on the validation transitions, then the actor through them
    td_targets(s, val);
    pack_critic_input(s, val->obs, val->action, B);
    CriticArchJob critics = {.s = s, .B = B};
    rl_sac_twin_run(critic_arch_grad, &critics);
    actor_arch_grad(s, val);

    rl_net_conal_arch_step(s->q1, adam);
    rl_net_conal_arch_step(s->q2, adam);
    rl_net_conal_arch_step(s->actor, adam);
}
