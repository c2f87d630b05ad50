"""Everyday helpers and pictures (Keras's ``keras.utils``).

Plotting and image helpers import matplotlib, Pillow or Graphviz only when they are called
(the ``plot`` extra), so the core still needs NumPy alone.
"""

__all__: list = []

from .images import save_image_grid  # noqa: E402
from .history import plot_history  # noqa: E402

__all__ += ["plot_history", "save_image_grid"]
from ..models.custom_step import pack_x_y_sample_weight, unpack_x_y_sample_weight  # noqa: E402

__all__ += ["pack_x_y_sample_weight", "unpack_x_y_sample_weight"]
