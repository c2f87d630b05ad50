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

# The Keras-style floors above the engine. A module that does not exist yet is skipped (so the
# package imports while it is being written); one that exists but fails to import raises.
import importlib as _importlib
import importlib.util as _importlib_util

for _name in ("activations", "initializers", "regularizers", "functional", "layers", "losses", "metrics",
              "optimizers", "callbacks", "data", "models"):
    if _importlib_util.find_spec(f"{__name__}.{_name}") is not None:
        globals()[_name] = _importlib.import_module(f"{__name__}.{_name}")
        __all__.append(_name)
del _name

if "models" in globals():
    from .models import Model, Sequential

    __all__ += ["Model", "Sequential"]
if "data" in globals() and _importlib_util.find_spec(f"{__name__}.data.datasets") is not None:
    datasets = _importlib.import_module(f"{__name__}.data.datasets")
    __all__.append("datasets")
