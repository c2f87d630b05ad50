"""Models: ``Sequential``, ``Model`` (subclassing API), the training loop, summary and saving.

``load_model(path)`` rebuilds a model written by ``model.save(path)``; ``custom_object_scope``
and ``get_custom_objects`` make custom names known to it (see ``chainrule.custom_objects``).
"""
from ..custom_objects import custom_object_scope, get_custom_objects
from .model import Model
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "custom_object_scope", "get_custom_objects", "load_model", "save_model"]
