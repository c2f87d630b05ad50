"""Every op against PyTorch: forward values and input gradients, float32 and float64.

The cases (computations, inputs and edge cases) live in ``op_cases.py``; ``differential.check``
runs each one in both libraries.
"""
import numpy as np
import pytest

from differential import check
from op_cases import CASES, ids


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_against_torch(case, dtype):
    tol = case.tol32 if dtype == "float32" else case.tol64
    check(case.fn, *case.inputs, dtype=dtype, grad=case.differentiable, **tol)


# Indexing that PyTorch cannot express (negative steps) or expresses differently: against NumPy
# for the values, gradcheck/gradgradcheck for the gradients.
_NUMPY_INDEXES = [
    (slice(None, None, -1), 1),
    (slice(3, 0, -2),),
    (np.array([True, False, True, True]), slice(1, 3)),
    (np.array([1, 1, 2]), np.array([True, False, True, False, True])),
    (Ellipsis, np.array([4, 4])),
    (None, np.array([[0, 0], [3, 3]])),
    (np.array([0, 0]), None, slice(1, 2)),
]


@pytest.mark.parametrize("index", _NUMPY_INDEXES, ids=[str(i) for i in range(len(_NUMPY_INDEXES))])
def test_indexing_beyond_torch(index):
    import chainrule as cr

    data = np.random.default_rng(1).standard_normal((4, 5))
    x = cr.tensor(data.copy(), dtype="float64", requires_grad=True)
    np.testing.assert_array_equal(x[index].numpy(), data[index])
    assert cr.gradcheck(lambda x: x[index], [x])
    assert cr.gradgradcheck(lambda x: x[index], [x])


# Second order of ** where PyTorch masks the first derivative (b = 0, a = 0): the gradient of
# u . dL/d(a, b), with L = sum(v * a**b), against torch's double backward at points where it is finite.
@pytest.mark.parametrize(
    "a, b",
    [
        ([0.5, 2.0, 1.5, 3.0], [0.0, 0.0, 2.0, -1.0]),   # a tensor exponent, 0 away from a = 0
        ([0.0, 0.0, 0.5], 0),                              # x ** 0 at 0
    ],
    ids=["tensor_exponent_zero", "scalar_exponent_zero_at_zero"],
)
def test_pow_second_order_against_torch(a, b):
    import torch

    import chainrule as cr

    rng = np.random.default_rng(3)
    v, u = rng.standard_normal(len(a)), rng.standard_normal(len(a))
    tensor_exponent = not isinstance(b, int)

    xa = cr.tensor(a, dtype="float64", requires_grad=True)
    xs = [xa, cr.tensor(b, dtype="float64", requires_grad=True)] if tensor_exponent else [xa]
    gs = cr.grad([(xa ** (xs[1] if tensor_exponent else b) * cr.tensor(v, dtype="float64")).sum()], xs, create_graph=True)
    terms = [(g * cr.tensor(u, dtype="float64")).sum() for g in gs if g.requires_grad]
    cr_h = [np.zeros(len(a)) if h is None else h.numpy() for h in cr.grad(terms, xs)] if terms else [np.zeros(len(a))] * len(xs)

    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    ts = [ta, torch.tensor(b, dtype=torch.float64, requires_grad=True)] if tensor_exponent else [ta]
    hs = torch.autograd.grad([(ta ** (ts[1] if tensor_exponent else b) * torch.from_numpy(v)).sum()], ts, create_graph=True)
    terms = [(g * torch.from_numpy(u)).sum() for g in hs if g.requires_grad]
    th_h = ([np.zeros(len(a)) if h is None else h.numpy() for h in torch.autograd.grad(terms, ts, allow_unused=True)]
            if terms else [np.zeros(len(a))] * len(ts))

    for g1, g2 in zip(gs, hs):
        np.testing.assert_allclose(g1.numpy(), g2.detach().numpy(), rtol=1e-12, atol=1e-12)
    for h1, h2 in zip(cr_h, th_h):
        assert np.isfinite(h1).all()
        np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-12)
