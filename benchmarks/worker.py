"""PyTorch's (and Keras's) side of a benchmark run, in a process of its own.

Why a second process: importing chainrule tunes glibc's allocator for the whole process
(``chainrule.backend.tune_allocator``), and that tuning speeds PyTorch up too when both
libraries share a process (the texts' CNN at batch 128 measured 2.2x in one process and
1.4x in two). A user runs PyTorch without it, so by default ``python -m benchmarks`` times
PyTorch and Keras here, in a process started with ``CHAINRULE_MALLOC=default`` that never
tunes the allocator, while the runner's own process times chainrule. The two processes also
keep their thread pools apart (OpenBLAS's and the pool's in one, PyTorch's OpenMP threads in
the other), as two users' programs would.

The worker builds the same workloads as the runner (the same builders, seeds and data, in
the same order), and times a variant when the runner asks, so rounds stay interleaved
(A/B/A/B) across the two processes. The protocol is one JSON object a line: requests on the
worker's stdin, answers on a pipe of its own (its stdout is redirected to stderr so that
nothing the libraries print can break it).

    {"op": "build", "name": NAME}                          -> {"keys": [[kind, labels...], ...]} or {"skip": reason}
    {"op": "warm", "workload": i, "label": L, "calls": n}  -> {"best": seconds of the fastest call}
    {"op": "time", "workload": i, "label": L, "calls": n, "settle": s}
                                                           -> {"seconds": ..., "faults": ...}

``python -m benchmarks --same-process`` times everything in one process, as before.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from . import peak as _peak


def time_block(fn, calls: int, settle_seconds: float) -> tuple:
    """(seconds, minor page faults) of ``calls`` calls of ``fn`` back to back.

    First the other library's idle threads get ``settle_seconds`` to stop spinning (OpenBLAS's
    workers busy-wait for a while after each call, which on 2 cores steals a core from the
    next library's threads), then one untimed call settles caches and the heap.
    """
    if settle_seconds:
        time.sleep(settle_seconds)
    fn()
    f0 = _peak.page_faults()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    dt = time.perf_counter() - t0
    f1 = _peak.page_faults()
    return dt, None if f0 is None or f1 is None else f1 - f0


# ----------------------------------------------------------------------------- the runner's side
class Worker:
    """A running worker process; its variants are timed with ``warm`` and ``time`` by workload index."""

    def __init__(self, batch_size: int, fit_batches: int, threads: int, only=None):
        read_fd, write_fd = os.pipe()
        env = dict(os.environ, CHAINRULE_MALLOC="default")
        cmd = [sys.executable, "-m", "benchmarks.worker", "--answer-fd", str(write_fd),
               "--batch-size", str(batch_size), "--fit-batches", str(fit_batches), "--threads", str(threads)]
        if only:
            cmd += ["--only", *only]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, env=env, cwd=root, pass_fds=(write_fd,),
                                     text=True)
        os.close(write_fd)
        self.answers = os.fdopen(read_fd, "r")
        self.pid = self.proc.pid

    def _ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.answers.readline()
        if not line:
            raise RuntimeError(f"benchmarks worker (pid {self.pid}) ended without answering {request}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"benchmarks worker: {answer['error']}")
        return answer

    def build(self, name: str) -> dict:
        return self._ask(op="build", name=name)

    def warm(self, index: int, label: str, calls: int) -> float:
        return self._ask(op="warm", workload=index, label=label, calls=calls)["best"]

    def time(self, index: int, label: str, calls: int, settle: float) -> tuple:
        a = self._ask(op="time", workload=index, label=label, calls=calls, settle=settle)
        return a["seconds"], a["faults"]

    def close(self) -> None:
        try:
            self._ask(op="quit")
        except (RuntimeError, OSError, ValueError):
            pass
        self.proc.wait(timeout=30)


# ----------------------------------------------------------------------------- the worker's side
def _serve(args) -> int:
    import torch

    from .workloads import Skip, all_workloads

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass
    answers = os.fdopen(args.answer_fd, "w")
    sys.stdout = sys.stderr   # whatever the libraries print must not reach the protocol
    builders = dict(all_workloads(torch, args.batch_size, args.fit_batches, args.only))
    workloads = []

    def reply(**answer):
        answers.write(json.dumps(answer) + "\n")
        answers.flush()

    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "quit":
                reply(ok=True)
                return 0
            if op == "build":
                try:
                    workloads = builders[request["name"]]()
                except Skip as e:
                    reply(skip=str(e))
                    continue
                reply(keys=[[wl.kind, *[v.label for v in wl.variants]] for wl in workloads])
                continue
            wl = workloads[request["workload"]]
            variant = next((v for v in wl.variants if v.label == request["label"]), None)
            if variant is None:
                reply(error=f"{wl.name} {wl.kind} has no variant {request['label']!r}")
                continue
            if op == "warm":
                best = float("inf")
                for _ in range(max(request["calls"], 1)):
                    t0 = time.perf_counter()
                    variant.fn()
                    best = min(best, time.perf_counter() - t0)
                reply(best=best)
            elif op == "time":
                dt, faults = time_block(variant.fn, request["calls"], request["settle"])
                reply(seconds=dt, faults=faults)
            else:
                reply(error=f"unknown request {op!r}")
        except Exception as e:  # noqa: BLE001 - sent back to the runner, which raises it
            reply(error=f"{type(e).__name__}: {e}")
    return 0


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__.split("\n")[0])
    p.add_argument("--answer-fd", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--fit-batches", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--only", nargs="+")
    return _serve(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
