"""The ops behind the core layers: linear, dropout, embedding.

Each is a fused ``Function`` where the unfused graph would cost extra passes
over the data: ``linear`` is one GEMM plus an in-place bias add; the embedding
gradient is a sort-and-segment-sum scatter-add, which accumulates repeated
indices. Batch and layer normalization are in ``normalization``.

Every backward is written with Tensor ops (or Functions that have their own
backward), so ``create_graph=True`` differentiates it again.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..autograd.function import Function
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .linalg import matmul
from .reduction import sum as _sum
from .shape import cast, reshape, transpose

__all__ = ["linear", "dropout", "embedding"]


def _float_tensor(op: str, x, like=None) -> Tensor:
    """``x`` as a floating Tensor: integer/bool data becomes ``like``'s float dtype (or floatx)."""
    x = ensure_tensor(x)
    kind = x.data.dtype.kind
    if kind == "f":
        return x
    if kind not in "iub":
        raise TypeError(f"{op}: expected a numeric tensor, got dtype {x.data.dtype}")
    dtype = like.data.dtype if like is not None and like.data.dtype.kind == "f" else backend.floatx_dtype()
    return Tensor._wrap(x.data.astype(dtype))


def _match_dtype(x: Tensor, dtype) -> Tensor:
    return x if x.data.dtype == dtype else cast(x, dtype)


# ------------------------------------------------------------------------------------------ linear
class Linear(Function):
    """y = x W + b, with x of shape (..., in), W of shape (in, out), b of shape (out,).

    The leading axes of x are flattened into one (M = their product), so this is a
    single (M, in) @ (in, out) GEMM with the bias added in place.

    dL/dx = g W^T;  dL/dW = x^T g (x and g flattened to (M, in), (M, out));  dL/db = sum_m g_m.
    """

    def forward(self, x, w, b=None):
        self.x_shape = x.shape
        lead = x.shape[:-1]
        y = x.reshape(-1, x.shape[-1]) @ w
        if b is not None:
            y += b
        return y.reshape(lead + (w.shape[1],))

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = Linear.apply(g, transpose(w)) if need[0] else None
        gw = gb = None
        if need[1] or (len(need) > 2 and need[2]):
            g2 = reshape(g, (-1, g.shape[-1]))
            if need[1]:
                gw = matmul(transpose(reshape(x, (-1, x.shape[-1]))), g2)
            if len(need) > 2 and need[2]:
                gb = _sum(g2, axis=0)
        return (gx, gw) if len(need) == 2 else (gx, gw, gb)


def linear(x, kernel, bias=None) -> Tensor:
    r"""y = x @ kernel + bias over the last axis of ``x`` (Keras's Dense; PyTorch's ``F.linear``
    with its weight transposed: here ``kernel`` has shape (in_features, out_features)).

    ``x``: (..., in); ``kernel``: (in, out); ``bias``: (out,) or None. An integer ``x`` is cast to
    the kernel's dtype, a float ``x`` of another precision too (differentiably).

    Math:
        $$y = xW + b, \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} W^{\top}, \quad \frac{\partial L}{\partial W} = x^{\top} \frac{\partial L}{\partial y}, \quad \frac{\partial L}{\partial b} = \textstyle\sum_{\text{rows}} \frac{\partial L}{\partial y}$$
    """
    kernel = ensure_tensor(kernel)
    x = _float_tensor("linear", x, like=kernel)
    if kernel.ndim != 2:
        raise ValueError(f"linear: kernel must be 2-D (in_features, out_features), got shape {kernel.shape}")
    if x.ndim == 0:
        raise ValueError("linear: input must have at least one dimension, got a 0-d tensor")
    if x.shape[-1] != kernel.shape[0]:
        raise ValueError(
            f"linear: input of shape {x.shape} has {x.shape[-1]} features on its last axis, "
            f"but the kernel of shape {kernel.shape} expects {kernel.shape[0]}"
        )
    x = _match_dtype(x, kernel.data.dtype)
    if bias is None:
        return Linear.apply(x, kernel)
    bias = _match_dtype(ensure_tensor(bias, like=kernel), kernel.data.dtype)
    if bias.shape != (kernel.shape[1],):
        raise ValueError(
            f"linear: bias must have shape ({kernel.shape[1]},) to match the kernel {kernel.shape}, got {bias.shape}"
        )
    return Linear.apply(x, kernel, bias)


# ------------------------------------------------------------------------------------------ dropout
class Dropout(Function):
    """y = x * m, with the mask m = keep / (1 - rate) fixed in forward (keep ~ Bernoulli(1 - rate)).

    Inverted dropout: E[y] = x, so inference needs no rescaling.  dL/dx = g * m.
    """

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, g):
        return g * Tensor._wrap(self.mask)


def _generator(seed):
    if seed is None:
        return backend.rng()
    if isinstance(seed, xp.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return xp.random.default_rng(int(seed))
    raise TypeError(f"dropout: seed must be None, a non-negative int or a numpy Generator, got {seed!r}")


def _check_rate(op: str, rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"{op}: rate must be a number in [0, 1), got {rate!r}")
    return float(rate)


def dropout(x, rate: float, training: bool = True, noise_shape=None, seed=None) -> Tensor:
    r"""Inverted dropout: in training, each element is zeroed with probability ``rate`` and the
    survivors are scaled by 1 / (1 - rate); otherwise ``x`` is returned unchanged.

    ``training`` defaults to True, as PyTorch's ``F.dropout`` (the ``Dropout`` layer defaults to
    inference, as Keras's). ``noise_shape`` (Keras): the mask's shape, broadcast against ``x``
    (None entries take ``x``'s size), e.g. ``(batch, 1, features)`` drops whole features.
    ``seed``: None (the library's generator, ``cr.manual_seed``), an int (a fresh generator:
    the same mask on every call) or a ``numpy.random.Generator``.

    Math:
        $$y = \frac{m \odot x}{1 - r}, \ \ m_i \sim \operatorname{Bernoulli}(1 - r), \qquad \frac{\partial y}{\partial x} = \frac{m}{1 - r}, \quad \mathbb{E}[y] = x$$
    """
    rate = _check_rate("dropout", rate)
    x = _float_tensor("dropout", x)
    if not training or rate == 0.0:
        return x
    shape = x.shape
    if noise_shape is not None:
        noise_shape = tuple(noise_shape)
        if len(noise_shape) != x.ndim:
            raise ValueError(f"dropout: noise_shape {noise_shape} must have one entry per axis of the input {x.shape}")
        shape = tuple(s if n is None else int(n) for n, s in zip(noise_shape, x.shape))
        if any(n not in (1, s) for n, s in zip(shape, x.shape)):
            raise ValueError(f"dropout: noise_shape {noise_shape} does not broadcast to the input shape {x.shape}")
    rng = _generator(seed)
    dtype = x.data.dtype
    u = rng.random(shape, dtype=dtype if dtype in (xp.float32, xp.float64) else xp.float64)
    # keep * 1/(1 - rate) in one pass, into u's memory when the dtypes agree (the same numbers as
    # casting keep to floats and scaling them: a product with 1 or 0).
    keep = u >= rate
    scale = dtype.type(1.0 / (1.0 - rate))
    mask = xp.multiply(keep, scale, out=u) if u.dtype == dtype else xp.multiply(keep, scale, dtype=dtype)
    return Dropout.apply(x, mask=mask)


# ------------------------------------------------------------------------------------------ embedding
_LEVELS = 8


def _scatter_rows(g2, flat, num_rows):
    """zeros((num_rows, D)) with row g2[p] added at row flat[p]; repeated rows accumulate.

    The indices are sorted, so equal ones form runs. The k-th element of every run
    (k < 8) is added with one fancy-indexed ``+=`` per k: within one k the rows are
    distinct, so nothing is lost to NumPy's buffering. What is left of longer runs (a
    frequent token) is summed run by run. NumPy's own ``np.add.at`` and
    ``np.add.reduceat`` along axis 0 are 3-5x slower on a batch of token gradients.
    """
    out = xp.zeros((num_rows, g2.shape[1]), dtype=g2.dtype)
    m = flat.size
    if m == 0:
        return out
    order = xp.argsort(flat, kind="stable")
    s = flat[order]
    starts = xp.flatnonzero(xp.concatenate(([True], s[1:] != s[:-1])))
    counts = xp.diff(xp.append(starts, m))
    rows = s[starts]
    out[rows] = g2[order[starts]]
    for k in range(1, _LEVELS):
        more = counts > k
        if not more.any():
            return out
        out[rows[more]] += g2[order[starts[more] + k]]
    for i in xp.flatnonzero(counts > _LEVELS):
        a = starts[i]
        out[rows[i]] += g2[order[a + _LEVELS : a + counts[i]]].sum(axis=0)
    return out


class Embedding(Function):
    """y[p] = table[indices[p]] (a row lookup), for every position p of ``indices``.

    dL/dtable[v] = sum of g[p] over the positions p with indices[p] = v (a scatter-add;
    a row used twice gets both gradients).
    """

    def forward(self, table, indices):
        self.indices = indices
        self.num_rows = table.shape[0]
        return xp.take(table, indices, axis=0)

    def backward(self, g):
        return EmbeddingGrad.apply(g, indices=self.indices, num_rows=self.num_rows)


class EmbeddingGrad(Function):
    """y = zeros((num_rows, D)) with g[p] added at row indices[p] (the adjoint of ``Embedding``).

    dL/dg[p] = (dL/dy)[indices[p]]: the lookup again.
    """

    def forward(self, g, indices, num_rows):
        self.indices = indices
        return _scatter_rows(g.reshape(-1, g.shape[-1]), indices.reshape(-1), num_rows)

    def backward(self, gy):
        return Embedding.apply(gy, indices=self.indices)


def embedding(indices, table) -> Tensor:
    r"""Rows of ``table`` (shape (input_dim, output_dim)) at the integer ``indices`` (any shape):
    the result has shape indices.shape + (output_dim,). PyTorch's ``F.embedding(indices, table)``.

    Indices must be integers in [0, input_dim); a float array of whole numbers is accepted.

    Math:
        $$y_{\dots} = E_{i_{\dots}, :}, \qquad \frac{\partial L}{\partial E_{r,:}} = \sum_{\text{positions with } i = r} \frac{\partial L}{\partial y_{\dots}}$$
    """
    table = ensure_tensor(table)
    if table.ndim != 2:
        raise ValueError(f"embedding: table must be 2-D (input_dim, output_dim), got shape {table.shape}")
    if table.data.dtype.kind != "f":
        raise TypeError(f"embedding: table must be floating, got dtype {table.data.dtype}")
    idx = check_indices("embedding", indices, table.shape[0])
    return Embedding.apply(table, indices=idx)


def check_indices(op: str, indices, input_dim: int):
    """``indices`` as an integer ndarray with every value in [0, input_dim), else a ValueError naming ``op``."""
    idx = indices.data if isinstance(indices, Tensor) else xp.asarray(indices)
    kind = idx.dtype.kind
    if kind == "f":
        if idx.size and not xp.all(idx == xp.floor(idx)):
            bad = idx.ravel()[xp.flatnonzero(idx.ravel() != xp.floor(idx.ravel()))[0]]
            raise ValueError(f"{op}: indices must be whole numbers, got {bad!r}")
        idx = idx.astype(xp.int64)
    elif kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= input_dim:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{op}: index {int(bad)} is out of range [0, {input_dim}) for input_dim={input_dim}")
    return idx
