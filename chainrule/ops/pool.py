"""Max and average pooling in any number of spatial dimensions, as differentiable ops.

Max pooling routes each output's gradient to its window's arg-max (the first maximum
on ties, as PyTorch); its backward is linear in the incoming gradient, so its own
backward is a gather at the same arg-max positions (``MaxPoolGather``). Average
pooling is linear: its backward spreads ``g / count`` over the window, and the
adjoint of that spreading is average pooling again. Array work: ``pool_kernels``.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import _state
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .conv_geometry import _from_channels_last, _ntuple, _to_channels_last, resolve_padding
from .pool_kernels import (_PoolGeometry, avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward,
                           max_pool_values)
from .reduction import max as _max
from .reduction import mean as _mean


class MaxPool(Function):
    """y[n, o, c] = max_{k in window} x_p[n, o*s + k, c].

    dL/dx_p[n, o*s + k*, c] += dL/dy[n, o, c] at the window's arg-max k* (first one on ties), else 0.
    """

    def forward(self, x, cfg):
        self.cfg = cfg
        y, self.argmax = max_pool_forward(x, *cfg)
        return y

    def backward(self, g):
        (x,) = self.inputs
        return MaxPoolGrad.apply(g, argmax=self.argmax, x_shape=x.shape, cfg=self.cfg)


class MaxPoolGrad(Function):
    """z = scatter of g to the arg-max positions (max pooling's backward); linear in g.

    dL/dg[n, o, c] = dL/dz_p[n, o*s + k*, c]  (a gather at the same positions).
    """

    def forward(self, g, argmax, x_shape, cfg):
        self.argmax, self.cfg = argmax, cfg
        return max_pool_backward(g, argmax, x_shape, *cfg)

    def backward(self, gz):
        return MaxPoolGather.apply(gz, argmax=self.argmax, cfg=self.cfg)


class MaxPoolGather(Function):
    """y[n, o, c] = z_p[n, o*s + k*, c] with k* the stored arg-max (the adjoint of MaxPoolGrad).

    dL/dz = scatter of dL/dy to the arg-max positions (MaxPoolGrad).
    """

    def forward(self, z, argmax, cfg):
        self.argmax, self.cfg = argmax, cfg
        pool_size, strides, padding, data_format = cfg
        zl = _to_channels_last(z, data_format, "max_pool")
        am = _to_channels_last(argmax, data_format, "max_pool")
        geo = _PoolGeometry("max_pool", zl.shape, pool_size, strides, padding)
        zp = geo.pad(zl, 0)
        y = xp.zeros(geo.y_shape, dtype=z.dtype)
        for i, view in enumerate(geo.views(zp)):
            hit = am == i
            y[hit] = zp[view][hit]
        return _from_channels_last(y, data_format)

    def backward(self, gy):
        (z,) = self.inputs
        return MaxPoolGrad.apply(gy, argmax=self.argmax, x_shape=z.shape, cfg=self.cfg)


class AvgPool(Function):
    """y[n, o, c] = (1/count[o]) sum_{k in window} x_p[n, o*s + k, c]  (count: real, unpadded elements).

    dL/dx_p[n, o*s + k, c] += dL/dy[n, o, c] / count[o] for every k in the window.
    """

    def forward(self, x, cfg, count_include_pad):
        self.cfg, self.cip = cfg, count_include_pad
        pool_size, strides, padding, data_format = cfg
        return avg_pool_forward(x, pool_size, strides, padding, count_include_pad, data_format)

    def backward(self, g):
        (x,) = self.inputs
        return AvgPoolGrad.apply(g, x_shape=x.shape, cfg=self.cfg, count_include_pad=self.cip)


class AvgPoolGrad(Function):
    """z = average pooling's backward (spread g / count over each window); linear in g.

    Its adjoint is average pooling itself: dL/dg = avg_pool(dL/dz).
    """

    def forward(self, g, x_shape, cfg, count_include_pad):
        self.cfg, self.cip = cfg, count_include_pad
        pool_size, strides, padding, data_format = cfg
        return avg_pool_backward(g, x_shape, pool_size, strides, padding, count_include_pad, data_format)

    def backward(self, gz):
        return AvgPool.apply(gz, cfg=self.cfg, count_include_pad=self.cip)


def _pool_cfg(op, x, pool_size, strides, padding, data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    if x.ndim < 3:
        raise ValueError(f"{op}: input must be (N, *spatial, C) with at least one spatial dim, got shape {x.shape}")
    nd = x.ndim - 2
    pool = _ntuple(pool_size, nd, "pool_size", op)
    strides = pool if strides is None else _ntuple(strides, nd, "strides", op)
    spatial = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    resolve_padding(padding, spatial, pool, strides, 1, op)     # bad padding: an error that names the op
    return (pool, strides, padding, data_format)


def max_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last") -> Tensor:
    r"""N-D max pooling; ``strides`` defaults to ``pool_size``; padding "valid", "same" or explicit.

    Math:
        $$y_{\mathbf t, c} = \max_{\mathbf i \in \text{window}} x_{\mathbf s \odot \mathbf t + \mathbf i,\, c}, \qquad \frac{\partial y_{\mathbf t, c}}{\partial x_{\mathbf j, c}} = [\mathbf j = \operatorname{argmax}]$$
    """
    x = ensure_tensor(x)
    cfg = _pool_cfg("max_pool", x, pool_size, strides, padding, data_format)
    if not (x.requires_grad and _state.enabled):     # no graph: skip the arg-max (inference)
        return Tensor._wrap(max_pool_values(x.data, *cfg))
    return MaxPool.apply(x, cfg=cfg)


def avg_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last",
             count_include_pad=False) -> Tensor:
    r"""N-D average pooling; with padding, the average counts only real elements (Keras), unless
    ``count_include_pad=True`` (PyTorch's AvgPool default).

    Math:
        $$y_{\mathbf t, c} = \frac{1}{\lvert W_{\mathbf t} \rvert} \sum_{\mathbf j \in W_{\mathbf t}} x_{\mathbf j, c}, \qquad \frac{\partial y_{\mathbf t, c}}{\partial x_{\mathbf j, c}} = \frac{[\mathbf j \in W_{\mathbf t}]}{\lvert W_{\mathbf t} \rvert}$$
    """
    x = ensure_tensor(x)
    if x.dtype.kind != "f":
        x = Tensor(x.data)
    cfg = _pool_cfg("avg_pool", x, pool_size, strides, padding, data_format)
    return AvgPool.apply(x, cfg=cfg, count_include_pad=bool(count_include_pad))


def _spatial_axes(op, x, data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    if x.ndim < 3:   # no spatial axis: the reduction would silently return the input
        raise ValueError(f"{op}: input must be (N, *spatial, C) with at least one spatial dim, got shape {x.shape}")
    return tuple(range(1, x.ndim - 1)) if data_format == "channels_last" else tuple(range(2, x.ndim))


def global_avg_pool(x, data_format="channels_last", keepdims=False) -> Tensor:
    """y[n, c] = mean over all spatial positions of x[n, ..., c]."""
    x = ensure_tensor(x)
    return _mean(x, axis=_spatial_axes("global_avg_pool", x, data_format), keepdims=keepdims)


def global_max_pool(x, data_format="channels_last", keepdims=False) -> Tensor:
    """y[n, c] = max over all spatial positions of x[n, ..., c] (ties share the gradient evenly)."""
    x = ensure_tensor(x)
    return _max(x, axis=_spatial_axes("global_max_pool", x, data_format), keepdims=keepdims)


__all__ = ["avg_pool", "global_avg_pool", "global_max_pool", "max_pool"]
