"""Convolution and pooling as differentiable ops, through the public functional API
(``F.conv``, ``F.conv_transpose``, ``F.max_pool``, ``F.avg_pool``, ``F.global_avg_pool``,
``F.global_max_pool``) with chainrule Tensors and autograd.

* against PyTorch (the rows of ``conv_cases.py``): values and the gradients of x, w and b,
  float64 (tight) and float32 (loose), channels_last and channels_first;
* ``cr.gradcheck`` and ``cr.gradgradcheck`` in float64 (no PyTorch needed);
* a gradient penalty (the gradient of ``||dL/dx||^2``) against PyTorch's double backward;
* 4-D convolution against a direct summation in NumPy;
* bad input: clear errors naming the op and the shapes; float32 stays float32.

The array kernels themselves are tested in ``test_conv_kernels.py``.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from conv_cases import (
    CONV_CASES, CONV_MAX_POOL_CASES, CONV_TRANSPOSE_CASES, GLOBAL_POOL_CASES, GRADCHECK_CASES, POOL_CASES, keras_deconv_length,
    keras_kernel, naive_conv, naive_conv_vjp, ntuple, tf_same_pads, torch_kernel, torch_pad, torch_pool,
)

TOL = {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=2e-4, atol=2e-4)}
FORMATS = ["channels_last", "channels_first"]
DTYPES = ["float64", "float32"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _to_format(a_cf, data_format):
    """A channels_first array in ``data_format``'s layout."""
    a_cf = np.asarray(a_cf)
    return a_cf if data_format == "channels_first" else np.ascontiguousarray(np.moveaxis(a_cf, 1, -1))


def _to_channels_first(a, data_format):
    a = np.asarray(a)
    return a if data_format == "channels_first" else np.moveaxis(a, -1, 1)


def _close(got, ref, dtype, what):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(ref, np.float64), **TOL[dtype], err_msg=what)


def _ints(padding):
    return isinstance(padding, int) or (isinstance(padding, tuple) and all(isinstance(p, int) for p in padding))


def _compare(torch, cr_fn, th_fn, arrays, layouts, dtype, data_format, seed=1):
    """Run ``cr_fn`` on chainrule leaves and ``th_fn`` on torch leaves; compare the output and the
    gradients of ``sum(out * v)`` in every input.

    ``arrays`` are in PyTorch's layouts; ``layouts[i]`` says how input i is laid out for chainrule:
    "x" (a channels_first activation, converted to ``data_format``), "w" (a torch weight, converted
    to Keras's kernel layout) or "b" (as is). None entries (no bias) are passed through as None.
    """
    to_cr = {"x": lambda a: _to_format(a, data_format), "w": keras_kernel, "b": lambda a: a}
    back = {"x": lambda a: _to_channels_first(a, data_format), "w": torch_kernel, "b": lambda a: a}
    xs = [None if a is None else cr.tensor(to_cr[l](a).astype(dtype), dtype=dtype, requires_grad=True)
          for a, l in zip(arrays, layouts)]
    ts = [None if a is None else torch.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    y, yt = cr_fn(*xs), th_fn(*ts)
    ref = yt.detach().numpy()
    got = _to_channels_first(y.numpy(), data_format)
    assert isinstance(y, cr.Tensor) and y.dtype == np.dtype(dtype), y.dtype
    assert got.shape == ref.shape, f"output shape {got.shape} (channels_first), torch {ref.shape}"
    _close(got, ref, dtype, "forward")
    v = _rng(seed).standard_normal(ref.shape).astype(dtype)
    live = [i for i, a in enumerate(xs) if a is not None]
    grads = cr.grad(y, [xs[i] for i in live], cr.tensor(_to_format(v, data_format), dtype=dtype))
    tgrads = torch.autograd.grad(yt, [ts[i] for i in live], torch.from_numpy(v))
    for i, g, gt in zip(live, grads, tgrads):
        assert g.dtype == np.dtype(dtype) and g.shape == xs[i].shape, (i, g.dtype, g.shape)
        _close(back[layouts[i]](g.numpy()), gt.numpy(), dtype, f"gradient of input {i} ({layouts[i]})")
    return y


# ------------------------------------------------------------------------------------------ conv vs torch
def _torch_conv(torch, case, x, w, b):
    """PyTorch's convNd: its own padding="same" for stride 1 (the reference for "same"),
    native symmetric ints, and F.pad for TensorFlow's "same" with strides, causal and (lo, hi) pairs."""
    tf = torch.nn.functional
    nd = x.ndim - 2
    fn = getattr(tf, f"conv{nd}d")
    s, d = ntuple(case.strides, nd), ntuple(case.dilation, nd)
    kw = dict(stride=s, dilation=d, groups=case.groups)
    if case.padding == "same" and set(s) == {1}:
        return fn(x, w, b, padding="same", **kw)
    if _ints(case.padding):
        return fn(x, w, b, padding=case.padding, **kw)
    if case.padding == "same":
        pairs = tf_same_pads(x.shape[2:], w.shape[2:], s, d)
    elif case.padding == "causal":
        pairs = tuple(((k - 1) * dd, 0) for k, dd in zip(w.shape[2:], d))
    elif case.padding == "valid":
        pairs = ((0, 0),) * nd
    else:
        pairs = case.padding
    return fn(tf.pad(x, torch_pad(pairs)), w, b, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("case", CONV_CASES, ids=[c.id for c in CONV_CASES])
def test_conv_matches_torch(torch, case, data_format, dtype):
    r = _rng(len(case.id))
    x, w = r.standard_normal(case.x), r.standard_normal(case.w)
    b = r.standard_normal(case.w[0]) if case.bias else None

    def ours(X, W, B):
        return F.conv(X, W, B, strides=case.strides, padding=case.padding, dilation=case.dilation,
                      groups=case.groups, data_format=data_format)

    _compare(torch, ours, lambda X, W, B: _torch_conv(torch, case, X, W, B), [x, w, b], "xwb", dtype, data_format)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("case", CONV_MAX_POOL_CASES, ids=[c.id for c in CONV_MAX_POOL_CASES])
def test_conv_max_pool_matches_torch(torch, case, data_format, dtype):
    """Recorded (the two ops, with gradients) against PyTorch; the fused no-graph pass equals it exactly."""
    r = _rng(len(case.id))
    x, w = r.standard_normal(case.x), r.standard_normal(case.w)
    b = r.standard_normal(case.w[0]) if case.bias else None
    nd = x.ndim - 2

    def ours(X, W, B):
        return F.conv_max_pool(X, W, B, case.pool, case.strides, case.padding, case.dilation, case.groups,
                               data_format, case.activation)

    def theirs(X, W, B):
        y = _torch_conv(torch, case, X, W, B)
        y = torch.relu(y) if case.activation == "relu" else y
        return getattr(torch.nn.functional, f"max_pool{nd}d")(y, case.pool)

    y = _compare(torch, ours, theirs, [x, w, b], "xwb", dtype, data_format)
    with cr.no_grad():
        args = [_to_format(x, data_format), keras_kernel(w), b]
        fused = ours(*(None if a is None else cr.tensor(a.astype(dtype), dtype=dtype) for a in args))
    np.testing.assert_array_equal(fused.numpy(), y.numpy())


def test_conv_same_output_sizes_are_keras():
    """"same": ceil(in / stride) outputs whatever the kernel and dilation; "valid": floor((in - dk) / s) + 1."""
    x = cr.tensor(np.zeros((1, 7, 8, 2)))
    for k, s, d, padding, expected in [
        (3, 1, 1, "same", (7, 8)), (4, 1, 1, "same", (7, 8)), (3, 2, 1, "same", (4, 4)), (3, 3, 2, "same", (3, 3)),
        (3, 1, 1, "valid", (5, 6)), (3, 2, 1, "valid", (3, 3)), (3, 1, 2, "valid", (3, 4)),
        (2, (2, 3), 1, "valid", (3, 3)),
    ]:
        y = F.conv(x, np.zeros((k, k, 2, 5)), strides=s, padding=padding, dilation=d)
        assert y.shape == (1,) + expected + (5,), (k, s, d, padding, y.shape)


# ------------------------------------------------------------------------------------------ conv_transpose vs torch
def _torch_conv_transpose(torch, case, x, w, b):
    """PyTorch's conv_transposeNd. Int padding (with output_padding): PyTorch's own arguments, which is
    chainrule's rule. "valid"/"same", with or without output_padding (Keras's sizes, TensorFlow's
    placement, as Keras's TensorFlow backend computes them): the full transposed convolution (no padding),
    zero-extended, cropped to Keras's output size ``out`` from ``lo`` on, where ``lo`` is the low padding
    of the forward conv from ``out`` back to the input: TensorFlow's "same" rule
    (``pad_total = max((ceil(out/s) - 1)*s + dk - out, 0)``, ``lo = pad_total // 2``) or 0 for "valid"."""
    tf = torch.nn.functional
    nd = x.ndim - 2
    fn = getattr(tf, f"conv_transpose{nd}d")
    s, d = ntuple(case.strides, nd), ntuple(case.dilation, nd)
    k = w.shape[2:]
    if _ints(case.padding):
        op = (0,) * nd if case.output_padding is None else ntuple(case.output_padding, nd)
        return fn(x, w, b, stride=s, padding=case.padding, output_padding=op, groups=case.groups, dilation=d)
    ops = (None,) * nd if case.output_padding is None else ntuple(case.output_padding, nd)
    out = tuple(keras_deconv_length(i, kk, ss, case.padding, o, dd)
                for i, kk, ss, o, dd in zip(x.shape[2:], k, s, ops, d))
    lo = (0,) * nd if case.padding == "valid" else tuple(p[0] for p in tf_same_pads(out, k, s, d))
    full = fn(x, w, None, stride=s, groups=case.groups, dilation=d)
    extra = [max(0, l + o - f) for l, o, f in zip(lo, out, full.shape[2:])]
    full = tf.pad(full, torch_pad([(0, e) for e in extra]))
    y = full[(slice(None), slice(None)) + tuple(slice(l, l + o) for l, o in zip(lo, out))]
    return y if b is None else y + b.reshape((1, -1) + (1,) * nd)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("case", CONV_TRANSPOSE_CASES, ids=[c.id for c in CONV_TRANSPOSE_CASES])
def test_conv_transpose_matches_torch(torch, case, data_format, dtype):
    r = _rng(len(case.id) + 100)
    x, w = r.standard_normal(case.x), r.standard_normal(case.w)
    b = r.standard_normal(case.w[1] * case.groups) if case.bias else None

    def ours(X, W, B):
        return F.conv_transpose(X, W, B, strides=case.strides, padding=case.padding,
                                output_padding=case.output_padding, dilation=case.dilation, groups=case.groups,
                                data_format=data_format)

    y = _compare(torch, ours, lambda X, W, B: _torch_conv_transpose(torch, case, X, W, B), [x, w, b], "xwb", dtype,
                 data_format)
    if case.keras_out is not None:
        assert _to_channels_first(y.numpy(), data_format).shape[2:] == case.keras_out


def test_conv_transpose_is_the_input_gradient_of_conv():
    """<conv(z, w), g> = <z, conv_transpose(g, w)>: with "same" and stride 2 the transposed conv
    of a conv's output has the conv's input shape and is its adjoint."""
    cr.set_floatx("float64")
    r = _rng(3)
    z, w, g = r.standard_normal((2, 8, 10, 3)), r.standard_normal((3, 3, 3, 4)), r.standard_normal((2, 4, 5, 4))
    y = F.conv(z, w, strides=2, padding="same")
    zt = F.conv_transpose(g, w, strides=2, padding="same")
    assert y.shape == g.shape and zt.shape == z.shape and y.dtype == zt.dtype == np.float64
    np.testing.assert_allclose(np.vdot(y.numpy(), g), np.vdot(z, zt.numpy()), rtol=1e-12)
    Z = cr.tensor(z, requires_grad=True)
    (gz,) = cr.grad(F.conv(Z, w, strides=2, padding="same"), [Z], cr.tensor(g))
    np.testing.assert_allclose(gz.numpy(), zt.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_transpose_same_with_output_padding_places_the_window_as_tensorflow():
    """Keras's TensorFlow backend, worked by hand: the output has Keras's size O and is the gradient of
    a "same" conv from O back to the input, so it starts at lo = pad_total // 2 of that conv's padding
    (PyTorch's padding = dk // 2 would start at 1 and 2 here)."""
    x = np.array([1.0, 0.0]).reshape(1, 2, 1)
    w3, w4 = np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1), np.array([1.0, 2.0, 3.0, 4.0]).reshape(4, 1, 1)
    for output_padding in (None, 1):      # O = 4, pad_total 1, lo 0 either way
        y = F.conv_transpose(x, w3, strides=2, padding="same", output_padding=output_padding)
        np.testing.assert_array_equal(y.numpy().ravel(), [1, 2, 3, 0])
    y = F.conv_transpose(x, w4, strides=2, padding="same", output_padding=1)    # O = 3, pad_total 3, lo 1
    np.testing.assert_array_equal(y.numpy().ravel(), [2, 3, 4])


# ------------------------------------------------------------------------------------------ pooling vs torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("case", POOL_CASES, ids=[f"{c.op}-{c.id}" for c in POOL_CASES])
def test_pool_matches_torch(torch, case, data_format, dtype):
    x = _rng(len(case.id) + 7).standard_normal(case.x)

    def ours(X):
        if case.op == "max_pool":
            return F.max_pool(X, case.pool, case.strides, case.padding, data_format)
        return F.avg_pool(X, case.pool, case.strides, case.padding, data_format,
                          count_include_pad=case.count_include_pad)

    kind = "max" if case.op == "max_pool" else "avg"
    _compare(torch, ours, lambda X: torch_pool(torch, kind, X, case.pool, case.strides, case.padding,
                                               case.count_include_pad), [x], "x", dtype, data_format)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("case", GLOBAL_POOL_CASES, ids=[f"{c.op}-{c.id}" for c in GLOBAL_POOL_CASES])
def test_global_pool_matches_torch(torch, case, data_format, dtype):
    r = _rng(len(case.id) + 11)
    x = r.integers(0, 3, case.x).astype(np.float64) if case.ties else r.standard_normal(case.x)
    dims = tuple(range(2, len(case.x)))
    fn = F.global_avg_pool if case.op == "global_avg_pool" else F.global_max_pool

    def theirs(X):   # torch.amax shares the gradient evenly among tied maxima, as chainrule's max
        return X.mean(dim=dims, keepdim=case.keepdims) if case.op == "global_avg_pool" else \
            torch.amax(X, dim=dims, keepdim=case.keepdims)

    # (N, C) without keepdims in either format; _compare's layout conversions are identities on it
    _compare(torch, lambda X: fn(X, data_format, case.keepdims), theirs, [x], "x", dtype, data_format)


# ------------------------------------------------------------------------------------------ gradcheck (no torch)
def _gradcheck_inputs(case, seed=0):
    r = _rng(seed)
    return [cr.tensor(r.standard_normal(s), dtype="float64", requires_grad=True) for s in case.shapes]


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=[f"{c.op}-{c.id}" for c in GRADCHECK_CASES])
def test_gradcheck(case):
    assert cr.gradcheck(lambda *xs: case.fn(F, *xs), _gradcheck_inputs(case))


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=[f"{c.op}-{c.id}" for c in GRADCHECK_CASES])
def test_gradgradcheck(case):
    assert cr.gradgradcheck(lambda *xs: case.fn(F, *xs), _gradcheck_inputs(case))


def test_gradcheck_catches_a_wrong_conv_gradient(monkeypatch):
    """The checks above can fail: a conv whose weight gradient is off by 1% is caught."""
    from chainrule.ops import conv as conv_ops

    case = GRADCHECK_CASES[0]
    real = conv_ops.ConvWeightGrad.forward

    def wrong(self, x, g, w_shape, cfg):
        return real(self, x, g, w_shape, cfg) * 1.01

    monkeypatch.setattr(conv_ops.ConvWeightGrad, "forward", wrong)
    with pytest.raises(cr.GradcheckError, match=r"input 1 \(shape \(3, 2, 3\)\) is wrong"):
        cr.gradcheck(lambda *xs: case.fn(F, *xs), _gradcheck_inputs(case))


# ------------------------------------------------------------------------------------------ second order
PENALTY_CASES = {   # name: (f(L, x, w, b), x shape channels_first, torch weight shape, bias shape)
    "conv2d_stride2_same_groups": (lambda L, x, w, b: L.conv(x, w, b, 2, "same", groups=2),
                                   (2, 4, 6, 5), (4, 2, 3, 3), (4,)),
    "conv1d_then_maxpool": (lambda L, x, w, b: L.max_pool(L.conv(x, w, b, 1, "same"), 2),
                            (2, 3, 8), (4, 3, 3), (4,)),
    "conv_transpose2d": (lambda L, x, w, b: L.conv_transpose(x, w, b, 2, 1, output_padding=1),
                         (2, 3, 3, 4), (3, 2, 3, 3), (2,)),
}


class _CROps:
    conv = staticmethod(lambda x, w, b, s, p, groups=1: F.conv(x, w, b, s, p, groups=groups))
    max_pool = staticmethod(lambda x, k: F.max_pool(x, k))
    conv_transpose = staticmethod(lambda x, w, b, s, p, output_padding: F.conv_transpose(
        x, w, b, s, p, output_padding=output_padding))
    tanh = staticmethod(cr.tanh)


def _torch_ops(torch):
    tf = torch.nn.functional

    class Ops:
        @staticmethod
        def conv(x, w, b, s, p, groups=1):
            nd = x.ndim - 2
            if p == "same":   # TensorFlow's rule, as chainrule's
                x = tf.pad(x, torch_pad(tf_same_pads(x.shape[2:], w.shape[2:], (s,) * nd, (1,) * nd)))
            return getattr(tf, f"conv{nd}d")(x, w, b, stride=s, groups=groups)

        @staticmethod
        def max_pool(x, k):
            return getattr(tf, f"max_pool{x.ndim - 2}d")(x, k)

        @staticmethod
        def conv_transpose(x, w, b, s, p, output_padding):
            return getattr(tf, f"conv_transpose{x.ndim - 2}d")(x, w, b, stride=s, padding=p,
                                                                output_padding=output_padding)

        tanh = staticmethod(torch.tanh)

    return Ops


@pytest.mark.parametrize("name", list(PENALTY_CASES))
def test_gradient_penalty_matches_torch_double_backward(torch, name):
    """P = ||dL/dx||^2 with L = sum(tanh(f(x, w, b)) * v); dP/dx, dP/dw, dP/db against PyTorch."""
    cr.set_floatx("float64")
    fn, *shapes = PENALTY_CASES[name]
    r = _rng(21)
    x, w, b = (r.standard_normal(s) for s in shapes)
    # chainrule, channels_last and Keras kernels
    X = cr.tensor(_to_format(x, "channels_last"), requires_grad=True, dtype="float64")
    W = cr.tensor(keras_kernel(w), requires_grad=True, dtype="float64")
    B = cr.tensor(b, requires_grad=True, dtype="float64")
    y = _CROps.tanh(fn(_CROps, X, W, B))
    v = r.standard_normal(_to_channels_first(y.numpy(), "channels_last").shape)
    loss = cr.sum(y * cr.tensor(_to_format(v, "channels_last")))
    (gx,) = cr.grad(loss, [X], create_graph=True)
    assert gx.requires_grad
    penalty = cr.sum(gx * gx)
    dx, dw, db = cr.grad(penalty, [X, W, B])
    # torch, channels_first
    ops = _torch_ops(torch)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.tanh(fn(ops, xt, wt, bt))
    (gxt,) = torch.autograd.grad((yt * torch.tensor(v)).sum(), [xt], create_graph=True)
    dxt, dwt, dbt = torch.autograd.grad((gxt * gxt).sum(), [xt, wt, bt])
    _close(_to_channels_first(gx.numpy(), "channels_last"), gxt.detach().numpy(), "float64", "dL/dx")
    _close(float(penalty.item()), float((gxt * gxt).sum().detach()), "float64", "penalty")
    _close(_to_channels_first(dx.numpy(), "channels_last"), dxt.numpy(), "float64", "dP/dx")
    _close(torch_kernel(dw.numpy()), dwt.numpy(), "float64", "dP/dw")
    _close(db.numpy(), dbt.numpy(), "float64", "dP/db")
    assert np.abs(dw.numpy()).max() > 1e-3 and np.abs(db.numpy()).max() > 1e-3   # not trivially zero


# ------------------------------------------------------------------------------------------ 4-D convolution
CONV4D_CASES = [
    # (x channels_last, w Keras layout, strides, padding, dilation, groups)
    ((2, 3, 4, 3, 3, 2), (2, 2, 2, 2, 2, 3), 1, "valid", 1, 1),
    ((1, 4, 3, 3, 4, 2), (2, 1, 2, 3, 2, 2), (2, 1, 1, 2), "same", (1, 1, 2, 1), 1),
    ((1, 3, 3, 4, 3, 4), (2, 2, 2, 2, 2, 6), 1, ((1, 0), (0, 1), (1, 1), (0, 0)), 1, 2),
    ((2, 3, 3, 3, 3, 3), (2, 2, 2, 2, 1, 3), 2, "same", 1, 3),     # depthwise
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("case", CONV4D_CASES, ids=[f"case{i}" for i in range(len(CONV4D_CASES))])
def test_conv4d_matches_direct_summation(case, data_format):
    cr.set_floatx("float64")
    xs, ws, strides, padding, dilation, groups = case
    r = _rng(4)
    x, w, b = r.standard_normal(xs), r.standard_normal(ws), r.standard_normal(ws[-1])
    s, d = ntuple(strides, 4), ntuple(dilation, 4)
    pairs = tf_same_pads(xs[1:-1], ws[:4], s, d) if padding == "same" else \
        ((0, 0),) * 4 if padding == "valid" else padding
    y_ref = naive_conv(x, w, b, s, pairs, d, groups)
    cf = data_format == "channels_first"
    X = cr.tensor(np.moveaxis(x, -1, 1).copy() if cf else x, requires_grad=True)
    W, B = cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True)
    y = F.conv(X, W, B, strides, padding, dilation, groups, data_format)
    got = np.moveaxis(y.numpy(), 1, -1) if cf else y.numpy()
    np.testing.assert_allclose(got, y_ref, rtol=1e-10, atol=1e-10)
    gy = r.standard_normal(y_ref.shape)
    y.backward(cr.tensor(np.moveaxis(gy, -1, 1).copy() if cf else gy))
    gx_ref, gw_ref, gb_ref = naive_conv_vjp(x, w, gy, s, pairs, d, groups)
    np.testing.assert_allclose(np.moveaxis(X.grad.numpy(), 1, -1) if cf else X.grad.numpy(), gx_ref,
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(W.grad.numpy(), gw_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(B.grad.numpy(), gb_ref, rtol=1e-10, atol=1e-10)


def test_conv_transpose_and_pools_in_4d():
    """4-D conv_transpose is the adjoint of the 4-D conv; 4-D pools and global pools agree with NumPy."""
    cr.set_floatx("float64")
    r = _rng(5)
    z, w = r.standard_normal((1, 4, 3, 4, 3, 2)), r.standard_normal((2, 2, 1, 2, 2, 3))
    y = F.conv(z, w, strides=(2, 1, 2, 1), padding="same")
    g = r.standard_normal(y.shape)
    zt = F.conv_transpose(g, w, strides=(2, 1, 2, 1), padding="same")
    assert zt.shape == z.shape
    np.testing.assert_allclose(np.vdot(y.numpy(), g), np.vdot(z, zt.numpy()), rtol=1e-12)
    x = r.standard_normal((2, 4, 2, 4, 2, 3))
    blocks = x.reshape(2, 2, 2, 1, 2, 2, 2, 1, 2, 3)
    np.testing.assert_allclose(F.max_pool(x, (2, 2, 2, 2)).numpy(), blocks.max(axis=(2, 4, 6, 8)))
    np.testing.assert_allclose(F.avg_pool(x, (2, 2, 2, 2)).numpy(), blocks.mean(axis=(2, 4, 6, 8)), rtol=1e-12)
    np.testing.assert_allclose(F.global_avg_pool(x).numpy(), x.mean(axis=(1, 2, 3, 4)), rtol=1e-12)
    np.testing.assert_allclose(F.global_max_pool(x).numpy(), x.max(axis=(1, 2, 3, 4)))


# ------------------------------------------------------------------------------------------ bad input
X4 = np.zeros((2, 6, 6, 4), np.float32)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.conv(np.zeros((2, 5)), np.zeros((3, 5, 4))), ValueError, r"conv: .*got x \(2, 5\) and w \(3, 5, 4\)"),
    (lambda: F.conv(np.zeros((2, 8, 3)), np.zeros((3, 3, 3, 4))), ValueError,
     r"conv: .*same number of spatial dims.*x \(2, 8, 3\) and w \(3, 3, 3, 4\)"),
    (lambda: F.conv(X4, np.zeros((3, 3, 3, 5))), ValueError,
     r"conv: input channels 4 and kernel \(3, 3, 3, 5\) do not fit groups=1"),
    (lambda: F.conv(X4, np.zeros((3, 3, 2, 5)), groups=2), ValueError,
     r"conv: input channels 4 and kernel \(3, 3, 2, 5\) do not fit groups=2"),
    (lambda: F.conv(X4, np.zeros((3, 3, 1, 6)), groups=3), ValueError,
     r"conv: input channels 4 and kernel \(3, 3, 1, 6\) do not fit groups=3"),
    (lambda: F.conv(X4, np.zeros((3, 3, 4, 5)), data_format="NHWC"), ValueError,
     r"conv: data_format must be 'channels_last' or 'channels_first', got 'NHWC'"),
    (lambda: F.conv(X4, np.zeros((3, 3, 4, 5)), padding="full"), ValueError, r"conv: unknown padding 'full'"),
    (lambda: F.conv(X4, np.zeros((3, 3, 4, 5)), padding=None), TypeError, r"conv: padding .* got None"),
    (lambda: F.conv(X4, np.zeros((3, 3, 4, 5)), padding=(1, 2, 3)), ValueError,
     r"conv: padding \(1, 2, 3\) has 3 entries for 2 spatial dims"),
    (lambda: F.conv(X4, np.zeros((3, 3, 4, 5)), b=np.zeros(4)), ValueError,
     r"conv: bias must have shape \(5,\) for 5 output channels, got \(4,\)"),
    (lambda: F.conv(X4, np.zeros((3, 3, 4, 5)), strides=(1, 1, 1)), ValueError,
     r"conv: strides must be an int or a tuple of 2 ints, got \(1, 1, 1\)"),
    (lambda: F.conv(X4, np.zeros((7, 3, 4, 5))), ValueError,
     r"conv: input spatial size \(6, 6\) .*smaller than the kernel \(7, 3\)"),
    (lambda: F.conv_transpose(np.zeros((2, 4)), np.zeros((3, 3, 5, 4))), ValueError,
     r"conv_transpose: x \(2, 4\) and w \(3, 3, 5, 4\)"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 3))), ValueError,
     r"conv_transpose: kernel \(3, 3, 5, 3\) expects 3 input channels .* input has 4"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), groups=3), ValueError,
     r"conv_transpose: input channels 4 .*\(2, 6, 6, 4\).* groups=3"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), data_format="NCHW"), ValueError,
     r"conv_transpose: data_format .* got 'NCHW'"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), padding="full"), ValueError,
     r"conv_transpose: unknown padding 'full'"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), strides=2, output_padding=2), ValueError,
     r"conv_transpose: output_padding \(2, 2\) must be >= 0 and smaller than the stride or the dilation in each "
     r"dim \(strides \(2, 2\), dilation \(1, 1\)\)"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), padding="same", output_padding=1), ValueError,
     r"conv_transpose: output_padding \(1, 1\) must be .* \(strides \(1, 1\), dilation \(1, 1\)\)"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), strides=2, output_padding=(1, -1)), ValueError,
     r"conv_transpose: output_padding \(1, -1\) must be >= 0"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), strides=2, output_padding=(1, 1, 1)), ValueError,
     r"conv_transpose: output_padding must be an int or a tuple of 2 ints, got \(1, 1, 1\)"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), strides=2, output_padding="1"), TypeError,
     r"conv_transpose: output_padding must be None, an int or 2 ints, got '1'"),
    (lambda: F.conv_transpose(X4, np.zeros((3, 3, 5, 4)), padding=5), ValueError,
     r"conv_transpose: input spatial size \(6, 6\) with kernel \(3, 3\).* gives an empty output \(-2, -2\)"),
    (lambda: F.max_pool(np.zeros((2, 5)), 2), ValueError, r"max_pool: .*got shape \(2, 5\)"),
    (lambda: F.max_pool(X4, 2, padding="full"), ValueError, r"max_pool: unknown padding 'full'"),
    (lambda: F.max_pool(X4, 2, data_format="NHWC"), ValueError, r"max_pool: data_format .* got 'NHWC'"),
    (lambda: F.max_pool(X4, 7), ValueError, r"max_pool: input spatial size \(6, 6\).*smaller than pool_size \(7, 7\)"),
    (lambda: F.max_pool(X4, (2, 2, 2)), ValueError, r"max_pool: pool_size must be .* 2 ints, got \(2, 2, 2\)"),
    (lambda: F.avg_pool(np.zeros((2, 5)), 2), ValueError, r"avg_pool: .*got shape \(2, 5\)"),
    (lambda: F.avg_pool(X4, 2, padding="full"), ValueError, r"avg_pool: unknown padding 'full'"),
    (lambda: F.avg_pool(X4, 2, data_format="NHWC"), ValueError, r"avg_pool: data_format .* got 'NHWC'"),
    (lambda: F.global_avg_pool(np.zeros((2, 5))), ValueError, r"global_avg_pool: .*got shape \(2, 5\)"),
    (lambda: F.global_max_pool(np.zeros((2, 5))), ValueError, r"global_max_pool: .*got shape \(2, 5\)"),
    (lambda: F.global_avg_pool(X4, "NHWC"), ValueError, r"global_avg_pool: data_format .* got 'NHWC'"),
    (lambda: F.global_max_pool(X4, "NHWC"), ValueError, r"global_max_pool: data_format .* got 'NHWC'"),
], ids=lambda v: None if callable(v) or isinstance(v, type) else v[:40])
def test_bad_input_names_the_op_and_the_shapes(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# ------------------------------------------------------------------------------------------ dtypes
def test_float32_in_float32_out_and_gradients():
    r = _rng(9)
    x = cr.tensor(r.standard_normal((2, 6, 5, 4)).astype(np.float32), requires_grad=True)
    w = cr.tensor(r.standard_normal((3, 3, 2, 6)).astype(np.float32), requires_grad=True)
    b = cr.tensor(r.standard_normal(6).astype(np.float32), requires_grad=True)
    wt = cr.tensor(r.standard_normal((3, 3, 2, 4)).astype(np.float32), requires_grad=True)
    outs = [
        F.conv(x, w, b, 2, "same", groups=2),
        F.conv(x, w, b, 1, 1, groups=2),
        F.conv_transpose(x, wt, None, 2, "same"),
        F.max_pool(x, 2, padding="same"),
        F.avg_pool(x, 3, 2, "same"),
        F.global_avg_pool(x),
        F.global_max_pool(x, keepdims=True),
    ]
    total = outs[0].sum()
    for y in outs:
        assert y.dtype == np.float32, y.dtype
        total = total + cr.sum(y * y)
    gx, gw, gb, gwt = cr.grad(total, [x, w, b, wt], create_graph=True)
    for g in (gx, gw, gb, gwt):
        assert g.dtype == np.float32
    (ggx,) = cr.grad(cr.sum(gx * gx), [x])        # second order stays float32 too
    assert ggx.dtype == np.float32


def test_integer_images_meet_a_float32_kernel():
    r = _rng(10)
    xi = r.integers(0, 255, (2, 6, 5, 3)).astype(np.uint8)
    w = r.standard_normal((3, 3, 3, 4)).astype(np.float32)
    y = F.conv(cr.tensor(xi), w, padding="same")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), F.conv(xi.astype(np.float32), w, padding="same").numpy(), rtol=1e-6)
    assert F.avg_pool(cr.tensor(xi), 2).dtype == np.float32


def test_float64_mode_keeps_float64():
    cr.set_floatx("float64")
    x = cr.tensor(_rng(1).standard_normal((2, 5, 5, 3)), requires_grad=True)
    w = cr.tensor(_rng(2).standard_normal((3, 3, 3, 2)), requires_grad=True)
    y = F.max_pool(F.conv(x, w, padding="same"), 2)
    assert y.dtype == np.float64
    gx, gw = cr.grad(y.sum(), [x, w])
    assert gx.dtype == np.float64 and gw.dtype == np.float64


# ----------------------------------------------------------------------------- fused relu(conv + b)

FUSED_CASES = [  # (x shape channels_last, w shape, strides, padding, groups, data_format)
    ((2, 9, 8, 1), (3, 3, 1, 5), 1, "valid", 1, "channels_last"),      # one input channel: the first layer
    ((2, 7, 6, 4), (3, 2, 4, 6), (2, 1), "same", 1, "channels_last"),
    ((2, 7, 6, 6), (3, 3, 3, 4), 1, "valid", 2, "channels_last"),      # grouped
    ((2, 7, 6, 3), (3, 3, 1, 3), 1, "same", 3, "channels_last"),       # depthwise
    ((1, 3, 8, 7), (2, 3, 3, 4), 1, 1, 1, "channels_first"),
    ((2, 11, 3), (4, 3, 5), 2, "valid", 1, "channels_last"),            # 1-D
]


@pytest.mark.parametrize("case", FUSED_CASES, ids=[str(c) for c in FUSED_CASES])
def test_fused_conv_bias_relu_matches_the_unfused_ops(case):
    """relu(conv(x, w) + b) in one op gives the same values and gradients as the three ops."""
    xs, ws, strides, padding, groups, fmt = case
    rng = np.random.default_rng(5)
    x0, w0, b0 = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[-1])
    g0 = None
    results = []
    for fused in (True, False):
        x, w, b = (cr.tensor(a, dtype="float64", requires_grad=True) for a in (x0, w0, b0))
        if fused:
            y = F.conv(x, w, b, strides, padding, groups=groups, data_format=fmt, activation="relu")
        else:
            y = F.relu(F.conv(x, w, b, strides, padding, groups=groups, data_format=fmt))
        if g0 is None:
            g0 = rng.standard_normal(y.shape)
        (y * cr.tensor(g0)).sum().backward()
        results.append([y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    assert (results[0][0] == 0).any() and (results[0][0] > 0).any()
    for fused, plain in zip(*results):
        np.testing.assert_allclose(fused, plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", FUSED_CASES[:4], ids=[str(c) for c in FUSED_CASES[:4]])
def test_fused_conv_bias_relu_float32_and_no_grad(case):
    xs, ws, strides, padding, groups, fmt = case
    rng = np.random.default_rng(6)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, (ws[-1],)))
    with cr.no_grad():
        y = F.conv(x, w, b, strides, padding, groups=groups, data_format=fmt, activation="relu")
    ref = F.relu(F.conv(x, w, b, strides, padding, groups=groups, data_format=fmt))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)


def test_fused_conv_bias_relu_second_order():
    rng = np.random.default_rng(7)
    x = cr.tensor(rng.standard_normal((1, 5, 4, 2)), dtype="float64", requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 2, 2, 3)), dtype="float64", requires_grad=True)
    b = cr.tensor(rng.standard_normal(3), dtype="float64", requires_grad=True)
    fn = lambda x, w, b: F.conv(x, w, b, 1, "same", activation="relu")  # noqa: E731
    assert cr.gradcheck(fn, [x, w, b])
    assert cr.gradgradcheck(fn, [x, w, b])


def test_conv_rejects_an_unknown_fused_activation():
    x, w = np.zeros((1, 4, 4, 1), np.float32), np.zeros((3, 3, 1, 2), np.float32)
    with pytest.raises(ValueError, match="conv: activation must be None, 'linear' or 'relu'.*'tanh'"):
        F.conv(x, w, activation="tanh")
