"""The texts' first MNIST network: a one-hidden-layer perceptron, 784 -> 128 -> 10.

    Dense(128, relu, input 784) -> Dense(10, softmax)
    adam, sparse categorical cross-entropy, batch 32, 5 epochs; target: test accuracy >= 97.5%

Each 28x28 image is flattened to a vector x of 784 pixel values in [0, 1]. The network
computes

    h     = relu(x W1 + b1)             W1: 784x128
    p     = softmax(h W2 + b2)          W2: 128x10,  p_k = e^{z_k} / sum_j e^{z_j}
    loss  = -log p_y                    (cross-entropy with the integer label y)

and Adam follows the gradient that backpropagation derives from these formulas. The model
is the recipe ``mlp-mnist`` in ``chainrule/recipes.py`` (the one ``chainrule train mlp-mnist``
trains), so this script and the command line share one definition.

Run:  python examples/mnist_mlp_texts.py [--quick] [--epochs N]
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
    recipe = recipes.get("mlp-mnist")
    parser = argparse.ArgumentParser(description="The texts' MNIST MLP: 784 -> 128 relu -> 10 softmax, adam.")
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
    print(f"test accuracy: {acc:.4f}  (target for the full run: >= 0.975)")
    print(f"seconds per epoch: {np.mean(timer.seconds):.1f}")


if __name__ == "__main__":
    main()
