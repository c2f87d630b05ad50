"""What the example scripts share: the command line, an epoch timer, training and the closing report.

Every script takes ``--quick`` (a smoke test), ``--epochs N``, ``--seed N`` (for
``cr.manual_seed``, default 0) and, where it trains with batches, ``--batch-size N``, and
ends by printing ``test accuracy: 0.xxxx`` and ``seconds per epoch: x.x``.
``run_recipe`` runs one of the models of ``chainrule/recipes.py`` end to end.

The scripts import this module as ``from _common import ...``: ``python examples/foo.py``
puts the script's own folder first on ``sys.path``, so no package or ``python -m`` is needed.
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


def make_parser(description: str, *, quick_help: str, epochs: int, batch_size: int | None = None,
                epochs_help: str | None = None) -> argparse.ArgumentParser:
    """--quick, --epochs, --batch-size (left out when batch_size is None) and --seed; add more to the result."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--epochs", type=int, default=None,
                        help=epochs_help or f"training epochs (default {epochs}; 1 with --quick)")
    if batch_size is not None:
        parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for cr.manual_seed: initial weights, dropout, shuffling (default 0)")
    return parser


def gan_parser(description: str) -> argparse.ArgumentParser:
    """The options the GAN examples share (``--quick`` means 2,000 images and half a minute)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="2,000 images, 0.5 minutes")
    p.add_argument("--minutes", type=float, default=None, help="stop training after this long (default 30)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", default=None, help="write 64 generated digits to this PNG")
    p.add_argument("--save", default=None)
    return p


def gan_run_options(args) -> dict:
    """``train_gan``'s keyword arguments from the shared options."""
    minutes = 0.5 if args.quick and args.minutes is None else args.minutes
    return dict(epochs=args.epochs, minutes=minutes, seed=args.seed, save=args.save, grid=args.grid,
                n_train=2000 if args.quick else None)


def epochs_for(args, full: int, quick: int = 1) -> int:
    """--epochs if given, else ``quick`` with --quick, else ``full``."""
    if args.epochs is not None:
        return args.epochs
    return quick if args.quick else full


def first(data, n_train: int, n_test: int):
    """The first n_train training and n_test test samples of ((x_train, y_train), (x_test, y_test))."""
    (x_train, y_train), (x_test, y_test) = data
    return (x_train[:n_train], y_train[:n_train]), (x_test[:n_test], y_test[:n_test])


def train_and_evaluate(model, data, *, epochs: int, batch_size: int, optimizer="adam",
                       loss="sparse_categorical_crossentropy", eval_batch_size: int = 256):
    """Compile (with the accuracy metric), print the summary, fit with an EpochTimer, evaluate on the test set.

    Progress: the live bar on a terminal, one line per epoch in a log (``verbose="auto"``).

    Returns (test loss, test accuracy, mean seconds per training epoch).
    """
    (x_train, y_train), (x_test, y_test) = data
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    model.summary()
    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose="auto", callbacks=[timer])
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=eval_batch_size, verbose=0)
    return test_loss, test_acc, float(np.mean(timer.seconds))


def report(accuracy: float, seconds_per_epoch: float, *, loss: float | None = None,
           accuracy_note: str = "", seconds_note: str = "") -> None:
    """The closing lines: [test loss], test accuracy and seconds per epoch, each note in parentheses."""
    if loss is not None:
        print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}" + (f"  ({accuracy_note})" if accuracy_note else ""))
    print(f"seconds per epoch: {seconds_per_epoch:.1f}" + (f"  ({seconds_note})" if seconds_note else ""))


def run_recipe(name: str, description: str, *, target: str, quick_sizes=(1000, 500), epochs: int | None = None,
               images: str = "images", after_evaluate=None, argv=None) -> None:
    """Train and test the recipe ``name`` of chainrule/recipes.py, as a script's ``main``.

    target:         the full run's goal, printed after the test accuracy (e.g. ">= 0.975")
    quick_sizes:    training and test images kept with --quick
    epochs:         the full run's epochs (default: the recipe's)
    images:         how the data line names the samples (e.g. "Fashion-MNIST images")
    after_evaluate: called as after_evaluate(model, x_test, y_test) before the closing report
    """
    recipe = recipes.get(name)
    full_epochs = recipe.epochs if epochs is None else epochs
    n_train, n_test = quick_sizes
    parser = make_parser(description, quick_help=f"smoke test: {n_train} training images, 1 epoch",
                         epochs=full_epochs, batch_size=recipe.batch_size)
    args = parser.parse_args(argv)
    epochs = epochs_for(args, full_epochs)
    cr.manual_seed(args.seed)

    data = recipes.load_images(recipe.dataset, recipe.image_layout)
    if args.quick:
        data = first(data, n_train, n_test)
    (x_train, _), (x_test, y_test) = data
    shape = f", flattened to {x_train.shape[1]}" if x_train.ndim == 2 else f" of shape {x_train.shape[1:]}"
    print(f"data: {x_train.shape[0]} training and {x_test.shape[0]} test {images}{shape}")

    model = recipe.build()
    loss, acc, seconds = train_and_evaluate(model, data, epochs=epochs, batch_size=args.batch_size,
                                            optimizer=recipe.make_optimizer(epochs, len(x_train), args.batch_size),
                                            loss=recipe.loss)
    if after_evaluate is not None:
        after_evaluate(model, x_test, y_test)
    report(acc, seconds, loss=loss, accuracy_note=f"target for the full run: {target}")
