"""DataLoader: iterate over a dataset in (optionally shuffled) mini-batches of NumPy arrays."""
from __future__ import annotations

import math

import numpy as np

from .dataset import TensorDataset

_fallback_rng = None


def _global_rng() -> np.random.Generator:
    """The library's global generator (seeded by ``cr.manual_seed``), or a private one if it is unavailable."""
    global _fallback_rng
    try:
        from .. import backend

        return backend.rng()
    except (ImportError, AttributeError):
        if _fallback_rng is None:
            _fallback_rng = np.random.default_rng()
        return _fallback_rng


def _stack(values, where: str) -> np.ndarray:
    arrays = []
    for v in values:
        data = getattr(v, "data", None)
        arrays.append(data if isinstance(data, np.ndarray) and not isinstance(v, np.ndarray) else np.asarray(v))
    try:
        return np.stack(arrays)
    except ValueError as exc:
        shapes = sorted({a.shape for a in arrays}, key=str)
        raise ValueError(f"DataLoader: cannot stack the samples{where} into a batch: they have different shapes "
                         f"{', '.join(str(s) for s in shapes)}; pad them to one shape or pass a collate_fn") from exc


def default_collate(samples, _where: str = ""):
    """Stack a list of samples into one batch.

    Arrays and numbers are stacked with ``np.stack`` along a new first axis; a tuple (or
    list) of items becomes a tuple (list) of stacked arrays, item by item; a dict becomes
    a dict of stacked arrays, key by key. Tensors contribute their ``.data`` array.

    Raises:
        ValueError: ``samples`` is empty, the samples differ in structure (tuple length,
            dict keys), or their arrays differ in shape.
    """
    if len(samples) == 0:
        raise ValueError("DataLoader: default_collate got an empty list of samples")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        lengths = {len(s) if isinstance(s, (tuple, list)) else None for s in samples}
        if len(lengths) != 1:
            raise ValueError(f"DataLoader: the samples{_where} differ in structure: tuple/list lengths "
                             f"{sorted(lengths, key=str)}; every sample must have the same number of items")
        items = [default_collate([s[k] for s in samples], f"{_where}[{k}]") for k in range(len(first))]
        return tuple(items) if isinstance(first, tuple) else items
    if isinstance(first, dict):
        keys = set(first)
        for s in samples:
            if not isinstance(s, dict) or set(s) != keys:
                got = sorted(s) if isinstance(s, dict) else type(s).__name__
                raise ValueError(f"DataLoader: the samples{_where} differ in structure: keys {sorted(keys)} "
                                 f"and {got}")
        return {k: default_collate([s[k] for s in samples], f"{_where}[{k!r}]") for k in first}
    return _stack(samples, _where)


class DataLoader:
    """Iterate over ``dataset`` in mini-batches of NumPy arrays.

    Args:
        dataset: a ``Dataset`` (or any object with ``__len__`` and ``__getitem__``).
        batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
        shuffle: reshuffle the sample order at the start of every epoch (every ``iter``).
        drop_last: drop the last batch when it has fewer than ``batch_size`` samples.
        seed: seed of this loader's own generator, so that two loaders with the same seed
            give the same sequence of epochs. ``None`` draws from the library's global
            generator (seeded by ``cr.manual_seed``).
        collate_fn: ``collate_fn(list_of_samples) -> batch``, as in PyTorch. By default
            the samples are stacked by ``default_collate``; for a ``TensorDataset`` each
            batch is gathered with one fancy index per array instead of sample by sample.

    A ``TensorDataset(x, y)`` yields ``(x_batch, y_batch)`` tuples; ``len(loader)`` is the
    number of batches in an epoch. Batches are new arrays, never views of the dataset.
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None, collate_fn=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__ (a chainrule.data.Dataset), "
                            f"got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable or None, got {type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.collate_fn = collate_fn
        self._rng = np.random.default_rng(int(seed)) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __iter__(self):
        # The order is drawn here, when the epoch starts, not lazily at the first batch.
        n = len(self.dataset)
        order = None
        if self.shuffle:
            rng = self._rng if self._rng is not None else _global_rng()
            order = rng.permutation(n)
        return self._batches(n, order)

    def _batches(self, n, order):
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for b in range(len(self)):
            start, stop = b * self.batch_size, min((b + 1) * self.batch_size, n)
            if fast:
                arrays = self.dataset.arrays
                if order is None:
                    yield tuple(a[start:stop].copy() for a in arrays)
                else:
                    idx = order[start:stop]
                    yield tuple(a[idx] for a in arrays)
                continue
            indices = range(start, stop) if order is None else order[start:stop]
            samples = [self.dataset[int(i)] for i in indices]
            yield self.collate_fn(samples) if self.collate_fn is not None else default_collate(samples)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)} samples, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"{len(self)} batches)")
