"""Projected data-parallel scaling efficiency from the ring all-reduce cost model.

    python benchmarks/distributed_projection.py --cnn-ms 120 --mnist-cnn-ms 900 --gflops 9

Each of N nodes runs one process with the model's own batch, whose step computes in ``T_c``
(measured on this machine by distributed_throughput.py). A ring all-reduce of S gradient bytes
sends and receives ``2 (N - 1) / N * S`` bytes per node in ``2 (N - 1)`` messages, so on a link of
bandwidth ``beta`` bytes/s with per-message latency ``alpha``:

    T_comm(N) = 2 (N - 1) / N * S / beta + 2 (N - 1) alpha

Without overlap the step takes ``T_c + T_comm``; the scaling efficiency (throughput of N nodes
over N times one node's) is ``E(N) = T_c / (T_c + T_comm(N))``. With the communication fully
hidden behind the backward pass it would be ``T_c / max(T_c, T_comm)``.

The GPT (nanoGPT's CPU configuration) is not measured here: its step time is estimated from its
FLOPs (nanoGPT's count, 6 N + 12 L d T per token, 12 x 64 tokens a step) at the rate (GFLOP/s)
measured for mnist_cnn's step.
"""
from __future__ import annotations

import argparse

LINKS = {"10 Gbit/s": 10e9 / 8, "100 Gbit/s": 100e9 / 8}
ALPHA = 10e-6   # seconds per message: TCP over Ethernet; RDMA fabrics are a few microseconds
NODES = [2, 4, 8, 16, 32, 64]


def nanogpt_cpu_params(n_layer=4, n_embd=128, vocab=65, block=64) -> int:
    """nanoGPT without biases (its train.py default), tied token embedding and output head."""
    per_layer = 2 * n_embd + n_embd * 3 * n_embd + n_embd * n_embd + 2 * (n_embd * 4 * n_embd)
    return vocab * n_embd + block * n_embd + n_layer * per_layer + n_embd


def nanogpt_step_gflop(n_layer=4, n_embd=128, block=64, batch=12) -> float:
    n = nanogpt_cpu_params() - block * n_embd  # nanoGPT counts FLOPs without the position table
    per_token = 6 * n + 12 * n_layer * n_embd * block
    return per_token * block * batch / 1e9


def comm_seconds(nodes: int, nbytes: float, bandwidth: float, alpha: float = ALPHA) -> float:
    return 2 * (nodes - 1) / nodes * nbytes / bandwidth + 2 * (nodes - 1) * alpha


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cnn-ms", type=float, required=True, help="texts' CNN step time, batch 64 (ms)")
    p.add_argument("--mnist-cnn-ms", type=float, required=True, help="mnist_cnn step time, batch 128 (ms)")
    p.add_argument("--gflops", type=float, required=True, help="measured GFLOP/s of mnist_cnn's step")
    args = p.parse_args()
    gpt_params = nanogpt_cpu_params()
    gpt_ms = 1e3 * nanogpt_step_gflop() / args.gflops
    models = [("texts' CNN", 121_930, args.cnn_ms), ("mnist_cnn", 1_199_882, args.mnist_cnn_ms),
              ("nanoGPT CPU", gpt_params, gpt_ms)]
    print(f"nanoGPT CPU config: {gpt_params:,} parameters, {nanogpt_step_gflop():.2f} GFLOP a step, "
          f"estimated {gpt_ms:.0f} ms a step at {args.gflops:.1f} GFLOP/s\n")
    print("| model | gradient | step T_c | link | " + " | ".join(f"N={n}" for n in NODES) + " |")
    print("|---|---:|---:|---|" + "---:|" * len(NODES))
    for name, params, ms in models:
        nbytes = 4 * params
        for link, bw in LINKS.items():
            effs = [ms / (ms + 1e3 * comm_seconds(n, nbytes, bw)) for n in NODES]
            print(f"| {name} | {nbytes / 1e6:.2f} MB | {ms:.0f} ms | {link} | "
                  + " | ".join(f"{100 * e:.0f}%" for e in effs) + " |")
    # Faster nodes shrink T_c but not T_comm: the step time below which 64 nodes fall under 90%.
    print("\n| model | link | T_comm at N=64 | E(64) >= 90% needs T_c >= |")
    print("|---|---|---:|---:|")
    for name, params, _ in models:
        for link, bw in LINKS.items():
            t = comm_seconds(64, 4 * params, bw)
            print(f"| {name} | {link} | {1e3 * t:.2f} ms | {9e3 * t:.1f} ms |")


if __name__ == "__main__":
    main()
