"""Embedding: integer tokens -> rows of a learned table (Keras's Embedding)."""
from __future__ import annotations

from ..ops import nn
from .base import Layer
from .core import ignored_constraint, positive_int, serialize_or_keep


class Embedding(Layer):
    """y[..., :] = embeddings[indices[...], :]: (batch, ...) integers -> (batch, ..., output_dim).

    One weight, ``embeddings``, of shape (input_dim, output_dim) (input_dim * output_dim
    parameters), initialized uniformly in [-0.05, 0.05] by default (Keras's "uniform").
    Indices outside [0, input_dim) raise a ValueError. Its gradient is a scatter-add: a token
    used several times in a batch receives the sum of its gradients.
    ``mask_zero=True``: index 0 is padding; the output carries the mask ``indices != 0``
    (``_keras_mask``), which recurrent and attention layers honour (Keras's convention).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, input_length=None, **kwargs):
        super().__init__(**kwargs)
        from .. import initializers, regularizers

        self.input_dim = positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = positive_int("Embedding", "output_dim", output_dim)
        if isinstance(embeddings_initializer, str) and embeddings_initializer.lower() in ("uniform", "normal"):
            # Keras's short names: RandomUniform(-0.05, 0.05), RandomNormal(0, 0.05)
            embeddings_initializer = "random_" + embeddings_initializer.lower()
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        ignored_constraint("Embedding", "embeddings_constraint", embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        self.embeddings = None

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            "embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer, self.embeddings_regularizer
        )
        self.built = True

    def call(self, inputs, training=False):
        idx = nn.check_indices(self.name, inputs, self.input_dim)
        return nn.Embedding.apply(self.embeddings, indices=idx)

    @property
    def supports_masking(self):
        return self.mask_zero

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        data = inputs.data if hasattr(inputs, "data") else inputs
        return data != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        from .. import initializers, regularizers

        cfg = super().get_config()
        cfg.update(
            input_dim=self.input_dim,
            output_dim=self.output_dim,
            embeddings_initializer=serialize_or_keep(self.embeddings_initializer, initializers),
            embeddings_regularizer=serialize_or_keep(self.embeddings_regularizer, regularizers),
            embeddings_constraint=None,
            mask_zero=self.mask_zero,
        )
        if self.input_length is not None:
            cfg["input_length"] = self.input_length
        return cfg
