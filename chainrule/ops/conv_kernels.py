"""Array kernels for N-dimensional convolution: forward, input gradient, weight gradient.

Plain functions on ndarrays (no autograd); the conv ``Function`` wraps them.
Any number of spatial dimensions works (1-D, 2-D, 3-D, 4-D, ...).

Layouts (Keras's, so the default channels_last layer needs no transposes):

- ``x``: ``(N, *spatial, C_in)``; ``data_format="channels_first"`` takes and
  returns ``(N, C, *spatial)`` instead (transposed at the boundary).
- ``w``: ``(*kernel, C_in // groups, C_out)`` whatever the data format.
  A PyTorch weight ``(C_out, C_in // groups, *kernel)`` converts with
  ``w.transpose(*range(2, w.ndim), 1, 0)``.

The math, with ``s`` the strides, ``d`` the dilation, ``x_p`` the zero-padded
input, and group ``g`` owning input channels ``g*Cg .. g*Cg+Cg-1`` and output
channels ``g*Og .. g*Og+Og-1``::

    y[n, o, g*Og+m]  = sum_{k, c} x_p[n, o*s + k*d, g*Cg+c] * w[k, c, g*Og+m]
    dL/dw[k, c, g*Og+m] = sum_{n, o} x_p[n, o*s + k*d, g*Cg+c] * gy[n, o, g*Og+m]
    dL/dx_p[n, i, g*Cg+c] = sum_{(o, k): o*s + k*d = i} sum_m gy[n, o, g*Og+m] * w[k, c, g*Og+m]

and ``dL/dx`` is ``dL/dx_p`` with the padding cropped off. The input gradient
is the transposed convolution of ``gy`` with ``w``.

How it is fast: the windows of ``x_p`` (group-major, ``(G, N, *padded, Cg)``)
are an ``as_strided`` view ``(G, N, *out, *kernel, Cg)``; a block of rows of it
is copied into a contiguous "im2col" buffer and multiplied by the weight in one
BLAS GEMM per block (batched over the groups). Blocks run over the batch (and,
for a single huge sample, over the first output dimension) so the buffer stays
near ``CHUNK_BYTES``: small enough to stay in cache, which measured ~1.5x faster
than one whole-batch im2col (and bounds the memory). The input gradient is the
mirror: a GEMM ``gy @ w^T`` per block, then "col2im" as ``prod(kernel)``
vectorised adds (no ``np.add.at``); with stride 1 those adds are made contiguous
(``_input_grad_flat``). Channels-last won over channels-first: the im2col rows
``(kernel[-1], C)`` are contiguous runs, and the GEMM writes y in place.

Two special cases where per-group GEMMs would be tiny: depthwise convs (one input
channel per group) are one einsum over the window view per block, and groups of
at most 4 channels run as one dense conv with a block-diagonal kernel.
"""
from __future__ import annotations

import itertools
import math

from ..backend import floatx_dtype, xp

#: Target size in bytes of the im2col / col2im buffer (the largest temporary).
CHUNK_BYTES = 4 << 20

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

    def blocks(self, row_bytes):
        """``(n-slice, o1-slice)`` blocks of output rows, each row costing ``row_bytes`` of
        temporary, so that a block stays near ``CHUNK_BYTES`` (but holds at least one row of
        the first output dim of one sample)."""
        per_sample = math.prod(self.out_spatial) * row_bytes
        if per_sample <= CHUNK_BYTES:
            nb = max(1, CHUNK_BYTES // per_sample)
            for n0 in range(0, self.n, nb):
                yield slice(n0, min(self.n, n0 + nb)), slice(None)
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


# ----------------------------------------------------------------------------- forward

def conv_forward(x, w, strides=1, padding="valid", dilation=1, groups=1, data_format="channels_last",
                 bias=None, relu=False):
    """N-D convolution (cross-correlation, as in Keras and PyTorch).

    ``y[n, o, g*Og+m] = sum_{k, c} x_p[n, o*s + k*d, g*Cg+c] * w[k, c, g*Og+m]``

    x: ``(N, *spatial, C_in)`` (or ``(N, C_in, *spatial)`` with channels_first);
    w: ``(*kernel, C_in // groups, C_out)``; returns ``(N, *out, C_out)`` (or channels_first),
    ``out = (in + lo + hi - (kernel-1)*dilation - 1) // stride + 1``, in the dtype of x and w.
    Gradients: ``conv_input_grad`` (w.r.t. x) and ``conv_weight_grad`` (w.r.t. w).
    Largest temporary: the padded input, plus an im2col buffer of about ``CHUNK_BYTES``
    (at least one output row of one sample: ``prod(out[1:]) * prod(kernel) * C_in`` elements).

    Epilogue: with ``bias`` (shape ``(C_out,)``) ``y += bias``, then with ``relu``
    ``y = max(y, 0)``, applied to each block of GEMM output right after it is written, while
    it is still in cache, instead of as two more passes over the whole output.
    """
    _check_array(x, "conv", "x"), _check_array(w, "conv", "w")
    x = _to_channels_last(x, data_format, "conv")
    geo = _Geometry("conv", x.shape, w.shape, strides, padding, dilation, groups)
    dtype = _compute_dtype(x, w)
    if geo.depthwise:
        y = _depthwise_forward(x, w, geo, dtype)
        _epilogue(y, None if bias is None else xp.asarray(bias, dtype=dtype), relu)  # y is (N, ...): broadcasts
        return _from_channels_last(y, data_format)
    if _dense_groups(geo):
        geo, w = _dense_geometry("conv", geo, dtype, w)
    wg = geo.weight_by_group(w, dtype)
    bias_g = None if bias is None else xp.asarray(bias, dtype=dtype).reshape(geo.groups, 1, geo.og)
    win = geo.windows(geo.pad_grouped(x, dtype))
    y = xp.empty(geo.y_shape, dtype=dtype)
    buf = epi = None
    row_bytes = geo.col_row_bytes(dtype)
    if bias is not None or relu:          # keep the block of output in cache too, for the epilogue
        row_bytes += geo.c_out * dtype.itemsize
    for nsl, osl in geo.blocks(row_bytes):
        view = win[:, nsl, osl]
        if buf is None or buf.size < view.size:
            buf = xp.empty(view.size, dtype=dtype)
        col = buf[:view.size].reshape(view.shape)
        xp.copyto(col, view)
        out = geo.rows_by_group(y, nsl, osl)
        xp.matmul(col.reshape(geo.groups, -1, geo.ksize * geo.cg), wg, out=out)
        if bias_g is not None or relu:
            epi = _epilogue(out, bias_g, relu, epi)
    return _from_channels_last(y, data_format)


def _epilogue(out, bias, relu, rows=None):
    """In place: ``out += bias`` (over the last axis), then ``out = max(out, 0)``.

    NumPy runs a ufunc with a broadcast (stride-0) operand -- a bias row over a 32-channel
    last axis, or the scalar 0 -- 3-5x slower than on two contiguous arrays of the same
    shape, so for an output block ``(1, r, C)`` the bias is tiled into a ``(R, C)`` matrix
    (and zeros made alike) once per call and reused for every block: ``rows`` carries them
    from block to block (returned; ``None`` to start).
    """
    if out.ndim != 3 or out.shape[0] != 1 or not out.flags.c_contiguous:   # grouped blocks, depthwise: broadcast
        if bias is not None:
            out += bias
        if relu:
            xp.maximum(out, 0, out=out)
        return rows
    flat = out.reshape(out.shape[1], out.shape[2])
    r = flat.shape[0]
    if rows is None or rows[0].shape[0] < r:
        tiled = None if bias is None else xp.ascontiguousarray(xp.broadcast_to(bias.reshape(1, -1), flat.shape))
        zeros = xp.zeros(flat.shape, dtype=flat.dtype) if relu else None
        rows = (tiled if tiled is not None else zeros, tiled, zeros)
    _, tiled, zeros = rows
    if tiled is not None:
        xp.add(flat, tiled[:r], out=flat)
    if relu:
        xp.maximum(flat, zeros[:r], out=flat)
    return rows


# ----------------------------------------------------------------------------- gradients

def conv_input_grad(gy, w, x_shape, strides=1, padding="valid", dilation=1, groups=1,
                    data_format="channels_last"):
    """Gradient of ``conv_forward`` with respect to x: the transposed convolution of gy with w.

    ``dL/dx_p[n, i, g*Cg+c] = sum_{(o, k): o*s + k*d = i} sum_m gy[n, o, g*Og+m] * w[k, c, g*Og+m]``,
    cropped to ``x_shape``; input positions that no window reaches (when
    ``(in + lo + hi - dilated kernel) % stride != 0``) get 0.
    Per row block: a GEMM ``dcol = gy @ w^T`` (``(rows, Og) x (Og, prod(kernel)*Cg)`` per group),
    then ``prod(kernel)`` vectorised adds of ``dcol`` into the padded gradient.
    Largest temporary: the padded gradient, plus a buffer of about ``CHUNK_BYTES``.
    """
    _check_array(gy, "conv_input_grad", "gy"), _check_array(w, "conv_input_grad", "w")
    gy = _to_channels_last(gy, data_format, "conv_input_grad")
    x_shape = _shape_to_channels_last(x_shape, data_format)
    geo = _Geometry("conv_input_grad", x_shape, w.shape, strides, padding, dilation, groups)
    _check_gy("conv_input_grad", gy, geo, w.shape)
    dtype = _compute_dtype(gy, w)
    gy = xp.ascontiguousarray(gy, dtype=dtype)
    if _dense_groups(geo):
        geo, w = _dense_geometry("conv_input_grad", geo, dtype, w)
    if geo.depthwise:
        gx = _depthwise_input_grad(gy, w, geo, dtype)
    elif geo.strides == (1,) * geo.nd and geo.cg >= _MIN_CHANNELS_FLAT:
        gx = geo.crop(_input_grad_flat(gy, w, geo, dtype))
    else:
        gx = _input_grad_col2im(gy, w, geo, dtype)
    return _from_channels_last(gx, data_format)


#: Below this many input channels per group, col2im beats the flat stride-1 input gradient.
_MIN_CHANNELS_FLAT = 4


def _input_grad_col2im(gy, w, geo, dtype):
    """Any strides: ``dcol = gy @ w^T`` per block, then one strided add per kernel offset."""
    wg_t = geo.weight_by_group(w, dtype).transpose(0, 2, 1)          # (G, Og, K*Cg)
    gx_g = xp.zeros((geo.groups, geo.n) + geo.padded_spatial + (geo.cg,), dtype=dtype)
    win = geo.windows(gx_g)
    lead = (slice(None),) * (2 + geo.nd)
    buf = None
    for nsl, osl in geo.blocks(geo.col_row_bytes(dtype)):
        view = win[:, nsl, osl]
        if buf is None or buf.size < view.size:
            buf = xp.empty(view.size, dtype=dtype)
        dcol = buf[:view.size].reshape(geo.groups, -1, geo.ksize * geo.cg)
        xp.matmul(geo.rows_by_group(gy, nsl, osl), wg_t, out=dcol)
        dcol = dcol.reshape(view.shape)
        for k in geo.kernel_offsets:
            # For a fixed kernel offset the target positions are distinct, so a plain += is exact.
            view[lead + k] += dcol[lead + k]
    return geo.ungroup(gx_g)


def _input_grad_flat(gy, w, geo, dtype):
    """Stride 1: the col2im adds become contiguous.

    Lay gy out "extended": in every spatial dim but the first, as wide as the padded input
    (zeros beyond the output), so that the output row of flat index j and kernel offset k
    land on padded-input flat index ``j + off_k`` with ``off_k = sum_i k_i*d_i*pitch_i``.
    Then ``D_k = gy_ext @ w_k^T`` is added to one contiguous range per sample, for each k.
    Costs ``prod(padded[1:]) / prod(out[1:])`` more GEMM rows; saves the strided adds.
    """
    nd, groups, og, cg, c_in, ksize = geo.nd, geo.groups, geo.og, geo.cg, geo.c_in, geo.ksize
    padded, out = geo.padded_spatial, geo.out_spatial
    pitch = [math.prod(padded[i + 1:]) for i in range(nd)]
    row_extent = sum((o - 1) * p for o, p in zip(out[1:], pitch[1:])) + 1
    offsets = [sum(k * d * p for k, d, p in zip(ks, geo.dilation, pitch)) for ks in geo.kernel_offsets]
    w_t = xp.asarray(w, dtype=dtype).reshape(ksize, cg, groups, og).transpose(0, 2, 3, 1)   # (K, G, Og, Cg)
    gx_p = xp.zeros((geo.n, math.prod(padded), c_in), dtype=dtype)
    inner = (slice(None), slice(None)) + tuple(slice(0, o) for o in out[1:])
    ext = dbuf = None
    for nsl, osl in geo.blocks(geo.col_row_bytes(dtype)):
        r0, r1, _ = osl.indices(out[0])
        gyb = gy[nsl, r0:r1]
        nb = gyb.shape[0]
        ext_shape = (nb, r1 - r0) + padded[1:] + (groups, og)
        rows = nb * (r1 - r0) * pitch[0]
        if ext is None or ext.shape != ext_shape:
            ext = xp.zeros(ext_shape, dtype=dtype)       # the zeros beyond out[1:] are never overwritten
            dbuf = xp.empty((ksize, rows, groups, cg), dtype=dtype)
        ext[inner] = gyb.reshape(gyb.shape[:-1] + (groups, og))
        xp.matmul(ext.reshape(1, rows, groups, og).transpose(0, 2, 1, 3), w_t, out=dbuf.transpose(0, 2, 1, 3))
        d = dbuf.reshape(ksize, nb, -1, c_in)
        base, extent = r0 * pitch[0], (r1 - r0 - 1) * pitch[0] + row_extent
        for k, off in enumerate(offsets):
            target = gx_p[nsl, base + off: base + off + extent]
            xp.add(target, d[k, :, :extent], out=target)
    return gx_p.reshape((geo.n,) + padded + (c_in,))


def conv_weight_grad(x, gy, w_shape, strides=1, padding="valid", dilation=1, groups=1,
                     data_format="channels_last"):
    """Gradient of ``conv_forward`` with respect to w.

    ``dL/dw[k, c, g*Og+m] = sum_{n, o} x_p[n, o*s + k*d, g*Cg+c] * gy[n, o, g*Og+m]``
    computed per row block as ``col^T @ gy`` (``(prod(kernel)*Cg, rows) x (rows, Og)`` per group),
    summed over blocks. Returns ``w_shape`` = ``(*kernel, C_in // groups, C_out)``.
    Largest temporary: the padded input, plus an im2col buffer of about ``CHUNK_BYTES``.
    """
    _check_array(x, "conv_weight_grad", "x"), _check_array(gy, "conv_weight_grad", "gy")
    x = _to_channels_last(x, data_format, "conv_weight_grad")
    gy = _to_channels_last(gy, data_format, "conv_weight_grad")
    w_shape = tuple(int(v) for v in w_shape)
    geo = _Geometry("conv_weight_grad", x.shape, w_shape, strides, padding, dilation, groups)
    _check_gy("conv_weight_grad", gy, geo, w_shape)
    dtype = _compute_dtype(x, gy)
    gy = xp.ascontiguousarray(gy, dtype=dtype)
    if geo.depthwise:
        return _depthwise_weight_grad(x, gy, geo, dtype)
    if _dense_groups(geo):
        dense, _ = _dense_geometry("conv_weight_grad", geo, dtype)
        gw = _weight_grad_gemm(x, gy, dense, dtype)
        return xp.concatenate([gw[..., g * geo.cg:(g + 1) * geo.cg, g * geo.og:(g + 1) * geo.og]
                               for g in range(geo.groups)], axis=-1)
    return _weight_grad_gemm(x, gy, geo, dtype)


def _weight_grad_gemm(x, gy, geo, dtype):
    win = geo.windows(geo.pad_grouped(x, dtype))
    gw = xp.zeros((geo.groups, geo.ksize * geo.cg, geo.og), dtype=dtype)
    part = xp.empty_like(gw)
    buf = None
    for nsl, osl in geo.blocks(geo.col_row_bytes(dtype)):
        view = win[:, nsl, osl]
        if buf is None or buf.size < view.size:
            buf = xp.empty(view.size, dtype=dtype)
        col = buf[:view.size].reshape(view.shape)
        xp.copyto(col, view)
        col = col.reshape(geo.groups, -1, geo.ksize * geo.cg)
        xp.matmul(col.transpose(0, 2, 1), geo.rows_by_group(gy, nsl, osl), out=part)
        gw += part
    return xp.ascontiguousarray(gw.transpose(1, 0, 2)).reshape(geo.kernel + (geo.cg, geo.c_out))


# ----------------------------------------------------------------------------- depthwise

def _depthwise_blocks(geo, dtype):
    return geo.blocks(geo.c_out * dtype.itemsize)


def _depthwise_forward(x, w, geo, dtype):
    """``y[n, o, c, m] = sum_k x_p[n, o*s + k*d, c] * w[k, 0, c*M + m]``, one einsum over the
    window view per block of rows (a GEMM per group would have a 1-wide inner dim)."""
    mult = geo.og
    win = geo.windows(geo.pad(x, dtype))                         # (N, *out, *K, C)
    y = xp.empty(geo.y_shape, dtype=dtype)
    rows, ks = "abcdefgh"[:geo.nd + 1], "ijklmnop"[:geo.nd]
    if mult == 1:
        spec, wk = f"{rows}{ks}y,{ks}y->{rows}y", xp.asarray(w, dtype=dtype).reshape(geo.kernel + (geo.c_in,))
    else:
        spec, wk = f"{rows}{ks}y,{ks}yz->{rows}yz", xp.asarray(w, dtype=dtype).reshape(geo.kernel + (geo.c_in, mult))
    for nsl, osl in _depthwise_blocks(geo, dtype):
        yb = y[nsl, osl]
        xp.einsum(spec, win[nsl, osl], wk, out=yb if mult == 1 else yb.reshape(yb.shape[:-1] + (geo.c_in, mult)))
    return y


def _depthwise_input_grad(gy, w, geo, dtype):
    """``dL/dx_p[n, o*s + k*d, c] += sum_m gy[n, o, c*M + m] * w[k, 0, c*M + m]`` for each k."""
    mult = geo.og
    wk = xp.asarray(w, dtype=dtype).reshape(geo.ksize, geo.c_in, mult)
    gy = gy.reshape(geo.y_shape[:-1] + (geo.c_in, mult))
    gx_p = xp.zeros((geo.n,) + geo.padded_spatial + (geo.c_in,), dtype=dtype)
    win = geo.windows(gx_p)
    tmp = None
    for nsl, osl in _depthwise_blocks(geo, dtype):
        gyb = gy[nsl, osl]
        for i, k in enumerate(geo.kernel_offsets):
            target = win[(nsl, osl) + (slice(None),) * (geo.nd - 1) + k]
            if mult == 1:
                if tmp is None or tmp.shape != target.shape:
                    tmp = xp.empty(target.shape, dtype=dtype)
                xp.multiply(gyb[..., 0], wk[i, :, 0], out=tmp)
                target += tmp
            else:
                target += xp.einsum("...cm,cm->...c", gyb, wk[i])
    return geo.crop(gx_p)


def _depthwise_weight_grad(x, gy, geo, dtype):
    """``dL/dw[k, 0, c*M + m] = sum_{n, o} x_p[n, o*s + k*d, c] * gy[n, o, c*M + m]``, one einsum
    over the window view per block of rows."""
    mult = geo.og
    win = geo.windows(geo.pad(x, dtype))
    rows, ks = "abcdefgh"[:geo.nd + 1], "ijklmnop"[:geo.nd]
    if mult == 1:
        spec = f"{rows}{ks}y,{rows}y->{ks}y"
    else:
        spec, gy = f"{rows}{ks}y,{rows}yz->{ks}yz", gy.reshape(geo.y_shape[:-1] + (geo.c_in, mult))
    gw = xp.zeros(geo.kernel + (1, geo.c_out), dtype=dtype)
    flat = gw.reshape(geo.kernel + (geo.c_in,) if mult == 1 else geo.kernel + (geo.c_in, mult))
    for nsl, osl in _depthwise_blocks(geo, dtype):
        flat += xp.einsum(spec, win[nsl, osl], gy[nsl, osl])
    return gw


# ----------------------------------------------------------------------------- transposed convolution

def conv_transpose_output_size(in_spatial, kernel, strides=1, padding="valid", dilation=1,
                               output_padding=None) -> tuple:
    """Output spatial size of a transposed convolution, as Keras computes it.

    With ``dk = (kernel - 1)*dilation + 1`` and no ``output_padding``:
    ``"valid"``: ``in*stride + max(dk - stride, 0)``; ``"same"``: ``in*stride``.
    With ``output_padding`` (and for int padding ``p``, as PyTorch):
    ``(in - 1)*stride + dk - lo - hi + output_padding`` where ``"same"`` pads ``dk // 2`` a side.
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
    op = (0,) * nd if output_padding is None else (
        (int(output_padding),) * nd if isinstance(output_padding, (int, xp.integer)) else tuple(output_padding))
    if name == "same":
        pads = tuple((k // 2, k // 2) for k in dk)
    else:
        pads = resolve_padding(padding, in_spatial, kernel, strides, dilation, "conv_transpose")
    return tuple((i - 1) * s + k - lo - hi + p for i, s, k, (lo, hi), p in zip(in_spatial, strides, dk, pads, op))


def conv_transpose_forward(x, w, out_spatial, strides=1, padding="valid", dilation=1, groups=1,
                           data_format="channels_last"):
    """Transposed convolution: ``conv_input_grad`` of a convolution whose input is ``out_spatial``.

    x: ``(N, *in, C_in)``; w: ``(*kernel, C_out // groups, C_in)`` -- Keras's Conv*DTranspose
    kernel layout, which is the forward conv's kernel for a conv from C_out to C_in channels.
    ``padding`` (strings resolved against ``out_spatial``) is the padding of that forward conv,
    as in TensorFlow's ``conv_transpose``; ``conv_transpose_output_size`` gives Keras's
    ``out_spatial``. Gradient w.r.t. x is ``conv_forward(gy, w, ...)``; w.r.t. w is
    ``conv_weight_grad(gy, x, w.shape, ...)``.
    """
    _check_array(x, "conv_transpose", "x"), _check_array(w, "conv_transpose", "w")
    n = x.shape[0]
    c_out = w.shape[-2] * int(groups)
    shape = (n,) + tuple(out_spatial) + (c_out,) if data_format == "channels_last" \
        else (n, c_out) + tuple(out_spatial)
    return conv_input_grad(x, w, shape, strides, padding, dilation, groups, data_format)
