"""Generative adversarial networks trained by ``fit`` through an overridden ``train_step``.

A generator G maps a latent vector z ~ N(0, I) to an image; a discriminator (critic) D
scores images. Each step of ``fit`` takes one batch x of real images and

    1. updates D (``critic_steps`` times) on real x and fake G(z) (G's output detached, so G's
       weights are left alone):  minimax/non-saturating: L_D = E softplus(-D(x)) + E softplus(D(G(z)))
                                 wasserstein-gp:         L_D = E D(G(z)) - E D(x) + lambda GP
    2. updates G through D (only G's weights are given to the optimizer):
                                 non-saturating: L_G = E softplus(-D(G(z)))     minimax: -E softplus(D(G(z)))
                                 wasserstein-gp: L_G = -E D(G(z))

with the losses of ``F`` (``ops/generative.py``, derived in docs/generative.md). The
architecture is a small DCGAN for 28x28x1 images in [0, 1]: Dense -> BatchNorm -> LeakyReLU
-> 7x7x128 -> Conv2DTranspose(64, 4, stride 2) -> BatchNorm -> LeakyReLU -> Conv2DTranspose(1,
4, stride 2, sigmoid); the discriminator two stride-2 4x4 convolutions with LeakyReLU(0.2) and
a Dense logit (no batch normalization: the gradient penalty is per sample).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import layers as L
from .. import metrics, optimizers
from ..autograd.engine import grad
from ..autograd.grad_mode import no_grad
from ..backend import floatx_dtype, rng
from ..autograd.tensor import Tensor
from ..models import Model, Sequential
from ..models.custom_step import unpack_x_y_sample_weight

LOSSES = ("non_saturating", "minimax", "wasserstein_gp")


def _positive(where: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def dcgan_generator(latent_dim: int = 64, image_shape=(28, 28, 1), name: str = "generator",
                    refine_filters: int | None = None) -> Sequential:
    """z (latent_dim) -> image of ``image_shape`` (height and width divisible by 4), values in [0, 1].

    Dense -> 7x7x128 -> Conv2DTranspose(64, 4, stride 2) -> Conv2DTranspose(c, 4, stride 2, sigmoid).
    With ``refine_filters=k`` the last transposed convolution makes k feature maps at full size
    (BatchNormalization, LeakyReLU) and a 3x3 Conv2D maps them to the image's c channels: one
    more layer at full resolution, which sharpens the strokes for little extra work.
    """
    latent_dim = _positive("dcgan_generator", "latent_dim", latent_dim)
    h, w, c = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"dcgan_generator: image height and width must be divisible by 4, got {image_shape}")
    stack = [
        L.Input((latent_dim,)),
        L.Dense(h // 4 * w // 4 * 128),
        L.BatchNormalization(),
        L.Activation("leaky_relu"),
        L.Reshape((h // 4, w // 4, 128)),
        L.Conv2DTranspose(64, 4, strides=2, padding="same"),
        L.BatchNormalization(),
        L.Activation("leaky_relu"),
    ]
    if refine_filters is None:
        stack.append(L.Conv2DTranspose(c, 4, strides=2, padding="same", activation="sigmoid"))
    else:
        refine_filters = _positive("dcgan_generator", "refine_filters", refine_filters)
        stack += [L.Conv2DTranspose(refine_filters, 4, strides=2, padding="same"), L.BatchNormalization(),
                  L.Activation("leaky_relu"), L.Conv2D(c, 3, padding="same", activation="sigmoid")]
    return Sequential(stack, name=name)


def dcgan_discriminator(image_shape=(28, 28, 1), name: str = "discriminator") -> Sequential:
    """image -> one logit (or critic score) per image."""
    return Sequential([
        L.Input(tuple(image_shape)),
        L.Conv2D(64, 4, strides=2, padding="same", activation="leaky_relu"),
        L.Conv2D(128, 4, strides=2, padding="same", activation="leaky_relu"),
        L.Flatten(),
        L.Dense(1),
    ], name=name)


class GAN(Model):
    """A DCGAN (``loss="non_saturating"`` or ``"minimax"``) or a WGAN-GP (``loss="wasserstein_gp"``).

    ``compile(d_optimizer=, g_optimizer=)`` sets one optimizer for each network; ``fit(x)`` (real images,
    no targets) trains both, logging ``d_loss`` and ``g_loss`` (and ``gp`` for WGAN-GP) as means over
    the epoch. ``gan(z)`` is the generator; ``generate(n)`` samples n images as an array.

    ``ema=d`` (e.g. 0.999) keeps an exponential moving average of the generator's weights,
    w_ema <- d w_ema + (1 - d) w after every generator step (Yazici et al., 2019: "The unusual
    effectiveness of averaging in GAN training"); it is the network that samples (``gan.sampler``,
    ``gan(z)``, ``generate``, ``chainrule sample``), while training updates ``gan.generator``.
    ``refine_filters=k`` gives the generator one more full-resolution layer (``dcgan_generator``).
    """

    def __init__(self, latent_dim: int = 64, image_shape=(28, 28, 1), loss: str = "non_saturating",
                 gp_weight: float = 10.0, critic_steps: int = 1, ema: float | None = None,
                 refine_filters: int | None = None, name: str | None = None):
        super().__init__(name=name)
        if loss not in LOSSES:
            raise ValueError(f"GAN: unknown loss {loss!r}; known: {', '.join(LOSSES)}")
        self.latent_dim = _positive("GAN", "latent_dim", latent_dim)
        self.critic_steps = _positive("GAN", "critic_steps", critic_steps)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.gan_loss = loss
        self.gp_weight = float(gp_weight)
        self.refine_filters = refine_filters
        self.generator = dcgan_generator(self.latent_dim, self.image_shape, refine_filters=refine_filters)
        self.discriminator = dcgan_discriminator(self.image_shape)
        if ema is not None and not 0.0 < float(ema) < 1.0:
            raise ValueError(f"GAN: ema must be a decay in (0, 1) or None, got {ema!r}")
        self.ema = None if ema is None else float(ema)
        self.generator_ema = None
        if self.ema is not None:  # a moving average of the generator's weights, the one that samples
            self.generator_ema = dcgan_generator(self.latent_dim, self.image_shape, name="generator_ema",
                                                 refine_filters=refine_filters)
            self.generator_ema.set_weights(self.generator.get_weights())
            for a in self.generator_ema.weights:
                a.requires_grad = False
        self.d_loss_tracker = metrics.Mean(name="d_loss")
        self.g_loss_tracker = metrics.Mean(name="g_loss")
        self.gp_tracker = metrics.Mean(name="gp") if loss == "wasserstein_gp" else None
        self.d_optimizer = self.g_optimizer = None

    def compile(self, d_optimizer="adam", g_optimizer="adam", **kwargs) -> None:
        super().compile(**kwargs)
        self.d_optimizer = optimizers.get(d_optimizer)
        self.g_optimizer = optimizers.get(g_optimizer)

    @property
    def sampler(self):
        """The network that makes the images: the moving average of the generator when ``ema`` is set."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def call(self, z, training=False):
        return self.sampler(z, training=training)

    def _update_ema(self):
        # w_ema <- d w_ema + (1 - d) w, for every weight (BatchNormalization's moving statistics included)
        d = self.ema
        for w, a in zip(self.generator.weights, self.generator_ema.weights):
            a.data *= d
            a.data += (1.0 - d) * w.data

    def sample_latent(self, n: int) -> Tensor:
        return Tensor._wrap(rng().standard_normal((n, self.latent_dim)).astype(floatx_dtype()))

    def generate(self, n: int, batch_size: int = 500) -> np.ndarray:
        """n generated images as an array (inference mode: BatchNormalization uses its moving statistics)."""
        out = []
        with no_grad():
            for start in range(0, n, batch_size):
                out.append(self.sampler(self.sample_latent(min(batch_size, n - start)), training=False).data)
        return np.concatenate(out)

    def _d_loss(self, real, fake):
        d = self.discriminator
        real_scores, fake_scores = d(real, training=True), d(fake, training=True)
        if self.gan_loss != "wasserstein_gp":
            return F.discriminator_loss(real_scores, fake_scores), None
        gp = F.gradient_penalty(lambda v: d(v, training=True), real, fake)
        return F.wasserstein_critic_loss(real_scores, fake_scores) + self.gp_weight * gp, gp

    def _g_loss(self, fake_scores):
        if self.gan_loss == "wasserstein_gp":
            return F.wasserstein_generator_loss(fake_scores)
        return F.generator_loss(fake_scores, non_saturating=self.gan_loss == "non_saturating")

    def discriminator_step(self, real, fake=None):
        """One update of the discriminator on real images and fakes; the generator's weights are left alone
        (its output is detached, and only the discriminator's weights go to the optimizer).

        ``fake``: the generator's images for this step (made here, without a graph, when None).
        """
        if fake is None:
            with no_grad():
                fake = self.generator(self.sample_latent(real.shape[0]), training=True)
        d_loss, gp = self._d_loss(real, fake.detach())
        d_weights = self.discriminator.trainable_weights
        self.d_optimizer.apply(grad(d_loss, d_weights), d_weights)
        return d_loss, gp

    def generator_step(self, n: int, fake=None):
        """One update of the generator through the discriminator; only the generator's weights change.

        ``fake``: n images the generator made in this step with their graph (``train_step`` passes the
        ones the discriminator's step was shown, as PyTorch's DCGAN example does, so that one generator
        forward pass serves both steps); None makes new ones.
        """
        if fake is None:
            fake = self.generator(self.sample_latent(n), training=True)
        g_loss = self._g_loss(self.discriminator(fake, training=True))
        g_weights = self.generator.trainable_weights
        self.g_optimizer.apply(grad(g_loss, g_weights), g_weights)
        if self.generator_ema is not None:
            self._update_ema()
        return g_loss

    def train_step(self, data):
        if self.d_optimizer is None:
            raise RuntimeError("GAN.train_step: compile(d_optimizer=..., g_optimizer=...) first")
        real, _, _ = unpack_x_y_sample_weight(data)
        n = real.shape[0]
        for step in range(self.critic_steps):
            # the last critic step's fakes keep their graph: the generator's step goes back through them
            fake = self.generator(self.sample_latent(n), training=True) if step == self.critic_steps - 1 else None
            d_loss, gp = self.discriminator_step(real, fake)
        g_loss = self.generator_step(n, fake)
        self.d_loss_tracker.update_state(float(d_loss.data))
        self.g_loss_tracker.update_state(float(g_loss.data))
        logs = {"d_loss": self.d_loss_tracker, "g_loss": self.g_loss_tracker}
        if gp is not None:
            self.gp_tracker.update_state(float(gp.data))
            logs["gp"] = self.gp_tracker
        return logs


__all__ = ["GAN", "LOSSES", "dcgan_discriminator", "dcgan_generator"]
