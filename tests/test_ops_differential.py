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
