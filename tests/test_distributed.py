"""chainrule.distributed: data-parallel training on real MPI processes (2 ranks under mpiexec).

The exactness tests run ``distributed_worker.py`` once under ``mpiexec -n 2`` for all the
cases, and compare each rank's final weights with a one-process run with the global batch
(2 x the per-rank batch) over the same data order, made here in the test process.
Skipped with the reason when mpi4py or mpiexec is missing (scripts/test.sh installs both).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.distributed import launch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "distributed_worker.py"
sys.path.insert(0, str(HERE))
import distributed_worker as worker  # noqa: E402

_OK, _WHY = launch.mpi_available()
needs_mpi = pytest.mark.skipif(not _OK, reason=f"MPI unavailable: {_WHY}")

EXACT_CASES = ["mlp-sgd", "mlp-adam", "cnn-sgd", "cnn-adam", "dropout-sgd", "syncbn-sgd", "nan-sgd", "loader-adam"]
_LAUNCH_VARS = ("OMPI_", "PMI_", "PMIX_", "PRTE_", "MV2_", "SLURM_", "CHAINRULE_MPI")


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCH_VARS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    return env


def _mpirun(args, timeout):
    cmd = launch.mpiexec_command(2, [sys.executable, str(WORKER), *args])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=str(ROOT))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("mpi")
    proc = _mpirun([*EXACT_CASES, str(out)], timeout=300)
    assert proc.returncode == 0, f"mpiexec failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return {c: [dict(np.load(out / f"{c}.rank{r}.npz")) for r in (0, 1)] for c in EXACT_CASES}


def _weights(npz) -> list:
    return [npz[f"arr_{i}"] for i in range(sum(k.startswith("arr_") for k in npz))]


def _reference(case):
    """One process, batch 2B, the same seed and data order (shuffling draws the same permutations)."""
    model, optimizer, x, y, batch, shuffle = worker.build_case(case)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if case.startswith("loader"):
        model.fit(worker.batches(x, y, 2 * batch), epochs=2, verbose=0)
    else:
        model.fit(x, y, batch_size=2 * batch, epochs=2, shuffle=shuffle, verbose=0)
    return model, np.nan_to_num(x), y


def _dropout_reference(case):
    """One process reproducing 2 ranks with dropout: rank r draws its masks from the stream
    ``cr.manual_seed(s + r)``, s drawn from rank 0's stream when fit starts (chainrule.distributed's
    documented rule); the gradient of the global batch is the mean of the two halves' gradients."""
    from chainrule import backend

    model, optimizer, x, y, batch, _ = worker.build_case(case)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    s = int(backend.rng().integers(2 ** 62))
    streams = [np.random.default_rng(s + r) for r in range(2)]
    weights = model.trainable_weights
    saved = backend._rng
    try:
        for _epoch in range(2):
            for i in range(0, len(x), 2 * batch):
                grads = []
                for r in range(2):
                    lo = i + r * batch
                    backend._rng = streams[r]
                    out = model(cr.tensor(x[lo:lo + batch]), training=True)
                    loss = model.compiled_loss(cr.tensor(y[lo:lo + batch]), out)
                    grads.append(cr.grad(loss, weights))
                optimizer.apply([(a.data + b.data) / 2 for a, b in zip(*grads)], weights)
    finally:
        backend._rng = saved
    return model, x, y


@needs_mpi
@pytest.mark.parametrize("case", EXACT_CASES)
def test_two_processes_match_one_process_with_twice_the_batch(results, case):
    rank0, rank1 = results[case]
    w0, w1 = _weights(rank0), _weights(rank1)
    # The ranks apply the same all-reduced gradient: bitwise the same weights.
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    model, x, y = (_dropout_reference if case.startswith("dropout") else _reference)(case)
    ref = model.get_weights()
    assert len(ref) == len(w0)
    for a, b in zip(w0, ref):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)
    # One all-reduce per step (steps = ceil(n / global batch) per epoch), not one per tensor.
    steps = -(-len(x) // (2 * worker.PER_RANK_BATCH[case.split("-")[0]]))
    assert int(rank0["calls"]) == 2 * steps


@needs_mpi
@pytest.mark.parametrize("case", ["mlp-sgd", "cnn-adam"])
def test_evaluate_and_predict_shard_and_combine(results, case):
    rank0, rank1 = results[case]
    model, x, y = _reference(case)
    model.set_weights(_weights(rank0))
    loss, acc = model.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(rank0["evaluate"], [loss, acc], rtol=1e-5)
    np.testing.assert_array_equal(rank0["evaluate"], rank1["evaluate"])
    np.testing.assert_allclose(rank0["predict"], model.predict(x, batch_size=16), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(rank0["predict"], rank1["predict"])


@needs_mpi
def test_a_step_that_goes_bad_on_one_rank_is_skipped_by_all(results):
    rank0, rank1 = results["nan-sgd"]
    assert np.isnan(rank0["history_loss"]).all()  # the NaN batch's loss enters the epoch means
    assert all(np.isfinite(w).all() for w in _weights(rank0))


@needs_mpi
def test_only_rank_0_writes_files_and_shows_progress(tmp_path):
    proc = _mpirun(["files", str(tmp_path)], timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt-0.keras", "log-0.csv", "saved-0.keras", "weights-0.weights.h5"]
    assert proc.stdout.count("Epoch 1/1") == 1
    cr.models.load_model(tmp_path / "saved-0.keras")  # saved as a plain SGD: loads without MPI


@needs_mpi
def test_logged_loss_is_the_same_on_every_rank(results):
    rank0, rank1 = results["mlp-sgd"]
    np.testing.assert_array_equal(rank0["history_loss"], rank1["history_loss"])
    assert np.all(np.isfinite(rank0["history_loss"]))


@needs_mpi
def test_a_raising_rank_stops_every_rank_and_shows_the_error_once():
    proc = _mpirun(["raise", "-"], timeout=120)  # a hang would hit the timeout and fail the test
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert text.count("ValueError: boom from rank 1") == 1, text
    assert "rank 1 of 2 failed" in text
    assert "finished without error" not in text


@needs_mpi
def test_model_structure_mismatch_is_reported_at_start():
    proc = _mpirun(["mismatch", "-"], timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert text.count("the model differs between ranks") == 1, text
    assert "(8, 16)" in text and "(8, 17)" in text and "every rank failed" in text
    assert "finished without error" not in text


def test_one_process_runs_as_today_without_importing_mpi4py(tmp_path):
    code = (
        "import sys, numpy as np, chainrule as cr\n"
        "assert 'mpi4py' not in sys.modules\n"
        "import chainrule.distributed as crd\n"
        "crd.init()\n"
        "assert (crd.rank(), crd.size(), crd.local_rank(), crd.active()) == (0, 1, 0, False)\n"
        "m = cr.Sequential([cr.layers.Input(shape=(4,)), cr.layers.Dense(2)])\n"
        "m.compile(optimizer=crd.DistributedOptimizer('sgd'), loss='mse')\n"
        "h = m.fit(np.ones((8, 4), np.float32), np.zeros((8, 2), np.float32), batch_size=4, verbose=0)\n"
        "assert m.optimizer.iterations == 2 and m.optimizer.allreduce_calls == 0\n"
        "assert m.predict(np.ones((3, 4), np.float32)).shape == (3, 2)\n"
        "m.save(sys.argv[1]); cr.models.load_model(sys.argv[1])\n"
        "assert 'mpi4py' not in sys.modules, 'mpi4py was imported'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.keras")], capture_output=True, text=True,
                          timeout=120, env=_env(), cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_distributed_optimizer_keeps_the_wrapped_class_and_config():
    import chainrule.distributed as crd

    adam = cr.optimizers.Adam(learning_rate=0.01, beta_1=0.8)
    wrapped = crd.DistributedOptimizer(adam)
    assert isinstance(wrapped, cr.optimizers.Adam)
    assert cr.optimizers.serialize(wrapped) == cr.optimizers.serialize(adam)
    assert crd.DistributedOptimizer(wrapped) is wrapped
    assert isinstance(crd.DistributedOptimizer("sgd"), cr.optimizers.SGD)


def test_mpiexec_command_adds_open_mpi_flags_and_rejects_bad_counts(monkeypatch):
    with pytest.raises(ValueError, match="positive integer"):
        launch.mpiexec_command(0, ["python"])
    monkeypatch.setattr(launch, "_is_open_mpi", lambda path: True)
    cmd = launch.mpiexec_command(3, ["python", "train.py"], mpiexec="/x/mpiexec")
    assert cmd[:4] == ["/x/mpiexec", "-n", "3", "--oversubscribe"] and cmd[-2:] == ["python", "train.py"]
    monkeypatch.setattr(launch, "_is_open_mpi", lambda path: False)
    assert launch.mpiexec_command(2, ["a"], mpiexec="/y/mpiexec") == ["/y/mpiexec", "-n", "2", "a"]


def test_cli_processes_option_starts_mpiexec_with_the_same_arguments(monkeypatch):
    from chainrule import cli
    from chainrule.distributed import launch as launch_mod

    for var in [k for k in os.environ if k.startswith(_LAUNCH_VARS)]:
        monkeypatch.delenv(var)
    calls = []
    monkeypatch.setattr(launch_mod, "run_cli_processes", lambda n, argv: calls.append((n, argv)) or 0)
    argv = ["train", "mlp-mnist", "--epochs", "1", "--processes", "2"]
    assert cli.main(argv) == 0
    assert calls == [(2, argv)]
    from chainrule import recipes

    assert recipes.per_rank_batch(64, 2) == 32
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        recipes.per_rank_batch(30, 4)


def test_sync_batch_norm_math_on_one_process_matches_batch_norm_and_its_gradients():
    """On a group of one the all-reduces are identities: the composed formula must equal the fused
    batch norm (values and moving statistics), with correct first and second derivatives."""
    import chainrule.distributed as crd
    from chainrule import functional as F
    from chainrule.distributed.sync_batch_norm import sync_batch_norm

    if not crd.is_initialized() and not crd.launched_by_mpi():
        crd.init()
    rng = np.random.default_rng(0)
    T = lambda a, grad=False: cr.tensor(a, requires_grad=grad, dtype=np.float64)  # noqa: E731
    x = rng.normal(size=(6, 3, 4)).astype(np.float64)
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    mm1, mv1, mm2, mv2 = np.zeros(4), np.ones(4), np.zeros(4), np.ones(4)
    ours = sync_batch_norm(T(x), mm1, mv1, T(gamma), T(beta), momentum=0.9)
    ref = F.batch_norm(T(x), mm2, mv2, T(gamma), T(beta), training=True, momentum=0.9)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mm1, mm2, rtol=1e-12)
    np.testing.assert_allclose(mv1, mv2, rtol=1e-12)
    args = [T(x, True), T(gamma, True),
            T(beta, True)]
    fn = lambda a, g, b: sync_batch_norm(a, None, None, g, b)  # noqa: E731
    assert cr.gradcheck(fn, args)
    assert cr.gradgradcheck(fn, args)
