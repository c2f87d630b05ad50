"""Every differentiable op passes ``cr.gradcheck`` in float64, and ``cr.gradgradcheck``
(second order, in the inputs and in the incoming gradient).

The computations are the cases of ``op_cases.py`` (those not placed on a kink on purpose).
"""
import numpy as np
import pytest

import chainrule as cr
from differential import CR, const, strided
from op_cases import CASES, ids

SMOOTH = [c for c in CASES if c.differentiable and c.gradcheck]


def _inputs(case):
    out = []
    for s in case.inputs:
        if isinstance(s, strided):
            buf = np.zeros(s.array.shape + (2,))
            buf[..., 0] = s.array
            out.append(cr.tensor(buf[..., 0], dtype="float64", requires_grad=True))
        elif isinstance(s, const):
            out.append(cr.tensor(s.array, dtype="float64"))
        elif isinstance(s, np.ndarray) and s.dtype.kind == "f":
            out.append(cr.tensor(s.copy(), dtype="float64", requires_grad=True))
        elif isinstance(s, np.ndarray):
            out.append(cr.tensor(s))
        else:
            out.append(s)
    return out


@pytest.mark.parametrize("case", SMOOTH, ids=ids(SMOOTH))
def test_gradcheck(case):
    assert cr.gradcheck(lambda *xs: case.fn(CR, *xs), _inputs(case))


@pytest.mark.parametrize("case", SMOOTH, ids=ids(SMOOTH))
def test_gradgradcheck(case):
    assert cr.gradgradcheck(lambda *xs: case.fn(CR, *xs), _inputs(case))
