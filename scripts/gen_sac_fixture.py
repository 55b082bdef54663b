#!/usr/bin/python3
"""Generate tests/data/sac_fixture.json, the PyTorch reference of one SAC update.

Builds the MT-SAC networks of rl/ at a tiny size (K=3 tasks, B=4 rows per
task block, 5 observation and 2 action features, two hidden layers of 8, the
task one-hot appended to every input), fixes their weights, a task-blocked
batch and the policy noise, and runs one update with autograd in the order of
rl/sac.c: critic targets, both critic steps, the actor step through the
updated critics, the temperature step and Polyak averaging. Every loss is a
per-task mean over the task's block and the objective is the sum over tasks.
The C test tests/rl/test_sac.c compares rl/ against these numbers, so torch
is needed only to regenerate the file.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 scripts/gen_sac_fixture.py
"""

import json
import math
import os
import sys

import torch

FORMAT = "conal-sac-fixture"
VERSION = 1

K, B, OBS, ACT = 3, 4, 5, 2
HIDDEN = [8, 8]
GAMMA, TAU = 0.99, 0.005
LR_ACTOR, LR_CRITIC, LR_TEMP = 3e-3, 2e-3, 1e-2
INIT_TEMP, TARGET_ENTROPY = 0.5, -2.0
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def flat(t):
    """Return the float32 values of a tensor as a flat list of Python floats."""
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def mlp(n_in, n_out):
    """An MLP with ReLU hidden layers, PyTorch default init."""
    sizes = [n_in] + HIDDEN + [n_out]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def params_flat(net):
    """Parameters in rl/'s block layout: W0 (out x in, row-major), b0, W1, b1, ..."""
    out = []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            out += flat(m.weight) + flat(m.bias)
    return out


def grads_flat(net):
    """Gradients in the same layout as params_flat."""
    out = []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            out += flat(m.weight.grad) + flat(m.bias.grad)
    return out


def one_hot_rows():
    """(K*B x K) task one-hot of a task-blocked batch."""
    return torch.eye(K).repeat_interleave(B, dim=0)


def policy(head, eps):
    """Tanh-squashed Gaussian of nn/loss.h: actions and log-probabilities."""
    mean, raw = head[:, :ACT], head[:, ACT:]
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1.0)
    u = mean + torch.exp(log_std) * eps
    action = torch.tanh(u)
    log_one_minus_tanh_sq = 2.0 * (math.log(2.0) - u - torch.nn.functional.softplus(-2.0 * u))
    logp = (-0.5 * eps * eps - log_std - 0.5 * math.log(2.0 * math.pi)
            - log_one_minus_tanh_sq).sum(dim=1)
    return action, logp


def per_task_mean(x):
    """(K) means of a (K*B) vector over each task's block."""
    return x.reshape(K, B).mean(dim=1)


def main():
    torch.manual_seed(20261204)
    hot = one_hot_rows()
    actor = mlp(OBS + K, 2 * ACT)
    q1, q2 = mlp(OBS + ACT + K, 1), mlp(OBS + ACT + K, 1)
    q1_target, q2_target = mlp(OBS + ACT + K, 1), mlp(OBS + ACT + K, 1)
    # targets differ from the online critics, as they do after training starts
    for tgt, src in ((q1_target, q1), (q2_target, q2)):
        with torch.no_grad():
            for pt, ps in zip(tgt.parameters(), src.parameters()):
                pt.copy_(ps + 0.05 * torch.randn_like(ps))
    log_temp = torch.full((K,), math.log(INIT_TEMP)) + 0.1 * torch.randn(K)
    log_temp.requires_grad_(True)

    rows = K * B
    obs, next_obs = torch.randn(rows, OBS), torch.randn(rows, OBS)
    action = torch.rand(rows, ACT) * 2.0 - 1.0
    reward = torch.rand(rows) * 10.0
    eps_next, eps_pi = torch.randn(rows, ACT), torch.randn(rows, ACT)

    fixture = {
        "format": FORMAT, "version": VERSION,
        "sizes": {"K": K, "B": B, "obs": OBS, "act": ACT, "hidden": HIDDEN},
        "constants": {"gamma": GAMMA, "tau": TAU, "actor_lr": LR_ACTOR,
                      "critic_lr": LR_CRITIC, "temp_lr": LR_TEMP,
                      "target_entropy": TARGET_ENTROPY, "log_std_min": LOG_STD_MIN,
                      "log_std_max": LOG_STD_MAX},
        "actor": params_flat(actor), "q1": params_flat(q1), "q2": params_flat(q2),
        "q1_target": params_flat(q1_target), "q2_target": params_flat(q2_target),
        "log_temp": flat(log_temp),
        "obs": flat(obs), "action": flat(action), "reward": flat(reward),
        "next_obs": flat(next_obs), "eps_next": flat(eps_next), "eps_pi": flat(eps_pi),
    }

    # critic targets with the current actor and temperatures
    temp = log_temp.detach().exp().repeat_interleave(B)
    with torch.no_grad():
        a_next, logp_next = policy(actor(torch.cat([next_obs, hot], 1)), eps_next)
        x_next = torch.cat([next_obs, a_next, hot], 1)
        q_next = torch.min(q1_target(x_next), q2_target(x_next)).squeeze(1)
        y = reward + GAMMA * (q_next - temp * logp_next)
    fixture["y"] = flat(y)

    # critic steps: each task's loss is a mean over its block, the total their sum
    x = torch.cat([obs, action, hot], 1)
    for name, q in (("q1", q1), ("q2", q2)):
        opt = torch.optim.Adam(q.parameters(), lr=LR_CRITIC, betas=(0.9, 0.999), eps=1e-8)
        loss_t = per_task_mean((q(x).squeeze(1) - y) ** 2)
        opt.zero_grad()
        loss_t.sum().backward()
        fixture[name + "_loss"] = flat(loss_t)
        fixture[name + "_grad"] = grads_flat(q)
        opt.step()
        fixture[name + "_new"] = params_flat(q)

    # actor step through the updated critics
    opt = torch.optim.Adam(actor.parameters(), lr=LR_ACTOR, betas=(0.9, 0.999), eps=1e-8)
    a_pi, logp_pi = policy(actor(torch.cat([obs, hot], 1)), eps_pi)
    x_pi = torch.cat([obs, a_pi, hot], 1)
    q_pi = torch.min(q1(x_pi), q2(x_pi)).squeeze(1)
    actor_loss_t = per_task_mean(temp * logp_pi - q_pi)
    opt.zero_grad()
    actor_loss_t.sum().backward()
    fixture["actor_loss"] = flat(actor_loss_t)
    fixture["actor_grad"] = grads_flat(actor)
    opt.step()
    fixture["actor_new"] = params_flat(actor)

    # temperature step: -log_temp_t * mean_t(logp + target entropy)
    opt = torch.optim.Adam([log_temp], lr=LR_TEMP, betas=(0.9, 0.999), eps=1e-8)
    temp_loss_t = -log_temp * per_task_mean(logp_pi.detach() + TARGET_ENTROPY)
    opt.zero_grad()
    temp_loss_t.sum().backward()
    fixture["temp_loss"] = flat(temp_loss_t)
    opt.step()
    fixture["log_temp_new"] = flat(log_temp)

    # Polyak averaging of the targets toward the updated critics
    with torch.no_grad():
        for tgt, src in ((q1_target, q1), (q2_target, q2)):
            for pt, ps in zip(tgt.parameters(), src.parameters()):
                pt.mul_(1.0 - TAU).add_(TAU * ps)
    fixture["q1_target_new"] = params_flat(q1_target)
    fixture["q2_target_new"] = params_flat(q2_target)

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    path = os.path.join(root, "tests", "data", "sac_fixture.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
