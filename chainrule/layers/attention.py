"""Attention over a query and a value sequence without projections: Keras's ``Attention``
(Luong's dot-product score) and ``AdditiveAttention`` (Bahdanau's score).

For a query (batch, T, d), a value (batch, S, d_v) and a key (batch, S, d) (default: the value)::

    scores_ij = q_i . k_j                             Attention, score_mode="dot"
              = c * sum(tanh(q_i + k_j))              Attention, score_mode="concat"
              = sum(w * tanh(q_i + k_j))              AdditiveAttention (w: the learned "scale")
    weights_i = softmax_j(scores_ij - 1e9 [key j masked])
    out_i     = sum_j weights_ij v_j    (then multiplied by the query mask, if any)

As in Keras, a masked key gets the score minus 1e9 (so a fully masked row spreads its weight
evenly), ``use_scale`` multiplies the dot scores by a learned scalar, and a padded query's
output row is zeroed. Masks: ``mask=[query_mask, value_mask]`` ((batch, T), (batch, S),
True = real token), else the inputs' ``_keras_mask``.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..ops.activation import softmax
from ..ops.elementwise import tanh
from ..ops.linalg import matmul
from ..ops.nn import dropout as dropout_op
from ..ops.reduction import sum as _sum
from ..ops.shape import expand_dims, swapaxes
from .base import Layer
from .multi_head_attention import input_mask

_LARGE = 1e9


class _BaseDenseAttention(Layer):
    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.seed = seed

    def _unpack(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"{self.name}: inputs must be a list [query, value] or [query, value, key], got "
                             f"{type(inputs).__name__}")
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) == 3 else v
        if q.ndim != 3 or v.ndim != 3 or k.ndim != 3:
            raise ValueError(f"{self.name}: query, value and key must be (batch, T, dim), got shapes "
                             f"{tuple(q.shape)}, {tuple(v.shape)}, {tuple(k.shape)}")
        if k.shape[1] != v.shape[1]:
            raise ValueError(f"{self.name}: key {tuple(k.shape)} and value {tuple(v.shape)} must have the same "
                             "length")
        return q, v, k

    def build(self, input_shape):
        self.built = True

    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False,
                 **kwargs):
        if not self.built:
            q, v, k = self._unpack(inputs)
            self.build([(None,) + tuple(t.shape[1:]) for t in (q, v, k)])
        return super().__call__(inputs, training=training, mask=mask,
                                return_attention_scores=return_attention_scores, use_causal_mask=use_causal_mask,
                                **kwargs)

    def call(self, inputs, training=False, mask=None, return_attention_scores=False, use_causal_mask=False):
        q, v, k = self._unpack(inputs)
        q_mask = v_mask = None
        if mask is not None:
            q_mask, v_mask = mask[0], mask[1]
        else:
            q_mask, v_mask = input_mask(q), input_mask(v)
        scores = self._calculate_scores(q, k)
        t, s = scores.shape[-2], scores.shape[-1]
        allowed = None
        if v_mask is not None:
            allowed = np.asarray(getattr(v_mask, "data", v_mask)).astype(bool)[:, None, :]
        if use_causal_mask:
            c = np.tril(np.ones((1, t, s), dtype=bool))
            allowed = c if allowed is None else allowed & c
        if allowed is not None:
            penalty = (~allowed).astype(scores.data.dtype) * scores.data.dtype.type(_LARGE)
            scores = scores - Tensor._wrap(penalty)
        weights = softmax(scores, axis=-1)
        w = dropout_op(weights, self.dropout, training=bool(training)) if self.dropout else weights
        out = matmul(w, v)
        if q_mask is not None:
            qm = np.asarray(getattr(q_mask, "data", q_mask)).astype(out.data.dtype)[..., None]
            out = out * Tensor._wrap(qm)
            out._keras_mask = qm[..., 0].astype(bool)
        return (out, weights) if return_attention_scores else out

    def compute_output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        return tuple(q[:-1]) + (v[-1],)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(dropout=self.dropout, seed=self.seed)
        return cfg


class Attention(_BaseDenseAttention):
    """Keras's ``Attention(use_scale=False, score_mode="dot", dropout=0.0)``: Luong's dot-product attention.

    ``score_mode="dot"``: scores = q k^T (times the learned scalar ``scale`` if ``use_scale``);
    ``"concat"``: scores = c * sum(tanh(scale * (q_i + k_j))) with the learned scalar c
    (``concat_score_weight``). Weights (Keras's order): ``scale`` (), then ``concat_score_weight`` ().
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.scale = self.concat_score_weight = None

    def build(self, input_shape):
        if self.use_scale:
            self.scale = self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones")
        self.built = True

    def _calculate_scores(self, q, k):
        if self.score_mode == "dot":
            if q.shape[-1] != k.shape[-1]:
                raise ValueError(f"{self.name}: query {tuple(q.shape)} and key {tuple(k.shape)} must have the same "
                                 "last axis for dot scores")
            scores = matmul(q, swapaxes(k, -1, -2))
            return scores * self.scale if self.scale is not None else scores
        z = expand_dims(q, -2) + expand_dims(k, -3)  # (batch, T, S, d)
        if self.scale is not None:
            z = z * self.scale
        return self.concat_score_weight * _sum(tanh(z), axis=-1)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(use_scale=self.use_scale, score_mode=self.score_mode)
        return cfg


class AdditiveAttention(_BaseDenseAttention):
    """Keras's ``AdditiveAttention(use_scale=True, dropout=0.0)``: Bahdanau's additive attention,
    scores_ij = sum_d scale_d tanh(q_id + k_jd). Weight: ``scale`` (dim,), glorot-uniform (Keras's).
    Memory: the (batch, T, S, dim) sum is formed explicitly.
    """

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        self.use_scale = bool(use_scale)
        self.scale = None

    def build(self, input_shape):
        dim = input_shape[0][-1]
        if self.use_scale:
            self.scale = self.add_weight("scale", (dim,), "glorot_uniform")
        self.built = True

    def _calculate_scores(self, q, k):
        if q.shape[-1] != k.shape[-1]:
            raise ValueError(f"{self.name}: query {tuple(q.shape)} and key {tuple(k.shape)} must have the same "
                             "last axis")
        z = tanh(expand_dims(q, -2) + expand_dims(k, -3))
        if self.scale is not None:
            z = z * self.scale
        return _sum(z, axis=-1)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(use_scale=self.use_scale)
        return cfg
