"""The autograd engine: Tensor, Function, the graph walk, no_grad, grad, gradcheck."""
from .engine import backward, grad
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import Tensor, ensure_tensor, tensor

__all__ = [
    "Function", "GradcheckError", "Tensor", "backward", "enable_grad", "ensure_tensor", "grad", "gradcheck",
    "gradgradcheck", "is_grad_enabled", "no_grad", "tensor",
]
