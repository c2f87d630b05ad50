"""Callbacks: code that ``fit``/``evaluate``/``predict`` run at fixed points (Keras's ``keras.callbacks``).

A ``Callback`` overrides any of ``on_train_begin/end``, ``on_epoch_begin/end(epoch, logs)``,
``on_train_batch_begin/end(batch, logs)``, ``on_test_*`` and ``on_predict_*``. It sees
``self.model`` and ``self.params`` (``verbose``, ``epochs``, ``steps``) and may stop
training with ``self.model.stop_training = True``. ``logs`` holds the running ``loss``
and metrics (at batch end) or the epoch's values, with ``val_`` ones (at epoch end).

``fit`` always adds a ``History`` (returned by fit) and, when verbose, a ``ProgbarLogger``.
"""
from __future__ import annotations

import csv
import inspect
import math
import os
import warnings

import numpy as np

from .models.progbar import Progbar


class Callback:
    """Base class: every hook does nothing."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


def _hook(name):
    # Every callback gets the same logs dict (as in Keras), so one may add entries others see.
    if "batch" in name or "epoch" in name:
        def call(self, index, logs=None):
            logs = {} if logs is None else logs
            for cb in self.callbacks:
                getattr(cb, name)(index, logs)
    else:
        def call(self, logs=None):
            logs = {} if logs is None else logs
            for cb in self.callbacks:
                getattr(cb, name)(logs)
    call.__name__ = name
    return call


class CallbackList(Callback):
    """Calls each of ``callbacks`` in order; adds a ``ProgbarLogger`` (first) and a ``History`` (last)."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks: expected Callback instances, got {type(cb).__name__} {cb!r}")
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        if add_history and not any(isinstance(c, History) for c in self.callbacks):
            self.callbacks.append(History())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)

    def set_model(self, model):
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    on_train_begin = _hook("on_train_begin")
    on_train_end = _hook("on_train_end")
    on_epoch_begin = _hook("on_epoch_begin")
    on_epoch_end = _hook("on_epoch_end")
    on_train_batch_begin = _hook("on_train_batch_begin")
    on_train_batch_end = _hook("on_train_batch_end")
    on_test_begin = _hook("on_test_begin")
    on_test_end = _hook("on_test_end")
    on_test_batch_begin = _hook("on_test_batch_begin")
    on_test_batch_end = _hook("on_test_batch_end")
    on_predict_begin = _hook("on_predict_begin")
    on_predict_end = _hook("on_predict_end")
    on_predict_batch_begin = _hook("on_predict_batch_begin")
    on_predict_batch_end = _hook("on_predict_batch_end")

    def __iter__(self):
        return iter(self.callbacks)


class History(Callback):
    """Records each epoch's logs: ``history.history = {"loss": [...], "val_loss": [...], ...}``, ``history.epoch``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self

    def on_train_end(self, logs=None):
        self.model.history = self


# ------------------------------------------------------------------------------------------ progress
class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a progress bar per epoch (and for evaluate/predict outside fit)."""

    def __init__(self):
        super().__init__()
        self._bar = None
        self._in_fit = False
        self._seen = 0

    @property
    def _verbose(self):
        return self.params.get("verbose", 1)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._verbose:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", flush=True)
            self._bar = Progbar(self.params.get("steps"), verbose=self._verbose)
            self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._seen = batch + 1
            self._bar.update(self._seen, logs, finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.update(self._seen, logs, finalize=True)
            self._bar = None

    def _begin(self):
        if not self._in_fit and self._verbose:
            self._bar = Progbar(self.params.get("steps"), verbose=self._verbose)
            self._seen = 0

    def _batch(self, batch, logs):
        if not self._in_fit and self._bar is not None:
            self._seen = batch + 1
            self._bar.update(self._seen, logs, finalize=False)

    def _end(self, logs):
        if not self._in_fit and self._bar is not None:
            self._bar.update(self._seen, logs, finalize=True)
            self._bar = None

    def on_test_begin(self, logs=None):
        self._begin()

    def on_test_batch_end(self, batch, logs=None):
        self._batch(batch, logs)

    def on_test_end(self, logs=None):
        self._end(logs)

    def on_predict_begin(self, logs=None):
        self._begin()

    def on_predict_batch_end(self, batch, logs=None):
        self._batch(batch, None)

    def on_predict_end(self, logs=None):
        self._end(None)


# ------------------------------------------------------------------------------------------ monitoring
def _monitor_op(monitor: str, mode: str, who: str):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor[4:] if monitor.startswith("val_") else monitor
        higher = any(k in name for k in ("acc", "auc", "precision", "recall", "f1")) and "loss" not in name
        mode = "max" if higher else "min"
    return mode


def _better(mode, current, reference, min_delta=0.0) -> bool:
    if reference is None:
        return True
    return current - min_delta > reference if mode == "max" else current + min_delta < reference


def _current(logs, monitor, who):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who} is conditioned on metric {monitor!r}, which is not available; available metrics "
                      f"are: {', '.join(logs or {}) or 'none'}", stacklevel=3)
    return value


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode``: 'min', 'max', or 'auto' (max for accuracy-like names). ``restore_best_weights``:
    at the end, set the weights of the best epoch. ``start_from_epoch``: epochs to wait before
    watching. ``baseline``, as Keras 3: an epoch that improves on the best so far never stops
    training, but it restarts the patience count only if it also beats the baseline; so a
    monitored value that keeps improving without reaching the baseline trains on, and one that
    stalls short of it stops at its first epoch without improvement once ``patience`` epochs
    have been watched (its improvements do not restart the count).
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = _monitor_op(monitor, mode, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf  # as Keras (a NaN never improves on it)
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = _current(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if _better(self.mode, current, self.best, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or _better(self.mode, current, self.baseline, self.min_delta):
                self.wait = 0
            return  # an improvement never stops training (Keras 3), even short of the baseline
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or its weights) at the end of each epoch, or every ``save_freq`` batches.

    ``filepath`` may hold ``str.format`` fields filled from the epoch (1-based) and the logs,
    e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.cr"``. With ``save_best_only``, a file is written
    only when ``monitor`` improves (by ``mode``). Each write is atomic.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _monitor_op(monitor, mode, "ModelCheckpoint")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive integer, got {save_freq!r}")
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self._batches = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch, logs, batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _path(self, epoch, logs, batch=None):
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint: cannot format filepath {self.filepath!r} with the epoch and the "
                             f"logs {sorted(fields)}: {type(exc).__name__}: {exc}") from None

    def _save(self, epoch, logs, batch=None):
        path = self._path(epoch, logs, batch)
        if self.save_best_only:
            current = _current(logs, self.monitor, "ModelCheckpoint")
            if current is None:
                return
            if not _better(self.mode, current, self.best):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                prev = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {prev} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LearningRateScheduler(Callback):
    """At the start of each epoch set ``optimizer.learning_rate = schedule(epoch, lr)`` (epoch from 0).

    ``schedule(epoch)`` with one argument also works. The rate is logged as ``learning_rate``.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        try:
            params = [p for p in inspect.signature(schedule).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
            self._two_args = len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)
        except (TypeError, ValueError):
            self._two_args = True

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError("LearningRateScheduler: the model has no optimizer with a learning_rate; compile it")
        lr = float(optimizer.learning_rate)
        lr = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        if isinstance(lr, (np.ndarray, np.generic)) and np.size(lr) == 1:
            lr = lr.item()
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: the schedule must return a finite float, got {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), patience, verbose
        self.mode = _monitor_op(monitor, mode, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = min_delta, cooldown, min_lr
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = _current(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _better(self.mode, current, self.best, self.min_delta):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row (``epoch`` first, then the log keys sorted)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.writer = None
        self.keys = None
        self._file = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._write_header = not has_rows
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            self.writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                         lineterminator="\n", extrasaction="ignore")
            if self._write_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        for key in self.keys:
            value = logs.get(key, "NA")
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value.item()
            if isinstance(value, (list, tuple, np.ndarray)):
                value = "[" + ", ".join(map(str, value)) + "]"
            row[key] = value
        self.writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = None
        self.writer = None


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite, or whose gradients are.

    The training step never applies the update of a non-finite loss, so the weights
    stay those of the last good step. With this callback present, ``fit`` also puts
    back the state a bad step's forward pass changed (BatchNormalization's moving
    statistics) and skips an update whose gradients are not finite although the loss
    is (then this callback stops training too): nothing non-finite is written to the
    weights.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
            return
        what = getattr(self.model, "_nonfinite_step", None)
        if what is not None:
            print(f"Batch {batch}: Invalid {what} (NaN or inf), terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            if fn is not None:
                setattr(self, name, fn)


__all__ = [
    "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LambdaCallback", "LearningRateScheduler",
    "ModelCheckpoint", "Progbar", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN",
]
