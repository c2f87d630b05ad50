"""tf.keras's names for chainrule's objects: ``import chainrule as tf`` runs ``tf.keras`` code.

Code written for TensorFlow's Keras runs with only its import line changed::

    import tensorflow as tf        ->  import chainrule as tf        # tf.keras.layers.Dense(...)
    from tensorflow import keras   ->  from chainrule import keras   # keras.Sequential([...])
    import keras                   ->  from chainrule import keras
    from tensorflow.keras.layers import Dense  ->  from chainrule.keras.layers import Dense

``keras.layers`` *is* ``chainrule.layers`` (the same module object, not a copy), and so on for
``models``, ``optimizers``, ``losses``, ``metrics``, ``callbacks``, ``regularizers``,
``initializers``, ``activations``, ``datasets`` and ``utils``: a layer added to chainrule is a
Keras layer at once. The submodules are also registered in ``sys.modules`` under
``chainrule.keras.*``, so ``from chainrule.keras.layers import Dense`` and
``import chainrule.keras.datasets.mnist`` work as they do for ``tensorflow.keras``.
``keras.backend`` holds the few backend helpers that model code calls (``floatx``,
``set_floatx``, ``epsilon``, ``clear_session``, ``image_data_format``).
"""
from __future__ import annotations

from .. import (
    activations, callbacks, initializers, layers, losses, metrics, models, optimizers, regularizers, utils,
)
from ..data import datasets
from ..layers import Input
from ..models import Model, Sequential
from ..module_alias import register
from . import backend

# Keras's other names for the same modules.
_MODULES = {
    "activations": activations, "callbacks": callbacks, "datasets": datasets, "initializers": initializers,
    "layers": layers, "losses": losses, "metrics": metrics, "models": models, "optimizers": optimizers,
    "regularizers": regularizers, "utils": utils,
}

for _name, _module in _MODULES.items():
    register(f"{__name__}.{_name}", _module)

__all__ = ["Input", "Model", "Sequential", "backend", *_MODULES]
