"""Everyday helpers and pictures (Keras's ``keras.utils``).

Plotting and image helpers import matplotlib, Pillow or Graphviz only when they are called
(the ``plot`` extra), so the core still needs NumPy alone.
"""
from ..custom_objects import custom_object_scope, get_custom_objects
from ..models.progbar import Progbar
from .general import normalize, pad_sequences, set_random_seed, to_categorical

__all__: list = [
    "Progbar", "custom_object_scope", "get_custom_objects", "normalize", "pad_sequences", "set_random_seed",
    "to_categorical",
]
