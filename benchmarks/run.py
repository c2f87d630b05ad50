"""``python -m benchmarks``: chainrule against PyTorch, workload by workload, each library in its own process.

chainrule runs in this process; PyTorch (and Keras) run in a worker process started without
chainrule's allocator tuning (``benchmarks/worker.py``), as a user runs them; ``--same-process``
times all of them here instead. For each workload both libraries are built, warmed up, then timed interleaved: in each
of R rounds every variant (chainrule's custom loop, chainrule's ``fit``, PyTorch) runs
k steps back to back, in A/B/A/B order (reversed every other round so that neither
side always runs first), with k chosen so that a round lasts about ``round_seconds``.
The table reports the median ms/step over the rounds, the ratio chainrule / PyTorch,
the target where the issue sets one, and for the GEMM-bound workloads the fraction of
the machine's float32 GEMM peak (measured at the start of the same run) that each
library's step reaches.

    python -m benchmarks                 # full run (a few minutes)
    python -m benchmarks --quick         # short run (about a minute)
    python -m benchmarks --only mlp      # workloads whose name contains "mlp"
    python -m benchmarks --compare A.json B.json   # two saved runs side by side
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from . import peak as _peak
from .worker import Worker, time_block
from .workloads import Skip, all_workloads

RESULTS_DIR = Path(__file__).resolve().parent / "results"

PROFILES = {
    # warm-up steps, rounds, seconds per variant per round, GEMM sizes, batches per fit call
    "quick": dict(warmup=2, rounds=3, round_seconds=0.12, gemm_sizes=(1024,), gemm_seconds=0.3, fit_batches=2,
                  retries=1, wait_idle=5.0, settle_seconds=0.2),
    "full": dict(warmup=4, rounds=7, round_seconds=0.4, gemm_sizes=(1024, 2048), gemm_seconds=1.0, fit_batches=4,
                 retries=2, wait_idle=30.0, settle_seconds=0.2),
}


# ----------------------------------------------------------------------------- timing
def time_workload(wl, warmup: int, rounds: int, round_seconds: float, settle_seconds: float = 0.2,
                  worker=None, index: int | None = None) -> dict:
    """Median ms/step of each variant, timed interleaved after a warm-up; also the raw samples.

    With a ``worker`` (``benchmarks/worker.py``), the variants of the other libraries run in the
    worker's process (workload ``index`` of its current build) and chainrule's here.
    """
    def remote(v):
        return worker is not None and v.lib != "chainrule"

    est = {}
    for v in wl.variants:
        if remote(v):
            est[v.label] = worker.warm(index, v.label, warmup)
            continue
        best = float("inf")
        for _ in range(max(warmup, 1)):
            t0 = time.perf_counter()
            v.fn()
            best = min(best, time.perf_counter() - t0)
        est[v.label] = best
    calls = {v.label: max(1, math.ceil(round_seconds / est[v.label])) for v in wl.variants}
    samples = {v.label: [] for v in wl.variants}
    faults = {v.label: 0 for v in wl.variants}
    steps = {v.label: 0 for v in wl.variants}
    for r in range(rounds):
        order = wl.variants if r % 2 == 0 else wl.variants[::-1]
        for v in order:
            n = calls[v.label]
            if remote(v):
                dt, block_faults = worker.time(index, v.label, n, settle_seconds)
            else:
                dt, block_faults = time_block(v.fn, n, settle_seconds)
            samples[v.label].append(dt / (n * v.steps_per_call) * 1e3)
            if block_faults is not None:
                faults[v.label] += block_faults
            steps[v.label] += n * v.steps_per_call
    return {
        "median_ms": {k: statistics.median(s) for k, s in samples.items()},
        "samples_ms": samples,
        "steps_per_round": {v.label: calls[v.label] * v.steps_per_call for v in wl.variants},
        "page_faults_per_step": {k: faults[k] / steps[k] for k in faults if steps[k]},
    }


def set_fractions(rows: list, peak_gflops: float) -> None:
    for r in rows:
        for lib in ("chainrule", "pytorch"):
            g = r[f"{lib}_gflops"]
            r[f"{lib}_frac_peak"] = g / peak_gflops if g else None


def _gflops(flops, ms):
    return flops / (ms * 1e-3) / 1e9 if flops and ms else None


def rows_of(wl, timing: dict, peak_gflops: float) -> list:
    out = []
    med = timing["median_ms"]
    for row in wl.rows:
        c, t = med[row.chainrule], med[row.pytorch]
        c_s, t_s = timing["samples_ms"][row.chainrule], timing["samples_ms"][row.pytorch]
        round_ratios = [a / b for a, b in zip(c_s, t_s)]
        cg, tg = _gflops(wl.flops_per_step, c), _gflops(wl.flops_per_step, t)
        out.append({
            "workload": wl.name,
            "step": row.label,
            "kind": wl.kind,
            "description": wl.description,
            "chainrule_ms": c,
            "pytorch_ms": t,
            "ratio": c / t,
            "ratio_range": [min(round_ratios), max(round_ratios)],
            "chainrule_best_ms": min(c_s),
            "pytorch_best_ms": min(t_s),
            "target": row.target,
            "meets_target": None if row.target is None else c / t <= row.target,
            "flops_per_step": wl.flops_per_step,
            "chainrule_gflops": cg,
            "pytorch_gflops": tg,
            "chainrule_frac_peak": cg / peak_gflops if cg else None,
            "pytorch_frac_peak": tg / peak_gflops if tg else None,
            "chainrule_samples_ms": c_s,
            "pytorch_samples_ms": t_s,
            "steps_per_round": [timing["steps_per_round"][row.chainrule], timing["steps_per_round"][row.pytorch]],
            "notes": wl.notes,
            "other_load": timing.get("other_load"),
            "page_faults_per_step": [timing["page_faults_per_step"].get(row.chainrule),
                                     timing["page_faults_per_step"].get(row.pytorch)],
        })
    return out


# ----------------------------------------------------------------------------- printing
def _pct(x):
    return f"{100 * x:5.1f}%" if x is not None else "     -"


HEADER = (f"{'workload':<16}{'step':<13}{'chainrule ms':>13}{'pytorch ms':>12}{'ratio':>8}  {'target':<10}"
          f"{'cr %peak':>9}{'pt %peak':>9}{'busy':>7}")


def format_row(r: dict) -> str:
    busy = "-" if r.get("other_load") is None else f"{r['other_load']:.2f}" + ("*" if r.get("disturbed") else " ")
    tgt = ""
    if r["target"] is not None:
        tgt = f"<={r['target']:.2f}" + (" ok" if r["meets_target"] else " !!")
    return (f"{r['workload']:<16}{r['step']:<13}{r['chainrule_ms']:13.2f}{r['pytorch_ms']:12.2f}"
            f"{r['ratio']:8.2f}  {tgt:<10}{_pct(r['chainrule_frac_peak']):>9}{_pct(r['pytorch_frac_peak']):>9}"
            f"{busy:>7}")


def print_table(rows: list, file=sys.stdout) -> None:
    print(HEADER, file=file)
    print("-" * len(HEADER), file=file)
    for r in rows:
        print(format_row(r), file=file)


# ----------------------------------------------------------------------------- compare
def compare(path_a: str, path_b: str) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in (path_a, path_b))
    key = lambda r: (r["workload"], r["step"])  # noqa: E731
    ra = {key(r): r for r in a["results"]}
    print(f"A: {path_a}  ({a.get('date')}, {a.get('git_commit')})")
    print(f"B: {path_b}  ({b.get('date')}, {b.get('git_commit')})")
    print(f"{'workload':<16}{'step':<13}{'cr ms A':>10}{'cr ms B':>10}{'B/A':>7}{'ratio A':>9}{'ratio B':>9}")
    for r in b["results"]:
        old = ra.get(key(r))
        if old is None:
            print(f"{r['workload']:<16}{r['step']:<13}{'-':>10}{r['chainrule_ms']:10.2f}{'':>7}{'-':>9}"
                  f"{r['ratio']:9.2f}")
            continue
        print(f"{r['workload']:<16}{r['step']:<13}{old['chainrule_ms']:10.2f}{r['chainrule_ms']:10.2f}"
              f"{r['chainrule_ms'] / old['chainrule_ms']:7.2f}{old['ratio']:9.2f}{r['ratio']:9.2f}")
    return 0


# ----------------------------------------------------------------------------- main
def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[10:]))
    p.add_argument("--quick", action="store_true", help="a short run (fewer, shorter rounds; about a minute)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only the workloads whose name contains one of these (mnist_mlp text_mlp "
                        "text_cnn mnist_cnn engine_overhead)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--rounds", type=int, help="interleaved rounds (default: 3 quick, 7 full)")
    p.add_argument("--round-seconds", type=float, help="seconds each variant runs per round")
    p.add_argument("--retries", type=int,
                   help="re-time a workload up to this many times when other processes kept more than "
                        "--busy-cores cores busy while it ran; the least disturbed attempt is kept (default: 1 quick, 2 full)")
    p.add_argument("--busy-cores", type=float, default=0.25, help="see --retries (default 0.25)")
    p.add_argument("--wait-idle", type=float, metavar="SECONDS",
                   help="before each workload, wait up to this long for other processes to leave the "
                        "cores (at most --busy-cores busy) (default: 5 quick, 30 full)")
    p.add_argument("--malloc", choices=("default", "tuned"), default="tuned",
                   help="'tuned' (what chainrule sets at import, see chainrule.backend.tune_allocator): "
                        "glibc's mmap/trim thresholds raised for the whole process so that big temporaries "
                        "reuse memory instead of page-faulting fresh pages every step; 'default': glibc's "
                        "own allocator settings (CHAINRULE_MALLOC=default)")
    p.add_argument("--same-process", action="store_true",
                   help="time PyTorch and Keras in this process too, under chainrule's allocator tuning "
                        "(default: in a worker process of their own, as users run them; benchmarks/worker.py)")
    p.add_argument("--threads", type=int,
                   help="threads for both libraries (default: the thread count of NumPy's BLAS)")
    p.add_argument("--json", metavar="PATH", help="where to write the results (default benchmarks/results/<time>.json)")
    p.add_argument("--no-json", action="store_true", help="do not write a JSON file")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="print two saved runs side by side")
    p.add_argument("--complete", action="store_true",
                   help="the whole speed report in one run: this table, the CNNs again at batch 64 (or 128 "
                        "when --batch-size is 64), the busy-machine ratios (benchmarks.busy) and the memory "
                        "peaks of an epoch (benchmarks.memory); about 15 minutes, 5 with --quick")
    return p.parse_args(argv)


def complete(args, argv) -> int:
    """``--complete``: the table, the CNNs at the other batch size, the busy machine, memory."""
    from . import busy, memory

    rest, skip = [], False
    for a in argv:                                   # drop --complete and --batch-size B
        if skip:
            skip = False
        elif a == "--batch-size":
            skip = True
        elif a != "--complete" and not a.startswith("--batch-size="):
            rest.append(a)
    other = 128 if args.batch_size == 64 else 64
    rc = main(rest + ["--batch-size", str(args.batch_size)])
    print(f"\n==== the CNNs at batch {other}")
    rc = main(rest + ["--only", "text_cnn", "mnist_cnn", "--batch-size", str(other)]) or rc
    print("\n==== busy machine (python -m benchmarks.busy)")
    rc = busy.main(["--seconds", "2", "--rounds", "1"] if args.quick else []) or rc
    print("\n==== memory (python -m benchmarks.memory)")
    rc = memory.main(["--steps", "100"] if args.quick else []) or rc
    return rc


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.complete:
        return complete(args, list(sys.argv[1:] if argv is None else argv))
    prof = dict(PROFILES["quick" if args.quick else "full"])
    if args.rounds:
        prof["rounds"] = args.rounds
    if args.round_seconds:
        prof["round_seconds"] = args.round_seconds
    if args.retries is not None:
        prof["retries"] = args.retries
    if args.wait_idle is not None:
        prof["wait_idle"] = args.wait_idle

    malloc = {"mode": args.malloc}
    if args.malloc == "tuned":
        malloc["settings"] = _peak.tune_malloc()
        if not malloc["settings"]:
            print("--malloc tuned: mallopt is not available here (not glibc); running with the default allocator")
    elif "chainrule" in sys.modules:
        print("--malloc default: chainrule was already imported and has tuned the allocator; "
              "set CHAINRULE_MALLOC=default before starting Python")
    else:
        os.environ["CHAINRULE_MALLOC"] = "default"   # read when the workloads import chainrule
    _limits = None
    if args.threads:
        _limits = _peak.limit_blas_threads(args.threads)  # noqa: F841 - held for the whole run
        threads, how = args.threads, "--threads"
    else:
        threads, how = _peak.blas_threads()
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed; the benchmarks compare against it (pip install torch==2.13.0)")
        return 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass

    keras_version = _keras_version()
    if keras_version:
        print(f"Keras {keras_version} is installed (backend {os.environ['KERAS_BACKEND']}): the model workloads "
              "also time it; rows 'vs keras' compare chainrule with Keras (the 'pytorch ms' column holds Keras's)")
    started = _dt.datetime.now()
    mach = _peak.machine()
    load_start = _loadavg()
    if load_start and load_start[0] > 0.5 * (mach["affinity"] or mach["cores"] or 1):
        print(f"warning: the machine is busy before the run starts (load average {load_start[0]:.2f} on "
              f"{mach['affinity'] or mach['cores']} cores); other processes compete for the cores, so the "
              "timings (PyTorch's threaded ops especially) are noisy. Run on an idle machine for numbers to keep.")
    print(f"chainrule vs PyTorch {torch.__version__}, float32, batch {args.batch_size}, "
          f"{threads} thread(s) ({how}), {'quick' if args.quick else 'full'} run, malloc {args.malloc}")
    print(f"{mach['cpu']}, {mach['cores']} cores; {mach['platform']}; Python {mach['python']}, NumPy {np.__version__}")
    t_gemm = time.perf_counter()
    gemm = _peak.gemm_peak(torch, sizes=prof["gemm_sizes"], min_seconds=prof["gemm_seconds"])
    print(f"float32 GEMM peak: NumPy {gemm['numpy_peak_gflops']:.1f} GFLOP/s, PyTorch "
          f"{gemm['torch_peak_gflops']:.1f} GFLOP/s (n = {', '.join(map(str, gemm['sizes']))}); "
          f"%peak below is of {gemm['peak_gflops']:.1f} ({time.perf_counter() - t_gemm:.1f} s)\n")

    rows, skipped, descriptions = [], [], {}
    worker = None if args.same_process else Worker(args.batch_size, prof["fit_batches"], threads, args.only)
    ours = () if worker is None else (worker.pid,)   # the worker's CPU time is not "other processes"
    print(f"PyTorch{' and Keras' if keras_version else ''} timed "
          f"{'in this process' if worker is None else f'in a process of its own (pid {worker.pid}, glibc default allocator)'}")
    print("running (each row as it finishes; %peak against the peak measured so far):")
    print(HEADER)
    for name, build in all_workloads(torch, args.batch_size, prof["fit_batches"], args.only):
        try:
            wls = build()
        except Skip as e:
            print(f"{name:<16}skipped: {e}")
            skipped.append({"workload": name, "reason": str(e)})
            continue
        if worker is not None:
            built = worker.build(name)
            keys = [[wl.kind, *[v.label for v in wl.variants]] for wl in wls]
            if built.get("keys") != keys:
                raise RuntimeError(f"benchmarks: the worker built {name} as {built}, this process as {keys}")
        for index, wl in enumerate(wls):
            timing = None
            for attempt in range(prof["retries"] + 1):
                if prof["wait_idle"] > 0:
                    _peak.wait_until_quiet(prof["wait_idle"], args.busy_cores, also=ours)
                before = _peak.cpu_snapshot(also=ours)
                t = time_workload(wl, prof["warmup"], prof["rounds"], prof["round_seconds"], prof["settle_seconds"],
                                  worker=worker, index=index)
                t["other_load"] = _peak.other_load(before, _peak.cpu_snapshot(also=ours))
                t["attempt"] = attempt
                if timing is None or (t["other_load"] or 0) < (timing["other_load"] or 0):
                    timing = t
                if t["other_load"] is None or t["other_load"] <= args.busy_cores:
                    break
                print(f"  ({wl.name} {wl.kind}: other processes kept {t['other_load']:.2f} cores busy; "
                      f"{'timing again' if attempt < prof['retries'] else 'keeping the least disturbed attempt'})",
                      flush=True)
            descriptions[wl.name] = wl.description.split("; batch")[0]
            for r in rows_of(wl, timing, gemm["peak_gflops"]):
                r["disturbed"] = bool(r["other_load"] and r["other_load"] > args.busy_cores)
                rows.append(r)
                print(format_row(r), flush=True)
            if wl.flops_per_step:
                _peak.recheck_peak(gemm, torch)
    if worker is not None:
        worker.close()
    set_fractions(rows, gemm["peak_gflops"])
    elapsed = time.perf_counter() - t_gemm

    print(f"\nchainrule vs PyTorch {torch.__version__}: float32, batch {args.batch_size}, {threads} thread(s); "
          f"float32 GEMM peak {gemm['peak_gflops']:.1f} GFLOP/s (best measured in this run)")
    print(HEADER)
    print("-" * len(HEADER))
    for r in rows:
        print(format_row(r))
    for s in skipped:
        print(f"{s['workload']:<16}skipped: {s['reason']}")
    print("\nratio = chainrule / PyTorch (lower is better; 1 = as fast). ms/step: median over the rounds.")
    print("train: forward + loss + backward + optimizer step; 'train' is chainrule's custom loop "
          "(cr.grad + optimizer.apply), 'train (fit)' is model.fit; both against PyTorch's loop.")
    print("%peak: the step's GEMM/convolution FLOPs per second as a fraction of the GEMM peak.")
    print("busy: cores other processes kept busy while the workload ran (0 on an idle machine); "
          "* = over --busy-cores even after the retries: treat that row's numbers as noise.")
    print("CNNs: chainrule NHWC (channels_last), PyTorch NCHW, each library's natural layout.")
    if keras_version:
        print(f"'fit vs keras' / 'infer vs keras': chainrule / Keras {keras_version} on its "
              f"{os.environ['KERAS_BACKEND']} backend, the same layers (the 'pytorch ms' column holds Keras's ms).")
    for name, d in descriptions.items():
        print(f"  {name}: {d}")
    print(f"total {elapsed:.0f} s")

    if not args.no_json:
        path = Path(args.json) if args.json else RESULTS_DIR / f"{started:%Y%m%d-%H%M%S}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "schema": 1,
            "date": started.isoformat(timespec="seconds"),
            "git_commit": _peak.git_commit(),
            "profile": "quick" if args.quick else "full",
            "settings": {**{k: list(v) if isinstance(v, tuple) else v for k, v in prof.items()},
                         "batch_size": args.batch_size},
            "machine": mach,
            "versions": {"python": mach["python"], "numpy": np.__version__, "torch": torch.__version__,
                         "chainrule": _chainrule_version(), "keras": keras_version},
            "threads": {"count": threads, "how": how, "torch_num_threads": torch.get_num_threads()},
            "pytorch_process": "same" if args.same_process else "own (CHAINRULE_MALLOC=default)",
            "blas": _peak.blas_info(),
            "malloc": malloc,
            "torch_config": torch.__config__.show(),
            "gemm_peak": gemm,
            "results": rows,
            "skipped": skipped,
            "elapsed_s": elapsed,
            "load_average": {"start": load_start, "end": _loadavg()},
        }
        path.write_text(json.dumps(doc, indent=1))
        print(f"results written to {path}")
    return 0


def _loadavg():
    try:
        return list(os.getloadavg())
    except (OSError, AttributeError):
        return None


def _keras_version():
    """Keras's version when it is installed (its backend: torch unless KERAS_BACKEND says otherwise), else None."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError:
        return None
    return keras.__version__


def _chainrule_version():
    try:
        import chainrule
        return chainrule.__version__
    except Exception:  # noqa: BLE001 - only for the record
        return None
