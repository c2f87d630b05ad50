"""Preprocessing layers that live inside a model: Rescaling and Normalization (Keras 3's names,
arguments and defaults). Putting them in the model means the saved model carries its own input
scaling, so ``predict`` takes raw data.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from ..ops.nn import _float_tensor
from .base import Layer


def _layer_float(layer, x):
    """The input as a float Tensor of the layer's dtype (or floatx): raw uint8 pixels become floats."""
    dtype = np.dtype(layer.dtype or backend.floatx())
    x = _float_tensor(layer.name, x)
    if x.data.dtype != dtype:
        from ..ops.shape import cast

        x = cast(x, dtype)
    return x


def _plain(value, layer, name):
    """A number or a (nested) list of numbers, as the config holds it."""
    arr = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{layer}: {name} must be finite numbers, got {value!r}")
    return arr.tolist()


class Rescaling(Layer):
    """y = x scale + offset (``scale``/``offset``: numbers, or per-channel lists that broadcast from the
    right), e.g. ``Rescaling(1 / 255)`` maps pixels to [0, 1] and ``Rescaling(1 / 127.5, offset=-1)``
    to [-1, 1]. Integer inputs are cast to the layer's float dtype first.  dL/dx = g scale.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _plain(scale, "Rescaling", "scale")
        self.offset = _plain(offset, "Rescaling", "offset")

    def call(self, inputs, training=False):
        x = _layer_float(self, inputs)
        dtype = x.data.dtype
        y = x * Tensor._wrap(np.asarray(self.scale, dtype=dtype))
        if np.any(np.asarray(self.offset) != 0):
            y = y + Tensor._wrap(np.asarray(self.offset, dtype=dtype))
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(scale=self.scale, offset=self.offset)
        return cfg


class Normalization(Layer):
    """Feature-wise standardization: y = (x - mean) / max(sqrt(variance), 1e-7), with ``mean`` and
    ``variance`` per index of the kept ``axis`` (default -1: one pair per feature; None: one scalar
    pair), either given or learned from data by ``adapt(data)``. ``invert=True`` maps back:
    y = mean + x max(sqrt(variance), 1e-7). dL/dx = g / max(sqrt(variance), 1e-7).

    ``adapt`` takes an array (or Tensor) of samples, or an iterable of batches (arrays, or (x, y)
    tuples as a DataLoader yields), and sets the mean and the biased variance over every axis but
    ``axis``, combining batches exactly (Chan et al.'s parallel update, as Keras). Given ``mean``
    and ``variance`` are in the config; adapted ones are the layer's weights (Keras's order:
    mean, variance, count; not trainable), saved with the model.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int) and not isinstance(axis, bool):
            axis = (axis,)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give both mean and variance, or neither; got mean={mean!r}, "
                             f"variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Normalization: mean and variance must have the same shape, got "
                                 f"{np.shape(mean)} and {np.shape(variance)}")
            if np.ndim(mean) > len(axis):
                raise ValueError(f"Normalization: mean of shape {np.shape(mean)} has more axes than axis={axis}")
            if np.any(np.asarray(variance, dtype=np.float64) < 0):
                raise ValueError("Normalization: variance must be >= 0")
        self.input_mean = None if mean is None else _plain(mean, "Normalization", "mean")
        self.input_variance = None if variance is None else _plain(variance, "Normalization", "variance")
        self.invert = bool(invert)
        self.adapt_mean = self.adapt_variance = self.count = None
        self._keep = self._broadcast = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"{self.name}: axis {self.axis} is out of range for inputs of shape {tuple(input_shape)}")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        if any(input_shape[a] is None for a in self._keep):
            raise ValueError(f"{self.name}: the kept axes {self.axis} of inputs of shape {tuple(input_shape)} must "
                             "have known sizes")
        self._broadcast = tuple(input_shape[a] if a in self._keep else 1 for a in range(ndim))
        self._build_shape = tuple(input_shape)
        if self.input_mean is None:
            shape = tuple(input_shape[a] for a in self._keep)
            self.adapt_mean = self.add_weight("mean", shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False, dtype="int64")
        self.built = True

    def _statistics(self, dtype):
        """mean and variance shaped to broadcast against the input."""
        if self.input_mean is None:
            mean, var = self.adapt_mean.data, self.adapt_variance.data
            return mean.reshape(self._broadcast).astype(dtype), var.reshape(self._broadcast).astype(dtype)
        out = []
        for value in (self.input_mean, self.input_variance):
            arr = np.asarray(value, dtype=dtype)
            if arr.ndim:  # its axes are the last kept axes
                shape = [1] * len(self._broadcast)
                for i in range(1, arr.ndim + 1):
                    shape[self._keep[-i]] = arr.shape[-i]
                arr = arr.reshape(shape)
            out.append(np.broadcast_to(arr, self._broadcast))
        return out

    def call(self, inputs, training=False):
        x = _layer_float(self, inputs)
        if x.ndim != len(self._broadcast) or any(b != 1 and b != d for b, d in zip(self._broadcast, x.shape)):
            raise ValueError(f"{self.name}: the layer was built for inputs of shape {self._build_shape} "
                             f"(axis={self.axis}), got {tuple(x.shape)}")
        mean, var = self._statistics(x.data.dtype)
        std = np.maximum(np.sqrt(var), x.data.dtype.type(1e-7))
        if self.invert:
            return x * Tensor._wrap(std) + Tensor._wrap(mean)
        return (x - Tensor._wrap(mean)) * Tensor._wrap(1.0 / std)

    def adapt(self, data):
        """Set the mean and variance from ``data`` (see the class docstring)."""
        if self.input_mean is not None:
            raise ValueError(f"{self.name}: adapt() cannot change a mean and variance given to the constructor")
        if isinstance(data, (np.ndarray, Tensor)):
            batches = [data]
        elif hasattr(data, "__iter__"):
            batches = data
        else:
            raise TypeError(f"{self.name}: adapt() takes an array or an iterable of batches, got "
                            f"{type(data).__name__}")
        total_mean = total_var = None
        total = 0
        for batch in batches:
            if isinstance(batch, (tuple, list)):  # (x, y) from a dataset: the features
                batch = batch[0]
            b = np.asarray(batch.data if isinstance(batch, Tensor) else batch, dtype=np.float64)
            if not self.built:
                self.build((None,) + b.shape[1:] if b.ndim else ())
            if b.ndim != len(self._broadcast) or any(b.shape[a] != self._broadcast[a] for a in self._keep):
                raise ValueError(f"{self.name}: adapt() got a batch of shape {b.shape}; the layer is built for "
                                 f"inputs of shape {self._build_shape} (axis={self.axis})")
            reduce = tuple(a for a in range(b.ndim) if a not in self._keep)
            n = math.prod(b.shape[a] for a in reduce)
            if n == 0:
                continue
            mean, var = b.mean(axis=reduce), b.var(axis=reduce)
            if total_mean is None:
                total_mean, total_var, total = mean, var, n
                continue
            w = n / (total + n)  # exact pooled mean and (biased) variance of the union
            new_mean = total_mean * (1 - w) + mean * w
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w) + (var + (mean - new_mean) ** 2) * w
            total_mean, total = new_mean, total + n
        if total_mean is None:
            raise ValueError(f"{self.name}: adapt() received no data")
        self.adapt_mean.data[...] = total_mean
        self.adapt_variance.data[...] = total_var
        self.count.data[...] = total

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=list(self.axis), mean=self.input_mean, variance=self.input_variance, invert=self.invert)
        return cfg


__all__ = ["Normalization", "Rescaling"]
