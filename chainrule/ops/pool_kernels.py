"""Array kernels for N-dimensional max and average pooling: forward and backward.

Plain functions on ndarrays (no autograd); the pooling ``Function``s wrap them.
Layout as in ``conv_kernels``: ``(N, *spatial, C)``, or ``(N, C, *spatial)`` with
``data_format="channels_first"``. Any number of spatial dims.

With window offsets ``k`` over ``pool_size``, strides ``s`` and the padded input
``x_p``, every kernel is a loop over the ``prod(pool_size)`` offsets of one
vectorised operation on the strided view ``x_p[:, o*s + k, :]`` (shape of the
output) -- no Python loop over pixels, no ``np.add.at``::

    max:  y[n, o, c] = max_k x_p[n, o*s + k, c]          (padding is -inf, never chosen)
          dL/dx_p[n, o*s + k, c] += gy[n, o, c]  for the k = argmax (the first maximum, as PyTorch)
    avg:  y[n, o, c] = (1 / count[o]) * sum_k x_p[n, o*s + k, c]          (padding is 0)
          dL/dx_p[n, o*s + k, c] += gy[n, o, c] / count[o]

``count[o]`` is the number of real (unpadded) elements in the window, as Keras and
TensorFlow do for ``padding="same"`` (and PyTorch's ``count_include_pad=False``);
with ``count_include_pad=True`` it is ``prod(pool_size)`` (PyTorch's default).
"""
from __future__ import annotations

import itertools
import math

from .. import parallel
from ..backend import floatx_dtype, xp

#: Max pooling walks an input over four times this size in pieces of about this many bytes (a
#: range of samples), all window offsets of one piece before the next. Measured (one thread, 1 MB
#: L2 a core, 32 MB L3 shared with other processes): forward with the arg-max on (128, 24, 24, 64)
#: float32, 8.2 ms in whole-array passes and 5.6 ms in 2 MB pieces; on (128, 26, 26, 32) 5.0 and
#: 4.4 ms; half the batch (5.5 MB and 9.4 MB) ran as fast whole (1.5 ms, 2.6-2.9 ms): the cliff
#: comes when the passes leave the cache.
CHUNK_BYTES = 2 << 20
from .conv_geometry import (_check_array, _from_channels_last, _ntuple, _shape_to_channels_last,
                           _to_channels_last, conv_output_size, resolve_padding)


class _PoolGeometry:
    def __init__(self, op, x_shape, pool_size, strides, padding):
        if len(x_shape) < 3:
            raise ValueError(f"{op}: input must be (N, *spatial, C) with at least one spatial dim, got {tuple(x_shape)}")
        nd = len(x_shape) - 2
        self.nd, self.n, self.in_spatial, self.c = nd, x_shape[0], tuple(x_shape[1:-1]), x_shape[-1]
        self.pool = _ntuple(pool_size, nd, "pool_size", op)
        self.strides = self.pool if strides is None else _ntuple(strides, nd, "strides", op)
        self.padding = resolve_padding(padding, self.in_spatial, self.pool, self.strides, 1)
        if any(lo >= p or hi >= p for (lo, hi), p in zip(self.padding, self.pool)):
            raise ValueError(f"{op}: padding {self.padding} must be smaller than pool_size {self.pool} "
                             f"(a window of padding only has no value)")
        self.out_spatial = conv_output_size(self.in_spatial, self.pool, self.strides, self.padding, (1,) * nd)
        if any(o < 1 for o in self.out_spatial):
            raise ValueError(f"{op}: input spatial size {self.in_spatial} (padding {self.padding}) is smaller "
                             f"than pool_size {self.pool}")
        self.padded_spatial = tuple(i + lo + hi for i, (lo, hi) in zip(self.in_spatial, self.padding))
        self.has_padding = any(p != (0, 0) for p in self.padding)
        self.offsets = list(itertools.product(*(range(p) for p in self.pool)))
        self.overlapping = any(s < p for s, p in zip(self.strides, self.pool))

    @property
    def y_shape(self):
        return (self.n,) + self.out_spatial + (self.c,)

    def interior(self):
        return (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(self.padding, self.in_spatial)) \
            + (slice(None),)

    def pad(self, x, fill, dtype=None):
        """``x`` padded with ``fill`` (converted to ``dtype`` on the way: one copy, not two); x itself
        when there is no padding and no conversion."""
        dtype = x.dtype if dtype is None else xp.dtype(dtype)
        if not self.has_padding:
            return x.astype(dtype, copy=False)
        out = xp.full((self.n,) + self.padded_spatial + (self.c,), fill, dtype=dtype)
        out[self.interior()] = x
        return out

    def crop(self, arr):
        return xp.ascontiguousarray(arr[self.interior()]) if self.has_padding else arr

    def views(self, arr):
        """For each window offset k, the view ``arr[:, o*s + k, :]`` of shape ``(N, *out, C)``."""
        for k in self.offsets:
            yield (slice(None),) + tuple(slice(kk, kk + (o - 1) * s + 1, s)
                                         for kk, o, s in zip(k, self.out_spatial, self.strides)) + (slice(None),)

    def count(self, dtype, count_include_pad):
        """Real elements per window: a scalar, or a broadcastable ``(1, *out, 1)`` array."""
        if count_include_pad or not self.has_padding:
            return dtype.type(math.prod(self.pool))
        cnt = xp.ones((1,) * (self.nd + 2), dtype=dtype)
        for d, (i, p, s, (lo, _), o) in enumerate(zip(self.in_spatial, self.pool, self.strides, self.padding,
                                                      self.out_spatial)):
            start = xp.arange(o) * s
            per_dim = xp.minimum(start + p, lo + i) - xp.maximum(start, lo)
            shape = [1] * (self.nd + 2)
            shape[d + 1] = o
            cnt = cnt * per_dim.astype(dtype).reshape(shape)
        return cnt


def _float_dtype(x):
    return x.dtype if x.dtype.kind == "f" else floatx_dtype()


def _lowest(dtype):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


# ----------------------------------------------------------------------------- max pooling

def _max_pool_start(x, pool_size, strides, padding, data_format):
    """The geometry, the -inf-padded input and its window views."""
    _check_array(x, "max_pool", "x")
    x = _to_channels_last(x, data_format, "max_pool")
    geo = _PoolGeometry("max_pool", x.shape, pool_size, strides, padding)
    xp_ = geo.pad(x, _lowest(x.dtype))
    return geo, xp_, list(geo.views(xp_))


def _samples(view, a, b):
    """The window view ``view`` restricted to samples ``a:b`` (the first axis)."""
    return (slice(a, b),) + view[1:]


def max_pool_forward(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """N-D max pooling: ``y[n, o, c] = max_k x_p[n, o*s + k, c]``; returns ``(y, argmax)``.

    ``argmax`` (shape of y, the smallest unsigned int dtype that holds ``prod(pool_size) - 1``)
    is the row-major index of the chosen offset k within the window: the first maximum, as
    PyTorch picks. A NaN in the window propagates to y (as in PyTorch), but argmax then
    points at the largest number, not at the NaN.
    ``strides`` defaults to ``pool_size``; padding is ``"valid"``, ``"same"`` (Keras) or
    explicit; padded positions hold -inf and are never chosen.
    Cost: ``prod(pool_size)`` passes of compare and maximum over the output, split by samples
    over the threads ``chainrule.parallel`` gives (each sample's numbers are computed alike).
    Temporaries besides y and argmax (measured with tracemalloc): the -inf-padded copy of x
    (with padding only), a bool mask and an index step with y's number of elements;
    channels_first adds the channels-last y and argmax, copied at the end.
    """
    geo, xp_, views = _max_pool_start(x, pool_size, strides, padding, data_format)
    y = xp.empty(geo.y_shape, dtype=xp_.dtype)
    argmax = xp.zeros(geo.y_shape, dtype=xp.min_scalar_type(len(views) - 1))
    mask = xp.empty(geo.y_shape, dtype=bool)
    step = xp.empty(geo.y_shape, dtype=argmax.dtype)

    def samples(a, b):
        ys, am, ms, st = y[a:b], argmax[a:b], mask[a:b], step[a:b]
        xp.copyto(ys, xp_[_samples(views[0], a, b)])
        for i, view in enumerate(views[1:], 1):
            cand = xp_[_samples(view, a, b)]
            xp.greater(cand, ys, out=ms)               # strict: ties keep the first maximum
            xp.maximum(ys, cand, out=ys)               # propagates NaN
            # Where mask holds, i exceeds every index stored so far: a max replaces a (slow) masked copy.
            xp.multiply(ms, am.dtype.type(i), out=st)
            xp.maximum(am, st, out=am)

    parallel.over_samples(samples, geo.n, xp_.nbytes, chunk_bytes=CHUNK_BYTES)
    return _from_channels_last(y, data_format), _from_channels_last(argmax, data_format)


def max_pool_values(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """``max_pool_forward`` without the arg-max, for inference: ``y[n, o, c] = max_k x_p[n, o*s + k, c]``.

    One ``maximum`` pass per window offset over the output (NaN propagates), split by samples
    over the threads. Temporaries besides y: the -inf-padded copy of x (with padding only);
    channels_first adds the channels-last y.
    """
    geo, xp_, views = _max_pool_start(x, pool_size, strides, padding, data_format)
    y = xp.empty(geo.y_shape, dtype=xp_.dtype)

    def samples(a, b):
        ys = y[a:b]
        xp.copyto(ys, xp_[_samples(views[0], a, b)])
        for view in views[1:]:
            xp.maximum(ys, xp_[_samples(view, a, b)], out=ys)

    parallel.over_samples(samples, geo.n, xp_.nbytes, chunk_bytes=CHUNK_BYTES)
    return _from_channels_last(y, data_format)


def _uncovered(geo):
    """Index tuples of the parts of the padded input that no window touches, or None when the
    windows do not tile it (gaps between windows: strides larger than the pool)."""
    if any(s != p for s, p in zip(geo.strides, geo.pool)):
        return None
    parts = []
    for d, (o, p, size) in enumerate(zip(geo.out_spatial, geo.pool, geo.padded_spatial)):
        if o * p < size:                   # the positions past the last window in dim d
            parts.append((slice(None),) * (d + 1) + (slice(o * p, None),))
    return parts


def max_pool_backward(gy, argmax, x_shape, pool_size, strides=None, padding="valid",
                      data_format="channels_last"):
    """Gradient of ``max_pool_forward``: each ``gy[n, o, c]`` goes to the window's argmax element,
    ``dL/dx_p[n, o*s + argmax, c] += gy[n, o, c]`` (summed where windows overlap), then cropped.

    Per window offset k: ``gy * (argmax == k)`` written (non-overlapping windows) or added; when
    the windows tile the input (strides = pool size), only the positions past the last window are
    zeroed first, not the whole gradient. Split by samples over the threads ``chainrule.parallel``
    gives. Temporaries besides the result: the padded gradient (the result itself without
    padding), a bool mask with gy's number of elements and, for overlapping windows, one array
    gy's size; channels_first adds the channels-last result (the size of x).
    """
    _check_array(gy, "max_pool_backward", "gy"), _check_array(argmax, "max_pool_backward", "argmax")
    gy = _to_channels_last(gy, data_format, "max_pool_backward")
    argmax = _to_channels_last(argmax, data_format, "max_pool_backward")
    x_shape = _shape_to_channels_last(x_shape, data_format)
    geo = _PoolGeometry("max_pool_backward", x_shape, pool_size, strides, padding)
    if tuple(gy.shape) != geo.y_shape or tuple(argmax.shape) != geo.y_shape:
        raise ValueError(f"max_pool_backward: gy {tuple(gy.shape)} and argmax {tuple(argmax.shape)} must both "
                         f"have the output shape {geo.y_shape}")
    shape = (geo.n,) + geo.padded_spatial + (geo.c,)
    uncovered = _uncovered(geo)
    gx_p = xp.zeros(shape, dtype=gy.dtype) if uncovered is None else xp.empty(shape, dtype=gy.dtype)
    mask = xp.empty(geo.y_shape, dtype=bool)
    tmp = xp.empty(geo.y_shape, dtype=gy.dtype) if geo.overlapping else None
    views = list(geo.views(gx_p))

    def samples(a, b):
        gxs, ms, gys, ams = gx_p[a:b], mask[a:b], gy[a:b], argmax[a:b]
        for part in uncovered or ():
            gxs[part] = 0
        for i, view in enumerate(views):
            xp.equal(ams, ams.dtype.type(i), out=ms)
            if geo.overlapping:
                xp.multiply(gys, ms, out=tmp[a:b])
                gxs[view] += tmp[a:b]
            else:                          # each input element is in one window: write, no add
                xp.multiply(gys, ms, out=gxs[view])

    parallel.over_samples(samples, geo.n, gx_p.nbytes, chunk_bytes=CHUNK_BYTES)
    return _from_channels_last(geo.crop(gx_p), data_format)


# ----------------------------------------------------------------------------- average pooling

def avg_pool_forward(x, pool_size, strides=None, padding="valid", count_include_pad=False,
                     data_format="channels_last"):
    """N-D average pooling: ``y[n, o, c] = (1 / count[o]) * sum_k x_p[n, o*s + k, c]``.

    ``count[o]``: the real elements in the window (Keras/TF ``"same"``, PyTorch
    ``count_include_pad=False``), or ``prod(pool_size)`` with ``count_include_pad=True``.
    Float inputs keep their dtype; integer inputs give ``floatx()``.
    Cost: ``prod(pool_size)`` vectorised adds over the output. Temporaries besides y: the
    zero-padded copy of x, made in the float dtype (with padding), or the float copy of an
    integer x (without); channels_first adds the channels-last y.
    """
    _check_array(x, "avg_pool", "x")
    x = _to_channels_last(x, data_format, "avg_pool")
    geo = _PoolGeometry("avg_pool", x.shape, pool_size, strides, padding)
    dtype = _float_dtype(x)
    xp_ = geo.pad(x, 0, dtype)
    views = list(geo.views(xp_))
    y = xp.array(xp_[views[0]], copy=True, order="C")
    for view in views[1:]:
        y += xp_[view]
    y /= geo.count(dtype, count_include_pad)
    return _from_channels_last(y, data_format)


def avg_pool_backward(gy, x_shape, pool_size, strides=None, padding="valid", count_include_pad=False,
                      data_format="channels_last"):
    """Gradient of ``avg_pool_forward``: ``dL/dx_p[n, o*s + k, c] += gy[n, o, c] / count[o]`` for
    every offset k, then cropped. One pass per offset: a copy (non-overlapping windows) or an add.
    Temporaries besides the result: ``gy / count`` (gy's size) and the padded gradient (the result
    itself without padding); channels_first adds the channels-last result (the size of x).
    """
    _check_array(gy, "avg_pool_backward", "gy")
    gy = _to_channels_last(gy, data_format, "avg_pool_backward")
    x_shape = _shape_to_channels_last(x_shape, data_format)
    geo = _PoolGeometry("avg_pool_backward", x_shape, pool_size, strides, padding)
    if tuple(gy.shape) != geo.y_shape:
        raise ValueError(f"avg_pool_backward: gy has shape {tuple(gy.shape)}, expected {geo.y_shape}")
    dtype = _float_dtype(gy)
    g = xp.divide(gy, geo.count(dtype, count_include_pad), dtype=dtype)
    gx_p = xp.zeros((geo.n,) + geo.padded_spatial + (geo.c,), dtype=dtype)
    for view in geo.views(gx_p):
        if geo.overlapping:
            gx_p[view] += g
        else:                               # each input element is in at most one window
            gx_p[view] = g
    return _from_channels_last(geo.crop(gx_p), data_format)
