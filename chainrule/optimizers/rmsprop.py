"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
from __future__ import annotations

from .. import backend
from .base import Optimizer


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012), as Keras 3's ``keras.optimizers.RMSprop``.

    With ``v`` (and, if centered, ``mg``) starting at 0::

        v  <- rho * v + (1 - rho) * g^2
        mg <- rho * mg + (1 - rho) * g                   (centered only)
        d  =  sqrt(v - mg^2 + epsilon)   if centered,  else  sqrt(v + epsilon)
        u  =  lr * g / d
        momentum > 0:  b <- momentum * b + u;  w <- w - b
        otherwise:     w <- w - u

    Keras 3 adds ``epsilon`` *inside* the square root. PyTorch's
    ``torch.optim.RMSprop`` adds it outside (``d = sqrt(v) + eps``), calls ``rho``
    ``alpha`` with default 0.99 (Keras: 0.9), uses ``eps=1e-8`` (Keras: 1e-7) and
    ``lr=0.01`` (Keras: 0.001), and keeps its momentum buffer without the learning
    rate (``b <- momentum * b + g / d;  w <- w - lr * b``), which gives the same
    trajectory while the learning rate is constant.

    Math:
        $$v \leftarrow \rho v + (1 - \rho)\, g^{2}, \qquad \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{v + \epsilon}}$$
    """

    _default_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if not 0 <= rho <= 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1], got {rho!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"RMSprop: momentum must be in [0, 1], got {momentum!r}")
        if not epsilon >= 0:
            raise ValueError(f"RMSprop: epsilon must be >= 0, got {epsilon!r}")
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = bool(centered)

    def _slot_specs(self):
        specs = [("velocity", 0.0)]
        if self.momentum > 0:
            specs.append(("momentum", 0.0))
        if self.centered:
            specs.append(("average_gradient", 0.0))
        return specs

    def _update_step(self, g, w, lr, slots):
        xp, dt = backend.xp, w.dtype.type
        rho, one_minus_rho = dt(self.rho), dt(1.0 - self.rho)
        v = slots["velocity"]
        tmp = xp.multiply(g, g, out=xp.empty_like(w))
        tmp *= one_minus_rho
        v *= rho
        v += tmp                                        # v = rho v + (1 - rho) g^2
        if self.centered:
            mg = slots["average_gradient"]
            mg *= rho
            mg += xp.multiply(g, one_minus_rho, out=tmp)  # mg = rho mg + (1 - rho) g
            xp.square(mg, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            tmp += dt(self.epsilon)                     # v - mg^2 + eps
        else:
            xp.add(v, dt(self.epsilon), out=tmp)        # v + eps
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= dt(lr)                                   # u = lr g / d
        if self.momentum > 0:
            b = slots["momentum"]
            b *= dt(self.momentum)
            b += tmp
            w -= b
        else:
            w -= tmp

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, centered=self.centered)
        return config
