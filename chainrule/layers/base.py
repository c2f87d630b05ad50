"""``Layer``: a stateful block of computation, as in Keras.

A layer owns weights (Tensors that require grad, in Keras's order and layouts),
creates them lazily in ``build(input_shape)`` the first time it is called (so
shapes are inferred from the data), and computes ``call(inputs, training)``.
Layers assigned as attributes of a layer are tracked, so a composite layer's
``weights`` lists its own weights and then those of its sub-layers, in the
order they were assigned.

Regularization: a weight made with ``add_weight(..., regularizer=r)`` adds
``r(weight)`` to ``layer.losses``; an ``activity_regularizer`` adds
``r(output)`` of the latest call. The training loop adds ``sum(model.losses)``
to the loss it differentiates.

Training mode: ``layer(x, training=None)`` (the default) inherits the mode of the
call it runs inside, as Keras's call context does: ``fit`` calls the model with
``training=True``, so every sub-layer the model's ``call`` reaches (passing
``training`` or not, through nested Sequentials too) runs in training mode. A
call outside any other call, with no ``training`` given, runs in inference mode.
An explicit ``training=`` wins, and is what the layer's sub-layers inherit.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import backend, threads
from ..autograd.tensor import Tensor
from ..naming import snake_case
from . import symbolic

_name_counts: dict[str, int] = {}


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``, ... as Keras names layers."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


class _CallContext(threading.local):
    """The ``training`` value of the layer call in progress (None: no call in progress)."""

    training = None


_call_context = _CallContext()


def serialize_or_keep(obj, module):
    """``module.serialize(obj)``, or ``obj`` itself when it is a custom callable that has no name there.

    ``model.save`` writes a kept callable by its name (a function) or as ``{"class_name", "config"}``
    (an object with ``get_config``); ``load_model(..., custom_objects=...)`` finds it again.
    """
    if obj is None:
        return None
    try:
        return module.serialize(obj)
    except ValueError:
        return obj


def _call_takes_training(cls) -> bool:
    """Whether ``cls.call`` accepts ``training`` (Keras passes it only to those that do, so a custom
    ``call(self, inputs)`` works). Found once per class."""
    flag = cls.__dict__.get("_call_takes_training")
    if flag is None:
        import inspect

        params = inspect.signature(cls.call).parameters.values()
        flag = any(p.name == "training" or p.kind is p.VAR_KEYWORD for p in params)
        cls._call_takes_training = flag
    return flag


def _is_number_list(value) -> bool:
    """A (nested) list of plain numbers, such as ``[[1.0, 2.0]]``: one array, not a list of inputs."""
    if isinstance(value, (list, tuple)):
        return all(_is_number_list(v) for v in value)
    return isinstance(value, (int, float, bool, np.number))


def to_tensor(x, where: str = "tensor") -> Tensor:
    """Layer input as a Tensor: arrays become ``floatx`` Tensors, Tensors pass through; data that
    is not an array (ragged lists) raises an error naming ``where`` (the layer)."""
    if isinstance(x, Tensor):
        return x
    return Tensor._wrap(backend.as_array(x, op=where))


_CALL_TAKES_MASK: dict = {}


def _call_takes_mask(cls) -> bool:
    """Whether ``cls.call`` has a ``mask`` parameter (looked up once per class)."""
    takes = _CALL_TAKES_MASK.get(cls)
    if takes is None:
        import inspect

        takes = _CALL_TAKES_MASK[cls] = "mask" in inspect.signature(cls.call).parameters
    return takes


def _input_mask(layer, first, kwargs):
    """Keras's mask convention, before the call: the mask of the input (``mask=`` given, else the
    input tensor's ``_keras_mask``), handed to ``call`` as ``mask=`` when its signature takes one."""
    if "mask" in kwargs:
        return kwargs["mask"]
    mask = getattr(first, "_keras_mask", None)
    if mask is not None and _call_takes_mask(type(layer)):
        kwargs["mask"] = mask
    return mask


def _attach_mask(layer, inputs, out, mask) -> None:
    """After the call: a layer that supports masking sets ``compute_mask(inputs, mask)`` on its outputs."""
    if not layer.supports_masking:
        return
    out_mask = layer.compute_mask(inputs, mask)
    if out_mask is None:
        return
    if isinstance(out, (list, tuple)):
        masks = out_mask if isinstance(out_mask, (list, tuple)) else [out_mask] + [None] * (len(out) - 1)
    else:
        out, masks = [out], [out_mask]
    for t, m in zip(out, masks):
        if m is not None and isinstance(t, Tensor) and getattr(t, "_keras_mask", None) is None:
            t._keras_mask = m


class Layer:
    """Base class of all layers (Keras's ``keras.layers.Layer``).

    Masks (Keras's convention): a mask is a boolean array (batch, timesteps), True = a real
    step, carried on a tensor as ``_keras_mask``. ``layer(x)`` passes ``mask=`` to ``call``
    when ``call`` takes it (from ``x._keras_mask`` unless given), and a layer with
    ``supports_masking = True`` sets ``compute_mask(inputs, mask)`` on its outputs.
    """

    supports_masking = False

    def __init__(self, trainable: bool = True, name: str | None = None, dtype=None, input_shape=None,
                 input_dim=None, batch_input_shape=None, activity_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown argument(s) {sorted(kwargs)}")
        object.__setattr__(self, "_layers", [])
        self._own_weights: list[Tensor] = []
        self._trainable_flags: dict[int, bool] = {}
        self._weight_regularizers: list = []
        self._activity_losses: list = []
        self.built = False
        self.trainable = trainable
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = None if dtype is None else np.dtype(dtype).name
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (None,) + tuple(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (None, int(input_dim))
        else:
            self._batch_input_shape = None
        from .. import regularizers

        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_shape_seen = None
        self.output_shape_seen = None

    # ------------------------------------------------------------------ tracking
    def __setattr__(self, key, value):
        layers = self.__dict__.get("_layers")
        if layers is not None and key != "_layers":
            if isinstance(value, Layer) and value is not self and all(value is not l for l in layers):
                layers.append(value)
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value):
                for v in value:
                    if all(v is not l for l in layers):
                        layers.append(v)
        object.__setattr__(self, key, value)

    @property
    def layers(self) -> list:
        return list(self._layers)

    def _flatten_layers(self):
        yield self
        for l in self._layers:
            yield from l._flatten_layers()

    # ------------------------------------------------------------------ weights
    def add_weight(self, name: str | None = None, shape=None, initializer="glorot_uniform", regularizer=None,
                   trainable: bool = True, dtype=None) -> Tensor:
        """Create a weight of ``shape`` filled by ``initializer``; it requires grad if trainable.

        Keras 3 code passes keywords (``add_weight(shape=(n, units), initializer="zeros",
        name="bias")``); without a name the weight is called ``variable``, ``variable_1``, ...
        ``initializer=None`` means glorot_uniform, as in Keras.
        """
        from .. import initializers, regularizers

        if shape is None:
            raise TypeError(f"{self.name}: add_weight needs a shape, e.g. add_weight(shape=(3, 4), name='kernel')")
        if name is None:
            name = "variable" if not self._own_weights else f"variable_{len(self._own_weights)}"
        init = initializers.get("glorot_uniform" if initializer is None else initializer)
        dtype = np.dtype(dtype or self.dtype or backend.floatx())
        value = np.asarray(init(tuple(shape), dtype=dtype), dtype=dtype, order="C")   # C order, as the slots
        w = Tensor._wrap(value)
        w.name = f"{self.name}/{name}"
        w.requires_grad = bool(trainable)
        self._own_weights.append(w)
        self._trainable_flags[id(w)] = bool(trainable)
        reg = regularizers.get(regularizer)
        if reg is not None:
            self._weight_regularizers.append((w, reg))
        return w

    @property
    def weights(self) -> list:
        """All weights, own first, then sub-layers' (trainable and not), in creation order."""
        out, seen = [], set()
        for layer in self._flatten_layers():
            for w in layer._own_weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self) -> list:
        out, seen = [], set()
        for layer in self._flatten_layers():
            if not layer.trainable:
                continue
            for w in layer._own_weights:
                if layer._trainable_flags.get(id(w), True) and id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def non_trainable_weights(self) -> list:
        train = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in train]

    trainable_variables = trainable_weights
    variables = weights

    def get_weights(self) -> list:
        """The weights' values as a list of ndarrays (copies)."""
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from a list of arrays; shapes must match exactly."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"set_weights: layer {self.name!r} expects {len(own)} weight arrays, got {len(weights)}"
            )
        arrays = []
        for w, v in zip(own, weights):
            v = np.asarray(v.data if isinstance(v, Tensor) else v)
            if v.shape != w.shape:
                raise ValueError(
                    f"set_weights: weight {w.name!r} of layer {self.name!r} has shape {w.shape}, "
                    f"got an array of shape {v.shape}"
                )
            arrays.append(v)
        for w, v in zip(own, arrays):  # assign only after every shape was checked
            w.data[...] = v

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    # ------------------------------------------------------------------ losses
    @property
    def losses(self) -> list:
        """Regularization penalties: weight regularizers, and activity regularizers of the latest call."""
        out = []
        for layer in self._flatten_layers():
            for w, reg in layer._weight_regularizers:
                out.append(reg(w))
            out.extend(layer._activity_losses)
        return out

    # ------------------------------------------------------------------ calling
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis included, as None)."""
        self.built = True

    def call(self, inputs, training: bool = False):
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape`` (batch axis as None), found by a symbolic-free dry run if needed."""
        x = Tensor._wrap(np.zeros(tuple(1 if d is None else d for d in input_shape), dtype=backend.floatx()))
        from ..autograd.grad_mode import no_grad

        with no_grad():
            y = self(x, training=False)
        return (input_shape[0],) + tuple(y.shape[1:])

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs: by default the input's mask, passed through (Keras)."""
        return mask if self.supports_masking else None

    def _maybe_build(self, x: Tensor):
        if self.built:
            return
        shape = (None,) + tuple(x.shape[1:]) if x.ndim else ()
        if self._batch_input_shape is not None:
            expected = tuple(self._batch_input_shape[1:])
            if tuple(shape[1:]) != expected and all(e is not None for e in expected):
                raise ValueError(
                    f"{self.name}: declared input_shape {expected} but got input of shape {tuple(x.shape)}"
                )
        self.build(shape)
        self.built = True

    def __call__(self, inputs, training=None, **kwargs):
        if symbolic.is_symbolic(inputs, kwargs):  # the functional API: record the call, infer shapes
            return symbolic.symbolic_call(self, inputs, training, kwargs)
        if isinstance(inputs, (list, tuple)) and not _is_number_list(inputs):
            inputs = type(inputs)(to_tensor(i, self.name) for i in inputs)
            first = inputs[0]
        else:
            inputs = to_tensor(inputs, self.name)
            first = inputs
        if not self.built:
            self._maybe_build(first)
        self.input_shape_seen = tuple(first.shape)
        mask = _input_mask(self, first, kwargs)
        context = _call_context
        outer = context.training
        if outer is None:  # an outermost call: a step of a model; let the thread policy look at the load
            threads.update()
        if training is None:  # inherit the enclosing call's mode; outermost: inference
            training = False if outer is None else outer
        if _call_takes_training(type(self)):
            kwargs["training"] = training
        if training is outer:
            out = self.call(inputs, **kwargs)
        else:
            context.training = training
            try:
                out = self.call(inputs, **kwargs)
            finally:
                context.training = outer
        if self.activity_regularizer is not None:
            self._activity_losses = [self.activity_regularizer(out)]
        _attach_mask(self, inputs, out, mask)
        o = out[0] if isinstance(out, (list, tuple)) else out
        self.output_shape_seen = tuple(o.shape)
        return out

    # ``input``/``output``: the symbolic tensors of the layer's first functional call (Keras 3). A layer or
    # model that assigns an attribute of that name itself (self.output = Dense(...)) keeps it.
    @property
    def input(self):
        if "_own_input" in self.__dict__:
            return self.__dict__["_own_input"]
        return symbolic.layer_io(self, "input")

    @input.setter
    def input(self, value):
        self.__dict__["_own_input"] = value

    @property
    def output(self):
        if "_own_output" in self.__dict__:
            return self.__dict__["_own_output"]
        return symbolic.layer_io(self, "output")

    @output.setter
    def output(self, value):
        self.__dict__["_own_output"] = value

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """The constructor arguments that recreate this layer (Keras's get_config)."""
        from .. import regularizers

        cfg = {"name": self.name, "trainable": self.trainable}
        if self.dtype is not None:
            cfg["dtype"] = self.dtype
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            cfg["activity_regularizer"] = serialize_or_keep(self.activity_regularizer, regularizers)
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"
