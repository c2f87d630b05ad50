"""Loss classes, as ``keras.losses``: ``loss(y_true, y_pred, sample_weight=None)`` -> scalar Tensor.

A ``Loss`` computes the per-sample loss with the function of the same name in
``ops.loss`` (also importable from here) and reduces it:

* ``"sum_over_batch_size"`` (default) / ``"mean"``: sum(loss * sample_weight) / number of loss values
  (Keras's rule: the weights are not renormalised);
* ``"mean_with_sample_weight"``: sum(loss * sample_weight) / sum(sample_weight);
* ``"sum"``; ``"none"``/None: the weighted per-sample values.

``get`` resolves what ``model.compile(loss=...)`` receives: a name, a ``Loss``
instance or class, a config dict, or any callable ``fn(y_true, y_pred)`` that
returns per-sample or scalar Tensors; the result is always a ``Loss``.
``serialize``/``deserialize`` round-trip a loss through a JSON-able dict.
"""
from __future__ import annotations

import inspect

from . import custom_objects as _custom
from .autograd.tensor import Tensor
from .backend import xp
from .naming import snake_case
from .ops.arithmetic import multiply
from .ops.loss import (
    binary_crossentropy, categorical_crossentropy, huber, kl_divergence, mean_absolute_error, mean_squared_error,
    sparse_categorical_crossentropy, squeeze_or_expand_to_same_rank,
)
from .ops.reduction import sum as _sum
from .ops.shape import reshape

REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight", "sum", "none", None)


def _standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"Loss: unknown reduction {reduction!r}; known: {', '.join(map(repr, REDUCTIONS))}")
    return reduction


def _weights(sample_weight, like: Tensor) -> Tensor:
    if isinstance(sample_weight, Tensor):
        if sample_weight.dtype != like.dtype:
            return Tensor._wrap(sample_weight.data.astype(like.dtype))
        return sample_weight
    return Tensor._wrap(xp.asarray(sample_weight, dtype=like.dtype))


def reduce_weighted_values(values: Tensor, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Weight per-sample loss values and reduce them (see the module docstring)."""
    reduction = _standardize_reduction(reduction)
    sw = None
    if sample_weight is not None:
        sw = _weights(sample_weight, values)
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        if sw.ndim < values.ndim:  # per-sample weights for per-timestep losses: align on the leading axes
            sw = reshape(sw, sw.shape + (1,) * (values.ndim - sw.ndim))
        try:
            xp.broadcast_shapes(values.shape, sw.shape)
        except ValueError:
            raise ValueError(
                f"Loss: sample_weight of shape {sw.shape} does not fit losses of shape {values.shape}"
            ) from None
        values = multiply(values, sw)
    if reduction in (None, "none") or values.ndim == 0:
        return values
    total = _sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sw is not None:
        denom = float(xp.broadcast_to(sw.data, values.shape).sum())
        return total * (1.0 / denom) if denom else total * 0.0
    n = values.size
    return total * (1.0 / n) if n else total


class Loss:
    """Base class: subclasses implement ``call(y_true, y_pred)`` -> per-sample loss Tensor."""

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size"):
        self.name = name or snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        values = self.call(y_true, y_pred)
        if not isinstance(values, Tensor):
            raise TypeError(f"{self.name}: the loss returned {type(values).__name__}, expected a Tensor")
        return reduce_weighted_values(values, sample_weight, self.reduction)

    def call(self, y_true, y_pred) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.call")

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a function ``fn(y_true, y_pred, **kwargs)`` (per-sample or scalar Tensor)."""

    def __init__(self, fn, name: str | None = None, reduction="sum_over_batch_size", **kwargs):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: fn must be callable, got {fn!r}")
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        cfg = super().get_config()
        if type(self) is LossFunctionWrapper:
            cfg["fn"] = _function_name(self.fn)
        cfg.update(self._fn_kwargs)
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if cls is LossFunctionWrapper:
            fn = config.pop("fn")
            return cls(_FUNCTIONS[fn] if isinstance(fn, str) else fn, **config)
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    r"""mean((y_pred - y_true)^2) over the last axis, then over the batch.

    Math:
        $$\mathcal L = \frac{1}{B}\sum_{n=1}^{B} \frac{1}{d}\sum_{j} (\hat y_{nj} - y_{nj})^{2}$$
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(mean_squared_error, name=name, reduction=reduction)


class MeanAbsoluteError(LossFunctionWrapper):
    r"""mean(|y_pred - y_true|) over the last axis, then over the batch.

    Math:
        $$\mathcal L = \frac{1}{B}\sum_{n=1}^{B} \frac{1}{d}\sum_{j} \lvert \hat y_{nj} - y_{nj} \rvert$$
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name=name, reduction=reduction)


class Huber(LossFunctionWrapper):
    r"""Quadratic for |error| <= delta, linear beyond (see ``ops.loss.huber``), then the mean over the batch.

    dL/dy_pred = clip(e, -delta, delta) / (B d) with e = y_pred - y_true over d features.

    Math:
        $$\mathcal L = \frac{1}{B d}\sum_{n, j} \begin{cases} \tfrac12 e_{nj}^{2} & \lvert e_{nj} \rvert \le \delta \\
        \delta\,(\lvert e_{nj} \rvert - \tfrac12 \delta) & \text{otherwise} \end{cases}, \qquad
        \frac{\partial \mathcal L}{\partial \hat y_{nj}} = \frac{\operatorname{clip}(e_{nj}, -\delta, \delta)}{B d}$$
    """

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(huber, name=name, reduction=reduction, delta=delta)


class KLDivergence(LossFunctionWrapper):
    r"""sum(y_true log(y_true / y_pred)) over the last axis, then the mean over the batch.

    Math:
        $$\mathcal L = \frac{1}{B}\sum_{n=1}^{B} \sum_k y_{nk} \log\frac{y_{nk}}{\hat y_{nk}}$$
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence"):
        super().__init__(kl_divergence, name=name, reduction=reduction)


class BinaryCrossentropy(LossFunctionWrapper):
    r"""Binary cross-entropy; ``from_logits=False`` (Keras's default) reads probabilities.

    Math:
        $$\mathcal L = -\frac{1}{B}\sum_{n} \frac{1}{d}\sum_j \bigl(y_{nj} \log p_{nj} + (1 - y_{nj}) \log(1 - p_{nj})\bigr)$$
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class CategoricalCrossentropy(LossFunctionWrapper):
    r"""Cross-entropy against one-hot (or distribution) targets; ``from_logits=False`` reads probabilities.

    Math:
        $$\mathcal L = -\frac{1}{B}\sum_{n} \sum_k y_{nk} \log p_{nk}$$
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    r"""Cross-entropy against integer labels; ``from_logits=False`` reads probabilities.

    With ``ignore_class``, samples with that label count neither in the sum nor in the number
    of values the mean divides by (Keras's masking; PyTorch's ``ignore_index``).

    Math:
        $$\mathcal L = -\frac{1}{B}\sum_{n} \log p_{n, c_n}\quad (c_n \text{ the integer label of sample } n)$$
    """

    def __init__(self, from_logits: bool = False, ignore_class=None, axis: int = -1,
                 reduction="sum_over_batch_size", name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        if self.ignore_class is None:
            return super().__call__(y_true, y_pred, sample_weight)
        values = self.call(y_true, y_pred)
        lab = y_true.data if isinstance(y_true, Tensor) else xp.asarray(y_true)
        mask = (lab != self.ignore_class).reshape(values.shape).astype(values.dtype)
        if self.reduction in ("sum_over_batch_size", "mean"):
            valid = mask.sum()
            mask = mask * (mask.size / valid if valid else 0.0)
        if sample_weight is not None:
            sw = _weights(sample_weight, values)
            m, sw = squeeze_or_expand_to_same_rank(Tensor._wrap(mask), sw)
            if sw.ndim < m.ndim:
                sw = reshape(sw, sw.shape + (1,) * (m.ndim - sw.ndim))
            mask = m.data * sw.data
        return reduce_weighted_values(values, mask, self.reduction)


# ---------------------------------------------------------------------------------- lookup
_CLASSES = {
    cls.__name__: cls
    for cls in (MeanSquaredError, MeanAbsoluteError, Huber, KLDivergence, BinaryCrossentropy,
                CategoricalCrossentropy, SparseCategoricalCrossentropy)
}
_FUNCTIONS = {
    "mean_squared_error": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "huber": huber,
    "kl_divergence": kl_divergence,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}
_FUNCTION_CLASS = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber,
    kl_divergence: KLDivergence, binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy, sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}
_NAMES = {
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "kld": KLDivergence, "KLD": KLDivergence, "kl_divergence": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    **_CLASSES,
}


def known_names() -> list:
    return sorted(_NAMES)


def _function_name(fn) -> str:
    for name, f in _FUNCTIONS.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", repr(fn))


def get(identifier):
    """A ``Loss`` from a name ('mse', 'sparse_categorical_crossentropy', ...), a ``Loss`` instance or
    class, a config dict, or a callable ``fn(y_true, y_pred)`` (wrapped in ``LossFunctionWrapper``).

    None gives None. An unknown name raises ValueError listing the known ones.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier)
        if cls is None:
            found = _custom.lookup(identifier)
            if found is not None and not isinstance(found, str):
                return get(found)
            raise ValueError(f"losses.get: unknown loss {identifier!r}; known: {', '.join(known_names())}"
                             + _custom.hint(identifier))
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        cls = _FUNCTION_CLASS.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    raise TypeError(f"losses.get: cannot interpret {type(identifier).__name__} {identifier!r} as a loss")


def serialize(loss) -> dict:
    """``{"class_name": ..., "config": {...}}`` for a ``Loss`` (or anything ``get`` accepts)."""
    loss = get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config, custom_objects: dict | None = None):
    """The ``Loss`` that ``serialize`` described; ``custom_objects`` maps names to custom classes/functions."""
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        if config in custom_objects:
            return get(custom_objects[config])
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"losses.deserialize: expected a dict with 'class_name' and 'config', got {config!r}")
    name, cfg = config["class_name"], dict(config.get("config") or {})
    cls = custom_objects.get(name) or _CLASSES.get(name) or (LossFunctionWrapper if name == "LossFunctionWrapper"
                                                            else _custom.lookup(name))
    if cls is None:
        raise ValueError(
            f"losses.deserialize: unknown loss class {name!r}; known: {', '.join(sorted(_CLASSES))} "
            "(pass custom_objects={name: cls} for a custom loss)"
        )
    if cls is LossFunctionWrapper:
        fn = cfg.get("fn")
        if isinstance(fn, str):
            fn = custom_objects.get(fn) or _FUNCTIONS.get(fn) or _custom.lookup(fn)
        if fn is None:
            raise ValueError(
                f"losses.deserialize: unknown loss function {cfg.get('fn')!r}; pass custom_objects={{name: fn}}"
            )
        cfg["fn"] = fn
    if not (inspect.isclass(cls) and issubclass(cls, Loss)):
        return get(cls)
    return cls.from_config(cfg)


__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "Huber", "KLDivergence", "Loss", "LossFunctionWrapper",
    "MeanAbsoluteError", "MeanSquaredError", "REDUCTIONS", "SparseCategoricalCrossentropy", "binary_crossentropy",
    "categorical_crossentropy", "deserialize", "get", "huber", "kl_divergence", "known_names", "mean_absolute_error",
    "mean_squared_error", "reduce_weighted_values", "serialize", "sparse_categorical_crossentropy",
]
