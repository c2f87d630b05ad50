"""The training loop behind ``Model.fit``, ``evaluate`` and ``predict``.

One training step, as in Keras::

    y_pred = model(x, training=True)
    loss   = loss_fn(y, y_pred, sample_weight) + sum(model.losses)    # penalties included
    grads  = dL/dw for w in model.trainable_weights                   # cr.grad
    optimizer.apply(grads, model.trainable_weights)

A step whose loss is not finite (NaN or inf) applies no update, so the weights
stay those of the last good step; its loss is still logged, which is what
``TerminateOnNaN`` watches. With ``TerminateOnNaN`` among the callbacks, ``fit``
also guards what the forward pass writes in place: it copies the state weights
(those made with ``trainable=False``, e.g. BatchNormalization's moving mean and
variance) before each step and puts them back when the step's loss, new state
or gradients are not finite (a finite loss can still have NaN gradients, e.g.
sqrt at 0); such a step applies no update and the callback stops training. So
nothing non-finite reaches the weights. The guard costs a copy of the state and
a finiteness check of the gradients per step, and only when the callback is there. The logged ``loss`` and metrics are running means
over the epoch so far, weighted by batch size.

The data (arrays, Tensors, a DataLoader or any iterable of batches) is turned
into batches by ``data_adapter``.

Data-parallel runs (``chainrule.distributed``): when the model was compiled with a
``DistributedOptimizer`` on several processes, the optimizer hands the loops a plan
(``_data_parallel``) that they consult at a few points: it shards the batches, averages
the logs over the ranks, and keeps progress and file-writing callbacks on rank 0. On one
process the plan is None and nothing changes.

A model that overrides ``train_step``/``test_step`` (a GAN, a VAE) runs its own step
instead, and its returned metrics drive the logs (``custom_step``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend, threads
from ..autograd.engine import grad
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from .compile_utils import ordered_results
from . import custom_step
from .data_adapter import make_batches, split_validation, unpack_validation

_ONE_BATCH = 1 << 62  # a batch size that makes all the samples one batch

# ------------------------------------------------------------------------------------------ steps
def _wrap(x):
    return [Tensor._wrap(v) for v in x] if isinstance(x, list) else Tensor._wrap(x)


def _batch_len(x) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def _total_loss(model, loss_fn, y, y_pred, sw):
    # y: one target array, or a list of them for a model with several outputs (compile_utils.CompileLoss)
    loss = loss_fn(y if isinstance(y, list) else Tensor._wrap(y), y_pred, sample_weight=sw)
    if not isinstance(loss, Tensor):
        loss = Tensor._wrap(np.asarray(loss, dtype=backend.floatx_dtype()))
    if loss.ndim:
        loss = loss.mean()
    for penalty in model.losses:
        loss = loss + penalty
    return loss


def _all_finite(a) -> bool:
    # A finite sum means every element is finite (inf and NaN propagate); only an overflowing
    # sum needs the elementwise check.
    return math.isfinite(a.sum()) or bool(np.isfinite(a).all())


def _data_parallel(model):
    """The data-parallel plan of a model compiled with chainrule.distributed's DistributedOptimizer
    on several processes, else None (this module never imports chainrule.distributed)."""
    return getattr(getattr(model, "optimizer", None), "data_parallel", None)


def _state_weights(model) -> list:
    """The weights made with ``trainable=False`` (state the forward pass may update in place)."""
    out, seen = [], set()
    for layer in model._flatten_layers():
        for w in layer._own_weights:
            if layer._trainable_flags.get(id(w), True) is False and id(w) not in seen:
                seen.add(id(w))
                out.append(w)
    return out


class Stepper:
    """The compiled pieces of a model, and the running means of one epoch (or one evaluation)."""

    def __init__(self, model, where: str):
        # A model with its own train_step/test_step (custom_step) runs those instead of the steps below.
        self.custom_train = custom_step.overrides(model, "train_step")
        self.custom_test = custom_step.overrides(model, "test_step")
        if getattr(model, "compiled_loss", None) is None and not (
                getattr(model, "_is_compiled", False) and (self.custom_train or self.custom_test)):
            if not getattr(model, "_is_compiled", False):
                raise RuntimeError(f"{where}: the model must be compiled first; call "
                                   "model.compile(optimizer=..., loss=...) before fit/evaluate")
            raise RuntimeError(f"{where}: the model was compiled without a loss; pass loss= to model.compile")
        self.model = model
        self.loss_fn = model.compiled_loss
        self.optimizer = model.optimizer
        self._weights = None
        self.guard = False  # set by fit when TerminateOnNaN is among the callbacks
        self._state = None  # guard: the state weights and a buffer for each
        self.reset()

    def reset(self):
        self.loss_total = 0.0
        self.loss_count = 0
        self.model.reset_metrics()

    def _update_metrics(self, y, y_pred, sw):
        model = self.model
        metrics = model._metrics_for(y, y_pred)
        with no_grad():
            for m, weighted, index in zip(metrics, model._weighted_flags, model._metric_outputs):
                yt, yp = (y, y_pred) if index is None else model._output_slice(y, y_pred, index)[:2]
                if weighted and sw is not None:
                    m.update_state(yt, yp, sample_weight=sw)
                else:
                    m.update_state(yt, yp)

    def logs(self) -> dict:
        out = {"loss": self.loss_total / self.loss_count if self.loss_count else float("nan")}
        for name, m in self.model._named_metrics():
            out[name] = float(m.result())
        if hasattr(self.loss_fn, "results"):  # several outputs: each one's loss, as <output>_loss
            out.update(self.loss_fn.results())
        return out

    def train_step(self, x, y, sw):
        if self.custom_train:
            return custom_step.run(self, "train_step", x, y, sw)
        return self.standard_train_step(x, y, sw)

    def _need_loss(self, where):
        if self.loss_fn is None:
            raise RuntimeError(f"{where}: the model was compiled without a loss; pass loss= to model.compile "
                               "(or override train_step/test_step)")

    def standard_train_step(self, x, y, sw):
        """Keras's default step: forward, compiled loss, gradients, one optimizer update."""
        model = self.model
        self._need_loss("fit")
        if y is None:
            raise ValueError("fit: the batches carry no targets; give y, or batches of (x, y)")
        xb = _wrap(x)
        state = self._save_state(xb) if self.guard else None
        y_pred = model(xb, training=True)
        total = _total_loss(model, self.loss_fn, y, y_pred, sw)
        value = float(total.data)
        if self._weights is None:  # layers are built by the first forward pass
            self._weights = model.trainable_weights
        bad = None
        if not math.isfinite(value):
            bad = "loss"
        elif state is not None and not all(_all_finite(w.data) for w in state[0]):
            bad = "state"
        elif self._weights and total.requires_grad:
            grads = grad(total, self._weights)
            if state is not None and not all(_all_finite(g.data) for g in grads):
                bad = "gradients"
            else:
                self.optimizer.apply(grads, self._weights)
        if bad is not None and hasattr(self.optimizer, "skip_step") and self._weights:
            self.optimizer.skip_step(self._weights)  # data-parallel: every rank skips this step together
        if state is not None:
            if bad is not None:
                for w, buf in zip(*state):
                    w.data[...] = buf
            model._nonfinite_step = bad
        n = _batch_len(x)
        self.loss_total += value * n
        self.loss_count += n
        self._update_metrics(y, y_pred, sw)
        return self.logs()

    def _save_state(self, xb):
        """The guard's copy of the state weights before a step: ``(weights, saved arrays)``."""
        if self._state is None:
            if not self.model.built:  # make the weights before the first copy (inference: changes nothing)
                with no_grad():
                    self.model(xb, training=False)
            state = _state_weights(self.model)
            self._state = (state, [w.data.copy() for w in state])
        for w, buf in zip(*self._state):
            np.copyto(buf, w.data)
        return self._state

    def test_step(self, x, y, sw):
        if self.custom_test:
            return custom_step.run(self, "test_step", x, y, sw)
        return self.standard_test_step(x, y, sw)

    def standard_test_step(self, x, y, sw):
        self._need_loss("evaluate")
        if y is None:
            raise ValueError("evaluate: the batches carry no targets; give y, or batches of (x, y)")
        with no_grad():
            y_pred = self.model(_wrap(x), training=False)
            value = float(_total_loss(self.model, self.loss_fn, y, y_pred, sw).data)
        n = _batch_len(x)
        self.loss_total += value * n
        self.loss_count += n
        self._update_metrics(y, y_pred, sw)
        return self.logs()


def _verbosity(verbose, where) -> int:
    """0 silent, 1 progress bar, 2 one line per epoch; ``"auto"``: the live bar (1) when stdout is a
    terminal or a notebook, else one line per epoch (2), so logs get no half-drawn bars."""
    if verbose == "auto" or verbose is None:
        from .progbar import is_interactive

        return 1 if is_interactive() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"{where}: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _should_validate(epoch: int, freq) -> bool:
    if isinstance(freq, int):
        if freq < 1:
            raise ValueError(f"fit: validation_freq must be a positive integer, got {freq}")
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq


# ------------------------------------------------------------------------------------------ loops
@threads.loop()  # a hold of the BLAS at one thread lasts the whole loop (chainrule.threads)
def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
    from .. import callbacks as cbks

    stepper = Stepper(model, "fit")
    verbose = _verbosity(verbose, "fit")
    dist = _data_parallel(model)
    if dist is not None:
        verbose, callbacks = dist.fit_options(verbose, callbacks)
    batch_size = 32 if batch_size is None else batch_size
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if validation_split and validation_data is None:
        (x, y, sample_weight), validation_data = split_validation(x, y, sample_weight, validation_split, model=model)
    train = make_batches(model, x, y, sample_weight, batch_size, shuffle, steps_per_epoch, class_weight, "fit",
                         need_y=not stepper.custom_train)
    val = None
    if validation_data is not None:
        vx, vy, vsw = unpack_validation(validation_data)
        val = make_batches(model, vx, vy, vsw, validation_batch_size or batch_size, False, validation_steps,
                           where="fit (validation_data)", need_y=not stepper.custom_test)
    if dist is not None:
        train = dist.shard_train(train, model, steps_per_epoch)
        val = None if val is None else dist.shard_eval(val)
    cb = cbks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                           verbose=verbose, epochs=int(epochs), steps=train.steps)
    stepper.guard = any(isinstance(c, cbks.TerminateOnNaN) for c in cb.callbacks)
    model._nonfinite_step = None
    model.stop_training = False
    cb.on_train_begin()
    epoch_logs: dict = {}
    for epoch in range(int(initial_epoch), int(epochs)):
        stepper.reset()
        cb.on_epoch_begin(epoch)
        logs, ran = {}, 0
        for step, (xb, yb, swb) in enumerate(train.epoch()):
            cb.on_train_batch_begin(step)
            logs = stepper.train_step(xb, yb, swb)
            if dist is not None:
                logs = dist.average_logs(logs, train)
            ran += 1
            cb.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if ran == 0:
            warnings.warn("fit: the input ran out of data; interrupting training. Make sure the data can give "
                          "steps_per_epoch * epochs batches (a generator is consumed by the first epoch).",
                          stacklevel=3)
            break
        epoch_logs = dict(logs)
        if val is not None and _should_validate(epoch, validation_freq):
            val_logs = _evaluate_batches(model, val, cb, Stepper(model, "fit"))
            epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
        cb.on_epoch_end(epoch, epoch_logs)
        if dist is not None:
            model.stop_training = dist.agree_to_stop(model.stop_training)
        if model.stop_training:
            break
    cb.on_train_end(epoch_logs)
    return model.history


def _evaluate_batches(model, data, cb, stepper) -> dict:
    stepper.reset()
    cb.on_test_begin()
    logs = {}
    for step, (xb, yb, swb) in enumerate(data.epoch()):
        cb.on_test_batch_begin(step)
        logs = stepper.test_step(xb, yb, swb)
        cb.on_test_batch_end(step, logs)
    dist = _data_parallel(model)
    if dist is not None:
        logs = dist.average_eval_logs(logs, data)
    if not logs:
        raise ValueError("evaluate: the data gave no batches")
    cb.on_test_end(logs)
    return logs


@threads.loop()
def evaluate(model, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
             callbacks=None, return_dict=False):
    from .. import callbacks as cbks

    stepper = Stepper(model, "evaluate")
    verbose = _verbosity(verbose, "evaluate")
    data = make_batches(model, x, y, sample_weight, 32 if batch_size is None else batch_size, False, steps,
                        where="evaluate", need_y=not stepper.custom_test)
    dist = _data_parallel(model)
    if dist is not None:
        verbose, callbacks = dist.fit_options(verbose, callbacks)
        data = dist.shard_eval(data)
    cb = cbks.CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
                           steps=data.steps)
    logs = _evaluate_batches(model, data, cb, stepper)
    if return_dict:
        return dict(logs)
    values = ordered_results(model, logs)
    return values[0] if len(values) == 1 else values


@threads.loop()
def predict(model, x, batch_size=None, verbose=0, steps=None, callbacks=None):
    from .. import callbacks as cbks

    verbose = _verbosity(verbose, "predict")
    data = make_batches(model, x, None, None, 32 if batch_size is None else batch_size, False, steps,
                        where="predict", need_y=False)
    dist = _data_parallel(model)
    if dist is not None:
        verbose, callbacks = dist.fit_options(verbose, callbacks)
        data = dist.shard_eval(data)
    cb = cbks.CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
                           steps=data.steps)
    cb.on_predict_begin()
    outputs = []
    with no_grad():
        for step, (xb, _, _) in enumerate(data.epoch()):
            cb.on_predict_batch_begin(step)
            out = model(_wrap(xb), training=False)
            if isinstance(out, dict):
                outputs.append({k: o.data for k, o in out.items()})
            elif isinstance(out, (list, tuple)):
                outputs.append([o.data for o in out])
            else:
                outputs.append(out.data)
            cb.on_predict_batch_end(step, {"outputs": outputs[-1]})
    cb.on_predict_end()
    if not outputs:
        raise ValueError("predict: the data gave no batches")
    if isinstance(outputs[0], dict):
        return {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
    if isinstance(outputs[0], list):
        result = [np.concatenate([o[i] for o in outputs]) for i in range(len(outputs[0]))]
    else:
        result = outputs[0] if len(outputs) == 1 else np.concatenate(outputs)
    return result if dist is None else dist.gather(result, data)


@threads.loop()
def train_on_batch(model, x, y, sample_weight=None, class_weight=None, return_dict=False):
    stepper = Stepper(model, "train_on_batch")
    data = make_batches(model, x, y, sample_weight, _ONE_BATCH, False, None, class_weight, "train_on_batch",
                        need_y=not stepper.custom_train)
    for xb, yb, swb in data.epoch():
        logs = stepper.train_step(xb, yb, swb)
    return _result(logs, return_dict, model)


@threads.loop()
def test_on_batch(model, x, y, sample_weight=None, return_dict=False):
    stepper = Stepper(model, "test_on_batch")
    data = make_batches(model, x, y, sample_weight, _ONE_BATCH, False, None, where="test_on_batch",
                        need_y=not stepper.custom_test)
    for xb, yb, swb in data.epoch():
        logs = stepper.test_step(xb, yb, swb)
    return _result(logs, return_dict, model)


def _result(logs, return_dict, model=None):
    if return_dict:
        return dict(logs)
    values = ordered_results(model, logs) if model is not None else list(logs.values())
    return values[0] if len(values) == 1 else values

