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
PER_RANK_BATCH = {"mlp": 8, "cnn": 4, "dropout": 8, "syncbn": 6}


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
    shape = {"mlp": (784,), "dropout": (784,), "cnn": (12, 12, 1), "syncbn": (20,)}[kind]
    x = rng.random((n,) + shape, dtype=np.float32)
    y = rng.integers(0, 3 if kind == "syncbn" else 10, n)
    return x, y


def build_case(case: str):
    """(model, x, y, per-rank batch, shuffle) for a case named '<model>-<optimizer>'."""
    kind, opt = case.split("-")
    cr.manual_seed(SEED)
    model = {"mlp": _mlp, "cnn": _cnn, "dropout": _dropout_mlp, "syncbn": _syncbn}[kind]()
    optimizer = cr.optimizers.SGD(0.05, momentum=0.9) if opt == "sgd" else cr.optimizers.Adam(1e-3)
    n = {"mlp": 100, "cnn": 36, "dropout": 64, "syncbn": 60}[kind]
    x, y = data(kind, n)
    return model, optimizer, x, y, PER_RANK_BATCH[kind], kind not in ("dropout", "syncbn")


def run(case: str, outdir: str) -> None:
    import chainrule.distributed as crd

    model, optimizer, x, y, batch, shuffle = build_case(case)
    model.compile(optimizer=crd.DistributedOptimizer(optimizer), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=batch, epochs=2, shuffle=shuffle, verbose=0)
    loss, acc = model.evaluate(x, y, batch_size=16, verbose=0)
    pred = model.predict(x, batch_size=16)
    np.savez(f"{outdir}/{case}.rank{crd.rank()}.npz", *model.get_weights(), evaluate=np.array([loss, acc]),
             predict=pred, history_loss=np.array(history.history["loss"]), calls=model.optimizer.allreduce_calls)


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
    else:
        crd.init()
        for c in cases:
            run(c, out)
