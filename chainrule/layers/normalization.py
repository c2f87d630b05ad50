"""BatchNormalization, LayerNormalization, GroupNormalization and UnitNormalization (Keras's names,
arguments, defaults and weight order).

The math (and its gradient) is in ``chainrule.ops.normalization`` and docs/batch_normalization.md.
"""
from __future__ import annotations

import sys

from ..ops import nn
from ..ops import normalization as norm_ops
from ..ops.elementwise import maximum, sqrt
from ..ops.group_norm import group_norm as group_norm_op
from ..ops.reduction import sum as _sum
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


def _set_affine_options(layer, kind, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                        gamma_regularizer, beta_constraint, gamma_constraint) -> None:
    """The arguments every normalization with a learned scale and shift shares (Keras's names)."""
    from .. import initializers, regularizers

    layer.epsilon = float(epsilon)
    if not layer.epsilon > 0:
        raise ValueError(f"{kind}: epsilon must be > 0, got {epsilon}")
    layer.center = bool(center)
    layer.scale = bool(scale)
    layer.beta_initializer = initializers.get(beta_initializer)
    layer.gamma_initializer = initializers.get(gamma_initializer)
    layer.beta_regularizer = regularizers.get(beta_regularizer)
    layer.gamma_regularizer = regularizers.get(gamma_regularizer)
    ignored_constraint(kind, "beta_constraint", beta_constraint)
    ignored_constraint(kind, "gamma_constraint", gamma_constraint)


class _Normalization(Layer):
    """Shared by both: the feature axes, gamma and beta, their config."""

    _kind = ""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, beta_constraint, gamma_constraint, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_arg(self._kind, axis)
        _set_affine_options(self, self._kind, epsilon, center, scale, beta_initializer, gamma_initializer,
                            beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)
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

    Data-parallel training (chainrule.distributed): each rank normalizes with its own batch's
    statistics by default (as Horovod); ``synchronized=True`` uses those of the global batch.
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
        # Several processes (chainrule.distributed): True takes the statistics over every rank's
        # samples; False (Keras's default) over each rank's own. One process: nothing to synchronize.
        self.synchronized = bool(synchronized)
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
        if self.synchronized and training and self.trainable:
            # Data-parallel runs: statistics over every rank's batch. chainrule.distributed (a higher
            # floor) registers itself by being imported; this layer never imports it.
            sync = sys.modules.get("chainrule.distributed.sync_batch_norm")
            if sync is not None and sync.active():
                return sync.sync_batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                                            momentum=self.momentum, epsilon=self.epsilon, axis=self._axes)
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


class GroupNormalization(Layer):
    """Group normalization (Wu & He, 2018): the C channels on ``axis`` are split into ``groups``
    groups of C / groups consecutive channels, and each sample is normalized with the mean and
    (biased) variance of each group, over the group's channels and every other non-batch axis:

        y = gamma[c] (x - mean_group) / sqrt(var_group + epsilon) + beta[c]

    ``groups=1`` normalizes each sample over all its axes (with per-channel gamma and beta),
    ``groups=-1`` (one group per channel) is instance normalization. The same in training and
    inference, so it does not depend on the batch size. Fused op and gradient: ``ops.group_norm``.

    Weights (Keras's order): gamma (C,), then beta (C,). PyTorch's ``nn.GroupNorm`` is the same
    with the channels on axis 1 and eps=1e-5 (Keras's epsilon default: 1e-3).
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization: groups must be a positive int, or -1 for instance "
                             f"normalization, got {groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"GroupNormalization: axis must be an int, got {axis!r}")
        super().__init__(**kwargs)
        self.groups = groups
        self.axis = axis
        _set_affine_options(self, "GroupNormalization", epsilon, center, scale, beta_initializer, gamma_initializer,
                            beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)
        self.gamma = None
        self.beta = None
        self._channels = None

    def _channels_of(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"{self.name}: axis {self.axis} is not a channel axis of inputs of shape "
                             f"{tuple(input_shape)} (it must be in range and not the batch axis)")
        c = input_shape[self.axis]
        if c is None:
            raise ValueError(f"{self.name}: axis {self.axis} of inputs of shape {tuple(input_shape)} must have a "
                             f"known size")
        groups = c if self.groups == -1 else self.groups
        if groups > c or c % groups:
            raise ValueError(f"{self.name}: {groups} groups must divide the {c} channels on axis {self.axis} "
                             f"(input shape {tuple(input_shape)})")
        return c, groups

    def build(self, input_shape):
        c, _ = self._channels_of(input_shape)
        self._channels = c
        if self.scale:
            self.gamma = self.add_weight("gamma", (c,), self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.beta = self.add_weight("beta", (c,), self.beta_initializer, self.beta_regularizer)
        self.built = True

    def call(self, inputs, training=False):
        c, groups = self._channels_of(tuple(inputs.shape))
        if c != self._channels:
            raise ValueError(f"{self.name}: the layer was built for {self._channels} channels on axis {self.axis}, "
                             f"got an input of shape {tuple(inputs.shape)}")
        weight = self.gamma if self.gamma is not None else self.beta
        x = _as_float(self, inputs, weight.data.dtype) if weight is not None else nn._float_tensor(self.name, inputs)
        return group_norm_op(x, groups, self.gamma, self.beta, epsilon=self.epsilon, axis=self.axis)

    def compute_output_shape(self, input_shape):
        self._channels_of(input_shape)
        return tuple(input_shape)

    def get_config(self):
        from .. import initializers, regularizers

        cfg = super().get_config()
        cfg.update(
            groups=self.groups, axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
            beta_initializer=serialize_or_keep(self.beta_initializer, initializers),
            gamma_initializer=serialize_or_keep(self.gamma_initializer, initializers),
            beta_regularizer=serialize_or_keep(self.beta_regularizer, regularizers),
            gamma_regularizer=serialize_or_keep(self.gamma_regularizer, regularizers),
            beta_constraint=None, gamma_constraint=None,
        )
        return cfg


class UnitNormalization(Layer):
    """y = x / max(||x||_2, 1e-12) along ``axis`` (an int or a list of ints): each sample scaled to unit
    L2 norm, as Keras (computed as x * rsqrt(max(sum x^2, 1e-24))) and PyTorch's ``F.normalize``.

    dL/dx = (g - y sum(g y)) / ||x|| where the norm exceeds 1e-12 (the projection of g off y, scaled).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = [int(a) for a in axis]
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"UnitNormalization: axis must be an int or a list of ints, got {axis!r}")
        self.axis = axis

    def _axes(self, shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -len(shape) <= a < len(shape) for a in axes):
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for inputs of shape {tuple(shape)}")
        return tuple(axes)

    def call(self, inputs, training=False):
        x = nn._float_tensor(self.name, inputs)
        axes = self._axes(x.shape)
        return x / sqrt(maximum(_sum(x * x, axis=axes, keepdims=True), 1e-24))

    def compute_output_shape(self, input_shape):
        self._axes(input_shape)
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg
