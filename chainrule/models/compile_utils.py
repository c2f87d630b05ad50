"""Losses and metrics of a model with several outputs (Keras's CompileLoss and per-output metrics).

A functional model with outputs ``o_1 ... o_k`` (named after the layers that make them, or
by the keys of a dict of outputs) is compiled with one loss per output, given as

* one loss (a name, a ``Loss``, a callable): the same loss for every output;
* a list of ``k`` losses, in output order (``None``: that output has no loss);
* a dict ``{output name: loss}`` (an output left out has no loss);

and optional ``loss_weights`` ``w_i`` (a list, or a dict by output name, missing ones 1).
The loss that training differentiates is the weighted sum

    L = sum_i w_i * L_i(y_i, yhat_i)     (+ the regularization penalties, as for one output)

Each ``L_i`` (unweighted) is also logged, as ``<output name>_loss``, next to ``loss`` (the
total), as Keras 3 logs them. Metrics are per output too: a list of ``k`` entries (each
``None``, one metric or a list of metrics) or a dict by output name; each is logged as
``<output name>_<metric name>`` (``out_a_accuracy``). A single-output model keeps the
plain names (``loss``, ``accuracy``).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor


def _per_output(value, names: list, what: str, default=None) -> list:
    """``value`` given as a list (in output order) or a dict (by output name) as a list in output order."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: {what} has the key {unknown[0]!r}, which is not an output of the model; "
                             f"the outputs are {names}")
        return [value.get(name, default) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"compile: the model has {len(names)} outputs {names}, so a list of {what} needs "
                             f"{len(names)} entries (one per output, in order), got {len(value)}")
        return list(value)
    raise TypeError(f"compile: {what} must be a list or a dict for a model with several outputs, "
                    f"got {type(value).__name__}")


class CompileLoss:
    """``L = sum_i w_i L_i(y_i, yhat_i)`` over the outputs, logging each unweighted ``L_i`` as ``<name>_loss``."""

    name = "compile_loss"

    def __init__(self, losses: list, weights: list, output_names: list):
        self.losses = list(losses)
        self.weights = list(weights)
        self.output_names = list(output_names)
        # Keras logs the individual losses only when there are several.
        self.tracked = sum(loss is not None for loss in self.losses) > 1
        self.reset()

    def reset(self) -> None:
        self._sums = [0.0] * len(self.losses)
        self._counts = [0] * len(self.losses)

    def outputs_as_list(self, y_pred) -> list:
        if isinstance(y_pred, dict):
            return [y_pred[name] for name in self.output_names]
        return list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        preds = self.outputs_as_list(y_pred)
        targets = list(y_true) if isinstance(y_true, (list, tuple)) else [y_true]
        if len(targets) != len(preds):
            raise ValueError(f"the model has {len(preds)} outputs {self.output_names} but got {len(targets)} "
                             "target arrays")
        total = None
        for i, (loss_fn, weight, y, p) in enumerate(zip(self.losses, self.weights, targets, preds)):
            if loss_fn is None:
                continue
            value = loss_fn(y if isinstance(y, Tensor) else Tensor._wrap(np.asarray(y)), p, sample_weight=sample_weight)
            if not isinstance(value, Tensor):
                value = Tensor._wrap(np.asarray(value, dtype=backend.floatx_dtype()))
            if value.ndim:
                value = value.mean()
            n = int(p.shape[0]) if p.ndim else 1
            self._sums[i] += float(value.data) * n
            self._counts[i] += n
            if weight is not None:
                value = value * float(weight)
            total = value if total is None else total + value
        if total is None:
            raise ValueError("compile: every output's loss is None; give at least one loss")
        return total

    def results(self) -> dict:
        """``{"<output>_loss": running mean}`` of the unweighted losses (empty unless there are several)."""
        if not self.tracked:
            return {}
        return {f"{name}_loss": (s / c if c else float("nan"))
                for name, loss, s, c in zip(self.output_names, self.losses, self._sums, self._counts)
                if loss is not None}


def configure(model, loss, loss_weights, metrics, weighted_metrics):
    """The compiled loss and per-output metric entries of a model with named outputs.

    Returns ``(loss object, metric ids, metric output indices, weighted flags)``; ``None`` as the
    loss object means "not a multi-output compile" (the caller keeps its single-output path).
    """
    from .. import losses as losses_mod

    names = list(model.__dict__.get("output_names") or [])
    if len(names) <= 1:
        return None
    if isinstance(loss, (list, tuple, dict)):
        per_loss = [losses_mod.get(entry) for entry in _per_output(loss, names, "losses")]
    else:
        one = losses_mod.get(loss)
        per_loss = [one] * len(names)
    if loss_weights is None:
        weights = [None] * len(names)
    elif isinstance(loss_weights, (int, float)):
        weights = [float(loss_weights)] * len(names)
    else:
        weights = [None if w is None else float(w) for w in _per_output(loss_weights, names, "loss_weights", 1.0)]
    compiled = CompileLoss(per_loss, weights, names) if loss is not None else None
    ids, outs, flags = [], [], []
    for group, weighted in ((metrics, False), (weighted_metrics, True)):
        if group is None:
            continue
        for i, entry in enumerate(_per_output(group, names, "weighted_metrics" if weighted else "metrics")):
            if entry is None:
                continue
            for m in (entry if isinstance(entry, (list, tuple)) else [entry]):
                ids.append(m)
                outs.append(i)
                flags.append(weighted)
    return compiled, ids, outs, flags


def single_output(model, loss, loss_weights, metrics, weighted_metrics):
    """Unwrap a one-entry list/dict of losses or metrics of a one-output model to the plain forms."""
    names = list(model.__dict__.get("output_names") or [])

    def unwrap(value, what):
        if isinstance(value, dict):
            if names and set(value) - set(names):
                raise ValueError(f"compile: {what} has the key {sorted(set(value) - set(names))[0]!r}, which is "
                                 f"not an output of the model; the outputs are {names}")
            values = list(value.values())
            return values[0] if len(values) == 1 else value
        return value

    loss = unwrap(loss, "loss")
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        loss = loss[0]
    metrics = unwrap(metrics, "metrics")
    weighted_metrics = unwrap(weighted_metrics, "weighted_metrics")
    if isinstance(metrics, (list, tuple)) and len(metrics) == 1 and isinstance(metrics[0], (list, tuple)):
        metrics = metrics[0]
    weight = unwrap(loss_weights, "loss_weights")
    if isinstance(weight, (list, tuple)):
        weight = weight[0] if len(weight) == 1 else weight
    return loss, weight, metrics, weighted_metrics


def ordered_results(model, logs: dict) -> list:
    """``evaluate``'s list: Keras 3's order, ``loss``, the per-output losses, then the other entries sorted by name."""
    loss_fn = getattr(model, "compiled_loss", None)
    if not isinstance(loss_fn, CompileLoss) or not loss_fn.tracked:
        return list(logs.values())
    first = ["loss"] + list(loss_fn.results())
    return [logs[k] for k in first if k in logs] + [logs[k] for k in sorted(logs) if k not in first]
