"""``python -m benchmarks.busy``: training speed on a busy machine, against an idle one.

A user's machine is rarely idle: a second notebook, a test run, a browser. This run
times one training step of the texts' MLP and CNN twice for each configuration, first
on the idle machine and then while a CPU-bound *neighbour* process runs, and reports
the ratio busy / idle. Each configuration is timed in its own fresh process (PyTorch
in its own too: importing chainrule tunes the allocator for the whole process):

* ``chainrule``: the thread policy (``chainrule.threads``) decides the BLAS threads;
* ``chainrule 1 thread`` / ``chainrule N threads``: the count fixed by
  ``OPENBLAS_NUM_THREADS`` (the policy steps aside), to compare the policy with the best
  fixed count on the idle machine;
* ``pytorch``: ``torch.set_num_threads(N)`` with N the cores, as PyTorch does by default.

The neighbours (``--neighbour``): ``matmul``, NumPy multiplying 1024x1024 float32
matrices on its default BLAS threads; ``cnn``, a chainrule CNN training with the thread
policy off (``CHAINRULE_THREADS=fixed``), i.e. a naive second training run.

Where the neighbour runs (``--session``). Linux's scheduler, with ``autogroup`` on (the
default of desktop and many server kernels), first shares the cores between *sessions*
(a terminal, a notebook's kernel, each has its own), and only then between the threads of
one session. A neighbour started in this benchmark's own session (``shared``) competes
thread by thread: against its two busy threads on two cores, a fair share for a process on
one thread is 2/3 of a core, 1.5x its idle time (measured 1.2-1.4x with one thread fixed, as
the neighbour's BLAS threads also wait on each other). A neighbour in a session of its own
(``own``, as a second terminal's test run or a second notebook) gets half the machine and
leaves the other half to us. Both are timed by default.

    python -m benchmarks.busy                       # both models, matmul neighbour
    python -m benchmarks.busy --neighbour cnn --seconds 8
    python -m benchmarks.busy --session own         # the neighbour in a session of its own only
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

#: Environment variables that fix a BLAS thread count; removed for the policy's runs.
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "CHAINRULE_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: (model, batch): the texts' MLP at the batch of the texts' code, the texts' CNN at its recipe's.
MODELS = (("text_mlp", 32), ("text_cnn", 64))

NEIGHBOURS = {
    "matmul": "import numpy as np\na = np.random.rand(1024, 1024).astype(np.float32)\nwhile True:\n    a @ a\n",
    "cnn": ("import numpy as np, chainrule as cr\nfrom benchmarks.workloads import MODELS\n"
            "spec = [m for m in MODELS if m.name == 'text_cnn'][0]\n"
            "model = cr.Sequential(spec.cr_layers(cr))\n"
            "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
            "x = np.random.rand(512, 28, 28, 1).astype(np.float32); y = np.random.randint(0, 10, 512)\n"
            "while True:\n    model.fit(x, y, batch_size=128, epochs=1, verbose=0)\n"),
}


# ----------------------------------------------------------------------------- the worker
def _worker(lib: str, model_name: str, batch: int, seconds: float) -> dict:
    """Time training steps of one model in this process for ``seconds``; mean ms/step."""
    import numpy as np

    from .workloads import MODELS as SPECS

    spec = next(s for s in SPECS if s.name == model_name)
    rng = np.random.default_rng(0)
    x = rng.random((batch, *spec.cr_input), dtype=np.float32)
    y = rng.integers(0, 10, size=batch).astype(np.int64)
    if lib == "pytorch":
        import torch
        import torch.nn.functional as tF
        from torch import nn

        torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", os.cpu_count() or 1)))
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x)
        yt = torch.from_numpy(y)
        model = spec.torch_layers(nn)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = tF.cross_entropy(model(xt), yt)
            loss.backward()
            opt.step()
        threads = torch.get_num_threads()
        state = {}
    else:
        import chainrule as cr

        model = cr.Sequential(spec.cr_layers(cr))
        loss_fn = cr.losses.get("sparse_categorical_crossentropy")
        opt = cr.optimizers.Adam()
        xt, yt = cr.tensor(x), cr.tensor(y)

        def step():
            loss = loss_fn(yt, model(xt, training=True))
            weights = model.trainable_weights
            opt.apply(cr.grad(loss, weights), weights)
        threads = None
        state = cr.threads.policy_state
    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= 5:
            break
    out = {"ms": elapsed / n * 1e3, "steps": n}
    if callable(state):
        out["policy"] = state()
    else:
        out["threads"] = threads
    return out


# ----------------------------------------------------------------------------- the driver
def _configs(cores: int):
    """(label, lib, environment changes) of each configuration."""
    out = [("chainrule", "chainrule", {}), ("chainrule 1 thread", "chainrule", {"OPENBLAS_NUM_THREADS": "1"})]
    if cores > 1:
        out.append((f"chainrule {cores} threads", "chainrule", {"OPENBLAS_NUM_THREADS": str(cores)}))
    out.append(("pytorch", "pytorch", {"BENCH_TORCH_THREADS": str(cores)}))
    return out


def _run_worker(lib, model, batch, seconds, env_changes) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(env_changes)
    cmd = [sys.executable, "-m", "benchmarks.busy", "--worker", lib, model, str(batch), str(seconds)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"worker {lib} {model} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _rounds(configs, model, batch, seconds, rounds) -> dict:
    """Each configuration ``rounds`` times, interleaved (A B C A B C ...), each time in a fresh
    process; per configuration the run with the median ms/step. A single 6 s run per process
    spread by +-20% from process to process for the MLP's 1 ms steps (memory layout, what ran
    just before), more than the differences to be measured."""
    runs = {label: [] for label, _, _ in configs}
    for _ in range(max(1, rounds)):
        for label, lib, env in configs:
            runs[label].append(_run_worker(lib, model, batch, seconds, env))
    return {label: sorted(r, key=lambda v: v["ms"])[len(r) // 2] for label, r in runs.items()}


def _start_neighbour(kind: str, own_session: bool = False):
    """Start the neighbour; ``own_session`` runs it in a session of its own (``setsid``), as a program
    started from another terminal, or a second notebook's kernel, runs."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["CHAINRULE_THREADS"] = "fixed"
    proc = subprocess.Popen([sys.executable, "-c", NEIGHBOURS[kind]], env=env, start_new_session=own_session,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)  # let it import and reach its loop
    return proc


def _autogroup() -> str:
    """Whether Linux's scheduler groups the tasks of each session (``kernel.sched_autogroup_enabled``)."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            return "on" if f.read().strip() == "1" else "off"
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.busy", description=__doc__.split("\n")[0])
    p.add_argument("--worker", nargs=4, metavar=("LIB", "MODEL", "BATCH", "SECONDS"), help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=4.0, help="seconds of timed steps per configuration (default 4)")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds, each configuration in a fresh process each round; the median "
                        "is reported (default 3)")
    p.add_argument("--neighbour", choices=sorted(NEIGHBOURS), default="matmul",
                   help="the CPU-bound process that makes the machine busy (default matmul)")
    p.add_argument("--only", nargs="+", metavar="MODEL", help="text_mlp and/or text_cnn")
    p.add_argument("--session", choices=("shared", "own", "both"), default="both",
                   help="start the neighbour in this benchmark's session (shared) or in one of its own (own, as "
                        "a program started from another terminal or a second notebook's kernel), or time both "
                        "(default both; see the module's text)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.worker:
        lib, model, batch, seconds = args.worker
        print(json.dumps(_worker(lib, model, int(batch), float(seconds))))
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    models = [(m, b) for m, b in MODELS if not args.only or m in args.only]
    sessions = ("shared", "own") if args.session == "both" else (args.session,)
    print(f"busy-machine benchmark: {cores} cores, neighbour {args.neighbour!r}, {args.seconds:g} s per timing, "
          f"median of {args.rounds} interleaved rounds; load average at start {os.getloadavg()[0]:.2f}; "
          f"scheduler autogroup {_autogroup()}")
    print(f"{'model':<16}{'session':<9}{'configuration':<22}{'idle ms':>10}{'busy ms':>10}{'busy/idle':>11}"
          f"   policy when busy")
    results = []
    for model, batch in models:
        idle = _rounds(_configs(cores), model, batch, args.seconds, args.rounds)
        for session in sessions:
            neighbour = _start_neighbour(args.neighbour, own_session=session == "own")
            try:
                busy = _rounds(_configs(cores), model, batch, args.seconds, args.rounds)
            finally:
                neighbour.kill()
                neighbour.wait()
            for label, _, _ in _configs(cores):
                i, b = idle[label]["ms"], busy[label]["ms"]
                pol = busy[label].get("policy")
                note = f"{pol['blas_threads']} BLAS thread(s), others {pol['others_load']}" if pol and \
                    pol["mode"] == "auto" else ""
                print(f"{model + ' b' + str(batch):<16}{session:<9}{label:<22}{i:>10.2f}{b:>10.2f}{b / i:>10.2f}x   "
                      f"{note}")
                results.append({"model": model, "batch": batch, "session": session, "config": label, "idle_ms": i,
                                "busy_ms": b, "ratio": b / i, "busy_policy": pol,
                                "idle_policy": idle[label].get("policy")})
        best_fixed = min(v["ms"] for k, v in idle.items() if k.startswith("chainrule ") and "thread" in k)
        print(f"{'':<16}{'policy vs best fixed, idle':<51}{idle['chainrule']['ms'] / best_fixed:>10.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cores": cores, "neighbour": args.neighbour, "seconds": args.seconds, "autogroup": _autogroup(),
                       "rows": results}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
