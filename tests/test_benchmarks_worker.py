"""The benchmark's worker process: PyTorch timed in a process of its own, without chainrule's allocator tuning."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.run import time_workload  # noqa: E402
from benchmarks.worker import Worker  # noqa: E402
from benchmarks.workloads import all_workloads  # noqa: E402


def test_worker_builds_the_same_workloads_and_times_pytorch_in_its_own_process():
    import torch

    worker = Worker(batch_size=8, fit_batches=2, threads=1, only=["text_mlp"])
    try:
        (name, build), = [(n, b) for n, b in all_workloads(torch, 8, 2, ["text_mlp"]) if n == "text_mlp"]
        wls = build()
        built = worker.build(name)
        assert built["keys"] == [[wl.kind, *[v.label for v in wl.variants]] for wl in wls]
        timing = time_workload(wls[0], warmup=1, rounds=2, round_seconds=0.01, settle_seconds=0.0,
                               worker=worker, index=0)
        assert set(timing["median_ms"]) == {v.label for v in wls[0].variants}
        assert all(ms > 0 for ms in timing["median_ms"].values())
        with pytest.raises(RuntimeError, match="text_mlp train has no variant 'no such variant'"):
            worker.time(0, "no such variant", 1, 0.0)
    finally:
        worker.close()
    assert worker.proc.returncode == 0


def test_worker_process_does_not_tune_the_allocator():
    """The worker's environment (CHAINRULE_MALLOC=default) leaves glibc's allocator alone when chainrule is imported."""
    code = "import json, chainrule.backend as b; print(json.dumps(b.ALLOCATOR))"

    def allocator(**env):
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), cwd=ROOT,
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    assert allocator(CHAINRULE_MALLOC="default") == {}
    tuned = allocator(CHAINRULE_MALLOC="tuned")
    assert tuned == {} or tuned.get("M_MMAP_THRESHOLD")  # {} where mallopt is missing (not glibc)
