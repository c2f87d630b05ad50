"""Keras's classic ``mnist_cnn.py``: two convolutions, one pooling, dropout, a 128-unit head.

    Conv2D(32, 3x3, relu, input 28x28x1) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2) -> Dropout(0.25)
    -> Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(10, softmax)
    batch 128, 12 epochs; target: test accuracy >= 99.1%  (Keras's script reported 99.25%)

Shapes: 28x28x1 -> 26x26x32 -> 24x24x64 -> (pool 2) 12x12x64 -> 9216 -> 128 -> 10; about
1.2 million parameters, most of them in the 9216x128 Dense kernel.

One change from the original: Keras's script trained with Adadelta (lr 1.0 in Keras 2);
this one uses Adam (lr 0.001), as the recipe ``mnist-cnn`` in ``chainrule/recipes.py`` does,
because chainrule has no Adadelta. Adam keeps running means of the gradient and of its
square and steps by their bias-corrected ratio:

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
    w <- w - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)      (Keras's form of the bias correction)

Run:  python examples/mnist_cnn_keras.py [--quick] [--epochs N]
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
    recipe = recipes.get("mnist-cnn")
    parser = argparse.ArgumentParser(description="Keras's mnist_cnn (with Adam instead of Adadelta).")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1000 training images, 1 epoch")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {recipe.epochs}; 1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=recipe.batch_size)
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights, dropout and shuffling")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else recipe.epochs)
    cr.manual_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = recipes.load_images(recipe.dataset, recipe.image_layout)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:500], y_test[:500]
    print(f"data: {x_train.shape[0]} training and {x_test.shape[0]} test images of shape {x_train.shape[1:]}")

    model = recipe.build()
    model.compile(optimizer=recipe.optimizer, loss=recipe.loss, metrics=["accuracy"])
    model.summary()

    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=args.batch_size, verbose=2, callbacks=[timer])
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}  (target for the full run: >= 0.991)")
    print(f"seconds per epoch: {np.mean(timer.seconds):.1f}")


if __name__ == "__main__":
    main()
