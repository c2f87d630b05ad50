"""Convolution in any number of spatial dimensions, as differentiable ops.

Three Functions close the algebra (see docs/convolution.md). For
``y = conv(x, w)`` the loss pairing is ``<conv(x, w), g>``, bilinear in x and w:

* ``Conv``:           y = conv(x, w)
* ``ConvInputGrad``:  z = conv^T(g, w), the adjoint of conv in x (a transposed convolution)
* ``ConvWeightGrad``: v = wgrad(x, g), the adjoint of conv in w

From ``<conv(x, w), g> = <x, conv^T(g, w)> = <w, wgrad(x, g)>`` each one's
gradients are the other two, so backward of backward (gradient penalties,
``gradgradcheck``) works through a convolution. The array work is in
``conv_kernels`` (im2col/GEMM on strided views, any number of dimensions).
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor, ensure_tensor
from .conv_kernels import (
    _ntuple, conv_forward, conv_max_pool_forward, conv_input_grad, conv_transpose_placement, conv_weight_grad, relu_grad, resolve_padding,
)
from .elementwise import relu as relu_op
from .indexing import pad as pad_op
from .pool import max_pool
from .shape import reshape, sum_to

_FORMATS = ("channels_last", "channels_first")


class Conv(Function):
    """y[n, o, m] = sum_{k, c} x_p[n, o*s + k*d, c] w[k, c, m]   (cross-correlation, per group).

    dL/dx = conv^T(dL/dy, w)  (ConvInputGrad);   dL/dw = wgrad(x, dL/dy)  (ConvWeightGrad).
    """

    def forward(self, x, w, cfg):
        self.cfg = cfg
        return conv_forward(x, w, *cfg)

    def backward(self, g):
        x, w = self.inputs
        nx, nw = self.needs_input_grad
        gx = ConvInputGrad.apply(g, w, x_shape=x.shape, cfg=self.cfg) if nx else None
        gw = ConvWeightGrad.apply(x, g, w_shape=w.shape, cfg=self.cfg) if nw else None
        return gx, gw


class ConvBias(Function):
    """y = act(z),  z[n, o, m] = conv(x, w)[n, o, m] + b[m],  act = identity or relu.

    The bias and the relu are applied to each block of the GEMM output while it is in cache
    (``conv_forward``'s epilogue), not as two more passes over the output.
    dL/dz = dL/dy * [y > 0] for relu (0 at z = 0, as PyTorch), else dL/dy;
    dL/dx = conv^T(dL/dz, w);  dL/dw = wgrad(x, dL/dz);  dL/db[m] = sum_{n, o} dL/dz[n, o, m].
    """

    def forward(self, x, w, b, cfg, relu):
        self.cfg, self.relu = cfg, relu
        if relu:
            self.save_output()
        return conv_forward(x, w, *cfg, bias=b, relu=relu)

    def backward(self, g):
        x, w, b = self.inputs
        if self.relu:
            if is_grad_enabled():          # create_graph: the product is recorded (differentiable in g)
                g = g * Tensor._wrap((self.output.data > 0).astype(g.dtype))
            else:
                g = Tensor._wrap(relu_grad(g.data, self.output.data))
        nx, nw, nb = self.needs_input_grad
        gx = ConvInputGrad.apply(g, w, x_shape=x.shape, cfg=self.cfg) if nx else None
        gw = ConvWeightGrad.apply(x, g, w_shape=w.shape, cfg=self.cfg) if nw else None
        gb = None
        if nb:
            c = b.shape[0]
            if self.cfg[-1] == "channels_last":
                gb = sum_to(g, (c,))
            else:
                gb = reshape(sum_to(g, (c,) + (1,) * (g.ndim - 2)), (c,))
        return gx, gw, gb


class ConvInputGrad(Function):
    """z = conv^T(g, w):  z_p[n, i, c] = sum_{(o, k): o*s + k*d = i} sum_m g[n, o, m] w[k, c, m].

    Linear in g and in w:  dL/dg = conv(dL/dz, w);  dL/dw = wgrad(dL/dz, g).
    Also the forward of a transposed convolution layer.
    """

    def forward(self, g, w, x_shape, cfg):
        self.cfg = cfg
        return conv_input_grad(g, w, x_shape, *cfg)

    def backward(self, gz):
        g, w = self.inputs
        ng, nw = self.needs_input_grad
        dg = Conv.apply(gz, w, cfg=self.cfg) if ng else None
        dw = ConvWeightGrad.apply(gz, g, w_shape=w.shape, cfg=self.cfg) if nw else None
        return dg, dw


class ConvWeightGrad(Function):
    """v[k, c, m] = sum_{n, o} x_p[n, o*s + k*d, c] g[n, o, m].

    Linear in x and in g:  dL/dx = conv^T(g, dL/dv);  dL/dg = conv(x, dL/dv).
    """

    def forward(self, x, g, w_shape, cfg):
        self.cfg = cfg
        return conv_weight_grad(x, g, w_shape, *cfg)

    def backward(self, gv):
        x, g = self.inputs
        nx, ng = self.needs_input_grad
        dx = ConvInputGrad.apply(g, gv, x_shape=x.shape, cfg=self.cfg) if nx else None
        dg = Conv.apply(x, gv, cfg=self.cfg) if ng else None
        return dx, dg


def _spatial(shape, data_format):
    return tuple(shape[1:-1]) if data_format == "channels_last" else tuple(shape[2:])


def _check_format(op, data_format):
    if data_format not in _FORMATS:
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")


def _check_bias(b: Tensor, c: int, op) -> Tensor:
    if b.shape != (c,):
        raise ValueError(f"{op}: bias must have shape ({c},) for {c} output channels, got {b.shape}")
    return b


def _add_bias(y: Tensor, b, data_format, op):
    if b is None:
        return y
    c = y.shape[-1] if data_format == "channels_last" else y.shape[1]
    b = _check_bias(ensure_tensor(b, like=y), c, op)
    if data_format == "channels_first":
        b = reshape(b, (c,) + (1,) * (y.ndim - 2))
    return y + b


def conv(x, w, b=None, strides=1, padding="valid", dilation=1, groups=1, data_format="channels_last",
         activation=None) -> Tensor:
    r"""N-D convolution (any number of spatial dims), Keras layouts.

    x: (N, *spatial, C_in) (or (N, C_in, *spatial) with ``data_format="channels_first"``);
    w: (*kernel_size, C_in // groups, filters); b: (filters,) or None.
    ``padding``: "valid", "same" (output = ceil(in / stride), extra padding on the high side,
    as Keras), an int, one int per spatial dim, or one (lo, hi) pair per spatial dim.
    ``activation``: None, or "relu" to fuse ``relu(conv(x, w) + b)`` into one op (the same
    numbers and gradients, fewer passes over the output; see ``ConvBias``).

    Math:
        $$y_{\mathbf t, f} = b_f + \sum_{\mathbf i} \sum_{c} x_{\mathbf s \odot \mathbf t + \mathbf d \odot \mathbf i,\, c}\; w_{\mathbf i, c, f}$$

        $$\frac{\partial L}{\partial w_{\mathbf i, c, f}} = \sum_{\mathbf t} \bar y_{\mathbf t, f}\, x_{\mathbf s \odot \mathbf t + \mathbf d \odot \mathbf i,\, c}, \qquad \frac{\partial L}{\partial x} = \operatorname{conv\_transpose}(\bar y, w)$$
    """
    x, w, b, cfg, relu = _conv_args("conv", x, w, b, strides, padding, dilation, groups, data_format, activation)
    if b is not None:
        return ConvBias.apply(x, w, b, cfg=cfg, relu=relu)
    y = Conv.apply(x, w, cfg=cfg)
    return relu_op(y) if relu else y


def _conv_args(op, x, w, b, strides, padding, dilation, groups, data_format, activation):
    """``conv``'s arguments checked and resolved: ``(x, w, b, cfg, relu)``."""
    _check_format(op, data_format)
    if activation not in (None, "linear", "relu"):
        raise ValueError(f"{op}: activation must be None, 'linear' or 'relu' (fused), got {activation!r}")
    x, w = ensure_tensor(x), ensure_tensor(w)
    if x.ndim < 3 or w.ndim != x.ndim:
        raise ValueError(
            f"{op}: x must be (N, *spatial, C) and w (*kernel, C_in // groups, filters) with the same number "
            f"of spatial dims; got x {x.shape} and w {w.shape}"
        )
    if w.dtype != x.dtype and x.dtype.kind != "f":
        x = Tensor._wrap(x.data.astype(w.dtype))
    nd = x.ndim - 2
    spatial = _spatial(x.shape, data_format)
    kernel = tuple(w.shape[:nd])
    strides = _ntuple(strides, nd, "strides", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    pads = resolve_padding(padding, spatial, kernel, strides, dilation, op)
    if b is not None:
        b = _check_bias(ensure_tensor(b, like=x), w.shape[-1], op)
    return x, w, b, (strides, pads, dilation, int(groups), data_format), activation == "relu"


def conv_max_pool(x, w, b=None, pool_size=2, strides=1, padding="valid", dilation=1, groups=1,
                  data_format="channels_last", activation=None) -> Tensor:
    r"""``max_pool(act(conv(x, w) + b), pool_size)`` -- a convolution and the max pooling after it.

    The pooling is "valid", with strides equal to ``pool_size`` (``MaxPooling2D()``'s default);
    the other arguments are ``conv``'s. While a graph is recorded this is exactly those two ops
    (and their gradients). Without one (inference: ``cr.no_grad()``, ``predict``) it runs as
    one pass (``conv_max_pool_forward``): each block of the convolution's output is pooled
    while it is still in cache, then the bias and relu run on the pooled values, which is
    exact because both are non-decreasing and so commute with max. ``Sequential`` models use
    it for a ``Conv*D`` followed by such a ``MaxPooling*D`` when no graph is recorded.

    Math:
        $$z_{\mathbf q, f} = \max_{\mathbf 0 \le \mathbf k < \mathbf p} \operatorname{act}(y_{\mathbf p \odot \mathbf q + \mathbf k,\, f} + b_f) = \operatorname{act}\Big(\max_{\mathbf k} y_{\mathbf p \odot \mathbf q + \mathbf k,\, f} + b_f\Big), \qquad y = \operatorname{conv}(x, w)$$

        Gradients (recorded as the two ops): those of ``conv`` and of ``max_pool``.
    """
    x, w, b, cfg, relu = _conv_args("conv_max_pool", x, w, b, strides, padding, dilation, groups, data_format,
                                    activation)
    if is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, w, b)):
        y = conv(x, w, b, strides, padding, dilation, groups, data_format, activation)
        return max_pool(y, pool_size, None, "valid", data_format)
    strides, pads, dilation, groups, data_format = cfg
    z = conv_max_pool_forward(x.data, w.data, pool_size, strides, pads, dilation, groups, data_format,
                              bias=None if b is None else b.data, relu=relu)
    return Tensor._wrap(z)


def conv_transpose(x, w, b=None, strides=1, padding="valid", output_padding=None, dilation=1, groups=1,
                   data_format="channels_last") -> Tensor:
    """N-D transposed convolution (the gradient of ``conv`` with respect to its input), Keras layouts.

    x: (N, *spatial, C_in); w: (*kernel_size, filters // groups, C_in) — Keras's Conv2DTranspose
    kernel. Output size per dim (Keras's ``deconv_output_length``), with ``dk = (k - 1)*d + 1``:
    ``in*stride + max(dk - stride, 0)`` for "valid", ``in*stride`` for "same", and with
    ``output_padding`` ``(in - 1)*stride + dk - lo - hi + output_padding`` (``lo = hi = dk // 2``
    for "same", 0 for "valid", PyTorch's for ints).

    ``y[t] = full[lo + t]``, where ``full`` is the uncropped transposed convolution
    (``(in - 1)*stride + dk`` positions, zeros beyond) and ``lo`` is, for "same", TensorFlow's
    low "same" padding of a conv from the output size back to the input, as Keras computes it
    (with or without ``output_padding``; see ``conv_transpose_placement``), or the low padding
    given. ``0 <= output_padding < max(stride, dilation)`` in each dim (PyTorch's rule).
    """
    _check_format("conv_transpose", data_format)
    x, w = ensure_tensor(x), ensure_tensor(w)
    if x.ndim < 3 or w.ndim != x.ndim:
        raise ValueError(f"conv_transpose: x {x.shape} and w {w.shape} need the same number of spatial dims")
    nd = x.ndim - 2
    spatial = _spatial(x.shape, data_format)
    c_in = x.shape[-1] if data_format == "channels_last" else x.shape[1]
    if w.shape[-1] != c_in:
        raise ValueError(
            f"conv_transpose: kernel {w.shape} expects {w.shape[-1]} input channels (its last axis), "
            f"input has {c_in}"
        )
    groups = int(groups)
    if groups < 1 or c_in % groups:
        raise ValueError(f"conv_transpose: input channels {c_in} of x {x.shape} are not divisible by groups={groups}")
    kernel = tuple(w.shape[:nd])
    strides = _ntuple(strides, nd, "strides", "conv_transpose")
    dilation = _ntuple(dilation, nd, "dilation", "conv_transpose")
    out_spatial, pads, computed = conv_transpose_placement(spatial, kernel, strides, padding, dilation,
                                                           output_padding, "conv_transpose")
    c_out = w.shape[-2] * groups
    n = x.shape[0]
    shape = (n,) + computed + (c_out,) if data_format == "channels_last" else (n, c_out) + computed
    cfg = (strides, pads, dilation, groups, data_format)
    y = ConvInputGrad.apply(x, w, x_shape=shape, cfg=cfg)
    if computed != out_spatial:      # output_padding past the last window (dilation > stride): zeros
        extra = [(0, o - c) for o, c in zip(out_spatial, computed)]
        y = pad_op(y, [(0, 0)] + extra + [(0, 0)] if data_format == "channels_last" else [(0, 0), (0, 0)] + extra)
    return _add_bias(y, b, data_format, "conv_transpose")
