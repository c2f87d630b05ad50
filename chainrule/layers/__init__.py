"""Layers: stateful blocks with Keras's names and arguments."""
from .base import Layer
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape
from .embedding import Embedding
from .normalization import BatchNormalization, LayerNormalization

__all__ = [
    "Layer",
    "Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Reshape",
    "Embedding",
    "BatchNormalization", "LayerNormalization",
]
