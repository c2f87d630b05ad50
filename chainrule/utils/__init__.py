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

from .images import save_image_grid  # noqa: E402
from .history import plot_history  # noqa: E402
from ..models.custom_step import pack_x_y_sample_weight, unpack_x_y_sample_weight  # noqa: E402

__all__ += ["pack_x_y_sample_weight", "plot_history", "save_image_grid", "unpack_x_y_sample_weight"]

# Pictures of models and of the computational graph (Graphviz, imported only when drawing).
from .graph import draw_graph, graph_to_dot  # noqa: E402
from .model_plot import model_to_dot, plot_model  # noqa: E402

__all__ += ["draw_graph", "graph_to_dot", "model_to_dot", "plot_model"]
