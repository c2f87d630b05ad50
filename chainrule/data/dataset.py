"""Datasets: indexable collections of samples.

A ``Dataset`` maps an index ``i`` in ``range(len(dataset))`` to one sample, as in
PyTorch. ``TensorDataset`` wraps arrays that share their first dimension; its sample
``i`` is the tuple ``(a[i] for a in arrays)``, and it also accepts a slice or an array
of indices, so a ``DataLoader`` can gather a whole batch with one fancy index per array.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Dataset(ABC):
    """An indexable collection of samples.

    Subclasses define ``__len__`` (the number of samples) and ``__getitem__(i)`` (sample
    ``i``: an array, a number, or a tuple/list/dict of them). A ``DataLoader`` batches
    the samples by stacking them with ``np.stack``.
    """

    @abstractmethod
    def __len__(self) -> int:
        """The number of samples."""

    @abstractmethod
    def __getitem__(self, index):
        """Sample ``index``."""


def _as_ndarray(value, position: int) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    # A Tensor (or anything else that carries its values as an ndarray in ``.data``) gives up that array.
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray):
        return data
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy's own message is kept as the cause
        raise TypeError(f"TensorDataset: array {position} of type {type(value).__name__} "
                        f"cannot be turned into a NumPy array") from exc
    if arr.dtype == object:
        raise TypeError(f"TensorDataset: array {position} of type {type(value).__name__} is not numeric "
                        f"(it became an array of dtype object); pass NumPy arrays or Tensors")
    return arr


class TensorDataset(Dataset):
    """Samples taken along the first dimension of one or more arrays.

    ``TensorDataset(x, y)[i]`` is ``(x[i], y[i])``. The arrays may be NumPy arrays,
    array-likes, or Tensors (their ``.data`` array is used); they are stored as ndarrays
    without copying, in ``self.arrays``. Indexing also takes a slice or an integer (or
    boolean) index array and then returns the tuple of gathered sub-arrays.

    Raises:
        ValueError: no arrays were given, an array is 0-dimensional, or the arrays
            differ in their first dimension (the message lists every shape).
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array, got none")
        stored = tuple(_as_ndarray(a, i) for i, a in enumerate(arrays))
        for i, a in enumerate(stored):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is 0-dimensional (shape ()); every array needs "
                                 f"a first dimension that indexes the samples")
        lengths = {a.shape[0] for a in stored}
        if len(lengths) != 1:
            shapes = ", ".join(str(a.shape) for a in stored)
            raise ValueError(f"TensorDataset: all arrays must have the same first dimension (number of samples); "
                             f"got shapes {shapes}")
        self.arrays = stored

    @property
    def tensors(self) -> tuple:
        """The stored arrays (PyTorch's name for ``arrays``)."""
        return self.arrays

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index):
        """Sample ``index`` as a tuple, or a batch of samples for a slice or an index array."""
        n = len(self)
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"TensorDataset: index {i} is out of range for a dataset of {n} samples")
            return tuple(a[i] for a in self.arrays)
        if isinstance(index, slice):
            return tuple(a[index] for a in self.arrays)
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"TensorDataset: a boolean mask must have shape ({n},), got {idx.shape}")
        elif idx.dtype.kind not in "iu":
            raise TypeError(f"TensorDataset: indices must be an int, a slice, or an array of integers or bools; "
                            f"got {type(index).__name__} of dtype {idx.dtype}")
        elif idx.size and (idx.max() >= n or idx.min() < -n):
            bad = idx.max() if idx.max() >= n else idx.min()
            raise IndexError(f"TensorDataset: index {int(bad)} is out of range for a dataset of {n} samples")
        return tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"TensorDataset({len(self)} samples: {shapes})"
