"""Models: ``Sequential``, ``Model`` (subclassing API), the training loop, summary and saving.

``load_model(path)`` rebuilds a model written by ``model.save(path)``.
"""
from .model import Model
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model"]
