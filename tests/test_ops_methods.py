"""Every op that DESIGN.md lists "as functions and methods" gives the same values and gradients
in both forms (the table is ``op_cases.METHODS``; test_ops_coverage.py checks it is complete)."""
import numpy as np
import pytest

import chainrule as cr
from op_cases import METHODS


def _outputs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_form_matches_function(name):
    function_form, method_form = METHODS[name]
    rng = np.random.default_rng(7)
    x = cr.tensor(rng.uniform(0.5, 2.0, (3, 4)), dtype="float64", requires_grad=True)
    y = cr.tensor(rng.uniform(0.5, 2.0, (3, 4)), dtype="float64", requires_grad=True)
    expected = _outputs(function_form(x, y))
    forms = method_form(x, y)
    for got in forms if isinstance(forms, list) else [forms]:
        got = _outputs(got)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert isinstance(a, cr.Tensor) and a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            assert a.requires_grad == b.requires_grad
        if not expected[0].requires_grad:
            continue
        grads = [cr.grad([o.sum() for o in outs], [x, y]) for outs in (got, expected)]
        for ga, gb in zip(*grads):
            assert (ga is None) == (gb is None)
            if ga is not None:
                np.testing.assert_array_equal(ga.numpy(), gb.numpy())
        expected = _outputs(function_form(x, y))  # a fresh graph for the next form


def test_where_method_is_pytorchs():
    """``x.where(condition, other)`` keeps x where condition holds (``torch.Tensor.where``)."""
    x = cr.tensor([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(x.where(x > 0, 0.0).numpy(), [1.0, 0.0, 3.0])
