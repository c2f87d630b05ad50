"""Indexing and joining: ``t[index]``, concatenate, stack, split, pad.

Indexing picks elements, so its adjoint puts the gradient back where they came
from: dL/dx = zeros of x's shape with dL/dy added at ``index``. With integer
arrays an element can be picked more than once; the additions then
accumulate (``np.add.at``), which is what the chain rule asks for.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .shape import common_dtype, expand_dims


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, xp.integer)) for i in items)


def _normalize_index(index):
    def one(i):
        if isinstance(i, Tensor):
            i = i.data
        if isinstance(i, list):
            i = xp.asarray(i)
        if isinstance(i, xp.ndarray):
            if i.dtype.kind == "f":
                raise TypeError(f"getitem: index arrays must be integers or bools, got dtype {i.dtype}")
            if i.ndim == 0 and i.dtype.kind in "iu":
                return int(i)
        elif isinstance(i, float):
            raise TypeError(f"getitem: index {i!r} is a float; indices must be integers")
        return i

    if isinstance(index, tuple):
        return tuple(one(i) for i in index)
    return one(index)


class GetItem(Function):
    """y = x[index] (basic slicing or integer/bool array indexing, NumPy rules).

    dL/dx = zeros_like(x) with dL/dy added at ``index`` (repeated indices accumulate).
    """

    def forward(self, x, index):
        self.in_shape, self.index = x.shape, index
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {x.shape})") from None

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, shape=self.in_shape)


class IndexAdd(Function):
    """y = zeros(shape) with g added at ``index`` (the scatter-add adjoint of indexing).

    dL/dg = (dL/dy)[index].
    """

    def forward(self, g, index, shape):
        self.index = index
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            xp.add.at(out, index, g)
        return out

    def backward(self, gy):
        return GetItem.apply(gy, index=self.index)


def getitem(x: Tensor, index) -> Tensor:
    """y = x[index]: basic slicing, or integer/bool array indexing, by NumPy's rules (``t[index]``).

    dL/dx = zeros of x's shape with dL/dy added at ``index``; an element picked more than once
    receives the sum of its gradients (scatter-add).
    """
    return GetItem.apply(x, index=_normalize_index(index))


class Concatenate(Function):
    """y = [x_1, ..., x_k] joined along ``axis``.  dL/dx_j = the slice of dL/dy where x_j sits."""

    def forward(self, *xs, axis):
        self.axis = axis
        self.sizes = [x.shape[axis] for x in xs]
        try:
            return xp.concatenate(xs, axis=axis)
        except ValueError:
            raise ValueError(
                f"concatenate: shapes {[x.shape for x in xs]} do not match outside axis {axis}"
            ) from None

    def backward(self, g):
        out, start = [], 0
        lead = (slice(None),) * self.axis
        for n, need in zip(self.sizes, self.needs_input_grad):
            out.append(GetItem.apply(g, index=lead + (slice(start, start + n),)) if need else None)
            start += n
        return tuple(out)


def _axis_for(op, axis, ndim):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} out of range for tensors with {ndim} dimensions")
    return axis % ndim


def concatenate(tensors, axis: int = 0) -> Tensor:
    """y = [x_1, ..., x_k] joined along an existing ``axis`` (shapes must match elsewhere).

    dL/dx_j = the slice of dL/dy where x_j sits.
    """
    tensors = [ensure_tensor(t, op="concatenate") for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    nd = tensors[0].ndim
    if nd == 0 or any(t.ndim != nd for t in tensors):
        raise ValueError(f"concatenate: all tensors need the same number (>= 1) of dimensions, got shapes {[t.shape for t in tensors]}")
    return Concatenate.apply(*common_dtype(tensors), axis=_axis_for("concatenate", axis, nd))


def stack(tensors, axis: int = 0) -> Tensor:
    """y = [x_1, ..., x_k] joined along a new ``axis`` (all of one shape).

    dL/dx_j = the j-th slice of dL/dy along that axis.
    """
    tensors = [ensure_tensor(t, op="stack") for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    axis = _axis_for("stack", axis, tensors[0].ndim + 1)
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


def split(x: Tensor, indices_or_sections, axis: int = 0) -> list:
    """[y_1, ..., y_k] = x cut along ``axis``, as ``np.split``: into k equal sections (an int) or at
    the given indices (a sequence of ints).

    Each piece is a slice of x: dL/dx = the pieces' gradients put back side by side (0 for a
    piece that is not used).
    """
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor cannot be split (it has no axis)")
    axis = _axis_for("split", axis, x.ndim)
    n = x.shape[axis]
    ios = indices_or_sections
    if isinstance(ios, (int, xp.integer)) and not isinstance(ios, bool):
        k = int(ios)
        if k <= 0 or n % k:
            raise ValueError(f"split: axis {axis} of length {n} cannot be split into {k} equal sections")
        cuts = [i * (n // k) for i in range(1, k)]
    else:
        try:
            cuts = list(ios.data if isinstance(ios, Tensor) else ios)
        except TypeError:
            cuts = None
        if cuts is None or not all(isinstance(c, (int, xp.integer)) and not isinstance(c, bool) for c in cuts):
            raise TypeError(
                f"split: indices_or_sections must be an int or a sequence of ints, got {ios!r} (tensor of shape {x.shape})"
            )
        cuts = [int(c) for c in cuts]
    bounds = [0] + cuts + [n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]


class Pad(Function):
    """y = x surrounded by ``constant_values`` (pad_width as in ``np.pad``).

    dL/dx = dL/dy cropped back to the original region.
    """

    def forward(self, x, pad_width, value):
        self.crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pad_width, x.shape))
        if x.ndim == 0:  # no axis to pad (NumPy's result; np.pad itself rejects an empty pad_width)
            return x.copy()
        return xp.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return GetItem.apply(g, index=self.crop)


def pad(x: Tensor, pad_width, constant_values=0) -> Tensor:
    """y = x surrounded by ``constant_values``; ``pad_width`` is an int, a (before, after) pair, or one
    pair per axis (as ``np.pad``).  dL/dx = dL/dy cropped back to where x sits.
    """
    x = ensure_tensor(x, op="pad")
    pw = xp.asarray(pad_width)
    if pw.dtype.kind not in "iu" or (pw.ndim and pw.size % 2):
        raise ValueError(f"pad: pad_width must be an int, a (before, after) pair or one pair per axis, got {pad_width!r}")
    pw = pw.reshape(-1, 2) if pw.ndim else xp.asarray([[int(pw), int(pw)]])
    if pw.shape[0] not in (1, x.ndim):
        raise ValueError(f"pad: pad_width {pad_width!r} gives {pw.shape[0]} pairs for a tensor of shape {x.shape}")
    pw = xp.broadcast_to(pw, (x.ndim, 2))
    if (pw < 0).any():
        raise ValueError(f"pad: pad widths must be >= 0, got {pad_width!r}")
    pw = tuple((int(a), int(b)) for a, b in pw)
    return Pad.apply(x, pad_width=pw, value=constant_values)
