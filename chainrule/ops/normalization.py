"""Batch and layer normalization: one fused ``Function``, ``AffineNormalize``, for both.

It keeps the normalized input and applies the closed-form input gradient (three
reductions instead of a dozen nodes; derivation in docs/batch_normalization.md).
Its backward is written with Tensor ops, so ``create_graph=True`` differentiates
it again; where it runs with grad mode off (the ordinary case) it takes a NumPy
fast path on the arrays saved by forward.

Keras's conventions are used where Keras and PyTorch differ: ``momentum`` is the
weight of the old moving statistic (Keras 0.99 = PyTorch 0.01), the moving
variance is updated with the biased batch variance (PyTorch uses the unbiased
one), and ``epsilon`` defaults to 1e-3 (PyTorch: 1e-5).
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .elementwise import sqrt
from .nn import _float_tensor, _match_dtype
from .reduction import mean as _mean, normalize_axis, sum as _sum
from .shape import reshape

__all__ = ["batch_norm", "layer_norm"]


class AffineNormalize(Function):
    """Normalization with the statistics of the input itself, then a per-feature affine map.

    With mu, var the mean and (biased) variance of x over the statistic axes S (N elements each),
    s = 1 / sqrt(var + eps):

        xhat = (x - mu) s,   y = gamma xhat + beta     (gamma, beta broadcast; either may be absent)

    Backward, with g = dL/dy and d = gamma g (= dL/dxhat), P the axes gamma/beta are broadcast over:

        dL/dbeta  = sum_P g
        dL/dgamma = sum_P g xhat
        dL/dx     = s (d - mean_S d - xhat mean_S(d xhat))

    Batch normalization has S = P (gamma is constant over S, so the sums are shared:
    dL/dx = (gamma s / N)(N g - sum_S g - xhat sum_S g xhat)); layer normalization has S and P
    the other way round. ``forward`` receives xhat and s, computed by the caller (``_normalize``).
    """

    def forward(self, x, *params, xhat, invstd, layout, has_gamma, has_beta, eps):
        self.xhat, self.invstd, self.layout = xhat, invstd, layout
        self.has_gamma, self.has_beta, self.eps = has_gamma, has_beta, eps
        it = iter(params)
        gamma = next(it) if has_gamma else None
        beta = next(it) if has_beta else None
        lay = layout
        if gamma is None and beta is None:
            return xhat.copy()
        if lay.wide is not None:
            xh = lay.rows(xhat)
            y = xh * lay.tile(gamma) if gamma is not None else xh.copy()
            if beta is not None:
                y += lay.tile(beta)
            return y.reshape(x.shape)
        y = xhat * gamma.reshape(lay.bshape) if gamma is not None else xhat.copy()
        if beta is not None:
            y += beta.reshape(lay.bshape)
        return y

    def _params(self):
        it = iter(self.inputs[1:])
        gamma = next(it) if self.has_gamma else None
        beta = next(it) if self.has_beta else None
        return gamma, beta

    def backward(self, g):
        if is_grad_enabled():
            return self._backward_graph(g)
        return self._backward_arrays(g.data)

    def _backward_arrays(self, g):
        """The same formulas on ndarrays (grad mode is off: no graph is being built)."""
        gamma_t, _ = self._params()
        lay, xhat, invstd, need = self.layout, self.xhat, self.invstd, self.needs_input_grad
        S, P, n = lay.stat_axes, lay.param_axes, lay.n
        gamma = gamma_t.data if gamma_t is not None else None
        dx = None
        if lay.wide is not None:  # batch norm, features trailing: work on (rows, k * C) views
            g2, xh = lay.rows(g), lay.rows(xhat)
            sum_g = lay.fold(g2.sum(axis=0))
            sum_gx = lay.fold(xp.einsum("ij,ij->j", g2, xh))
            if need[0]:
                dx = xh * lay.tile(sum_gx / n)
                dx += lay.tile(sum_g / n)
                xp.subtract(g2, dx, out=dx)
                scale = invstd.reshape(-1) if gamma is None else gamma.reshape(-1) * invstd.reshape(-1)
                dx *= lay.tile(scale)
                dx = dx.reshape(g.shape)
            gg, gb = sum_gx, sum_g
        elif lay.last is not None:  # layer norm over the trailing axes: work on (samples, features) views
            m, c = lay.last
            g2, xh = g.reshape(m, c), xhat.reshape(m, c)
            if need[0]:
                d = g2 * gamma.reshape(-1) if gamma is not None else g2
                mean_d = xp.einsum("ij->i", d)[:, None] / n
                mean_dx = xp.einsum("ij,ij->i", d, xh)[:, None] / n
                dx = xh * mean_dx
                dx += mean_d
                xp.subtract(d, dx, out=dx)
                dx *= invstd.reshape(m, 1)
                dx = dx.reshape(g.shape)
            gg = xp.einsum("ij,ij->j", g2, xh) if self.has_gamma and need[1] else None
            gb = g2.sum(axis=0) if self.has_beta and need[-1] else None
        elif S == P:  # batch norm: gamma is constant over S, the two reductions are shared
            sum_g = g.sum(axis=S, keepdims=True)
            sum_gx = (g * xhat).sum(axis=S, keepdims=True)
            if need[0]:
                dx = xhat * (sum_gx / n)
                dx += sum_g / n
                xp.subtract(g, dx, out=dx)
                dx *= invstd if gamma is None else gamma.reshape(lay.bshape) * invstd
            gg, gb = sum_gx, sum_g
        else:
            if need[0]:
                d = g * gamma.reshape(lay.bshape) if gamma is not None else g
                mean_d = d.mean(axis=S, keepdims=True)
                mean_dx = (d * xhat).mean(axis=S, keepdims=True)
                dx = xhat * mean_dx
                dx += mean_d
                xp.subtract(d, dx, out=dx)
                dx *= invstd
            gg = (g * xhat).sum(axis=P, keepdims=True) if self.has_gamma and need[1] else None
            gb = g.sum(axis=P, keepdims=True) if self.has_beta and need[-1] else None
        out = [None if dx is None else Tensor._wrap(dx)]
        k = 1
        if self.has_gamma:
            out.append(Tensor._wrap(gg.reshape(self.inputs[k].shape)) if need[k] else None)
            k += 1
        if self.has_beta:
            out.append(Tensor._wrap(gb.reshape(self.inputs[k].shape)) if need[k] else None)
        return tuple(out)

    def _backward_graph(self, g):
        """Differentiable backward: xhat and s are rebuilt from x with Tensor ops."""
        x = self.inputs[0]
        gamma, beta = self._params()
        lay = self.layout
        S, P = lay.stat_axes, lay.param_axes
        mu = _mean(x, S, keepdims=True)
        xc = x - mu
        invstd = 1.0 / sqrt(_mean(xc * xc, S, keepdims=True) + self.eps)
        xhat = xc * invstd
        d = g * reshape(gamma, lay.bshape) if gamma is not None else g
        dx = invstd * (d - _mean(d, S, keepdims=True) - xhat * _mean(d * xhat, S, keepdims=True))
        out = [dx]
        if gamma is not None:
            out.append(reshape(_sum(g * xhat, P, keepdims=True), gamma.shape))
        if beta is not None:
            out.append(reshape(_sum(g, P, keepdims=True), beta.shape))
        return tuple(out)


_WIDE_ROW = 1024


class _Layout:
    """Where the statistics and the parameters of a normalization live in the input.

    ``stat_axes`` (S): the axes the mean and variance are taken over (n elements per statistic);
    ``param_axes`` (P): the axes gamma and beta are broadcast over; ``bshape``: the parameters'
    shape, broadcastable against x (length one on P).

    ``wide``: for batch norm with the features on the trailing axes (channels last), x is read
    as a (rows, k * C) matrix, k samples' features on one row, and the per-feature vectors are
    tiled k times. NumPy's inner loops then run over rows of ~1024 elements instead of C (often
    32 or 64), which makes the broadcasts and the column sums about 2x faster.

    ``last``: for layer norm over the trailing axes, x is read as (samples, features) and the
    per-sample sums are ``einsum`` row sums, 3-4x faster than ``sum(axis=-1)`` on short rows.
    """

    def __init__(self, shape, stat_axes, param_axes):
        self.stat_axes, self.param_axes = stat_axes, param_axes
        feat = tuple(i for i in range(len(shape)) if i not in stat_axes)
        self.bshape = tuple(1 if i in param_axes else s for i, s in enumerate(shape))
        self.n = _prod(shape[a] for a in stat_axes)
        self.wide = self.last = None
        nd = len(shape)
        trailing = stat_axes == tuple(range(nd - len(stat_axes), nd))
        if trailing and param_axes == tuple(range(nd - len(stat_axes))) and self.n:
            self.last = (_prod(shape) // self.n, self.n)
        if stat_axes == param_axes and feat == tuple(range(nd - len(feat), nd)):
            c = _prod(shape[a] for a in feat)
            if c and self.n:
                k = max(d for d in range(1, max(1, _WIDE_ROW // c) + 1) if self.n % d == 0)
                self.wide = (self.n // k, k, c)

    def rows(self, a):
        return a.reshape(self.wide[0], -1)

    def tile(self, v):
        return xp.tile(v.reshape(-1), self.wide[1])

    def fold(self, v):
        """A length-(k * C) column sum folded to the C features."""
        return v.reshape(self.wide[1], self.wide[2]).sum(axis=0)


def _normalize(x, gamma, beta, layout, eps):
    """Apply ``AffineNormalize`` with the statistics of ``x``; also return the batch mean and variance."""
    a = x.data
    one_eps = a.dtype.type(eps)
    if layout.wide is not None:
        n = layout.n
        a2 = layout.rows(a)
        mu = layout.fold(a2.sum(axis=0)) / n
        xc = a2 - layout.tile(mu)
        var = layout.fold(xp.einsum("ij,ij->j", xc, xc)) / n
        invstd = 1.0 / xp.sqrt(var + one_eps)
        xc *= layout.tile(invstd)
        xhat = xc.reshape(a.shape)
        mu, var, invstd = (v.reshape(layout.bshape) for v in (mu, var, invstd))
    elif layout.last is not None:
        m, c = layout.last
        kept = tuple(1 if i in layout.stat_axes else s for i, s in enumerate(a.shape))
        a2 = a.reshape(m, c)
        mu = xp.einsum("ij->i", a2)[:, None] / c
        xc = a2 - mu
        var = xp.einsum("ij,ij->i", xc, xc)[:, None] / c
        invstd = 1.0 / xp.sqrt(var + one_eps)
        xc *= invstd
        xhat = xc.reshape(a.shape)
        mu, var, invstd = (v.reshape(kept) for v in (mu, var, invstd))
    else:
        S = layout.stat_axes
        mu = a.mean(axis=S, keepdims=True)
        xc = a - mu
        var = (xc * xc).mean(axis=S, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + one_eps)
        xc *= invstd
        xhat = xc
    params = [p for p in (gamma, beta) if p is not None]
    y = AffineNormalize.apply(
        x, *params, xhat=xhat, invstd=invstd, layout=layout, has_gamma=gamma is not None,
        has_beta=beta is not None, eps=eps,
    )
    return y, mu, var


def _param(op, name, p, shape, dtype):
    if p is None:
        return None
    p = ensure_tensor(p)
    if p.data.dtype.kind != "f":
        p = Tensor._wrap(p.data.astype(dtype))
    if p.size != _prod(shape):
        raise ValueError(
            f"{op}: {name} has shape {p.shape}, expected {shape} (the sizes of the normalized feature axes)"
        )
    return _match_dtype(p, dtype)


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _epsilon(op, epsilon):
    epsilon = float(epsilon)
    if not epsilon > 0:
        raise ValueError(f"{op}: epsilon must be > 0, got {epsilon}")
    return epsilon


def batch_norm(x, moving_mean, moving_variance, gamma=None, beta=None, training: bool = False,
               momentum: float = 0.99, epsilon: float = 1e-3, axis=-1) -> Tensor:
    r"""Batch normalization over the feature ``axis`` (int or tuple; Keras's BatchNormalization).

    Training: y = gamma (x - mu_B) / sqrt(var_B + epsilon) + beta with the batch's mean and biased
    variance over every axis but ``axis``, and the moving statistics are updated in place:
    moving = momentum * moving + (1 - momentum) * batch (Keras: the biased variance too;
    PyTorch's running_var takes the unbiased one, and its ``momentum`` is 1 - this one).
    ``moving_mean``/``moving_variance`` may be None in training (no update).

    Inference: the same with the moving statistics, which are constants here; gradients still
    flow to ``x``, ``gamma`` and ``beta``.

    The statistics' shape is that of ``x`` on the feature axes, e.g. (C,) for ``axis=-1``.

    Math:
        $$\hat x = \frac{x - \mu_B}{\sqrt{\sigma_B^{2} + \epsilon}}, \qquad y = \gamma \hat x + \beta$$

        $$\frac{\partial L}{\partial x} = \frac{\gamma}{m\sqrt{\sigma_B^{2} + \epsilon}}\Bigl(m\,\bar y - \textstyle\sum \bar y - \hat x \sum \bar y \odot \hat x\Bigr)$$

        over the $m$ values of a feature in the batch (training; inference uses the moving averages).
    """
    x = _float_tensor("batch_norm", x)
    feat = normalize_axis("batch_norm", axis, x.ndim)
    if x.ndim == 0 or not feat:
        raise ValueError(f"batch_norm: needs an input with a feature axis, got shape {x.shape}")
    stat_axes = tuple(i for i in range(x.ndim) if i not in feat)
    pshape = tuple(x.shape[a] for a in feat)
    bshape = tuple(x.shape[i] if i in feat else 1 for i in range(x.ndim))
    eps = _epsilon("batch_norm", epsilon)
    momentum = float(momentum)
    dtype = x.data.dtype
    gamma = _param("batch_norm", "gamma", gamma, pshape, dtype)
    beta = _param("batch_norm", "beta", beta, pshape, dtype)
    stats = []
    for name, m in (("moving_mean", moving_mean), ("moving_variance", moving_variance)):
        if m is None:
            if not training:
                raise ValueError(f"batch_norm: {name} is needed in inference (training=False)")
            stats.append(None)
            continue
        arr = m.data if isinstance(m, Tensor) else m
        if not isinstance(arr, xp.ndarray) or arr.size != _prod(pshape):
            raise ValueError(
                f"batch_norm: {name} must be an array of shape {pshape} (the feature axes of the input {x.shape}), "
                f"got {getattr(arr, 'shape', type(arr).__name__)}"
            )
        stats.append(arr)
    mm, mv = stats

    if training:
        if _prod(x.shape[a] for a in stat_axes) == 0:
            raise ValueError(f"batch_norm: cannot take batch statistics of an empty batch (input shape {x.shape})")
        y, mu, var = _normalize(x, gamma, beta, _Layout(x.shape, stat_axes, stat_axes), eps)
        for moving, batch in ((mm, mu), (mv, var)):
            if moving is not None:
                moving *= momentum
                moving += (batch.reshape(moving.shape) * (1.0 - momentum)).astype(moving.dtype, copy=False)
        return y

    # Inference: y = x * scale + shift, scale = gamma / sqrt(moving_var + eps), shift = beta - moving_mean * scale.
    inv = 1.0 / xp.sqrt(mv.reshape(bshape).astype(dtype) + dtype.type(eps))
    mm_b = mm.reshape(bshape).astype(dtype)
    if gamma is None:
        scale = Tensor._wrap(inv)
    else:
        scale = reshape(gamma, bshape) * Tensor._wrap(inv)
    shift = Tensor._wrap(-mm_b) * scale
    if beta is not None:
        shift = shift + reshape(beta, bshape)
    return x * scale + shift


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon: float = 1e-3) -> Tensor:
    r"""Layer normalization over ``axis`` (int or tuple): each sample is normalized with its own
    mean and biased variance over those axes, then y = gamma xhat + beta, with gamma and beta of
    the normalized axes' shape (Keras's LayerNormalization; its epsilon 1e-3, PyTorch's 1e-5).
    The same in training and inference.

    Math:
        $$\hat x = \frac{x - \mu}{\sqrt{\sigma^{2} + \epsilon}}, \qquad y = \gamma \hat x + \beta$$

        with $\mu, \sigma^{2}$ over the normalized axes of each sample; the gradient has batch normalization's form over those axes.
    """
    x = _float_tensor("layer_norm", x)
    axes = normalize_axis("layer_norm", axis, x.ndim)
    if x.ndim == 0 or not axes:
        raise ValueError(f"layer_norm: needs an input with at least one axis to normalize, got shape {x.shape}")
    if _prod(x.shape[a] for a in axes) == 0:
        raise ValueError(f"layer_norm: cannot normalize over empty axes (input shape {x.shape}, axis {axis})")
    pshape = tuple(x.shape[a] for a in axes)
    bshape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
    eps = _epsilon("layer_norm", epsilon)
    dtype = x.data.dtype
    gamma = _param("layer_norm", "gamma", gamma, pshape, dtype)
    beta = _param("layer_norm", "beta", beta, pshape, dtype)
    param_axes = tuple(i for i in range(x.ndim) if i not in axes)
    y, _, _ = _normalize(x, gamma, beta, _Layout(x.shape, axes, param_axes), eps)
    return y
