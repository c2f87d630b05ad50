"""The machine: its description, the BLAS thread count, and its measured float32 GEMM peak.

The peak is what a large square float32 matrix product reaches on this machine in this
process, with the thread count both libraries use: ``np.matmul`` (the BLAS chainrule
runs on) and ``torch.mm`` (PyTorch's own GEMM), best of several runs each. The larger
of the two is taken as the machine's peak, the yardstick for the fraction of peak the
GEMM-bound workloads reach.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def blas_info() -> list:
    """threadpoolctl's description of the BLAS/OpenMP pools loaded in this process ([] if unavailable)."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    return threadpoolctl.threadpool_info()


def blas_threads() -> tuple[int, str]:
    """The number of threads NumPy's BLAS uses, and how it was found."""
    for pool in blas_info():
        if pool.get("user_api") == "blas":
            return int(pool["num_threads"]), f"threadpoolctl ({pool.get('internal_api')})"
    return os.cpu_count() or 1, "os.cpu_count() (threadpoolctl not installed)"


def limit_blas_threads(n: int):
    """Limit NumPy's BLAS to ``n`` threads for the rest of the process (needs threadpoolctl)."""
    try:
        import threadpoolctl
    except ImportError:
        raise SystemExit("--threads needs threadpoolctl (pip install threadpoolctl); "
                         "or set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before starting Python") from None
    return threadpoolctl.threadpool_limits(limits=n, user_api="blas")


def tune_malloc() -> dict:
    """Keep freed memory in glibc's heap (``--malloc tuned``): what chainrule does at import.

    See ``chainrule.backend.tune_allocator``. It applies to the whole process, so to both
    libraries alike. Returns what was set ({} where unsupported).
    """
    from chainrule.backend import tune_allocator

    return tune_allocator()


def page_faults() -> int | None:
    """Minor page faults of this process so far."""
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except (ImportError, OSError):
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (sha + ("+dirty" if dirty else "")) if sha else None


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": sys.version.split()[0],
    }


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_snapshot(also=()):
    """(wall seconds, CPU-seconds busy on the whole machine, CPU-seconds of this process), or None.

    Two snapshots give how many cores *other* processes kept busy in between: on a shared
    machine that is the contention the timings suffered (Linux only; elsewhere None).
    The processes whose ids are in ``also`` (the benchmark's own worker) count as this one.
    """
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
        vals = [int(v) for v in fields]
        busy = sum(vals) - vals[3] - (vals[4] if len(vals) > 4 else 0)  # all but idle and iowait
        mine = 0
        for pid in ("self", *also):
            with open(f"/proc/{pid}/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
            mine += int(own[11]) + int(own[12])  # utime + stime of every thread of the process
    except (OSError, ValueError, IndexError):
        return None
    return time.perf_counter(), busy / _CLK_TCK, mine / _CLK_TCK


def other_load(before, after) -> float | None:
    """Cores kept busy by other processes between two ``cpu_snapshot``s."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / (after[0] - before[0]))


def wait_until_quiet(max_wait: float, threshold: float, probe: float = 0.5, also=()) -> float | None:
    """Sleep until other processes keep at most ``threshold`` cores busy (probed over ``probe``
    seconds), or ``max_wait`` seconds have passed; returns the last measured other load."""
    deadline = time.perf_counter() + max_wait
    load = None
    while True:
        before = cpu_snapshot(also)
        time.sleep(probe)
        load = other_load(before, cpu_snapshot(also))
        if load is None or load <= threshold or time.perf_counter() >= deadline:
            return load


def _best_gflops(fn, flops: float, min_runs: int, min_seconds: float) -> float:
    fn()  # warm-up: page in, spin up the threads
    fn()
    best = float("inf")
    runs, start = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return flops / best / 1e9


def recheck_peak(gemm: dict, torch=None, n: int = 1024) -> float:
    """A short re-measurement (NumPy and PyTorch, n x n x n) folded into ``gemm``; returns the new peak.

    On a machine shared with other work the peak measured at one moment can be far below
    the machine's; the runner re-measures between workloads and keeps the best.
    """
    again = gemm_peak(torch, sizes=(n,), min_runs=3, min_seconds=0.0)
    gemm.setdefault("rechecks_gflops", []).append(max(again["numpy_peak_gflops"], again["torch_peak_gflops"] or 0))
    gemm["numpy_peak_gflops"] = max(gemm["numpy_peak_gflops"], again["numpy_peak_gflops"])
    if again["torch_peak_gflops"]:
        gemm["torch_peak_gflops"] = max(gemm["torch_peak_gflops"] or 0, again["torch_peak_gflops"])
    gemm["peak_gflops"] = max(gemm["peak_gflops"], gemm["rechecks_gflops"][-1])
    return gemm["peak_gflops"]


def gemm_peak(torch=None, sizes=(1024, 2048), min_runs: int = 5, min_seconds: float = 0.5) -> dict:
    """Best GFLOP/s of an n x n x n float32 product, for NumPy (and PyTorch), at each size."""
    rng = np.random.default_rng(0)
    out = {"numpy": {}, "torch": {}}
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        flops = 2.0 * n ** 3
        out["numpy"][n] = _best_gflops(lambda: np.matmul(a, b, out=c), flops, min_runs, min_seconds)
        if torch is not None:
            ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
            with torch.no_grad():
                out["torch"][n] = _best_gflops(lambda: torch.mm(ta, tb, out=tc), flops, min_runs, min_seconds)
    best_np = max(out["numpy"].values())
    best_th = max(out["torch"].values()) if out["torch"] else 0.0
    return {
        "sizes": list(sizes),
        "numpy_gflops": {str(k): v for k, v in out["numpy"].items()},
        "torch_gflops": {str(k): v for k, v in out["torch"].items()},
        "numpy_peak_gflops": best_np,
        "torch_peak_gflops": best_th or None,
        "peak_gflops": max(best_np, best_th),
    }
