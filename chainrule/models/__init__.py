"""Models: ``Sequential``, ``Model`` (subclassing API), the training loop, summary and saving.

``load_model(path)`` rebuilds a model written by ``model.save(path)``; ``custom_object_scope``
and ``get_custom_objects`` make custom names known to it (see ``chainrule.custom_objects``).
"""
from ..custom_objects import custom_object_scope, get_custom_objects
from .model import Model
from .saving import load_model, save_model
from .sequential import Sequential
from .functional import Functional
from ..layers.serialization import register_builtin

for _cls in (Sequential, Model, Functional):  # saved files may name them; the layer floor finds them here
    register_builtin(_cls)
del _cls

__all__ = ["Model", "Sequential", "custom_object_scope", "get_custom_objects", "load_model", "save_model"]
