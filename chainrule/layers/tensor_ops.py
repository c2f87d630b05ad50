"""Arithmetic on symbolic tensors in a functional model: ``x + h``, ``2.0 * x``, ``a @ b``, ``-x``.

    x = cr.Input(shape=(8,))
    h = cr.layers.Dense(8)(x)
    y = x + 0.5 * h                  # two TensorOperation nodes: multiply, then add

An operator on a ``KerasTensor`` cannot compute anything (there is no data), so it
records a node of a ``TensorOperation`` layer, as a layer call would; the layer has no
weights, and when the model runs it applies the same operator to the real tensors,
with the engine's broadcasting and derivatives (``d(a+b) = da + db``,
``d(a*b) = b da + a db``, ``d(a/b) = da/b - a db/b^2``, ``d(a@b) = da@b + a@db``).
The other operand is another symbolic tensor or a Python number; a number is saved
in the layer's config, so such models save and load like any other.
"""
from __future__ import annotations

import numbers

from .base import Layer, unique_name

_BINARY = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "power": lambda a, b: a ** b,
    "matmul": lambda a, b: a @ b,
}


class TensorOperation(Layer):
    """``op(a, b)`` (``add``, ``subtract``, ``multiply``, ``divide``, ``power``, ``matmul``) or ``negative(a)``.

    ``constant``: a number taking the place of one operand (the first when ``constant_first``).
    """

    def __init__(self, op: str, constant=None, constant_first: bool = False, name=None, **kwargs):
        if op not in _BINARY and op != "negative":
            raise ValueError(f"TensorOperation: unknown op {op!r}; known: {sorted(_BINARY) + ['negative']}")
        if constant is not None and (isinstance(constant, bool) or not isinstance(constant, numbers.Real)):
            raise TypeError(f"TensorOperation: the constant operand must be a number, got {constant!r}")
        super().__init__(name=name or unique_name(op), **kwargs)
        self.op = op
        self.constant = None if constant is None else float(constant)
        self.constant_first = bool(constant_first)

    def call(self, inputs, training=False):
        if self.op == "negative":
            return -inputs
        if self.constant is None:
            a, b = inputs
        elif self.constant_first:
            a, b = self.constant, inputs
        else:
            a, b = inputs, self.constant
        return _BINARY[self.op](a, b)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(op=self.op, constant=self.constant, constant_first=self.constant_first)
        return cfg


def symbolic_operation(op: str, a, b=None):
    """The symbolic result of ``a <op> b`` where ``a`` or ``b`` is a KerasTensor (``b`` None: unary)."""
    from .symbolic import KerasTensor

    if op == "negative":
        return TensorOperation("negative")(a)
    a_sym, b_sym = isinstance(a, KerasTensor), isinstance(b, KerasTensor)
    if a_sym and b_sym:
        return TensorOperation(op)([a, b])
    constant = b if a_sym else a
    if isinstance(constant, bool) or not isinstance(constant, numbers.Real):
        raise TypeError(f"symbolic tensor {op}: the other operand must be a symbolic tensor or a number, got "
                        f"{type(constant).__name__}; to use an array, make it a layer's weight (or an Input)")
    return TensorOperation(op, constant=constant, constant_first=not a_sym)(a if a_sym else b)
