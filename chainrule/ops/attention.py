"""Scaled dot-product attention as one fused ``Function``.

For queries Q (..., T, d), keys K (..., S, d) and values V (..., S, d_v)::

    S_ij = scale * q_i . k_j + b_ij          scores (scale = 1/sqrt(d) by default)
    P_ij = exp(S_ij - m_i) / sum_j' exp(S_ij' - m_i),   m_i = max_j S_ij     (softmax over keys)
    O_i  = sum_j P_ij v_j                    the output, (..., T, d_v)

A boolean ``mask`` (True = may attend; PyTorch's boolean ``attn_mask`` means the same, Keras's
``attention_mask`` 1 = may attend too) removes scores: S_ij = -inf where the mask is False;
``causal=True`` removes the scores of keys after the query (j > i, top-left aligned as
PyTorch's ``is_causal``). A floating ``mask`` is added to the scores (b_ij). A query row whose
every key is masked has no distribution to take: here its P row is 0, so its output is 0 and
so are its gradients -- what PyTorch's ``scaled_dot_product_attention`` (2.5 and later) and
Keras's masked ``Softmax`` both give.

Backward (dO the gradient of the output; dropout, if any, multiplies P by a fixed mask D)::

    dV = (P * D)^T dO
    dP = (dO V^T) * D
    dS = P * (dP - rowsum(dP * P))           the softmax Jacobian, row by row
    dQ = scale * dS K,     dK = scale * dS^T Q

Memory: forward keeps P (and the dropout mask), (..., T, S) numbers each, besides the
inputs; the backward makes a few more arrays of that size. Nothing of size T * S * d is made.
"""
from __future__ import annotations

import math
import numbers

from .. import backend
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .activation import softmax
from .elementwise import where
from .linalg import matmul
from .reduction import sum as _sum
from .shape import cast, swapaxes

__all__ = ["ScaledDotProductAttention", "scaled_dot_product_attention", "attention_weights", "causal_mask"]

# A masked score in the differentiable (create_graph) recomputation: finite, so that no
# row gives inf - inf; exp of it underflows to exactly 0 in float32 and float64.
_MASKED = -1e30


def causal_mask(t: int, s: int):
    """The boolean (t, s) array with True where key j <= query i (top-left aligned, as PyTorch)."""
    return xp.tril(xp.ones((t, s), dtype=bool))


def _scores(q, k, scale):
    return (q * q.dtype.type(scale)) @ xp.swapaxes(k, -1, -2)


def _softmax_rows(s):
    """Softmax over the last axis, in place on ``s``; rows of only -inf become 0 (not NaN)."""
    m = s.max(axis=-1, keepdims=True)
    m[~xp.isfinite(m)] = 0  # a fully masked row: exp(-inf - 0) = 0 everywhere
    s -= m
    xp.exp(s, out=s)
    z = s.sum(axis=-1, keepdims=True)
    z[z == 0] = 1
    s /= z
    return s


class ScaledDotProductAttention(Function):
    """O = softmax(scale * Q K^T + mask) V, with dS = P * (dP - rowsum(dP * P)) in backward.

    See the module docstring for the full math. ``allowed``: a boolean array broadcastable to
    (..., T, S) (False = masked) or None; ``bias``: a float array added to the scores or None;
    ``drop``: the dropout multiplier for P (0 or 1/(1-rate)) or None.
    """

    def forward(self, q, k, v, allowed=None, bias=None, scale=1.0, drop=None):
        self.allowed, self.bias, self.scale, self.drop = allowed, bias, scale, drop
        s = _scores(q, k, scale)
        if bias is not None:
            s += bias
        if allowed is not None:
            xp.copyto(s, -xp.inf, where=~allowed)  # broadcasts the mask, no copy of s
        p = _softmax_rows(s)
        self.p = p
        pd = p if drop is None else p * drop
        return pd @ v

    def backward(self, g):
        q, k, v = self.inputs
        need = self.needs_input_grad
        scale = self.scale
        if not is_grad_enabled():
            # Plain arrays: the cheap path when no graph of the gradient is wanted.
            p, drop, go = self.p, self.drop, g.data
            pd = p if drop is None else p * drop
            dv = Tensor._wrap(xp.swapaxes(pd, -1, -2) @ go) if need[2] else None
            if not (need[0] or need[1]):
                return None, None, dv
            dp = go @ xp.swapaxes(v.data, -1, -2)
            if drop is not None:
                dp *= drop
            ds = dp
            ds -= xp.einsum("...ij,...ij->...i", dp, p)[..., None]  # rowsum(dP * P), no (T, T) temporary
            ds *= p
            ds *= ds.dtype.type(scale)
            dq = Tensor._wrap(ds @ k.data) if need[0] else None
            dk = Tensor._wrap(xp.swapaxes(ds, -1, -2) @ q.data) if need[1] else None
            return dq, dk, dv
        # create_graph: the same formulas in Tensor ops, with P recomputed from Q and K so that
        # the gradient is itself differentiable in Q, K, V and dO.
        p = attention_weights(q, k, self.allowed, self.bias, scale)
        drop = None if self.drop is None else Tensor._wrap(self.drop)
        pd = p if drop is None else p * drop
        dv = matmul(swapaxes(pd, -1, -2), g) if need[2] else None
        if not (need[0] or need[1]):
            return None, None, dv
        dp = matmul(g, swapaxes(v, -1, -2))
        if drop is not None:
            dp = dp * drop
        ds = p * (dp - _sum(dp * p, axis=-1, keepdims=True)) * scale
        dq = matmul(ds, k) if need[0] else None
        dk = matmul(swapaxes(ds, -1, -2), q) if need[1] else None
        return dq, dk, dv


def attention_weights(q: Tensor, k: Tensor, allowed=None, bias=None, scale=1.0) -> Tensor:
    """P = softmax(scale * Q K^T + bias) with masked scores removed, from differentiable Tensor ops.

    Fully masked rows are 0. Used by the differentiable backward of ``ScaledDotProductAttention``
    and by layers that return the attention scores.
    """
    s = matmul(q, swapaxes(k, -1, -2)) * scale
    if bias is not None:
        s = s + Tensor._wrap(xp.asarray(bias, dtype=s.data.dtype))
    if allowed is None:
        return softmax(s, axis=-1)
    p = softmax(where(Tensor._wrap(xp.broadcast_to(allowed, s.shape)), s, _MASKED), axis=-1)
    row_any = xp.any(allowed, axis=-1, keepdims=True)
    if not row_any.all():
        p = p * Tensor._wrap(row_any.astype(s.data.dtype))
    return p


def _float(name: str, x) -> Tensor:
    x = ensure_tensor(x)
    if x.data.dtype.kind != "f":
        if x.data.dtype.kind not in "iub":
            raise TypeError(f"scaled_dot_product_attention: {name} must be numeric, got dtype {x.data.dtype}")
        x = Tensor._wrap(x.data.astype(backend.floatx_dtype()))
    return x


def prepare_mask(mask, causal: bool, t: int, s: int, score_shape, dtype, who="scaled_dot_product_attention"):
    """``(allowed, bias)`` from a user mask and the causal flag; checks that the mask broadcasts."""
    allowed = bias = None
    if mask is not None:
        m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
        try:
            xp.broadcast_shapes(m.shape, tuple(score_shape))
        except ValueError:
            raise ValueError(
                f"{who}: mask of shape {m.shape} does not broadcast to the scores' shape {tuple(score_shape)} "
                "(..., queries, keys)") from None
        if m.dtype == bool:
            allowed = m
        elif m.dtype.kind == "f":
            bias = m.astype(dtype, copy=False)
        else:
            raise TypeError(f"{who}: mask must be boolean (True = attend) or floating (added), got dtype {m.dtype}")
    if causal:
        c = causal_mask(t, s)
        allowed = c if allowed is None else xp.logical_and(allowed, c)
    return allowed, bias


def scaled_dot_product_attention(q, k, v, mask=None, causal: bool = False, dropout: float = 0.0, scale=None,
                                 training: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v over the last two axes: q (..., T, d), k (..., S, d), v (..., S, d_v).

    Usually (batch, heads, T, d). ``mask``: boolean, True = may attend (PyTorch's boolean
    ``attn_mask`` and Keras's ``attention_mask`` convention), or floating (added to the scores),
    broadcastable to (..., T, S). ``causal``: key j is seen by query i only if j <= i.
    ``dropout``: rate of dropout on the attention weights, applied only when ``training``
    (unlike PyTorch's ``dropout_p``, which applies whenever it is nonzero). ``scale``: default
    1/sqrt(d). A fully masked query row gives output 0. See ``ScaledDotProductAttention``.
    """
    q, k, v = _float("q", q), _float("k", k), _float("v", v)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(
            f"scaled_dot_product_attention: q, k, v must have the same rank >= 2 (..., T, d), got shapes "
            f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[:-2] != k.shape[:-2] or q.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            f"scaled_dot_product_attention: q, k, v must share their leading axes, got shapes "
            f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"scaled_dot_product_attention: q {q.shape} and k {k.shape} must have the same last axis (d)")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: k {k.shape} and v {v.shape} must have the same number of keys")
    dtype = q.data.dtype
    if k.data.dtype != dtype:
        k = cast(k, dtype)
    if v.data.dtype != dtype:
        v = cast(v, dtype)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    elif not isinstance(scale, numbers.Real):
        raise TypeError(f"scaled_dot_product_attention: scale must be a number or None, got {scale!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout must be a number in [0, 1), got {dropout!r}")
    t, s = q.shape[-2], k.shape[-2]
    score_shape = q.shape[:-1] + (s,)
    allowed, bias = prepare_mask(mask, causal, t, s, score_shape, dtype)
    drop = None
    if training and dropout > 0:
        keep = backend.rng().random(score_shape) >= dropout
        drop = keep.astype(dtype) * dtype.type(1.0 / (1.0 - dropout))
    return ScaledDotProductAttention.apply(q, k, v, allowed=allowed, bias=bias, scale=float(scale), drop=drop)
