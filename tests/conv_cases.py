"""The tables of convolution and pooling cases for ``test_conv_ops.py``, and NumPy references.

Each table row is one computation of a ``chainrule.functional`` conv/pool function, named by
``op``. ``test_conv_ops.py`` runs every row against PyTorch (values and the gradients of
x, w and b, float64 and float32, both data formats) and every ``GRADCHECK_CASES`` row
through ``cr.gradcheck`` / ``cr.gradgradcheck``; ``test_ops_coverage.py`` checks that
every conv/pool function of ``F`` has rows in both. Shapes are kept tiny.

Shapes in the tables are PyTorch's: x ``(N, C, *spatial)``, a conv weight
``(C_out, C_in // groups, *kernel)``, a transposed conv weight ``(C_in, C_out // groups, *kernel)``.
The tests convert to chainrule's (Keras's) layouts with ``keras_kernel``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


def keras_kernel(w):
    """PyTorch ``(A, B, *kernel)`` -> Keras ``(*kernel, B, A)``: conv weights (A = C_out, B = C_in // groups)
    and transposed conv weights (A = C_in, B = C_out // groups) alike."""
    return np.ascontiguousarray(np.asarray(w).transpose(*range(2, np.ndim(w)), 1, 0))


def torch_kernel(wk):
    """The inverse of ``keras_kernel``: ``(*kernel, B, A)`` -> ``(A, B, *kernel)``."""
    nd = np.ndim(wk) - 2
    return np.ascontiguousarray(np.asarray(wk).transpose(nd + 1, nd, *range(nd)))


def tf_same_pads(in_spatial, kernel, strides, dilation):
    """TensorFlow/Keras "same": ``ceil(in / s)`` outputs, the odd padding element on the high side."""
    pairs = []
    for i, k, s, d in zip(in_spatial, kernel, strides, dilation):
        out = -(-i // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - i, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def keras_deconv_length(size, kernel, stride, padding, output_padding=None, dilation=1):
    """Keras's ``deconv_output_length``: a transposed convolution's output size in one dim."""
    dk = (kernel - 1) * dilation + 1
    if output_padding is None:
        return size * stride + max(dk - stride, 0) if padding == "valid" else size * stride
    pad = dk // 2 if padding == "same" else 0
    return (size - 1) * stride + dk - 2 * pad + output_padding


def ntuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def torch_pad(pairs):
    """((lo, hi), ...) per spatial dim -> torch.nn.functional.pad's flat list (last dim first)."""
    return [v for lo_hi in reversed(tuple(pairs)) for v in lo_hi]


def torch_pool(torch, kind, x, pool, strides=None, padding="valid", count_include_pad=False):
    """PyTorch's reference for chainrule's pooling (``kind`` "max" or "avg", x channels_first): native
    symmetric padding; for "same" (TensorFlow's rule) and (lo, hi) pairs, F.pad with -inf (max) or
    zeros (avg, then divided by the number of real elements unless count_include_pad, as Keras)."""
    tf = torch.nn.functional
    nd = x.ndim - 2
    pool = ntuple(pool, nd)
    s = pool if strides is None else ntuple(strides, nd)
    fn = getattr(tf, f"{kind}_pool{nd}d")
    native = padding == "valid" or isinstance(padding, int) or all(isinstance(p, int) for p in padding)
    if native:
        pad = 0 if padding == "valid" else padding
        return fn(x, pool, s, pad) if kind == "max" else fn(x, pool, s, pad, count_include_pad=count_include_pad)
    pairs = tf_same_pads(x.shape[2:], pool, s, (1,) * nd) if padding == "same" else padding
    if kind == "max":
        return fn(tf.pad(x, torch_pad(pairs), value=-float("inf")), pool, s)
    sums = fn(tf.pad(x, torch_pad(pairs)), pool, s)
    if count_include_pad:
        return sums
    return sums / fn(tf.pad(torch.ones_like(x), torch_pad(pairs)), pool, s)


# ------------------------------------------------------------------------------------------ tables
@dataclass(frozen=True)
class ConvCase:
    id: str
    x: tuple                 # (N, C_in, *spatial)
    w: tuple                 # (C_out, C_in // groups, *kernel)
    strides: object = 1
    padding: object = "valid"
    dilation: object = 1
    groups: int = 1
    bias: bool = True
    op: str = "conv"


CONV_CASES = [
    # 1-D
    ConvCase("1d_valid", (2, 3, 9), (4, 3, 3)),
    ConvCase("1d_stride2_int_pad_nobias", (2, 3, 10), (4, 3, 4), strides=2, padding=1, bias=False),
    ConvCase("1d_same_odd", (2, 3, 9), (5, 3, 5), padding="same"),
    ConvCase("1d_same_dilated", (2, 2, 10), (3, 2, 3), padding="same", dilation=2),
    ConvCase("1d_same_stride2", (2, 3, 9), (4, 3, 3), strides=2, padding="same"),
    ConvCase("1d_causal_dilated", (2, 2, 8), (3, 2, 3), padding="causal", dilation=2),
    ConvCase("1d_groups_pairs", (2, 4, 9), (6, 2, 3), padding=((2, 1),), groups=2),
    ConvCase("1d_depthwise", (2, 4, 9), (4, 1, 3), padding="same", groups=4),
    # 2-D
    ConvCase("2d_valid", (2, 3, 7, 6), (4, 3, 3, 3)),
    ConvCase("2d_same_nobias", (2, 3, 7, 6), (4, 3, 3, 3), padding="same", bias=False),
    ConvCase("2d_same_even_kernel", (2, 2, 6, 7), (3, 2, 2, 4), padding="same"),
    ConvCase("2d_same_stride2", (2, 3, 7, 8), (4, 3, 3, 3), strides=2, padding="same"),
    ConvCase("2d_strides_tuple_pad_tuple", (2, 3, 8, 7), (5, 3, 3, 2), strides=(2, 1), padding=(1, 0)),
    ConvCase("2d_pairs_dilated", (2, 3, 7, 7), (4, 3, 3, 3), padding=((1, 0), (0, 2)), dilation=(2, 1)),
    ConvCase("2d_dilation_int_pad", (2, 3, 8, 8), (4, 3, 3, 3), padding=2, dilation=2),
    ConvCase("2d_groups_small", (2, 6, 6, 5), (4, 3, 3, 3), padding="same", groups=2),
    ConvCase("2d_groups_large", (2, 10, 5, 6), (4, 5, 3, 3), groups=2),
    ConvCase("2d_depthwise_stride2", (2, 4, 6, 6), (4, 1, 3, 3), strides=2, padding="same", groups=4),
    ConvCase("2d_depthwise_multiplier", (2, 3, 6, 5), (6, 1, 3, 3), groups=3, bias=False),
    # 3-D
    ConvCase("3d_same", (2, 2, 5, 4, 5), (3, 2, 3, 3, 3), padding="same"),
    ConvCase("3d_stride_pad_dilation", (2, 3, 5, 6, 4), (4, 3, 2, 3, 2), strides=(2, 1, 2), padding=1,
             dilation=(1, 2, 1)),
    ConvCase("3d_depthwise_same_stride2", (1, 4, 4, 5, 4), (4, 1, 3, 2, 3), strides=2, padding="same", groups=4),
    ConvCase("3d_groups_nobias", (2, 4, 4, 4, 4), (6, 2, 2, 2, 2), groups=2, bias=False),
]


@dataclass(frozen=True)
class ConvMaxPoolCase:
    """``max_pool(act(conv(x, w) + b), pool)``: ``F.conv_max_pool``, compared with PyTorch's three ops."""
    id: str
    x: tuple
    w: tuple
    pool: object = 2
    strides: object = 1
    padding: object = "valid"
    dilation: object = 1
    groups: int = 1
    activation: object = "relu"
    bias: bool = True
    op: str = "conv_max_pool"


CONV_MAX_POOL_CASES = [
    ConvMaxPoolCase("1d_same_pool3_crops", (2, 3, 10), (4, 3, 3), pool=3, padding="same"),
    ConvMaxPoolCase("2d_one_channel", (2, 1, 9, 8), (4, 1, 3, 3)),
    ConvMaxPoolCase("2d_linear_nobias", (2, 3, 7, 8), (5, 3, 3, 2), pool=(2, 3), activation=None, bias=False),
    ConvMaxPoolCase("2d_strided_dilated", (2, 2, 11, 11), (3, 2, 3, 3), strides=2, dilation=(1, 2)),
    ConvMaxPoolCase("2d_groups", (2, 4, 7, 7), (4, 2, 3, 3), groups=2),
    ConvMaxPoolCase("3d_same", (1, 2, 5, 4, 6), (3, 2, 3, 3, 3), pool=(2, 1, 3), padding="same"),
]


@dataclass(frozen=True)
class ConvTransposeCase:
    id: str
    x: tuple                 # (N, C_in, *spatial)
    w: tuple                 # (C_in, C_out // groups, *kernel)
    strides: object = 1
    padding: object = "valid"
    output_padding: object = None
    dilation: object = 1
    groups: int = 1
    bias: bool = True
    keras_out: tuple = None  # Keras's output spatial size, for the string paddings
    op: str = "conv_transpose"


CONV_TRANSPOSE_CASES = [
    ConvTransposeCase("1d_valid_stride2", (2, 3, 5), (3, 4, 3), strides=2, keras_out=(11,)),
    ConvTransposeCase("1d_valid_kernel_below_stride", (2, 3, 5), (3, 2, 2), strides=3, keras_out=(15,)),
    ConvTransposeCase("1d_int_pad_output_padding", (2, 3, 6), (3, 2, 4), strides=3, padding=2, output_padding=2),
    ConvTransposeCase("2d_valid_stride2", (2, 3, 4, 5), (3, 4, 3, 3), strides=2, keras_out=(9, 11)),
    ConvTransposeCase("2d_same_stride2_k4", (2, 3, 4, 4), (3, 2, 4, 4), strides=2, padding="same", keras_out=(8, 8)),
    ConvTransposeCase("2d_same_stride2_k3", (2, 3, 4, 5), (3, 2, 3, 3), strides=2, padding="same",
                      keras_out=(8, 10)),
    ConvTransposeCase("2d_same_stride1_nobias", (2, 3, 5, 5), (3, 4, 3, 3), padding="same", bias=False,
                      keras_out=(5, 5)),
    ConvTransposeCase("2d_same_output_padding", (2, 3, 4, 4), (3, 2, 3, 3), strides=2, padding="same",
                      output_padding=1, keras_out=(8, 8)),
    # "same" with output_padding: Keras's size, TensorFlow's placement (odd and even kernels, strides,
    # dilation, every allowed output_padding); the "valid" ones and ints as PyTorch.
    ConvTransposeCase("1d_same_k3_s2_op0", (2, 2, 5), (2, 3, 3), strides=2, padding="same", output_padding=0,
                      keras_out=(9,)),
    ConvTransposeCase("1d_same_k4_s2_op1", (2, 2, 5), (2, 3, 4), strides=2, padding="same", output_padding=1,
                      keras_out=(9,)),
    ConvTransposeCase("1d_same_k4_s3_op2", (2, 2, 4), (2, 3, 4), strides=3, padding="same", output_padding=2,
                      keras_out=(11,)),
    ConvTransposeCase("1d_same_k5_s3_op1_nobias", (2, 2, 4), (2, 3, 5), strides=3, padding="same",
                      output_padding=1, bias=False, keras_out=(11,)),
    ConvTransposeCase("1d_same_k2_s1_d3_op2", (2, 2, 5), (2, 3, 2), padding="same", output_padding=2, dilation=3,
                      keras_out=(6,)),
    ConvTransposeCase("1d_same_k1_s1_d2_op1_past_the_window", (2, 2, 5), (2, 3, 1), padding="same",
                      output_padding=1, dilation=2, keras_out=(6,)),
    ConvTransposeCase("1d_valid_k3_s1_d2_op1", (2, 2, 5), (2, 3, 3), output_padding=1, dilation=2, keras_out=(10,)),
    ConvTransposeCase("1d_int_pad_d3_op2_past_the_window", (2, 2, 5), (2, 3, 3), padding=1, output_padding=2,
                      dilation=3),
    ConvTransposeCase("2d_same_mixed_output_padding", (2, 2, 3, 4), (2, 3, 3, 4), strides=(2, 3), padding="same",
                      output_padding=(1, 2), keras_out=(6, 11)),
    ConvTransposeCase("2d_same_dilated_output_padding_groups", (2, 4, 4, 3), (4, 2, 3, 2), padding="same",
                      output_padding=1, dilation=2, groups=2, keras_out=(5, 4)),
    ConvTransposeCase("2d_valid_output_padding", (2, 3, 3, 4), (3, 2, 3, 2), strides=2, output_padding=1,
                      keras_out=(8, 9)),
    ConvTransposeCase("2d_pad_tuple_output_padding_groups", (2, 4, 4, 5), (4, 3, 3, 2), strides=(2, 3),
                      padding=(1, 0), output_padding=(1, 2), groups=2),
    ConvTransposeCase("2d_dilation", (2, 2, 4, 4), (2, 3, 3, 3), padding=0, dilation=2),
    ConvTransposeCase("2d_depthwise", (2, 4, 4, 4), (4, 1, 3, 3), strides=2, padding=1, output_padding=1, groups=4),
    ConvTransposeCase("3d_valid", (1, 2, 3, 4, 3), (2, 3, 2, 3, 2), strides=(2, 1, 2), keras_out=(6, 6, 6)),
    ConvTransposeCase("3d_groups_pad", (2, 4, 3, 3, 3), (4, 2, 3, 3, 3), strides=2, padding=1, output_padding=1,
                      groups=2),
]


@dataclass(frozen=True)
class PoolCase:
    op: str                  # "max_pool" or "avg_pool"
    id: str
    x: tuple                 # (N, C, *spatial)
    pool: object
    strides: object = None
    padding: object = "valid"
    count_include_pad: bool = False


def _pool_rows(op):
    rows = [
        PoolCase(op, "1d", (2, 3, 8), 2),
        PoolCase(op, "1d_same_overlap", (2, 3, 7), 3, 2, "same"),
        PoolCase(op, "1d_int_pad", (2, 2, 9), 3, 2, 1),
        PoolCase(op, "2d", (2, 3, 6, 6), 2),
        PoolCase(op, "2d_odd_size", (2, 3, 7, 5), 2),
        PoolCase(op, "2d_same_overlap", (2, 2, 7, 6), 3, 2, "same"),
        PoolCase(op, "2d_same_default_strides", (2, 2, 5, 7), 2, None, "same"),
        PoolCase(op, "2d_pairs", (2, 2, 6, 6), (2, 3), (1, 2), ((1, 0), (1, 1))),
        PoolCase(op, "2d_pad_tuple", (2, 2, 7, 7), 3, 2, (1, 0)),
        PoolCase(op, "3d", (2, 2, 4, 4, 4), 2),
        PoolCase(op, "3d_same", (1, 2, 5, 4, 3), (2, 2, 3), (2, 1, 2), "same"),
    ]
    if op == "avg_pool":
        rows += [
            PoolCase(op, "1d_int_pad_count_pad", (2, 2, 9), 3, 2, 1, count_include_pad=True),
            PoolCase(op, "2d_same_count_pad", (2, 2, 7, 6), 3, 2, "same", count_include_pad=True),
            PoolCase(op, "3d_pad_count_pad", (1, 2, 4, 5, 4), 3, 2, (1, 0, 1), count_include_pad=True),
        ]
    return rows


POOL_CASES = _pool_rows("max_pool") + _pool_rows("avg_pool")


@dataclass(frozen=True)
class GlobalPoolCase:
    op: str                  # "global_avg_pool" or "global_max_pool"
    id: str
    x: tuple                 # (N, C, *spatial)
    keepdims: bool = False
    ties: bool = False       # integer-valued input: many equal maxima


GLOBAL_POOL_CASES = [
    GlobalPoolCase(op, f"{len(x) - 2}d{'_keepdims' if keep else ''}{'_ties' if ties else ''}", x, keep, ties)
    for op in ("global_avg_pool", "global_max_pool")
    for x, keep, ties in [((2, 3, 7), False, False), ((2, 3, 4, 5), True, False), ((2, 2, 3, 4, 3), False, False),
                          ((3, 2, 4, 4), False, True)]
    if not (ties and op == "global_avg_pool")
]


# Float64 gradient checks: (op, id, call, input shapes in chainrule's layouts). ``call(F, *tensors)``.
@dataclass(frozen=True)
class GradcheckCase:
    op: str
    id: str
    fn: object
    shapes: tuple


GRADCHECK_CASES = [
    GradcheckCase("conv", "1d_stride2_same_bias", lambda F, x, w, b: F.conv(x, w, b, 2, "same"),
                  ((2, 6, 2), (3, 2, 3), (3,))),
    GradcheckCase("conv", "2d_pairs_dilated_bias", lambda F, x, w, b: F.conv(x, w, b, 1, ((1, 0), (0, 1)), (1, 2)),
                  ((1, 4, 5, 2), (2, 3, 2, 3), (3,))),
    GradcheckCase("conv", "2d_groups_channels_first",
                  lambda F, x, w: F.conv(x, w, None, 2, 1, 1, 2, "channels_first"),
                  ((1, 4, 4, 4), (3, 3, 2, 4))),
    GradcheckCase("conv", "2d_depthwise_same", lambda F, x, w, b: F.conv(x, w, b, 1, "same", groups=3),
                  ((1, 4, 4, 3), (3, 3, 1, 3), (3,))),
    GradcheckCase("conv", "3d_same_bias", lambda F, x, w, b: F.conv(x, w, b, 1, "same"),
                  ((1, 3, 3, 3, 2), (2, 2, 2, 2, 2), (2,))),
    GradcheckCase("conv", "4d_stride_same_bias", lambda F, x, w, b: F.conv(x, w, b, (1, 2, 1, 1), "same"),
                  ((1, 3, 3, 2, 2, 2), (2, 2, 1, 2, 2, 2), (2,))),
    GradcheckCase("conv_max_pool", "1d_relu_bias", lambda F, x, w, b: F.conv_max_pool(x, w, b, 2, activation="relu"),
                  ((2, 7, 2), (2, 2, 3), (3,))),
    GradcheckCase("conv_max_pool", "2d_channels_first",
                  lambda F, x, w: F.conv_max_pool(x, w, None, (2, 1), 1, "same", data_format="channels_first"),
                  ((1, 2, 4, 3), (3, 3, 2, 2))),
    GradcheckCase("conv_transpose", "1d_same_output_padding",
                  lambda F, x, w, b: F.conv_transpose(x, w, b, 2, "same", output_padding=1),
                  ((2, 3, 2), (3, 2, 2), (2,))),
    GradcheckCase("conv_transpose", "1d_output_padding_past_the_window",
                  lambda F, x, w, b: F.conv_transpose(x, w, b, 1, "same", output_padding=1, dilation=2),
                  ((2, 3, 2), (1, 2, 2), (2,))),
    GradcheckCase("conv_transpose", "2d_valid_stride2_bias",
                  lambda F, x, w, b: F.conv_transpose(x, w, b, 2, "valid"),
                  ((1, 3, 2, 2), (3, 2, 3, 2), (3,))),
    GradcheckCase("conv_transpose", "2d_groups_channels_first",
                  lambda F, x, w: F.conv_transpose(x, w, None, 2, 0, 1, 1, 2, "channels_first"),
                  ((1, 4, 2, 3), (2, 2, 1, 4))),
    GradcheckCase("conv_transpose", "3d_same", lambda F, x, w: F.conv_transpose(x, w, None, (1, 2, 1), "same"),
                  ((1, 2, 2, 2, 2), (2, 2, 2, 2, 2))),
    GradcheckCase("max_pool", "1d_overlap", lambda F, x: F.max_pool(x, 3, 2, "same"), ((2, 7, 2),)),
    GradcheckCase("max_pool", "2d_same", lambda F, x: F.max_pool(x, 2, padding="same"), ((1, 5, 3, 2),)),
    GradcheckCase("max_pool", "3d_channels_first",
                  lambda F, x: F.max_pool(x, 2, 1, data_format="channels_first"), ((1, 2, 3, 3, 2),)),
    GradcheckCase("avg_pool", "1d", lambda F, x: F.avg_pool(x, 2), ((2, 6, 2),)),
    GradcheckCase("avg_pool", "2d_same_real_count", lambda F, x: F.avg_pool(x, 3, 2, "same"), ((1, 5, 4, 2),)),
    GradcheckCase("avg_pool", "2d_pad_count_pad", lambda F, x: F.avg_pool(x, 3, 2, 1, count_include_pad=True),
                  ((1, 4, 5, 1),)),
    GradcheckCase("avg_pool", "3d_channels_first",
                  lambda F, x: F.avg_pool(x, 2, 1, "same", "channels_first"), ((1, 2, 3, 2, 3),)),
    GradcheckCase("global_avg_pool", "2d", lambda F, x: F.global_avg_pool(x), ((2, 3, 4, 2),)),
    GradcheckCase("global_avg_pool", "3d_channels_first_keepdims",
                  lambda F, x: F.global_avg_pool(x, "channels_first", keepdims=True), ((1, 2, 2, 3, 2),)),
    GradcheckCase("global_max_pool", "1d", lambda F, x: F.global_max_pool(x), ((2, 5, 3),)),
    GradcheckCase("global_max_pool", "2d_channels_first_keepdims",
                  lambda F, x: F.global_max_pool(x, "channels_first", True), ((2, 2, 3, 3),)),
]

DIFFERENTIAL_OPS = {c.op for c in CONV_CASES + CONV_MAX_POOL_CASES + CONV_TRANSPOSE_CASES + POOL_CASES
                    + GLOBAL_POOL_CASES}
GRADCHECKED_OPS = {c.op for c in GRADCHECK_CASES}


# ------------------------------------------------------------------------------------------ NumPy references
def naive_conv(x, w, b, strides, pairs, dilation, groups):
    """Channels-last N-D convolution by direct summation, output position by position:

    ``y[n, o, g*Og+m] = b[g*Og+m] + sum_{k, c} x_p[n, o*s + k*d, g*Cg+c] * w[k, c, g*Og+m]``.
    """
    nd = x.ndim - 2
    xp_ = np.pad(x, [(0, 0)] + list(pairs) + [(0, 0)])
    kernel, cg, c_out = w.shape[:nd], w.shape[nd], w.shape[-1]
    og = c_out // groups
    out = [(xp_.shape[1 + i] - (kernel[i] - 1) * dilation[i] - 1) // strides[i] + 1 for i in range(nd)]
    y = np.zeros((x.shape[0], *out, c_out))
    for o in itertools.product(*map(range, out)):
        acc = np.zeros((x.shape[0], c_out)) if b is None else np.tile(b, (x.shape[0], 1)).astype(float)
        for k in itertools.product(*map(range, kernel)):
            pos = tuple(o[i] * strides[i] + k[i] * dilation[i] for i in range(nd))
            for g in range(groups):
                xs = xp_[(slice(None),) + pos + (slice(g * cg, (g + 1) * cg),)]
                acc[:, g * og:(g + 1) * og] += xs @ w[k][:, g * og:(g + 1) * og]
        y[(slice(None),) + o + (slice(None),)] = acc
    return y


def naive_conv_vjp(x, w, gy, strides, pairs, dilation, groups):
    """The gradients of ``sum(naive_conv(x, w, b) * gy)`` in x, w and b, from the same loops."""
    nd = x.ndim - 2
    xp_ = np.pad(x, [(0, 0)] + list(pairs) + [(0, 0)])
    gxp, gw = np.zeros_like(xp_), np.zeros_like(w)
    kernel, cg, c_out = w.shape[:nd], w.shape[nd], w.shape[-1]
    og = c_out // groups
    for o in itertools.product(*map(range, gy.shape[1:-1])):
        for k in itertools.product(*map(range, kernel)):
            pos = tuple(o[i] * strides[i] + k[i] * dilation[i] for i in range(nd))
            for g in range(groups):
                ci, co = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
                gyo = gy[(slice(None),) + o + (co,)]
                gxp[(slice(None),) + pos + (ci,)] += gyo @ w[k][:, co].T
                gw[k][:, co] += xp_[(slice(None),) + pos + (ci,)].T @ gyo
    crop = (slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n in zip(pairs, x.shape[1:-1])) + (slice(None),)
    return gxp[crop], gw, gy.sum(axis=tuple(range(gy.ndim - 1)))
