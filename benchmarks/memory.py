"""``python -m benchmarks.memory``: peak resident memory of one training epoch, chainrule and PyTorch.

Each (library, model) runs in a fresh process: it loads MNIST (60,000 training images, as
float32 in the library's layout), trains the model for one epoch at the given batch size,
and reports its peak resident set size (``VmHWM``), which includes the interpreter,
the library, the data and everything the epoch allocated. Both sides load MNIST with
chainrule's loader; the PyTorch process keeps glibc's own allocator settings
(``CHAINRULE_MALLOC=default``), so chainrule's tuning, which keeps freed heap resident,
counts against chainrule alone. The resident size right after
the imports and the data are loaded is reported too, so the difference is what training
itself held at its peak.

    python -m benchmarks.memory                        # both CNNs, batch 128, a full epoch
    python -m benchmarks.memory --steps 50 --batch-size 64
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

MODELS = ("text_cnn", "mnist_cnn")


def _rss_mb() -> float:
    """The current resident set size in MiB (Linux: /proc/self/statm)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def _peak_mb() -> float:
    """This process's peak resident set size in MiB: ``VmHWM`` of ``/proc/self/status``.

    Not ``ru_maxrss``: Linux carries that across ``execve``, so a worker started by a large
    process (``python -m benchmarks --complete``, after the timing runs had grown the runner
    to 730 MiB) reported the runner's size as its own peak. ``VmHWM`` belongs to the address
    space, which ``execve`` replaces. ``ru_maxrss`` is the fallback where /proc is missing.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024                  # kB
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _worker(lib: str, model_name: str, batch: int, steps: int | None) -> dict:
    import numpy as np

    from chainrule.data import datasets   # the loader only; chainrule's allocator tuning applies to both sides
    from .workloads import MODELS as SPECS

    spec = next(s for s in SPECS if s.name == model_name)
    (x, y), _ = datasets.mnist.load_data()
    x = x.reshape(-1, 28, 28, 1).astype(np.float32)
    x /= 255                                  # in place: loading must not set the peak
    y = y.astype(np.int64)
    n = len(x) if steps is None else min(len(x), steps * batch)
    x, y = x[:n], y[:n]
    t0 = time.perf_counter()
    if lib == "pytorch":
        import torch
        import torch.nn.functional as tF
        from torch import nn

        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        yt = torch.from_numpy(y)
        model = spec.torch_layers(nn)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        before = _rss_mb()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = tF.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    else:
        import chainrule as cr

        model = cr.Sequential(spec.cr_layers(cr))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        before = _rss_mb()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    return {"lib": lib, "model": model_name, "batch": batch, "samples": n, "seconds": time.perf_counter() - t0,
            "rss_before_training_mb": before, "peak_rss_mb": _peak_mb()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n")[0])
    p.add_argument("--worker", nargs=4, metavar=("LIB", "MODEL", "BATCH", "STEPS"), help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, help="train this many batches instead of a whole epoch")
    p.add_argument("--only", nargs="+", metavar="MODEL", help="text_cnn and/or mnist_cnn")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.worker:
        lib, model, batch, steps = args.worker
        print(json.dumps(_worker(lib, model, int(batch), None if steps == "all" else int(steps))))
        return 0
    rows = []
    print(f"peak resident memory of one training epoch (batch {args.batch_size}"
          f"{'' if args.steps is None else f', first {args.steps} batches'}), each run in its own process")
    print(f"{'model':<12}{'library':<11}{'before MiB':>11}{'peak MiB':>10}{'training MiB':>14}{'s':>8}")
    for model in MODELS:
        if args.only and model not in args.only:
            continue
        res = {}
        for lib in ("chainrule", "pytorch"):
            cmd = [sys.executable, "-m", "benchmarks.memory", "--worker", lib, model, str(args.batch_size),
                   "all" if args.steps is None else str(args.steps)]
            env = dict(os.environ)
            if lib == "pytorch":      # the data loader imports chainrule: keep glibc's own allocator settings
                env["CHAINRULE_MALLOC"] = "default"
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env=env)
            if out.returncode != 0:
                print(f"{model:<12}{lib:<11}failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            res[lib] = r
            rows.append(r)
            print(f"{model:<12}{lib:<11}{r['rss_before_training_mb']:>11.0f}{r['peak_rss_mb']:>10.0f}"
                  f"{r['peak_rss_mb'] - r['rss_before_training_mb']:>14.0f}{r['seconds']:>8.1f}")
        if len(res) == 2:
            ratio = res["chainrule"]["peak_rss_mb"] / res["pytorch"]["peak_rss_mb"]
            print(f"{model:<12}{'ratio':<11}{'':>11}{ratio:>9.2f}x  (peak chainrule / peak PyTorch; target <= 1.5)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
