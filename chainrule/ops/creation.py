"""Tensor factories: zeros, ones, full, arange, eye, rand, randn and the *_like forms.

Floating results take ``cr.floatx()`` unless ``dtype`` is given; random ones draw
from the library's generator (``cr.manual_seed``).
"""
from __future__ import annotations

from .. import backend
from ..autograd.tensor import Tensor
from ..backend import xp


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, xp.integer)) or s < 0:
            raise ValueError(f"shape must be non-negative ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _dtype(dtype):
    return backend.floatx_dtype() if dtype is None else xp.dtype(dtype)


def _make(arr, requires_grad):
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A new leaf of the given shape filled with 0 (``cr.floatx()`` unless ``dtype``); no inputs, no gradient."""
    return _make(xp.zeros(_shape(shape), _dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A new leaf of the given shape filled with 1 (``cr.floatx()`` unless ``dtype``); no inputs, no gradient."""
    return _make(xp.ones(_shape(shape), _dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """A new leaf of ``shape`` filled with ``fill_value`` (``cr.floatx()`` unless ``dtype``); no gradient."""
    shape = _shape((shape,) if isinstance(shape, int) else (tuple(shape),))
    return _make(xp.full(shape, fill_value, _dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    """A new leaf of ``t``'s shape (and dtype, unless ``dtype``) filled with 0; no gradient flows to ``t``."""
    data = t.data if isinstance(t, Tensor) else backend.as_array(t)
    return _make(xp.zeros(data.shape, data.dtype if dtype is None else dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    """A new leaf of ``t``'s shape (and dtype, unless ``dtype``) filled with 1; no gradient flows to ``t``."""
    data = t.data if isinstance(t, Tensor) else backend.as_array(t)
    return _make(xp.ones(data.shape, data.dtype if dtype is None else dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Evenly spaced values in [start, stop); integers stay integers unless ``dtype`` says otherwise."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    arr = xp.arange(start, stop, step)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(backend.floatx_dtype())
    return _make(arr, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (I_ij = 1 if i == j else 0) as a new leaf; m defaults to n."""
    return _make(xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dt = _dtype(dtype)
    return _make(backend.rng().random(_shape(shape), dtype=dt if dt.kind == "f" and dt.itemsize >= 4 else None).astype(dt, copy=False), requires_grad)


def randn(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    dt = _dtype(dtype)
    return _make(backend.rng().standard_normal(_shape(shape), dtype=dt if dt.kind == "f" and dt.itemsize >= 4 else None).astype(dt, copy=False), requires_grad)
