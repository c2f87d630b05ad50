"""Everyday helpers and pictures (Keras's ``keras.utils``).

Plotting and image helpers import matplotlib, Pillow or Graphviz only when they are called
(the ``plot`` extra), so the core still needs NumPy alone.
"""

__all__: list = []

# Pictures of models and of the computational graph (Graphviz, imported only when drawing).
from .graph import draw_graph, graph_to_dot  # noqa: E402
from .model_plot import model_to_dot, plot_model  # noqa: E402

__all__ += ["draw_graph", "graph_to_dot", "model_to_dot", "plot_model"]
