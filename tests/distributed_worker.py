"""The program test_distributed.py starts under ``mpiexec -n 2``: ``python distributed_worker.py CASE... OUTDIR``.

Each case builds a model, trains it data-parallel and writes every rank's final weights (and
evaluate/predict results) to ``OUTDIR/<case>.rank<r>.npz``. The models and data come from
``build_case``, which the test also uses for its one-process reference runs.
"""
from __future__ import annotations

import sys

import numpy as np

import chainrule as cr
from chainrule import layers

SEED = 1234
PER_RANK_BATCH = {"mlp": 8, "cnn": 4, "dropout": 8, "syncbn": 6, "nan": 8, "loader": 8}


def _mlp():
    return cr.Sequential([layers.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                          layers.Dense(10, activation="softmax")])


def _cnn():
    # The texts' CNN (recipes.cnn-mnist) on small 12x12 inputs, to stay fast.
    return cr.Sequential([
        layers.Input(shape=(12, 12, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax"),
    ])


def _dropout_mlp():
    return cr.Sequential([layers.Input(shape=(784,)), layers.Dense(64, activation="relu"), layers.Dropout(0.5),
                          layers.Dense(10, activation="softmax")])


def _syncbn():
    return cr.Sequential([layers.Input(shape=(20,)), layers.Dense(16), layers.BatchNormalization(synchronized=True),
                          layers.Activation("relu"), layers.Dense(3, activation="softmax")])


def data(kind: str, n: int):
    rng = np.random.default_rng(7)
    shape = {"cnn": (12, 12, 1), "syncbn": (20,)}.get(kind, (784,))
    x = rng.random((n,) + shape, dtype=np.float32)
    y = rng.integers(0, 3 if kind == "syncbn" else 10, n)
    return x, y


def build_case(case: str):
    """(model, optimizer, x, y, per-rank batch, shuffle) for a case named '<model>-<optimizer>'.

    'nan': a NaN in rank 1's half of the third global batch (every rank skips that step, as one
    process skips it); 'loader': the data as a list of (x, y) batches of the per-rank size.
    """
    kind, opt = case.split("-")
    cr.manual_seed(SEED)
    model = {"cnn": _cnn, "dropout": _dropout_mlp, "syncbn": _syncbn}.get(kind, _mlp)()
    optimizer = cr.optimizers.SGD(0.05, momentum=0.9) if opt == "sgd" else cr.optimizers.Adam(1e-3)
    n = {"mlp": 100, "cnn": 36, "dropout": 64, "syncbn": 60, "nan": 64, "loader": 64}[kind]
    x, y = data(kind, n)
    if kind == "nan":
        x[2 * 16 + 8 + 3, 5] = np.nan
    return model, optimizer, x, y, PER_RANK_BATCH[kind], kind in ("mlp", "cnn")


def batches(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def run(case: str, outdir: str) -> None:
    import chainrule.distributed as crd

    model, optimizer, x, y, batch, shuffle = build_case(case)
    model.compile(optimizer=crd.DistributedOptimizer(optimizer), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    if case.startswith("loader"):
        history = model.fit(batches(x, y, batch), epochs=2, verbose=0)
    else:
        history = model.fit(x, y, batch_size=batch, epochs=2, shuffle=shuffle, verbose=0)
    x = np.nan_to_num(x)
    loss, acc = model.evaluate(x, y, batch_size=16, verbose=0)
    pred = model.predict(x, batch_size=16)
    np.savez(f"{outdir}/{case}.rank{crd.rank()}.npz", *model.get_weights(), evaluate=np.array([loss, acc]),
             predict=pred, history_loss=np.array(history.history["loss"]), calls=model.optimizer.allreduce_calls)


def files(outdir: str) -> None:
    """Only rank 0 writes: ModelCheckpoint, CSVLogger and model.save run on every rank."""
    import chainrule.distributed as crd

    crd.init()
    model, optimizer, x, y, batch, _ = build_case("mlp-sgd")
    model.compile(optimizer=crd.DistributedOptimizer(optimizer), loss="sparse_categorical_crossentropy")
    r = crd.rank()
    cbs = [cr.callbacks.ModelCheckpoint(f"{outdir}/ckpt-{r}.keras"), cr.callbacks.CSVLogger(f"{outdir}/log-{r}.csv")]
    model.fit(x, y, batch_size=batch, epochs=1, verbose=1, callbacks=cbs)
    model.save(f"{outdir}/saved-{r}.keras")
    model.save_weights(f"{outdir}/weights-{r}.weights.h5")


def fail(mode: str) -> None:
    """Failure cases: 'raise' (rank 1 raises mid-training), 'mismatch' (rank 1 builds another model)."""
    import chainrule.distributed as crd

    crd.init()
    cr.manual_seed(0)
    units = 17 if (mode == "mismatch" and crd.rank() == 1) else 16
    model = cr.Sequential([layers.Input(shape=(8,)), layers.Dense(units, activation="relu"), layers.Dense(2)])
    model.compile(optimizer=crd.DistributedOptimizer("sgd"), loss="mse")

    class Boom(cr.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if mode == "raise" and crd.rank() == 1 and batch == 2:
                raise ValueError("boom from rank 1")

    x = np.ones((64, 8), np.float32)
    model.fit(x, np.zeros((64, 2), np.float32), batch_size=4, epochs=50, verbose=0, callbacks=[Boom()])
    print("finished without error", flush=True)


if __name__ == "__main__":
    import chainrule.distributed as crd

    *cases, out = sys.argv[1:]
    if cases[0] in ("raise", "mismatch"):
        fail(cases[0])
    elif cases[0] == "files":
        files(out)
    else:
        crd.init()
        for c in cases:
            run(c, out)
