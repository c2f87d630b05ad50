"""Layers: stateful blocks with Keras's names and arguments."""
from .base import Layer

__all__ = ["Layer"]
