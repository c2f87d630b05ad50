"""Data-parallel throughput and the cost of the gradient all-reduce (chainrule.distributed).

    python benchmarks/distributed_throughput.py [--steps 20] [--recipes cnn-mnist,mnist-cnn]

Runs, for each recipe (its model and its batch size as the global batch):

- 1 process x 1 BLAS thread (the baseline: one core);
- 1 process x 2 BLAS threads (OPENBLAS_NUM_THREADS=2);
- 2 processes x 1 BLAS thread each (mpiexec -n 2), fit with DistributedOptimizer, each
  process taking half of every batch;

and reports samples/s over ``--steps`` timed steps (after 3 warm-up steps), the step time, and
for the 2-process run the time spent in the gradient all-reduce call per step (the slower
rank's, which includes waiting for the other rank to arrive). Then it times the
all-reduce alone (``mpiexec -n 2``, median of 100 after a barrier) for the gradient sizes of
the texts' CNN, Keras's mnist_cnn and nanoGPT's CPU configuration. The 2-process run needs both
cores to itself: on a shared machine the figures are pessimistic and noisy. Needs MNIST
(``$CHAINRULE_DATA``) and ``chainrule[mpi]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's chainrule, also when run as a script
WARMUP = 3
# Gradient sizes (float32 parameters): the texts' CNN, Keras's mnist_cnn, nanoGPT's CPU config
# (4 layers, 4 heads, 128 wide, vocab 65, block 64, no biases, tied embeddings; docs/distributed.md).
GRADIENTS = {"cnn-mnist": 121_930, "mnist-cnn": 1_199_882, "nanogpt-cpu": 804_096}


def worker(recipe_name: str, steps: int) -> None:
    """One run (alone, or as one rank under mpiexec): prints a JSON line on rank 0."""
    import numpy as np

    import chainrule as cr
    import chainrule.distributed as crd
    from chainrule import recipes

    crd.init()
    n_proc, rank = crd.size(), crd.rank()
    recipe = recipes.get(recipe_name)
    (x, y), _ = recipes.load_images(recipe.dataset, recipe.image_layout)
    global_batch = recipe.batch_size
    total = WARMUP + steps
    x, y = x[:global_batch * total], y[:global_batch * total]
    cr.manual_seed(0)
    model = recipe.build()
    optimizer = crd.DistributedOptimizer(cr.optimizers.Adam(1e-3))
    model.compile(optimizer=optimizer, loss=recipe.loss)
    marks = {}

    class Clock(cr.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == WARMUP - 1:
                marks["start"] = time.perf_counter()
                marks["comm0"] = optimizer.allreduce_seconds
            elif batch == total - 1:
                marks["end"] = time.perf_counter()
                marks["comm1"] = optimizer.allreduce_seconds

    model.fit(x, y, batch_size=global_batch // n_proc, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    seconds = marks["end"] - marks["start"]
    comm = np.array([marks["comm1"] - marks["comm0"]])
    comm = crd.allreduce(comm, "max")[0] if n_proc > 1 else 0.0
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    if rank == 0:
        print(json.dumps({
            "recipe": recipe_name, "processes": n_proc, "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")),
            "global_batch": global_batch, "params": params, "steps": steps,
            "samples_per_s": global_batch * steps / seconds, "step_ms": 1e3 * seconds / steps,
            "allreduce_ms": 1e3 * comm / steps,
        }), flush=True)


def allreduce_only(reps: int = 100) -> None:
    """Median and 90th percentile of one in-place float32 all-reduce per gradient size."""
    import numpy as np

    import chainrule.distributed as crd

    crd.init()
    comm = crd.mpi_comm()
    from mpi4py import MPI

    for name, n in GRADIENTS.items():
        a = np.ones(n, np.float32)
        for _ in range(5):
            comm.Allreduce(MPI.IN_PLACE, a)
        times = []
        for _ in range(reps):
            comm.Barrier()
            t = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, a)
            times.append(time.perf_counter() - t)
        times = crd.allreduce(np.array(times), "max")  # a collective ends when its slowest rank does
        if crd.rank() == 0:
            print(json.dumps({"allreduce": name, "floats": n, "mbytes": 4 * n / 1e6,
                              "median_us": float(np.median(times) * 1e6),
                              "p90_us": float(np.percentile(times, 90) * 1e6)}), flush=True)


def _run(cmd, threads: int) -> list[dict]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--recipes", default="cnn-mnist,mnist-cnn")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--allreduce-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.steps)
    if args.allreduce_only:
        return allreduce_only()

    from chainrule.distributed.launch import mpiexec_command

    me = [sys.executable, str(Path(__file__).resolve())]
    print(f"# load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    rows = []
    for name in args.recipes.split(","):
        work = me + ["--worker", name, "--steps", str(args.steps)]
        runs = [_run(work, threads=1)[0], _run(work, threads=2)[0], _run(mpiexec_command(2, work), threads=1)[0]]
        rows.append(runs)
        for r in runs:
            print(json.dumps(r))
    print("\n| recipe | params | global batch | 1 proc x 1 thread | 1 proc x 2 threads | 2 procs x 1 thread "
          "| 2 procs / 1x1 | 2 procs / 1x2 | step (1x1) | step (2 procs) | all-reduce call per step |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for one, threads, two in rows:
        print(f"| {one['recipe']} | {one['params']:,} | {one['global_batch']} | {one['samples_per_s']:.0f}/s | "
              f"{threads['samples_per_s']:.0f}/s | {two['samples_per_s']:.0f}/s | "
              f"{two['samples_per_s'] / one['samples_per_s']:.2f} | {two['samples_per_s'] / threads['samples_per_s']:.2f}"
              f" | {one['step_ms']:.0f} ms | {two['step_ms']:.0f} ms | {two['allreduce_ms']:.1f} ms |")
    print("\n| gradient | MB | all-reduce median | p90 |")
    print("|---|---:|---:|---:|")
    for r in _run(mpiexec_command(2, me + ["--allreduce-only"]), threads=1):
        print(f"| {r['allreduce']} ({r['floats']:,} floats) | {r['mbytes']:.2f} | {r['median_us']:.0f} us | "
              f"{r['p90_us']:.0f} us |")
    print(f"# load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
