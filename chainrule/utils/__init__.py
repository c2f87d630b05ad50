"""Everyday helpers and pictures (Keras's ``keras.utils``).

Plotting and image helpers import matplotlib, Pillow or Graphviz only when they are called
(the ``plot`` extra), so the core still needs NumPy alone.
"""

__all__: list = []
