"""The core layers: Input, Dense, Activation, Flatten, Reshape, Dropout (Keras's names and arguments)."""
from __future__ import annotations

import math
import warnings

from .. import backend
from ..autograd.tensor import Tensor
from ..ops import nn
from ..ops.shape import cast, reshape, transpose
from .base import Layer, serialize_or_keep


# ------------------------------------------------------------------------------------------ helpers
def _activations():
    from .. import activations

    return activations


def ignored_constraint(layer: str, name: str, value) -> None:
    if value is not None:
        warnings.warn(f"{layer}: {name} is not supported and is ignored", stacklevel=3)


def positive_int(layer: str, name: str, value) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{layer}: {name} must be a positive integer, got {value!r}")
    value = int(value)
    if value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value}")
    return value


def positive_ints(value, rank, name, layer) -> tuple:
    """``value`` (an int, or ``rank`` ints) as a tuple of ``rank`` positive ints (kernel sizes, strides)."""
    if isinstance(value, int):
        value = (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank or any(v <= 0 for v in value):
        raise ValueError(f"{layer}: {name} must be a positive int or {rank} positive ints, got {value!r}")
    return value


def check_window_fits(layer, input_shape, spatial_in, spatial_out, window_name, window, **settings) -> None:
    """Refuse a conv/pool layer whose window does not fit its input (an output size below 1), as Keras
    does when the model is built, naming the layer, the input size and the window."""
    if all(o is None or o >= 1 for o in spatial_out):
        return
    details = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    raise ValueError(
        f"{layer.name}: input spatial size {tuple(spatial_in)} (input shape {tuple(input_shape)}) is too small "
        f"for {type(layer).__name__} with {window_name}={tuple(window)} ({details}): the output would have size "
        f"{tuple(spatial_out)}; give a larger input, a smaller {window_name}, or padding='same'")


def _as_float(layer: Layer, x: Tensor, dtype) -> Tensor:
    """Layer input in the weights' float dtype (Keras casts inputs to the layer's compute dtype)."""
    if x.data.dtype == dtype:
        return x
    if x.data.dtype.kind != "f":
        return Tensor._wrap(x.data.astype(dtype))
    return cast(x, dtype)


# ------------------------------------------------------------------------------------------ Input
class InputLayer(Layer):
    """The input of a model: declares the shape of one sample (and optionally the batch size).

    ``cr.Input(shape=(784,))`` makes one and returns its output, a symbolic tensor of shape
    ``(None, 784)`` to call layers on (the functional API), or to put first in
    ``Sequential([...])``. When a model runs, the input layer checks the data against the
    declared shape (None entries match any size) and casts it to a declared dtype.
    ``batch_shape`` (Keras 3) gives the full shape, batch axis included, instead.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
        from .symbolic import KerasTensor, Node

        for ignored in ("sparse", "ragged", "optional", "input_tensor"):
            if kwargs.get(ignored):
                raise ValueError(f"InputLayer: {ignored}={kwargs[ignored]!r} is not supported")
            kwargs.pop(ignored, None)
        if shape is not None and batch_shape is not None:
            raise ValueError("Input: give shape or batch_shape, not both")
        if batch_shape is not None:
            kwargs["batch_input_shape"] = tuple(batch_shape)
        elif shape is not None:
            if isinstance(shape, int):
                shape = (shape,)
            kwargs["batch_input_shape"] = (batch_size,) + tuple(shape)
        if kwargs.get("batch_input_shape") is None and kwargs.get("input_shape") is None:
            raise ValueError("Input: shape is required, e.g. Input(shape=(784,))")
        super().__init__(name=name, dtype=dtype, **kwargs)
        dims = self._batch_input_shape
        for d in dims:
            if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 0):
                raise ValueError(f"Input: shape entries must be non-negative ints or None, got {tuple(dims)}")
        self.built = True
        # The layer's one node has no inputs; its output is the model's symbolic input.
        Node(self, None, {}, KerasTensor(dims, dtype or backend.floatx(), name=self.name))

    @property
    def batch_input_shape(self) -> tuple:
        return tuple(self._batch_input_shape)

    @property
    def batch_shape(self) -> tuple:
        return tuple(self._batch_input_shape)

    @property
    def shape(self) -> tuple:
        """The declared shape, batch axis first (None where any size goes), as Keras's ``Input(...).shape``."""
        return tuple(self._batch_input_shape)

    def call(self, inputs, training=False):
        want = self._batch_input_shape
        got = tuple(inputs.shape)
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
            raise ValueError(
                f"{self.name}: expected input of shape {tuple(want)} (None: any size), got {got}"
            )
        if self.dtype is not None and inputs.data.dtype != self.dtype:
            return Tensor._wrap(inputs.data.astype(self.dtype))
        return inputs

    def compute_output_shape(self, input_shape=None):
        return tuple(self._batch_input_shape)

    def get_config(self):
        cfg = {"name": self.name, "batch_shape": list(self._batch_input_shape)}
        if self.dtype is not None:
            cfg["dtype"] = self.dtype
        return cfg


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,  # noqa: N802
          optional=False):
    """A symbolic input tensor (Keras's ``keras.Input``): ``cr.Input(shape=(784,))`` has shape ``(None, 784)``.

    Call layers on it to build a functional model, ``cr.Model(inputs, outputs)``; or put it
    first in ``cr.Sequential([...])`` to declare the input shape. It is the output of an
    ``InputLayer`` (``x._keras_history.layer``), named ``input_layer``, ``input_layer_1``, ...
    """
    if tensor is not None:
        raise ValueError("Input: tensor= is not supported; pass shape= (and dtype=)")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape,
                       name=name, optional=optional)
    return layer.output


# ------------------------------------------------------------------------------------------ Dense
class Dense(Layer):
    r"""y = activation(x @ kernel + bias), on the last axis of x (any rank >= 2).

    Weights (Keras's order and layout): kernel of shape (in_features, units), then bias (units,).
    Parameters: in_features * units + units.

    Math:
        $$y = \phi(xW + b), \quad W \in \mathbb{R}^{n_{\text{in}} \times \text{units}}, \qquad \frac{\partial L}{\partial W} = x^{\top}\bar z, \quad \frac{\partial L}{\partial b} = \textstyle\sum_{\text{rows}} \bar z, \quad \frac{\partial L}{\partial x} = \bar z\, W^{\top}, \quad \bar z = \bar y \odot \phi'(xW + b)$$
    """

    supports_masking = True  # a mask on the input passes through (Keras)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        from .. import initializers, regularizers

        self.units = positive_int("Dense", "units", units)
        self.activation = _activations().get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        ignored_constraint("Dense", "kernel_constraint", kernel_constraint)
        ignored_constraint("Dense", "bias_constraint", bias_constraint)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"{self.name}: Dense needs inputs of rank >= 2 (batch, ..., features), got shape {input_shape}"
            )
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(f"{self.name}: the last axis of the input (the features) must have a known size")
        self.kernel = self.add_weight(
            "kernel", (in_features, self.units), self.kernel_initializer, self.kernel_regularizer
        )
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def call(self, inputs, training=False):
        x = inputs
        expected = self.kernel.shape[0]
        if x.ndim < 2 or x.shape[-1] != expected:
            raise ValueError(
                f"{self.name}: expected inputs with {expected} features on the last axis "
                f"(the layer was built for shape (None, ..., {expected})), got {x.shape[-1] if x.ndim else 'a scalar'} "
                f"features (input shape {tuple(x.shape)})"
            )
        y = nn.linear(_as_float(self, x, self.kernel.data.dtype), self.kernel, self.bias)
        if self.activation is not _activations().linear:
            y = self.activation(y)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        from .. import initializers, regularizers

        cfg = super().get_config()
        cfg.update(
            units=self.units,
            activation=_activations().serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=serialize_or_keep(self.kernel_initializer, initializers),
            bias_initializer=serialize_or_keep(self.bias_initializer, initializers),
            kernel_regularizer=serialize_or_keep(self.kernel_regularizer, regularizers),
            bias_regularizer=serialize_or_keep(self.bias_regularizer, regularizers),
            kernel_constraint=None,
            bias_constraint=None,
        )
        return cfg


# ------------------------------------------------------------------------------------------ Activation
class Activation(Layer):
    """y = activation(x), the activation given by name or as a callable."""

    supports_masking = True  # a mask on the input passes through (Keras)

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activations().get(activation)

    def call(self, inputs, training=False):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["activation"] = _activations().serialize(self.activation)
        return cfg


# ------------------------------------------------------------------------------------------ Flatten
class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...); a (batch,) input becomes (batch, 1).

    ``data_format="channels_first"`` first moves the channel axis last, so a model's Dense
    weights keep their order when its convolutions switch data format (as Keras).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.data_format = data_format

    def call(self, inputs, training=False):
        x = inputs
        if x.ndim == 0:
            raise ValueError(f"{self.name}: Flatten needs an input with a batch axis, got a scalar")
        if self.data_format == "channels_first" and x.ndim > 2:
            x = transpose(x, (0, *range(2, x.ndim), 1))
        return reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def get_config(self):
        cfg = super().get_config()
        cfg["data_format"] = self.data_format
        return cfg


# ------------------------------------------------------------------------------------------ Reshape
class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1 (inferred)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in target_shape) > 1 or any(d < -1 for d in target_shape):
            raise ValueError(
                f"Reshape: target_shape may hold at most one -1 and no other negative size, got {target_shape}"
            )
        self.target_shape = target_shape

    def _resolve(self, sample_shape):
        """target_shape with its -1 filled in for samples of ``sample_shape``; ValueError if sizes differ."""
        n = math.prod(sample_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or n % known:
                raise ValueError(
                    f"{self.name}: cannot reshape samples of shape {tuple(sample_shape)} ({n} elements) "
                    f"into {self.target_shape}"
                )
            return tuple(n // known if d == -1 else d for d in self.target_shape)
        if known != n:
            raise ValueError(
                f"{self.name}: cannot reshape samples of shape {tuple(sample_shape)} ({n} elements) "
                f"into {self.target_shape} ({known} elements)"
            )
        return self.target_shape

    def call(self, inputs, training=False):
        x = inputs
        return reshape(x, (x.shape[0],) + self._resolve(x.shape[1:]))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        return (input_shape[0],) + self._resolve(rest)

    def get_config(self):
        cfg = super().get_config()
        cfg["target_shape"] = list(self.target_shape)
        return cfg


# ------------------------------------------------------------------------------------------ Dropout
class Dropout(Layer):
    r"""Inverted dropout, active only when called with ``training=True``: each element is zeroed
    with probability ``rate`` and the rest are scaled by 1 / (1 - rate); otherwise the identity.

    ``noise_shape``: the mask's shape (None entries follow the input), e.g. (None, 1, features)
    drops the same features at every time step. ``seed``: the layer draws its masks from its
    own generator seeded with it (a reproducible sequence of masks); None uses the library's
    generator (``cr.manual_seed``).

    Math:
        $$y = \frac{m \odot x}{1 - r}\ \ (\text{training}), \quad m_i \sim \operatorname{Bernoulli}(1 - r); \qquad y = x\ \ (\text{inference})$$
    """

    supports_masking = True  # a mask on the input passes through (Keras)

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = nn._check_rate("Dropout", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"Dropout: seed must be a non-negative int or None, got {seed!r}")
        self.seed = seed
        self._generator = None if seed is None else backend.xp.random.default_rng(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        noise_shape = self.noise_shape
        if noise_shape is not None and len(noise_shape) != inputs.ndim:
            raise ValueError(
                f"{self.name}: noise_shape {noise_shape} must have one entry per axis "
                f"of the input {tuple(inputs.shape)}"
            )
        return nn.dropout(inputs, self.rate, training=True, noise_shape=noise_shape, seed=self._generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        noise_shape = None if self.noise_shape is None else list(self.noise_shape)
        cfg.update(rate=self.rate, noise_shape=noise_shape, seed=self.seed)
        return cfg
