#!/usr/bin/python3
"""Generate tests/data/nn_fixture.json, the PyTorch reference for nn/.

Builds a 2-layer MLP (7 -> 32 relu -> 5) with fixed weights and inputs, runs
forward, an MSE loss and backward, then two torch.optim.Adam steps and one
torch.optim.AdamW step with weight decay. It also evaluates the tanh-squashed
Gaussian of nn/loss.h on a fixed head and noise with autograd. The C test
test_torch_fixture compares nn/ against these numbers, so torch is needed
only to regenerate the file, never to run the tests.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 scripts/gen_nn_fixture.py
"""

import json
import math
import os
import sys

import torch

FORMAT = "conal-nn-fixture"
VERSION = 1


def flat(t):
    """Return the float32 values of a tensor as a flat list of Python floats."""
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def mlp_case():
    """Forward, backward and optimiser steps of a 7-32-5 ReLU MLP."""
    torch.manual_seed(1234)
    batch, sizes = 6, [7, 32, 5]
    net = torch.nn.Sequential(
        torch.nn.Linear(sizes[0], sizes[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(sizes[1], sizes[2]),
    )
    layers = [net[0], net[2]]
    params = torch.cat([p.detach().reshape(-1) for l in layers for p in (l.weight, l.bias)])
    x = torch.randn(batch, sizes[0], requires_grad=True)
    target = torch.randn(batch, sizes[2])

    y = net(x)
    loss = torch.nn.functional.mse_loss(y, target)
    loss.backward()
    grads = torch.cat([p.grad.reshape(-1) for l in layers for p in (l.weight, l.bias)])

    def optimiser_steps(make_opt, n_steps):
        """Return the parameter block after n_steps with the fixed gradients."""
        clone = [p.detach().clone().requires_grad_(True) for l in layers
                 for p in (l.weight, l.bias)]
        fixed = [p.grad.detach().clone() for l in layers for p in (l.weight, l.bias)]
        opt = make_opt(clone)
        out = []
        for _ in range(n_steps):
            for p, g in zip(clone, fixed):
                p.grad = g.clone()
            opt.step()
            out.append(torch.cat([p.detach().reshape(-1) for p in clone]))
        return out

    adam = dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    adam_steps = optimiser_steps(lambda ps: torch.optim.Adam(ps, **adam), 2)
    adamw = dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    adamw_steps = optimiser_steps(lambda ps: torch.optim.AdamW(ps, **adamw), 1)

    return {
        "sizes": sizes,
        "hidden_act": "relu",
        "out_act": "none",
        "batch": batch,
        "params": flat(params),
        "x": flat(x),
        "target": flat(target),
        "y": flat(y),
        "loss": float(loss),
        "grads": flat(grads),
        "dx": flat(x.grad),
        "adam": {"lr": adam["lr"], "beta1": 0.9, "beta2": 0.999, "eps": adam["eps"],
                 "weight_decay": 0.0},
        "adam_step1": flat(adam_steps[0]),
        "adam_step2": flat(adam_steps[1]),
        "adamw": {"lr": adamw["lr"], "beta1": 0.9, "beta2": 0.999, "eps": adamw["eps"],
                  "weight_decay": adamw["weight_decay"]},
        "adamw_step1": flat(adamw_steps[0]),
    }


def tanh_gaussian_case():
    """The squashed Gaussian of nn/loss.h, written with torch.distributions."""
    torch.manual_seed(99)
    batch, a_dim, lo, hi = 4, 3, -5.0, 2.0
    head = torch.randn(batch, 2 * a_dim) * 1.5
    head[0, 0] = 10.0  # a saturated row: tanh(u) rounds to 1 in float32
    head = head.requires_grad_(True)
    eps = torch.randn(batch, a_dim)
    daction = torch.randn(batch, a_dim)
    dlogp = torch.randn(batch)

    mean, raw = head[:, :a_dim], head[:, a_dim:]
    log_std = lo + (hi - lo) * (torch.tanh(raw) + 1) / 2
    std = log_std.exp()
    u = mean + std * eps
    action = torch.tanh(u)
    normal = torch.distributions.Normal(mean, std)
    log_jac = 2 * (math.log(2.0) - u - torch.nn.functional.softplus(-2 * u))
    logp = (normal.log_prob(u) - log_jac).sum(dim=1)
    objective = (daction * action).sum() + (dlogp * logp).sum()
    objective.backward()

    return {
        "A": a_dim,
        "batch": batch,
        "log_std_min": lo,
        "log_std_max": hi,
        "head": flat(head),
        "eps": flat(eps),
        "daction": flat(daction),
        "dlogp": flat(dlogp),
        "action": flat(action),
        "logp": flat(logp),
        "dhead": flat(head.grad),
    }


def main():
    torch.set_num_threads(1)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "tests", "data", "nn_fixture.json")
    fixture = {
        "format": FORMAT,
        "version": VERSION,
        "generator": "scripts/gen_nn_fixture.py",
        "torch_version": torch.__version__,
        "mlp": mlp_case(),
        "tanh_gaussian": tanh_gaussian_case(),
    }
    with open(out + ".tmp", "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    os.replace(out + ".tmp", out)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
