"""Merge layers: one output from a list of inputs (Keras's ``keras.layers`` merging layers).

Elementwise: Add (y = sum_k x_k), Subtract (y = x_1 - x_2), Multiply (y = prod_k x_k), Average
(y = (1/K) sum_k x_k), Maximum (y = max_k x_k), Minimum (y = min_k x_k). Their inputs broadcast
as NumPy arrays do, sample shapes aligned on the right: an input of lower rank gets size-1 axes
inserted after the batch axis (Keras's rule), e.g. (batch, 8) with (batch, 5, 8) gives (batch, 5, 8).
Concatenate joins along ``axis``; Dot contracts one axis of each of two inputs, per sample.

All of them take a list of tensors, check the shapes (the same batch size; broadcastable sample
shapes) and say which layer and shapes are at fault, and give ``compute_output_shape`` of a list
of shapes (None for unknown sizes), so the functional API infers shapes without running math.

Masks (``_keras_mask``, True = a real step): the output's mask is the OR of the inputs' masks
when they all have one; Maximum and Minimum ignore masked steps of an input (taking the other
inputs' values there), Multiply reads them as 1 and zeroes the steps no input keeps, as Keras.
"""
from __future__ import annotations

from ..backend import xp
from ..ops.elementwise import maximum as _maximum, minimum as _minimum, sqrt, where
from ..ops.indexing import concatenate as _concatenate
from ..ops.linalg import matmul
from ..ops.reduction import sum as _sum
from ..ops.shape import expand_dims, reshape, transpose
from .base import Layer


def _shape_list(layer, input_shape):
    """``input_shape`` checked to be a list of shapes (tuples)."""
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
            isinstance(s, (list, tuple)) for s in input_shape):
        raise ValueError(f"{layer.name}: a {type(layer).__name__} layer is called on a list of inputs; got "
                         f"input_shape={input_shape!r}")
    return [tuple(s) for s in input_shape]


def _batch_size(layer, shapes):
    sizes = {s[0] for s in shapes if s} - {None}
    if len(sizes) > 1:
        raise ValueError(f"{layer.name}: cannot merge tensors with different batch sizes; got shapes {shapes}")
    return sizes.pop() if sizes else None


def _broadcast(layer, shapes):
    """The broadcast of the sample shapes (right-aligned; None: unknown), or a ValueError naming them."""
    out = ()
    for s in shapes:
        a, b = (out, s[1:]) if len(out) >= len(s) - 1 else (s[1:], out)
        lead, tail = list(a[:len(a) - len(b)]), []
        for i, j in zip(a[len(a) - len(b):], b):
            if i == 1:
                tail.append(j)
            elif j == 1:
                tail.append(i)
            elif i is None or j is None:
                tail.append(i if j is None else j)
            elif i != j:
                raise ValueError(f"{layer.name}: inputs with incompatible shapes {shapes} (sample shapes must "
                                 "be equal or broadcastable)")
            else:
                tail.append(i)
        out = tuple(lead + tail)
    return out


def _masks(inputs):
    return [getattr(x, "_keras_mask", None) for x in inputs]


def _expanded(mask, x):
    """A (batch, steps) mask broadcast to the shape of x (batch, steps, ...)."""
    return xp.broadcast_to(mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim)), x.shape)


class _Merge(Layer):
    """The shared part of the elementwise merges: input checks, rank alignment, masks."""

    min_inputs = 1
    max_inputs = None

    def _check(self, shapes):
        shapes = _shape_list(self, shapes)
        if len(shapes) < self.min_inputs or (self.max_inputs and len(shapes) > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.min_inputs == self.max_inputs
                    else f"at least {self.min_inputs}")
            raise ValueError(f"{self.name}: a {type(self).__name__} layer is called on {want} inputs; got "
                             f"{len(shapes)} (shapes {shapes})")
        return shapes

    def compute_output_shape(self, input_shape):
        shapes = self._check(input_shape)
        return (_batch_size(self, shapes),) + _broadcast(self, shapes)

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self.name}: a {type(self).__name__} layer is called on a list of inputs; got one "
                             f"tensor of shape {tuple(getattr(inputs, 'shape', ()))}")
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        rank = max(x.ndim for x in inputs)
        aligned = []
        for x in inputs:
            for _ in range(rank - x.ndim):  # (batch, d) -> (batch, 1, d): broadcast from the right
                x = expand_dims(x, 1)
            aligned.append(x)
        masks = _masks(inputs)
        y = self._merge(aligned, masks)
        if all(m is not None for m in masks):
            out = masks[0]
            for m in masks[1:]:
                out = xp.logical_or(out, m)
            y._keras_mask = out
        return y

    def _merge(self, inputs, masks):
        raise NotImplementedError


class Add(_Merge):
    """y = x_1 + x_2 + ... + x_K (elementwise, broadcast).  dL/dx_k = g (summed over broadcast axes)."""

    def _merge(self, inputs, masks):
        y = inputs[0]
        for x in inputs[1:]:
            y = y + x
        return y


class Subtract(_Merge):
    """y = x_1 - x_2 (exactly two inputs).  dL/dx_1 = g, dL/dx_2 = -g."""

    min_inputs = max_inputs = 2

    def _merge(self, inputs, masks):
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """y = x_1 x_2 ... x_K (elementwise).  dL/dx_k = g prod_{j != k} x_j.

    With masks: masked steps of an input count as 1, and steps masked in every input are 0.
    """

    def _merge(self, inputs, masks):
        y = None
        for x, m in zip(inputs, masks):
            if m is not None:
                x = where(_expanded(m, x), x, 1.0)
            y = x if y is None else y * x
        if all(m is not None for m in masks):
            keep = xp.logical_or.reduce([_expanded(m, x) for x, m in zip(inputs, masks)])
            y = where(xp.broadcast_to(keep, y.shape), y, 0.0)
        return y


class Average(_Merge):
    """y = (x_1 + ... + x_K) / K.  dL/dx_k = g / K."""

    def _merge(self, inputs, masks):
        y = inputs[0]
        for x in inputs[1:]:
            y = y + x
        return y / len(inputs)


class _Extremum(_Merge):
    """max or min over the inputs; a masked step of one input takes the others' value there."""

    _op = None

    def _merge(self, inputs, masks):
        y, y_mask = None, None
        for x, m in zip(inputs, masks):
            m = None if m is None else _expanded(m, x)
            if y is None:
                y, y_mask = x, m
                continue
            if m is not None:
                x = where(xp.broadcast_to(m, xp.broadcast_shapes(m.shape, y.shape)), x, y)
            if y_mask is not None:
                y = where(xp.broadcast_to(y_mask, xp.broadcast_shapes(y_mask.shape, x.shape)), y, x)
            y_mask = None if m is None or y_mask is None else xp.logical_or(y_mask, m)
            y = type(self)._op(y, x)
        return y


class Maximum(_Extremum):
    """y = max_k x_k (elementwise).  dL/dx_k = g where x_k is the maximum (PyTorch's choice at ties:
    the gradient is split evenly between equal operands of ``maximum``)."""

    _op = staticmethod(_maximum)


class Minimum(_Extremum):
    """y = min_k x_k (elementwise).  dL/dx_k = g where x_k is the minimum."""

    _op = staticmethod(_minimum)


class Concatenate(_Merge):
    """y = [x_1, ..., x_K] joined along ``axis`` (default -1, the features); every other axis must
    match.  dL/dx_k = the slice of g where x_k sits."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Concatenate: axis must be an int, got {axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = self._check(input_shape)
        rank = len(shapes[0])
        bad = any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank or self.axis % rank == 0
        if not bad:
            ax = self.axis % rank
            out = list(shapes[0])
            for i in range(rank):
                sizes = {s[i] for s in shapes}
                if i == ax:
                    out[i] = None if None in sizes else sum(s[i] for s in shapes)
                elif len(sizes - {None}) > 1:
                    bad = True
                else:
                    out[i] = next(iter(sizes - {None}), None)
        if bad:
            raise ValueError(f"{self.name}: a Concatenate layer (axis={self.axis}) needs inputs of one rank "
                             f"with matching sizes except on the concatenation axis (not the batch axis); "
                             f"got shapes {shapes}")
        return tuple(out)

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self.name}: a Concatenate layer is called on a list of inputs; got one tensor")
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        y = _concatenate(list(inputs), axis=self.axis)
        masks = _masks(inputs)
        if any(m is not None for m in masks) and all(m is None or m.ndim == x.ndim - 1 for x, m in
                                                      zip(inputs, masks)):
            full = [xp.ones(x.shape, bool) if m is None else _expanded(m, x) for x, m in zip(inputs, masks)]
            y._keras_mask = xp.concatenate(full, axis=self.axis).any(axis=-1)
        return y

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


def _l2_normalize(x, axis, epsilon=1e-7):
    """x / max(||x||_2, epsilon) along ``axis`` (Keras's ``ops.normalize``, epsilon = backend.epsilon())."""
    return x / sqrt(_maximum(_sum(x * x, axis=axis, keepdims=True), epsilon * epsilon))


class Dot(_Merge):
    """Per-sample dot product of two inputs along ``axes`` (Keras's ``batch_dot``).

    For x of shape (B, *X) and y of shape (B, *Y), with a = axes[0] of x and b = axes[1] of y
    (equal sizes d; never the batch axis):

        out[n, i, j] = sum_k x[n, i with k at a] y[n, j with k at b]

    of shape (B, *X without a, *Y without b), or (B, 1) when that leaves only the batch axis.
    ``normalize=True`` first divides each sample by its L2 norm along the axis (the output is then
    the cosine similarity). It is one batched matmul, so dL/dx = g y^T and dL/dy = x^T g per sample.
    """

    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"Dot: axes must be an int or two ints, got {axes!r}")
            axes = list(axes)
        elif isinstance(axes, bool) or not isinstance(axes, int):
            raise TypeError(f"Dot: axes must be an int or a list of two ints, got {axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes_for(self, shapes):
        axes = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        out = []
        for a, s in zip(axes, shapes):
            if len(s) < 2 or not -len(s) <= a < len(s) or a % len(s) == 0:
                raise ValueError(f"{self.name}: Dot(axes={self.axes}) needs inputs of rank >= 2 and axes that are "
                                 f"not the batch axis; got shapes {shapes}")
            out.append(a % len(s))
        return out

    def compute_output_shape(self, input_shape):
        shapes = self._check(input_shape)
        batch = _batch_size(self, shapes)
        a, b = self._axes_for(shapes)
        d1, d2 = shapes[0][a], shapes[1][b]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"{self.name}: Dot(axes={self.axes}) contracts axis {a} of size {d1} with axis {b} "
                             f"of size {d2}; got shapes {shapes}")
        rest = [d for i, d in enumerate(shapes[0]) if i not in (0, a)]
        rest += [d for i, d in enumerate(shapes[1]) if i not in (0, b)]
        return (batch,) + tuple(rest or [1])

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self.name}: a Dot layer is called on a list of 2 inputs; got one tensor")
        shapes = [tuple(x.shape) for x in inputs]
        out_shape = self.compute_output_shape(shapes)
        x, y = inputs
        a, b = self._axes_for(shapes)
        if self.normalize:
            x, y = _l2_normalize(x, a), _l2_normalize(y, b)
        n, d = x.shape[0], x.shape[a]
        xt = transpose(x, [i for i in range(x.ndim) if i != a] + [a])   # (B, *X', d)
        yt = transpose(y, [0, b] + [i for i in range(1, y.ndim) if i != b])  # (B, d, *Y')
        z = matmul(reshape(xt, (n, -1, d)), reshape(yt, (n, d, -1)))
        return reshape(z, (n,) + tuple(out_shape[1:]))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axes=self.axes, normalize=self.normalize)
        return cfg


# ------------------------------------------------------------------------------------------ functional forms
def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)`` (Keras's ``keras.layers.add``)."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)`` (Keras's default axes=-1)."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


__all__ = [
    "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
    "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
]
