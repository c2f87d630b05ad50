"""Two adjacent layers run as one op at inference: a convolution and the max pooling after it.

The texts' CNNs alternate ``Conv2D(..., activation="relu")`` and ``MaxPooling2D()``. Run one
after the other, the convolution writes its whole output (the texts' first one: 32 channels
of 26x26 per image, 11 MB at batch 128) and the pooling reads it all back to keep a quarter.
``conv_max_pool`` pools each block of the convolution's output while it is still in cache,
and runs the bias and relu on the pooled values only (both are non-decreasing, so they
commute with max: the numbers are the same, bit for bit).

Used only where nothing is recorded for a gradient (``cr.no_grad()``, ``predict``,
``evaluate``): training runs the two layers as they are, so that backward sees the usual ops.
A pair qualifies when the convolution is a plain ``Conv*D`` (not transposed, activation relu
or linear, no activity regularizer) and the pooling a plain ``MaxPooling*D`` of the same
rank and data format with "valid" padding and strides equal to its pool size.
"""
from __future__ import annotations

from .. import activations
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from ..ops.conv import conv_max_pool
from .conv import ConvND
from .core import _as_float
from .pooling import PoolingND


def conv_then_max_pool(conv, pool, x):
    """``pool(conv(x))`` in one op, or None when the pair does not qualify (then call them as usual)."""
    if not _qualifies(conv, pool, x):
        return None
    conv._check_input(x)
    x = _as_float(conv, x, conv.kernel.data.dtype)
    activation = "relu" if conv.activation is activations.relu else None
    z = conv_max_pool(x, conv.kernel, conv.bias, pool.pool_size, conv.strides, conv.padding, conv.dilation_rate,
                      conv.groups, conv.data_format, activation=activation)
    # What Layer.__call__ records about each call (model summaries read it).
    conv.input_shape_seen = tuple(x.shape)
    conv.output_shape_seen = pool.input_shape_seen = tuple(conv.compute_output_shape(x.shape))
    pool.output_shape_seen = tuple(z.shape)
    return z


def _qualifies(conv, pool, x) -> bool:
    if type(pool).call is not PoolingND.call or getattr(pool, "mode", None) != "max":
        return False
    if not isinstance(conv, ConvND) or conv.transpose or type(conv).call is not ConvND.call:
        return False
    if not (conv.built and pool.built) or not isinstance(x, Tensor) or getattr(x, "_keras_mask", None) is not None:
        return False
    if conv.activity_regularizer is not None or pool.activity_regularizer is not None:
        return False
    if conv.activation not in (activations.relu, activations.linear):
        return False
    if pool.rank != conv.rank or pool.data_format != conv.data_format or pool.padding != "valid" \
            or tuple(pool.strides) != tuple(pool.pool_size):
        return False
    if is_grad_enabled() and (x.requires_grad or any(w is not None and w.requires_grad for w in (conv.kernel, conv.bias))):
        return False
    return True
