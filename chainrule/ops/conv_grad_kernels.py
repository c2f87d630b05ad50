"""Array kernels for the gradients of an N-dimensional convolution: input and weight.

Plain functions on ndarrays (no autograd); the conv ``Function``s wrap them. Layouts and
notation as in ``conv_kernels``::

    dL/dw[k, c, g*Og+m] = sum_{n, o} x_p[n, o*s + k*d, g*Cg+c] * gy[n, o, g*Og+m]
    dL/dx_p[n, i, g*Cg+c] = sum_{(o, k): o*s + k*d = i} sum_m gy[n, o, g*Og+m] * w[k, c, g*Og+m]

and ``dL/dx`` is ``dL/dx_p`` with the padding cropped off: the input gradient is the
transposed convolution of ``gy`` with ``w``. Both walk the output in the row blocks of
``_Geometry.blocks``: the weight gradient accumulates ``col^T @ gy`` block by block; the
input gradient runs a GEMM ``gy @ w^T`` per block, then "col2im" as ``prod(kernel)``
vectorised adds (no ``np.add.at``), made contiguous for stride 1 (``_input_grad_flat``).
"""
from __future__ import annotations

import math

from .. import parallel
from ..backend import xp
from .conv_geometry import (
    _by_offset, _check_array, _check_gy, _compute_dtype, _dense_geometry, _dense_groups, _depthwise_blocks,
    _from_channels_last, _Geometry, _shape_to_channels_last, _to_channels_last,
)


def conv_input_grad(gy, w, x_shape, strides=1, padding="valid", dilation=1, groups=1,
                    data_format="channels_last"):
    """Gradient of ``conv_forward`` with respect to x: the transposed convolution of gy with w.

    ``dL/dx_p[n, i, g*Cg+c] = sum_{(o, k): o*s + k*d = i} sum_m gy[n, o, g*Og+m] * w[k, c, g*Og+m]``,
    cropped to ``x_shape``; input positions that no window reaches (when
    ``(in + lo + hi - dilated kernel) % stride != 0``) get 0.
    Per row block: a GEMM ``dcol = gy @ w^T`` (``(rows, Og) x (Og, prod(kernel)*Cg)`` per group),
    then ``prod(kernel)`` vectorised adds of ``dcol`` into the padded gradient.

    Temporaries besides the result (measured with tracemalloc): the zero-padded gradient
    ``(N, *padded, C_in)`` (group-major for groups > 1; it is the result itself when there is
    no padding and one group), plus, per thread running blocks (``chainrule.parallel``; stride 1 and
    blocks of whole samples only), one block's buffers of about ``CHUNK_BYTES`` in all -- the
    ``dcol`` block, or for stride 1 with 5 or more channels (``_input_grad_flat``) the widened
    ``gy`` block and its ``prod(kernel)`` products, or for depthwise convs one block of per-offset
    products; a block holds at least one output row of one sample. channels_first adds a
    channels-last copy of gy and the channels-last result (the size of x), copied at the end.
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
    elif _by_offset(geo):
        gx = _input_grad_by_offset(gy, w, geo, dtype)
    elif _as_flipped_conv(geo):
        gx = _input_grad_as_conv(gy, w, geo, dtype)
    elif geo.strides == (1,) * geo.nd and geo.cg >= _MIN_CHANNELS_FLAT:
        gx = geo.crop(_input_grad_flat(gy, w, geo, dtype))
    else:
        gx = _input_grad_col2im(gy, w, geo, dtype)
    return _from_channels_last(gx, data_format)


#: Below this many input channels per group, col2im beats the flat stride-1 input gradient.
_MIN_CHANNELS_FLAT = 4


#: Stride 1 with at most this many output channels per input channel: the input gradient
#: as a convolution (``_input_grad_as_conv``).
_FLIPPED_CONV_CHANNELS = 1.0


def _as_flipped_conv(geo) -> bool:
    return (geo.groups == 1 and geo.strides == (1,) * geo.nd and geo.c_out <= _FLIPPED_CONV_CHANNELS * geo.c_in
            and all(max(lo, hi) <= (k - 1) * d for (lo, hi), k, d in zip(geo.padding, geo.kernel, geo.dilation)))


def _input_grad_as_conv(gy, w, geo, dtype):
    """Stride 1, few output channels: the input gradient is itself a convolution.

    ``gx[n, i, c] = sum_k sum_m gy[n, i + lo - k*d, m] w[k, c, m]``; with ``k' = K-1-k`` that is
    ``sum_k' gy_p[n, i + k'*d, m] w[K-1-k', c, m]``, a stride-1 convolution of gy zero-padded by
    ``(K-1)*d - lo`` before and ``(K-1)*d - hi`` after, with the kernel flipped in space and its
    two channel axes swapped. Its im2col holds ``prod(kernel) * C_out`` values a row, against the
    ``prod(kernel) * C_in`` products a row of ``_input_grad_flat``: far less for C_out << C_in
    (a decoder's last convolution to 1 or 3 channels); measured here it was as fast or faster
    for C_out up to C_in, slower above (the texts' CNN's 32 -> 64 at batch 128).
    """
    from .conv_kernels import conv_forward      # (conv_kernels imports this module)

    flipped = w[tuple(slice(None, None, -1) for _ in range(geo.nd))].swapaxes(-1, -2)
    pads = tuple(((k - 1) * d - lo, (k - 1) * d - hi)
                 for (lo, hi), k, d in zip(geo.padding, geo.kernel, geo.dilation))
    return conv_forward(gy, xp.ascontiguousarray(flipped, dtype=dtype), 1, pads, geo.dilation)


def _input_grad_col2im(gy, w, geo, dtype):
    """Any strides: ``dcol = gy @ w^T`` per block, then one strided add per kernel offset.

    Blocks of whole samples write disjoint samples of the gradient, so they run on the pool's
    threads (``chainrule.parallel``), each with its own ``dcol`` buffer; row blocks of one sample
    add into overlapping windows and run one after another.
    """
    wg_t = geo.weight_by_group(w, dtype).transpose(0, 2, 1)          # (G, Og, K*Cg)
    gx_g = xp.zeros((geo.groups, geo.n) + geo.padded_spatial + (geo.cg,), dtype=dtype)
    win = geo.windows(gx_g)
    lead = (slice(None),) * (2 + geo.nd)
    blocks = list(geo.blocks(geo.col_row_bytes(dtype)))
    threads = parallel.num_workers(gx_g.nbytes)
    if any(osl != slice(None) for _, osl in blocks):
        threads = 1      # row blocks of one sample add into overlapping windows: never at once

    def block(state, _, nsl_osl):          # one block; state: this thread's dcol buffer
        nsl, osl = nsl_osl
        view = win[:, nsl, osl]
        buf = state.get("buf")
        if buf is None or buf.size < view.size:
            buf = state["buf"] = xp.empty(view.size, dtype=dtype)
        dcol = buf[:view.size].reshape(geo.groups, -1, geo.ksize * geo.cg)
        xp.matmul(geo.rows_by_group(gy, nsl, osl), wg_t, out=dcol)
        dcol = dcol.reshape(view.shape)
        for k in geo.kernel_offsets:
            # For a fixed kernel offset the target positions are distinct, so a plain += is exact.
            view[lead + k] += dcol[lead + k]

    parallel.run_blocks(block, blocks, threads)
    return geo.ungroup(gx_g)


def _input_grad_by_offset(gy, w, geo, dtype):
    """Few input channels: ``dcol_t = w @ gy^T`` per block (``(prod(kernel)*C_in, C_out) x (C_out, rows)``),
    then one add per kernel offset of ``dcol_t[k]`` (``(C_in, rows)``) into the padded gradient, each
    moving whole output rows (``windows_by_offset``) instead of ``C_in`` values at a time."""
    kc = geo.ksize * geo.c_in
    wm = xp.asarray(w, dtype=dtype).reshape(kc, geo.c_out)
    gx_p = xp.zeros((geo.n,) + geo.padded_spatial + (geo.c_in,), dtype=dtype)
    win = geo.windows_by_offset(gx_p)                              # (*kernel, C, N, *out), writable
    lead = (slice(None),) * (geo.nd + 1)
    buf = None
    for nsl, osl in geo.blocks(geo.col_row_bytes(dtype)):
        view = win[lead + (nsl, osl)]
        rows = math.prod(view.shape[geo.nd + 1:])
        if buf is None or buf.shape[1] < rows:
            buf = xp.empty((kc, rows), dtype=dtype)
        dcol = buf[:, :rows]
        xp.matmul(wm, gy[nsl, osl].reshape(rows, geo.c_out).T, out=dcol)
        dcol = dcol.reshape(view.shape)
        for k in geo.kernel_offsets:
            view[k] += dcol[k]             # for a fixed kernel offset the targets are distinct
    return geo.crop(gx_p)


def _input_grad_flat(gy, w, geo, dtype):
    """Stride 1: the col2im adds become contiguous.

    Lay gy out "extended": in every spatial dim but the first, as wide as the padded input
    (zeros beyond the output), so that the output row of flat index j and kernel offset k
    land on padded-input flat index ``j + off_k`` with ``off_k = sum_i k_i*d_i*pitch_i``.
    Then ``D_k = gy_ext @ w_k^T`` is added to one contiguous range per sample, for each k.
    Costs ``prod(padded[1:]) / prod(out[1:])`` more GEMM rows; saves the strided adds. The
    block's rows are sized so that ``ext`` (``C_out`` values a widened row) and the products
    (``prod(kernel) * C_in``) come to about ``CHUNK_BYTES`` together.
    """
    nd, groups, og, cg, c_in, ksize = geo.nd, geo.groups, geo.og, geo.cg, geo.c_in, geo.ksize
    padded, out = geo.padded_spatial, geo.out_spatial
    pitch = [math.prod(padded[i + 1:]) for i in range(nd)]
    row_extent = sum((o - 1) * p for o, p in zip(out[1:], pitch[1:])) + 1
    offsets = [sum(k * d * p for k, d, p in zip(ks, geo.dilation, pitch)) for ks in geo.kernel_offsets]
    w_t = xp.asarray(w, dtype=dtype).reshape(ksize, cg, groups, og).transpose(0, 2, 3, 1)   # (K, G, Og, Cg)
    gx_p = xp.zeros((geo.n, math.prod(padded), c_in), dtype=dtype)
    inner = (slice(None), slice(None)) + tuple(slice(0, o) for o in out[1:])
    # Per output row, ext holds C_out and dbuf prod(kernel)*C_in values of each of the widened rows.
    widen = math.prod(padded[1:]) / math.prod(out[1:])
    row_bytes = math.ceil((ksize * c_in + groups * og) * widen * dtype.itemsize)
    threads = parallel.num_workers(gx_p.nbytes)
    blocks = list(geo.blocks(row_bytes))
    if any(osl != slice(None) for _, osl in blocks):
        threads = 1      # row blocks of one sample add into overlapping ranges of gx_p: never at once

    def block(state, _, nsl_osl):          # one block; state: this thread's ext and dbuf
        nsl, osl = nsl_osl
        r0, r1, _ = osl.indices(out[0])
        gyb = gy[nsl, r0:r1]
        nb = gyb.shape[0]
        ext_shape = (nb, r1 - r0) + padded[1:] + (groups, og)
        rows = nb * (r1 - r0) * pitch[0]
        ext, dbuf = state.get("ext"), state.get("dbuf")
        if ext is None or ext.shape != ext_shape:
            ext = dbuf = state["ext"] = state["dbuf"] = None   # (the old pair goes before the new one comes)
            ext = state["ext"] = xp.zeros(ext_shape, dtype=dtype)   # the zeros beyond out[1:] stay zeros
            dbuf = state["dbuf"] = xp.empty((ksize, rows, groups, cg), dtype=dtype)
        ext[inner] = gyb.reshape(gyb.shape[:-1] + (groups, og))
        xp.matmul(ext.reshape(1, rows, groups, og).transpose(0, 2, 1, 3), w_t, out=dbuf.transpose(0, 2, 1, 3))
        d = dbuf.reshape(ksize, nb, -1, c_in)
        base, extent = r0 * pitch[0], (r1 - r0 - 1) * pitch[0] + row_extent
        for k, off in enumerate(offsets):
            target = gx_p[nsl, base + off: base + off + extent]
            xp.add(target, d[k, :, :extent], out=target)

    parallel.run_blocks(block, blocks, threads)
    return gx_p.reshape((geo.n,) + padded + (c_in,))


def conv_weight_grad(x, gy, w_shape, strides=1, padding="valid", dilation=1, groups=1,
                     data_format="channels_last"):
    """Gradient of ``conv_forward`` with respect to w.

    ``dL/dw[k, c, g*Og+m] = sum_{n, o} x_p[n, o*s + k*d, g*Cg+c] * gy[n, o, g*Og+m]``
    computed per row block as ``col^T @ gy`` (``(prod(kernel)*Cg, rows) x (rows, Og)`` per group),
    summed over blocks. Returns ``w_shape`` = ``(*kernel, C_in // groups, C_out)``.

    Temporaries besides the result (measured with tracemalloc): a zero-padded, channels-last
    copy of x (group-major for groups > 1; none when x already is channels-last, unpadded, of
    one group and of the compute dtype), plus an
    im2col block of about ``CHUNK_BYTES`` per thread running blocks (``chainrule.parallel``; at
    least one output row of one sample; none for depthwise convs), the result and one array the
    size of the kernel per block: each block's product is kept and the products are summed in
    block order, so the sum is the same on any number of threads. channels_first adds a
    channels-last copy of gy.
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
    if _by_offset(geo):
        return _weight_grad_by_offset(x, gy, geo, dtype)
    if _dense_groups(geo):
        dense, _ = _dense_geometry("conv_weight_grad", geo, dtype)
        gw = _weight_grad_gemm(x, gy, dense, dtype)
        return xp.concatenate([gw[..., g * geo.cg:(g + 1) * geo.cg, g * geo.og:(g + 1) * geo.og]
                               for g in range(geo.groups)], axis=-1)
    return _weight_grad_gemm(x, gy, geo, dtype)


def _weight_grad_gemm(x, gy, geo, dtype):
    win = geo.windows(geo.pad_grouped(x, dtype))
    gw = xp.zeros((geo.groups, geo.ksize * geo.cg, geo.og), dtype=dtype)
    threads = parallel.num_workers(gy.nbytes)
    blocks = list(geo.blocks(geo.col_row_bytes(dtype)))
    parts = [None] * len(blocks)

    def block(state, i, nsl_osl):          # one block's col^T @ gy; state: this thread's im2col buffer
        nsl, osl = nsl_osl
        view = win[:, nsl, osl]
        buf = state.get("buf")
        if buf is None or buf.size < view.size:
            buf = state["buf"] = xp.empty(view.size, dtype=dtype)
        col = buf[:view.size].reshape(view.shape)
        xp.copyto(col, view)
        col = col.reshape(geo.groups, -1, geo.ksize * geo.cg)
        parts[i] = xp.matmul(col.transpose(0, 2, 1), geo.rows_by_group(gy, nsl, osl))

    parallel.run_blocks(block, blocks, threads)
    for part in parts:                     # in block order, whatever the threads: the same sum
        gw += part
    return xp.ascontiguousarray(gw.transpose(1, 0, 2)).reshape(geo.kernel + (geo.cg, geo.c_out))


def _weight_grad_by_offset(x, gy, geo, dtype):
    """Few input channels: ``dL/dw[(k, c), m] = sum_blocks col_t @ gy`` with the transposed im2col
    ``col_t[(k, c), row] = x_p[n, o*s + k*d, c]`` of ``windows_by_offset`` (one copy per kernel offset)."""
    kc = geo.ksize * geo.c_in
    win = geo.windows_by_offset(geo.pad(x, dtype))
    lead = (slice(None),) * (geo.nd + 1)
    gw = xp.zeros((kc, geo.c_out), dtype=dtype)
    threads = parallel.num_workers(gy.nbytes)
    # A block is sized by what its product reads, its im2col rows and its rows of gy: with
    # C_out values a row against prod(kernel)*C_in, gy dominates, and sizing by the im2col rows
    # alone made one block of a whole batch (nothing for a second thread to take).
    blocks = list(geo.blocks((kc + geo.c_out) * dtype.itemsize))
    parts = [None] * len(blocks)

    def block(state, i, nsl_osl):          # one block's col_t @ gy; state: this thread's im2col buffer
        nsl, osl = nsl_osl
        view = win[lead + (nsl, osl)]
        rows = math.prod(view.shape[geo.nd + 1:])
        buf = state.get("buf")
        if buf is None or buf.shape[1] < rows:
            buf = state["buf"] = xp.empty((kc, rows), dtype=dtype)
        col = buf[:, :rows]
        xp.copyto(col.reshape(view.shape), view)
        parts[i] = xp.matmul(col, gy[nsl, osl].reshape(rows, geo.c_out))

    parallel.run_blocks(block, blocks, threads)
    for part in parts:                     # in block order, whatever the threads: the same sum
        gw += part
    return gw.reshape(geo.kernel + (geo.c_in, geo.c_out))


# ----------------------------------------------------------------------------- depthwise

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

