"""Pooling layers for any number of spatial dimensions, with Keras's arguments and output shapes.

MaxPooling: y = max over each window.  AveragePooling: y = mean over each window
(counting only real elements when padding="same", as Keras). Global pooling reduces
all spatial positions to one value per channel. No weights.
"""
from __future__ import annotations

from ..ops import pool as pool_ops
from ..ops.conv_geometry import conv_output_size, resolve_padding
from .base import Layer
from .core import check_window_fits, positive_ints


class PoolingND(Layer):
    """N-D pooling over ``rank`` spatial dims; ``strides`` defaults to ``pool_size``."""

    mode = "max"

    def __init__(self, rank, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.rank = int(rank)
        self.pool_size = positive_ints(pool_size, self.rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else positive_ints(strides, self.rank, "strides", cls)
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ValueError(f"{cls}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{cls}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")

    def build(self, input_shape):
        if len(input_shape) == self.rank + 2:
            self.compute_output_shape(tuple(input_shape))    # refuses a window larger than the input
        self.built = True

    def call(self, inputs, training=False):
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{self.name}: expected inputs of rank {self.rank + 2} (batch, {self.rank} spatial dims, channels), "
                f"got shape {tuple(inputs.shape)}"
            )
        fn = pool_ops.max_pool if self.mode == "max" else pool_ops.avg_pool
        return fn(inputs, self.pool_size, self.strides, self.padding, self.data_format)

    def compute_output_shape(self, input_shape):
        """Keras's output shape; a spatial size that is None (unknown) stays None."""
        last = self.data_format == "channels_last"
        spatial = tuple(input_shape[1:-1]) if last else tuple(input_shape[2:])
        out = ()
        for size, p, s in zip(spatial, self.pool_size, self.strides):
            if size is None:
                out += (None,)
            else:
                out += conv_output_size((size,), (p,), (s,), resolve_padding(self.padding, (size,), p, s, 1), (1,))
        check_window_fits(self, input_shape, spatial, out, "pool_size", self.pool_size, strides=self.strides,
                          padding=self.padding)
        return (input_shape[0],) + out + (input_shape[-1],) if last else tuple(input_shape[:2]) + out

    def get_config(self):
        cfg = super().get_config()
        cfg.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding,
                   data_format=self.data_format)
        if type(self) in (MaxPoolingND, AveragePoolingND):
            cfg["rank"] = self.rank
        return cfg


class MaxPoolingND(PoolingND):
    mode = "max"


class AveragePoolingND(PoolingND):
    mode = "avg"


def _fixed_rank(base, rank, default_pool, doc):
    class Pool(base):
        __doc__ = doc

        def __init__(self, pool_size=default_pool, strides=None, padding="valid", data_format=None, **kwargs):
            super().__init__(rank, pool_size, strides, padding, data_format, **kwargs)

    return Pool


class MaxPooling1D(_fixed_rank(MaxPoolingND, 1, 2, "1-D max pooling over (batch, steps, channels).")):
    pass


class MaxPooling2D(_fixed_rank(MaxPoolingND, 2, (2, 2), "2-D max pooling over (batch, height, width, channels).")):
    pass


class MaxPooling3D(_fixed_rank(MaxPoolingND, 3, (2, 2, 2), "3-D max pooling over volumes.")):
    pass


class AveragePooling1D(_fixed_rank(AveragePoolingND, 1, 2, "1-D average pooling.")):
    pass


class AveragePooling2D(_fixed_rank(AveragePoolingND, 2, (2, 2), "2-D average pooling.")):
    pass


class AveragePooling3D(_fixed_rank(AveragePoolingND, 3, (2, 2, 2), "3-D average pooling.")):
    pass


class GlobalPooling(Layer):
    """Reduce every spatial position to one value per channel: (N, *spatial, C) -> (N, C)."""

    mode = "avg"
    rank = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{type(self).__name__}: data_format must be 'channels_last' or 'channels_first'")
        self.keepdims = bool(keepdims)

    def call(self, inputs, training=False):
        if self.rank is not None and inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{self.name}: expected inputs of rank {self.rank + 2}, got shape {tuple(inputs.shape)}"
            )
        fn = pool_ops.global_avg_pool if self.mode == "avg" else pool_ops.global_max_pool
        return fn(inputs, self.data_format, self.keepdims)

    def compute_output_shape(self, input_shape):
        last = self.data_format == "channels_last"
        c = input_shape[-1] if last else input_shape[1]
        if not self.keepdims:
            return (input_shape[0], c)
        ones = (1,) * (len(input_shape) - 2)
        return (input_shape[0],) + ones + (c,) if last else (input_shape[0], c) + ones

    def get_config(self):
        cfg = super().get_config()
        cfg.update(data_format=self.data_format, keepdims=self.keepdims)
        return cfg


class GlobalAveragePooling1D(GlobalPooling):
    mode, rank = "avg", 1


class GlobalAveragePooling2D(GlobalPooling):
    mode, rank = "avg", 2


class GlobalAveragePooling3D(GlobalPooling):
    mode, rank = "avg", 3


class GlobalMaxPooling1D(GlobalPooling):
    mode, rank = "max", 1


class GlobalMaxPooling2D(GlobalPooling):
    mode, rank = "max", 2


class GlobalMaxPooling3D(GlobalPooling):
    mode, rank = "max", 3


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
