"""Regularization layers: GaussianNoise, GaussianDropout, SpatialDropout1D/2D/3D, ActivityRegularization
(Keras 3's names, arguments and defaults).

The noise layers act only in training (``fit``, or ``layer(x, training=True)``) and are the identity
in inference. ``seed``: an int gives the layer its own generator (a reproducible sequence of draws,
as Keras's SeedGenerator); None draws from the library's generator (``cr.manual_seed``).
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd.tensor import Tensor
from ..ops import nn
from ..ops.nn import _float_tensor
from .base import Layer
from .core import Dropout
from .reshaping import _check_rank, _data_format


def _seed(layer, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"{layer}: seed must be a non-negative int or None, got {seed!r}")
    return seed


def _unit_interval(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{layer}: {name} must be a number in [0, 1], got {value!r}")
    return float(value)


class _Noise(Layer):
    """Shared: the seed, the generator, and the identity shape."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _seed(type(self).__name__, seed)
        self._generator = None if seed is None else backend.xp.random.default_rng(seed)

    def _normal(self, x, mean, stddev):
        """A constant Tensor of N(mean, stddev^2) draws of x's shape and dtype."""
        rng = self._generator if self._generator is not None else backend.rng()
        noise = rng.standard_normal(x.shape).astype(x.data.dtype, copy=False)
        noise *= stddev
        noise += mean
        return Tensor._wrap(noise)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class GaussianNoise(_Noise):
    """Training: y = x + e, e ~ N(0, stddev^2) drawn afresh each call (stddev in [0, 1], as Keras);
    inference: y = x.  dL/dx = g."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.stddev = _unit_interval("GaussianNoise", "stddev", stddev)

    def call(self, inputs, training=False):
        if not training or self.stddev == 0.0:
            return inputs
        x = _float_tensor(self.name, inputs)
        return x + self._normal(x, 0.0, self.stddev)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(stddev=self.stddev, seed=self.seed)
        return cfg


class GaussianDropout(_Noise):
    """Training: y = x m, m ~ N(1, rate / (1 - rate)) drawn afresh each call -- multiplicative noise
    with the mean and variance of inverted dropout's mask (E[y] = x); inference: y = x.
    dL/dx = g m."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.rate = _unit_interval("GaussianDropout", "rate", rate)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        x = _float_tensor(self.name, inputs)
        return x * self._normal(x, 1.0, math.sqrt(self.rate / (1.0 - self.rate)))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, seed=self.seed)
        return cfg


class _SpatialDropout(Dropout):
    """Dropout of whole channels: one keep/drop draw per (sample, channel), shared by every spatial
    position, survivors scaled by 1 / (1 - rate). For feature maps whose neighbouring entries are
    strongly correlated, where dropping single entries barely regularizes (Tompson et al., 2015)."""

    rank = 0

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = _data_format(type(self).__name__, data_format)

    def call(self, inputs, training=False):
        _check_rank(self, inputs.shape, self.rank)
        if not training or self.rate == 0.0:
            return inputs
        shape = [1] * inputs.ndim
        shape[0] = inputs.shape[0]
        channel = -1 if self.data_format == "channels_last" else 1
        shape[channel] = inputs.shape[channel]
        return nn.dropout(inputs, self.rate, training=True, noise_shape=shape, seed=self._generator)

    def get_config(self):
        cfg = super().get_config()
        del cfg["noise_shape"]
        cfg["data_format"] = self.data_format
        return cfg


class SpatialDropout1D(_SpatialDropout):
    """(batch, steps, channels): each channel of a sample is kept or dropped at every step at once."""

    rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, None, seed, name, dtype, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        del cfg["data_format"]
        return cfg


class SpatialDropout2D(_SpatialDropout):
    """(batch, H, W, C) (or channels_first): whole 2-D feature maps are dropped."""

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """(batch, D, H, W, C) (or channels_first): whole 3-D feature maps are dropped."""

    rank = 3


class ActivityRegularization(Layer):
    """y = x, and adds l1 sum|x| + l2 sum x^2 to ``layer.losses`` (the training loss) at each call:
    the activity regularizer ``L1L2(l1, l2)`` applied to its own output."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        from .. import regularizers

        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def call(self, inputs, training=False):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("activity_regularizer", None)
        cfg.update(l1=self.l1, l2=self.l2)
        return cfg


__all__ = [
    "ActivityRegularization", "GaussianDropout", "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D",
    "SpatialDropout3D",
]
