"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""
from __future__ import annotations

from .. import backend
from .base import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), as Keras 3's ``keras.optimizers.Adagrad``.

    With accumulator ``a`` starting at ``initial_accumulator_value``::

        a <- a + g^2
        w <- w - lr * g / sqrt(a + epsilon)

    Keras 3 adds ``epsilon`` *inside* the square root. PyTorch's
    ``torch.optim.Adagrad`` adds it outside, ``w <- w - lr * g / (sqrt(a) + eps)``,
    and its defaults differ: ``initial_accumulator_value=0``, ``eps=1e-10``,
    ``lr=0.01`` (and an optional ``lr_decay``, absent here). Keras's defaults are
    ``learning_rate=0.001``, ``initial_accumulator_value=0.1``, ``epsilon=1e-7``.
    With the same initial accumulator and a negligible epsilon the two coincide.

    Math:
        $$a \leftarrow a + g^{2}, \qquad \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{a + \epsilon}}$$
    """

    _default_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if not initial_accumulator_value >= 0:
            raise ValueError(f"Adagrad: initial_accumulator_value must be >= 0, got {initial_accumulator_value!r}")
        if not epsilon >= 0:
            raise ValueError(f"Adagrad: epsilon must be >= 0, got {epsilon!r}")
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_specs(self):
        return [("accumulator", self.initial_accumulator_value)]

    def _update_step(self, g, w, lr, slots):
        xp, dt = backend.xp, w.dtype.type
        acc = slots["accumulator"]
        tmp = xp.multiply(g, g, out=xp.empty_like(w))
        acc += tmp                                      # a += g^2
        xp.add(acc, dt(self.epsilon), out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= dt(lr)
        w -= tmp                                        # w -= lr g / sqrt(a + eps)

    def get_config(self):
        config = super().get_config()
        config.update(initial_accumulator_value=self.initial_accumulator_value, epsilon=self.epsilon)
        return config
