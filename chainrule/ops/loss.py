"""Losses: fused, numerically stable, in Keras's argument order ``(y_true, y_pred)``.

Each returns the loss per sample: the elementwise loss reduced over the last
axis (mean for the regression and binary losses, sum over the classes for the
cross-entropies), so a ``(batch, d)`` prediction gives shape ``(batch,)``, a
``(batch, time, classes)`` one ``(batch, time)``. ``cr.losses`` reduces that
to the mean, as Keras's loss classes do.

Stability:

* ``from_logits=True`` uses log-sum-exp forms: the fused
  ``SoftmaxCrossEntropy``/``SparseSoftmaxCrossEntropy``/``SigmoidCrossEntropy``
  Functions, finite for logits of any size.
* ``from_logits=False`` reads probabilities and, as Keras, clips them to
  [1e-7, 1 - 1e-7] (categorical ones first renormalised to sum to 1).
* When ``y_pred`` is the output of chainrule's ``softmax`` (over the class axis)
  or ``sigmoid``, the logits that made it are used instead, as Keras does with
  ``_keras_logits``: no clipping, and the gradient is the exact softmax - one_hot.
  ``softmax`` and ``sigmoid`` (``F.softmax``, ``cr.sigmoid``, ``x.sigmoid()``,
  ``cr.activations`` and the layers' ``activation=``) record the logits on their output
  (``Tensor._keras_logits``) in every mode, so ``fit`` (graph recorded) and
  ``evaluate``/``predict`` (``no_grad``) give the same loss even for saturated
  outputs, e.g. -log softmax([100, 0, 0])_1 = 100 where the clipped formula would
  give -log(1e-7) = 16.118. A bare ``Softmax.apply``/``Sigmoid.apply`` records
  nothing; its logits are found through the graph when one is recorded, and
  otherwise the clipped formula is used.
"""
from __future__ import annotations

import warnings

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import floatx_dtype, xp
from .activation import LogSoftmax, Softmax
from .elementwise import Sigmoid, abs, clip, log, sigmoid, where
from .reduction import mean, normalize_axis, sum as _sum
from .shape import cast, expand_dims, reshape, squeeze, transpose

EPSILON = 1e-7  # keras.backend.epsilon()


# ------------------------------------------------------------------------------------ inputs
def _pred(op: str, y_pred) -> Tensor:
    y_pred = ensure_tensor(y_pred)
    if y_pred.data.dtype.kind != "f":
        if y_pred.data.dtype.kind not in "iub":
            raise TypeError(f"{op}: y_pred must be numeric, got dtype {y_pred.data.dtype}")
        y_pred = Tensor._wrap(y_pred.data.astype(floatx_dtype()))
    return y_pred


def _true_like(op: str, y_true, like: Tensor) -> Tensor:
    """y_true as a Tensor of y_pred's float dtype (a Tensor that requires grad stays differentiable)."""
    if isinstance(y_true, Tensor):
        if y_true.data.dtype == like.data.dtype:
            return y_true
        if y_true.requires_grad:
            return cast(y_true, like.data.dtype)
        return Tensor._wrap(y_true.data.astype(like.data.dtype))
    arr = xp.asarray(y_true)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{op}: y_true must be numeric, got dtype {arr.dtype}")
    return Tensor._wrap(arr.astype(like.data.dtype, copy=False))


def squeeze_or_expand_to_same_rank(x1: Tensor, x2: Tensor, expand_rank_1: bool = True):
    """Keras's rank fix: where the ranks differ by one and the longer one ends in a length-1
    axis, squeeze it (or, when the other is 1-D, expand that one instead)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = expand_dims(x2, -1)
        else:
            x1 = squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = expand_dims(x1, -1)
        else:
            x2 = squeeze(x2, -1)
    return x1, x2


def _pair(op: str, y_true, y_pred):
    y_pred = _pred(op, y_pred)
    y_true = _true_like(op, y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_same_shape(op, y_true, y_pred)
    return y_true, y_pred


def _check_same_shape(op, y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{op}: y_true of shape {y_true.shape} and y_pred of shape {y_pred.shape} do not match "
            "(they must have the same shape)"
        )


def _logits_of(y_pred: Tensor, cls, axes=None):
    """The logits of the softmax/sigmoid (over ``axes``) that produced y_pred, if one did (else None):
    the record ``_keras_logits`` on it, else the input of its graph node."""
    rec = getattr(y_pred, "_keras_logits", None)
    if rec is not None:
        return rec[1] if rec[0] is cls and (axes is None or rec[2] == axes) else None
    fn = y_pred._ctx
    if type(fn) is not cls or fn._released or fn.inputs is None:
        return None
    if axes is not None and getattr(fn, "axes", None) != axes:
        return None
    return fn.inputs[0]


def _warn_if_probabilities(op: str, y_pred: Tensor, cls, what: str) -> None:
    rec = getattr(y_pred, "_keras_logits", None)
    if type(y_pred._ctx) is cls or (rec is not None and rec[0] is cls):
        warnings.warn(
            f"{op}: from_logits=True, but y_pred was produced by a {what}, so it holds probabilities, "
            "not logits. Was this intended?",
            stacklevel=3,
        )


def _to_last(x: Tensor, axis: int) -> Tensor:
    """Move ``axis`` to the end (a differentiable transpose)."""
    n = x.ndim
    if axis == n - 1:
        return x
    perm = tuple(i for i in range(n) if i != axis) + (axis,)
    return transpose(x, perm)


def _class_axis(op, axis, ndim):
    if ndim < 1:
        raise ValueError(f"{op}: y_pred must have a class axis, got a 0-d tensor")
    if isinstance(axis, bool) or not isinstance(axis, (int, xp.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    return normalize_axis(op, axis, ndim)[0]


# ----------------------------------------------------------------------------- fused Functions
def _lse_parts(x):
    """Shifted logits s = x - max and ln sum e^s over the last axis (kept)."""
    m = x.max(axis=-1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros((), x.dtype))
    s = x - m
    e = xp.exp(s)
    se = e.sum(axis=-1, keepdims=True)
    return s, e, se


class SoftmaxCrossEntropy(Function):
    """loss = -sum_j t_j log softmax(x)_j = (sum_j t_j) logsumexp(x) - sum_j t_j x_j (last axis).

    dloss/dx_j = softmax(x)_j sum_k t_k - t_j  (= softmax - t for a distribution t);
    dloss/dt_j = -log softmax(x)_j.
    """

    def forward(self, x, t):
        s, e, se = _lse_parts(x)
        self.logp = s - xp.log(se)
        return -(t * self.logp).sum(axis=-1)

    def backward(self, g):
        x, t = self.inputs
        nx, nt = self.needs_input_grad
        g1 = expand_dims(g, -1)
        last = (x.ndim - 1,)
        if is_grad_enabled():  # create_graph: differentiable form
            gx = (Softmax.apply(x, axes=last) * _sum(t, axis=-1, keepdims=True) - t) * g1 if nx else None
            gt = -(LogSoftmax.apply(x, axes=last) * g1) if nt else None
            return gx, gt
        gd = g.data[..., None]
        gx = gt = None
        if nx:
            gx = Tensor._wrap((xp.exp(self.logp) * t.data.sum(axis=-1, keepdims=True) - t.data) * gd)
        if nt:
            gt = Tensor._wrap(-self.logp * gd)
        return gx, gt


class SparseSoftmaxCrossEntropy(Function):
    """loss_n = logsumexp_j x_nj - x_{n, label_n} = -log softmax(x_n)_{label_n} (last axis).

    dloss_n/dx_nj = softmax(x_n)_j - [j = label_n].
    """

    def forward(self, x, labels):
        self.labels = labels
        s, e, se = _lse_parts(x)
        picked = xp.take_along_axis(s, labels[..., None], axis=-1)
        self.p = e / se
        return (xp.log(se) - picked)[..., 0]

    def _one_hot(self, dtype):
        oh = xp.zeros(self.p.shape, dtype)
        xp.put_along_axis(oh, self.labels[..., None], 1, axis=-1)
        return oh

    def backward(self, g):
        (x,) = self.inputs
        if is_grad_enabled():  # create_graph: differentiable form
            p = Softmax.apply(x, axes=(x.ndim - 1,))
            return (p - Tensor._wrap(self._one_hot(x.dtype))) * expand_dims(g, -1)
        d = self.p - self._one_hot(self.p.dtype)
        d *= g.data[..., None]
        return Tensor._wrap(d)


class SigmoidCrossEntropy(Function):
    """loss = -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) = max(x, 0) - x t + ln(1 + e^{-|x|}).

    dloss/dx = sigmoid(x) - t;  dloss/dt = -x.
    """

    def forward(self, x, t):
        return xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, g):
        x, t = self.inputs
        nx, nt = self.needs_input_grad
        gx = (sigmoid(x) - t) * g if nx else None
        gt = -(x * g) if nt else None
        return gx, gt


# ---------------------------------------------------------------------------------- losses
def mean_squared_error(y_true, y_pred) -> Tensor:
    r"""mean over the last axis of (y_pred - y_true)^2.  d/dy_pred = 2 (y_pred - y_true) / d.

    As PyTorch's ``mse_loss(reduction='none').mean(-1)``.

    Math:
        $$L = \frac{1}{d}\sum_{j=1}^{d} (\hat y_j - y_j)^{2}, \qquad \frac{\partial L}{\partial \hat y_j} = \frac{2}{d}(\hat y_j - y_j)$$
    """
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    d = y_pred - y_true
    return mean(d * d, axis=-1)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    r"""mean over the last axis of |y_pred - y_true|.  d/dy_pred = sign(y_pred - y_true) / d.

    Math:
        $$L = \frac{1}{d}\sum_{j=1}^{d} \lvert \hat y_j - y_j \rvert, \qquad \frac{\partial L}{\partial \hat y_j} = \frac{1}{d}\operatorname{sign}(\hat y_j - y_j)$$
    """
    y_true, y_pred = _pair("mean_absolute_error", y_true, y_pred)
    return mean(abs(y_pred - y_true), axis=-1)


def huber(y_true, y_pred, delta: float = 1.0) -> Tensor:
    r"""mean over the last axis of e^2/2 where |e| <= delta, else delta (|e| - delta/2); e = y_pred - y_true.

    d/de = e where |e| <= delta, else delta sign(e). As PyTorch's ``huber_loss(delta=...)``.

    Math:
        $$L = \frac{1}{d}\sum_j \begin{cases} \tfrac12 e_j^{2} & \lvert e_j \rvert \le \delta \\ \delta\,(\lvert e_j \rvert - \tfrac12 \delta) & \text{otherwise} \end{cases}, \quad e = \hat y - y, \qquad \frac{\partial L}{\partial \hat y_j} = \frac{1}{d}\operatorname{clip}(e_j, -\delta, \delta)$$
    """
    if delta <= 0:
        raise ValueError(f"huber: delta must be positive, got {delta}")
    y_true, y_pred = _pair("huber", y_true, y_pred)
    e = y_pred - y_true
    a = abs(e)
    per = where(a.data <= delta, 0.5 * (e * e), delta * a - 0.5 * delta * delta)
    return mean(per, axis=-1)


def kl_divergence(y_true, y_pred) -> Tensor:
    r"""sum over the last axis of t log(t / p), with t and p clipped to [1e-7, 1] (as Keras).

    PyTorch's ``kl_div(log p, t, reduction='none').sum(-1)`` (which takes log-probabilities) agrees
    away from the clipping.

    Math:
        $$L = \sum_k y_k \log\frac{y_k}{p_k}, \qquad \frac{\partial L}{\partial p_k} = -\frac{y_k}{p_k}$$
    """
    y_true, y_pred = _pair("kl_divergence", y_true, y_pred)
    t = clip(y_true, EPSILON, 1.0)
    p = clip(y_pred, EPSILON, 1.0)
    return _sum(t * log(t / p), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> Tensor:
    r"""mean over ``axis`` of -(t log p + (1 - t) log(1 - p)).

    ``from_logits=True``: p = sigmoid(y_pred), by the stable ``SigmoidCrossEntropy``.
    Probabilities are clipped to [1e-7, 1 - 1e-7] as Keras (PyTorch clamps the logs at -100
    instead). ``label_smoothing`` s replaces t by t (1 - s) + s/2. A ``y_pred`` made by
    chainrule's ``sigmoid`` takes the logits path.

    Math:
        $$L = -\frac{1}{d}\sum_j \bigl(y_j \log p_j + (1 - y_j)\log(1 - p_j)\bigr); \quad \text{from logits } z,\ p = \sigma(z): \ \frac{\partial L}{\partial z_j} = \frac{1}{d}(p_j - y_j)$$
    """
    op = "binary_crossentropy"
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    y_pred = _pred(op, y_pred)
    if from_logits:
        _warn_if_probabilities(op, y_pred, Sigmoid, "sigmoid")
    logits = y_pred if from_logits else _logits_of(y_pred, Sigmoid)
    y_true = _true_like(op, y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_same_shape(op, y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if logits is not None:
        logits = reshape(logits, y_pred.shape)
        per = SigmoidCrossEntropy.apply(logits, y_true)
    else:
        p = clip(y_pred, EPSILON, 1.0 - EPSILON)
        per = -(y_true * log(p) + (1.0 - y_true) * log(1.0 - p))
    if per.ndim == 0:
        return per
    return mean(per, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> Tensor:
    r"""-sum over the class ``axis`` of t log p (t one-hot or a distribution).

    ``from_logits=True``: p = softmax(y_pred), by the fused ``SoftmaxCrossEntropy``
    (PyTorch's ``cross_entropy`` with probability targets). Probabilities are first
    renormalised to sum to 1, then clipped to [1e-7, 1 - 1e-7], as Keras.
    ``label_smoothing`` s replaces t by t (1 - s) + s / num_classes. A ``y_pred`` made by
    chainrule's ``softmax`` over that axis takes the logits path.

    Math:
        $$L = -\sum_k y_k \log p_k; \quad \text{from logits } z,\ p = \operatorname{softmax}(z): \ \frac{\partial L}{\partial z_k} = p_k \textstyle\sum_j y_j - y_k \ (= p_k - y_k \text{ for a one-hot } y)$$
    """
    op = "categorical_crossentropy"
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    y_pred = _pred(op, y_pred)
    ax = _class_axis(op, axis, y_pred.ndim)
    y_true = _true_like(op, y_true, y_pred)
    if y_true.shape != y_pred.shape:
        hint = ""
        if y_true.ndim == y_pred.ndim - 1 or (y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1):
            hint = "; for integer class labels use sparse_categorical_crossentropy"
        raise ValueError(
            f"{op}: y_true of shape {y_true.shape} and y_pred of shape {y_pred.shape} do not match "
            f"(y_true must be one-hot or a distribution of the same shape){hint}"
        )
    if y_pred.shape[ax] == 1:
        warnings.warn(
            f"{op}: y_pred has a single class along axis {axis} (shape {y_pred.shape}), so the loss is always 0; "
            "use binary_crossentropy for two classes",
            stacklevel=2,
        )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[ax]
    if from_logits:
        _warn_if_probabilities(op, y_pred, Softmax, "softmax")
    logits = y_pred if from_logits else _logits_of(y_pred, Softmax, (ax,))
    if logits is not None:
        return SoftmaxCrossEntropy.apply(_to_last(logits, ax), _to_last(y_true, ax))
    p = y_pred / _sum(y_pred, axis=ax, keepdims=True)
    p = clip(p, EPSILON, 1.0 - EPSILON)
    return -_sum(y_true * log(p), axis=ax)


def _labels(op: str, y_true, pred_shape: tuple, ax: int, ignore_class=None):
    """Validated integer labels of shape pred_shape without the class axis, and the valid mask."""
    lab = y_true.data if isinstance(y_true, Tensor) else xp.asarray(y_true)
    n = len(pred_shape)
    if lab.ndim == n and lab.ndim > 0 and lab.shape[-1] == 1:
        lab = lab.reshape(lab.shape[:-1])
    expected = pred_shape[:ax] + pred_shape[ax + 1:]
    if lab.shape != expected:
        hint = ""
        if lab.shape == pred_shape:
            hint = "; for one-hot labels use categorical_crossentropy"
        raise ValueError(
            f"{op}: labels of shape {lab.shape} do not match predictions of shape {pred_shape}; "
            f"expected one integer class index per sample, shape {expected}{hint}"
        )
    kind = lab.dtype.kind
    if kind == "f":
        bad = ~xp.isfinite(lab) | (lab != xp.round(lab))
        if bad.any():
            raise ValueError(f"{op}: labels must be integer class indices, got {lab[bad].flat[0]!r}")
        lab = lab.astype(xp.int64)
    elif kind == "b":
        lab = lab.astype(xp.int64)
    elif kind not in "iu":
        raise TypeError(f"{op}: labels must be integers, got dtype {lab.dtype}")
    valid = None
    if ignore_class is not None:
        valid = lab != ignore_class
        lab = xp.where(valid, lab, 0)
    num_classes = pred_shape[ax]
    if lab.size:
        lo, hi = lab.min(), lab.max()
        if lo < 0 or hi >= num_classes:
            badv = lo if lo < 0 else hi
            raise ValueError(
                f"{op}: label {int(badv)} is out of range for {num_classes} classes "
                f"(labels must be in [0, {num_classes - 1}])"
            )
    return lab.astype(xp.intp, copy=False), valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, axis: int = -1,
                                    ignore_class=None) -> Tensor:
    r"""-log p[label] for integer labels (PyTorch's ``cross_entropy``/``nll_loss``, reduction='none').

    ``from_logits=True``: logsumexp(x) - x[label] by the fused ``SparseSoftmaxCrossEntropy``.
    Probabilities are renormalised over the class ``axis`` and clipped to [1e-7, 1 - 1e-7]
    (Keras). Labels may be ints or integer-valued floats, of shape y_pred's without the class
    axis (a trailing length-1 axis is squeezed); a label outside [0, num_classes) raises
    ValueError. Samples whose label equals ``ignore_class`` get loss 0 (``cr.losses`` leaves
    them out of the mean, as Keras). A ``y_pred`` made by chainrule's ``softmax`` over that
    axis takes the logits path.

    Math:
        $$L = -\log p_c \ \ (c \text{ the integer label}); \quad \text{from logits } z: \ \frac{\partial L}{\partial z_k} = p_k - [k = c]$$
    """
    op = "sparse_categorical_crossentropy"
    y_pred = _pred(op, y_pred)
    ax = _class_axis(op, axis, y_pred.ndim)
    labels, valid = _labels(op, y_true, y_pred.shape, ax, ignore_class)
    if from_logits:
        _warn_if_probabilities(op, y_pred, Softmax, "softmax")
    logits = y_pred if from_logits else _logits_of(y_pred, Softmax, (ax,))
    if logits is not None:
        per = SparseSoftmaxCrossEntropy.apply(_to_last(logits, ax), labels=labels)
    else:
        p = _to_last(y_pred / _sum(y_pred, axis=ax, keepdims=True), ax)
        c = p.shape[-1]
        flat = reshape(p, (-1, c))
        picked = reshape(flat[xp.arange(flat.shape[0]), labels.reshape(-1)], labels.shape)
        per = -log(clip(picked, EPSILON, 1.0 - EPSILON))
    if valid is not None:
        per = per * Tensor._wrap(valid.astype(per.dtype))
    return per


__all__ = [
    "EPSILON", "SigmoidCrossEntropy", "SoftmaxCrossEntropy", "SparseSoftmaxCrossEntropy", "binary_crossentropy",
    "categorical_crossentropy", "huber", "kl_divergence", "mean_absolute_error", "mean_squared_error",
    "sparse_categorical_crossentropy", "squeeze_or_expand_to_same_rank",
]
