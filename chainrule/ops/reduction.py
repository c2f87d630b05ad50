"""Reductions over axes: sum, mean, var, std, max, min, logsumexp, argmax, argmin.

``axis`` is None (all axes), an int or a tuple of ints, negative ones counting
from the end; ``keepdims`` keeps the reduced axes with length one. Every
backward first restores the reduced axes (``_restore``) so the gradient
broadcasts back over the elements that were reduced.
"""
from __future__ import annotations

import builtins

from ..autograd.function import Function
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .shape import broadcast_to, reshape


def normalize_axis(op: str, axis, ndim: int):
    """``axis`` as a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, xp.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if not isinstance(a, (int, xp.integer)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if ndim == 0:
            # As PyTorch: a 0-d tensor accepts axis 0 or -1 (once), and reducing it changes nothing.
            if a not in (0, -1):
                raise ValueError(f"{op}: axis {a} is out of range for a tensor with 0 dimensions")
            if len(axes) > 1:
                raise ValueError(f"{op}: repeated axis in {axis!r} (0 and -1 are the one axis of a 0-d tensor)")
            continue
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _restore(g: Tensor, in_shape, axes, keepdims) -> Tensor:
    """Reshape a reduced gradient so it broadcasts against the input."""
    if not keepdims:
        g = reshape(g, _kept_shape(in_shape, axes))
    return g


class Sum(Function):
    """y = sum_i x_i over the axes.  dy/dx_i = 1: dL/dx = broadcast(dL/dy)."""

    def forward(self, x, axes, keepdims):
        self.in_shape, self.axes, self.keepdims = x.shape, axes, keepdims
        return x.sum(axis=axes, keepdims=keepdims)

    def backward(self, g):
        return broadcast_to(_restore(g, self.in_shape, self.axes, self.keepdims), self.in_shape)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    r"""y = sum_i x_i over ``axis`` (all axes when None).  dy/dx_i = 1: dL/dx = dL/dy broadcast back.

    The sum over an empty axis is 0.

    Math:
        $$y = \sum_i x_i, \qquad \frac{\partial y}{\partial x_i} = 1$$
    """
    x = ensure_tensor(x, op="sum")
    axes = normalize_axis("sum", axis, x.data.ndim)
    return Sum.apply(x, axes=axes, keepdims=keepdims)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    r"""y = (1/n) sum_i x_i over the n elements of ``axis``.  dy/dx_i = 1/n.

    The mean over an empty axis is NaN (0/0), as in NumPy and PyTorch.

    Math:
        $$y = \frac{1}{n}\sum_{i=1}^{n} x_i, \qquad \frac{\partial y}{\partial x_i} = \frac{1}{n}$$
    """
    x = ensure_tensor(x, op="mean")
    axes = normalize_axis("mean", axis, x.data.ndim)
    n = _count(x.shape, axes)
    s = Sum.apply(x, axes=axes, keepdims=keepdims)
    return s * (1.0 / n if n else float("nan"))


def var(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    r"""y = sum_i (x_i - mean)^2 / (n - ddof).  dy/dx_i = 2 (x_i - mean) / (n - ddof).

    ``ddof=0`` as NumPy and Keras (PyTorch's ``var`` defaults to ``correction=1``). Over an
    empty axis the variance is NaN, as in NumPy and PyTorch.

    Math:
        $$y = \frac{1}{n - \text{ddof}} \sum_i (x_i - \bar x)^{2}, \qquad \frac{\partial y}{\partial x_i} = \frac{2\,(x_i - \bar x)}{n - \text{ddof}}$$
    """
    return _var("var", x, axis, keepdims, ddof)


def _var(op, x, axis, keepdims, ddof):
    x = ensure_tensor(x, op=op)
    axes = normalize_axis(op, axis, x.data.ndim)
    n = _count(x.shape, axes)
    if n == 0:  # an empty axis: NaN (0/0), as NumPy and PyTorch
        return Sum.apply(x, axes=axes, keepdims=keepdims) * float("nan")
    if n - ddof <= 0:
        raise ValueError(f"{op}: {n} elements with ddof={ddof} leave no degrees of freedom (shape {x.shape})")
    d = x - mean(x, axes, keepdims=True)
    return Sum.apply(d * d, axes=axes, keepdims=keepdims) * (1.0 / (n - ddof))


class _StdSqrt(Function):
    """y = sqrt(v) for a variance v >= 0.  dy/dv = 1 / (2y), taken as 0 where y = 0.

    A constant slice has no direction in which its standard deviation changes
    smoothly; the gradient there is 0, as PyTorch's ``std`` gives (plain sqrt
    would give 0 * inf = nan).
    """

    def forward(self, v):
        self.save_output()
        y = xp.sqrt(v)
        self.zero = y == 0
        return y

    def backward(self, g):
        from .elementwise import where

        y = self.output
        if not self.zero.any():
            return g / (y * 2.0)
        zero = Tensor._wrap(self.zero)
        safe_y = where(zero, Tensor._wrap(xp.ones((), y.dtype)), y)
        return where(zero, Tensor._wrap(xp.zeros((), g.dtype)), g / (safe_y * 2.0))


def std(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    r"""y = sqrt(var(x)).  dy/dx_i = (x_i - mean) / ((n - ddof) y), and 0 where y = 0 (as PyTorch).

    Math:
        $$y = \sqrt{\operatorname{var}(x)}, \qquad \frac{\partial y}{\partial x_i} = \frac{x_i - \bar x}{(n - \text{ddof})\, y}$$
    """
    return _StdSqrt.apply(_var("std", x, axis, keepdims, ddof))


class _Extreme(Function):
    """Shared by Max and Min: the gradient goes to the elements equal to the result,
    split evenly among ties (as PyTorch's amax/amin)."""

    reduce = None

    def forward(self, x, axes, keepdims):
        if x.size == 0:
            empty = [a for a in axes if x.shape[a] == 0]
            if empty:  # the max of no elements is undefined; an empty tensor reduced over non-empty axes is fine
                raise ValueError(
                    f"{type(self).__name__.lower()}: reduction over an empty axis ({empty[0]}) of a tensor of shape "
                    f"{x.shape}; the {type(self).__name__.lower()} of no elements is undefined"
                )
        self.in_shape, self.axes, self.keepdims = x.shape, axes, keepdims
        y = type(self).reduce(x, axis=axes, keepdims=True)
        self.y_kept = y
        return y if keepdims else y.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))

    def backward(self, g):
        (x,) = self.inputs
        hit = x.data == self.y_kept
        w = hit / hit.sum(axis=self.axes, keepdims=True)
        g = _restore(g, self.in_shape, self.axes, self.keepdims)
        return g * Tensor._wrap(w.astype(g.dtype))


class Max(_Extreme):
    """y = max_i x_i.  dy/dx_i = 1/k for the k elements equal to the max, else 0."""

    reduce = staticmethod(xp.max)


class Min(_Extreme):
    """y = min_i x_i.  dy/dx_i = 1/k for the k elements equal to the min, else 0."""

    reduce = staticmethod(xp.min)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    r"""y = max_i x_i over ``axis`` (all axes when None), as torch.amax / np.max.

    dy/dx_i = 1/k for each of the k elements equal to the max, 0 for the others: ties split
    the gradient evenly (PyTorch's amax rule). A reduction over an empty axis is an error.

    Math:
        $$y = \max_i x_i, \qquad \frac{\partial y}{\partial x_i} = \frac{[x_i = y]}{\#\{j : x_j = y\}}$$
    """
    x = ensure_tensor(x, op="max")
    return Max.apply(x, axes=normalize_axis("max", axis, x.data.ndim), keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    r"""y = min_i x_i over ``axis`` (all axes when None), as torch.amin / np.min.

    dy/dx_i = 1/k for each of the k elements equal to the min, 0 for the others: ties split
    the gradient evenly (PyTorch's amin rule). A reduction over an empty axis is an error.

    Math:
        $$y = \min_i x_i, \qquad \frac{\partial y}{\partial x_i} = \frac{[x_i = y]}{\#\{j : x_j = y\}}$$
    """
    x = ensure_tensor(x, op="min")
    return Min.apply(x, axes=normalize_axis("min", axis, x.data.ndim), keepdims=keepdims)


class LogSumExp(Function):
    """y = log sum_i e^{x_i}, computed as m + log sum_i e^{x_i - m} with m = max x (no overflow).

    dy/dx_i = e^{x_i - y} = softmax(x)_i. Over an empty axis (or all -inf) y = log 0 = -inf.
    """

    def forward(self, x, axes, keepdims):
        self.in_shape, self.axes, self.keepdims = x.shape, axes, keepdims
        if x.size == 0:  # no max to shift by (and none needed)
            m = xp.zeros(tuple(1 if i in axes else d for i, d in enumerate(x.shape)), x.dtype)
        else:
            m = x.max(axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, xp.zeros((), x.dtype))
        s = xp.exp(x - m).sum(axis=axes, keepdims=True)
        if s.all():
            y = xp.log(s) + m
        else:
            with xp.errstate(divide="ignore"):  # log 0 = -inf is the answer, not a mistake
                y = xp.log(s) + m
        self.save_output()
        return y if keepdims else y.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))

    def backward(self, g):
        from .elementwise import exp

        (x,) = self.inputs
        y = _restore(self.output, self.in_shape, self.axes, self.keepdims)
        g = _restore(g, self.in_shape, self.axes, self.keepdims)
        return g * exp(x - y)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    r"""y = log sum_i e^{x_i} over ``axis``, computed as m + log sum_i e^{x_i - m} with m = max x.

    dy/dx_i = e^{x_i - y} = softmax(x)_i. Over an empty axis y = -inf (log of an empty sum), as PyTorch.

    Math:
        $$y = \log \sum_i e^{x_i} = m + \log \sum_i e^{x_i - m}\ \ (m = \max_i x_i), \qquad \frac{\partial y}{\partial x_i} = \frac{e^{x_i}}{\sum_j e^{x_j}} = \operatorname{softmax}(x)_i$$
    """
    x = ensure_tensor(x, op="logsumexp")
    return LogSumExp.apply(x, axes=normalize_axis("logsumexp", axis, x.data.ndim), keepdims=keepdims)


def _arg(fn, name):
    def op(x, axis=None, keepdims: bool = False) -> Tensor:
        x = ensure_tensor(x, op=name)
        if axis is not None:
            if not isinstance(axis, (int, xp.integer)) or isinstance(axis, bool):
                raise TypeError(f"{name}: axis must be an int or None, got {axis!r}")
            axes = normalize_axis(name, axis, x.data.ndim)
            axis = axes[0] if axes else None
        if x.data.size == 0 and (axis is None or x.shape[axis] == 0):
            where = "an empty tensor" if axis is None else f"the empty axis {axis} of a tensor"
            raise ValueError(f"{name}: no {name[3:]} over {where} of shape {x.shape}")
        return Tensor._wrap(fn(x.data, axis=axis, keepdims=keepdims))

    op.__name__ = name
    op.__doc__ = (
        f"i = {name} over ``axis`` of x_i: the index of the {name[3:]} (the first one on ties; over all "
        "axes, into the flattened tensor).\n\nAn integer tensor: an index is not differentiable, so no "
        "gradient flows through it."
    )
    return op


argmax = _arg(xp.argmax, "argmax")
argmin = _arg(xp.argmin, "argmin")

