"""Matrix products: ``a @ b`` with NumPy's rules (batched, broadcast, 1-D promoted).

For Y = A B (with A: m x k, B: k x n), dL/dA = dL/dY B^T and dL/dB = A^T dL/dY;
batch axes that were broadcast are summed back. A 1-D operand is treated as a
row (left) or column (right) vector and the added axis is removed afterwards,
so its gradient comes out of the same rule.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor, ensure_tensor
from .arithmetic import _operands
from .shape import reshape, sum_to, swapaxes


class MatMul(Function):
    """Y = A @ B over the last two axes, broadcasting the leading (batch) axes.

    dL/dA = dL/dY @ B^T,  dL/dB = A^T @ dL/dY  (each summed over broadcast batch axes).
    """

    def forward(self, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                f"{a.shape[-1]} (last axis of a) != {b.shape[-2]} (second to last axis of b)"
            )
        try:
            return a @ b
        except ValueError:
            raise ValueError(f"matmul: batch axes of shapes {a.shape} and {b.shape} cannot be broadcast together") from None

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = sum_to(matmul(g, swapaxes(b, -1, -2)), a.shape) if na else None
        gb = sum_to(matmul(swapaxes(a, -1, -2), g), b.shape) if nb else None
        return ga, gb


def matmul(a, b) -> Tensor:
    r"""Y = A @ B with NumPy's ``@`` semantics (batched over leading axes, broadcast; 1-D promoted).

    dL/dA = dL/dY @ B^T,  dL/dB = A^T @ dL/dY, each summed over broadcast batch axes.

    Math:
        $$Y = AB,\ \ Y_{ij} = \sum_k A_{ik} B_{kj}, \qquad \frac{\partial L}{\partial A} = \frac{\partial L}{\partial Y} B^{\top}, \quad \frac{\partial L}{\partial B} = A^{\top} \frac{\partial L}{\partial Y}$$
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = _operands("matmul", a, b)
    elif a.data.dtype != b.data.dtype:
        a, b = _operands("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension, got shapes {a.shape} and {b.shape}")
    if a.ndim >= 2 and b.ndim >= 2:
        return MatMul.apply(a, b)
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"matmul: vectors of shapes {a.shape} and {b.shape} have different lengths")
        return reshape(MatMul.apply(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        if a.shape[0] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: {a.shape[0]} != {b.shape[-2]}")
        y = MatMul.apply(reshape(a, (1, -1)), b)
        return reshape(y, y.shape[:-2] + y.shape[-1:])
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: {a.shape[-1]} != {b.shape[0]}")
    y = MatMul.apply(a, reshape(b, (-1, 1)))
    return reshape(y, y.shape[:-1])


def dot(a, b) -> Tensor:
    """Y = A @ B (``matmul``).  dL/dA = dL/dY @ B^T,  dL/dB = A^T @ dL/dY."""
    return matmul(ensure_tensor(a, op="dot"), ensure_tensor(b, op="dot"))
