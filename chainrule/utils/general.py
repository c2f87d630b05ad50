"""Keras's everyday helpers (``keras.utils``): one-hot labels, norms, seeds, padded sequences.

    to_categorical([0, 2], 3)          -> [[1, 0, 0], [0, 0, 1]]   (float32, as in Keras)
    normalize(x, axis=-1, order=2)     -> x / ||x||_order along axis (0-norm rows stay as they are)
    set_random_seed(0)                 -> seeds Python's random, NumPy's global generator and chainrule's
    pad_sequences([[1, 2], [3]])       -> [[1, 2], [0, 3]]          (pre-padding, as in Keras)
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor

__all__ = ["normalize", "pad_sequences", "set_random_seed", "to_categorical"]


def to_categorical(y, num_classes=None) -> np.ndarray:
    """One-hot rows: ``out[..., k] = 1`` where ``y == k``, else 0 (float32, Keras's ``to_categorical``).

    ``y`` holds integer class labels in ``[0, num_classes)`` (``num_classes`` defaults to
    ``max(y) + 1``). As in Keras, a trailing axis of size 1 is dropped before the classes are
    added: labels of shape (n, 1) give (n, num_classes).
    """
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("to_categorical: labels must be whole numbers (class indices), got non-integer values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive int, got {num_classes!r}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), got values from {y.min()} "
                         f"to {y.max()}")
    out = np.zeros(y.shape + (int(num_classes),), dtype=np.float32)
    np.put_along_axis(out, y[..., None], 1.0, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """``x / ||x||_order`` along ``axis`` (Keras's ``normalize``): ``||x||_p = (sum |x_i|^p)^(1/p)``.

    An all-zero slice is left at zero rather than divided by zero. An ndarray (or list) gives an
    ndarray; a Tensor gives a Tensor through differentiable ops, so the gradient of
    ``x / ||x||`` flows back to ``x``.
    """
    if isinstance(order, bool) or not isinstance(order, (int, float, np.integer, np.floating)) or order <= 0:
        raise ValueError(f"normalize: order must be a positive number, got {order!r}")
    if isinstance(x, Tensor):
        from .. import ops

        zero = np.all(x.data == 0, axis=axis, keepdims=True)
        # A zero slice takes its norm from ones instead: x / ||1|| keeps it at zero, and the
        # gradient stays finite (d||x||/dx = x/||x|| is 0/0 at x = 0).
        basis = ops.where(np.broadcast_to(zero, x.shape), ops.ones_like(x), x) if zero.any() else x
        norm = (ops.abs(basis) ** order).sum(axis=axis, keepdims=True) ** (1.0 / order)
        return x / norm
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"normalize: expected numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float32) if arr.dtype.kind != "f" else arr
    norm = np.sum(np.abs(arr) ** order, axis=axis, keepdims=True) ** (1.0 / order)
    return arr / np.where(norm == 0, 1, norm).astype(arr.dtype)


def set_random_seed(seed: int) -> None:
    """Seed every generator a training run draws from: Python's ``random``, NumPy's global
    generator and chainrule's (``cr.manual_seed``), as Keras's ``set_random_seed`` does."""
    import random

    from .. import backend

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: seed must be a non-negative int, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    backend.manual_seed(int(seed))


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Stack sequences of different lengths into one array of shape (n, maxlen, ...) (Keras's ``pad_sequences``).

    Sequences longer than ``maxlen`` (default: the longest) lose their start (``truncating="pre"``)
    or end (``"post"``); shorter ones are filled with ``value`` before (``padding="pre"``, the
    default, so the real steps sit next to the last step a recurrent layer reads) or after
    (``"post"``) their items.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    if not hasattr(sequences, "__len__"):
        raise TypeError(f"pad_sequences: expected a list of sequences, got {type(sequences).__name__}")
    seqs = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(f"pad_sequences: sequence {i} is not a sequence (got {type(s).__name__}); "
                             f"expected a list of lists")
        seqs.append(np.asarray(s.data if isinstance(s, Tensor) else s))
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative int or None, got {maxlen!r}")
    item_shape = next((s.shape[1:] for s in seqs if len(s)), ())
    dt = np.dtype(dtype)
    if dt.kind in "iu" and isinstance(value, float) and not float(value).is_integer():
        raise ValueError(f"pad_sequences: value {value!r} cannot be stored in dtype {dt}; give a float dtype")
    out = np.full((len(seqs), int(maxlen)) + tuple(item_shape), value, dtype=dt)
    for i, s in enumerate(seqs):
        if not len(s) or not maxlen:
            continue
        if s.shape[1:] != item_shape:
            raise ValueError(f"pad_sequences: sequence {i} has items of shape {s.shape[1:]}, others {item_shape}")
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "pre":
            out[i, maxlen - len(kept):] = kept
        else:
            out[i, :len(kept)] = kept
    return out
