"""Array kernels for N-dimensional convolution: the forward pass (im2col/GEMM) and the
transposed convolution; the gradients are in ``conv_grad_kernels``, the shapes and the
window geometry in ``conv_geometry`` (both re-exported here, so ``conv_kernels`` stays the
one module to import).

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
than one whole-batch im2col (and bounds the memory). Channels-last won over
channels-first: the im2col rows ``(kernel[-1], C)`` are contiguous runs, and the
GEMM writes y in place.

The blocks are independent, so with two or more cores they run on a small thread pool
(``chainrule.parallel``, as many threads as the thread policy gives the BLAS), each
thread copying its own im2col block and calling the BLAS on one thread: the copies and
the epilogue, which NumPy runs on one core, then use every core as the GEMM does.

With at most 4 input channels (one group) the im2col rows are too short a run to copy
fast, so the matrix is built transposed (``_Geometry.windows_by_offset``): one copy per
kernel offset and channel, each moving whole output rows, and the bias rides in the GEMM
as a row of ones (``_forward_by_offset``; the gradients mirror it).

Two special cases where per-group GEMMs would be tiny: depthwise convs (one input
channel per group) are one einsum over the window view per block, and groups of
at most 4 channels run as one dense conv with a block-diagonal kernel.
"""
from __future__ import annotations

import itertools
import math

from .. import parallel
from ..backend import xp
from .conv_geometry import (  # noqa: F401  (re-exported)
    CHUNK_BYTES, _by_offset, _check_array, _compute_dtype, _dense_geometry, _dense_groups,
    _depthwise_blocks, _from_channels_last, _Geometry, _ntuple, _shape_to_channels_last, _to_channels_last, conv_output_size,
    conv_transpose_output_padding, conv_transpose_output_size, conv_transpose_placement, resolve_padding,
)
from .conv_grad_kernels import conv_input_grad, conv_weight_grad  # noqa: F401  (re-exported)
from .pool_kernels import max_pool_values


# ----------------------------------------------------------------------------- forward

def conv_forward(x, w, strides=1, padding="valid", dilation=1, groups=1, data_format="channels_last",
                 bias=None, relu=False):
    """N-D convolution (cross-correlation, as in Keras and PyTorch).

    ``y[n, o, g*Og+m] = sum_{k, c} x_p[n, o*s + k*d, g*Cg+c] * w[k, c, g*Og+m]``

    x: ``(N, *spatial, C_in)`` (or ``(N, C_in, *spatial)`` with channels_first);
    w: ``(*kernel, C_in // groups, C_out)``; returns ``(N, *out, C_out)`` (or channels_first),
    ``out = (in + lo + hi - (kernel-1)*dilation - 1) // stride + 1``, in the dtype of x and w.
    Gradients: ``conv_input_grad`` (w.r.t. x) and ``conv_weight_grad`` (w.r.t. w).

    Epilogue: with ``bias`` (shape ``(C_out,)``) ``y += bias``, then with ``relu``
    ``y = max(y, 0)``, applied to each block of GEMM output right after it is written, while
    it is still in cache, instead of as two more passes over the whole output.

    Temporaries besides y (measured with tracemalloc): a zero-padded, channels-last copy of x
    (group-major for groups > 1; none when x already is channels-last, unpadded, of one group
    and of the compute dtype), plus, for each thread running blocks (``chainrule.parallel``;
    the blocks are the same whatever the thread count), one block's buffers
    of about ``CHUNK_BYTES`` in all -- the im2col block and, with the epilogue, the bias and
    zeros tiled to the block's rows (``rows * C_out`` each); a block holds at least one output
    row of one sample, ``prod(out[1:]) * prod(kernel) * C_in`` elements, more than
    ``CHUNK_BYTES`` if that is larger. Depthwise: the padded copy only. channels_first adds
    the channels-last y (the output's size), copied to the result at the end.
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
    if _by_offset(geo):
        return _from_channels_last(_forward_by_offset(x, w, geo, dtype, bias, relu), data_format)
    return _from_channels_last(_forward_by_rows(x, w, geo, dtype, bias, relu), data_format)


def _forward_by_rows(x, w, geo, dtype, bias, relu, pooled=None):
    """``y = im2col(x) @ w`` per row block, the epilogue per block; with ``pooled`` (a
    ``_PooledBlocks``), each block's product goes to a buffer of this thread's and only its
    max pooling is kept (the epilogue then runs on the pooled rows). The blocks are the same
    either way (OpenBLAS may round a product of another height differently), so the pooled
    numbers equal those of pooling ``y``; the buffer adds ``C_out`` values a row to a block."""
    wg = geo.weight_by_group(w, dtype)
    bias_g = None if bias is None else xp.asarray(bias, dtype=dtype).reshape(geo.groups, 1, geo.og)
    win = geo.windows(geo.pad_grouped(x, dtype))
    y = xp.empty(geo.y_shape, dtype=dtype) if pooled is None else None
    # The epilogue tiles the bias and/or zeros to a block of output rows: count them in the block.
    tiles = (bias is not None) + bool(relu)
    row_bytes = geo.col_row_bytes(dtype) + tiles * geo.c_out * dtype.itemsize
    threads = parallel.num_workers(math.prod(geo.y_shape) * dtype.itemsize)

    def block(state, _, nsl_osl):          # one block of output rows; state: this thread's buffers
        nsl, osl = nsl_osl
        view = win[:, nsl, osl]
        buf = state.get("buf")
        if buf is None or buf.size < view.size:
            buf = state["buf"] = xp.empty(view.size, dtype=dtype)
        col = buf[:view.size].reshape(view.shape)
        xp.copyto(col, view)
        out = geo.rows_by_group(y, nsl, osl) if pooled is None else pooled.buffer(state, nsl)
        xp.matmul(col.reshape(geo.groups, -1, geo.ksize * geo.cg), wg, out=out)
        if pooled is not None:
            out = pooled.reduce(out, nsl)
        if bias_g is not None or relu:
            state["epi"] = _epilogue(out, bias_g, relu, state.get("epi"))

    parallel.run_blocks(block, list(geo.blocks(row_bytes)), threads)
    return y if pooled is None else pooled.z


def _forward_by_offset(x, w, geo, dtype, bias, relu, pooled=None):
    """``y = col_t^T @ [w; b]`` per row block, with ``col_t[(k, c), row] = x_p[n, o*s + k*d, c]``
    (``(prod(kernel)*C_in + 1, rows)``, the last row all ones when there is a bias, so the GEMM
    adds it), filled by one copy per kernel offset and channel; relu as an epilogue per block.
    A block's rows are sized so that its buffer, its rows of y and (with relu) the tiled zeros
    come to about ``CHUNK_BYTES``. ``pooled``: as in ``_forward_by_rows``."""
    kc = geo.ksize * geo.c_in
    wm = xp.asarray(w, dtype=dtype).reshape(kc, geo.c_out)
    if bias is not None:
        wm = xp.concatenate([wm, xp.asarray(bias, dtype=dtype).reshape(1, geo.c_out)])
    win = geo.windows_by_offset(geo.pad(x, dtype))                  # (*kernel, C, N, *out)
    lead = (slice(None),) * (geo.nd + 1)
    y = xp.empty(geo.y_shape, dtype=dtype) if pooled is None else None
    threads = parallel.num_workers(math.prod(geo.y_shape) * dtype.itemsize)

    def block(state, _, nsl_osl):          # one block of output rows; state: this thread's buffers
        nsl, osl = nsl_osl
        view = win[lead + (nsl, osl)]
        rows = math.prod(view.shape[geo.nd + 1:])
        buf = state.get("buf")
        if buf is None or buf.shape[1] < rows:
            buf = state["buf"] = xp.empty((wm.shape[0], rows), dtype=dtype)
            buf[kc:] = 1
        col = buf[:, :rows]
        xp.copyto(col[:kc].reshape(view.shape), view)
        out = (y[nsl, osl] if pooled is None else pooled.buffer(state, nsl)).reshape(1, rows, geo.c_out)
        xp.matmul(col.T, wm, out=out[0])
        if pooled is not None:
            out = pooled.reduce(out, nsl)
        if relu:
            state["epi"] = _epilogue(out, None, relu, state.get("epi"))

    parallel.run_blocks(block, list(geo.blocks((wm.shape[0] + geo.c_out) * dtype.itemsize)), threads)
    return y if pooled is None else pooled.z


# ----------------------------------------------------------------------------- convolution, then max pooling

def conv_max_pool_forward(x, w, pool_size, strides=1, padding="valid", dilation=1, groups=1,
                          data_format="channels_last", bias=None, relu=False):
    """``max_pool(act(conv(x, w) + bias), pool_size)`` in one pass, for inference (no gradient).

    The pooling is "valid" with strides equal to ``pool_size`` (Keras's default)::

        z[n, q, f] = act(max_{0 <= k < p} y[n, q*p + k, f] + bias[f]),   y = conv(x, w)

    which equals pooling ``act(y + bias)``: adding a constant and relu are non-decreasing, so
    they commute with max, exactly (floating-point rounding is monotone too). So each block of
    the convolution's output is pooled while still in cache, from a buffer of the thread's, and
    the bias and relu run on a quarter of the values (2x2 pooling); the full-size ``y`` is never
    written to memory. The numbers are those of ``conv_forward`` then ``max_pool_values``.

    Falls back to those two calls where the blocks would cut a sample (its output over
    ``CHUNK_BYTES``), for grouped and depthwise convolutions, and when the pool does not fit.
    """
    _check_array(x, "conv_max_pool", "x"), _check_array(w, "conv_max_pool", "w")
    x = _to_channels_last(x, data_format, "conv_max_pool")
    geo = _Geometry("conv_max_pool", x.shape, w.shape, strides, padding, dilation, groups)
    pool = _ntuple(pool_size, geo.nd, "pool_size", "conv_max_pool")
    dtype = _compute_dtype(x, w)
    if not _PooledBlocks.fits(geo, pool, dtype):
        y = conv_forward(x, w, strides, padding, dilation, groups, bias=bias, relu=relu)
        return _from_channels_last(max_pool_values(y, pool), data_format)
    pooled = _PooledBlocks(geo, pool, dtype)
    if _by_offset(geo):
        z = _forward_by_offset(x, w, geo, dtype, bias, relu, pooled)
    else:
        z = _forward_by_rows(x, w, geo, dtype, bias, relu, pooled)
    return _from_channels_last(z, data_format)


class _PooledBlocks:
    """Where a block of convolution output goes when max pooling follows: a buffer of the
    thread's, whose ``p``-strided views are reduced with ``maximum`` into the block's samples of ``z``."""

    def __init__(self, geo, pool, dtype):
        self.pool, self.c = pool, geo.c_out
        self.out = geo.out_spatial
        self.pooled = tuple(o // p for o, p in zip(self.out, pool))
        self.z = xp.empty((geo.n,) + self.pooled + (geo.c_out,), dtype=dtype)
        self.offsets = list(itertools.product(*(range(p) for p in pool)))

    @staticmethod
    def fits(geo, pool, dtype) -> bool:
        """Whether the fused path applies: one group (dense), a pool within the output, whole samples a block."""
        if geo.groups != 1 or any(p > o for p, o in zip(pool, geo.out_spatial)):
            return False
        widest = (geo.col_row_bytes(dtype) + 3 * geo.c_out * dtype.itemsize) * math.prod(geo.out_spatial)
        return widest <= CHUNK_BYTES and not _dense_groups(geo)

    def buffer(self, state, nsl):
        """This thread's buffer for the product of samples ``nsl``, as ``(1, rows, C_out)``."""
        rows = (nsl.stop - nsl.start) * math.prod(self.out)
        buf = state.get("pool_buf")
        if buf is None or buf.size < rows * self.c:
            buf = state["pool_buf"] = xp.empty(rows * self.c, dtype=self.z.dtype)
        return buf[:rows * self.c].reshape(1, rows, self.c)

    def reduce(self, out, nsl):
        """Max-pool the block ``out`` into ``z[nsl]``; returns that block as ``(1, rows, C_out)``."""
        yb = out.reshape((nsl.stop - nsl.start,) + self.out + (self.c,))
        zb = self.z[nsl]
        for i, offset in enumerate(self.offsets):
            view = yb[(slice(None),) + tuple(slice(k, q * p, p) for k, q, p in zip(offset, self.pooled, self.pool))]
            if i == 0:
                xp.copyto(zb, view)
            else:
                xp.maximum(zb, view, out=zb)               # propagates NaN, as max_pool_values
        return zb.reshape(1, -1, self.c)


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


def relu_grad(g, y):
    """``g * [y > 0]``: the gradient through a relu from its output ``y`` (0 where ``y <= 0`` or NaN).

    The same numbers as ``g * (y > 0).astype(g.dtype)`` (a product with 1 or 0), without the
    float copy of the mask, split by samples over the threads ``chainrule.parallel`` gives.
    """
    out = xp.empty(g.shape, dtype=g.dtype)

    def samples(a, b):
        xp.multiply(g[a:b], xp.greater(y[a:b], 0), out=out[a:b])

    parallel.over_samples(samples, g.shape[0], out.nbytes)
    return out


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


# ----------------------------------------------------------------------------- transposed convolution

def conv_transpose_forward(x, w, out_spatial, strides=1, padding="valid", dilation=1, groups=1,
                           data_format="channels_last"):
    """Transposed convolution: ``conv_input_grad`` of a convolution whose input is ``out_spatial``.

    x: ``(N, *in, C_in)``; w: ``(*kernel, C_out // groups, C_in)`` -- Keras's Conv*DTranspose
    kernel layout, which is the forward conv's kernel for a conv from C_out to C_in channels.
    ``padding`` (strings resolved against ``out_spatial``) is the padding of that forward conv,
    as in TensorFlow's ``conv_transpose``; ``conv_transpose_output_size`` gives Keras's
    ``out_spatial``. Gradient w.r.t. x is ``conv_forward(gy, w, ...)``; w.r.t. w is
    ``conv_weight_grad(gy, x, w.shape, ...)``. Temporaries: those of ``conv_input_grad``.
    """
    _check_array(x, "conv_transpose", "x"), _check_array(w, "conv_transpose", "w")
    n = x.shape[0]
    c_out = w.shape[-2] * int(groups)
    shape = (n,) + tuple(out_spatial) + (c_out,) if data_format == "channels_last" \
        else (n, c_out) + tuple(out_spatial)
    return conv_input_grad(x, w, shape, strides, padding, dilation, groups, data_format)
