"""Ready-made training recipes: a model, its data and its compile settings, by name.

The ``chainrule train`` command and the examples share these, so the numbers in the
README and the closing notes come from one definition of each model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Recipe:
    name: str
    description: str
    dataset: str  # "mnist" or "fashion_mnist"
    image_layout: str  # "flat" (N, 784) or "image" (N, 28, 28, 1)
    build: Callable
    optimizer: object = "adam"   # a name, or a callable (total_steps) -> optimizer (for schedules)
    loss: str = "sparse_categorical_crossentropy"
    epochs: int = 5
    batch_size: int = 32
    extra: dict = field(default_factory=dict)

    def make_optimizer(self, epochs: int, n_train: int, batch_size: int):
        """The optimizer for a run of ``epochs`` over ``n_train`` samples in batches of ``batch_size``."""
        if callable(self.optimizer):
            return self.optimizer(max(1, epochs * -(-n_train // batch_size)))
        return self.optimizer


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


RECIPES = {
    r.name: r
    for r in [
        Recipe("mlp-mnist", "the texts' MLP: Dense(128, relu) -> Dense(10, softmax), adam", "mnist", "flat",
               _mlp_mnist, epochs=5, batch_size=32),
        Recipe("mnist-mlp", "Keras's mnist_mlp: 512-512 relu with dropout 0.2, RMSprop", "mnist", "flat",
               _mnist_mlp_keras, optimizer="rmsprop", epochs=20, batch_size=128),
        Recipe("cnn-mnist", "the texts' CNN: conv32-pool-conv64-pool-dense64-dense10, adam with cosine decay",
               "mnist", "image", _cnn_texts, optimizer=_adam_cosine, epochs=2, batch_size=64),
        Recipe("mnist-cnn", "Keras's mnist_cnn: conv32-conv64-pool-dropout-dense128-dropout-dense10", "mnist",
               "image", _mnist_cnn_keras, optimizer="adam", epochs=12, batch_size=128),
        Recipe("cnn-fashion", "a CNN with batch normalization on Fashion-MNIST, adam with cosine decay",
               "fashion_mnist", "image", _fashion_cnn, optimizer=_adam_cosine, epochs=10, batch_size=64),
    ]
}


def get(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]
