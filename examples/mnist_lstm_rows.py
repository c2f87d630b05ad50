"""Recurrent networks on MNIST read as sequences: the texts' stacked LSTM, and the two-LSTM model on rows.

1. The texts' stacked-LSTM code, unchanged but for its import (``keras`` -> ``chainrule``)::

       model = Sequential()
       model.add(LSTM(64, return_sequences=True, input_shape=(timesteps, 64)))
       model.add(LSTM(64))
       model.add(Dense(10, activation='softmax'))
       model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])

   on a real sequence task: MNIST digits read top to bottom as a sequence. For its steps to
   have 64 features, each 28x28 image is zero-padded to 32x32 and read as 16 steps of two
   32-pixel rows (16 x 64 = 1024 values); 3 epochs, batch 64.

2. The same two-LSTM model, LSTM(64, return_sequences) -> LSTM(64) -> Dense(10, softmax), on
   MNIST read as 28 steps of 28 pixels (one image row per step), Adam 2e-3 falling along a half
   cosine to 0, batch 64, 10 epochs, the batches in the order of a seeded NumPy permutation per
   epoch (so that examples/torch_twins/mnist_lstm_rows_torch.py sees the very same batches).
   Target: test accuracy >= 98.3%.

Run:  python examples/mnist_lstm_rows.py [--quick] [--epochs N] [--seed N] [--part 1|2|both]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import recipes
from chainrule.layers import LSTM, Dense
from chainrule.models import Sequential


def texts_stacked_lstm(quick: bool) -> None:
    (x_train, y_train), (x_test, y_test) = recipes.load_images("mnist", "image")
    pad = lambda x: np.pad(x[..., 0], ((0, 0), (2, 2), (2, 2))).reshape(len(x), 16, 64)  # 16 steps of 2 rows
    x_train, x_test = pad(x_train), pad(x_test)
    if quick:
        x_train, y_train, x_test, y_test = x_train[:512], y_train[:512], x_test[:256], y_test[:256]
    y_train_1h = np.eye(10, dtype=np.float32)[y_train]  # one-hot, for categorical_crossentropy
    y_test_1h = np.eye(10, dtype=np.float32)[y_test]
    timesteps = 16

    # ---- the texts' code (only the import differs) ----
    model = Sequential()
    model.add(LSTM(64, return_sequences=True, input_shape=(timesteps, 64)))
    model.add(LSTM(64))
    model.add(Dense(10, activation='softmax'))
    model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
    # ----
    epochs = 1 if quick else 3
    start = time.perf_counter()
    model.fit(x_train, y_train_1h, batch_size=64, epochs=epochs, verbose=2)
    seconds = (time.perf_counter() - start) / epochs
    loss, acc = model.evaluate(x_test, y_test_1h, batch_size=256, verbose=0)
    print(f"[texts' stacked LSTM, MNIST as 16 steps x 64 pixels] test accuracy: {acc:.4f}  "
          f"seconds per epoch: {seconds:.1f}")


def rows_model():
    return Sequential([
        cr.layers.Input(shape=(28, 28)),
        LSTM(64, return_sequences=True),
        LSTM(64),
        Dense(10, activation="softmax"),
    ])


def mnist_rows(epochs: int, seed: int, quick: bool) -> None:
    cr.manual_seed(seed)
    (x_train, y_train), (x_test, y_test) = recipes.load_images("mnist", "image")
    x_train, x_test = x_train[..., 0], x_test[..., 0]  # (N, 28 steps, 28 pixels)
    if quick:
        x_train, y_train, x_test, y_test = x_train[:512], y_train[:512], x_test[:256], y_test[:256]
    batch = 64
    steps = epochs * -(-len(x_train) // batch)
    model = rows_model()
    model.compile(optimizer=cr.optimizers.Adam(cr.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    times = []
    for epoch in range(epochs):
        perm = rng.permutation(len(x_train))
        start = time.perf_counter()
        h = model.fit(x_train[perm], y_train[perm], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        times.append(time.perf_counter() - start)
        _, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
        print(f"epoch {epoch + 1}/{epochs}  loss {h.history['loss'][-1]:.4f}  test accuracy {acc:.4f}  "
              f"{times[-1]:.1f} s", flush=True)
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"[two LSTM(64), MNIST as 28 rows x 28 pixels] test accuracy: {acc:.4f}  "
          f"seconds per epoch: {np.mean(times):.1f}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="512 training images, 1 epoch: a smoke test")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--part", choices=["1", "2", "both"], default="both")
    args = p.parse_args(argv)
    cr.manual_seed(args.seed)
    if args.part in ("1", "both"):
        texts_stacked_lstm(args.quick)
    if args.part in ("2", "both"):
        mnist_rows(args.epochs or (1 if args.quick else 10), args.seed, args.quick)


if __name__ == "__main__":
    main()
