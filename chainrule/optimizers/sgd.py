"""Stochastic gradient descent, with optional (Nesterov) momentum."""
from __future__ import annotations

from .. import backend
from .base import Optimizer, _is_number


class SGD(Optimizer):
    r"""Gradient descent with momentum (Keras 3's ``keras.optimizers.SGD``).

    For a weight ``w`` with gradient ``g`` and learning rate ``lr``:

    - ``momentum == 0``::

          w <- w - lr * g

    - ``momentum = m > 0`` (velocity ``v``, starting at 0)::

          v <- m * v - lr * g
          w <- w + v

    - ``nesterov=True``::

          v <- m * v - lr * g
          w <- w + m * v - lr * g

    PyTorch (``torch.optim.SGD(momentum=m, nesterov=..., dampening=0)``) keeps
    the buffer without the learning rate, ``b <- m * b + g``, then steps
    ``w <- w - lr * b`` (Nesterov: ``w <- w - lr * (g + m * b)``). With a constant
    learning rate ``v = -lr * b`` and the trajectories are identical; when the
    learning rate changes, Keras's velocity keeps the old rates' contributions
    while PyTorch rescales the whole buffer by the new rate. PyTorch's
    ``weight_decay`` is L2 added to the gradient; here it is decoupled (see
    ``Optimizer``). Defaults: Keras ``learning_rate=0.01``; PyTorch requires one
    (``1e-3`` in recent versions).

    Math:
        $$\theta \leftarrow \theta - \eta\, g \qquad \text{or, with momentum } \mu:\quad v \leftarrow \mu v - \eta g, \ \ \theta \leftarrow \theta + v$$

        Nesterov: $\theta \leftarrow \theta + \mu v - \eta g$ after the same velocity update.
    """

    _default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if not _is_number(momentum) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be a number in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _slot_specs(self):
        return [("momentum", 0.0)] if self.momentum != 0 else []

    def _update_step(self, g, w, lr, slots):
        dt = w.dtype.type
        step = backend.xp.multiply(g, dt(lr), out=backend.xp.empty_like(w))   # lr * g
        if self.momentum == 0:
            w -= step
            return
        m = dt(self.momentum)
        v = slots["momentum"]
        v *= m
        v -= step                               # v = m v - lr g
        if self.nesterov:
            w -= step
            w += backend.xp.multiply(v, m, out=step)   # w += m v - lr g
        else:
            w += v

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        return config
