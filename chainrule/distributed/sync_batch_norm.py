"""Synchronized batch normalization: the statistics of the global batch, over all ranks.

``BatchNormalization(synchronized=True)`` (Keras's argument) calls ``sync_batch_norm`` in
training when more than one process runs (the layer finds this module in ``sys.modules``;
the layers never import chainrule.distributed). With one process it is plain batch norm.

With rank r holding n_r samples of the global batch (n = sum_r n_r), per feature:

    mu  = (1/n) sum_r sum_{i in r} x_i                       (one all-reduce)
    var = (1/n) sum_r sum_{i in r} (x_i - mu)^2              (a second all-reduce; biased, as Keras)
    y   = gamma (x - mu) / sqrt(var + eps) + beta

so the N ranks compute exactly what one process computes on the whole global batch. The
graph is made of ordinary differentiable ops and one collective op, ``AllReduceSum``.

The gradient through the all-reduce. The training objective is L = sum_s w_s L_s, with
w_s = n_s / n the share of rank s (DistributedOptimizer sums w_r G_r over the ranks, G_r being
rank r's computed gradient). The all-reduce makes z = sum_r z_r, which every rank's loss
reads; so dL/dz_r = sum_s w_s dL_s/dz, and rank r must hand (1/w_r) of it to its own graph:

    backward(u_r) = (1/w_r) * allreduce_sum(w_r * u_r)       (u_r = dL_r/dz on rank r)

which is again an all-reduce, so the op stays differentiable twice. Every rank runs the same
layers in the same order, so the collectives match.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..ops.elementwise import sqrt
from ..ops.reduction import normalize_axis, sum as _sum
from ..ops.shape import reshape
from . import comm


def _share() -> float:
    """This rank's share w_r of the current global batch (1/N outside fit)."""
    return comm.gradient_share if comm.gradient_share is not None else 1.0 / comm.size()


class AllReduceSum(Function):
    """z = sum_r x_r over the ranks (every rank gets z).

    Backward on rank r, with w_r its share of the global batch:
    dL/dx_r = (1/w_r) allreduce_sum(w_r g_r), since the objective weighs rank s's loss by w_s.
    """

    def forward(self, x):
        out = np.array(x, copy=True)
        return comm.allreduce_(out, "sum")

    def backward(self, g):
        w = _share()
        return AllReduceSum.apply(g * w) * (1.0 / w)


def active() -> bool:
    return comm.active()


def sync_batch_norm(x, moving_mean, moving_variance, gamma=None, beta=None, momentum=0.99, epsilon=1e-3,
                    axis=-1) -> Tensor:
    """Training-mode batch normalization with the mean and variance of the batch over all ranks;
    the moving statistics are updated with them (the same on every rank)."""
    feat = normalize_axis("sync_batch_norm", axis, x.ndim)
    stat_axes = tuple(i for i in range(x.ndim) if i not in feat)
    bshape = tuple(x.shape[i] if i in feat else 1 for i in range(x.ndim))
    count = np.array([float(np.prod([x.shape[a] for a in stat_axes]))])
    n = comm.allreduce_(count, "sum")[0]
    dtype = x.data.dtype
    mu = AllReduceSum.apply(_sum(x, axis=stat_axes, keepdims=True)) * dtype.type(1.0 / n)
    d = x - mu
    var = AllReduceSum.apply(_sum(d * d, axis=stat_axes, keepdims=True)) * dtype.type(1.0 / n)
    y = d / sqrt(var + dtype.type(epsilon))
    if gamma is not None:
        y = y * reshape(gamma, bshape)
    if beta is not None:
        y = y + reshape(beta, bshape)
    for moving, batch in ((moving_mean, mu), (moving_variance, var)):
        if moving is not None:
            arr = moving.data if isinstance(moving, Tensor) else moving
            arr *= momentum
            arr += (batch.data.reshape(arr.shape) * (1.0 - momentum)).astype(arr.dtype, copy=False)
    return y
