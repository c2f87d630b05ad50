"""Group normalization (Wu & He, 2018): the channels are split into G groups of C/G consecutive
channels, and each sample is normalized with the mean and (biased) variance of each group,
taken over the group's channels and every spatial position.

groups = 1 is layer normalization over all non-batch axes (with per-channel gamma and beta);
groups = C is instance normalization. The fused ``GroupNorm`` Function states the math.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from ..backend import xp
from .elementwise import sqrt
from .nn import _float_tensor
from .normalization import _epsilon, _param, _prod
from .reduction import mean as _mean, normalize_axis, sum as _sum
from .shape import reshape

__all__ = ["group_norm"]


class GroupNorm(Function):
    """Group normalization with a per-channel affine map.

    x is read as v of shape (N, M, C, P): M the positions before the channel axis, P those after it
    (channels last: P = 1; channels first: M = 1). Group k of sample n is S(n, k) = every (m, c, p)
    with c in the k-th block of C/G channels; it has n_S = M (C/G) P elements.

        mu = mean_S v,   s = 1 / sqrt(mean_S (v - mu)^2 + eps),   xhat = (v - mu) s
        y = gamma[c] xhat + beta[c]

    Backward, with g = dL/dy and d = gamma[c] g (= dL/dxhat):

        dL/dbeta[c]  = sum_{n,m,p} g
        dL/dgamma[c] = sum_{n,m,p} g xhat
        dL/dv        = s (d - mean_S d - xhat mean_S(d xhat))

    The per-channel sums are ``einsum`` contractions over (m, p), folded into the groups; NumPy's
    strided ``mean(axis=...)`` over a 5-D view is about ten times slower. With grad mode on
    (``create_graph=True``) backward rebuilds xhat from x with Tensor ops, so it is differentiable.
    """

    def forward(self, x, *params, groups, eps, has_gamma, has_beta, view):
        n, m, c, p = view
        self.groups, self.eps, self.view = groups, eps, view
        self.has_gamma, self.has_beta = has_gamma, has_beta
        v = x.reshape(view)
        count = m * (c // groups) * p
        mu = self._to_channels(self._fold(xp.einsum("nmcp->nc", v)) / count)
        xc = v - mu[:, None, :, None]
        var = self._fold(xp.einsum("nmcp,nmcp->nc", xc, xc)) / count
        invstd = self._to_channels(1.0 / xp.sqrt(var + x.dtype.type(eps)))
        xc *= invstd[:, None, :, None]
        self.xhat, self.invstd = xc, invstd
        it = iter(params)
        gamma = next(it) if has_gamma else None
        beta = next(it) if has_beta else None
        y = xc * gamma[:, None] if gamma is not None else xc.copy()
        if beta is not None:
            y += beta[:, None]
        return y.reshape(x.shape)

    def _fold(self, per_channel):
        """(N, C) per-channel sums -> (N, G) per-group sums."""
        n, c = per_channel.shape
        return per_channel.reshape(n, self.groups, c // self.groups).sum(axis=-1)

    def _to_channels(self, per_group):
        """(N, G) -> (N, C), each group's value repeated over its channels."""
        return xp.repeat(per_group, self.view[2] // self.groups, axis=1)

    def backward(self, g):
        if is_grad_enabled():
            return self._backward_graph(g)
        need = self.needs_input_grad
        n, m, c, p = self.view
        g4 = g.data.reshape(self.view)
        xhat = self.xhat
        it = iter(self.inputs[1:])
        gamma = next(it).data if self.has_gamma else None
        out = [None]
        # Per-(sample, channel) sums of g and g * xhat, each one pass, shared by every gradient:
        # sum(g gamma) = gamma sum(g), and gamma's and beta's gradients are their sums over samples.
        need_sums = need[0] or any(need[1:])
        g_sum = xp.einsum("nmcp->nc", g4) if need_sums else None
        gx_sum = xp.einsum("nmcp,nmcp->nc", g4, xhat) if need_sums else None
        if need[0]:
            d, sum_d, sum_dx = g4, g_sum, gx_sum
            if gamma is not None:
                d, sum_d, sum_dx = g4 * gamma[:, None], g_sum * gamma, gx_sum * gamma
            count = m * (c // self.groups) * p
            mean_d = self._to_channels(self._fold(sum_d) / count)
            mean_dx = self._to_channels(self._fold(sum_dx) / count)
            dx = xhat * mean_dx[:, None, :, None]
            dx += mean_d[:, None, :, None]
            xp.subtract(d, dx, out=dx)
            dx *= self.invstd[:, None, :, None]
            out[0] = Tensor._wrap(dx.reshape(g.shape))
        k = 1
        if self.has_gamma:
            out.append(Tensor._wrap(gx_sum.sum(axis=0)) if need[k] else None)
            k += 1
        if self.has_beta:
            out.append(Tensor._wrap(g_sum.sum(axis=0)) if need[k] else None)
        return tuple(out)

    def _backward_graph(self, g):
        """The same formulas with Tensor ops on the (N, M, G, C/G, P) view (differentiable again)."""
        x = self.inputs[0]
        n, m, c, p = self.view
        shape5 = (n, m, self.groups, c // self.groups, p)
        stat = (1, 3, 4)
        it = iter(self.inputs[1:])
        gamma = next(it) if self.has_gamma else None
        x5 = reshape(x, shape5)
        xc = x5 - _mean(x5, stat, keepdims=True)
        invstd = 1.0 / sqrt(_mean(xc * xc, stat, keepdims=True) + self.eps)
        xhat = xc * invstd
        g5 = reshape(g, shape5)
        d = g5 * reshape(gamma, (1, 1, self.groups, c // self.groups, 1)) if gamma is not None else g5
        dx = invstd * (d - _mean(d, stat, keepdims=True) - xhat * _mean(d * xhat, stat, keepdims=True))
        out = [reshape(dx, x.shape)]
        if self.has_gamma:
            out.append(reshape(_sum(g5 * xhat, (0, 1, 4)), (c,)))
        if self.has_beta:
            out.append(reshape(_sum(g5, (0, 1, 4)), (c,)))
        return tuple(out)


def group_norm(x, groups: int, gamma=None, beta=None, epsilon: float = 1e-3, axis: int = -1) -> Tensor:
    """Group normalization of ``x`` (batch first) with the channels on ``axis`` (-1: channels_last,
    as Keras's GroupNormalization; 1: channels_first, as PyTorch's ``F.group_norm``), split into
    ``groups`` groups of consecutive channels. ``gamma``/``beta``: per-channel scale and offset of
    shape (C,), or None. Keras's epsilon default is 1e-3 (PyTorch's 1e-5). Math: ``GroupNorm``.
    """
    x = _float_tensor("group_norm", x)
    if x.ndim < 2:
        raise ValueError(f"group_norm: needs an input (batch, ..., channels) of rank >= 2, got shape {x.shape}")
    (ax,) = normalize_axis("group_norm", axis, x.ndim)
    if ax == 0:
        raise ValueError(f"group_norm: axis {axis} is the batch axis (input shape {x.shape})")
    c = x.shape[ax]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or c % groups:
        raise ValueError(f"group_norm: groups must be a positive divisor of the {c} channels on axis {axis} "
                         f"(input shape {x.shape}), got {groups!r}")
    n, m, p = x.shape[0], _prod(x.shape[1:ax]), _prod(x.shape[ax + 1:])
    if n == 0 or m * p == 0:
        raise ValueError(f"group_norm: cannot normalize an empty input (shape {x.shape})")
    eps = _epsilon("group_norm", epsilon)
    dtype = x.data.dtype
    gamma = _param("group_norm", "gamma", gamma, (c,), dtype)
    beta = _param("group_norm", "beta", beta, (c,), dtype)
    params = [reshape(t, (c,)) for t in (gamma, beta) if t is not None]
    return GroupNorm.apply(x, *params, groups=groups, eps=eps, has_gamma=gamma is not None,
                           has_beta=beta is not None, view=(n, m, c, p))
