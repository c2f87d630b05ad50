"""Engine overhead: a chain of 1,000 small elementwise ops, forward + backward, against PyTorch.

On (16, 16) float32 tensors the arithmetic itself is a few hundred nanoseconds per op,
so the time per op is almost all bookkeeping: building the Tensor and Function objects,
dispatching the operator, walking the graph backward. That is the engine's overhead,
and PyTorch's eager mode (C++ dispatcher and autograd) is the yardstick.

Both libraries run the same computation in the same process, interleaved, after a
warm-up, with the same thread count (these tensors are far too small for threads to
matter). The medians of several repetitions are reported as microseconds per op and
as the ratio chainrule / PyTorch. Usage:

    python benchmarks/engine_overhead.py [--ops 1000] [--reps 15] [--size 16] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import chainrule as cr


def chain(lib_tanh, x, w, b, n_ops: int):
    """``n_ops`` elementwise ops: (h * w + b) -> tanh -> * 0.9, repeated; then a sum to backpropagate from."""
    h = x
    for i in range(n_ops // 4):
        h = h * w
        h = h + b
        h = lib_tanh(h)
        h = h * 0.9
    return h.sum()


def run_chainrule(arrs, n_ops):
    x, w, b = (cr.tensor(a, requires_grad=True) for a in arrs)
    t0 = time.perf_counter()
    loss = chain(cr.tanh, x, w, b, n_ops)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, (x.grad.numpy(), w.grad.numpy(), b.grad.numpy())


def run_torch(torch, arrs, n_ops):
    x, w, b = (torch.tensor(a, requires_grad=True) for a in arrs)
    t0 = time.perf_counter()
    loss = chain(torch.tanh, x, w, b, n_ops)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, (x.grad.numpy(), w.grad.numpy(), b.grad.numpy())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-torch", action="store_true", help="time chainrule alone (for profiling)")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    shape = (args.size, args.size)
    arrs = [rng.standard_normal(shape).astype(np.float32) * s for s in (1.0, 0.5, 0.1)]

    torch = None
    if not args.no_torch:
        import torch

        torch.set_num_threads(args.threads)

    for _ in range(3):  # warm-up: allocator, caches, first-call paths
        run_chainrule(arrs, args.ops)
        if torch is not None:
            run_torch(torch, arrs, args.ops)

    cr_f, cr_b, th_f, th_b = [], [], [], []
    for _ in range(args.reps):
        f, b, g_cr = run_chainrule(arrs, args.ops)
        cr_f.append(f)
        cr_b.append(b)
        if torch is not None:
            f, b, g_th = run_torch(torch, arrs, args.ops)
            th_f.append(f)
            th_b.append(b)

    us = lambda xs: statistics.median(xs) / args.ops * 1e6  # noqa: E731
    tot = lambda fs, bs: statistics.median([f + b for f, b in zip(fs, bs)]) / args.ops * 1e6  # noqa: E731
    print(f"chain of {args.ops} elementwise ops on {shape} float32, median of {args.reps} runs, {args.threads} thread(s)")
    print(f"{'':12s}{'forward':>12s}{'backward':>12s}{'total':>12s}   (us per op)")
    print(f"{'chainrule':12s}{us(cr_f):12.2f}{us(cr_b):12.2f}{tot(cr_f, cr_b):12.2f}")
    if torch is not None:
        print(f"{'pytorch':12s}{us(th_f):12.2f}{us(th_b):12.2f}{tot(th_f, th_b):12.2f}")
        print(
            f"{'ratio':12s}{us(cr_f) / us(th_f):12.2f}{us(cr_b) / us(th_b):12.2f}"
            f"{tot(cr_f, cr_b) / tot(th_f, th_b):12.2f}   (chainrule / pytorch; target <= 3)"
        )
        for a, b_ in zip(g_cr, g_th):  # same math, so the gradients agree
            np.testing.assert_allclose(a, b_, rtol=1e-3, atol=1e-4)


if __name__ == "__main__":
    main()
