"""Variational autoencoders trained by ``fit`` through an overridden ``train_step``.

The encoder maps an image x to the mean and log-variance of a diagonal Gaussian
q(z|x) = N(mu, diag(sigma^2)); ``F.reparameterize`` draws z = mu + sigma * eps; the decoder
maps z to Bernoulli pixel probabilities. ``fit(x)`` minimizes the negative ELBO per image

    loss = binary_crossentropy_sum(x, decoder(z)) + gaussian_kl(mu, log sigma^2)

(averaged over the batch; docs/generative.md derives it) and logs ``loss``,
``reconstruction_loss`` and ``kl_loss`` as means per image over the epoch. ``evaluate(x)``
gives the same figures on held-out images (z still sampled, as PyTorch's example does).

Two architectures:

* ``MLPVAE`` as PyTorch's examples/vae: 784 -> 400 (relu) -> (20, 20); 20 -> 400 (relu) -> 784
  (sigmoid), on flat images.
* ``ConvVAE`` as Keras's VAE example: 28x28x1 -> Conv2D(32, 3, stride 2) -> Conv2D(64, 3,
  stride 2) -> Dense(16) -> (2, 2); 2 -> Dense(7*7*64) -> Conv2DTranspose(64, 3, stride 2) ->
  Conv2DTranspose(32, 3, stride 2) -> Conv2DTranspose(1, 3, sigmoid): a 2-D latent space to draw.

The decoder is a ``Sequential`` from z: ``vae.decoder.save(path)`` gives a file that
``chainrule sample`` turns into a grid of images.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import layers as L
from .. import initializers, metrics
from ..autograd.engine import grad
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import floatx, floatx_dtype, rng
from ..models import Model, Sequential
from ..models.custom_step import unpack_x_y_sample_weight
from .gan import _positive


class GaussianEncoder(Model):
    """x -> (z_mean, z_log_var): a body network, then two Dense heads of ``latent_dim`` units."""

    def __init__(self, body: Sequential, latent_dim: int, name: str | None = None, heads=None):
        super().__init__(name=name)
        self.body = body
        heads = heads or [L.Dense(latent_dim, name="z_mean"), L.Dense(latent_dim, name="z_log_var")]
        self.dense_mean, self.dense_log_var = heads

    def call(self, x, training=False):
        h = self.body(x, training=training)
        return self.dense_mean(h), self.dense_log_var(h)

    def get_config(self):
        raise NotImplementedError("GaussianEncoder is saved as part of its VAE (save the VAE)")


class VAE(Model):
    """The ELBO training step shared by ``MLPVAE`` and ``ConvVAE`` (which build ``encoder`` and ``decoder``)."""

    input_shape_: tuple = ()

    def __init__(self, latent_dim: int, name: str | None = None):
        super().__init__(name=name)
        self.latent_dim = _positive(type(self).__name__, "latent_dim", latent_dim)
        self.loss_tracker = metrics.Mean(name="loss")
        self.reconstruction_tracker = metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = metrics.Mean(name="kl_loss")

    def _finish_build(self):
        # Create every weight now (one call on zeros), so that load_model finds them all.
        self.dry_run({"inputs": [([None, *self.input_shape_], floatx())], "multi": False})

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        return self.decoder(F.reparameterize(z_mean, z_log_var), training=training)

    def encode(self, x, batch_size: int = 500):
        """(z_mean, z_log_var) arrays for the images x."""
        means, log_vars = [], []
        with no_grad():
            for start in range(0, len(x), batch_size):
                m, v = self.encoder(Tensor._wrap(np.asarray(x[start:start + batch_size])), training=False)
                means.append(m.data)
                log_vars.append(v.data)
        return np.concatenate(means), np.concatenate(log_vars)

    def decode(self, z) -> np.ndarray:
        with no_grad():
            return self.decoder(Tensor._wrap(np.asarray(z, dtype=floatx_dtype())), training=False).data

    def generate(self, n: int) -> np.ndarray:
        """n images decoded from z ~ N(0, I)."""
        return self.decode(rng().standard_normal((n, self.latent_dim)))

    def _losses(self, data, training):
        x, _, _ = unpack_x_y_sample_weight(data)
        z_mean, z_log_var = self.encoder(x, training=training)
        z = F.reparameterize(z_mean, z_log_var)
        reconstruction = F.binary_crossentropy_sum(x, self.decoder(z, training=training))
        kl = F.gaussian_kl(z_mean, z_log_var)
        return reconstruction, kl

    def _logs(self, reconstruction, kl):
        self.loss_tracker.update_state(reconstruction.data + kl.data)
        self.reconstruction_tracker.update_state(reconstruction.data)
        self.kl_tracker.update_state(kl.data)
        return {m.name: m for m in (self.loss_tracker, self.reconstruction_tracker, self.kl_tracker)}

    def train_step(self, data):
        reconstruction, kl = self._losses(data, training=True)
        loss = (reconstruction + kl).mean()
        weights = self.trainable_weights
        self.optimizer.apply(grad(loss, weights), weights)
        return self._logs(reconstruction, kl)

    def test_step(self, data):
        return self._logs(*self._losses(data, training=False))


def _dense(units, fan_in, activation=None, torch_init=False, name=None):
    """Dense with Keras's initialization, or (``torch_init``) PyTorch's nn.Linear's: kernel and bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (VarianceScaling(1/3, fan_in, uniform) for the kernel)."""
    if not torch_init:
        return L.Dense(units, activation=activation, name=name)
    bound = 1.0 / np.sqrt(fan_in)
    return L.Dense(units, activation=activation, name=name,
                   kernel_initializer=initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                   bias_initializer=initializers.RandomUniform(-bound, bound))


class MLPVAE(VAE):
    """PyTorch's examples/vae: 784-400-(20, 20) encoder, 20-400-784 decoder, on flat images in [0, 1].

    ``torch_init=True`` (the default here, as the model is PyTorch's) initializes the Dense layers as
    PyTorch's nn.Linear; ``False`` uses Keras's (Glorot-uniform kernels, zero biases).
    """

    def __init__(self, input_dim: int = 784, hidden: int = 400, latent_dim: int = 20, torch_init: bool = True,
                 name: str | None = None):
        super().__init__(latent_dim, name=name)
        self.input_shape_ = (_positive("MLPVAE", "input_dim", input_dim),)
        hidden = _positive("MLPVAE", "hidden", hidden)
        t = bool(torch_init)
        self.encoder = GaussianEncoder(
            Sequential([L.Input((input_dim,)), _dense(hidden, input_dim, "relu", t)], name="encoder_body"),
            self.latent_dim, name="encoder",
            heads=[_dense(self.latent_dim, hidden, None, t, name) for name in ("z_mean", "z_log_var")])
        self.decoder = Sequential([
            L.Input((self.latent_dim,)), _dense(hidden, self.latent_dim, "relu", t),
            _dense(input_dim, hidden, "sigmoid", t),
        ], name="decoder")
        self._finish_build()


class ConvVAE(VAE):
    """Keras's VAE example: a convolutional encoder and decoder around a small latent space (2-D by default)."""

    def __init__(self, latent_dim: int = 2, name: str | None = None):
        super().__init__(latent_dim, name=name)
        self.input_shape_ = (28, 28, 1)
        self.encoder = GaussianEncoder(Sequential([
            L.Input((28, 28, 1)),
            L.Conv2D(32, 3, activation="relu", strides=2, padding="same"),
            L.Conv2D(64, 3, activation="relu", strides=2, padding="same"),
            L.Flatten(),
            L.Dense(16, activation="relu"),
        ], name="encoder_body"), self.latent_dim, name="encoder")
        self.decoder = Sequential([
            L.Input((self.latent_dim,)),
            L.Dense(7 * 7 * 64, activation="relu"),
            L.Reshape((7, 7, 64)),
            L.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same"),
            L.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same"),
            L.Conv2DTranspose(1, 3, activation="sigmoid", padding="same"),
        ], name="decoder")
        self._finish_build()


__all__ = ["ConvVAE", "GaussianEncoder", "MLPVAE", "VAE"]
