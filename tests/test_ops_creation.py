"""Tensor factories and the method/operator forms of the ops."""
import numpy as np
import pytest

import chainrule as cr
from differential import check


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda: cr.zeros(2, 3), np.zeros((2, 3))),
        (lambda: cr.zeros((2, 3)), np.zeros((2, 3))),
        (lambda: cr.ones(4), np.ones(4)),
        (lambda: cr.ones(()), np.ones(())),
        (lambda: cr.full((2, 2), 1.5), np.full((2, 2), 1.5)),
        (lambda: cr.full(3, -2.0), np.full(3, -2.0)),
        (lambda: cr.arange(0.0, 1.0, 0.25), np.arange(0.0, 1.0, 0.25)),
        (lambda: cr.arange(2.5), np.arange(2.5)),
        (lambda: cr.eye(3), np.eye(3)),
        (lambda: cr.eye(2, 3), np.eye(2, 3)),
        (lambda: cr.zeros_like(cr.ones(2, 5)), np.zeros((2, 5))),
        (lambda: cr.ones_like(np.zeros((3, 1))), np.ones((3, 1))),
    ],
)
def test_float_factories(make, expect):
    t = make()
    assert isinstance(t, cr.Tensor) and t.dtype == np.float32 and not t.requires_grad
    np.testing.assert_array_equal(t.numpy(), expect)


def test_factories_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (cr.zeros(2, 3), torch.zeros(2, 3)), (cr.ones(3), torch.ones(3)), (cr.full((2,), 7.0), torch.full((2,), 7.0)),
        (cr.arange(5), torch.arange(5)), (cr.arange(1, 7, 2), torch.arange(1, 7, 2)),
        (cr.arange(0.0, 1.0, 0.1), torch.arange(0.0, 1.0, 0.1)), (cr.eye(3), torch.eye(3)), (cr.eye(2, 4), torch.eye(2, 4)),
    ]
    for a, b in pairs:
        assert a.shape == tuple(b.shape)
        assert a.dtype.kind == b.numpy().dtype.kind and a.dtype.itemsize == b.numpy().dtype.itemsize
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_factory_dtype_and_requires_grad():
    assert cr.zeros(2, dtype="float64").dtype == np.float64
    assert cr.ones(2, dtype="int32").dtype == np.int32
    assert cr.arange(3).dtype == np.int64
    assert cr.arange(3, dtype="float32").dtype == np.float32
    assert cr.zeros_like(cr.ones(2, dtype="float64")).dtype == np.float64
    assert cr.ones_like(cr.arange(3)).dtype == np.int64
    w = cr.randn(2, 2, requires_grad=True)
    assert w.requires_grad and w.is_leaf
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy())


def test_random_factories():
    cr.manual_seed(0)
    u = cr.rand(2000)
    n = cr.randn(40, 50)
    assert u.dtype == np.float32 and n.dtype == np.float32 and n.shape == (40, 50)
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0
    assert abs(u.numpy().mean() - 0.5) < 0.03
    assert abs(n.numpy().mean()) < 0.06 and abs(n.numpy().std() - 1.0) < 0.05
    assert cr.randn(3, dtype="float64").dtype == np.float64
    assert cr.rand((2, 3)).shape == (2, 3)


def test_tensor_constructor_dtype_policy():
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.ones(2)).dtype == np.float32  # float64 data enters as floatx
    assert cr.tensor(np.ones(2), dtype="float64").dtype == np.float64
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True]).dtype == bool
    assert cr.tensor(3.0).shape == ()
    t = cr.tensor([[1.0, 2.0]])
    assert (t.shape, t.ndim, t.size, t.T.shape) == ((1, 2), 2, 2, (2, 1))
    assert cr.tensor(2.5).item() == 2.5 and float(cr.tensor([2.0])) == 2.0


# ------------------------------------------------------------------------------ method forms equal the functions
def _same(a, b):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_methods_match_functions():
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)))
    for name in ("abs", "exp", "tanh", "sigmoid", "relu", "sin", "cos"):
        _same(getattr(x, name)(), getattr(cr, name)(x))
    for name in ("sum", "mean", "var", "std", "max", "min", "logsumexp", "argmax", "argmin"):
        _same(getattr(x, name)(axis=1, keepdims=True), getattr(cr, name)(x, 1, True))
    _same(x.reshape(6, 4), cr.reshape(x, (6, 4)))
    _same(x.reshape((4, 6)), cr.reshape(x, 4, 6))
    _same(x.transpose(2, 0, 1), cr.transpose(x, (2, 0, 1)))
    _same(x.swapaxes(0, 2), cr.swapaxes(x, 0, 2))
    _same(x.flatten(1), cr.flatten(x, 1))
    _same(x.clip(-0.5, 0.5), cr.clip(x, -0.5, 0.5))
    _same(x.maximum(0.1), cr.maximum(x, 0.1))
    _same(x.pad(1), cr.pad(x, 1))
    _same(x[0].matmul(x[1].T), x[0] @ x[1].T)
    _same(abs(x), cr.abs(x))
    assert [p.shape for p in x.split(2, axis=2)] == [(2, 3, 2), (2, 3, 2)]
    _same(+x, x)


def test_exponent_and_reflected_operators_against_torch():
    check(lambda L, x: 2.0**x + (1.0 - x) * 3.0 / (x * x + 1.0), np.array([0.5, -1.0, 2.0]), dtype="float64")
    check(lambda L, x, y: (3 - x) ** 2 / (1 + y) - 2 * x, np.array([0.5, -1.0]), np.array([0.25, 2.0]), dtype="float32")


def test_ndarray_on_the_left_defers_to_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.float64(1.0)
    assert isinstance(y, cr.Tensor) and y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
