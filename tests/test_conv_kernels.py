"""Convolution and pooling array kernels (chainrule.ops.conv_kernels / pool_kernels).

Differential tests against PyTorch (1-D, 2-D, 3-D: forward values and both gradients),
and, for 4-D, against a naive summation written straight from the formulas, plus the
dot-product (adjoint) identity that ties the forward to both gradients.
"""
import itertools

import numpy as np
import pytest

from chainrule.ops import conv_geometry as cg
from chainrule.ops import conv_kernels as ck
from chainrule.ops import pool_kernels as pk
from conv_cases import naive_conv_vjp

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-4)}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _to_keras_kernel(w):
    """PyTorch (C_out, C_in // groups, *kernel) -> Keras (*kernel, C_in // groups, C_out)."""
    return np.ascontiguousarray(w.transpose(*range(2, w.ndim), 1, 0))


def _cl(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _cf(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def _torch_pad(pairs):
    return [v for lo_hi in reversed(pairs) for v in lo_hi]


def _torch_conv(x, w, strides, pairs, dilation, groups, gy=None):
    """PyTorch reference, channels_first; explicit (lo, hi) padding through F.pad."""
    nd = x.ndim - 2
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    y = conv(F.pad(xt, _torch_pad(pairs)), wt, stride=strides, dilation=dilation, groups=groups)
    if gy is None:
        return y.detach().numpy(), None, None
    gx, gw = torch.autograd.grad(y, (xt, wt), torch.tensor(gy))
    return y.detach().numpy(), gx.numpy(), gw.numpy()


# (x shape channels_first, torch weight shape, strides, padding, dilation, groups)
CONV_CASES = [
    # 1-D
    ((2, 3, 11), (4, 3, 3), 1, "valid", 1, 1),
    ((2, 3, 11), (4, 3, 3), 2, "same", 1, 1),
    ((2, 4, 10), (6, 2, 5), 3, ((2, 1),), 2, 2),
    ((3, 4, 9), (4, 1, 3), 1, "causal", 2, 4),                 # depthwise, Keras causal
    ((2, 6, 13), (5, 6, 4), 1, ((3, 1),), 3, 1),               # >= 4 channels, stride 1: flat input grad
    # 2-D
    ((2, 3, 9, 8), (5, 3, 3, 3), 1, "valid", 1, 1),
    ((2, 3, 9, 8), (5, 3, 3, 3), 1, "same", 1, 1),
    ((2, 3, 9, 8), (5, 3, 3, 2), (2, 3), "same", 1, 1),        # 'same' with uneven total padding
    ((2, 3, 10, 7), (4, 3, 3, 3), 2, "valid", 1, 1),           # stride does not divide
    ((2, 3, 9, 9), (4, 3, 2, 3), (3, 2), ((0, 2), (1, 0)), (2, 1), 1),   # asymmetric explicit
    ((2, 3, 8, 8), (4, 3, 3, 3), 1, 2, (2, 3), 1),             # dilation, int padding
    ((2, 6, 7, 8), (4, 3, 3, 3), 1, "same", 1, 2),             # groups
    ((2, 8, 7, 8), (8, 2, 3, 3), 2, "same", 1, 4),             # groups, stride 2
    ((2, 8, 9, 7), (16, 4, 3, 3), 1, "valid", 1, 2),           # groups, 4 channels a group (dense path)
    ((2, 8, 9, 7), (8, 1, 3, 3), 1, "same", 1, 8),             # depthwise
    ((2, 4, 9, 7), (8, 1, 3, 3), 2, "valid", 2, 4),            # depthwise, multiplier 2, stride, dilation
    ((2, 1, 10, 10), (6, 1, 3, 3), 1, "valid", 1, 1),          # one input channel (col2im path)
    ((2, 6, 9, 8), (7, 6, 3, 2), 1, ((2, 0), (1, 3)), (2, 3), 1),   # flat input grad, asymmetric, dilated
    ((2, 10, 6, 7), (6, 5, 3, 3), 1, "same", 1, 2),            # per-group GEMMs, flat input grad
    ((2, 10, 7, 6), (4, 5, 2, 3), 2, "same", 1, 2),            # per-group GEMMs, col2im input grad
    ((1, 5, 5, 5), (3, 5, 5, 5), 1, "valid", 1, 1),            # kernel as large as the input
    # 3-D
    ((2, 3, 6, 5, 7), (4, 3, 3, 2, 3), 1, "same", 1, 1),
    ((2, 5, 6, 5, 4), (3, 5, 2, 3, 2), 1, ((1, 0), (0, 0), (2, 1)), (2, 1, 1), 1),
    ((2, 4, 7, 6, 5), (4, 2, 2, 3, 2), (2, 1, 3), ((1, 0), (0, 2), (1, 1)), (1, 2, 1), 2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONV_CASES, ids=[f"{c[0]}-{c[1]}-s{c[2]}-{c[3]}-d{c[4]}-g{c[5]}" for c in CONV_CASES])
def test_conv_matches_torch(case, dtype):
    xs, ws, strides, padding, dilation, groups = case
    rng = _rng(len(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    wk = _to_keras_kernel(w)
    pairs = ck.resolve_padding(padding, xs[2:], ws[2:], strides, dilation)
    y_ref, _, _ = _torch_conv(x, w, strides, pairs, dilation, groups)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    y_ref, gx_ref, gw_ref = _torch_conv(x, w, strides, pairs, dilation, groups, gy)

    y = ck.conv_forward(_cl(x), wk, strides, padding, dilation, groups)
    gx = ck.conv_input_grad(_cl(gy), wk, _cl(x).shape, strides, padding, dilation, groups)
    gw = ck.conv_weight_grad(_cl(x), _cl(gy), wk.shape, strides, padding, dilation, groups)
    for got, ref in ((_cf(y), y_ref), (_cf(gx), gx_ref), (gw, _to_keras_kernel(gw_ref))):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref, **TOL[dtype])
    assert y.shape == (xs[0],) + y_ref.shape[2:] + (ws[0],) and gx.shape == _cl(x).shape and gw.shape == wk.shape

    # The same through data_format="channels_first" (no transposes by the caller).
    y2 = ck.conv_forward(x, wk, strides, padding, dilation, groups, data_format="channels_first")
    gx2 = ck.conv_input_grad(gy, wk, x.shape, strides, padding, dilation, groups, data_format="channels_first")
    gw2 = ck.conv_weight_grad(x, gy, wk.shape, strides, padding, dilation, groups, data_format="channels_first")
    np.testing.assert_allclose(y2, y_ref, **TOL[dtype])
    np.testing.assert_allclose(gx2, gx_ref, **TOL[dtype])
    np.testing.assert_allclose(gw2, _to_keras_kernel(gw_ref), **TOL[dtype])


@pytest.mark.parametrize("chunk", [1, 700, 5000])
def test_conv_blocking_does_not_change_results(monkeypatch, chunk):
    """Tiny CHUNK_BYTES forces many batch blocks and the per-sample blocks over the first output dim."""
    rng = _rng(1)
    x = rng.standard_normal((3, 7, 6, 4))
    for wshape, groups, strides in [((3, 3, 4, 5), 1, 1), ((2, 3, 4, 5), 1, 2), ((3, 3, 1, 8), 4, 1),
                                    ((3, 2, 2, 6), 2, 1)]:
        w = rng.standard_normal(wshape)
        ref = (ck.conv_forward(x, w, strides, "same", 1, groups),)
        gy = rng.standard_normal(ref[0].shape)
        ref += (ck.conv_input_grad(gy, w, x.shape, strides, "same", 1, groups),
                ck.conv_weight_grad(x, gy, w.shape, strides, "same", 1, groups))
        monkeypatch.setattr(cg, "CHUNK_BYTES", chunk)
        got = (ck.conv_forward(x, w, strides, "same", 1, groups),
               ck.conv_input_grad(gy, w, x.shape, strides, "same", 1, groups),
               ck.conv_weight_grad(x, gy, w.shape, strides, "same", 1, groups))
        monkeypatch.undo()
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs, ws, strides, padding, dilation", [
    ((3, 9, 8, 1), (3, 3, 1, 5), 1, "valid", 1),                  # the first layer of a CNN
    ((2, 9, 8, 3), (3, 2, 3, 4), (2, 1), "same", (1, 2)),
    ((2, 7, 7, 4), (2, 3, 4, 3), 3, ((2, 0), (1, 1)), 1),
    ((2, 11, 2), (4, 2, 6), 2, "causal", 2),
    ((1, 4, 5, 4, 2), (2, 3, 2, 2, 3), (1, 2, 1), "same", 1),
])
def test_by_offset_im2col_gives_the_row_major_results(monkeypatch, xs, ws, strides, padding, dilation):
    """Up to 4 input channels the kernels build im2col transposed (one copy per kernel offset); the
    row-major im2col (forced with the threshold at 0) gives the same forward, bias/relu epilogue and
    gradients, also with row blocks cut small."""
    rng = _rng(14)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[-1])
    args = (strides, padding, dilation)

    def run():
        y = ck.conv_forward(x, w, *args)
        gy = rng.standard_normal(y.shape)
        return (y, ck.conv_forward(x, w, *args, bias=b), ck.conv_forward(x, w, *args, bias=b, relu=True),
                ck.conv_input_grad(gy, w, x.shape, *args), ck.conv_weight_grad(x, gy, w.shape, *args))

    state = rng.bit_generator.state
    got = run()
    for threshold, chunk in ((0, cg.CHUNK_BYTES), (cg._MAX_CHANNELS_BY_OFFSET, 600)):
        monkeypatch.setattr(cg, "_MAX_CHANNELS_BY_OFFSET", threshold)
        monkeypatch.setattr(cg, "CHUNK_BYTES", chunk)
        rng.bit_generator.state = state
        for a, ref in zip(got, run()):
            np.testing.assert_allclose(a, ref, rtol=1e-12, atol=1e-12)
    assert (got[2] == 0).any() and (got[2] > 0).any()


def _temporaries(fn):
    """Bytes fn allocates at its peak beyond what it returns (tracemalloc sees NumPy's buffers)."""
    import tracemalloc
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before - sum(a.nbytes for a in (result if isinstance(result, tuple) else (result,)))


def test_kernel_temporaries_are_what_the_docstrings_say(monkeypatch):
    """The largest temporaries, as the docstrings state them: padded copies plus one block of about
    CHUNK_BYTES in all (the block's tiles and the widened stride-1 gradient included), and for an
    integer average pool one padded float copy."""
    chunk = 256 << 10
    monkeypatch.setattr(cg, "CHUNK_BYTES", chunk)
    rng = _rng(15)
    x = rng.standard_normal((8, 12, 12, 5)).astype(np.float32)
    w = rng.standard_normal((3, 3, 5, 64)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    small = 48 << 10                        # kernel-sized arrays, NumPy's casting buffers, bookkeeping
    # forward with the bias/relu epilogue: im2col block + tiled bias + tiled zeros ~ one chunk
    assert _temporaries(lambda: ck.conv_forward(x, w, bias=b, relu=True)) <= chunk + small
    # stride-1 input gradient (flat): padded gradient + widened gy block + its products ~ one chunk
    gy = rng.standard_normal((8, 12, 12, 64)).astype(np.float32)
    padded = 8 * 14 * 14 * 5 * 4
    assert _temporaries(lambda: ck.conv_input_grad(gy, w, x.shape, 1, "same")) <= padded + chunk + small
    assert _temporaries(lambda: ck.conv_weight_grad(x, gy, w.shape, 1, "same")) <= padded + chunk + small
    # few channels (transposed im2col): the buffer and the relu tile within one chunk
    x1 = rng.standard_normal((16, 20, 20, 1)).astype(np.float32)
    w1 = rng.standard_normal((3, 3, 1, 32)).astype(np.float32)
    assert _temporaries(lambda: ck.conv_forward(x1, w1, bias=b[:32], relu=True)) <= chunk + small
    # pooling: an integer image is padded straight into float (one copy, not a float copy and a padded one)
    xi = rng.integers(0, 255, (32, 27, 27, 3)).astype(np.uint8)
    padded_f32 = 32 * 28 * 28 * 3 * 4
    assert _temporaries(lambda: pk.avg_pool_forward(xi, 2, padding="same")) <= padded_f32 + small
    xf = rng.standard_normal((32, 27, 27, 8)).astype(np.float32)
    y_count = 32 * 14 * 14 * 8
    assert _temporaries(lambda: pk.max_pool_forward(xf, 2, padding="same")) <= 32 * 28 * 28 * 8 * 4 + 2 * y_count + small
    assert _temporaries(lambda: pk.max_pool_values(xf, 2, padding="same")) <= 32 * 28 * 28 * 8 * 4 + small


# ----------------------------------------------------------------------------- 4-D against the formulas

def _naive_conv(x, w, strides, pairs, dilation, groups):
    """y[n, o, g*Og+m] = sum_{k, c} x_p[n, o*s + k*d, g*Cg+c] * w[k, c, g*Og+m], position by position."""
    nd = x.ndim - 2
    xp_ = np.pad(x, [(0, 0)] + list(pairs) + [(0, 0)])
    kernel, cg, c_out = w.shape[:nd], w.shape[nd], w.shape[-1]
    og = c_out // groups
    out = [(xp_.shape[1 + i] - (kernel[i] - 1) * dilation[i] - 1) // strides[i] + 1 for i in range(nd)]
    y = np.zeros((x.shape[0], *out, c_out))
    for o in itertools.product(*map(range, out)):
        for k in itertools.product(*map(range, kernel)):
            pos = tuple(o[i] * strides[i] + k[i] * dilation[i] for i in range(nd))
            for g in range(groups):
                xs = xp_[(slice(None),) + pos + (slice(g * cg, (g + 1) * cg),)]
                y[(slice(None),) + o + (slice(g * og, (g + 1) * og),)] += xs @ w[k][:, g * og:(g + 1) * og]
    return y


CONV4D_CASES = [
    ((2, 4, 3, 4, 5, 3), (2, 2, 2, 3, 3, 4), 1, "valid", 1, 1),
    ((2, 5, 4, 3, 4, 2), (3, 2, 2, 2, 2, 3), (2, 1, 1, 2), "same", (1, 1, 2, 1), 1),
    ((1, 4, 4, 4, 3, 4), (2, 2, 3, 2, 2, 6), 1, ((1, 0), (0, 1), (1, 1), (0, 0)), 1, 2),
    ((2, 3, 4, 3, 4, 3), (2, 2, 2, 2, 1, 6), 2, "same", 1, 3),                  # depthwise 4-D
    ((1, 4, 3, 4, 3, 5), (2, 2, 2, 2, 5, 3), 1, "same", (1, 2, 1, 1), 1),      # flat input grad 4-D
    ((2, 3, 4, 3, 3, 10), (2, 1, 2, 2, 5, 4), (1, 2, 1, 1), "valid", 1, 2),    # per-group GEMMs 4-D
]


@pytest.mark.parametrize("case", CONV4D_CASES)
def test_conv4d_matches_naive_formula(case):
    xs, ws, strides, padding, dilation, groups = case
    rng = _rng(4)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    nd = 4
    s, d = ck._ntuple(strides, nd, "strides"), ck._ntuple(dilation, nd, "dilation")
    pairs = ck.resolve_padding(padding, xs[1:-1], ws[:nd], s, d)
    y_ref = _naive_conv(x, w, s, pairs, d, groups)
    y = ck.conv_forward(x, w, strides, padding, dilation, groups)
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-10)
    gy = rng.standard_normal(y.shape)
    gx_ref, gw_ref, _ = naive_conv_vjp(x, w, gy, s, pairs, d, groups)
    gx = ck.conv_input_grad(gy, w, x.shape, strides, padding, dilation, groups)
    gw = ck.conv_weight_grad(x, gy, w.shape, strides, padding, dilation, groups)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, gw_ref, rtol=1e-10, atol=1e-10)
    # Adjoint identity: <conv(x, w), gy> = <x, dL/dx> = <w, dL/dw> (the conv is bilinear).
    inner = np.vdot(y, gy)
    np.testing.assert_allclose([np.vdot(x, gx), np.vdot(w, gw)], [inner, inner], rtol=1e-10)


def test_conv4d_gradient_matches_finite_differences():
    rng = _rng(5)
    x, w = rng.standard_normal((1, 3, 4, 3, 3, 2)), rng.standard_normal((2, 2, 2, 2, 2, 3))
    args = ((1, 2, 1, 1), "same", (1, 1, 1, 2), 1)
    gy = rng.standard_normal(ck.conv_forward(x, w, *args).shape)
    gx = ck.conv_input_grad(gy, w, x.shape, *args)
    gw = ck.conv_weight_grad(x, gy, w.shape, *args)
    eps = 1e-6
    for arr, grad, idx in ((x, gx, (0, 1, 2, 0, 1, 1)), (x, gx, (0, 2, 3, 2, 2, 0)), (w, gw, (1, 0, 1, 1, 0, 2))):
        old = arr[idx]
        arr[idx] = old + eps
        up = np.vdot(ck.conv_forward(x, w, *args), gy)
        arr[idx] = old - eps
        down = np.vdot(ck.conv_forward(x, w, *args), gy)
        arr[idx] = old
        assert abs((up - down) / (2 * eps) - grad[idx]) < 1e-6


# ----------------------------------------------------------------------------- padding, shapes, transposed conv

@pytest.mark.parametrize("size, kernel, stride, dilation, expected", [
    (7, 3, 2, 1, (1, 1)),      # out 4: total (4-1)*2 + 3 - 7 = 2
    (8, 3, 2, 1, (0, 1)),      # out 4: total 1, the odd one on the high side
    (8, 4, 1, 1, (1, 2)),
    (5, 3, 1, 2, (2, 2)),      # dilated kernel 5
    (9, 2, 3, 1, (0, 0)),      # windows fit: no padding
    (10, 5, 4, 1, (1, 2)),     # out 3: total 8 + 5 - 10 = 3
])
def test_resolve_padding_same_is_tensorflow(size, kernel, stride, dilation, expected):
    assert ck.resolve_padding("same", (size,), (kernel,), (stride,), (dilation,)) == (expected,)
    out = ck.conv_output_size((size,), (kernel,), (stride,), (expected,), (dilation,))
    assert out == (-(-size // stride),)


def test_resolve_padding_forms():
    assert ck.resolve_padding("valid", (5, 6), (3, 3)) == ((0, 0), (0, 0))
    assert ck.resolve_padding("VALID", (5,), (3,)) == ((0, 0),)
    assert ck.resolve_padding(2, (5, 6), (3, 3)) == ((2, 2), (2, 2))
    assert ck.resolve_padding((1, 2), (5, 6), (3, 3)) == ((1, 1), (2, 2))
    assert ck.resolve_padding(((0, 1), (2, 0)), (5, 6), (3, 3)) == ((0, 1), (2, 0))
    assert ck.resolve_padding("causal", (5,), (3,), 1, 2) == ((4, 0),)
    with pytest.raises(ValueError, match="unknown padding"):
        ck.resolve_padding("full", (5,), (3,))
    with pytest.raises(ValueError, match="non-negative"):
        ck.resolve_padding(-1, (5,), (3,))
    with pytest.raises(ValueError, match="entries"):
        ck.resolve_padding((1, 2, 3), (5, 6), (3, 3))


def test_conv_rejects_bad_shapes():
    x = np.zeros((2, 5, 5, 4))
    with pytest.raises(ValueError, match="groups"):
        ck.conv_forward(x, np.zeros((3, 3, 3, 6)), groups=2)
    with pytest.raises(ValueError, match="groups"):
        ck.conv_forward(x, np.zeros((3, 3, 2, 5)), groups=2)
    with pytest.raises(ValueError, match="smaller than"):
        ck.conv_forward(x, np.zeros((6, 3, 4, 2)))
    with pytest.raises(ValueError, match="spatial dims"):
        ck.conv_forward(x, np.zeros((3, 4, 2)))
    with pytest.raises(ValueError, match="gy has shape"):
        ck.conv_input_grad(np.zeros((2, 4, 4, 2)), np.zeros((3, 3, 4, 2)), x.shape)
    with pytest.raises(ValueError, match="data_format"):
        ck.conv_forward(x, np.zeros((3, 3, 4, 2)), data_format="NHWC")
    with pytest.raises(TypeError):
        ck.conv_forward([[1.0]], np.zeros((3, 3, 4, 2)))


def test_conv_keeps_float32_and_never_upcasts():
    rng = _rng(6)
    x = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    y = ck.conv_forward(x, w, 2, "same")
    gy = np.ones_like(y)
    assert y.dtype == np.float32
    assert ck.conv_input_grad(gy, w, x.shape, 2, "same").dtype == np.float32
    assert ck.conv_weight_grad(x, gy, w.shape, 2, "same").dtype == np.float32
    xi = rng.integers(0, 255, (2, 6, 5, 3)).astype(np.uint8)   # images as uint8 meet a float32 kernel
    np.testing.assert_allclose(ck.conv_forward(xi, w), ck.conv_forward(xi.astype(np.float32), w), rtol=1e-6)
    assert ck.conv_forward(xi, w).dtype == np.float32


@pytest.mark.parametrize("xs, ws, stride, padding, output_padding, dilation, groups", [
    ((2, 4, 5, 6), (4, 3, 3, 3), 2, 1, 1, 1, 1),
    ((2, 4, 5, 4), (4, 2, 3, 2), (2, 3), (0, 1), (1, 2), (1, 1), 2),
    ((2, 3, 4, 4), (3, 5, 3, 3), 1, 0, 0, 2, 1),
    ((2, 3, 7), (3, 2, 4), 3, 2, 2, 1, 1),
])
def test_conv_transpose_matches_torch(xs, ws, stride, padding, output_padding, dilation, groups):
    nd = len(xs) - 2
    rng = _rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)       # torch layout: (C_in, C_out // g, *k)
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d}[nd]
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = fn(xt, wt, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)
    y_ref = yt.detach().numpy()
    gy = rng.standard_normal(y_ref.shape)
    gx_ref, gw_ref = torch.autograd.grad(yt, (xt, wt), torch.tensor(gy))
    s, p, op, d = ((v,) * nd if isinstance(v, int) else v for v in (stride, padding, output_padding, dilation))
    out = ck.conv_transpose_output_size(xs[2:], ws[2:], s, tuple(zip(p, p)), d, op)
    assert out == y_ref.shape[2:]
    w_keras = _to_keras_kernel(w)                   # (*k, C_out // g, C_in), Keras's Conv*DTranspose layout
    y = ck.conv_transpose_forward(_cl(x), w_keras, out, s, tuple(zip(p, p)), d, groups)
    np.testing.assert_allclose(_cf(y), y_ref, rtol=1e-10, atol=1e-10)
    # Its gradients are the forward conv (w.r.t. x) and the conv's weight gradient with the roles swapped.
    gx = ck.conv_forward(_cl(gy), w_keras, s, tuple(zip(p, p)), d, groups)
    gw = ck.conv_weight_grad(_cl(gy), _cl(x), w_keras.shape, s, tuple(zip(p, p)), d, groups)
    np.testing.assert_allclose(_cf(gx), gx_ref.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, _to_keras_kernel(gw_ref.numpy()), rtol=1e-10, atol=1e-10)


def test_conv_transpose_output_size_keras():
    # Keras deconv_output_length: valid -> in*s + max(k - s, 0); same -> in*s.
    assert ck.conv_transpose_output_size((5, 7), (3, 3), 2, "valid") == (11, 15)
    assert ck.conv_transpose_output_size((5,), (2,), 3, "valid") == (15,)
    assert ck.conv_transpose_output_size((5, 7), (3, 3), 2, "same") == (10, 14)
    assert ck.conv_transpose_output_size((5,), (3,), 2, "same", output_padding=1) == (10,)
    # and "same" resolved against that output gives back the input size through the forward conv
    rng = _rng(8)
    x, w = rng.standard_normal((2, 5, 7, 3)), rng.standard_normal((3, 3, 4, 3))
    out = ck.conv_transpose_output_size((5, 7), (3, 3), 2, "same")
    y = ck.conv_transpose_forward(x, w, out, 2, "same")
    assert y.shape == (2, 10, 14, 4)
    assert ck.conv_forward(y, w, 2, "same").shape == x.shape


# ----------------------------------------------------------------------------- pooling

POOL_CASES = [  # (x shape channels_first, pool, strides, torch symmetric padding)
    ((2, 3, 12), 2, None, 0),
    ((2, 3, 11), 3, 2, 1),
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 3, 9, 7), 2, None, 0),                  # does not divide: the last row/col is dropped
    ((2, 3, 9, 8), 3, 2, 1),                     # overlapping windows
    ((2, 2, 7, 7), (2, 3), (1, 2), (1, 1)),
    ((2, 2, 6, 5, 7), 2, None, 0),
    ((1, 2, 7, 6, 5), (3, 2, 3), (2, 1, 2), (1, 0, 1)),
]


def _torch_pool(kind, x, pool, strides, padding, gy=None, count_include_pad=True):
    nd = x.ndim - 2
    xt = torch.tensor(x, requires_grad=True)
    if kind == "max":
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
        y = fn(xt, pool, strides, padding)
    else:
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
        y = fn(xt, pool, strides, padding, count_include_pad=count_include_pad)
    if gy is None:
        return y.detach().numpy(), None
    return y.detach().numpy(), torch.autograd.grad(y, xt, torch.tensor(gy))[0].numpy()


def _explicit(padding, nd):
    p = (padding,) * nd if isinstance(padding, int) else padding
    return tuple((v, v) for v in p)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_max_pool_matches_torch(case, dtype):
    xs, pool, strides, padding = case
    rng = _rng(9)
    x = rng.standard_normal(xs).astype(dtype)
    y_ref, _ = _torch_pool("max", x, pool, strides, padding)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    y_ref, gx_ref = _torch_pool("max", x, pool, strides, padding, gy)
    pads = _explicit(padding, len(xs) - 2)
    y, argmax = pk.max_pool_forward(_cl(x), pool, strides, pads)
    gx = pk.max_pool_backward(_cl(gy), argmax, _cl(x).shape, pool, strides, pads)
    assert y.dtype == dtype and gx.dtype == dtype
    np.testing.assert_array_equal(_cf(y), y_ref)
    np.testing.assert_allclose(_cf(gx), gx_ref, **TOL[dtype])
    y2, argmax2 = pk.max_pool_forward(x, pool, strides, pads, data_format="channels_first")
    np.testing.assert_array_equal(y2, y_ref)
    gx2 = pk.max_pool_backward(gy, argmax2, x.shape, pool, strides, pads, data_format="channels_first")
    np.testing.assert_allclose(gx2, gx_ref, **TOL[dtype])


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_max_pool_ties_pick_the_first_maximum_like_torch(case):
    xs, pool, strides, padding = case
    rng = _rng(10)
    x = rng.integers(0, 2, xs).astype(np.float64)          # ties everywhere
    y_ref, _ = _torch_pool("max", x, pool, strides, padding)
    gy = rng.standard_normal(y_ref.shape)
    _, gx_ref = _torch_pool("max", x, pool, strides, padding, gy)
    pads = _explicit(padding, len(xs) - 2)
    y, argmax = pk.max_pool_forward(_cl(x), pool, strides, pads)
    gx = pk.max_pool_backward(_cl(gy), argmax, _cl(x).shape, pool, strides, pads)
    np.testing.assert_allclose(_cf(gx), gx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_avg_pool_matches_torch(case, dtype, count_include_pad):
    xs, pool, strides, padding = case
    rng = _rng(11)
    x = rng.standard_normal(xs).astype(dtype)
    y_ref, _ = _torch_pool("avg", x, pool, strides, padding, count_include_pad=count_include_pad)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    y_ref, gx_ref = _torch_pool("avg", x, pool, strides, padding, gy, count_include_pad)
    pads = _explicit(padding, len(xs) - 2)
    y = pk.avg_pool_forward(_cl(x), pool, strides, pads, count_include_pad)
    gx = pk.avg_pool_backward(_cl(gy), _cl(x).shape, pool, strides, pads, count_include_pad)
    assert y.dtype == dtype and gx.dtype == dtype
    np.testing.assert_allclose(_cf(y), y_ref, **TOL[dtype])
    np.testing.assert_allclose(_cf(gx), gx_ref, **TOL[dtype])


def _naive_pool(kind, x, pool, strides, pairs):
    """Window by window from the definition; 'avg' averages the real (unpadded) elements only."""
    nd = x.ndim - 2
    out = [(x.shape[1 + i] + sum(pairs[i]) - pool[i]) // strides[i] + 1 for i in range(nd)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in itertools.product(*map(range, out)):
        sl = []
        for i in range(nd):
            start = o[i] * strides[i] - pairs[i][0]
            sl.append(slice(max(start, 0), min(start + pool[i], x.shape[1 + i])))
        win = x[(slice(None),) + tuple(sl) + (slice(None),)].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None),) + o + (slice(None),)] = win.max(1) if kind == "max" else win.mean(1)
    return y


@pytest.mark.parametrize("pool, strides, padding", [
    (2, None, "valid"), (3, 2, "same"), ((2, 3, 1, 2), (1, 2, 1, 2), "same"), (2, 1, ((1, 0), (0, 1), (1, 1), (0, 0))),
])
def test_pool4d_matches_naive_formula(pool, strides, padding):
    rng = _rng(12)
    x = rng.standard_normal((2, 5, 4, 3, 5, 3))
    p = ck._ntuple(pool, 4, "pool")
    s = p if strides is None else ck._ntuple(strides, 4, "s")
    pairs = ck.resolve_padding(padding, x.shape[1:-1], p, s)
    for kind in ("max", "avg"):
        ref = _naive_pool(kind, x, p, s, pairs)
        if kind == "max":
            y, argmax = pk.max_pool_forward(x, pool, strides, padding)
        else:
            y = pk.avg_pool_forward(x, pool, strides, padding)
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
        # gradients through the adjoint: for avg the map is linear, for max linear given the argmax
        gy = rng.standard_normal(y.shape)
        if kind == "max":
            gx = pk.max_pool_backward(gy, argmax, x.shape, pool, strides, padding)
            np.testing.assert_allclose(np.vdot(gx, x), np.vdot(gy, y), rtol=1e-10)
            assert np.count_nonzero(gx) <= y.size
        else:
            gx = pk.avg_pool_backward(gy, x.shape, pool, strides, padding)
            np.testing.assert_allclose(np.vdot(gx, x), np.vdot(gy, y), rtol=1e-10)


def test_avg_pool_same_counts_only_real_elements_like_keras():
    x = np.ones((1, 5, 5, 1))
    y = pk.avg_pool_forward(x, 2, 2, "same")       # padding (0, 1): the last window row/col is half padding
    np.testing.assert_allclose(y, np.ones((1, 3, 3, 1)))
    y = pk.avg_pool_forward(x, 2, 2, "same", count_include_pad=True)
    assert y[0, 2, 2, 0] == 0.25 and y[0, 0, 0, 0] == 1.0


def test_pool_dtypes_and_errors():
    x = _rng(13).standard_normal((2, 6, 6, 3)).astype(np.float32)
    y, argmax = pk.max_pool_forward(x, 2)
    assert y.dtype == np.float32 and argmax.dtype == np.uint8
    assert pk.avg_pool_forward(x, 3, 1, "same").dtype == np.float32
    assert pk.avg_pool_forward(np.ones((1, 4, 4, 1), np.uint8), 2).dtype == np.float32
    with pytest.raises(ValueError, match="pool_size"):
        pk.max_pool_forward(x, 7)
    with pytest.raises(ValueError, match="padding"):
        pk.max_pool_forward(x, 2, 1, 2)
    with pytest.raises(ValueError, match="output shape"):
        pk.max_pool_backward(np.zeros((2, 2, 2, 3)), argmax, x.shape, 2)


def test_max_pool_propagates_nan():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    x[0, 1, 0, 0] = np.nan
    y, _ = pk.max_pool_forward(x, 2)
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 1, 1, 0])


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_max_pool_without_graph_skips_argmax_and_gives_the_same_values(case):
    import chainrule as cr
    from chainrule import functional as F

    xs, pool, strides, padding = case
    x = np.random.default_rng(3).standard_normal(xs).astype(np.float32)
    x.flat[::7] = np.nan
    args = (pool, strides, _explicit(padding, x.ndim - 2))
    y_graph = F.max_pool(cr.tensor(x, requires_grad=True), *args, data_format="channels_first")
    with cr.no_grad():
        y_plain = F.max_pool(cr.tensor(x, requires_grad=True), *args, data_format="channels_first")
    assert y_graph.requires_grad and not y_plain.requires_grad
    assert y_plain.dtype == np.float32
    np.testing.assert_array_equal(y_plain.numpy(), y_graph.numpy())
    np.testing.assert_array_equal(y_plain.numpy(), pk.max_pool_forward(x, *args, "channels_first")[0])
