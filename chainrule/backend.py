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


def ragged_detail(value) -> str | None:
    """Where nested lists stop being rectangular: ``"rows of lengths 2 and 1 at depth 1"``, or None."""
    level, depth = [value], 0
    while level:
        seqs = [v for v in level if isinstance(v, (list, tuple))]
        if not seqs:
            return None
        if len(seqs) != len(level):
            return f"a mix of numbers and lists at depth {depth + 1}"
        lengths = sorted({len(v) for v in seqs})
        if len(lengths) > 1:
            return f"lists of lengths {', '.join(map(str, lengths[:4]))}{', ...' if len(lengths) > 4 else ''} " \
                   f"at depth {depth + 1}"
        level, depth = [item for v in seqs for item in v], depth + 1
    return None


def as_array(value, dtype=None, op: str = "tensor"):
    """Turn ``value`` into an ndarray under the float policy.

    Floating (and Python int/bool-free float) input without ``dtype`` becomes
    ``floatx()``; integer and bool arrays keep their dtype. Data that cannot form an array
    (ragged nested lists) raises a ValueError that names ``op``.
    """
    try:
        arr = xp.asarray(value) if dtype is None else xp.asarray(value, dtype=dtype)
    except ValueError as exc:
        detail = ragged_detail(value)
        if detail is None:
            raise ValueError(f"{op}: cannot make an array of {type(value).__name__} data: {exc}") from None
        raise ValueError(f"{op}: ragged data: the nested lists hold {detail}; an array needs every list at "
                         f"one depth to have the same length (pad them, e.g. with cr.utils.pad_sequences)") from None
    if dtype is not None:
        return arr
    if arr.dtype.kind == "f" and arr.dtype != _FLOATX:
        arr = arr.astype(_FLOATX)
    elif arr.dtype.kind not in "fiub":
        raise TypeError(f"{op}: unsupported data of dtype {arr.dtype} (expected numbers or bools)")
    return arr


# ----------------------------------------------------------------------------- the allocator

#: What ``tune_allocator`` set when chainrule was imported ({} when nothing was set).
ALLOCATOR: dict = {}


def tune_allocator(mmap_threshold: int = 64 << 20, trim_threshold: int = 1 << 30) -> dict:
    """Keep freed memory in glibc's heap instead of handing it back to the OS.

    By default glibc serves an allocation above its mmap threshold (128 KiB at first,
    adapting up to 32 MiB) with a fresh ``mmap`` and trims the heap after large frees, so
    the big temporaries of every training step (activations, their gradients, im2col
    buffers) come back as fresh pages whose first touch is a page fault: ~8,000 faults and
    ~20 ms of kernel time per step of the texts' CNN at batch 128. Raising both thresholds
    makes a steady-state training loop reuse the same memory (measured in
    ``benchmarks/README.md``: CNN training steps 1.4-1.8x faster). The cost: the process
    keeps up to ``trim_threshold`` bytes of freed heap instead of returning them.

    chainrule calls this once at import unless the environment variable
    ``CHAINRULE_MALLOC=default`` is set. It applies to the whole process. Returns what was
    set: ``{}`` where ``mallopt`` is not available (not Linux/glibc).
    """
    import sys

    if not sys.platform.startswith("linux"):
        return {}
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):        # musl, or no libc.so.6
        return {}
    m_trim_threshold, m_mmap_threshold = -1, -3
    out = {}
    if mallopt(m_mmap_threshold, int(mmap_threshold)):
        out["M_MMAP_THRESHOLD"] = int(mmap_threshold)
    if mallopt(m_trim_threshold, int(trim_threshold)):
        out["M_TRIM_THRESHOLD"] = int(trim_threshold)
    ALLOCATOR.clear()
    ALLOCATOR.update(out)
    return out


def _tune_allocator_on_import() -> None:
    import os

    mode = os.environ.get("CHAINRULE_MALLOC", "tuned").strip().lower()
    if mode in ("default", "0", "off", "no"):
        return
    if mode not in ("tuned", "1", "on", "yes", ""):
        raise ValueError(f"chainrule: CHAINRULE_MALLOC must be 'tuned' or 'default', got {mode!r}")
    tune_allocator()


_tune_allocator_on_import()
