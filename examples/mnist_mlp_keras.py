"""Keras's classic ``mnist_mlp.py``: two 512-unit layers with dropout, trained with RMSprop.

    784 -> Dense(512, relu) -> Dropout(0.2) -> Dense(512, relu) -> Dropout(0.2) -> Dense(10, softmax)
    RMSprop (lr 0.001), sparse categorical cross-entropy, batch 128, 20 epochs
    target: test accuracy >= 98.2%  (Keras's script reported 98.40%)

Dropout (inverted): during training each activation is kept with probability 1 - rate and
scaled by 1 / (1 - rate), so its expectation is unchanged and inference needs no rescaling:

    mask_i ~ Bernoulli(1 - rate),   y_i = x_i * mask_i / (1 - rate)     (training)
    y_i = x_i                                                           (inference)

RMSprop divides each step by a running root-mean-square of the gradient:

    v <- rho v + (1 - rho) g^2,     w <- w - lr g / sqrt(v + eps)       (rho 0.9, Keras's form)

The original used one-hot labels with categorical cross-entropy; integer labels with the
sparse loss give the same numbers. The original also scored the test set after every
epoch (``validation_data``); here it is scored once at the end, so the seconds per epoch
are training alone. The model is the recipe ``mnist-mlp`` in
``chainrule/recipes.py``.

Run:  python examples/mnist_mlp_keras.py [--quick] [--epochs N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import recipes


class EpochTimer(cr.callbacks.Callback):
    """Records the wall-clock seconds of each training epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def main(argv=None) -> None:
    recipe = recipes.get("mnist-mlp")
    parser = argparse.ArgumentParser(description="Keras's mnist_mlp: 512-512 relu with dropout 0.2, RMSprop.")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2000 training images, 1 epoch")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {recipe.epochs}; 1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=recipe.batch_size)
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else recipe.epochs)
    cr.manual_seed(0)

    (x_train, y_train), (x_test, y_test) = recipes.load_images(recipe.dataset, recipe.image_layout)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:2000], y_train[:2000], x_test[:1000], y_test[:1000]
    print(f"data: {x_train.shape[0]} training and {x_test.shape[0]} test images, flattened to {x_train.shape[1]}")

    model = recipe.build()
    model.compile(optimizer=recipe.optimizer, loss=recipe.loss, metrics=["accuracy"])
    model.summary()

    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=args.batch_size, verbose=2, callbacks=[timer])
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}  (target for the full run: >= 0.982)")
    print(f"seconds per epoch: {np.mean(timer.seconds):.1f}")


if __name__ == "__main__":
    main()
