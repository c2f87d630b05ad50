"""``cr.random``: NumPy's random names returning tensors, seeded with ``cr.manual_seed``."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_seed_and_manual_seed_are_one_generator():
    cr.random.seed(3)
    a = cr.random.randn(4, 2)
    cr.manual_seed(3)
    b = cr.random.randn(4, 2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    cr.manual_seed(3)
    c = cr.random.randn(4, 2)
    np.testing.assert_array_equal(a.numpy(), c.numpy())


def test_float_draws_take_floatx_and_shapes_follow_numpy():
    cr.manual_seed(0)
    assert cr.random.randn(2, 3).dtype == np.float32 and cr.random.randn(2, 3).shape == (2, 3)
    assert cr.random.rand().shape == () and cr.random.randn().shape == ()
    assert cr.random.random((5,)).shape == (5,) and cr.random.random_sample(2).shape == (2,)
    assert cr.random.normal(1.0, 2.0, size=(3, 1)).shape == (3, 1)
    assert cr.random.standard_normal(4).dtype == np.float32
    cr.set_floatx("float64")
    assert cr.random.uniform(-1, 1, 3).dtype == np.float64
    assert cr.random.randn(2, dtype="float32").dtype == np.float32


def test_distributions_land_where_numpy_says():
    cr.manual_seed(0)
    u = cr.random.uniform(-2.0, 3.0, size=20000).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.05
    n = cr.random.normal(5.0, 2.0, size=20000).numpy()
    assert abs(n.mean() - 5.0) < 0.05 and abs(n.std() - 2.0) < 0.05
    r = cr.random.rand(20000).numpy()
    assert 0.0 <= r.min() and r.max() < 1.0
    k = cr.random.randint(3, 7, size=1000)
    assert k.dtype == np.int64 and set(np.unique(k.numpy())) == {3, 4, 5, 6}
    assert set(np.unique(cr.random.randint(2, size=200).numpy())) == {0, 1}
    b = cr.random.binomial(10, 0.3, size=5000).numpy()
    assert abs(b.mean() - 3.0) < 0.1


def test_choice_permutation_shuffle():
    cr.manual_seed(0)
    c = cr.random.choice(10, 10, replace=False).numpy()
    assert sorted(c.tolist()) == list(range(10))
    assert cr.random.choice(np.array([1.5, 2.5]), 3).dtype == np.float32
    assert sorted(cr.random.permutation(6).numpy().tolist()) == list(range(6))
    x = cr.arange(8)
    p = cr.random.permutation(x)
    assert sorted(p.numpy().tolist()) == list(range(8)) and x.numpy().tolist() == list(range(8))
    assert cr.random.shuffle(x) is None
    assert sorted(x.numpy().tolist()) == list(range(8))
    with pytest.raises(ValueError, match="random.shuffle"):
        cr.random.shuffle(cr.ones(3, requires_grad=True) * 2)


def test_requires_grad_makes_a_leaf_that_backward_reaches():
    w = cr.random.randn(3, 2, requires_grad=True)
    assert w.requires_grad and w.is_leaf
    (w ** 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="random.randint: requires_grad"):
        cr.random._tensor(np.arange(3), None, True, "randint")


def test_default_rng_is_reproducible_and_follows_manual_seed():
    g1, g2 = cr.random.default_rng(7), cr.random.default_rng(7)
    np.testing.assert_array_equal(g1.normal(size=3).numpy(), g2.normal(size=3).numpy())
    assert g1.integers(0, 5, size=4).dtype == np.int64
    assert g1.random(2).dtype == np.float32 and g1.uniform(0, 1, 2).shape == (2,)
    assert g1.standard_normal((2, 2)).shape == (2, 2) and g1.binomial(1, 0.5, 3).shape == (3,)
    cr.manual_seed(1)
    a = cr.random.default_rng().random(3).numpy()
    cr.manual_seed(1)
    np.testing.assert_array_equal(a, cr.random.default_rng().random(3).numpy())


def test_bad_sizes_name_the_function():
    with pytest.raises(ValueError, match="random.normal: size"):
        cr.random.normal(size=(2, -1))
    with pytest.raises(TypeError, match=r"random.randn: dimensions are separate ints"):
        cr.random.randn((3, 4))
    with pytest.raises(ValueError, match="manual_seed"):
        cr.random.seed(-1)
