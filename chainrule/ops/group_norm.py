"""Group normalization (Wu & He, 2018): the channels are split into G groups of C/G consecutive
channels, and each sample is normalized with the mean and (biased) variance of each group,
taken over the group's channels and every spatial position.

With x viewed as (N, pre, G, C/G, post) -- ``pre``/``post`` the axes before/after the channel
axis, batch excluded -- and S = the axes (pre, C/G, post) of one group of one sample:

    xhat = (x - mean_S x) / sqrt(var_S x + eps),    y = gamma[c] xhat + beta[c]

Backward (d = gamma g, P = the axes gamma is broadcast over: N, pre, post):

    dL/dx = s (d - mean_S d - xhat mean_S(d xhat)),  s = 1 / sqrt(var_S x + eps)
    dL/dgamma = sum_P g xhat,   dL/dbeta = sum_P g

This is the same fused ``AffineNormalize`` Function that batch and layer normalization use
(``ops.normalization``), with S and P as above: its closed-form backward avoids a dozen graph
nodes, and its Tensor-op branch makes the gradient differentiable again.
groups = 1 is layer normalization over all non-batch axes (with per-channel gamma and beta);
groups = C is instance normalization.
"""
from __future__ import annotations

from ..autograd.tensor import Tensor
from .nn import _float_tensor
from .normalization import _epsilon, _Layout, _normalize, _param, _prod
from .reduction import normalize_axis
from .shape import reshape

__all__ = ["group_norm"]


def group_norm(x, groups: int, gamma=None, beta=None, epsilon: float = 1e-3, axis: int = -1) -> Tensor:
    """Group normalization of ``x`` (batch first) with the channels on ``axis`` (-1: channels_last,
    as Keras's GroupNormalization; 1: channels_first, as PyTorch's ``F.group_norm``), split into
    ``groups`` groups. ``gamma``/``beta``: per-channel scale and offset of shape (C,), or None.
    Keras's epsilon default is 1e-3 (PyTorch's 1e-5). The math is in the module docstring.
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
    n, pre, post = x.shape[0], _prod(x.shape[1:ax]), _prod(x.shape[ax + 1:])
    if n == 0 or pre * post == 0:
        raise ValueError(f"group_norm: cannot normalize an empty input (shape {x.shape})")
    eps = _epsilon("group_norm", epsilon)
    dtype = x.data.dtype
    gamma = _param("group_norm", "gamma", gamma, (c,), dtype)
    beta = _param("group_norm", "beta", beta, (c,), dtype)
    view = (n, pre, groups, c // groups, post)
    layout = _Layout(view, stat_axes=(1, 3, 4), param_axes=(0, 1, 4))
    y, _, _ = _normalize(reshape(x, view), gamma, beta, layout, eps)
    return reshape(y, x.shape)
