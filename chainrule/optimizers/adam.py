"""Adam and AdamW: adaptive moment estimation, with decoupled weight decay for AdamW."""
from __future__ import annotations

import math

from .. import backend
from .base import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014), as Keras 3's ``keras.optimizers.Adam``.

    At step ``t = iterations + 1``, with ``m`` and ``v`` starting at 0::

        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        amsgrad:  v_hat <- max(v_hat, v), and v_hat replaces v below
        w <- w - alpha * m / (sqrt(v) + epsilon)

    This is the paper's "epsilon hat" form: ``epsilon`` is added to ``sqrt(v)``
    *before* the bias correction is folded into ``alpha``. PyTorch's
    ``torch.optim.Adam`` adds ``eps`` to the bias-corrected root,
    ``w <- w - lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - beta_1^t)``
    and ``v_hat = v / (1 - beta_2^t)``. Dividing through, this class with
    ``epsilon=e`` is exactly PyTorch's Adam with a step-dependent
    ``eps = e / sqrt(1 - beta_2^t)`` (about ``30 e`` at the first step, ``e`` late in
    training); the difference matters only where ``sqrt(v_hat)`` is comparable to it. Defaults:
    Keras ``epsilon=1e-7``, PyTorch ``eps=1e-8``; both ``lr=0.001``, betas
    ``(0.9, 0.999)``. PyTorch's ``weight_decay`` in ``Adam`` is L2 added to the
    gradient; here it is decoupled (``AdamW``'s rule).

    Math:
        $$m \leftarrow \beta_1 m + (1 - \beta_1)\, g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2)\, g^{2}$$

        $$\theta \leftarrow \theta - \eta\,\frac{\sqrt{1 - \beta_2^{t}}}{1 - \beta_1^{t}}\,\frac{m}{\sqrt{v} + \epsilon}$$
    """

    _default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        for arg, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= value < 1:
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1), got {value!r}")
        if not epsilon >= 0:
            raise ValueError(f"{type(self).__name__}: epsilon must be >= 0, got {epsilon!r}")
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = bool(amsgrad)

    def _slot_specs(self):
        specs = [("momentum", 0.0), ("velocity", 0.0)]
        if self.amsgrad:
            specs.append(("velocity_hat", 0.0))
        return specs

    def _update_step(self, g, w, lr, slots):
        xp, dt = backend.xp, w.dtype.type
        t = self.iterations + 1
        # The scalar factors are formed in float64 and cast once, as PyTorch does.
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        m, v = slots["momentum"], slots["velocity"]
        tmp = xp.subtract(g, m, out=xp.empty_like(w))
        tmp *= dt(1.0 - self.beta_1)
        m += tmp                                        # m += (g - m)(1 - b1)
        xp.square(g, out=tmp)
        tmp -= v
        tmp *= dt(1.0 - self.beta_2)
        v += tmp                                        # v += (g^2 - v)(1 - b2)
        if self.amsgrad:
            v = xp.maximum(slots["velocity_hat"], v, out=slots["velocity_hat"])
        xp.sqrt(v, out=tmp)
        tmp += dt(self.epsilon)
        xp.divide(m, tmp, out=tmp)
        tmp *= dt(alpha)
        w -= tmp                                        # w -= alpha m / (sqrt(v) + eps)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad)
        return config


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as Keras 3's ``AdamW``.

    Each step first shrinks the weights, then takes the ``Adam`` step::

        w <- w * (1 - lr * weight_decay)
        (Adam update of w, see ``Adam``)

    This is ``torch.optim.AdamW``'s rule too; the defaults differ: Keras 3
    ``weight_decay=0.004``, PyTorch ``weight_decay=0.01`` (and epsilon, see ``Adam``).

    Math:
        $$\theta \leftarrow \theta\,(1 - \eta\,\lambda_{\mathrm{wd}}), \quad \text{then the Adam step}$$
    """

    _default_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number, got None (use Adam for no weight decay)")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
