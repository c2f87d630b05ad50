"""The ops behind the core layers (``chainrule.ops.nn`` and ``chainrule.ops.normalization``, exposed
as F.linear, F.dropout, F.batch_norm, F.layer_norm, F.embedding): values and gradients against PyTorch, float64
gradient checks (first and second order), and bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule.ops.nn import _scatter_rows

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-11)}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _leaf(a, dtype="float64"):
    return cr.tensor(np.asarray(a, dtype=dtype), dtype=dtype, requires_grad=True)


def _torch_leaf(torch, a, dtype):
    return torch.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def _close(a, b, dtype):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), **TOL[dtype])


def _compare(cr_fn, torch_fn, arrays, dtype, seed=1):
    """Run both, compare the output and the gradient of sum(out * v) for every array input."""
    torch = pytest.importorskip("torch")
    xs = [_leaf(a, dtype) for a in arrays]
    ts = [_torch_leaf(torch, a, dtype) for a in arrays]
    y = cr_fn(*xs)
    yt = torch_fn(*ts)
    assert y.shape == tuple(yt.shape) and y.dtype == np.dtype(dtype)
    _close(y.data, yt.detach().numpy(), dtype)
    v = _rng(seed).standard_normal(y.shape).astype(dtype)
    y.backward(v)
    yt.backward(torch.tensor(v))
    for x, t in zip(xs, ts):
        _close(x.grad.data, t.grad.numpy(), dtype)
    return xs, ts


# ------------------------------------------------------------------------------------------ linear
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xshape", [(4, 5), (2, 3, 5), (5,)])
def test_linear_matches_torch(dtype, xshape):
    r = _rng()
    x, w, b = r.standard_normal(xshape), r.standard_normal((5, 3)), r.standard_normal(3)
    _compare(lambda x, w, b: F.linear(x, w, b), lambda x, w, b: __import__("torch").nn.functional.linear(x, w.T, b),
             [x, w, b], dtype)


def test_linear_without_bias_and_equal_to_unfused():
    r = _rng()
    x, w = r.standard_normal((6, 4)), r.standard_normal((4, 2))
    X, W = _leaf(x), _leaf(w)
    y = F.linear(X, W)
    np.testing.assert_allclose(y.data, x @ w, rtol=1e-12)
    y.backward(np.ones_like(y.data))
    X2, W2 = _leaf(x), _leaf(w)
    (X2 @ W2).backward(np.ones((6, 2)))
    np.testing.assert_allclose(X.grad.data, X2.grad.data, rtol=1e-12)
    np.testing.assert_allclose(W.grad.data, W2.grad.data, rtol=1e-12)


def test_linear_gradcheck_and_gradgradcheck():
    r = _rng(2)
    x, w, b = _leaf(r.standard_normal((2, 3, 4))), _leaf(r.standard_normal((4, 3))), _leaf(r.standard_normal(3))
    assert cr.gradcheck(F.linear, [x, w, b])
    assert cr.gradgradcheck(F.linear, [x, w, b])
    assert cr.gradgradcheck(lambda x, w: F.linear(x, w) * F.linear(x, w), [x, w])


def test_linear_bad_input():
    x = cr.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"linear: .*3 features.*expects 4"):
        F.linear(x, cr.tensor(np.ones((4, 2))))
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        F.linear(x, cr.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="bias must have shape"):
        F.linear(x, cr.tensor(np.ones((3, 2))), cr.tensor(np.ones(3)))


def test_linear_casts_integer_input_to_kernel_dtype():
    w = cr.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    y = F.linear(np.arange(6, dtype=np.uint8).reshape(2, 3), w)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [[3, 3], [12, 12]])


# ------------------------------------------------------------------------------------------ dropout
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5", True])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=r"dropout: rate must be a number in \[0, 1\)"):
        F.dropout(cr.ones(3), rate)


def test_dropout_identity_when_not_training_or_rate_zero():
    x = cr.tensor(_rng().standard_normal((4, 5)), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0, training=True) is x


def test_dropout_statistics_and_inverted_scaling():
    cr.manual_seed(0)
    x = cr.tensor(np.full((400, 500), 2.0, dtype=np.float32), requires_grad=True)
    rate = 0.3
    y = F.dropout(x, rate, training=True)
    kept = y.data != 0
    assert abs(1 - kept.mean() - rate) < 0.005  # 200k Bernoulli draws: std 0.001
    np.testing.assert_allclose(y.data[kept], 2.0 / (1 - rate), rtol=1e-6)
    assert abs(y.data.mean() - 2.0) < 0.02  # E[y] = x
    y.backward(np.ones(y.shape, dtype=np.float32))
    np.testing.assert_allclose(x.grad.data, kept / (1 - rate), rtol=1e-6)  # dL/dx = mask / (1 - rate)


def test_dropout_seed_and_manual_seed_are_reproducible():
    x = cr.ones(50, 20)
    a, b = F.dropout(x, 0.5, seed=7), F.dropout(x, 0.5, seed=7)
    np.testing.assert_array_equal(a.data, b.data)
    cr.manual_seed(3)
    c = F.dropout(x, 0.5)
    cr.manual_seed(3)
    d = F.dropout(x, 0.5)
    np.testing.assert_array_equal(c.data, d.data)
    assert not np.array_equal(F.dropout(x, 0.5).data, d.data)


def test_dropout_noise_shape_broadcasts_the_mask():
    x = cr.ones(8, 5, 6)
    y = F.dropout(x, 0.5, noise_shape=(None, 1, 6), seed=0).data
    assert (y == y[:, :1, :]).all()  # one mask per (sample, feature), shared over the middle axis
    with pytest.raises(ValueError, match="noise_shape"):
        F.dropout(x, 0.5, noise_shape=(8, 2, 6))


def test_dropout_gradcheck_with_fixed_mask():
    x = _leaf(_rng().standard_normal((5, 4)))
    assert cr.gradcheck(lambda x: F.dropout(x, 0.4, training=True, seed=11), [x])
    assert cr.gradgradcheck(lambda x: F.dropout(x, 0.4, training=True, seed=11) ** 2, [x])


# ------------------------------------------------------------------------------------------ batch norm
def _torch_bn_channels_last(torch, x, rm, rv, g, b, training, momentum, eps):
    """torch's batch_norm wants channels on axis 1: move them there and back."""
    nd = x.ndim
    perm = (0, nd - 1) + tuple(range(1, nd - 1))
    inv = np.argsort(perm).tolist()
    y = torch.nn.functional.batch_norm(x.permute(*perm), rm, rv, g, b, training=training, momentum=momentum, eps=eps)
    return y.permute(*inv)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 3, 6)])
def test_batch_norm_training_matches_torch(dtype, shape):
    torch = pytest.importorskip("torch")
    r = _rng(3)
    c = shape[-1]
    x = r.standard_normal(shape) * 2 + 1
    g, b = r.standard_normal(c) + 1, r.standard_normal(c)
    mm, mv = np.zeros(c, dtype), np.ones(c, dtype)
    rm, rv = torch.zeros(c, dtype=getattr(torch, dtype)), torch.ones(c, dtype=getattr(torch, dtype))
    _compare(
        lambda x, g, b: F.batch_norm(x, mm, mv, g, b, training=True, momentum=0.9, epsilon=1e-3),
        lambda x, g, b: _torch_bn_channels_last(torch, x, rm, rv, g, b, True, 0.1, 1e-3),
        [x, g, b], dtype,
    )
    # moving mean: the same rule as torch's running_mean (torch momentum = 1 - keras momentum)
    _close(mm, rm.numpy(), dtype)
    # moving variance: Keras uses the biased batch variance; torch the unbiased one (n / (n - 1) larger)
    n = x.size // c
    var_b = x.reshape(-1, c).var(axis=0)
    _close(mv, 0.9 * 1.0 + 0.1 * var_b, dtype)
    _close(rv.numpy(), 0.9 * 1.0 + 0.1 * var_b * n / (n - 1), dtype)


def test_batch_norm_axis_1_channels_first_matches_torch():
    torch = pytest.importorskip("torch")
    r = _rng(4)
    x, g, b = r.standard_normal((3, 4, 5, 2)), r.standard_normal(4), r.standard_normal(4)
    mm, mv = np.zeros(4), np.ones(4)
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    _compare(
        lambda x, g, b: F.batch_norm(x, mm, mv, g, b, training=True, axis=1),
        lambda x, g, b: torch.nn.functional.batch_norm(x, rm, rv, g, b, training=True, momentum=0.01, eps=1e-3),
        [x, g, b], "float64",
    )
    _close(mm, rm.numpy(), "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batch_norm_inference_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    r = _rng(5)
    x, g, b = r.standard_normal((6, 2, 2, 3)), r.standard_normal(3), r.standard_normal(3)
    mm, mv = r.standard_normal(3).astype(dtype), (r.random(3) + 0.5).astype(dtype)
    mm0, mv0 = mm.copy(), mv.copy()
    rm, rv = torch.tensor(mm), torch.tensor(mv)
    _compare(
        lambda x, g, b: F.batch_norm(x, mm, mv, g, b, training=False),
        lambda x, g, b: _torch_bn_channels_last(torch, x, rm, rv, g, b, False, 0.01, 1e-3),
        [x, g, b], dtype,
    )
    np.testing.assert_array_equal(mm, mm0)  # inference leaves the moving statistics alone
    np.testing.assert_array_equal(mv, mv0)


def test_batch_norm_gradcheck_and_gradgradcheck():
    r = _rng(6)
    for shape, axis in [((5, 3), -1), ((3, 2, 2, 2), -1), ((3, 2, 2, 2), 1), ((4, 3, 2), (1, 2))]:
        pshape = tuple(shape[a] for a in ((axis,) if isinstance(axis, int) else axis))
        x, g, b = (_leaf(r.standard_normal(s)) for s in (shape, pshape, pshape))
        fn = lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, axis=axis)  # noqa: E731
        assert cr.gradcheck(fn, [x, g, b])
        assert cr.gradgradcheck(fn, [x, g, b])
    x = _leaf(r.standard_normal((4, 3)))
    assert cr.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])  # no gamma/beta
    assert cr.gradgradcheck(lambda x, g: F.batch_norm(x, np.zeros(3), np.ones(3), g, training=False),
                            [x, _leaf(r.standard_normal(3))])


def test_batch_norm_fused_equals_composed_math():
    r = _rng(7)
    x, g, b = r.standard_normal((7, 4)), r.standard_normal(4), r.standard_normal(4)
    X, G, B = _leaf(x), _leaf(g), _leaf(b)
    y = F.batch_norm(X, None, None, G, B, training=True)
    X2, G2, B2 = _leaf(x), _leaf(g), _leaf(b)
    mu = X2.mean(axis=0, keepdims=True)
    y2 = (X2 - mu) / cr.sqrt(((X2 - mu) ** 2).mean(axis=0, keepdims=True) + 1e-3) * G2 + B2
    v = r.standard_normal(y.shape)
    y.backward(v)
    y2.backward(v)
    for a, c in [(y, y2), (X.grad, X2.grad), (G.grad, G2.grad), (B.grad, B2.grad)]:
        np.testing.assert_allclose(a.data, c.data, rtol=1e-10, atol=1e-12)


def test_batch_norm_bad_input():
    x = cr.ones(4, 3)
    with pytest.raises(ValueError, match="moving_mean is needed in inference"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"moving_mean must be an array of shape \(3,\)"):
        F.batch_norm(x, np.zeros(4), np.ones(3))
    with pytest.raises(ValueError, match=r"gamma has shape \(2,\), expected \(3,\)"):
        F.batch_norm(x, np.zeros(3), np.ones(3), gamma=np.ones(2))
    with pytest.raises(ValueError, match="empty batch"):
        F.batch_norm(cr.ones(0, 3), None, None, training=True)


# ------------------------------------------------------------------------------------------ layer norm
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((2, 3, 5), -1), ((2, 3, 4), (-2, -1))])
def test_layer_norm_matches_torch(dtype, shape, axis):
    torch = pytest.importorskip("torch")
    r = _rng(8)
    nshape = shape[-1:] if axis == -1 else shape[-2:]
    x, g, b = r.standard_normal(shape) * 3 + 1, r.standard_normal(nshape), r.standard_normal(nshape)
    _compare(
        lambda x, g, b: F.layer_norm(x, g, b, axis=axis),
        lambda x, g, b: torch.nn.functional.layer_norm(x, nshape, g, b, eps=1e-3),  # Keras's epsilon
        [x, g, b], dtype,
    )


def test_layer_norm_gradcheck_and_gradgradcheck():
    r = _rng(9)
    x, g, b = _leaf(r.standard_normal((3, 5))), _leaf(r.standard_normal(5)), _leaf(r.standard_normal(5))
    assert cr.gradcheck(F.layer_norm, [x, g, b])
    assert cr.gradgradcheck(F.layer_norm, [x, g, b])
    x2, g2 = _leaf(r.standard_normal((2, 3, 4))), _leaf(r.standard_normal((3, 4)))
    assert cr.gradcheck(lambda x, g: F.layer_norm(x, g, axis=(1, 2)), [x2, g2])
    assert cr.gradcheck(lambda x: F.layer_norm(x, axis=1), [x2])  # no gamma/beta, a middle axis


def test_layer_norm_default_epsilon_is_keras():
    x = np.array([[0.0, 0.1]])
    y = F.layer_norm(cr.tensor(x)).data  # var = 0.0025: epsilon 1e-3 matters
    np.testing.assert_allclose(y, (x - 0.05) / np.sqrt(0.0025 + 1e-3), rtol=1e-6)


# ------------------------------------------------------------------------------------------ embedding
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_matches_torch_with_repeated_indices(dtype):
    torch = pytest.importorskip("torch")
    r = _rng(10)
    table = r.standard_normal((7, 4))
    idx = np.array([[1, 3, 1, 1], [6, 0, 3, 1]])
    _compare(lambda t: F.embedding(idx, t), lambda t: torch.nn.functional.embedding(torch.tensor(idx), t),
             [table], dtype)


def test_embedding_gradient_accumulates_like_add_at():
    r = _rng(11)
    for v, m, skew in [(50, 300, False), (1000, 200, False), (20, 2000, True), (5, 1, False)]:
        idx = r.integers(0, v, m)
        if skew:
            idx[r.random(m) < 0.7] = 3  # one very frequent token: runs longer than 8
        g = r.standard_normal((m, 6)).astype(np.float32)
        ref = np.zeros((v, 6), np.float64)
        np.add.at(ref, idx, g.astype(np.float64))
        out = _scatter_rows(g, idx, v)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert _scatter_rows(np.zeros((0, 3)), np.zeros(0, np.int64), 4).shape == (4, 3)


def test_embedding_gradcheck_and_gradgradcheck():
    table = _leaf(_rng(12).standard_normal((5, 3)))
    idx = np.array([[0, 4, 4], [2, 0, 4]])
    assert cr.gradcheck(lambda t: F.embedding(idx, t), [table])
    assert cr.gradgradcheck(lambda t: F.embedding(idx, t) ** 2, [table])


def test_embedding_bad_indices():
    table = cr.ones(10, 2)
    with pytest.raises(ValueError, match=r"embedding: index 10 is out of range \[0, 10\)"):
        F.embedding(np.array([1, 10]), table)
    with pytest.raises(ValueError, match=r"index -1 is out of range"):
        F.embedding(np.array([-1, 2]), table)
    with pytest.raises(ValueError, match="whole numbers"):
        F.embedding(np.array([1.5]), table)
    with pytest.raises(TypeError, match="integers"):
        F.embedding(np.array([True]), table)
    np.testing.assert_array_equal(F.embedding(np.array([2.0]), table).data, [[1, 1]])
