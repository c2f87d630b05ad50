"""Position information for attention, which by itself ignores order (keras_hub's layers).

Attention is permutation-equivariant: shuffling the tokens shuffles the outputs the same way.
A Transformer therefore adds to each token's vector a vector that depends on its position:

* ``PositionEmbedding(sequence_length)``: a learned table P (sequence_length, dim); position t
  gets row t.
* ``SinePositionEncoding(max_wavelength=10000)``: fixed, for position t and feature i
  (Vaswani et al., 2017)::

      angle = t / max_wavelength^(2 floor(i/2) / dim);  PE[t, i] = sin(angle) for even i, cos(angle) for odd i

  Each pair of features is a rotation at its own frequency, so PE[t + k] is a fixed linear
  map of PE[t] for every t.
* ``TokenAndPositionEmbedding``: a token ``Embedding`` plus a ``PositionEmbedding``.

As in keras_hub, ``PositionEmbedding`` and ``SinePositionEncoding`` return the position
vectors (broadcast to the input's shape), for the caller to add; ``start_index`` shifts the
positions (for decoding with a cache).
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..ops.indexing import getitem
from ..ops.shape import broadcast_to
from .base import Layer, serialize_or_keep
from .core import positive_int
from .embedding import Embedding


def _check_start(layer, length, start_index, limit):
    if start_index < 0 or start_index + length > limit:
        raise ValueError(f"{layer.name}: positions {start_index}..{start_index + length - 1} do not fit in the "
                         f"sequence_length {limit} this layer was built for (input length {length})")


class PositionEmbedding(Layer):
    """A learned position embedding: returns ``embeddings[start_index : start_index + T]`` broadcast to
    the input's shape (batch, T, dim). Weight ``embeddings`` (sequence_length, dim), glorot-uniform."""

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        from .. import initializers

        self.sequence_length = positive_int("PositionEmbedding", "sequence_length", sequence_length)
        self.initializer = initializers.get(initializer)
        self.position_embeddings = None

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: input must be (batch, T, dim), got shape {tuple(input_shape)}")
        self.position_embeddings = self.add_weight("embeddings", (self.sequence_length, input_shape[-1]),
                                                   self.initializer)
        self.built = True

    def __call__(self, inputs, training=None, start_index=0, **kwargs):
        return super().__call__(inputs, training=training, start_index=start_index, **kwargs)

    def call(self, inputs, training=False, start_index=0):
        t, dim = inputs.shape[-2], inputs.shape[-1]
        _check_start(self, t, int(start_index), self.sequence_length)
        if dim != self.position_embeddings.shape[1]:
            raise ValueError(f"{self.name}: input of shape {tuple(inputs.shape)} has {dim} features, but the "
                             f"embeddings have {self.position_embeddings.shape[1]}")
        pos = getitem(self.position_embeddings, slice(int(start_index), int(start_index) + t))
        return broadcast_to(pos, tuple(inputs.shape))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        from .. import initializers

        cfg = super().get_config()
        cfg.update(sequence_length=self.sequence_length,
                   initializer=serialize_or_keep(self.initializer, initializers))
        return cfg


def sine_position_encoding(length: int, dim: int, max_wavelength=10000.0, start_index=0, dtype="float32"):
    """The (length, dim) array of sine/cosine position encodings (see the module docstring)."""
    positions = np.arange(start_index, start_index + length, dtype=np.float64)
    i = np.arange(dim)
    timescales = np.power(1.0 / max_wavelength, (2 * (i // 2)) / dim)
    angles = positions[:, None] * timescales[None, :]
    return np.where(i % 2 == 0, np.sin(angles), np.cos(angles)).astype(dtype)


class SinePositionEncoding(Layer):
    """Fixed sinusoidal position encodings of the input's shape (batch, T, dim); no weights."""

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        if not max_wavelength > 0:
            raise ValueError(f"SinePositionEncoding: max_wavelength must be positive, got {max_wavelength!r}")
        self.max_wavelength = max_wavelength

    def __call__(self, inputs, training=None, start_index=0, **kwargs):
        return super().__call__(inputs, training=training, start_index=start_index, **kwargs)

    def call(self, inputs, training=False, start_index=0):
        if inputs.ndim < 2:
            raise ValueError(f"{self.name}: input must be (batch, T, dim), got shape {tuple(inputs.shape)}")
        t, dim = inputs.shape[-2], inputs.shape[-1]
        dtype = inputs.data.dtype if inputs.data.dtype.kind == "f" else np.float32
        pe = sine_position_encoding(t, dim, float(self.max_wavelength), int(start_index), dtype)
        return Tensor._wrap(np.broadcast_to(pe, inputs.shape))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(max_wavelength=self.max_wavelength)
        return cfg


class TokenAndPositionEmbedding(Layer):
    """token_embedding(ids) + position_embedding: (batch, T) integers -> (batch, T, embedding_dim).

    Weights: ``token_embedding/embeddings`` (vocabulary_size, embedding_dim), then
    ``position_embedding/embeddings`` (sequence_length, embedding_dim); both drawn by
    ``embeddings_initializer`` (keras_hub's default "uniform": U(-0.05, 0.05)). With
    ``mask_zero=True`` the output carries the mask ids != 0.
    """

    def __init__(self, vocabulary_size, sequence_length, embedding_dim, tie_weights=True,
                 embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = positive_int("TokenAndPositionEmbedding", "vocabulary_size", vocabulary_size)
        self.sequence_length = positive_int("TokenAndPositionEmbedding", "sequence_length", sequence_length)
        self.embedding_dim = positive_int("TokenAndPositionEmbedding", "embedding_dim", embedding_dim)
        self.tie_weights = bool(tie_weights)
        self.embeddings_initializer = embeddings_initializer
        self.mask_zero = bool(mask_zero)
        init = embeddings_initializer
        if isinstance(init, str) and init.lower() in ("uniform", "normal"):
            init = "random_" + init.lower()
        self.token_embedding = Embedding(self.vocabulary_size, self.embedding_dim, embeddings_initializer=init,
                                         mask_zero=self.mask_zero, name="token_embedding")
        self.position_embedding = PositionEmbedding(self.sequence_length, initializer=init,
                                                    name="position_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.token_embedding.built = True
        self.position_embedding.build(tuple(input_shape) + (self.embedding_dim,))
        self.position_embedding.built = True
        self.built = True

    def __call__(self, inputs, training=None, start_index=0, **kwargs):
        return super().__call__(inputs, training=training, start_index=start_index, **kwargs)

    def call(self, inputs, training=False, start_index=0):
        if inputs.ndim != 2:
            raise ValueError(f"{self.name}: input must be (batch, T) token ids, got shape {tuple(inputs.shape)}")
        _check_start(self, inputs.shape[1], int(start_index), self.sequence_length)
        tokens = self.token_embedding(inputs)
        out = tokens + self.position_embedding(tokens, start_index=start_index)
        if self.mask_zero:
            out._keras_mask = np.asarray(inputs.data) != 0
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def get_config(self):
        from .. import initializers

        cfg = super().get_config()
        init = self.embeddings_initializer
        cfg.update(vocabulary_size=self.vocabulary_size, sequence_length=self.sequence_length,
                   embedding_dim=self.embedding_dim, tie_weights=self.tie_weights,
                   embeddings_initializer=init if isinstance(init, str) else serialize_or_keep(init, initializers),
                   mask_zero=self.mask_zero)
        return cfg
