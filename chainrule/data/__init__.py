"""Data: datasets of samples, the mini-batch loader, and the ready-made datasets.

``Dataset`` and ``TensorDataset`` hold samples; ``DataLoader`` batches them;
``datasets`` has ``mnist``, ``fashion_mnist`` and ``tiny_shakespeare``, each with
``load_data()``; ``text`` has the character vocabulary, training windows and
sampling for character-level models.
"""
from . import datasets, text
from .dataset import Dataset, TensorDataset
from .loader import DataLoader, default_collate

__all__ = ["DataLoader", "Dataset", "TensorDataset", "datasets", "default_collate", "text"]
