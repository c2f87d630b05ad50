"""Shared test set-up: helper modules in tests/ are importable, and global state is reset per test."""
import os
import sys

import pytest

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(autouse=True)
def _reset_floatx_and_grad_mode():
    """Every test starts and ends with float32 as the default float and grad mode on."""
    import chainrule as cr
    from chainrule.autograd.grad_mode import _state

    cr.set_floatx("float32")
    _state.enabled = True
    yield
    cr.set_floatx("float32")
    _state.enabled = True
