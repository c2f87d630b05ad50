"""The command-line flows for generative models on MNIST: ``chainrule train gan-mnist`` and ``chainrule sample``.

``train_gan`` trains a ``GAN`` (DCGAN, or WGAN-GP for the recipe ``wgan-gp-mnist``) on the 60,000
training images for ``epochs`` epochs or until ``minutes`` of training have passed, then measures
10,000 generated images against the 10,000 test images through the texts' CNN classifier
(``measures``): classifier score and Fréchet classifier distance. The classifier is trained once
(recipe ``texts-cnn``, 10 epochs, as the texts) and cached in ``~/.chainrule/models`` (or
``$CHAINRULE_MODELS``), outside the repository.

``sample(path, n, out)`` loads a saved generator, VAE decoder (a model from the latent vector), a
saved ``GAN`` or VAE, draws z ~ N(0, I) and writes the grid of n images as a PNG.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from ..callbacks import Callback

CLASSIFIER_FILE = "mnist_cnn_texts.safetensors"


@dataclass
class GANRecipe:
    name: str
    description: str
    loss: str
    epochs: int
    batch_size: int
    learning_rate: float
    beta_2: float
    critic_steps: int = 1
    minutes: float = 30.0
    latent_dim: int = 64
    ema: float | None = None
    d_learning_rate: float | None = None  # None: the generator's learning_rate
    refine_filters: int | None = None
    anneal_from: float | None = None  # the fraction of the minutes after which the rates fall to 0 (TimeLimit)


GAN_RECIPES = {
    r.name: r
    for r in [
        GANRecipe("gan-mnist", "DCGAN on MNIST: Dense -> 2 Conv2DTranspose -> 3x3 Conv2D generator (moving "
                  "average of its weights samples), 2-conv discriminator, non-saturating loss, Adam(beta_1=0.5) "
                  "at 8e-4 for the generator and 4e-4 for the discriminator, both falling linearly to 0 over the second "
                  "half of the time", "non_saturating", epochs=50,
                  batch_size=64, learning_rate=8e-4, d_learning_rate=4e-4, beta_2=0.999, ema=0.999,
                  refine_filters=32, anneal_from=0.5),
        GANRecipe("wgan-gp-mnist", "WGAN-GP on MNIST: the DCGAN networks, Wasserstein loss with gradient penalty "
                  "(lambda 10, second-order backprop), 3 critic steps, Adam(2e-4, 0.5, 0.9)", "wasserstein_gp",
                  epochs=3, batch_size=64, learning_rate=2e-4, beta_2=0.9, critic_steps=3),
    ]
}


def models_dir() -> str:
    return os.environ.get("CHAINRULE_MODELS") or os.path.join(os.path.expanduser("~"), ".chainrule", "models")


def load_classifier(verbose: int = 2):
    """The texts' CNN trained on MNIST (>= 99%): loaded from the cache, or trained once (10 epochs) and saved."""
    from .. import recipes
    from ..models import load_model

    path = os.path.join(models_dir(), CLASSIFIER_FILE)
    if os.path.exists(path):
        return load_model(path)
    recipe = recipes.get("texts-cnn")
    print(f"no classifier at {path}: training the texts' CNN (recipe texts-cnn, 10 epochs) once for the "
          "measurements")
    (x_train, y_train), (x_test, y_test) = recipes.load_images("mnist", "image")
    model = recipe.build()
    model.compile(optimizer=recipe.make_optimizer(10, len(x_train), 64), loss=recipe.loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=64, verbose=verbose)
    _, acc = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(f"classifier test accuracy: {acc:.4f}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.save(path)
    return model


class TimeLimit(Callback):
    """A callback that stops ``fit`` at the end of the first batch after ``minutes`` of training.

    With ``anneal_from=f`` and ``optimizers``, it also anneals their learning rates to the time
    budget: after the fraction f of the minutes has passed, each rate is its starting value times
    ``(1 - t) / (1 - f)`` (t the fraction of the minutes passed), falling linearly to 0 when the
    time is up, however many steps the machine manages by then.
    """

    def __init__(self, minutes: float, anneal_from: float | None = None, optimizers=()):
        super().__init__()
        self.minutes = float(minutes)
        if anneal_from is not None and not 0.0 <= anneal_from < 1.0:
            raise ValueError(f"TimeLimit: anneal_from must be a fraction in [0, 1) or None, got {anneal_from!r}")
        self.anneal_from = anneal_from
        self.optimizers = list(optimizers)
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.rates = [opt.learning_rate for opt in self.optimizers]

    def on_train_batch_begin(self, batch, logs=None):
        if self.anneal_from is None:
            return
        passed = (time.perf_counter() - self.start) / (self.minutes * 60)
        if passed > self.anneal_from:
            scale = max(0.0, (1.0 - passed) / (1.0 - self.anneal_from))
            for opt, rate in zip(self.optimizers, self.rates):
                opt.learning_rate = rate * scale

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.minutes * 60:
            self.stopped = True
            self.model.stop_training = True


def measure(images, reference, classifier=None) -> dict:
    from .measures import generator_figures

    return generator_figures(classifier or load_classifier(), images, reference)


def train_gan(recipe_name: str, epochs=None, batch_size=None, minutes=None, seed=0, save=None, grid=None,
              history_plot=None, verbose=2, callbacks=None, n_train=None) -> dict:
    """Train a GAN recipe, print and return its figures (classifier score, Fréchet distance, seconds)."""
    from .. import backend, optimizers, recipes
    from ..utils import save_image_grid
    from .gan import GAN

    recipe = GAN_RECIPES[recipe_name]
    epochs = recipe.epochs if epochs is None else epochs
    batch_size = recipe.batch_size if batch_size is None else batch_size
    minutes = recipe.minutes if minutes is None else minutes
    if seed is not None:
        backend.manual_seed(seed)
    (x_train, _), (x_test, _) = recipes.load_images("mnist", "image")
    if n_train is not None:
        x_train = x_train[:n_train]
    classifier = load_classifier(verbose)
    gan = GAN(latent_dim=recipe.latent_dim, loss=recipe.loss, critic_steps=recipe.critic_steps, ema=recipe.ema,
              refine_filters=recipe.refine_filters)
    d_rate = recipe.learning_rate if recipe.d_learning_rate is None else recipe.d_learning_rate
    gan.compile(d_optimizer=optimizers.Adam(d_rate, beta_1=0.5, beta_2=recipe.beta_2),
                g_optimizer=optimizers.Adam(recipe.learning_rate, beta_1=0.5, beta_2=recipe.beta_2))
    print(f"recipe {recipe.name}: {recipe.description}")
    print(f"training on {len(x_train)} MNIST images for up to {epochs} epoch(s) or {minutes:g} minutes, "
          f"batch size {batch_size}")
    limit = TimeLimit(minutes, recipe.anneal_from, [gan.d_optimizer, gan.g_optimizer])
    start = time.perf_counter()
    history = gan.fit(x_train, epochs=epochs, batch_size=batch_size, verbose=verbose, callbacks=[limit, *(callbacks or [])])
    seconds = time.perf_counter() - start
    ran = len(next(iter(history.history.values()), []))
    print(f"trained in {seconds:.1f} s ({ran} epoch(s){', stopped by the time limit' if limit.stopped else ''})")
    figures = measure(gan.generate(10000), x_test, classifier)
    figures["seconds"] = seconds
    print(f"classifier score: {figures['classifier_score']:.3f} (10,000 generated images; at most 10)")
    print(f"Frechet classifier distance: {figures['frechet_distance']:.3f} (against the 10,000 test images)")
    if grid:
        save_image_grid(gan.generate(64), grid, nrow=8)
        print(f"wrote {grid}")
    if history_plot:
        from ..utils import plot_history

        plot_history(history, to_file=history_plot, title=recipe.name)
        print(f"wrote {history_plot}")
    if save:
        gan.save(save)
        print(f"saved to {save}")
    figures["history"] = history.history
    return figures


def _generator_of(model):
    """The part of a loaded model that maps a latent vector to images, and its latent size."""
    for attr in ("sampler", "generator", "decoder"):
        part = getattr(model, attr, None)
        if part is not None:
            model = part
            break
    shape = getattr(model, "input_shape", None)
    if shape is None or len(shape) != 2 or shape[1] is None:
        raise ValueError(f"sample: the model must take a latent vector (batch, latent_dim); it takes inputs of "
                         f"shape {shape}")
    return model, int(shape[1])


def sample(path, n: int = 64, out: str = "grid.png", nrow=None, seed=None) -> np.ndarray:
    """Write a grid of n images generated by the saved model at ``path``; returns the images."""
    from .. import backend
    from ..autograd.grad_mode import no_grad
    from ..autograd.tensor import Tensor
    from ..models import load_model
    from ..utils import save_image_grid

    if n < 1:
        raise ValueError(f"sample: --n must be a positive number of images, got {n}")
    if seed is not None:
        backend.manual_seed(seed)
    generator, latent_dim = _generator_of(load_model(path, compile=False))
    z = backend.rng().standard_normal((n, latent_dim)).astype(backend.floatx_dtype())
    with no_grad():
        images = generator(Tensor._wrap(z), training=False).data
    if images.ndim == 2:  # flat images, e.g. the MLP VAE's 784 pixels
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"sample: cannot draw flat outputs of {images.shape[1]} values as square images")
        images = images.reshape(n, side, side)
    save_image_grid(images, out, nrow=nrow or math.ceil(math.sqrt(n)))
    return images


__all__ = ["GAN_RECIPES", "load_classifier", "measure", "sample", "train_gan"]
