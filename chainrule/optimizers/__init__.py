"""Optimizers: ``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``, and learning-rate ``schedules``.

Keras 3's names, arguments, defaults and update rules; each class's docstring
states the exact update it implements and where PyTorch's ``torch.optim``
differs. The differences in brief:

- SGD: ``v = m v - lr g; w += v`` (Nesterov ``w += m v - lr g``), lr 0.01.
  PyTorch: ``b = m b + g; w -= lr b`` -- the same path while lr is constant.
- Adagrad: ``w -= lr g / sqrt(a + eps)``, initial accumulator 0.1, eps 1e-7, lr 0.001.
  PyTorch: ``w -= lr g / (sqrt(a) + eps)``, initial accumulator 0, eps 1e-10, lr 0.01.
- RMSprop: ``w -= lr g / sqrt(v + eps)``, rho 0.9, eps 1e-7, lr 0.001.
  PyTorch: ``w -= lr g / (sqrt(v) + eps)``, alpha 0.99, eps 1e-8, lr 0.01.
- Adam: eps added to ``sqrt(v)`` before the bias correction ("epsilon hat"), eps 1e-7.
  PyTorch: eps added to the bias-corrected ``sqrt(v_hat)``, eps 1e-8.
- AdamW: decoupled decay ``w *= 1 - lr wd`` with ``weight_decay=0.004``.
  PyTorch: the same rule with ``weight_decay=0.01``.
- ``weight_decay=`` on any optimizer is decoupled here (Keras 3); in PyTorch's
  SGD, Adagrad, RMSprop and Adam it is L2 added to the gradient.

Usage, in a custom training loop::

    opt = cr.optimizers.Adam(learning_rate=1e-3)
    loss.backward()
    opt.apply([p.grad for p in params], params)

``get(identifier)`` turns a name (``"adam"``), a config dict or an instance into
an optimizer; ``serialize(opt)`` is the inverse.
"""
from __future__ import annotations

from . import schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

_BY_NAME = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def serialize(optimizer: Optimizer) -> dict:
    """``{"class_name": ..., "config": optimizer.get_config()}``."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizers.serialize: expected an Optimizer, got {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Rebuild an optimizer from ``serialize``'s output (its saved state is not part of it)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"optimizers.deserialize: expected {{'class_name': ..., 'config': ...}}, got {config!r}")
    name = config["class_name"]
    custom = {k.lower(): v for k, v in (custom_objects or {}).items()}
    cls = custom.get(str(name).lower()) or _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"optimizers.deserialize: unknown optimizer {name!r}; known: {', '.join(_BY_NAME)}")
    return cls.from_config(dict(config.get("config", {})), custom_objects=custom_objects)


def get(identifier) -> Optimizer:
    """An optimizer from a name (case-insensitive: ``"sgd"``, ``"adagrad"``, ``"rmsprop"``,
    ``"adam"``, ``"adamw"``; a new instance with the defaults), a ``serialize`` dict,
    an ``Optimizer`` class, or an instance (returned as is).
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; known optimizers: {', '.join(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(f"optimizers.get: expected an optimizer name, config dict or Optimizer, got {identifier!r}")


__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "deserialize", "get", "schedules", "serialize"]
