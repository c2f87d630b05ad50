"""Transformer blocks (keras_hub's ``TransformerEncoder`` and ``TransformerDecoder``).

An encoder block is two residual sub-blocks, each "x + f(x)" with a layer normalization::

    post-norm (normalize_first=False, the 2017 paper):  x = LN(x + Dropout(SelfAttention(x)))
                                                        x = LN(x + Dropout(FFN(x)))
    pre-norm  (normalize_first=True, GPT-2 and later):  x = x + Dropout(SelfAttention(LN(x)))
                                                        x = x + Dropout(FFN(LN(x)))

with FFN(x) = Dense(hidden)(activation(Dense(intermediate_dim)(x))). A decoder block puts a
causal self-attention first (token t sees tokens <= t), then, given an encoder sequence, a
cross-attention (queries from the decoder, keys and values from the encoder), then the FFN.
The residual path carries the gradient around every sub-block unchanged (d(x + f(x))/dx =
I + f'(x)), which is why deep stacks train. Pre-norm keeps that path free of normalizations.

Masks (keras_hub's rule): a padding mask (batch, S), True = real token -- given, or the input's
``_keras_mask`` -- removes padded keys; an attention mask (batch, T, S) is combined with it
(logical and).

Weights are those of the sub-layers, in keras_hub's order: self-attention (query, key, value,
output kernels and biases), its LayerNormalization, [cross-attention and its
LayerNormalization,] then the feed-forward LayerNormalization and the two Dense layers.
"""
from __future__ import annotations

import numpy as np

from .base import Layer, serialize_or_keep
from .core import Dense, Dropout, positive_int
from .multi_head_attention import MultiHeadAttention, input_mask
from .normalization import LayerNormalization


def merge_padding_and_attention_mask(inputs, padding_mask=None, attention_mask=None):
    """(batch, 1, S) from the padding mask (or the input's mask), and-ed with ``attention_mask``; or None."""
    mask = padding_mask if padding_mask is not None else input_mask(inputs)
    if mask is not None:
        mask = np.asarray(getattr(mask, "data", mask)).astype(bool)
        if mask.ndim != 2:
            raise ValueError(f"padding_mask must be (batch, sequence_length), got shape {mask.shape}")
        mask = mask[:, None, :]
    if attention_mask is not None:
        attention_mask = np.asarray(getattr(attention_mask, "data", attention_mask)).astype(bool)
        return attention_mask if mask is None else attention_mask & mask
    return mask


class _TransformerBlock(Layer):
    def __init__(self, intermediate_dim, num_heads, dropout=0, activation="relu", layer_norm_epsilon=1e-05,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", normalize_first=False, **kwargs):
        super().__init__(**kwargs)
        from .. import activations, initializers

        kind = type(self).__name__
        self.intermediate_dim = positive_int(kind, "intermediate_dim", intermediate_dim)
        self.num_heads = positive_int(kind, "num_heads", num_heads)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{kind}: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.activation = activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.normalize_first = bool(normalize_first)

    def _attention(self, hidden_dim, name):
        if hidden_dim % self.num_heads:
            raise ValueError(f"{self.name}: the hidden size {hidden_dim} must be divisible by num_heads "
                             f"{self.num_heads}")
        mha = MultiHeadAttention(self.num_heads, hidden_dim // self.num_heads, dropout=self.dropout,
                                 kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer,
                                 name=name)
        return mha, LayerNormalization(epsilon=self.layer_norm_epsilon, name=name + "_layer_norm"), \
            Dropout(self.dropout, name=name + "_dropout")

    def _build_feedforward(self, shape):
        hidden = shape[-1]
        self._feedforward_layer_norm = LayerNormalization(epsilon=self.layer_norm_epsilon,
                                                          name="feedforward_layer_norm")
        self._feedforward_layer_norm.build(shape)
        self._feedforward_intermediate_dense = Dense(self.intermediate_dim, activation=self.activation,
                                                     kernel_initializer=self.kernel_initializer,
                                                     bias_initializer=self.bias_initializer,
                                                     name="feedforward_intermediate_dense")
        self._feedforward_intermediate_dense.build(shape)
        self._feedforward_output_dense = Dense(hidden, kernel_initializer=self.kernel_initializer,
                                               bias_initializer=self.bias_initializer,
                                               name="feedforward_output_dense")
        self._feedforward_output_dense.build(tuple(shape[:-1]) + (self.intermediate_dim,))
        self._feedforward_dropout = Dropout(self.dropout, name="feedforward_dropout")
        for l in (self._feedforward_layer_norm, self._feedforward_intermediate_dense,
                  self._feedforward_output_dense, self._feedforward_dropout):
            l.built = True

    def _residual(self, x, norm, f, training):
        """x + Dropout(f(norm(x))) (pre-norm) or norm(x + Dropout(f(x))) (post-norm)."""
        y = f(norm(x) if self.normalize_first else x)
        y = x + (self._dropout_of(norm)(y, training=training) if self.dropout else y)
        return y if self.normalize_first else norm(y)

    def _feedforward(self, x):
        return self._feedforward_output_dense(self._feedforward_intermediate_dense(x))

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return tuple(input_shape)

    def get_config(self):
        from .. import activations, initializers

        cfg = super().get_config()
        cfg.update(intermediate_dim=self.intermediate_dim, num_heads=self.num_heads, dropout=self.dropout,
                   activation=serialize_or_keep(self.activation, activations),
                   layer_norm_epsilon=self.layer_norm_epsilon,
                   kernel_initializer=serialize_or_keep(self.kernel_initializer, initializers),
                   bias_initializer=serialize_or_keep(self.bias_initializer, initializers),
                   normalize_first=self.normalize_first)
        return cfg


class TransformerEncoder(_TransformerBlock):
    """keras_hub's ``TransformerEncoder(intermediate_dim, num_heads, dropout=0, activation="relu",
    layer_norm_epsilon=1e-05, kernel_initializer="glorot_uniform", bias_initializer="zeros",
    normalize_first=False)``: self-attention then feed-forward, each residual (module docstring).

    ``encoder(inputs, padding_mask=None, attention_mask=None, training=None,
    return_attention_scores=False)``: (batch, T, hidden) -> (batch, T, hidden); key_dim =
    hidden // num_heads.
    """

    def build(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(f"{self.name}: input must be (batch, T, hidden), got shape {tuple(inputs_shape)}")
        (self._self_attention_layer, self._self_attention_layer_norm,
         self._self_attention_dropout) = self._attention(inputs_shape[-1], "self_attention")
        self._self_attention_layer.build(inputs_shape, inputs_shape)
        self._self_attention_layer_norm.build(inputs_shape)
        self._self_attention_layer_norm.built = self._self_attention_dropout.built = True
        self._build_feedforward(inputs_shape)
        self.built = True

    def _dropout_of(self, norm):
        return self._self_attention_dropout if norm is self._self_attention_layer_norm else self._feedforward_dropout

    def __call__(self, inputs, padding_mask=None, attention_mask=None, training=None, return_attention_scores=False,
                 **kwargs):
        return super().__call__(inputs, training=training, padding_mask=padding_mask, attention_mask=attention_mask,
                                return_attention_scores=return_attention_scores, **kwargs)

    def call(self, inputs, training=False, padding_mask=None, attention_mask=None, return_attention_scores=False):
        mask = merge_padding_and_attention_mask(inputs, padding_mask, attention_mask)
        scores = []

        def attend(x):
            out = self._self_attention_layer.attend(x, x, x, mask, training=training,
                                                    return_attention_scores=return_attention_scores)
            if return_attention_scores:
                scores.append(out[1])
                return out[0]
            return out

        x = self._residual(inputs, self._self_attention_layer_norm, attend, training)
        x = self._residual(x, self._feedforward_layer_norm, self._feedforward, training)
        m = input_mask(inputs)
        if m is not None:
            x._keras_mask = m
        return (x, scores[0]) if return_attention_scores else x


class TransformerDecoder(_TransformerBlock):
    """keras_hub's ``TransformerDecoder(intermediate_dim, num_heads, dropout=0, activation="relu",
    layer_norm_epsilon=1e-05, kernel_initializer="glorot_uniform", bias_initializer="zeros",
    normalize_first=False)``: causal self-attention, cross-attention (when built with an encoder
    sequence), feed-forward.

    ``decoder(decoder_sequence, encoder_sequence=None, decoder_padding_mask=None,
    decoder_attention_mask=None, encoder_padding_mask=None, encoder_attention_mask=None,
    use_causal_mask=True, training=None)``. A decoder first called without an encoder sequence
    has no cross-attention (as keras_hub's, which decides at build time).
    """

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        shape = tuple(decoder_sequence_shape)
        if len(shape) != 3:
            raise ValueError(f"{self.name}: decoder_sequence must be (batch, T, hidden), got shape {shape}")
        (self._self_attention_layer, self._self_attention_layer_norm,
         self._self_attention_dropout) = self._attention(shape[-1], "self_attention")
        self._self_attention_layer.build(shape, shape)
        self._self_attention_layer_norm.build(shape)
        self._self_attention_layer_norm.built = self._self_attention_dropout.built = True
        self._cross_attention_layer = None
        if encoder_sequence_shape is not None:
            (self._cross_attention_layer, self._cross_attention_layer_norm,
             self._cross_attention_dropout) = self._attention(shape[-1], "cross_attention")
            self._cross_attention_layer.build(shape, tuple(encoder_sequence_shape))
            self._cross_attention_layer_norm.build(shape)
            self._cross_attention_layer_norm.built = self._cross_attention_dropout.built = True
        self._build_feedforward(shape)
        self.built = True

    def _dropout_of(self, norm):
        if norm is self._self_attention_layer_norm:
            return self._self_attention_dropout
        if self._cross_attention_layer is not None and norm is self._cross_attention_layer_norm:
            return self._cross_attention_dropout
        return self._feedforward_dropout

    def __call__(self, decoder_sequence, encoder_sequence=None, decoder_padding_mask=None,
                 decoder_attention_mask=None, encoder_padding_mask=None, encoder_attention_mask=None,
                 use_causal_mask=True, training=None, **kwargs):
        if not self.built:
            self.build((None,) + tuple(decoder_sequence.shape[1:]),
                       None if encoder_sequence is None else (None,) + tuple(encoder_sequence.shape[1:]))
        return super().__call__(decoder_sequence, training=training, encoder_sequence=encoder_sequence,
                                decoder_padding_mask=decoder_padding_mask,
                                decoder_attention_mask=decoder_attention_mask,
                                encoder_padding_mask=encoder_padding_mask,
                                encoder_attention_mask=encoder_attention_mask, use_causal_mask=use_causal_mask,
                                **kwargs)

    def call(self, decoder_sequence, training=False, encoder_sequence=None, decoder_padding_mask=None,
             decoder_attention_mask=None, encoder_padding_mask=None, encoder_attention_mask=None,
             use_causal_mask=True):
        has_cross = self._cross_attention_layer is not None
        if encoder_sequence is not None and not has_cross:
            raise ValueError(f"{self.name}: this decoder was built without cross-attention (first called without "
                             "an encoder_sequence); it cannot take one now")
        if encoder_sequence is None and has_cross:
            raise ValueError(f"{self.name}: this decoder has a cross-attention layer and needs an "
                             "encoder_sequence")
        t = decoder_sequence.shape[1]
        self_mask = merge_padding_and_attention_mask(decoder_sequence, decoder_padding_mask,
                                                     decoder_attention_mask)
        if use_causal_mask:
            causal = np.tril(np.ones((1, t, t), dtype=bool))
            self_mask = causal if self_mask is None else self_mask & causal
        sa = self._self_attention_layer
        x = self._residual(decoder_sequence, self._self_attention_layer_norm,
                           lambda h: sa.attend(h, h, h, self_mask, training=training), training)
        if has_cross:
            enc = encoder_sequence
            cross_mask = merge_padding_and_attention_mask(enc, encoder_padding_mask, encoder_attention_mask)
            ca = self._cross_attention_layer
            x = self._residual(x, self._cross_attention_layer_norm,
                               lambda h: ca.attend(h, enc, enc, cross_mask, training=training), training)
        x = self._residual(x, self._feedforward_layer_norm, self._feedforward, training)
        m = input_mask(decoder_sequence)
        if m is not None:
            x._keras_mask = m
        return x
