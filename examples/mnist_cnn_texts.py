"""The texts' MNIST convolutional network: two conv/pool stages and a small dense head.

    Conv2D(32, 3x3, relu, input 28x28x1) -> MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2)
    -> Flatten -> Dense(64, relu) -> Dense(10, softmax)
    adam, sparse categorical cross-entropy, batch 64, 10 epochs; target: test accuracy >= 99.0%

A 2-D convolution (as in Keras and PyTorch, a cross-correlation: the kernel is not
flipped) slides a k x k x C_in kernel over the image; output channel f at (i, j) is

    y[i, j, f] = b[f] + sum_{u, v < k} sum_c x[i + u, j + v, c] K[u, v, c, f]

so the shapes go 28x28x1 -> 26x26x32 -> (pool 2) 13x13x32 -> 11x11x64 -> (pool 2) 5x5x64
-> 1600 -> 64 -> 10. Max pooling keeps the largest value of each 2x2 window; its gradient
flows only to that maximum.

The model is the recipe ``cnn-mnist`` in ``chainrule/recipes.py`` (the command line's
``chainrule train cnn-mnist`` defaults to 2 epochs for a quick run; the texts train 10).

Run:  python examples/mnist_cnn_texts.py [--quick] [--epochs N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import recipes

EPOCHS = 10


class EpochTimer(cr.callbacks.Callback):
    """Records the wall-clock seconds of each training epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def main(argv=None) -> None:
    recipe = recipes.get("cnn-mnist")
    parser = argparse.ArgumentParser(description="The texts' MNIST CNN: conv32-pool-conv64-pool-dense64-dense10.")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1000 training images, 1 epoch")
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {EPOCHS}; 1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=recipe.batch_size)
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights, dropout and shuffling")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else EPOCHS)
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
    print(f"test accuracy: {acc:.4f}  (target for the full run: >= 0.990)")
    print(f"seconds per epoch: {np.mean(timer.seconds):.1f}")


if __name__ == "__main__":
    main()
