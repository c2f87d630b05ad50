"""The array module and the float dtype policy.

Every op reaches NumPy through this module (``backend.xp``), never through a
hard-coded import, so that a GPU array module with NumPy's interface (CuPy)
can later be dropped in without rewriting the ops.

The float policy: floating data becomes ``floatx()`` (float32 unless
``set_floatx("float64")`` was called) when it enters the library without an
explicit dtype, and Python scalars take the dtype of the tensor they meet, so
float64 never creeps into a float32 graph.
"""
from __future__ import annotations

import numpy

xp = numpy

_FLOATX = numpy.dtype("float32")
_KNOWN_FLOATS = ("float16", "float32", "float64")
_rng = numpy.random.default_rng()


def floatx() -> str:
    """The default float dtype's name, ``"float32"`` unless changed."""
    return _FLOATX.name


def floatx_dtype():
    """The default float dtype as a NumPy dtype."""
    return _FLOATX


def set_floatx(name: str) -> None:
    """Set the default float dtype: ``"float16"``, ``"float32"`` or ``"float64"``."""
    global _FLOATX
    name = numpy.dtype(name).name if not isinstance(name, str) else name
    if name not in _KNOWN_FLOATS:
        raise ValueError(f"set_floatx: unknown float dtype {name!r}; known: {', '.join(_KNOWN_FLOATS)}")
    _FLOATX = numpy.dtype(name)


def manual_seed(seed: int) -> None:
    """Seed the library's random generator (initializers, dropout, shuffling)."""
    global _rng
    if not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _rng = numpy.random.default_rng(int(seed))


def rng() -> numpy.random.Generator:
    """The library's global random generator."""
    return _rng


def is_float(dtype) -> bool:
    return numpy.issubdtype(dtype, numpy.floating)


def as_array(value, dtype=None):
    """Turn ``value`` into an ndarray under the float policy.

    Floating (and Python int/bool-free float) input without ``dtype`` becomes
    ``floatx()``; integer and bool arrays keep their dtype.
    """
    if dtype is not None:
        return xp.asarray(value, dtype=dtype)
    arr = xp.asarray(value)
    if arr.dtype.kind == "f" and arr.dtype != _FLOATX:
        arr = arr.astype(_FLOATX)
    elif arr.dtype.kind not in "fiub":
        raise TypeError(f"tensor: unsupported data of dtype {arr.dtype} (expected numbers or bools)")
    return arr
