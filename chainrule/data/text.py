"""Text for character-level models: a vocabulary, training windows, and sampling.

A character language model reads ids, not characters::

    text = cr.datasets.tiny_shakespeare.load_data()
    train_text, val_text = split_text(text, validation_fraction=0.1)   # the last 10% held out
    vocab = CharVocabulary.from_text(text)                              # 65 characters, sorted
    x, y = char_windows(vocab.encode(train_text), sequence_length=100)  # y is x shifted by one

and generates by sampling the next id from the model's logits, one step at a time::

    next_id = sample_logits(logits, temperature=0.8, top_k=None, rng=rng)

Sampling with temperature ``T`` draws from ``softmax(logits / T)``: ``T < 1`` sharpens the
distribution towards the most likely character, ``T > 1`` flattens it; ``top_k = k`` keeps
only the ``k`` largest logits (the rest get probability 0) before sampling.
"""
from __future__ import annotations

import json
import os

import numpy as np


class CharVocabulary:
    """A bijection between characters and the ids ``0 .. size - 1`` (characters in sorted order)."""

    def __init__(self, chars):
        chars = list(chars)
        if not chars:
            raise ValueError("CharVocabulary: the vocabulary is empty")
        if len(set(chars)) != len(chars) or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("CharVocabulary: expects distinct single characters")
        self.chars = chars
        self._index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocabulary":
        """The sorted set of characters that occur in ``text``."""
        return cls(sorted(set(text)))

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``'s characters, as an int64 array; an unknown character is an error."""
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise ValueError(f"CharVocabulary.encode: character {exc.args[0]!r} is not in the vocabulary "
                             f"of {self.size} characters") from None

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"CharVocabulary.decode: ids must lie in [0, {self.size}), got "
                             f"[{ids.min()}, {ids.max()}]")
        return "".join(self.chars[int(i)] for i in ids)

    def get_config(self) -> dict:
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_config(cls, config: dict) -> "CharVocabulary":
        return cls(config["chars"])

    def save(self, path) -> None:
        """Write the vocabulary as JSON (to a temporary name first, then renamed)."""
        path = os.fspath(path)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.get_config(), f)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "CharVocabulary":
        with open(os.fspath(path), encoding="utf-8") as f:
            return cls.from_config(json.load(f))

    def __repr__(self) -> str:
        return f"CharVocabulary(size={self.size})"


def vocabulary_path(model_path) -> str:
    """Where a character model's vocabulary is saved beside the model: ``<model path>.vocab.json``."""
    return os.fspath(model_path) + ".vocab.json"


def split_text(text: str, validation_fraction: float = 0.1):
    """``(train, validation)``: the last ``validation_fraction`` of the text is held out (nanoGPT's split)."""
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"split_text: validation_fraction must lie in [0, 1), got {validation_fraction}")
    n = int(len(text) * (1.0 - validation_fraction))
    return text[:n], text[n:]


def char_windows(ids, sequence_length: int, stride: int | None = None):
    """``(x, y)`` windows of a long id sequence for next-character prediction.

    ``x[k] = ids[s : s + L]`` and ``y[k] = ids[s + 1 : s + L + 1]`` with ``s = k * stride``
    (``stride`` defaults to ``L``: windows that do not overlap). Both are int64 arrays of
    shape ``(windows, L)``.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    length = int(sequence_length)
    stride = length if stride is None else int(stride)
    if length <= 0 or stride <= 0:
        raise ValueError(f"char_windows: sequence_length and stride must be positive, got {length}, {stride}")
    if ids.size < length + 1:
        raise ValueError(f"char_windows: {ids.size} ids are too few for one window of length {length} "
                         "plus its target")
    starts = np.arange(0, ids.size - length, stride)
    offsets = np.arange(length)
    x = ids[starts[:, None] + offsets]
    y = ids[starts[:, None] + offsets + 1]
    return x, y


def random_windows(ids, sequence_length: int, batch_size: int, rng):
    """One batch of ``batch_size`` windows starting at random offsets (nanoGPT's ``get_batch``)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size < sequence_length + 1:
        raise ValueError(f"random_windows: {ids.size} ids are too few for a window of length {sequence_length}")
    starts = rng.integers(0, ids.size - sequence_length, size=batch_size)
    offsets = np.arange(sequence_length)
    return ids[starts[:, None] + offsets], ids[starts[:, None] + offsets + 1]


def sample_logits(logits, temperature: float = 1.0, top_k: int | None = None, rng=None) -> np.ndarray:
    """Draw one id per row of ``logits`` (shape ``(..., vocab)``) from ``softmax(logits / temperature)``.

    ``temperature = 0`` takes the most likely id (greedy). ``top_k`` keeps the ``k`` largest
    logits of each row before sampling. Returns an int64 array of shape ``logits.shape[:-1]``.
    """
    logits = np.asarray(getattr(logits, "data", logits), dtype=np.float64)
    if logits.ndim == 0:
        raise ValueError("sample_logits: logits need a last axis over the vocabulary")
    if temperature < 0:
        raise ValueError(f"sample_logits: temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(axis=-1)
    rng = np.random.default_rng() if rng is None else rng
    z = logits / temperature
    if top_k is not None:
        k = int(top_k)
        if k <= 0:
            raise ValueError(f"sample_logits: top_k must be positive, got {top_k}")
        if k < z.shape[-1]:
            kth = np.partition(z, -k, axis=-1)[..., -k, None]
            z = np.where(z < kth, -np.inf, z)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    flat = p.reshape(-1, p.shape[-1])
    u = rng.random(flat.shape[0])[:, None]
    ids = (flat.cumsum(axis=-1) < u).sum(axis=-1)  # inverse-CDF sampling, one uniform per row
    return np.minimum(ids, p.shape[-1] - 1).reshape(p.shape[:-1]).astype(np.int64)
