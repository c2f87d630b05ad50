"""Resizing along spatial axes: nearest-neighbour and (bi/tri)linear interpolation.

Both are separable: an N-d resize is N one-axis resizes in a row, and each one-axis
resize is a fixed sparse linear map applied along that axis. For output index o on an
axis of input length n resized to m:

* ``nearest``: y[o] = x[i(o)],  i(o) = floor(o * n / m)  (PyTorch's ``mode="nearest"``; for an
  integer factor s this is ``repeat(x, s)``, which is what Keras's UpSampling layers do);
* ``linear`` (half-pixel centres, PyTorch's ``align_corners=False``, TensorFlow's
  ``half_pixel_centers=True``, Keras 3's ``ops.image.resize`` when enlarging):

      c(o) = max((o + 1/2) n / m - 1/2, 0),   i0 = floor(c),  i1 = min(i0 + 1, n - 1),  w = c - i0
      y[o] = (1 - w) x[i0] + w x[i1]

A one-axis resize is y = A x with A the (m, n) matrix of those weights, so its derivative
is its transpose: dL/dx = A^T g, i.e. dL/dx[i] = sum of w_k(o) g[o] over the outputs o that
read x[i]. ``Resample`` computes A x with two gathers; ``ResampleAdjoint`` computes A^T g
with a segment sum (i0 and i1 are non-decreasing in o, so the outputs that read one input
form a run). Each is the other's backward, so gradients of any order exist.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from .nn import _float_tensor

__all__ = ["interpolate"]

_MODES = {"nearest": "nearest", "linear": "linear", "bilinear": "linear", "trilinear": "linear"}


def _as_index(a):
    """``a`` (sorted ints) as a slice when it is an arithmetic progression (a view instead of a copy)."""
    if a.size == 1:
        return slice(int(a[0]), int(a[0]) + 1)
    step = int(a[1] - a[0])
    if step > 0 and bool(xp.all(xp.diff(a) == step)):
        return slice(int(a[0]), int(a[-1]) + 1, step)
    return a


def _segment_sum(values, index, n, axis):
    """zeros with length n on ``axis``, values[..., o, ...] added at position index[o] (index sorted).

    The outputs that read one input form a run of equal indices. The k-th element of every run is
    added in one vectorized step (within one k the targets are distinct, so nothing is lost to
    buffering); an integer upsampling factor s gives s steps, each a strided slice.
    """
    out_shape = list(values.shape)
    out_shape[axis] = n
    out = xp.zeros(out_shape, dtype=values.dtype)
    m = index.shape[0]
    if m == 0:
        return out
    first = xp.concatenate(([True], index[1:] != index[:-1]))
    starts = xp.flatnonzero(first)
    rank = xp.arange(m) - starts[xp.cumsum(first) - 1]
    lead = (slice(None),) * axis
    for k in range(int(rank.max()) + 1):
        sel = xp.flatnonzero(rank == k)
        src, dst = _as_index(sel), _as_index(index[sel])
        vals = values[lead + (src,)]
        if k == 0:
            out[lead + (dst,)] = vals
        else:
            out[lead + (dst,)] += vals
    return out


def _weights_shape(w, axis, ndim):
    shape = [1] * ndim
    shape[axis] = w.shape[0]
    return w.reshape(shape)


class Resample(Function):
    """y = A x along ``axis``: y[o] = (1 - w[o]) x[i0[o]] + w[o] x[i1[o]] (``i1=None``: y[o] = x[i0[o]]).

    dL/dx = A^T g (``ResampleAdjoint``).
    """

    def forward(self, x, axis, i0, i1, w):
        self.axis, self.i0, self.i1, self.w, self.n = axis, i0, i1, w, x.shape[axis]
        y = xp.take(x, i0, axis=axis)
        if i1 is None:
            return y
        wb = _weights_shape(w.astype(x.dtype, copy=False), axis, x.ndim)
        y *= 1 - wb
        y += xp.take(x, i1, axis=axis) * wb
        return y

    def backward(self, g):
        return ResampleAdjoint.apply(g, axis=self.axis, i0=self.i0, i1=self.i1, w=self.w, n=self.n)


class ResampleAdjoint(Function):
    """y = A^T g along ``axis`` (length n): y[i] = sum_o [i0[o] = i](1 - w[o]) g[o] + [i1[o] = i] w[o] g[o].

    It is linear in g, and its derivative is A again: dL/dg = A (dL/dy) (``Resample``).
    """

    def forward(self, g, axis, i0, i1, w, n):
        self.axis, self.i0, self.i1, self.w = axis, i0, i1, w
        if i1 is None:
            return _segment_sum(g, i0, n, axis)
        wb = _weights_shape(w.astype(g.dtype, copy=False), axis, g.ndim)
        out = _segment_sum(g * (1 - wb), i0, n, axis)
        out += _segment_sum(g * wb, i1, n, axis)
        return out

    def backward(self, gy):
        return Resample.apply(gy, axis=self.axis, i0=self.i0, i1=self.i1, w=self.w)


def _source_indices(mode, n, m, scale):
    """(i0, i1, w) of a one-axis resize from n to m samples; ``scale`` = input step per output step."""
    o = xp.arange(m, dtype=xp.float64)
    if mode == "nearest":
        return xp.minimum(xp.floor(o * scale).astype(xp.int64), n - 1), None, None
    c = xp.maximum((o + 0.5) * scale - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(c).astype(xp.int64), n - 1)
    i1 = xp.minimum(i0 + 1, n - 1)
    return i0, i1, c - i0


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest", data_format: str = "channels_last") -> Tensor:
    """Resize the spatial axes of ``x`` (batch, *spatial, channels) -- or (batch, channels, *spatial) with
    ``data_format="channels_first"``, PyTorch's layout -- to ``size`` (one int per spatial axis, or one int
    for all) or by ``scale_factor`` (positive numbers, one per axis or one for all).

    ``mode``: ``"nearest"`` or ``"linear"`` (also spelt ``"bilinear"``/``"trilinear"``), half-pixel
    centres as PyTorch's ``F.interpolate(..., align_corners=False)``; the formulas are in the module
    docstring. With ``scale_factor`` the sampling step is 1 / scale_factor (as PyTorch), with ``size`` it
    is n / m; the two agree for integer factors.
    """
    x = _float_tensor("interpolate", x)
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"interpolate: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    if not isinstance(mode, str) or mode.lower() not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {sorted(_MODES)}, got {mode!r}")
    mode = _MODES[mode.lower()]
    rank = x.ndim - 2
    if rank < 1:
        raise ValueError(f"interpolate: needs an input (batch, *spatial, channels) with a spatial axis, "
                         f"got shape {x.shape}")
    axes = list(range(1, 1 + rank)) if data_format == "channels_last" else list(range(2, 2 + rank))
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")

    def per_axis(value, name, kind):
        vals = (value,) * rank if isinstance(value, (int, float)) else tuple(value)
        if len(vals) != rank or any(isinstance(v, bool) or not isinstance(v, kind) or not v > 0 for v in vals):
            raise ValueError(f"interpolate: {name} must be one positive number or {rank} of them for an input "
                             f"of shape {x.shape} ({data_format}), got {value!r}")
        return vals

    if size is not None:
        sizes = per_axis(size, "size", int)
        scales = [x.shape[a] / m for a, m in zip(axes, sizes)]
    else:
        factors = per_axis(scale_factor, "scale_factor", (int, float))
        sizes = [int(math.floor(x.shape[a] * f)) for a, f in zip(axes, factors)]
        scales = [1.0 / f for f in factors]
    y = x
    for a, m, s in zip(axes, sizes, scales):
        n = x.shape[a]
        if n == 0 or m == 0:
            raise ValueError(f"interpolate: cannot resize an empty axis or to an empty one "
                             f"(input shape {x.shape}, output sizes {tuple(sizes)})")
        if m == n and s == 1.0:
            continue
        i0, i1, w = _source_indices(mode, n, m, s)
        y = Resample.apply(y, axis=a, i0=i0, i1=i1, w=w)
    return y
