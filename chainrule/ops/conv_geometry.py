"""Shapes of an N-dimensional convolution: arguments, padding, output sizes, and the geometry
(strided window views, row blocks, padding and grouping) that the conv kernels share.

Layouts as in ``conv_kernels``: ``x`` is ``(N, *spatial, C_in)`` (channels_first is
transposed at the boundary), ``w`` is ``(*kernel, C_in // groups, C_out)``. No array math
beyond padding copies and views happens here; the kernels are in ``conv_kernels`` (forward)
and ``conv_grad_kernels`` (input and weight gradients).
"""
from __future__ import annotations

import itertools
import math

from ..backend import floatx_dtype, xp

#: Target size in bytes of the im2col / col2im buffer of one row block.
CHUNK_BYTES = 4 << 20

#: A batch cut into several blocks of whole samples is cut into a multiple of this many, of
#: equal size (give or take a sample), so that 1, 2 or 4 threads get equal shares.
BLOCK_MULTIPLE = 4

_PADDING_NAMES = ("valid", "same", "causal")


# ----------------------------------------------------------------------------- argument helpers

def _ntuple(value, n: int, name: str, op: str = "conv") -> tuple:
    if isinstance(value, (int, xp.integer)):
        value = (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value}")
    if any(v < 1 for v in value):
        raise ValueError(f"{op}: {name} must be positive, got {value}")
    return value


def resolve_padding(padding, in_spatial, kernel, strides=1, dilation=1, op: str = "conv") -> tuple:
    """Padding in any accepted form -> a tuple of ``(lo, hi)`` pairs, one per spatial dim.

    - ``"valid"``: no padding.
    - ``"same"`` (Keras/TensorFlow): the output has ``ceil(in / stride)`` positions; the total
      padding ``max((out - 1)*stride + (kernel - 1)*dilation + 1 - in, 0)`` is split with the
      odd element on the high side.
    - ``"causal"`` (Keras Conv1D): ``(kernel - 1)*dilation`` on the low side only.
    - an int ``p``: ``(p, p)`` everywhere; a tuple of ints: ``(p_i, p_i)`` per dim;
      a tuple of ``(lo, hi)`` pairs: as given.

    Errors name ``op``, the public operation being called.
    """
    nd = len(in_spatial)
    kernel = _ntuple(kernel, nd, "kernel size", op)
    strides = _ntuple(strides, nd, "strides", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    if isinstance(padding, str):
        name = padding.lower()
        if name == "valid":
            return ((0, 0),) * nd
        if name == "same":
            pairs = []
            for i, k, s, d in zip(in_spatial, kernel, strides, dilation):
                out = -(-i // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - i, 0)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        if name == "causal":
            return tuple(((k - 1) * d, 0) for k, d in zip(kernel, dilation))
        raise ValueError(f"{op}: unknown padding {padding!r}; known: {', '.join(_PADDING_NAMES)}, or ints")
    if isinstance(padding, (int, xp.integer)):
        pairs = ((int(padding), int(padding)),) * nd
    else:
        try:
            padding = tuple(padding)
            if len(padding) != nd:
                raise ValueError(f"{op}: padding {padding} has {len(padding)} entries for {nd} spatial dims")
            pairs = tuple((int(p), int(p)) if isinstance(p, (int, xp.integer)) else tuple(int(v) for v in p)
                          for p in padding)
        except TypeError:
            raise TypeError(f"{op}: padding must be 'valid', 'same', 'causal', an int, {nd} ints or {nd} (lo, hi) "
                            f"pairs, got {padding!r}") from None
    if any(len(p) != 2 or p[0] < 0 or p[1] < 0 for p in pairs):
        raise ValueError(f"{op}: padding must be non-negative (lo, hi) pairs, got {pairs}")
    return pairs


def conv_output_size(in_spatial, kernel, strides, padding, dilation) -> tuple:
    """Output spatial size: ``(in + lo + hi - (kernel - 1)*dilation - 1) // stride + 1`` per dim."""
    return tuple((i + lo + hi - (k - 1) * d - 1) // s + 1
                 for i, k, s, (lo, hi), d in zip(in_spatial, kernel, strides, padding, dilation))


def _compute_dtype(*arrays):
    """NumPy's promotion among the float operands (float32 stays float32); floatx() if none is float."""
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    return xp.result_type(*floats) if floats else floatx_dtype()


def _to_channels_last(a, data_format: str, op: str):
    if data_format == "channels_last":
        return a
    if data_format == "channels_first":
        return xp.moveaxis(a, 1, -1)
    raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")


def _from_channels_last(a, data_format: str):
    return a if data_format == "channels_last" else xp.ascontiguousarray(xp.moveaxis(a, -1, 1))


def _shape_to_channels_last(shape, data_format: str) -> tuple:
    shape = tuple(int(v) for v in shape)
    return shape if data_format == "channels_last" else (shape[0],) + shape[2:] + (shape[1],)


class _Geometry:
    """Everything about one convolution's shapes, validated once."""

    def __init__(self, op, x_shape, w_shape, strides, padding, dilation, groups):
        nd = len(x_shape) - 2
        if nd < 1 or len(w_shape) != nd + 2:
            raise ValueError(f"{op}: input {tuple(x_shape)} and kernel {tuple(w_shape)} must be (N, *spatial, C) "
                             f"and (*kernel, C_in // groups, C_out) with the same number of spatial dims")
        self.nd, self.groups = nd, int(groups)
        self.n, self.in_spatial, self.c_in = x_shape[0], tuple(x_shape[1:-1]), x_shape[-1]
        self.kernel, self.cg, self.c_out = tuple(w_shape[:nd]), w_shape[nd], w_shape[nd + 1]
        g = self.groups
        if g < 1 or self.c_out % g or self.cg * g != self.c_in:
            raise ValueError(f"{op}: input channels {self.c_in} and kernel {tuple(w_shape)} do not fit groups={g} "
                             f"(need C_in == groups * kernel.shape[-2] and C_out divisible by groups)")
        self.og = self.c_out // g
        self.strides = _ntuple(strides, nd, "strides", op)
        self.dilation = _ntuple(dilation, nd, "dilation", op)
        self.padding = resolve_padding(padding, self.in_spatial, self.kernel, self.strides, self.dilation, op)
        self.out_spatial = conv_output_size(self.in_spatial, self.kernel, self.strides, self.padding, self.dilation)
        if any(o < 1 for o in self.out_spatial):
            raise ValueError(f"{op}: input spatial size {self.in_spatial} (padding {self.padding}) is smaller than "
                             f"the kernel {self.kernel} with dilation {self.dilation}; output would be "
                             f"{self.out_spatial}")
        self.padded_spatial = tuple(i + lo + hi for i, (lo, hi) in zip(self.in_spatial, self.padding))
        self.ksize = math.prod(self.kernel)
        self.has_padding = any(p != (0, 0) for p in self.padding)
        self.depthwise = self.cg == 1 and g > 1
        self.kernel_offsets = list(itertools.product(*(range(k) for k in self.kernel)))

    @property
    def x_shape(self):
        return (self.n,) + self.in_spatial + (self.c_in,)

    @property
    def y_shape(self):
        return (self.n,) + self.out_spatial + (self.c_out,)

    def col_row_bytes(self, dtype):
        """Bytes of one im2col row: ``prod(kernel) * C_in`` elements."""
        return self.ksize * self.c_in * dtype.itemsize

    def windows(self, arr):
        """View ``(*lead, *out, *kernel, c)`` of a padded array ``(*lead, *padded, c)``, lead = 1 or 2 dims.

        Element ``[..., o, k, c]`` is ``arr[..., o*s + k*d, c]``; writable (each fixed k is overlap-free).
        """
        st = arr.strides
        lead = arr.ndim - self.nd - 1
        spatial = st[lead:-1]
        shape = arr.shape[:lead] + self.out_spatial + self.kernel + arr.shape[-1:]
        strides = (st[:lead] + tuple(a * s for a, s in zip(spatial, self.strides))
                   + tuple(a * d for a, d in zip(spatial, self.dilation)) + st[-1:])
        return xp.lib.stride_tricks.as_strided(arr, shape, strides, writeable=True)

    def windows_by_offset(self, arr):
        """View ``(*kernel, C, N, *out)`` of a padded ``(N, *padded, C)`` array: ``[k, c, n, o]`` is
        ``arr[n, o*s + k*d, c]`` (the window view with the kernel offset and channel axes first)."""
        nd = self.nd
        return self.windows(arr).transpose(tuple(range(nd + 1, 2 * nd + 2)) + (0,) + tuple(range(1, nd + 1)))

    def blocks(self, row_bytes):
        """``(n-slice, o1-slice)`` blocks of output rows, each row costing ``row_bytes`` of
        temporary, so that a block stays near ``CHUNK_BYTES`` (but holds at least one row of
        the first output dim of one sample); blocks of whole samples come in a multiple of
        ``BLOCK_MULTIPLE``, of equal size. The blocks never depend on the thread count, so
        sums over blocks (weight gradients) come out the same on one thread or several."""
        per_sample = math.prod(self.out_spatial) * row_bytes
        if per_sample <= CHUNK_BYTES:
            # As many blocks as CHUNK_BYTES asks for, rounded up to a multiple of BLOCK_MULTIPLE
            # and evened out: 64 samples at most 20 a block made 20, 20, 20, 4, so one of two
            # threads did 40 samples while the other did 24; now 16, 16, 16, 16.
            count = -(-self.n // max(1, CHUNK_BYTES // per_sample))
            if count > 1:
                count = min(self.n, -(-count // BLOCK_MULTIPLE) * BLOCK_MULTIPLE)
            edges = [i * self.n // count for i in range(count + 1)]
            for n0, n1 in zip(edges[:-1], edges[1:]):
                yield slice(n0, n1), slice(None)
            return
        o1 = self.out_spatial[0]
        rows = max(1, CHUNK_BYTES // (math.prod(self.out_spatial[1:]) * row_bytes))
        for n0 in range(self.n):
            for r0 in range(0, o1, rows):
                yield slice(n0, n0 + 1), slice(r0, min(o1, r0 + rows))

    def interior(self):
        """Index of the unpadded region in ``(N, *padded, C)``."""
        return (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(self.padding, self.in_spatial)) \
            + (slice(None),)

    def pad(self, x, dtype):
        """``x`` zero-padded, as a C-contiguous ``(N, *padded, C)`` array of ``dtype``."""
        if not self.has_padding:
            return xp.ascontiguousarray(x, dtype=dtype)
        out = xp.zeros((self.n,) + self.padded_spatial + (self.c_in,), dtype=dtype)
        out[self.interior()] = x
        return out

    def pad_grouped(self, x, dtype):
        """``x`` zero-padded and group-major: ``(G, N, *padded, Cg)``, C-contiguous.

        Group-major keeps each window row ``(kernel[-1], Cg)`` contiguous, so the im2col
        copy moves long runs even when ``Cg`` is small (and it is a free view for groups=1).
        """
        xg = xp.moveaxis(x.reshape(x.shape[:-1] + (self.groups, self.cg)), -2, 0)
        if not self.has_padding:
            return xp.ascontiguousarray(xg, dtype=dtype)
        out = xp.zeros((self.groups, self.n) + self.padded_spatial + (self.cg,), dtype=dtype)
        out[(slice(None),) + self.interior()] = xg
        return out

    def ungroup(self, arr_g):
        """Inverse of ``pad_grouped``: ``(G, N, *padded, Cg)`` -> cropped, contiguous ``(N, *in, C)``."""
        if self.has_padding:
            arr_g = arr_g[(slice(None),) + self.interior()]
        if self.groups == 1:
            return xp.ascontiguousarray(arr_g[0])
        return xp.ascontiguousarray(xp.moveaxis(arr_g, 0, -2)).reshape(self.x_shape)

    def crop(self, arr):
        """``(N, *padded, C)`` -> contiguous ``(N, *in, C)``."""
        return xp.ascontiguousarray(arr[self.interior()]) if self.has_padding else arr

    def weight_by_group(self, w, dtype):
        """``(*kernel, Cg, G*Og)`` -> ``(G, prod(kernel)*Cg, Og)`` (a view when possible)."""
        w = xp.asarray(w, dtype=dtype).reshape(self.ksize * self.cg, self.groups, self.og)
        return w.transpose(1, 0, 2)

    def rows_by_group(self, y, nsl, osl):
        """A block of a contiguous ``(N, *out, C_out)`` as a writable view ``(G, rows, Og)``."""
        return y[nsl, osl].reshape(-1, self.groups, self.og).transpose(1, 0, 2)


def _check_array(a, op, name):
    if not hasattr(a, "ndim") or not hasattr(a, "strides"):
        raise TypeError(f"{op}: {name} must be an ndarray, got {type(a).__name__}")


def _check_gy(op, gy, geo, w_shape):
    if tuple(gy.shape) != geo.y_shape:
        raise ValueError(f"{op}: gy has shape {tuple(gy.shape)}, expected {geo.y_shape} "
                         f"for input {geo.x_shape} and kernel {tuple(w_shape)}")


def _dense_groups(geo) -> bool:
    """Whether to run a grouped conv as one dense conv with a block-diagonal kernel.

    GEMMs with a handful of channels per group run far below BLAS's speed (measured: 32
    groups of 2 channels, 64 -> 64, 3x3: 61 ms grouped vs 28 ms dense), while from ~8
    channels per group the grouped GEMMs win; the dense conv must also stay small.
    """
    return (geo.groups > 1 and not geo.depthwise and geo.cg <= 4
            and geo.c_in * geo.c_out <= 128 * 128)


def _block_diagonal(w, geo, dtype):
    """``(*kernel, Cg, G*Og)`` -> the equivalent dense ``(*kernel, C_in, C_out)``, zero off the groups."""
    dense = xp.zeros(geo.kernel + (geo.c_in, geo.c_out), dtype=dtype)
    for g in range(geo.groups):
        dense[..., g * geo.cg:(g + 1) * geo.cg, g * geo.og:(g + 1) * geo.og] = w[..., g * geo.og:(g + 1) * geo.og]
    return dense


def _dense_geometry(op, geo, dtype, w=None):
    """The groups=1 geometry of ``_dense_groups`` (and the block-diagonal kernel, if w is given)."""
    dense = _Geometry(op, geo.x_shape, geo.kernel + (geo.c_in, geo.c_out), geo.strides, geo.padding,
                      geo.dilation, 1)
    return dense, (None if w is None else _block_diagonal(xp.asarray(w, dtype=dtype), geo, dtype))


#: Up to this many input channels (groups=1), im2col is built by kernel offset (``windows_by_offset``).
_MAX_CHANNELS_BY_OFFSET = 4


def _by_offset(geo) -> bool:
    """Whether to build im2col transposed, one copy per kernel offset and channel.

    The row-major im2col copies runs of ``kernel[-1] * C_in`` values (12 bytes for a 3x3 kernel on
    one float32 channel), far below what a memory copy needs to run at speed; transposed, each
    copy moves runs of ``out[-1]`` values (a whole output row, contiguous for C_in = 1, stride 1).
    """
    return geo.groups == 1 and geo.c_in <= _MAX_CHANNELS_BY_OFFSET


def _depthwise_blocks(geo, dtype):
    """Row blocks for the depthwise kernels, whose temporaries are about ``C_out`` values a row."""
    return geo.blocks(geo.c_out * dtype.itemsize)


# ----------------------------------------------------------------------------- transposed convolution

def conv_transpose_output_padding(output_padding, nd: int, strides, dilation, op: str = "conv_transpose"):
    """``output_padding`` as a tuple of ``nd`` ints (or None), checked: ``0 <= p < max(stride, dilation)``.

    The rule is PyTorch's (Keras, with no dilation, needs ``p < stride``): the extra positions
    must lie within one stride (or one dilated kernel step) of the last window, else they
    would be more than a padding of the output.
    """
    if output_padding is None:
        return None
    if isinstance(output_padding, (int, xp.integer)):
        output_padding = (int(output_padding),) * nd
    try:
        if isinstance(output_padding, str):
            raise TypeError
        value = tuple(int(p) for p in output_padding)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: output_padding must be None, an int or {nd} ints, got {output_padding!r}") from None
    if len(value) != nd:
        raise ValueError(f"{op}: output_padding must be an int or a tuple of {nd} ints, got {value}")
    strides = _ntuple(strides, nd, "strides", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    if any(p < 0 or p >= max(s, d) for p, s, d in zip(value, strides, dilation)):
        raise ValueError(f"{op}: output_padding {value} must be >= 0 and smaller than the stride or the dilation "
                         f"in each dim (strides {strides}, dilation {dilation})")
    return value


def conv_transpose_output_size(in_spatial, kernel, strides=1, padding="valid", dilation=1,
                               output_padding=None) -> tuple:
    """Output spatial size of a transposed convolution, as Keras computes it (``deconv_output_length``).

    With ``dk = (kernel - 1)*dilation + 1`` and no ``output_padding``:
    ``"valid"``: ``in*stride + max(dk - stride, 0)``; ``"same"``: ``in*stride``.
    With ``output_padding`` (and for int padding ``p``, as PyTorch):
    ``(in - 1)*stride + dk - lo - hi + output_padding``, where ``"same"`` counts ``dk // 2`` a side
    (for the size only: where the window sits is ``conv_transpose_placement``'s).
    """
    nd = len(in_spatial)
    kernel = _ntuple(kernel, nd, "kernel size", "conv_transpose")
    strides = _ntuple(strides, nd, "strides", "conv_transpose")
    dilation = _ntuple(dilation, nd, "dilation", "conv_transpose")
    dk = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    name = padding.lower() if isinstance(padding, str) else None
    if output_padding is None and name in ("valid", "same"):
        if name == "valid":
            return tuple(i * s + max(k - s, 0) for i, k, s in zip(in_spatial, dk, strides))
        return tuple(i * s for i, s in zip(in_spatial, strides))
    op = conv_transpose_output_padding(output_padding, nd, strides, dilation) or (0,) * nd
    if name == "same":
        pads = tuple((k // 2, k // 2) for k in dk)
    else:
        pads = resolve_padding(padding, in_spatial, kernel, strides, dilation, "conv_transpose")
    return tuple((i - 1) * s + k - lo - hi + p for i, s, k, (lo, hi), p in zip(in_spatial, strides, dk, pads, op))


def conv_transpose_placement(in_spatial, kernel, strides=1, padding="valid", dilation=1, output_padding=None,
                             op: str = "conv_transpose") -> tuple:
    """Where a transposed convolution's output window sits: ``(out, pads, computed)``.

    The full transposed convolution of an input of size ``in`` has ``full = (in - 1)*s + dk``
    positions. The output is its ``out`` positions (``conv_transpose_output_size``) from ``lo``
    on, zeros past ``full``: ``y[t] = full_y[lo + t]``. ``lo`` is the low padding of the forward
    conv whose gradient this is: for ``"same"``, TensorFlow's ``"same"`` padding of a conv from
    ``out`` back to ``in`` (``pad_total = max((ceil(out/s) - 1)*s + dk - out, 0)``,
    ``lo = pad_total // 2``), which is what Keras's TensorFlow backend computes, with or without
    ``output_padding``; 0 for ``"valid"``; the given ``lo`` for explicit padding (PyTorch's rule).

    ``pads`` are the ``(lo, hi)`` of that forward conv, from ``computed`` (the input size it is
    run with) to ``in``: ``hi = full - lo - out`` (clipped at 0; the positions past the last
    window get 0). Where ``out`` reaches a stride or more past ``full`` (``output_padding`` of
    a stride or more, which a dilation allows), ``computed = full - lo`` and the caller appends
    the ``out - computed`` zeros.
    """
    nd = len(in_spatial)
    kernel = _ntuple(kernel, nd, "kernel size", op)
    strides = _ntuple(strides, nd, "strides", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    output_padding = conv_transpose_output_padding(output_padding, nd, strides, dilation, op)
    out = conv_transpose_output_size(in_spatial, kernel, strides, padding, dilation, output_padding)
    name = padding.lower() if isinstance(padding, str) else None
    if name == "same":
        lows = tuple(lo for lo, _ in resolve_padding("same", out, kernel, strides, dilation, op))
    else:
        lows = tuple(lo for lo, _ in resolve_padding(padding, in_spatial, kernel, strides, dilation, op))
    pads, computed = [], []
    for i, o, k, s, d, lo in zip(in_spatial, out, kernel, strides, dilation, lows):
        full = (i - 1) * s + (k - 1) * d + 1
        hi = full - lo - o
        if hi > -s:
            pads.append((lo, max(hi, 0)))
            computed.append(o)
        else:
            pads.append((lo, 0))
            computed.append(full - lo)
    if any(c < 1 for c in computed):
        raise ValueError(f"{op}: input spatial size {tuple(in_spatial)} with kernel {kernel}, strides {strides}, "
                         f"dilation {dilation} and padding {padding!r} gives an empty output {out}")
    return out, tuple(pads), tuple(computed)
