"""A 1-D convolution on a sequence task: MNIST digits read row by row as sequences (real data).

Each 28x28 image becomes a sequence of 28 timesteps (the rows, top to bottom) with 28
features (the pixels of a row). A 1-D convolution slides along time only; output channel
f at step t sees k consecutive rows:

    y[t, f] = b[f] + sum_{u < k} sum_c x[t + u, c] K[u, c, f]          (K: k x C_in x filters)

Global max pooling then keeps, per channel, the strongest response anywhere in the
sequence, g[f] = max_t y[t, f], so the classifier sees *whether* a pattern of rows occurs,
not where:

    (28, 28) -> Conv1D(64, 5, relu) -> (24, 64) -> MaxPooling1D(2) -> (12, 64)
             -> Conv1D(128, 3, relu) -> (10, 128) -> GlobalMaxPooling1D -> (128,)
             -> Dense(64, relu) -> Dense(10, softmax)
    adam, sparse categorical cross-entropy, batch 64, 5 epochs

The same layers apply to any (timesteps, features) data: audio frames, sensor traces,
embedded text.

Run:  python examples/conv1d_sequence.py [--quick] [--epochs N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import recipes

EPOCHS = 5


def build_model() -> cr.Sequential:
    return cr.Sequential([
        cr.layers.Input(shape=(28, 28)),
        cr.layers.Conv1D(64, 5, activation="relu"),
        cr.layers.MaxPooling1D(2),
        cr.layers.Conv1D(128, 3, activation="relu"),
        cr.layers.GlobalMaxPooling1D(),
        cr.layers.Dense(64, activation="relu"),
        cr.layers.Dense(10, activation="softmax"),
    ])


class EpochTimer(cr.callbacks.Callback):
    """Records the wall-clock seconds of each training epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Conv1D + GlobalMaxPooling1D on MNIST rows read as sequences.")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1000 training sequences, 1 epoch")
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {EPOCHS}; 1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else EPOCHS)
    cr.manual_seed(0)

    (x_train, y_train), (x_test, y_test) = recipes.load_images("mnist", "image")
    x_train, x_test = x_train.reshape(-1, 28, 28), x_test.reshape(-1, 28, 28)  # (timesteps=rows, features=pixels)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:500], y_test[:500]
    print(f"data: {x_train.shape[0]} training and {x_test.shape[0]} test MNIST digits as sequences of "
          f"{x_train.shape[1]} timesteps x {x_train.shape[2]} features")

    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()

    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=args.batch_size, verbose=2, callbacks=[timer])
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}")
    print(f"seconds per epoch: {np.mean(timer.seconds):.1f}")


if __name__ == "__main__":
    main()
