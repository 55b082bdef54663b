#!/usr/bin/python3
"""Time torch.nn.functional.conv2d forward+backward on CPU, the reference of
benchmarks/conv_bench.c.

For each --shape B,C,F,H,W,K,DX (batch, input channels, filters, input size,
kernel, 1 when the input gradient is needed) it runs forward, then backward
from a fixed output gradient (weight, bias and, with DX, input gradients),
with stride 1 and padding K // 2. It prints one line per shape with the
median wall-clock and process-CPU milliseconds of one forward+backward.
Run it with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def bench(shape, samples, iters):
    b, c, f, h, w, k, dx = shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, c, h, w, generator=g).requires_grad_(bool(dx))
    weight = (torch.randn(f, c, k, k, generator=g) * 0.1).requires_grad_(True)
    bias = torch.zeros(f).requires_grad_(True)
    dy = torch.randn(b, f, h, w, generator=g)

    def step():
        y = F.conv2d(x, weight, bias, stride=1, padding=k // 2)
        y.backward(dy)

    step()
    wall, cpu = [], []
    for _ in range(samples):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            step()
        wall.append((time.perf_counter() - t0) / iters * 1e3)
        cpu.append((time.process_time() - c0) / iters * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--samples", type=int, default=7, help="timed samples per shape")
    ap.add_argument("--iters", type=int, default=3, help="forward+backward passes per sample")
    ap.add_argument("--shape", action="append", required=True,
                    help="B,C,F,H,W,K,DX; repeat for several shapes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} "
          f"mkldnn={int(torch.backends.mkldnn.is_available())}")
    for s in args.shape:
        shape = tuple(int(v) for v in s.split(","))
        if len(shape) != 7:
            raise SystemExit(f"bench_conv_torch: --shape {s!r} needs 7 integers B,C,F,H,W,K,DX")
        ms, cpu_ms = bench(shape, args.samples, args.iters)
        print(f"shape={s} torch_ms={ms:.3f} torch_cpu_ms={cpu_ms:.3f}")


if __name__ == "__main__":
    main()
