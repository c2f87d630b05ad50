"""A convolution and the max pooling after it as one op (``F.conv_max_pool``), and Sequential's
use of it at inference (``chainrule/layers/fusion.py``).

* the fused kernel equals ``conv_forward`` then ``max_pool_values`` bit for bit: 1-, 2- and
  3-D, with and without bias and relu, both im2col paths, channels_first, NaN, and the
  cases that fall back (grouped, depthwise, a sample larger than a block);
* the op: values against PyTorch (conv, relu, max_pool), its gradients (recorded as the
  two ops) against PyTorch and ``cr.gradcheck``;
* Sequential: inference equals the layers called one by one, bit for bit; training and
  anything needing a gradient is not fused; summaries still see every layer's shapes;
* bad input: clear errors naming the op.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule.models import sequential as sequential_module
from chainrule.ops import conv_geometry
from chainrule.ops.conv_kernels import conv_forward, conv_max_pool_forward
from chainrule.ops.pool_kernels import max_pool_values


def _rng(seed=0):
    return np.random.default_rng(seed)


KERNEL_CASES = [   # x shape (channels_last), w shape, pool, padding, groups
    ((5, 28, 28, 1), (3, 3, 1, 8), (2, 2), "valid", 1),         # C_in = 1: the by-offset path
    ((6, 13, 13, 16), (3, 3, 16, 24), (2, 2), "valid", 1),      # the im2col path
    ((3, 17, 5), (3, 5, 7), (3,), "same", 1),                   # 1-D, odd sizes cropped
    ((2, 9, 9, 9, 2), (2, 2, 2, 2, 4), (2, 1, 3), "valid", 1),  # 3-D, unequal pools
    ((4, 11, 11, 3), (3, 3, 3, 5), (5, 5), "same", 1),
    ((2, 10, 10, 8), (3, 3, 2, 8), (2, 2), "valid", 4),         # grouped: falls back
    ((2, 10, 10, 4), (3, 3, 1, 4), (2, 2), "valid", 4),         # depthwise: falls back
]


@pytest.mark.parametrize("case", KERNEL_CASES, ids=lambda c: f"x{c[0]}-w{c[1]}-p{c[2]}-{c[3]}-g{c[4]}")
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_fused_kernel_equals_conv_then_pool(case, bias, relu):
    xs, ws, pool, padding, groups = case
    rng = _rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[-1]).astype(np.float32) if bias else None
    ref = max_pool_values(conv_forward(x, w, padding=padding, groups=groups, bias=b, relu=relu), pool)
    got = conv_max_pool_forward(x, w, pool, padding=padding, groups=groups, bias=b, relu=relu)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


def test_fused_kernel_channels_first_float64_and_nan():
    rng = _rng(2)
    x = rng.standard_normal((3, 4, 12, 12))
    x[1, 2, 5, 5] = np.nan
    w = rng.standard_normal((3, 3, 4, 6))
    b = rng.standard_normal(6)
    ref = max_pool_values(conv_forward(x, w, data_format="channels_first", bias=b, relu=True), (2, 2),
                          data_format="channels_first")
    got = conv_max_pool_forward(x, w, (2, 2), data_format="channels_first", bias=b, relu=True)
    assert got.dtype == np.float64 and got.shape == (3, 6, 5, 5)
    assert np.isnan(got[1]).any() and not np.isnan(got[0]).any()
    np.testing.assert_array_equal(got, ref)


def test_fused_kernel_falls_back_when_a_sample_is_larger_than_a_block(monkeypatch):
    monkeypatch.setattr(conv_geometry, "CHUNK_BYTES", 4096)
    import chainrule.ops.conv_kernels as kernels
    monkeypatch.setattr(kernels, "CHUNK_BYTES", 4096)
    rng = _rng(3)
    x = rng.standard_normal((2, 20, 20, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    ref = max_pool_values(conv_forward(x, w, relu=True), (2, 2))
    np.testing.assert_array_equal(conv_max_pool_forward(x, w, (2, 2), relu=True), ref)


def test_fused_kernel_on_two_threads_equals_one(monkeypatch):
    from chainrule import parallel
    rng = _rng(4)
    x = rng.standard_normal((64, 14, 14, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    monkeypatch.setattr(parallel, "num_workers", lambda nbytes=0: 2)
    two = conv_max_pool_forward(x, w, (2, 2), bias=b, relu=True)
    monkeypatch.setattr(parallel, "num_workers", lambda nbytes=0: 1)
    one = conv_max_pool_forward(x, w, (2, 2), bias=b, relu=True)
    np.testing.assert_array_equal(two, one)


# ------------------------------------------------------------------------------------------ the op
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_op_matches_torch_values_and_gradients(data_format):
    torch = pytest.importorskip("torch")
    rng = _rng(5)
    x_cf = rng.standard_normal((3, 2, 11, 10))
    w_th = rng.standard_normal((5, 2, 3, 3))
    b = rng.standard_normal(5)
    v_cf = rng.standard_normal((3, 5, 4, 4))
    last = data_format == "channels_last"
    x = np.ascontiguousarray(np.moveaxis(x_cf, 1, -1)) if last else x_cf
    v = np.ascontiguousarray(np.moveaxis(v_cf, 1, -1)) if last else v_cf
    w = np.ascontiguousarray(w_th.transpose(2, 3, 1, 0))

    xt, wt, bt = (cr.tensor(a, dtype="float64", requires_grad=True) for a in (x, w, b))
    z = F.conv_max_pool(xt, wt, bt, pool_size=2, data_format=data_format, activation="relu")
    (z * cr.tensor(v, dtype="float64")).sum().backward()
    with cr.no_grad():
        z_fused = F.conv_max_pool(*(cr.tensor(a, dtype="float64") for a in (x, w, b)), pool_size=2,
                                  data_format=data_format, activation="relu")

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_cf, w_th, b))
    tz = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(tx, tw, tb)), 2)
    (tz * torch.tensor(v_cf)).sum().backward()

    def cf(a):
        return np.moveaxis(a, -1, 1) if last else a
    np.testing.assert_allclose(cf(z.data), tz.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(z_fused.data, z.data)
    np.testing.assert_allclose(cf(xt.grad.data), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad.data.transpose(3, 2, 0, 1), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bt.grad.data, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_op_gradcheck():
    rng = _rng(6)
    x = cr.tensor(rng.standard_normal((2, 7, 6, 2)), dtype="float64", requires_grad=True)
    w = cr.tensor(rng.standard_normal((3, 2, 2, 3)), dtype="float64", requires_grad=True)
    b = cr.tensor(rng.standard_normal(3), dtype="float64", requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.conv_max_pool(x, w, b, pool_size=2, activation="relu"), [x, w, b])


def test_op_bad_input_names_the_op():
    x = cr.tensor(np.zeros((1, 6, 6, 2), np.float32))
    w = cr.tensor(np.zeros((3, 3, 2, 4), np.float32))
    with cr.no_grad():
        with pytest.raises(ValueError, match="conv_max_pool: pool_size must be positive"):
            F.conv_max_pool(x, w, pool_size=0)
        with pytest.raises(ValueError, match="max_pool: .*smaller than pool_size"):
            F.conv_max_pool(x, w, pool_size=5)
        with pytest.raises(ValueError, match="conv_max_pool: activation"):
            F.conv_max_pool(x, w, activation="tanh")
        with pytest.raises(ValueError, match="conv_max_pool: bias must have shape"):
            F.conv_max_pool(x, w, cr.tensor(np.zeros(3, np.float32)))


# ------------------------------------------------------------------------------------------ Sequential
def _cnn():
    L = cr.layers
    return cr.Sequential([L.Input(shape=(28, 28, 1)),
                          L.Conv2D(8, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                          L.Conv2D(16, (3, 3)), L.MaxPooling2D(),
                          L.Flatten(), L.Dense(10, activation="softmax")])


def _unfused(monkeypatch):
    monkeypatch.setattr(sequential_module, "conv_then_max_pool", lambda *args: None)


def test_sequential_inference_is_fused_and_bit_equal(monkeypatch):
    cr.manual_seed(0)
    model = _cnn()
    x = _rng(7).random((32, 28, 28, 1)).astype(np.float32)
    calls = []
    real = sequential_module.conv_then_max_pool

    def spy(*args):
        out = real(*args)
        calls.append(out is not None)
        return out
    monkeypatch.setattr(sequential_module, "conv_then_max_pool", spy)
    fused = model.predict(x, verbose=0)
    assert sum(calls) >= 2                              # both conv/pool pairs ran fused
    _unfused(monkeypatch)
    np.testing.assert_array_equal(fused, model.predict(x, verbose=0))
    assert model.layers[1].output_shape_seen == (32, 13, 13, 8)
    assert model.layers[2].output_shape_seen == (32, 11, 11, 16)
    assert model.layers[3].output_shape_seen == (32, 5, 5, 16)


def test_sequential_training_is_not_fused(monkeypatch):
    cr.manual_seed(0)
    model = _cnn()
    x = cr.tensor(_rng(8).random((4, 28, 28, 1)).astype(np.float32))
    calls = []
    real = sequential_module.conv_then_max_pool
    monkeypatch.setattr(sequential_module, "conv_then_max_pool", lambda *a: calls.append(real(*a)) or calls[-1])
    y = model(x, training=True)
    assert all(c is None for c in calls)
    grads = cr.grad(y.sum(), model.trainable_weights)
    assert all(g is not None for g in grads)


def test_sequential_other_pairs_are_not_fused():
    L = cr.layers
    conv = L.Conv2D(4, 3, activation="tanh")
    x = cr.tensor(np.ones((1, 8, 8, 1), np.float32))
    conv(x)
    from chainrule.layers.fusion import conv_then_max_pool
    pool = L.MaxPooling2D()
    pool(conv(x))
    with cr.no_grad():
        assert conv_then_max_pool(conv, pool, x) is None                    # tanh: not monotone-fusable here
        strided = L.MaxPooling2D(pool_size=3, strides=2)
        strided(conv(x))
        relu_conv = L.Conv2D(4, 3, activation="relu")
        relu_conv(x)
        assert conv_then_max_pool(relu_conv, strided, x) is None            # strides != pool_size
        assert conv_then_max_pool(relu_conv, L.AveragePooling2D(), x) is None
        assert conv_then_max_pool(relu_conv, pool, x) is not None
