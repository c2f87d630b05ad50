"""Lambda (a plain function as a layer) and Identity (y = x), as Keras.

Saving a Lambda: its function is written by name only -- never as code. Loading looks the name up
in ``custom_objects`` (the ``load_model(..., custom_objects=...)`` dict, an enclosing
``custom_object_scope``, or the global ``get_custom_objects()`` registry) and nowhere else: it
neither imports modules by name nor unpickles or evaluates anything from the file, so a file cannot
make the loader run code the user did not hand it. A lambda expression has no name to be found by,
so a model holding one cannot be saved (a clear error says to define it with ``def``).
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import backend
from .. import custom_objects as _custom
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from .base import Layer


def _function_name(fn, what):
    """The name a function is saved by; a ValueError for a lambda expression or a nameless callable."""
    name = getattr(fn, "__name__", None)
    if not inspect.isroutine(fn) or not name or name == "<lambda>":
        raise ValueError(
            f"Lambda: its {what} {fn!r} cannot be saved: a lambda expression (or a callable object) has no name "
            f"to be found by at load. Define it with def, and load with custom_objects={{'its_name': it}}")
    return name


def _resolve(value, what):
    """A function from its saved name, found only in custom_objects; a callable passes through."""
    if value is None or callable(value):
        return value
    if isinstance(value, str):
        fn = _custom.lookup(value)
        if fn is None:
            raise ValueError(
                f"Lambda: unknown {what} {value!r}. A Lambda layer's functions are loaded by name only: pass "
                f"custom_objects={{{value!r}: {value}}} to load_model (or use custom_object_scope, or register it "
                f"in cr.custom_objects.get_custom_objects())")
        if not callable(fn):
            raise TypeError(f"Lambda: custom object {value!r} for its {what} is not callable")
        return fn
    raise TypeError(f"Lambda: {what} must be a function or its registered name, got {value!r}")


class Lambda(Layer):
    """y = function(x, **arguments): any differentiable composition of chainrule ops as a layer
    (its gradient is that of the ops it uses). ``function`` may take ``training`` and ``mask``
    keyword arguments; a list input is passed on as a list.

    ``output_shape``: the output shape without the batch axis (a tuple), or a function of the input
    shape; when not given, ``compute_output_shape`` runs the function on zeros, twice with different
    sizes in place of each None, and reports None wherever the output size changed.
    ``mask``: a mask for the output, or a function of (inputs, mask).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function = _resolve(function, "function")
        if not callable(self.function):
            raise TypeError(f"Lambda: function must be callable, got {function!r}")
        self._output_shape = _resolve(output_shape, "output_shape") if isinstance(output_shape, str) else output_shape
        self.mask = _resolve(mask, "mask") if isinstance(mask, str) else mask
        self.arguments = dict(arguments or {})
        try:
            params = inspect.signature(self.function).parameters
        except (TypeError, ValueError):
            params = {}
        self._takes_training = "training" in params
        self._takes_mask = "mask" in params

    def call(self, inputs, training=False, mask=None):
        kwargs = dict(self.arguments)
        if self._takes_training:
            kwargs["training"] = training
        if self._takes_mask:
            kwargs["mask"] = mask
        out = self.function(inputs, **kwargs)
        if isinstance(out, Tensor) and self.mask is not None:
            m = self.mask(inputs, mask) if callable(self.mask) else self.mask
            if m is not None:
                out._keras_mask = np.asarray(m.data if isinstance(m, Tensor) else m, dtype=bool)
        return out

    def compute_output_shape(self, input_shape):
        if self._output_shape is not None:
            if callable(self._output_shape):
                return tuple(self._output_shape(input_shape))
            batch = input_shape[0][0] if input_shape and isinstance(input_shape[0], (list, tuple)) else \
                input_shape[0]
            return (batch,) + tuple(self._output_shape)
        runs = [self._dry_run(input_shape, n) for n in (5, 12)]
        return tuple(None if a != b else a for a, b in zip(*runs)) if len(runs[0]) == len(runs[1]) else None

    def _dry_run(self, input_shape, fill):
        """The output shape of the function on zeros, with ``fill`` in place of each unknown size."""
        def zeros(shape):
            return Tensor._wrap(np.zeros(tuple(fill if d is None else d for d in shape), dtype=backend.floatx()))

        multi = bool(input_shape) and isinstance(input_shape[0], (list, tuple))
        x = [zeros(s) for s in input_shape] if multi else zeros(input_shape)
        with no_grad():
            y = self.call(x, training=False)
        return tuple(y.shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["function"] = _function_name(self.function, "function")
        if self._output_shape is not None:
            cfg["output_shape"] = (_function_name(self._output_shape, "output_shape") if callable(self._output_shape)
                                   else list(self._output_shape))
        if self.mask is not None:
            cfg["mask"] = _function_name(self.mask, "mask") if callable(self.mask) else np.asarray(self.mask).tolist()
        cfg["arguments"] = self.arguments
        return cfg


class Identity(Layer):
    """y = x (a placeholder layer, e.g. where an optional block is switched off).  dL/dx = g."""

    def call(self, inputs, training=False):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape if input_shape and isinstance(input_shape[0], (list, tuple)) else tuple(input_shape)


__all__ = ["Identity", "Lambda"]
