"""Ready-made training recipes: a model, its data and its training settings, by name.

The ``chainrule train`` command and the examples share these, so the numbers in the
README and the closing notes come from one definition of each model.

The names say what the model is: ``texts-*`` are the models of the book-style texts this
project grew from, ``keras-*`` are Keras's classic examples. The table is data: a recipe is
one ``Recipe(...)`` passed to ``register``, and ``chainrule train --help`` and
``chainrule recipes`` list whatever is registered. A recipe whose training is not "fit an
image classifier and report its test accuracy" (a language model, a GAN) gives its own
``train(recipe, args) -> exit status``, which receives the parsed command line
(``args.epochs``, ``args.batch_size``, ``args.seed``, ``args.verbose``, ``args.save``; None
where not given).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Recipe:
    name: str
    description: str                # one line, shown by ``chainrule train --help``
    dataset: str = ""               # "mnist", "fashion_mnist", ... (for the default image-classifier flow)
    image_layout: str = "image"     # "flat" (N, 784) or "image" (N, 28, 28, 1)
    build: Callable | None = None   # () -> an uncompiled model
    optimizer: object = "adam"      # a name, or a callable (total_steps) -> optimizer (for schedules)
    loss: str = "sparse_categorical_crossentropy"
    epochs: int = 5
    batch_size: int = 32
    train: Callable | None = None   # (recipe, args) -> exit status; None: train_image_classifier
    extra: dict = field(default_factory=dict)

    def make_optimizer(self, epochs: int, n_train: int, batch_size: int):
        """The optimizer for a run of ``epochs`` over ``n_train`` samples in batches of ``batch_size``."""
        if callable(self.optimizer):
            return self.optimizer(max(1, epochs * -(-n_train // batch_size)))
        return self.optimizer

    def run(self, args) -> int:
        """Train as ``chainrule train`` does: the recipe's own flow, or the image-classifier one."""
        if self.train is not None and (getattr(args, "data_parallel", 1) or 1) > 1:
            raise ValueError(f"recipe {self.name}: --processes is supported by the image-classifier recipes only")
        return (self.train or train_image_classifier)(self, args)


def _adam_cosine(total_steps: int):
    """Adam whose learning rate falls from 1e-3 to 0 along a half cosine over the whole run."""
    from .optimizers import Adam
    from .optimizers.schedules import CosineDecay

    return Adam(learning_rate=CosineDecay(1e-3, decay_steps=total_steps))


def load_images(dataset: str, layout: str):
    """((x_train, y_train), (x_test, y_test)) scaled to [0, 1] float32, flat or as 28x28x1 images."""
    from .data import datasets

    module = {"mnist": datasets.mnist, "fashion_mnist": datasets.fashion_mnist,
              "fashion-mnist": datasets.fashion_mnist}.get(dataset)
    if module is None:
        raise ValueError(f"load_images: unknown dataset {dataset!r}; known: mnist, fashion_mnist")
    (x_train, y_train), (x_test, y_test) = module.load_data()
    shape = (-1, 784) if layout == "flat" else (-1, 28, 28, 1)
    x_train = (x_train.reshape(shape) / np.float32(255)).astype(np.float32)
    x_test = (x_test.reshape(shape) / np.float32(255)).astype(np.float32)
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


def _mlp_mnist():
    from . import layers
    from .models import Sequential

    return Sequential([
        layers.Input(shape=(784,)),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def _mnist_mlp_keras():
    from . import layers
    from .models import Sequential

    return Sequential([
        layers.Input(shape=(784,)),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])


def _cnn_texts():
    from . import layers
    from .models import Sequential

    return Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def _mnist_cnn_keras():
    from . import layers
    from .models import Sequential

    return Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def _fashion_cnn():
    from . import layers
    from .models import Sequential

    return Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu", padding="same"),
        layers.BatchNormalization(),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu", padding="same"),
        layers.BatchNormalization(),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ])


RECIPES: dict[str, Recipe] = {}

#: Old names still accepted (with a notice): old name -> current name.
DEPRECATED_NAMES: dict[str, str] = {}


def register(recipe: Recipe, old_names=()) -> Recipe:
    """Add ``recipe`` to the table (``old_names``: earlier names that keep working, with a notice)."""
    if recipe.name in RECIPES or recipe.name in DEPRECATED_NAMES:
        raise ValueError(f"recipes.register: a recipe called {recipe.name!r} exists already")
    if recipe.train is None and (recipe.build is None or not recipe.dataset):
        raise ValueError(f"recipes.register: recipe {recipe.name!r} needs build= and dataset= (the image-classifier "
                         f"flow) or its own train=")
    RECIPES[recipe.name] = recipe
    for old in old_names:
        DEPRECATED_NAMES[old] = recipe.name
    return recipe


register(Recipe("texts-mlp", "the texts' MLP on MNIST: Dense(128, relu) -> Dense(10, softmax), adam",
                "mnist", "flat", _mlp_mnist, epochs=5, batch_size=32), old_names=["mlp-mnist"])
register(Recipe("texts-cnn", "the texts' CNN on MNIST: conv32-pool-conv64-pool-dense64-dense10, adam with cosine "
                "decay", "mnist", "image", _cnn_texts, optimizer=_adam_cosine, epochs=2, batch_size=64),
         old_names=["cnn-mnist"])
register(Recipe("keras-mnist-mlp", "Keras's mnist_mlp example: 512-512 relu with dropout 0.2, RMSprop", "mnist",
                "flat", _mnist_mlp_keras, optimizer="rmsprop", epochs=20, batch_size=128), old_names=["mnist-mlp"])
register(Recipe("keras-mnist-cnn", "Keras's mnist_cnn example: conv32-conv64-pool-dropout-dense128-dropout, adam",
                "mnist", "image", _mnist_cnn_keras, optimizer="adam", epochs=12, batch_size=128),
         old_names=["mnist-cnn"])
register(Recipe("fashion-mnist-cnn", "a CNN with batch normalization and dropout on Fashion-MNIST, adam with "
                "cosine decay", "fashion_mnist", "image", _fashion_cnn, optimizer=_adam_cosine, epochs=10,
                batch_size=64), old_names=["cnn-fashion"])


def get(name: str, warn: bool = True) -> Recipe:
    """The recipe called ``name``; an old name works too, with a notice on stderr (``warn``)."""
    if name in DEPRECATED_NAMES:
        new = DEPRECATED_NAMES[name]
        if warn:
            print(f"chainrule: the recipe {name!r} is now called {new!r}; the old name is deprecated and will be "
                  f"removed", file=sys.stderr)
        return RECIPES[new]
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def table(width: int = 0) -> str:
    """One line per recipe: name, description, default epochs and batch size."""
    width = width or max(len(n) for n in RECIPES)
    lines = []
    for name, r in sorted(RECIPES.items()):
        settings = "" if r.train is not None else f" ({r.epochs} epochs, batch {r.batch_size})"
        lines.append(f"  {name:{width}s}  {r.description}{settings}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- the default flow
def per_rank_batch(batch_size: int, processes: int) -> int:
    """Each process's part of a global batch of ``batch_size`` shared by ``processes`` (``--processes``)."""
    if batch_size % processes:
        raise ValueError(f"--processes {processes}: the batch size {batch_size} must be a multiple of the "
                         "number of processes (each takes an equal part of every batch)")
    return batch_size // processes


def train_image_classifier(recipe: Recipe, args) -> int:
    """Fit ``recipe.build()`` on its dataset's training images, print the test loss and accuracy,
    save the model when ``args.save`` is given."""
    from . import backend

    if args.seed is not None:
        backend.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_images(recipe.dataset, recipe.image_layout)
    model = recipe.build()
    epochs = args.epochs if args.epochs is not None else recipe.epochs
    batch_size = args.batch_size if args.batch_size is not None else recipe.batch_size
    optimizer = recipe.make_optimizer(epochs, len(x_train), batch_size)
    processes = getattr(args, "data_parallel", 1) or 1
    if processes > 1:  # the recipe's global batch, shared by the processes (the same run, faster)
        import chainrule.distributed as crd

        optimizer, batch_size = crd.DistributedOptimizer(optimizer), per_rank_batch(batch_size, processes)
        print(f"data-parallel on {processes} processes: each takes {batch_size} of every batch")
    model.compile(optimizer=optimizer, loss=recipe.loss, metrics=["accuracy"])
    print(f"recipe {recipe.name}: {recipe.description}")
    print(f"training on {len(x_train)} {recipe.dataset} images for {epochs} epoch(s), batch size {batch_size}")
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"trained in {seconds:.1f} s ({seconds / max(epochs, 1):.1f} s/epoch)")
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return 0


def _train_gpt(recipe: Recipe, args) -> int:
    from . import gpt_recipe

    return gpt_recipe.train_from_cli(args)


register(Recipe("gpt-shakespeare", "a 4-layer character GPT on Tiny Shakespeare, 30 minutes of training on a CPU "
                "(validation loss target 1.60; --epochs caps the iterations)", train=_train_gpt))


def _train_gan(recipe: Recipe, args) -> int:
    from .generative.mnist import train_gan

    train_gan(recipe.name, epochs=args.epochs, batch_size=args.batch_size, minutes=getattr(args, "minutes", None),
              seed=args.seed, save=args.save, grid=getattr(args, "grid", None), verbose=args.verbose)
    return 0


register(Recipe("gan-mnist", "DCGAN on MNIST (non-saturating loss), at most 30 minutes; prints the classifier score "
                "and Frechet classifier distance", epochs=10, batch_size=64, train=_train_gan))
register(Recipe("wgan-gp-mnist", "WGAN-GP on MNIST (gradient penalty by second-order backprop), at most 30 minutes; "
                "prints the classifier score", epochs=3, batch_size=64, train=_train_gan))


def _train_char_model(recipe: Recipe, args) -> int:
    from . import char_lm

    return char_lm.run_from_cli(args)


def _register_char_models():
    from .char_lm import RECIPES as CHAR_RECIPES

    for r in CHAR_RECIPES.values():
        register(Recipe(r.name, f"{r.description} ({r.steps} steps of batch {r.batch_size}; --steps N)",
                        batch_size=r.batch_size, train=_train_char_model))


_register_char_models()
