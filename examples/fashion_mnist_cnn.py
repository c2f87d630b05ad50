"""A CNN with batch normalization on Fashion-MNIST (clothing photos: T-shirt, trouser, ... ankle boot).

    Conv2D(32, 3x3, relu, same) -> BatchNormalization -> MaxPooling2D(2)
    -> Conv2D(64, 3x3, relu, same) -> BatchNormalization -> MaxPooling2D(2) -> Dropout(0.25)
    -> Flatten -> Dense(128, relu) -> Dropout(0.4) -> Dense(10, softmax)
    adam, sparse categorical cross-entropy, batch 64, 10 epochs; target: test accuracy >= 91%

Fashion-MNIST has MNIST's format (28x28 grey images, 60,000 for training, 10,000 for
testing, 10 classes) and is much harder: shirts, T-shirts and pullovers look alike.

Batch normalization standardizes each channel over the batch (and the spatial positions)
and then rescales it with learned gamma and beta:

    x_hat = (x - mean_B) / sqrt(var_B + eps),    y = gamma x_hat + beta

keeping running averages of mean_B and var_B for inference. "same" padding pads the
border with zeros so that a 3x3 convolution keeps the 28x28 size.

The model is the recipe ``cnn-fashion`` in ``chainrule/recipes.py``
(``chainrule train cnn-fashion``).

Run:  python examples/fashion_mnist_cnn.py [--quick] [--epochs N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import recipes

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class EpochTimer(cr.callbacks.Callback):
    """Records the wall-clock seconds of each training epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def main(argv=None) -> None:
    recipe = recipes.get("cnn-fashion")
    parser = argparse.ArgumentParser(description="A CNN with batch normalization on Fashion-MNIST.")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1000 training images, 1 epoch")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {recipe.epochs}; 1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=recipe.batch_size)
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else recipe.epochs)
    cr.manual_seed(0)

    (x_train, y_train), (x_test, y_test) = recipes.load_images(recipe.dataset, recipe.image_layout)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:500], y_test[:500]
    print(f"data: {x_train.shape[0]} training and {x_test.shape[0]} test Fashion-MNIST images "
          f"of shape {x_train.shape[1:]}")

    model = recipe.build()
    model.compile(optimizer=recipe.optimizer, loss=recipe.loss, metrics=["accuracy"])
    model.summary()

    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=args.batch_size, verbose=2, callbacks=[timer])
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)

    predicted = np.argmax(model.predict(x_test, batch_size=256), axis=1)
    print("per-class test accuracy:")
    for k, name in enumerate(CLASS_NAMES):
        mask = y_test == k
        if mask.any():
            print(f"  {name:12s} {np.mean(predicted[mask] == k):.3f}")
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}  (target for the full run: >= 0.91)")
    print(f"seconds per epoch: {np.mean(timer.seconds):.1f}")


if __name__ == "__main__":
    main()
