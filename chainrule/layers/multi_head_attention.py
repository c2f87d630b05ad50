"""Multi-head attention (Keras's ``MultiHeadAttention``), with Keras's weight layouts.

Each head h projects the query, key and value sequences with its own matrices and attends::

    Q_h = query @ Wq[:, h, :] + bq[h]       (T, key_dim)
    K_h = key   @ Wk[:, h, :] + bk[h]       (S, key_dim)
    V_h = value @ Wv[:, h, :] + bv[h]       (S, value_dim)
    O_h = softmax(Q_h K_h^T / sqrt(key_dim) + mask) V_h
    out = sum_h O_h @ Wo[h] + bo            (T, output dim)

Weights (Keras's ``EinsumDense`` layouts, in Keras's order): query kernel (d_q, heads, key_dim)
and bias (heads, key_dim); key kernel (d_k, heads, key_dim) and bias; value kernel
(d_v, heads, value_dim) and bias (heads, value_dim); output kernel (heads, value_dim, d_out) and
bias (d_out,). PyTorch's ``nn.MultiheadAttention`` packs the same numbers as
``in_proj_weight = [Wq; Wk; Wv]`` with ``Wq = kernel.reshape(d, heads * key_dim).T``.

Masks: ``attention_mask`` (batch, T, S), 1/True = may attend (PyTorch's boolean masks of
``nn.MultiheadAttention`` mean the opposite). Masks carried by the inputs (``_keras_mask``, as
``Embedding(mask_zero=True)`` sets them: (batch, T) True = a real token) are combined with it
as Keras does: the query mask removes a padded query's row, the value (and key) mask removes
padded keys, and ``use_causal_mask`` removes keys after the query.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from ..ops.attention import attention_weights, prepare_mask, scaled_dot_product_attention
from ..ops.linalg import matmul
from ..ops.nn import dropout as dropout_op, linear
from ..ops.shape import reshape, transpose
from .base import Layer, serialize_or_keep, to_tensor
from .core import _as_float, ignored_constraint, positive_int


def input_mask(x):
    """The boolean (batch, T) mask an input carries (``_keras_mask``), or None."""
    m = getattr(x, "_keras_mask", None)
    if m is None:
        return None
    return np.asarray(m.data if isinstance(m, Tensor) else m).astype(bool)


class HeadsDense(Layer):
    """A Dense whose kernel has Keras's ``EinsumDense`` layout for attention heads.

    ``mode="in"``: x (..., d) -> (..., heads, size), kernel (d, heads, size), bias (heads, size)
    (Keras's equation ``abc,cde->abde``). ``mode="out"``: x (..., heads, size) -> (..., units),
    kernel (heads, size, units), bias (units,) (``abcd,cde->abe``). Either is one GEMM with the
    kernel seen as a matrix.
    """

    def __init__(self, heads, size, mode="in", units=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        from .. import initializers, regularizers

        self.heads, self.size, self.mode, self.units, self.use_bias = heads, size, mode, units, use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = self.bias = None

    def build(self, input_shape):
        if self.mode == "in":
            kshape, bshape = (input_shape[-1], self.heads, self.size), (self.heads, self.size)
        else:
            kshape, bshape = (self.heads, self.size, self.units), (self.units,)
        self.kernel = self.add_weight("kernel", kshape, self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", bshape, self.bias_initializer, self.bias_regularizer)
        self.built = True

    def call(self, x, training=False):
        k = self.kernel
        if self.mode == "in":
            w = reshape(k, (k.shape[0], -1))
            b = None if self.bias is None else reshape(self.bias, (-1,))
            y = linear(_as_float(self, x, k.data.dtype), w, b)
            return reshape(y, x.shape[:-1] + (self.heads, self.size))
        x = reshape(x, x.shape[:-2] + (-1,))
        return linear(x, reshape(k, (-1, k.shape[-1])), self.bias)

    def compute_output_shape(self, input_shape):
        if self.mode == "in":
            return tuple(input_shape[:-1]) + (self.heads, self.size)
        return tuple(input_shape[:-2]) + (self.units,)


class MultiHeadAttention(Layer):
    """Keras's ``MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
    output_shape=None, attention_axes=None, ...)``; see the module docstring for the math.

    ``mha(query, value, key=None, attention_mask=None, return_attention_scores=False, training=None,
    use_causal_mask=False)``: query (batch, T, d_q), value (batch, S, d_v), key (batch, S, d_k)
    (default: value). Returns (batch, T, d_out) (d_out = ``output_shape`` or d_q), and with
    ``return_attention_scores`` also the weights (batch, heads, T, S). ``dropout`` drops attention
    weights in training. ``attention_axes`` (for inputs of rank > 3): the axes attended over;
    the other middle axes are treated as batch axes.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        from .. import initializers, regularizers

        self.num_heads = positive_int("MultiHeadAttention", "num_heads", num_heads)
        self.key_dim = positive_int("MultiHeadAttention", "key_dim", key_dim)
        self.value_dim = self.key_dim if value_dim is None else positive_int("MultiHeadAttention", "value_dim",
                                                                             value_dim)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if output_shape is not None and not isinstance(output_shape, int):
            output_shape = tuple(output_shape)
            if len(output_shape) != 1:
                raise ValueError(f"MultiHeadAttention: output_shape must be an int or a 1-tuple here, got "
                                 f"{output_shape}")
            output_shape = output_shape[0]
        self._output_dim = None if output_shape is None else positive_int("MultiHeadAttention", "output_shape",
                                                                          output_shape)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        self.attention_axes = None if attention_axes is None else tuple(int(a) for a in attention_axes)
        self.flash_attention = flash_attention
        self.seed = seed
        ignored_constraint("MultiHeadAttention", "kernel_constraint", kernel_constraint)
        ignored_constraint("MultiHeadAttention", "bias_constraint", bias_constraint)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        dense = dict(use_bias=self.use_bias, kernel_initializer=self.kernel_initializer,
                     bias_initializer=self.bias_initializer, kernel_regularizer=self.kernel_regularizer,
                     bias_regularizer=self.bias_regularizer)
        self._query_dense = HeadsDense(self.num_heads, self.key_dim, name="query", **dense)
        self._key_dense = HeadsDense(self.num_heads, self.key_dim, name="key", **dense)
        self._value_dense = HeadsDense(self.num_heads, self.value_dim, name="value", **dense)
        self._output_dense = None  # its size is the query's unless output_shape says otherwise

    # ------------------------------------------------------------------ building
    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        self._query_dense.build(query_shape)
        self._key_dense.build(key_shape)
        self._value_dense.build(value_shape)
        out = self._output_dim or query_shape[-1]
        self._output_dense = HeadsDense(self.num_heads, self.value_dim, mode="out", units=out,
                                        name="attention_output", use_bias=self.use_bias,
                                        kernel_initializer=self.kernel_initializer,
                                        bias_initializer=self.bias_initializer,
                                        kernel_regularizer=self.kernel_regularizer,
                                        bias_regularizer=self.bias_regularizer)
        self._output_dense.build(tuple(query_shape[:-1]) + (self.num_heads, self.value_dim))
        for sub in (self._query_dense, self._key_dense, self._value_dense, self._output_dense):
            sub.built = True
        self.built = True

    @property
    def query_dense(self):
        return self._query_dense

    @property
    def key_dense(self):
        return self._key_dense

    @property
    def value_dense(self):
        return self._value_dense

    @property
    def output_dense(self):
        return self._output_dense

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self._output_dim or query_shape[-1],)

    # ------------------------------------------------------------------ calling
    def __call__(self, query, value=None, key=None, attention_mask=None, return_attention_scores=False,
                 training=None, use_causal_mask=False, **kwargs):
        if value is None:
            raise TypeError(f"{self.name}: MultiHeadAttention needs a query and a value: mha(query, value)")
        query, value = to_tensor(query), to_tensor(value)
        key = None if key is None else to_tensor(key)
        if not self.built:
            q, v = query.shape, value.shape
            if len(q) < 3 or len(v) < 3:
                raise ValueError(f"{self.name}: query and value must have rank >= 3 (batch, T, dim), got "
                                 f"shapes {tuple(q)} and {tuple(v)}")
            self.build((None,) + tuple(q[1:]), (None,) + tuple(v[1:]),
                       None if key is None else (None,) + tuple(key.shape[1:]))
        return super().__call__(query, training=training, value=value, key=key, attention_mask=attention_mask,
                                return_attention_scores=return_attention_scores, use_causal_mask=use_causal_mask,
                                **kwargs)

    def call(self, query, training=False, value=None, key=None, attention_mask=None, return_attention_scores=False,
             use_causal_mask=False):
        key = value if key is None else key
        mask = self.compute_attention_mask(query, value, key, attention_mask, use_causal_mask)
        out = self.attend(query, value, key, mask, training=training,
                          return_attention_scores=return_attention_scores)
        q_mask = input_mask(query)
        if q_mask is not None:
            (out[0] if return_attention_scores else out)._keras_mask = q_mask
        return out

    def compute_attention_mask(self, query, value, key=None, attention_mask=None, use_causal_mask=False):
        """The boolean (batch, T, S) mask from ``attention_mask``, the inputs' masks and causality (Keras's rule)."""
        key = value if key is None else key
        auto = None
        q_mask, v_mask, k_mask = input_mask(query), input_mask(value), input_mask(key)
        if q_mask is not None:
            auto = q_mask[:, :, None]
        for m in (v_mask, k_mask):
            if m is not None:
                m = m[:, None, :]
                auto = m if auto is None else auto & m
        if use_causal_mask:
            t, s = query.shape[-2], value.shape[-2]
            c = np.tril(np.ones((1, t, s), dtype=bool))
            auto = c if auto is None else auto & c
        if attention_mask is None:
            return auto
        m = np.asarray(attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask)
        m = m.astype(bool)
        return m if auto is None else m & auto

    def project(self, query, value, key):
        """(Q, K, V) of shapes (batch, heads, T or S, key_dim / value_dim)."""
        q = transpose(self._query_dense(query), (0, 2, 1, 3))
        k = transpose(self._key_dense(key), (0, 2, 1, 3))
        v = transpose(self._value_dense(value), (0, 2, 1, 3))
        return q, k, v

    def output_projection(self, o):
        """(batch, heads, T, value_dim) -> (batch, T, output dim)."""
        return self._output_dense(transpose(o, (0, 2, 1, 3)))

    def attend(self, query, value, key, mask=None, training=False, return_attention_scores=False):
        """The attention itself, for a ready boolean ``mask`` (batch, T, S) or None (no input masks read)."""
        if query.ndim > 3:
            return self._attend_axes(query, value, key, mask, training, return_attention_scores)
        batch, t, s = query.shape[0], query.shape[1], value.shape[1]
        if key.shape[1] != s:
            raise ValueError(f"{self.name}: key {tuple(key.shape)} and value {tuple(value.shape)} must have the "
                             "same length")
        if mask is not None:
            mask = np.asarray(mask)
            try:
                np.broadcast_shapes(mask.shape, (batch, t, s))
            except ValueError:
                raise ValueError(f"{self.name}: attention_mask of shape {mask.shape} does not broadcast to "
                                 f"(batch, T, S) = {(batch, t, s)}") from None
            if mask.ndim == 2:  # (T, S): the same mask for every sequence of the batch
                mask = mask[None]
            if mask.ndim != 3:
                raise ValueError(f"{self.name}: attention_mask must have shape (batch, T, S) = "
                                 f"{(batch, t, s)}, got {mask.shape}")
            mask = mask[:, None]  # one mask for every head
        q, k, v = self.project(query, value, key)
        scale = 1.0 / math.sqrt(self.key_dim)
        if return_attention_scores:
            allowed, _ = prepare_mask(mask, False, t, s, q.shape[:-1] + (s,), q.data.dtype, who=self.name)
            p = attention_weights(q, k, allowed, None, scale)
            pd = dropout_op(p, self.dropout, training=bool(training)) if self.dropout else p
            return self.output_projection(matmul(pd, v)), p
        o = scaled_dot_product_attention(q, k, v, mask=mask, dropout=self.dropout, scale=scale,
                                         training=bool(training))
        return self.output_projection(o)

    def _attend_axes(self, query, value, key, mask, training, return_attention_scores):
        """Rank > 3: move the non-attended middle axes into the batch, flatten the attended ones."""
        if mask is not None:
            raise ValueError(f"{self.name}: attention masks are supported for (batch, T, dim) inputs only, got a "
                             f"query of shape {tuple(query.shape)}")
        n = query.ndim - 2  # middle axes 1..n
        axes = tuple(range(1, n + 1)) if self.attention_axes is None else tuple(
            a % (n + 2) for a in self.attention_axes)
        others = tuple(a for a in range(1, n + 1) if a not in axes)
        perm = (0,) + others + axes + (n + 1,)

        def fold(x):
            x = transpose(x, perm)
            lead = x.shape[:1 + len(others)]
            return reshape(x, (int(np.prod(lead)), -1, x.shape[-1])), x.shape

        qf, qshape = fold(query)
        vf, _ = fold(value)
        kf, _ = fold(key)
        res = self.attend(qf, vf, kf, None, training, return_attention_scores)
        out = res[0] if return_attention_scores else res
        out = reshape(out, qshape[:-1] + (out.shape[-1],))
        out = transpose(out, tuple(int(i) for i in np.argsort(perm)))
        return (out, res[1]) if return_attention_scores else out

    # ------------------------------------------------------------------ config
    def get_config(self):
        from .. import initializers, regularizers

        cfg = super().get_config()
        cfg.update(num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim, dropout=self.dropout,
                   use_bias=self.use_bias, output_shape=self._output_dim,
                   attention_axes=None if self.attention_axes is None else list(self.attention_axes),
                   kernel_initializer=serialize_or_keep(self.kernel_initializer, initializers),
                   bias_initializer=serialize_or_keep(self.bias_initializer, initializers),
                   kernel_regularizer=serialize_or_keep(self.kernel_regularizer, regularizers),
                   bias_regularizer=serialize_or_keep(self.bias_regularizer, regularizers), seed=self.seed)
        return cfg
