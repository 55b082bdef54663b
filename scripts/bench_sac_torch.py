#!/usr/bin/python3
"""PyTorch CPU reference of one MT-SAC update, for benchmarks/sac_bench.c.

The same update as rl/sac.c at the mtrl MT-SAC shapes: K=10 tasks, B rows per
task block, 39 observation and 4 action features with the task one-hot
appended, actor and twin critics of three hidden layers of 400 (ReLU), Adam,
Polyak targets and one log temperature per task. Prints
`updates_per_s=X cpu_ms=Y` (wall-clock rate, process CPU time per update). The caller sets the BLAS threads through
OPENBLAS_NUM_THREADS; --intra-threads sets torch's intra-op threads.

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/bench_sac_torch.py --intra-threads 1
"""

import argparse
import math
import time

import torch

K, OBS, ACT, HIDDEN = 10, 39, 4, 400
GAMMA, TAU, LR, TARGET_ENTROPY = 0.99, 0.005, 3e-4, -4.0
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def mlp(n_in, n_out):
    """Three hidden layers of 400 with ReLU, linear output."""
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, n_out))


def policy(head, eps):
    """Tanh-squashed Gaussian: actions and log-probabilities."""
    mean, raw = head[:, :ACT], head[:, ACT:]
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1.0)
    u = mean + torch.exp(log_std) * eps
    log_jac = 2.0 * (math.log(2.0) - u - torch.nn.functional.softplus(-2.0 * u))
    logp = (-0.5 * eps * eps - log_std - 0.5 * math.log(2.0 * math.pi) - log_jac).sum(1)
    return torch.tanh(u), logp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="rows per task block")
    parser.add_argument("--intra-threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--updates", type=int, default=10, help="timed updates")
    args = parser.parse_args()
    torch.set_num_threads(args.intra_threads)
    torch.manual_seed(0)
    B, rows = args.batch, K * args.batch

    actor = mlp(OBS + K, 2 * ACT)
    q1, q2 = mlp(OBS + ACT + K, 1), mlp(OBS + ACT + K, 1)
    q1_t, q2_t = mlp(OBS + ACT + K, 1), mlp(OBS + ACT + K, 1)
    q1_t.load_state_dict(q1.state_dict())
    q2_t.load_state_dict(q2.state_dict())
    log_temp = torch.zeros(K, requires_grad=True)
    opt_actor = torch.optim.Adam(actor.parameters(), lr=LR)
    opt_q1 = torch.optim.Adam(q1.parameters(), lr=LR)
    opt_q2 = torch.optim.Adam(q2.parameters(), lr=LR)
    opt_temp = torch.optim.Adam([log_temp], lr=LR)

    hot = torch.eye(K).repeat_interleave(B, dim=0)
    obs, next_obs = torch.randn(rows, OBS), torch.randn(rows, OBS)
    action, reward = torch.rand(rows, ACT) * 2 - 1, torch.rand(rows) * 10

    def block_mean(x):
        return x.reshape(K, B).mean(1)

    def update():
        temp = log_temp.detach().exp().repeat_interleave(B)
        with torch.no_grad():
            a2, logp2 = policy(actor(torch.cat([next_obs, hot], 1)), torch.randn(rows, ACT))
            x2 = torch.cat([next_obs, a2, hot], 1)
            y = reward + GAMMA * (torch.min(q1_t(x2), q2_t(x2)).squeeze(1) - temp * logp2)
        x = torch.cat([obs, action, hot], 1)
        for q, opt in ((q1, opt_q1), (q2, opt_q2)):
            opt.zero_grad()
            block_mean((q(x).squeeze(1) - y) ** 2).sum().backward()
            opt.step()
        a, logp = policy(actor(torch.cat([obs, hot], 1)), torch.randn(rows, ACT))
        xa = torch.cat([obs, a, hot], 1)
        opt_actor.zero_grad()
        block_mean(temp * logp - torch.min(q1(xa), q2(xa)).squeeze(1)).sum().backward()
        opt_actor.step()
        opt_temp.zero_grad()
        (-log_temp * block_mean(logp.detach() + TARGET_ENTROPY)).sum().backward()
        opt_temp.step()
        with torch.no_grad():
            for tgt, src in ((q1_t, q1), (q2_t, q2)):
                for pt, ps in zip(tgt.parameters(), src.parameters()):
                    pt.mul_(1.0 - TAU).add_(TAU * ps)

    update()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(args.updates):
        update()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"updates_per_s={args.updates / elapsed:.3f} cpu_ms={1e3 * cpu / args.updates:.2f}")


if __name__ == "__main__":
    main()
