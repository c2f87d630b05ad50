"""BatchNormalization and LayerNormalization (Keras's names, arguments, defaults and weight order).

The math (and its gradient) is in ``chainrule.ops.normalization`` and docs/batch_normalization.md.
"""
from __future__ import annotations

from ..ops import nn
from ..ops import normalization as norm_ops
from ..ops.reduction import normalize_axis
from .base import Layer
from .core import _as_float, ignored_constraint, serialize_or_keep


def _axes_arg(layer: str, axis):
    if isinstance(axis, (list, tuple)):
        if not axis:
            raise ValueError(f"{layer}: axis must be an int or a non-empty list of ints, got {axis!r}")
        return [int(a) for a in axis]
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"{layer}: axis must be an int or a list of ints, got {axis!r}")
    return int(axis)


class _Normalization(Layer):
    """Shared by both: the feature axes, gamma and beta, their config."""

    _kind = ""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, beta_constraint, gamma_constraint, **kwargs):
        super().__init__(**kwargs)
        from .. import initializers, regularizers

        self.axis = _axes_arg(self._kind, axis)
        self.epsilon = float(epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"{self._kind}: epsilon must be > 0, got {epsilon}")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        ignored_constraint(self._kind, "beta_constraint", beta_constraint)
        ignored_constraint(self._kind, "gamma_constraint", gamma_constraint)
        self.gamma = None
        self.beta = None
        self._axes = None
        self._rank = None

    def _build_axes(self, input_shape):
        """Resolve ``axis`` for inputs of ``input_shape``; returns the parameters' shape."""
        rank = len(input_shape)
        try:
            axes = normalize_axis(self._kind, self.axis, rank)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"{self.name}: invalid axis {self.axis!r} for inputs of shape {tuple(input_shape)} ({e})"
            ) from None
        if rank == 0 or not axes:
            raise ValueError(f"{self.name}: needs inputs with a feature axis, got shape {tuple(input_shape)}")
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(
                f"{self.name}: axis {self.axis!r} of inputs of shape {tuple(input_shape)} must have a known size"
            )
        self._axes, self._rank = axes, rank
        return shape

    def _build_affine(self, shape):
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer)

    def _check_input(self, x):
        shape = tuple(x.shape)
        want = tuple(self._param_shape)
        if x.ndim != self._rank or tuple(shape[a] for a in self._axes) != want:
            raise ValueError(
                f"{self.name}: the layer was built for inputs of rank {self._rank} with sizes {want} on "
                f"axis {self.axis!r}, got an input of shape {shape}"
            )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        from .. import initializers, regularizers

        cfg = super().get_config()
        cfg.update(
            axis=self.axis,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=serialize_or_keep(self.beta_initializer, initializers),
            gamma_initializer=serialize_or_keep(self.gamma_initializer, initializers),
            beta_regularizer=serialize_or_keep(self.beta_regularizer, regularizers),
            gamma_regularizer=serialize_or_keep(self.gamma_regularizer, regularizers),
            beta_constraint=None,
            gamma_constraint=None,
        )
        return cfg


class BatchNormalization(_Normalization):
    r"""y = gamma (x - mean) / sqrt(var + epsilon) + beta, per feature along ``axis``.

    Math:
        $$y = \gamma\,\frac{x - \mu_B}{\sqrt{\sigma_B^{2} + \epsilon}} + \beta, \qquad \mu_{\text{moving}} \leftarrow m\,\mu_{\text{moving}} + (1 - m)\,\mu_B$$

    ``training=True``: the batch's mean and (biased) variance, and the moving statistics are
    updated: moving = momentum * moving + (1 - momentum) * batch. ``training=False`` (inference,
    and always when the layer is frozen with ``trainable=False``, as in Keras): the moving ones.

    Weights (Keras's order): gamma, beta (trainable; present when ``scale``/``center``), then
    moving_mean and moving_variance (non-trainable). Parameters: 4 * features (2 * features
    trainable) with the defaults. PyTorch's BatchNorm has ``momentum = 1 - this momentum``,
    ``eps=1e-5``, and updates its running variance with the unbiased batch variance.
    """

    _kind = "BatchNormalization"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        from .. import initializers

        self.momentum = float(momentum)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)  # one process: nothing to synchronize
        self.moving_mean = None
        self.moving_variance = None

    def build(self, input_shape):
        shape = self._param_shape = self._build_axes(input_shape)
        self._build_affine(shape)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight(
            "moving_variance", shape, self.moving_variance_initializer, trainable=False
        )
        self.built = True

    def call(self, inputs, training=False):
        self._check_input(inputs)
        x = _as_float(self, inputs, self.moving_mean.data.dtype)
        return norm_ops.batch_norm(
            x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
            training=bool(training) and self.trainable, momentum=self.momentum, epsilon=self.epsilon,
            axis=self._axes,
        )

    def get_config(self):
        from .. import initializers

        cfg = super().get_config()
        cfg.update(
            momentum=self.momentum,
            moving_mean_initializer=serialize_or_keep(self.moving_mean_initializer, initializers),
            moving_variance_initializer=serialize_or_keep(self.moving_variance_initializer, initializers),
            synchronized=self.synchronized,
        )
        return cfg


class LayerNormalization(_Normalization):
    r"""y = gamma (x - mean) / sqrt(var + epsilon) + beta, with each sample's own mean and biased
    variance over ``axis``; the same in training and inference.

    Weights (Keras's order): gamma, then beta, of the shape of the normalized axes. Keras's
    epsilon default is 1e-3 (PyTorch's LayerNorm: 1e-5).

    Math:
        $$y = \gamma\,\frac{x - \mu}{\sqrt{\sigma^{2} + \epsilon}} + \beta, \quad \mu, \sigma^{2} \text{ over the normalized axes of each sample}$$
    """

    _kind = "LayerNormalization"

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)

    def build(self, input_shape):
        shape = self._param_shape = self._build_axes(input_shape)
        self._build_affine(shape)
        self.built = True

    def call(self, inputs, training=False):
        self._check_input(inputs)
        weight = self.gamma if self.gamma is not None else self.beta
        x = _as_float(self, inputs, weight.data.dtype) if weight is not None else nn._float_tensor(self.name, inputs)
        return norm_ops.layer_norm(x, self.gamma, self.beta, axis=self._axes, epsilon=self.epsilon)
