"""chainrule: deep learning from the mathematics up.

A NumPy autograd engine whose every op states its math, with Keras-style
layers and training on top. ``import chainrule as cr``.
"""
from . import backend
from .autograd import (
    Function, GradcheckError, Tensor, enable_grad, grad, gradcheck, gradgradcheck, is_grad_enabled, no_grad, tensor,
)
from .backend import floatx, manual_seed, set_floatx
from .threads import get_num_threads, set_num_threads
from .ops import *  # noqa: F401,F403 - the op functions are part of the top-level API
from .ops import __all__ as _ops_all

#: NumPy's name for ``tensor``: ``import chainrule as np; np.array([[1.0, 2.0]])`` is a Tensor.
array = tensor

__version__ = "0.1.0"

__all__ = [
    "Function", "GradcheckError", "Tensor", "backend", "enable_grad", "floatx", "grad", "gradcheck", "gradgradcheck",
    "array", "get_num_threads", "is_grad_enabled", "manual_seed", "no_grad", "set_floatx", "set_num_threads", "tensor",
    *_ops_all,
]

# The Keras-style floors above the engine.
from . import (  # noqa: E402
    activations, callbacks, data, functional, initializers, layers, losses, metrics, models, optimizers, random,
    regularizers, utils,
)
from .data import datasets  # noqa: E402
from .layers import Input, InputLayer  # noqa: E402
from .models import Model, Sequential  # noqa: E402
from .module_alias import register as _register_alias  # noqa: E402

# ``from chainrule.datasets import mnist`` finds the same modules as ``cr.datasets.mnist``.
_register_alias(__name__ + ".datasets", datasets)

from . import keras  # noqa: E402  (tf.keras's names for all of the above; imports them)

__all__ += [
    "activations", "callbacks", "data", "datasets", "functional", "initializers", "layers", "losses", "metrics",
    "models", "optimizers", "random", "regularizers", "utils", "keras", "Input", "InputLayer", "Model", "Sequential",
]

from . import utils  # noqa: E402  (pictures and helpers; matplotlib/Graphviz load only when used)

__all__ += ["utils"]
