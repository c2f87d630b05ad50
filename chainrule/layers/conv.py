"""Convolution layers for any number of spatial dimensions: Conv1D, Conv2D, Conv3D, ConvND(rank)
and Conv2DTranspose (ConvNDTranspose), with Keras's arguments, layouts and output shapes.

y = activation(conv(x, kernel) + bias), kernel of shape (*kernel_size, in_channels // groups, filters)
(Keras's layout) and bias (filters,); images are channels_last by default, as Keras.
Parameters: prod(kernel_size) * in_channels // groups * filters + filters.
"""
from __future__ import annotations

from .. import activations, initializers, regularizers
from ..ops import conv as conv_ops
from ..ops.conv_geometry import (
    conv_output_size, conv_transpose_output_padding, conv_transpose_output_size, resolve_padding,
)
from .base import Layer
from .core import _as_float, check_window_fits, ignored_constraint, positive_ints, serialize_or_keep


class ConvND(Layer):
    r"""N-D convolution layer (``rank`` spatial dims: 1, 2, 3, 4, ...).

    Math:
        $$y_{\mathbf t, f} = \phi\Bigl(b_f + \sum_{\mathbf i} \sum_{c} x_{\mathbf s \odot \mathbf t + \mathbf d \odot \mathbf i,\, c}\; w_{\mathbf i, c, f}\Bigr)$$
    """

    transpose = False

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, output_padding=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        self.rank = int(rank)
        if self.rank < 1:
            raise ValueError(f"{cls}: rank must be >= 1, got {rank}")
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{cls}: filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = positive_ints(kernel_size, self.rank, "kernel_size", cls)
        self.strides = positive_ints(strides, self.rank, "strides", cls)
        self.dilation_rate = positive_ints(dilation_rate, self.rank, "dilation_rate", cls)
        if isinstance(padding, str):
            padding = padding.lower()
            known = ("valid", "same", "causal") if self.rank == 1 and not self.transpose else ("valid", "same")
            if padding not in known:
                raise ValueError(f"{cls}: padding must be {' or '.join(map(repr, known))} (or explicit ints), "
                                 f"got {padding!r}")
        self.padding = padding
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{cls}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.groups = int(groups)
        if self.groups < 1 or filters % self.groups:
            raise ValueError(f"{cls}: filters ({filters}) must be divisible by groups ({groups})")
        if self.transpose:
            self.output_padding = conv_transpose_output_padding(output_padding, self.rank, self.strides,
                                                                self.dilation_rate, cls)
        elif output_padding is not None:
            raise TypeError(f"{cls}: output_padding applies to transposed convolutions only, got {output_padding!r}")
        else:
            self.output_padding = None
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        ignored_constraint(cls, "kernel_constraint", kernel_constraint)
        ignored_constraint(cls, "bias_constraint", bias_constraint)
        self.kernel = None
        self.bias = None

    def _channels(self, shape):
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def _spatial(self, shape):
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def build(self, input_shape):
        cls = type(self).__name__
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self.name}: {cls} expects inputs of rank {self.rank + 2} (batch, {self.rank} spatial dims, "
                f"channels), got shape {tuple(input_shape)}"
            )
        c_in = self._channels(input_shape)
        if c_in is None:
            raise ValueError(f"{self.name}: the channel axis of the input must have a known size")
        self.compute_output_shape(tuple(input_shape))        # refuses a kernel larger than the input
        if self.transpose:
            shape = self.kernel_size + (self.filters // self.groups, c_in)
        else:
            if c_in % self.groups:
                raise ValueError(f"{self.name}: input channels ({c_in}) must be divisible by groups ({self.groups})")
            shape = self.kernel_size + (c_in // self.groups, self.filters)
        self.kernel = self.add_weight("kernel", shape, self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def _check_input(self, x):
        expected = self.kernel.shape[-1] if self.transpose else self.kernel.shape[-2] * self.groups
        if x.ndim != self.rank + 2 or self._channels(x.shape) != expected:
            raise ValueError(
                f"{self.name}: expected inputs of rank {self.rank + 2} with {expected} channels "
                f"({self.data_format}), got shape {tuple(x.shape)}"
            )

    def call(self, inputs, training=False):
        self._check_input(inputs)
        x = _as_float(self, inputs, self.kernel.data.dtype)
        if self.transpose:
            y = conv_ops.conv_transpose(x, self.kernel, self.bias, self.strides, self.padding, self.output_padding,
                                        self.dilation_rate, self.groups, self.data_format)
        elif self.activation is activations.relu:      # relu(conv + bias) fused into one op
            return conv_ops.conv(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
                                 self.groups, self.data_format, activation="relu")
        else:
            y = conv_ops.conv(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, self.groups,
                              self.data_format)
        if self.activation is not activations.linear:
            y = self.activation(y)
        return y

    def compute_output_shape(self, input_shape):
        """Keras's output shape; a spatial size that is None (unknown) stays None."""
        spatial = self._spatial(input_shape)
        out = []
        for i, size in enumerate(spatial):
            if size is None:
                out.append(None)
                continue
            dim = lambda v: (v[i],)  # noqa: E731   (one dim of a per-dim tuple)
            padding = self.padding if isinstance(self.padding, (str, int)) else dim(self.padding)
            k, s, d = dim(self.kernel_size), dim(self.strides), dim(self.dilation_rate)
            if self.transpose:
                op = None if self.output_padding is None else dim(self.output_padding)
                out += conv_transpose_output_size((size,), k, s, padding, d, op)
            else:
                out += conv_output_size((size,), k, s, resolve_padding(padding, (size,), k, s, d), d)
        check_window_fits(self, input_shape, spatial, out, "kernel_size", self.kernel_size, strides=self.strides,
                          dilation_rate=self.dilation_rate, padding=self.padding)
        n = input_shape[0]
        if self.data_format == "channels_last":
            return (n,) + tuple(out) + (self.filters,)
        return (n, self.filters) + tuple(out)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
            padding=self.padding if isinstance(self.padding, str) else _jsonable(self.padding),
            data_format=self.data_format, dilation_rate=list(self.dilation_rate), groups=self.groups,
            activation=activations.serialize(self.activation), use_bias=self.use_bias,
            kernel_initializer=serialize_or_keep(self.kernel_initializer, initializers),
            bias_initializer=serialize_or_keep(self.bias_initializer, initializers),
            kernel_regularizer=serialize_or_keep(self.kernel_regularizer, regularizers),
            bias_regularizer=serialize_or_keep(self.bias_regularizer, regularizers),
        )
        if type(self) in (ConvND, ConvNDTranspose):
            cfg["rank"] = self.rank
        if self.transpose:
            cfg["output_padding"] = _jsonable(self.output_padding)
        return cfg


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Conv1D(ConvND):
    """1-D convolution over (batch, steps, channels), e.g. sequences and signals."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, **kwargs)


class Conv2D(ConvND):
    """2-D convolution over (batch, height, width, channels) images."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, **kwargs)


class Conv3D(ConvND):
    """3-D convolution over (batch, depth, height, width, channels) volumes."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, **kwargs)


class ConvNDTranspose(ConvND):
    """N-D transposed convolution ("deconvolution"): the gradient of a convolution as a layer.

    Kernel layout (Keras): (*kernel_size, filters // groups, in_channels).
    """

    transpose = True


class Conv1DTranspose(ConvNDTranspose):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, **kwargs)


class Conv2DTranspose(ConvNDTranspose):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, **kwargs)


class Conv3DTranspose(ConvNDTranspose):
    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", **kwargs):
        super().__init__(3, filters, kernel_size, strides, padding, **kwargs)


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
