"""``Sequential``: a plain stack of layers, each feeding the next (Keras's ``keras.Sequential``).

    model = cr.Sequential([
        cr.layers.Input(shape=(784,)),
        cr.layers.Dense(128, activation="relu"),
        cr.layers.Dense(10, activation="softmax"),
    ])

The input shape comes from an ``Input`` first element or from ``input_shape=`` on
the first layer. With it, each layer is built as it is added (Keras does the
same): its input shape is the previous layer's ``compute_output_shape``, so
``weights``, ``count_params()`` and ``set_weights`` work before any data has been
seen. Sizes left as None (e.g. ``Input((None, None, 3))``) stay None; a layer whose
shape cannot be inferred without data, and the layers after it, are built at the
first call. Without a declared shape the whole model is built at its first call
(or at the first batch of ``fit``). The ``Input`` is not one of ``model.layers``,
as in Keras.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from ..layers.base import Layer
from ..layers.fusion import conv_then_max_pool
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


def _has_unknown(shape) -> bool:
    return any(d is None for d in shape[1:])


def _output_shape_of(layer, shape):
    """``layer.compute_output_shape(shape)``, or None when it cannot be known without data.

    A layer with its own ``compute_output_shape`` is trusted: its errors propagate when every size
    is known (a real mismatch), and mean "unknown" when some are None. The base class's fallback
    is a dry run on zeros, tried only when every size is known.
    """
    own = type(layer).compute_output_shape is not Layer.compute_output_shape
    if not own and _has_unknown(shape):
        return None
    try:
        out = layer.compute_output_shape(shape)
    except Exception:  # noqa: BLE001 - any failure of an inference means "build at the first call"
        if own and not _has_unknown(shape):
            raise
        return None
    if out is None or not isinstance(out, (tuple, list)) or any(isinstance(d, (tuple, list)) for d in out):
        return None  # unknown, or several outputs (a Sequential takes one)
    return (None,) + tuple(None if d is None else int(d) for d in out[1:])


def _build_layer(layer, shape) -> bool:
    """Build ``layer`` for inputs of ``shape`` (batch axis first, sizes may be None); True if built.

    With every size known a failing build raises (the model is wrong); with some sizes None a
    failure leaves the layer to be built at its first call, with any weights it made removed.
    """
    if layer.built:
        return True
    declared = layer._batch_input_shape
    if declared is not None:
        expected = tuple(declared[1:])
        if len(expected) != len(shape) - 1 or any(
                e is not None and s is not None and e != s for e, s in zip(expected, shape[1:])):
            raise ValueError(f"{layer.name}: declared input_shape {expected} but the layer before it gives "
                             f"outputs of shape {tuple(shape)}")
    n_weights, n_regs = len(layer._own_weights), len(layer._weight_regularizers)
    try:
        layer.build(tuple(shape))
    except Exception:  # noqa: BLE001 - see the docstring
        if not _has_unknown(shape):
            raise
        for w in layer._own_weights[n_weights:]:
            layer._trainable_flags.pop(id(w), None)
        del layer._own_weights[n_weights:]
        del layer._weight_regularizers[n_regs:]
        layer.built = False
        return False
    layer.built = True
    return True


class Sequential(Model):
    """A linear stack of layers. ``Sequential(layers=None, name=None)``; ``add``, ``pop``, ``layers``."""

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._input_spec = None  # (batch shape, dtype) of an Input first element
        self._graph = None  # the symbolic (input, output), made at first use
        self._shapes = []  # per layer: its output shape (batch axis None), or None while unknown
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
            self._propagate(0)
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
        self._shapes.append(None)
        self._metrics_resolved = False  # the output shape may have changed
        try:
            self._propagate(len(self._layers) - 1)
        except BaseException:
            self._layers.pop()
            self._shapes.pop()
            if not self._layers and self._input_spec is None:
                self._batch_input_shape = None
            self._propagate(len(self._layers))
            raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("Sequential.pop: there are no layers in the model")
        layer = self._layers.pop()
        self._shapes.pop()
        if not self._layers and self._input_spec is None:
            self._batch_input_shape = None
        self._propagate(len(self._layers))
        return layer

    def _propagate(self, start: int, input_shape=None) -> None:
        """Build layers ``start``, ``start + 1``, ... from the shape that reaches them, while it is known."""
        self._graph = None  # the stack changed: a symbolic graph is made again at its next use
        if start == 0:
            shape = input_shape if input_shape is not None else self._batch_input_shape
            shape = None if shape is None else (None,) + tuple(shape[1:])
        else:
            shape = self._shapes[start - 1]
        for i in range(start, len(self._layers)):
            layer = self._layers[i]
            if shape is not None and not _build_layer(layer, shape):
                shape = None
            shape = None if shape is None else _output_shape_of(layer, shape)
            self._shapes[i] = shape
        self.built = bool(self._layers) and all(l.built for l in self._layers) and self._shapes[-1] is not None

    @property
    def input_shape(self):
        return self._batch_input_shape

    # ------------------------------------------------------------------ the symbolic graph (Keras 3)
    def _symbolic_graph(self):
        """``(input, output)`` symbolic tensors of the stack, made at first use (each layer gets one node), so
        that ``model.inputs`` and ``layer.output`` work for feature extraction, as with Keras 3's Sequential."""
        graph = self.__dict__.get("_graph")
        if graph is None:
            if self._batch_input_shape is None or not self._layers:
                raise ValueError(f"{self.name}: the Sequential model has no defined input yet; start it with "
                                     "cr.Input(shape=...) (or give input_shape= to its first layer)")
            from ..layers.core import InputLayer

            dtype = self._input_spec[1] if self._input_spec is not None else None
            x = InputLayer(batch_shape=self._batch_input_shape, dtype=dtype).output
            y = x
            for layer in self._layers:
                y = layer(y)
            graph = self._graph = (x, y)
        return graph

    @property
    def inputs(self) -> list:
        return [self._symbolic_graph()[0]]

    @property
    def outputs(self) -> list:
        return [self._symbolic_graph()[1]]

    @property
    def input(self):
        return self._symbolic_graph()[0]

    @property
    def output(self):
        return self._symbolic_graph()[1]

    @property
    def output_shape(self):
        if self._shapes and self._shapes[-1] is not None:
            return self._shapes[-1]
        if not self._layers or self._layers[-1].output_shape_seen is None:
            raise AttributeError(f"{self.name}: the output shape is not known until the model is built")
        return (None,) + tuple(self._layers[-1].output_shape_seen[1:])

    def _known_output_shape(self):
        if self._shapes and self._shapes[-1] is not None:
            return self._shapes[-1]
        return super()._known_output_shape()

    def compute_output_shape(self, input_shape):
        """The layers' ``compute_output_shape`` in turn (None sizes stay None); None if one is unknown."""
        shape = (input_shape[0],) + tuple(input_shape[1:])
        for layer in self._layers:
            if shape is None:
                return None
            shape = _output_shape_of(layer, shape)
        return None if shape is None else (input_shape[0],) + tuple(shape[1:])

    # ------------------------------------------------------------------ calling
    def call(self, inputs, training: bool = False):
        if not self._layers:
            raise ValueError(f"{self.name}: the Sequential model has no layers; add some before calling it")
        declared = self._batch_input_shape
        if declared is not None and isinstance(inputs, Tensor):
            got = inputs.data.shape
            if len(got) != len(declared) or any(
                    d is not None and d != g for d, g in zip(declared[1:], got[1:])):
                raise ValueError(
                    f"{self.name}: the model expects inputs of shape {(None,) + tuple(declared[1:])} "
                    f"(batch first), but got an input of shape {tuple(got)}")
        x, layers, i = inputs, self._layers, 0
        while i < len(layers):
            # A Conv*D and the MaxPooling*D after it run as one op when nothing is recorded (layers/fusion.py).
            fused = conv_then_max_pool(layers[i], layers[i + 1], x) if i + 1 < len(layers) else None
            if fused is not None:
                x, i = fused, i + 2
            else:
                x, i = layers[i](x, training=training), i + 1
        return x

    def build(self, input_shape=None) -> None:
        """Create every layer's weights for ``input_shape`` (default: the declared one).

        Each layer is built for the output shape of the one before it (``compute_output_shape``).
        When every size is known and some layer's shape still cannot be inferred, one dry run on
        zeros builds the rest; sizes left None are never replaced by made-up ones.
        """
        if input_shape is None:
            input_shape = self._batch_input_shape
        if input_shape is None:
            raise ValueError(f"{self.name}.build: the input shape is unknown; pass input_shape, start the model "
                             "with cr.layers.Input(shape=...), or give input_shape= to the first layer")
        input_shape = tuple(None if d is None else int(d) for d in input_shape)
        dtype = self._input_spec[1] if self._input_spec is not None else backend.floatx()
        if self._batch_input_shape is None:  # the shape it was built for is its input shape from now on
            self._batch_input_shape = input_shape
        if self._build_input is None:
            self._build_input = {"inputs": [(list(input_shape), dtype)], "multi": False}
        if self._layers:
            self._propagate(0, input_shape)
        if not all(l.built for l in self._layers) and not _has_unknown(input_shape):
            self.dry_run({"inputs": [(list(input_shape), dtype)], "multi": False})
        if all(l.built for l in self._layers):
            self.built = True

    def _ensure_built(self) -> bool:
        """Build now if the input shape is known and some layer is not built; True if every layer is built."""
        if self._layers and all(l.built for l in self._layers) and self.built:
            return True
        if self._batch_input_shape is not None and self._layers:
            self.build()
        return bool(self._layers) and all(l.built for l in self._layers)

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
