"""Names: Keras's snake_case names of classes, used for default layer, loss and metric names."""
from __future__ import annotations

import re


def snake_case(name: str) -> str:
    """Keras's rule: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``,
    ``BatchNormalization`` -> ``batch_normalization``, ``KLDivergence`` -> ``kl_divergence``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
