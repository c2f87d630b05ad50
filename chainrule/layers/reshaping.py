"""Reshaping layers: UpSampling1D/2D/3D, ZeroPadding1D/2D/3D, Cropping1D/2D/3D, RepeatVector, Permute
(Keras 3's names, arguments and defaults; channels_last unless ``data_format="channels_first"``).

None of them has weights. Each is a linear map that only moves, copies or drops entries, so its
gradient moves them back: upsampling sums the gradients of the copies of an input
(``ops.interpolation``), padding crops the gradient, cropping pads it with zeros, RepeatVector sums
over the copies, Permute applies the inverse permutation.
"""
from __future__ import annotations

from ..ops.indexing import pad
from ..ops.interpolation import interpolate
from ..ops.shape import broadcast_to, expand_dims, transpose
from .base import Layer
from .core import positive_int


def _data_format(layer, value):
    value = value or "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {value!r}")
    return value


def _spatial_axes(data_format, rank):
    """The spatial axes of a (batch, ...) tensor with ``rank`` spatial axes."""
    return tuple(range(1, 1 + rank)) if data_format == "channels_last" else tuple(range(2, 2 + rank))


def _check_rank(layer, x_shape, rank):
    if len(x_shape) != rank + 2:
        raise ValueError(f"{layer.name}: {type(layer).__name__} expects inputs of rank {rank + 2} "
                         f"(batch, {rank} spatial axes, channels), got shape {tuple(x_shape)}")


def _pairs(layer, name, value, rank):
    """``value`` as ``rank`` (before, after) pairs of non-negative ints.

    An int: the same on both sides of every axis; ``rank`` ints: symmetric per axis; ``rank`` pairs:
    as given. For one axis, a pair of ints means (before, after), as Keras.
    """
    def ints(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if ints(value):
        pairs = ((value, value),) * rank
    elif isinstance(value, (list, tuple)) and rank == 1 and len(value) == 2 and all(ints(v) for v in value):
        pairs = (tuple(value),)
    elif isinstance(value, (list, tuple)) and len(value) == rank and all(ints(v) for v in value):
        pairs = tuple((v, v) for v in value)
    elif isinstance(value, (list, tuple)) and len(value) == rank and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(ints(v) for v in p) for p in value):
        pairs = tuple(tuple(p) for p in value)
    else:
        raise ValueError(f"{layer}: {name} must be a non-negative int, {rank} of them, or {rank} (before, after) "
                         f"pairs, got {value!r}")
    return tuple((int(a), int(b)) for a, b in pairs)


# ------------------------------------------------------------------------------------------ upsampling
class _UpSampling(Layer):
    """y = x with each spatial index repeated size[k] times along spatial axis k (nearest neighbour);
    UpSampling2D also offers bilinear interpolation (half-pixel centres, as Keras 3 and PyTorch's
    ``interpolate(..., align_corners=False)``). dL/dx = the sum of the gradients of x's copies
    (nearest) or the transposed interpolation weights applied to g (bilinear)."""

    rank = 0

    def __init__(self, size, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        sizes = (size,) * self.rank if isinstance(size, int) else tuple(size)
        self.size = tuple(positive_int(kind, "size", s) for s in sizes)
        if len(self.size) != self.rank:
            raise ValueError(f"{kind}: size must be an int or {self.rank} ints, got {size!r}")
        self.data_format = _data_format(kind, data_format)
        self.interpolation = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if self.interpolation not in ("nearest", "bilinear") or (self.rank != 2 and self.interpolation != "nearest"):
            allowed = "'nearest' or 'bilinear'" if self.rank == 2 else "'nearest'"
            raise ValueError(f"{kind}: interpolation must be {allowed}, got {interpolation!r}")

    def call(self, inputs, training=False):
        _check_rank(self, inputs.shape, self.rank)
        return interpolate(inputs, scale_factor=self.size, mode=self.interpolation, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, self.rank)
        out = list(input_shape)
        for a, s in zip(_spatial_axes(self.data_format, self.rank), self.size):
            out[a] = None if out[a] is None else out[a] * s
        return tuple(out)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(size=list(self.size), data_format=self.data_format)
        return cfg


class UpSampling1D(_UpSampling):
    """(batch, steps, features) -> (batch, steps * size, features): each step repeated ``size`` times."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size, None, "nearest", **kwargs)

    def get_config(self):
        cfg = super().get_config()
        cfg["size"] = self.size[0]
        del cfg["data_format"]
        return cfg


class UpSampling2D(_UpSampling):
    """(batch, H, W, C) -> (batch, H * size[0], W * size[1], C); ``interpolation`` "nearest" or "bilinear"."""

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, interpolation, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        cfg["interpolation"] = self.interpolation
        return cfg


class UpSampling3D(_UpSampling):
    """(batch, D, H, W, C) -> (batch, D * size[0], H * size[1], W * size[2], C), nearest neighbour."""

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)


# ------------------------------------------------------------------------------------------ padding, cropping
class _PadOrCrop(Layer):
    rank = 0
    arg = ""

    def __init__(self, amounts, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(type(self).__name__, data_format)
        self._pairs = _pairs(type(self).__name__, self.arg, amounts, self.rank)

    def _full_pairs(self):
        """One (before, after) pair per axis of the input (0 on the batch and channel axes)."""
        pairs = [(0, 0)] * (self.rank + 2)
        for a, p in zip(_spatial_axes(self.data_format, self.rank), self._pairs):
            pairs[a] = p
        return pairs

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, self.rank)
        sign = 1 if self.arg == "padding" else -1
        out = []
        for d, (a, b) in zip(input_shape, self._full_pairs()):
            if d is None:
                out.append(None)
                continue
            n = d + sign * (a + b)
            if n <= 0 and a + b:
                raise ValueError(f"{self.name}: cropping {self._pairs} leaves nothing of inputs of shape "
                                 f"{tuple(input_shape)}")
            out.append(n)
        return tuple(out)

    def get_config(self):
        cfg = super().get_config()
        cfg[self.arg] = [list(p) for p in self._pairs] if self.rank > 1 else list(self._pairs[0])
        cfg["data_format"] = self.data_format
        return cfg


class _ZeroPadding(_PadOrCrop):
    """y = x with ``padding`` zeros added before and after each spatial axis.  dL/dx = g cropped back."""

    arg = "padding"

    @property
    def padding(self):
        return self._pairs if self.rank > 1 else self._pairs[0]

    def call(self, inputs, training=False):
        _check_rank(self, inputs.shape, self.rank)
        return pad(inputs, self._full_pairs())


class ZeroPadding1D(_ZeroPadding):
    """(batch, steps, features) -> (batch, left + steps + right, features); ``padding``: int or (left, right)."""

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Zeros around images: ``padding`` an int, (symmetric_h, symmetric_w), or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Zeros around volumes: ``padding`` an int, 3 ints, or 3 (before, after) pairs."""

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(_PadOrCrop):
    """y = x without ``cropping`` entries at the start and end of each spatial axis.
    dL/dx = g padded with zeros where the cropped entries were."""

    arg = "cropping"

    @property
    def cropping(self):
        return self._pairs if self.rank > 1 else self._pairs[0]

    def call(self, inputs, training=False):
        self.compute_output_shape(tuple(inputs.shape))
        index = tuple(slice(a, d - b) for d, (a, b) in zip(inputs.shape, self._full_pairs()))
        return inputs[index]


class Cropping1D(_Cropping):
    """(batch, steps, features) -> (batch, steps - start - end, features); ``cropping``: int or (start, end)."""

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, None, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        del cfg["data_format"]
        return cfg


class Cropping2D(_Cropping):
    """Crop images: ``cropping`` an int, (symmetric_h, symmetric_w), or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crop volumes: ``cropping`` an int, 3 ints, or 3 (start, end) pairs."""

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


# ------------------------------------------------------------------------------------------ RepeatVector, Permute
class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): y[:, t, :] = x for every t.  dL/dx = sum_t g[:, t, :]."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int("RepeatVector", "n", n)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: RepeatVector expects inputs of shape (batch, features), got "
                             f"{tuple(input_shape)}")
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs, training=False):
        self.compute_output_shape(tuple(inputs.shape))
        x = expand_dims(inputs, 1)
        return broadcast_to(x, (x.shape[0], self.n, x.shape[2]))

    def get_config(self):
        cfg = super().get_config()
        cfg["n"] = self.n
        return cfg


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is a permutation of 1..rank-1 (1-based, the batch axis
    stays first), e.g. Permute((2, 1)) turns (batch, steps, features) into (batch, features, steps).
    dL/dx = g permuted back."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)} (the batch axis 0 is not "
                             f"permuted), got {dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"{self.name}: Permute(dims={self.dims}) expects inputs of rank {len(self.dims) + 1}, "
                             f"got shape {tuple(input_shape)}")
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs, training=False):
        self.compute_output_shape(tuple(inputs.shape))
        return transpose(inputs, (0,) + self.dims)

    def get_config(self):
        cfg = super().get_config()
        cfg["dims"] = list(self.dims)
        return cfg


__all__ = [
    "Cropping1D", "Cropping2D", "Cropping3D", "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D",
    "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
]
