"""A model's own training step: ``train_step(self, data)`` / ``test_step(self, data)`` overrides.

Keras 3's way of training a GAN or a VAE with ``fit``: subclass ``cr.Model`` and override

    def train_step(self, data):          # data: one batch, as fit received it
        ...forward, losses, cr.grad, optimizer.apply...
        return {"d_loss": d_loss, "g_loss": self.g_tracker}   # name -> scalar (or a Metric)

``fit`` then calls it once per batch in place of its own step and drives the progress bar,
the callbacks and the ``History`` with the dict it returns; ``evaluate`` (and fit's
validation) calls ``test_step`` the same way. What the step receives is Keras's packing of
the batch (``pack_x_y_sample_weight``): the inputs alone when ``fit`` got no targets,
``(x, y)`` with targets, ``(x, y, sample_weight)`` with weights; arrays arrive as Tensors
(a list of inputs as a list of Tensors). ``unpack_x_y_sample_weight(data)`` undoes it.

The values of the returned dict may be Python or NumPy scalars, 0-d (or one-element) arrays
or Tensors, or ``Metric`` objects (their ``result()`` is read); they are logged as floats.
As in Keras, the epoch's log is the last batch's dict: return running means (e.g.
``cr.metrics.Mean`` trackers, which ``fit`` resets at the start of every epoch and before
every evaluation when they are listed in ``model.metrics`` or held as attributes of the
model) for per-epoch figures. ``fit``'s NaN guard (with ``TerminateOnNaN``) belongs to the
built-in step; a custom step decides itself what to apply (the callback still stops training
when the returned ``loss`` is NaN).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.tensor import Tensor


def overrides(model, name: str) -> bool:
    """True when ``type(model)`` defines its own ``name`` (``train_step``/``test_step``)."""
    from .model import Model

    own = getattr(type(model), name, None)
    return own is not None and own is not getattr(Model, name)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """One batch as a custom step receives it (Keras's packing): ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sw)``."""
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch packed by ``pack_x_y_sample_weight`` (missing parts None)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"unpack_x_y_sample_weight: expected a batch of (x,), (x, y) or (x, y, sample_weight), got a "
                     f"tuple of {len(data)} items")


def _as_tensor(v):
    if v is None or isinstance(v, Tensor):
        return v
    if isinstance(v, (list, tuple)):
        return [_as_tensor(a) for a in v]
    return Tensor._wrap(np.asarray(v))


def scalar_logs(logs, where: str) -> dict:
    """``logs`` as ``{name: float}``; a clear TypeError for anything but a dict of scalars."""
    from ..metrics import Metric

    if not isinstance(logs, dict):
        raise TypeError(f"{where} must return a dict of scalar metrics (name -> value), e.g. "
                        f"{{'loss': loss}}; got {type(logs).__name__}")
    out = {}
    for key, value in logs.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}: the returned dict's keys must be metric names (str), got {key!r}")
        if isinstance(value, Metric):
            value = value.result()
        if isinstance(value, Tensor):
            value = value.data
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
            raise TypeError(f"{where}: metric {key!r} must be a scalar (float, 0-d array or Tensor, or a Metric), "
                            f"got {type(value).__name__}")
        arr = np.asarray(value)
        if arr.size != 1 or arr.dtype.kind not in "fiu":
            raise TypeError(f"{where}: metric {key!r} must be a scalar, got an array of shape {arr.shape} and dtype "
                            f"{arr.dtype} (reduce it, e.g. with .mean())")
        out[key] = float(arr.reshape(()))
    return out


def run(stepper, name: str, x, y, sw) -> dict:
    """Call ``model.<name>`` (train_step or test_step) on one batch; its logs as floats."""
    from ..autograd.grad_mode import no_grad

    model = stepper.model
    data = pack_x_y_sample_weight(_as_tensor(x), _as_tensor(y), _as_tensor(sw))
    previous = model.__dict__.get("_active_stepper")
    model._active_stepper = stepper  # for a super().train_step(data) inside the override
    try:
        if name == "test_step":
            with no_grad():
                logs = model.test_step(data)
        else:
            logs = model.train_step(data)
    finally:
        model._active_stepper = previous
    return scalar_logs(logs, f"{type(model).__name__}.{name}")


__all__ = ["overrides", "pack_x_y_sample_weight", "scalar_logs", "unpack_x_y_sample_weight"]
