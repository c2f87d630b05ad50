"""Metrics, as ``keras.metrics``: stateful accumulators on NumPy arrays (no graph).

``metric.update_state(y_true, y_pred, sample_weight=None)`` adds a batch,
``metric.result()`` gives the running value as a float, ``reset_state()``
starts over. Tensors are accepted anywhere an array is (their ``.data`` is read).
The functional forms (``accuracy``, ``sparse_categorical_accuracy``, ...) return
one value per sample, as Keras's.

``get(identifier, loss=None, output_shape=None, y_true_shape=None)`` resolves
what ``model.compile(metrics=[...])`` receives; 'accuracy'/'acc' picks the
accuracy that fits the loss and the shapes, as Keras does.
"""
from __future__ import annotations

import inspect

import numpy as np

from . import custom_objects as _custom
from .autograd.grad_mode import no_grad
from .autograd.tensor import Tensor
from .naming import snake_case
from .ops import loss as _loss_ops


def _array(x):
    if isinstance(x, Tensor):
        return x.data
    if hasattr(x, "data") and isinstance(getattr(x, "data"), np.ndarray):
        return x.data
    return np.asarray(x)


def _same_rank(a, b):
    """Keras's squeeze_or_expand_to_same_rank on arrays."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        a = a[..., 0] if b.ndim != 1 else a
        b = b[..., None] if b.ndim == 1 else b
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        b = b[..., 0] if a.ndim != 1 else b
        a = a[..., None] if a.ndim == 1 else a
    return a, b


# ------------------------------------------------------------------------------ per-sample forms
def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred exactly, else 0.0 (elementwise)."""
    t, p = _same_rank(_array(y_true), _array(y_pred))
    return (t == p).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """mean over the last axis of [y_true == (y_pred > threshold)]."""
    t, p = _same_rank(_array(y_true), _array(y_pred))
    return np.mean(t == (p > threshold).astype(t.dtype), axis=-1)


def _squeeze_labels(t, p):
    if t.ndim == p.ndim and t.ndim > 0 and t.shape[-1] == 1:
        t = t[..., 0]
    return t


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals argmax(y_pred) over the last axis."""
    p = _array(y_pred)
    t = _squeeze_labels(_array(y_true), p)
    return (t == np.argmax(p, axis=-1)).astype(np.float64)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) equals argmax(y_pred) over the last axis."""
    return sparse_categorical_accuracy(np.argmax(_array(y_true), axis=-1), y_pred)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """1.0 where the label's score is among the k largest (ties at the boundary count as in, like in_top_k)."""
    p = _array(y_pred)
    t = _squeeze_labels(_array(y_true), p).astype(np.int64)
    score = np.take_along_axis(p, t[..., None], axis=-1)
    return ((p > score).sum(axis=-1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """``sparse_top_k_categorical_accuracy`` with one-hot y_true."""
    return sparse_top_k_categorical_accuracy(np.argmax(_array(y_true), axis=-1), y_pred, k)


def mean_squared_error(y_true, y_pred):
    """mean over the last axis of (y_pred - y_true)^2."""
    t, p = _same_rank(_array(y_true), _array(y_pred))
    d = p.astype(np.float64) - t
    return np.mean(d * d, axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean over the last axis of |y_pred - y_true|."""
    t, p = _same_rank(_array(y_true), _array(y_pred))
    return np.mean(np.abs(p.astype(np.float64) - t), axis=-1)


def _loss_metric_fn(loss_fn):
    def fn(y_true, y_pred, **kwargs):
        with no_grad():
            if not (isinstance(y_pred, Tensor) and y_pred.data.dtype.kind == "f"):
                # (a float Tensor is passed on as it is: a softmax/sigmoid output keeps its logits record)
                p = _array(y_pred)
                y_pred = Tensor._wrap(p if p.dtype.kind == "f" else p.astype(np.float64))
            return loss_fn(_array(y_true), y_pred, **kwargs).data

    fn.__name__ = loss_fn.__name__
    fn.__doc__ = f"The per-sample {loss_fn.__name__} loss as an array (no graph)."
    return fn


binary_crossentropy = _loss_metric_fn(_loss_ops.binary_crossentropy)
categorical_crossentropy = _loss_metric_fn(_loss_ops.categorical_crossentropy)
sparse_categorical_crossentropy = _loss_metric_fn(_loss_ops.sparse_categorical_crossentropy)
kl_divergence = _loss_metric_fn(_loss_ops.kl_divergence)


# ------------------------------------------------------------------------------------- classes
class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``; ``metric(y_true, y_pred)`` updates
    and returns the result."""

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype
        self.reset_state()

    def update_state(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, *args, **kwargs) -> float:
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.6g}>"


def _weights_for(sample_weight, shape, name):
    """sample_weight broadcast to ``shape``: a trailing length-1 axis is squeezed, and weights with
    fewer axes align with the leading ones (per-sample weights for per-timestep values)."""
    w = np.asarray(_array(sample_weight), dtype=np.float64)
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    if w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{name}: sample_weight of shape {w.shape} does not fit values of shape {shape}") from None


class Mean(Metric):
    """The (weighted) mean of all values seen: sum(v w) / sum(w)."""

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        v = np.asarray(_array(values), dtype=np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
            return
        w = _weights_for(sample_weight, v.shape, self.name)
        self.total += float((v * w).sum())
        self.count += float(w.sum())

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class Sum(Metric):
    """The (weighted) sum of all values seen."""

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        v = np.asarray(_array(values), dtype=np.float64)
        if sample_weight is not None:
            v = v * _weights_for(sample_weight, v.shape, self.name)
        self.total += float(v.sum())

    def result(self) -> float:
        return self.total


class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0/1 label."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals argmax of the one-hot y_true."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the k highest scores."""

    def __init__(self, k: int = 5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the k highest scores."""

    def __init__(self, k: int = 5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class MeanSquaredError(MeanMetricWrapper):
    """The running mean of the per-sample mean squared error."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The running mean of the per-sample mean absolute error."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    """The running mean of the binary cross-entropy loss."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of the categorical cross-entropy loss."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of the sparse categorical cross-entropy loss."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits)


class KLDivergence(MeanMetricWrapper):
    """The running mean of the KL divergence."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


class _Confusion(Metric):
    """Shared by Precision and Recall: weighted counts of true/false positives and false negatives
    of the decisions y_pred > thresholds."""

    def __init__(self, thresholds: float = 0.5, name=None, dtype=None):
        self.thresholds = float(thresholds)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.tp = self.fp = self.fn = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _same_rank(_array(y_true), _array(y_pred))
        t = t.astype(bool)
        pos = p > self.thresholds
        w = np.ones(t.shape) if sample_weight is None else _weights_for(sample_weight, t.shape, self.name)
        self.tp += float(w[t & pos].sum())
        self.fp += float(w[~t & pos].sum())
        self.fn += float(w[t & ~pos].sum())

    def get_config(self):
        return {**super().get_config(), "thresholds": self.thresholds}


class Precision(_Confusion):
    """tp / (tp + fp) (0 when nothing was predicted positive)."""

    def __init__(self, thresholds: float = 0.5, name="precision", dtype=None):
        super().__init__(thresholds, name, dtype)

    def result(self) -> float:
        d = self.tp + self.fp
        return self.tp / d if d else 0.0


class Recall(_Confusion):
    """tp / (tp + fn) (0 when there were no positives)."""

    def __init__(self, thresholds: float = 0.5, name="recall", dtype=None):
        super().__init__(thresholds, name, dtype)

    def result(self) -> float:
        d = self.tp + self.fn
        return self.tp / d if d else 0.0


class AUC(Metric):
    """Area under the ROC curve, as Keras's ``AUC(num_thresholds=200)`` (curve='ROC',
    summation_method='interpolation'): weighted confusion counts at evenly spaced thresholds
    in [0, 1], then the trapezoidal rule over (false positive rate, true positive rate)."""

    def __init__(self, num_thresholds: int = 200, name="auc", dtype=None):
        if num_thresholds <= 1:
            raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
        self.num_thresholds = int(num_thresholds)
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        n = self.num_thresholds
        self.tp, self.fp, self.tn, self.fn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _same_rank(_array(y_true), _array(y_pred))
        w = np.ones(t.shape) if sample_weight is None else _weights_for(sample_weight, t.shape, self.name)
        t, p, w = t.astype(bool).reshape(-1), p.astype(np.float64).reshape(-1), w.reshape(-1)
        above = p[None, :] > self._thresholds[:, None]
        self.tp += (above & t) @ w
        self.fp += (above & ~t) @ w
        self.fn += (~above & t) @ w
        self.tn += (~above & ~t) @ w

    def result(self) -> float:
        tpr = np.divide(self.tp, self.tp + self.fn, out=np.zeros_like(self.tp), where=(self.tp + self.fn) > 0)
        fpr = np.divide(self.fp, self.fp + self.tn, out=np.zeros_like(self.fp), where=(self.fp + self.tn) > 0)
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds}


# ---------------------------------------------------------------------------------- lookup
_CLASSES = {c.__name__: c for c in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, KLDivergence, Precision, Recall, AUC, Mean, Sum)}
_NAMES = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence,
    "precision": Precision, "recall": Recall, "auc": AUC,
    **_CLASSES,
}
_ACCURACY_NAMES = ("accuracy", "acc")


def known_names() -> list:
    return sorted(set(_NAMES) | set(_ACCURACY_NAMES))


def _loss_name(loss) -> str | None:
    """The canonical name of a loss given as a string, a Loss or a loss function (None if unknown)."""
    if loss is None:
        return None
    if isinstance(loss, str):
        from . import losses

        try:
            loss = losses.get(loss)
        except ValueError:
            return None
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    fn = getattr(loss, "fn", None)
    if fn is not None:
        name = getattr(fn, "__name__", name)
    return name


def _accuracy_for(loss, output_shape, y_true_shape):
    lname = _loss_name(loss)
    if lname == "sparse_categorical_crossentropy":
        return SparseCategoricalAccuracy
    if lname == "binary_crossentropy":
        return BinaryAccuracy
    if lname == "categorical_crossentropy":
        return CategoricalAccuracy
    if output_shape is not None and len(output_shape) and output_shape[-1] == 1:
        return BinaryAccuracy
    if y_true_shape is not None and output_shape is not None:
        if len(y_true_shape) < len(output_shape) or (len(y_true_shape) and y_true_shape[-1] == 1):
            return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier, loss=None, output_shape=None, y_true_shape=None) -> Metric:
    """A ``Metric`` from a name, a ``Metric`` instance or class, a config dict, or a per-sample
    function ``fn(y_true, y_pred)`` (wrapped in ``MeanMetricWrapper``, named after it).

    'accuracy'/'acc' resolve as Keras: sparse_categorical_accuracy when the loss is sparse
    categorical cross-entropy, binary_accuracy for binary cross-entropy or a last output axis
    of length 1, else sparse when y_true has one axis fewer than y_pred (or ends in 1), else
    categorical_accuracy. A metric got by a name is named by that string (so logs read
    'accuracy' or 'acc', as the user wrote). An unknown name raises ValueError listing the known ones.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in _ACCURACY_NAMES:
            return _accuracy_for(loss, output_shape, y_true_shape)(name=identifier)
        cls = _NAMES.get(identifier)
        if cls is None:
            found = _custom.lookup(identifier)
            if found is not None and not isinstance(found, str):
                return get(found, loss=loss, output_shape=output_shape, y_true_shape=y_true_shape)
            raise ValueError(f"metrics.get: unknown metric {identifier!r}; known: {', '.join(known_names())}"
                             + _custom.hint(identifier))
        metric = cls()
        metric.name = identifier
        return metric
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        if identifier is accuracy:
            return _accuracy_for(loss, output_shape, y_true_shape)(name="accuracy")
        return MeanMetricWrapper(identifier)
    raise TypeError(f"metrics.get: cannot interpret {type(identifier).__name__} {identifier!r} as a metric")


def serialize(metric) -> dict:
    metric = get(metric)
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects: dict | None = None) -> Metric:
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        return get(custom_objects.get(config, config))
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"metrics.deserialize: expected a dict with 'class_name' and 'config', got {config!r}")
    name = config["class_name"]
    cls = custom_objects.get(name) or _CLASSES.get(name) or _custom.lookup(name)
    if cls is None:
        raise ValueError(f"metrics.deserialize: unknown metric class {name!r}; known: {', '.join(sorted(_CLASSES))}")
    return cls.from_config(dict(config.get("config") or {}))


__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "CategoricalAccuracy", "CategoricalCrossentropy",
    "KLDivergence", "Mean", "MeanAbsoluteError", "MeanMetricWrapper", "MeanSquaredError", "Metric", "Precision",
    "Recall", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy", "SparseTopKCategoricalAccuracy", "Sum",
    "TopKCategoricalAccuracy", "accuracy", "binary_accuracy", "binary_crossentropy", "categorical_accuracy",
    "categorical_crossentropy", "deserialize", "get", "kl_divergence", "known_names", "mean_absolute_error",
    "mean_squared_error", "serialize", "sparse_categorical_accuracy", "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy",
]
