"""``Sequential``: a plain stack of layers, each feeding the next (Keras's ``keras.Sequential``).

    model = cr.Sequential([
        cr.layers.Input(shape=(784,)),
        cr.layers.Dense(128, activation="relu"),
        cr.layers.Dense(10, activation="softmax"),
    ])

The input shape comes from an ``Input`` first element or from ``input_shape=`` on
the first layer; without either, the model is built at its first call (or at the
first batch of ``fit``). The ``Input`` is not one of ``model.layers``, as in Keras.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..layers.base import Layer
from .model import Model


def _is_input(obj) -> bool:
    """An ``Input(shape=...)`` placeholder (an InputLayer, or a symbolic spec with a batch shape)."""
    name = type(obj).__name__
    if name in ("InputLayer", "Input", "KerasTensor", "InputSpec"):
        return True
    return not isinstance(obj, Layer) and _input_batch_shape(obj) is not None


def _input_batch_shape(obj):
    for attr in ("batch_shape", "batch_input_shape", "_batch_input_shape"):
        value = getattr(obj, attr, None)
        if value is not None:
            return tuple(value)
    shape = getattr(obj, "shape", None)
    if shape is not None and not isinstance(obj, np.ndarray):
        return tuple(shape)
    return None


def _input_spec(obj):
    shape = _input_batch_shape(obj)
    if shape is None:
        raise ValueError(f"Sequential: cannot read the shape of the input {obj!r}")
    dtype = getattr(obj, "dtype", None)
    try:
        dtype = np.dtype(dtype).name if dtype is not None else backend.floatx()
    except TypeError:
        dtype = backend.floatx()
    return tuple(None if d is None else int(d) for d in shape), dtype


class Sequential(Model):
    """A linear stack of layers. ``Sequential(layers=None, name=None)``; ``add``, ``pop``, ``layers``."""

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._input_spec = None  # (batch shape, dtype) of an Input first element
        if layers is not None:
            if isinstance(layers, Layer) or _is_input(layers):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    # ------------------------------------------------------------------ structure
    def add(self, layer) -> None:
        """Append a layer (an ``Input`` is allowed only first, and sets the input shape)."""
        if _is_input(layer):
            if self._layers or self._input_spec is not None:
                raise ValueError("Sequential.add: an Input can only be the first element of a Sequential model")
            self._input_spec = _input_spec(layer)
            self._batch_input_shape = self._input_spec[0]
            self._build_input = {"inputs": [(list(self._input_spec[0]), self._input_spec[1])], "multi": False}
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer instance, got {type(layer).__name__} {layer!r}")
        if any(l is layer for l in self._layers):
            raise ValueError(f"Sequential.add: layer {layer.name!r} is already in this model")
        if any(l.name == layer.name for l in self._layers):
            raise ValueError(f"Sequential.add: all layers of a Sequential model need unique names; "
                             f"{layer.name!r} is already the name of a layer in this model")
        if not self._layers and self._input_spec is None and layer._batch_input_shape is not None:
            self._batch_input_shape = tuple(layer._batch_input_shape)
        self._layers.append(layer)
        self.built = False
        self._metrics_resolved = False  # the output shape may have changed

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("Sequential.pop: there are no layers in the model")
        layer = self._layers.pop()
        if not self._layers and self._input_spec is None:
            self._batch_input_shape = None
        return layer

    @property
    def input_shape(self):
        return self._batch_input_shape

    @property
    def output_shape(self):
        if not self._layers or self._layers[-1].output_shape_seen is None:
            raise AttributeError(f"{self.name}: the output shape is not known until the model is built")
        return (None,) + tuple(self._layers[-1].output_shape_seen[1:])

    # ------------------------------------------------------------------ calling
    def call(self, inputs, training: bool = False):
        if not self._layers:
            raise ValueError(f"{self.name}: the Sequential model has no layers; add some before calling it")
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def build(self, input_shape=None) -> None:
        """Create every layer's weights for ``input_shape`` (default: the declared one) with a dry run."""
        if input_shape is None:
            input_shape = self._batch_input_shape
        if input_shape is None:
            raise ValueError(f"{self.name}.build: the input shape is unknown; pass input_shape, start the model "
                             "with cr.layers.Input(shape=...), or give input_shape= to the first layer")
        dtype = self._input_spec[1] if self._input_spec is not None else backend.floatx()
        self.dry_run({"inputs": [(list(input_shape), dtype)], "multi": False})

    def _ensure_built(self) -> bool:
        """Build now if the input shape is known and some layer is not built; True if built."""
        if self._layers and all(l.built for l in self._layers) and self.built:
            return True
        if self._batch_input_shape is not None and self._layers:
            self.build()
            return True
        return False

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        from .saving import serialize_layer

        layers = []
        for i, layer in enumerate(self._layers):
            entry = serialize_layer(layer)
            if i == 0 and self._batch_input_shape is not None and "batch_input_shape" not in entry["config"]:
                entry["config"]["batch_input_shape"] = list(self._batch_input_shape)
            layers.append(entry)
        config = {"name": self.name, "trainable": self.trainable, "layers": layers}
        if self._input_spec is not None and np.dtype(self._input_spec[1]).kind != "f":
            config["input_dtype"] = self._input_spec[1]
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from .saving import deserialize_layer

        config = dict(config)
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            model.add(deserialize_layer(entry, custom_objects))
        if config.get("input_dtype") and model._batch_input_shape is not None:
            model._input_spec = (tuple(model._batch_input_shape), config["input_dtype"])
        if model._batch_input_shape is not None and model._layers:
            model.build()
        return model
