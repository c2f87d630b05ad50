"""chainrule: deep learning from the mathematics up.

A NumPy autograd engine whose every op states its math, with Keras-style
layers and training on top. ``import chainrule as cr``.
"""
from . import backend
from .autograd import (
    Function, GradcheckError, Tensor, enable_grad, grad, gradcheck, gradgradcheck, is_grad_enabled, no_grad, tensor,
)
from .backend import floatx, manual_seed, set_floatx
from .ops import *  # noqa: F401,F403 - the op functions are part of the top-level API
from .ops import __all__ as _ops_all

__version__ = "0.1.0"

__all__ = [
    "Function", "GradcheckError", "Tensor", "backend", "enable_grad", "floatx", "grad", "gradcheck", "gradgradcheck",
    "is_grad_enabled", "manual_seed", "no_grad", "set_floatx", "tensor", *_ops_all,
]

# The Keras-style floors above the engine.
from . import (  # noqa: E402
    activations, callbacks, data, functional, initializers, layers, losses, metrics, models, optimizers, regularizers,
)
from .data import datasets  # noqa: E402
from .models import Model, Sequential  # noqa: E402

__all__ += [
    "activations", "callbacks", "data", "datasets", "functional", "initializers", "layers", "losses", "metrics",
    "models", "optimizers", "regularizers", "Model", "Sequential",
]

from . import utils  # noqa: E402  (pictures and helpers; matplotlib/Graphviz load only when used)

__all__ += ["utils"]
