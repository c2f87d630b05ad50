"""Activation layers with their own arguments: ReLU, LeakyReLU, PReLU, ELU, Softmax (Keras 3's names,
arguments and defaults). The math of each is in its docstring; the gradients are those of the ops
they are made of (``ops.activation``, ``ops.elementwise``).
"""
from __future__ import annotations

from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops import activation as act
from ..ops.elementwise import clip, relu, where
from ..ops.nn import _float_tensor
from .base import Layer, serialize_or_keep
from .core import _as_float


def _non_negative(layer, name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{layer}: {name} must be a non-negative number{' or None' if allow_none else ''}, "
                         f"got {value!r}")
    return float(value)


class _Elementwise(Layer):
    """An activation with no weights: the output has the input's shape."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ReLU(_Elementwise):
    """Rectified linear unit with Keras's three knobs (defaults: the plain max(x, 0)):

        y = max_value                          if x >= max_value
        y = x                                  if threshold < x < max_value
        y = negative_slope (x - threshold)     if x <= threshold

    dy/dx = 1 on the middle piece, negative_slope below the threshold, 0 above max_value
    (at x = threshold, the lower piece's slope, as PyTorch's relu at 0).
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)

    def call(self, inputs, training=False):
        x = _float_tensor(self.name, inputs)
        if self.max_value is None and self.threshold == 0.0:
            return relu(x) if self.negative_slope == 0.0 else act.leaky_relu(x, self.negative_slope)
        y = relu(x) if self.threshold == 0.0 else where(x.data > self.threshold, x, 0.0)
        if self.max_value is not None:
            y = clip(y, None, self.max_value)
        if self.negative_slope != 0.0:
            y = y - self.negative_slope * relu(self.threshold - x)
        return y

    def get_config(self):
        cfg = super().get_config()
        cfg.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return cfg


class LeakyReLU(_Elementwise):
    """y = x if x > 0 else negative_slope x.  dy/dx = 1 or negative_slope.

    The layer's default slope is 0.3, as Keras 3's ``keras.layers.LeakyReLU`` (the function
    ``leaky_relu`` defaults to 0.2, PyTorch to 0.01). ``alpha=`` (Keras 2's name) still works,
    with a warning, as in Keras 3.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            import warnings

            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: the argument alpha is deprecated; use negative_slope", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _non_negative("LeakyReLU", "negative_slope", negative_slope)

    def call(self, inputs, training=False):
        return act.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        cfg = super().get_config()
        cfg["negative_slope"] = self.negative_slope
        return cfg


class PReLU(_Elementwise):
    """Parametric ReLU: y = max(x, 0) - alpha max(-x, 0), with a learned slope alpha per element
    of a sample (shape input_shape[1:]), or shared along ``shared_axes`` (1-based, the batch axis
    is 0): ``shared_axes=[1, 2]`` on images (batch, H, W, C) learns one slope per channel, as
    PyTorch's ``PReLU(num_parameters=C)``. alpha starts at 0 (Keras's "zeros"; PyTorch: 0.25).

    dy/dx = 1 if x > 0 else alpha;  dy/dalpha = min(x, 0), summed over the shared axes and the batch.
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        from .. import initializers, regularizers
        from .core import ignored_constraint

        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        ignored_constraint("PReLU", "alpha_constraint", alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(f"PReLU: shared_axes must be axes >= 1 (0 is the batch axis), got {shared_axes!r}")
            self.shared_axes = axes
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if a >= len(input_shape):
                raise ValueError(f"{self.name}: shared axis {a} is out of range for inputs of shape "
                                 f"{tuple(input_shape)}")
            shape[a - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"{self.name}: the axes that are not shared must have known sizes; got input shape "
                             f"{tuple(input_shape)} and shared_axes={self.shared_axes}")
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer, self.alpha_regularizer)
        self.built = True

    def call(self, inputs, training=False):
        x = _as_float(self, inputs, self.alpha.data.dtype) if isinstance(inputs, Tensor) else inputs
        want = self.alpha.shape
        if x.ndim != len(want) + 1 or any(a != 1 and a != d for a, d in zip(want, x.shape[1:])):
            raise ValueError(f"{self.name}: the layer was built for samples of shape {want} (1: shared), got an "
                             f"input of shape {tuple(x.shape)}")
        return relu(x) - self.alpha * relu(-x)

    def get_config(self):
        from .. import initializers, regularizers

        cfg = super().get_config()
        cfg.update(alpha_initializer=serialize_or_keep(self.alpha_initializer, initializers),
                   alpha_regularizer=serialize_or_keep(self.alpha_regularizer, regularizers),
                   alpha_constraint=None, shared_axes=self.shared_axes)
        return cfg


class ELU(_Elementwise):
    """y = x if x > 0 else alpha (e^x - 1).  dy/dx = 1 or alpha e^x."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise TypeError(f"ELU: alpha must be a number, got {alpha!r}")
        self.alpha = float(alpha)

    def call(self, inputs, training=False):
        return act.elu(inputs, self.alpha)

    def get_config(self):
        cfg = super().get_config()
        cfg["alpha"] = self.alpha
        return cfg


class Softmax(_Elementwise):
    """y = exp(x) / sum(exp(x)) along ``axis`` (an int or a list of axes; default -1).

    ``layer(x, mask=m)``: m (bool, or numbers read as m > 0.5) broadcasts to x from the right;
    masked entries get no probability: x is replaced there by a large negative number before the
    softmax (-1e9; -3e4 in float16) and y by 0 after it, as Keras. The gradient is the softmax's,
    dL/dx = y (g - sum(g y)), and 0 at masked entries.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = [int(a) for a in axis]
        elif isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Softmax: axis must be an int or a list of ints, got {axis!r}")
        self.axis = axis

    def call(self, inputs, training=False, mask=None):
        x = _float_tensor(self.name, inputs)
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        if mask is None:
            return act.softmax(x, axis)
        m = xp.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if m.ndim > x.ndim or any(a != 1 and a != b for a, b in zip(m.shape[::-1], x.shape[::-1])):
            raise ValueError(f"{self.name}: the mask must broadcast to the inputs (each mask axis 1 or the input's "
                             f"size, aligned on the right); got inputs {tuple(x.shape)} and mask {m.shape}")
        if m.dtype != bool:
            m = m > 0.5
        m = xp.broadcast_to(m, x.shape)
        big = -3e4 if x.data.dtype == xp.float16 else -1e9
        y = act.softmax(where(m, x, big), axis)
        return where(m, y, 0.0)

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]
