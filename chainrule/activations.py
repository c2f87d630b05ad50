"""Activations by name, as ``keras.activations``: ``get("relu")``, ``serialize(fn)``.

Layers take ``activation=`` as a string, a callable, or None (linear); ``get``
turns any of these into a callable on Tensors, and ``serialize`` turns a known
callable back into its name for saving. The math lives in ``ops.activation``
and ``ops.elementwise``.
"""
from __future__ import annotations

from . import custom_objects as _custom
from .autograd.tensor import Tensor
from .ops import activation as _act
from .ops import elementwise as _ew
from .ops.activation import (
    elu, gelu, hard_sigmoid, hard_silu, leaky_relu, log_softmax, mish, relu6, selu, sigmoid, silu, softmax,
    softplus, softsign, swish,
)
from .ops.elementwise import tanh


def relu(x, negative_slope: float = 0.0, max_value=None, threshold: float = 0.0) -> Tensor:
    r"""max(x, 0), as ``keras.activations.relu``; the optional arguments give
    x for x > threshold, negative_slope (x - threshold) below it, capped at max_value.

    dy/dx = 1 where threshold < x < max_value, negative_slope where x < threshold, else 0.

    Math:
        $$y = \begin{cases} \min(x, m) & x > \theta \\ s\,(x - \theta) & x \le \theta \end{cases}, \qquad
        \frac{dy}{dx} = \begin{cases} 1 & \theta < x < m \\ s & x < \theta \\ 0 & x > m \end{cases}$$
        with threshold $\theta$, negative_slope $s$ and max_value $m$ ($m = \infty$ when None).
    """
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _ew.relu(x)
    x = _act._float_input("relu", x)
    if max_value == 6 and negative_slope == 0.0 and threshold == 0.0:
        return relu6(x)
    if threshold != 0.0:
        y = _ew.where(x.data > threshold, x, 0.0)
    else:
        y = _ew.relu(x)
    if max_value is not None:
        y = _ew.minimum(y, float(max_value))
    if negative_slope != 0.0:
        y = y - negative_slope * _ew.relu(threshold - x)
    return y


def linear(x):
    r"""The identity (no activation): y = x; dy/dx = 1.

    Math:
        $$y = x, \qquad \frac{dy}{dx} = 1$$
    """
    return x


def exponential(x) -> Tensor:
    r"""y = e^x; dy/dx = e^x = y.

    Math:
        $$y = e^{x}, \qquad \frac{dy}{dx} = e^{x} = y$$
    """
    return _ew.exp(_act._float_input("exponential", x))


# name -> function; the first name listed for a function is the one serialize() gives
_ACTIVATIONS = {
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "softplus": softplus,
    "softsign": softsign,
    "silu": silu,
    "swish": swish,
    "leaky_relu": leaky_relu,
    "relu6": relu6,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "mish": mish,
    "exponential": exponential,
}
# functions reachable under another module's identity (F.relu is elementwise.relu)
_ALSO = {_ew.relu: "relu", _ew.exp: "exponential", _ew.sigmoid: "sigmoid"}


def known_names() -> list:
    return sorted(_ACTIVATIONS)


def get(identifier):
    """A callable activation from a name ('relu', 'softmax', ..., 'linear'), None (linear) or a callable.

    A name that is not built in is looked up among the custom objects (``custom_object_scope``).
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _ACTIVATIONS.get(identifier) or _ACTIVATIONS.get(identifier.lower())
        if fn is None:
            fn = _custom.lookup(identifier)
            if fn is None or not callable(fn):
                raise ValueError(
                    f"activations.get: unknown activation {identifier!r}; known: {', '.join(known_names())}"
                    + _custom.hint(identifier)
                )
        return fn
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"activations.get: expected a name, a callable or None, got {type(identifier).__name__} {identifier!r}"
    )


def serialize(activation) -> str:
    """The name of a known activation (the inverse of ``get``); a custom function gives its ``__name__``."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        get(activation)
        return activation
    for name, fn in _ACTIVATIONS.items():
        if fn is activation:
            return name
    if activation in _ALSO:
        return _ALSO[activation]
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"activations.serialize: cannot name the activation {activation!r}")
    return name


def deserialize(config, custom_objects=None):
    """The activation named by ``config`` (a name, or a dict with 'class_name'/'config')."""
    if isinstance(config, dict):
        config = config.get("config", config.get("class_name"))
        if isinstance(config, dict):
            config = config.get("name")
    found = _custom.lookup(config, custom_objects)
    if found is not None and config not in _ACTIVATIONS:
        return found
    return get(config)


__all__ = [
    "deserialize", "elu", "exponential", "gelu", "get", "hard_sigmoid", "hard_silu", "known_names", "leaky_relu",
    "linear", "log_softmax", "mish", "relu", "relu6", "selu", "serialize", "sigmoid", "silu", "softmax",
    "softplus", "softsign", "swish", "tanh",
]
