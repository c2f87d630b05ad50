"""Differential testing against PyTorch: write the computation once, run it in both.

A test writes ``fn(lib, *xs)`` against a small namespace ``lib`` that has the same op
names (and NumPy-style arguments) for chainrule (``CR``) and for PyTorch (``TH``)::

    check(lambda L, x, y: L.sum(x * y, axis=-1, keepdims=True), a, b, dtype="float64")

``check`` builds the inputs in both libraries, runs ``fn`` in each, and compares

* the forward values (and shapes and dtypes) of every output, and whether it requires grad,
* the gradient of every float input w.r.t. ``sum_k sum(out_k * v_k)`` for fixed
  random cotangents ``v_k`` -- the vector-Jacobian product each backward computes --
  through ``cr.grad`` (which must leave ``.grad`` alone), and
* the same gradients through the other path, ``backward()`` accumulating into each
  leaf's ``.grad`` (on a fresh forward pass), with their dtypes.

Inputs are NumPy arrays: float arrays become differentiable tensors of the test's
dtype; integer and bool arrays become constant tensors (indices, masks, conditions);
``const(a)`` is a float input that does not require grad; ``strided(a)`` is a float input
whose chainrule array is a non-contiguous view. PyTorch is the oracle, so it is imported
with ``pytest.importorskip`` and the tests skip cleanly where it is missing.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

TOLERANCES = {
    "float32": dict(rtol=2e-5, atol=2e-6),
    "float64": dict(rtol=1e-10, atol=1e-12),
}


class const:
    """A float input that does not require grad."""

    def __init__(self, array):
        self.array = np.asarray(array)


class strided:
    """A float input whose chainrule array is a non-contiguous (every other element) view."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % max(ndim, 1) for a in axes)


def _pad_pairs(pad_width, ndim):
    pw = np.asarray(pad_width, dtype=int)
    pw = pw.reshape(-1, 2) if pw.ndim else np.array([[int(pw), int(pw)]])
    return [tuple(int(v) for v in p) for p in np.broadcast_to(pw, (ndim, 2))]


class CR:
    """chainrule under the shared names."""

    name = "chainrule"
    abs = staticmethod(cr.abs)
    exp = staticmethod(cr.exp)
    log = staticmethod(cr.log)
    sqrt = staticmethod(cr.sqrt)
    sin = staticmethod(cr.sin)
    cos = staticmethod(cr.cos)
    tanh = staticmethod(cr.tanh)
    sigmoid = staticmethod(cr.sigmoid)
    relu = staticmethod(cr.relu)
    maximum = staticmethod(cr.maximum)
    minimum = staticmethod(cr.minimum)
    where = staticmethod(cr.where)
    matmul = staticmethod(cr.matmul)
    reshape = staticmethod(cr.reshape)
    swapaxes = staticmethod(cr.swapaxes)
    broadcast_to = staticmethod(cr.broadcast_to)
    expand_dims = staticmethod(cr.expand_dims)

    @staticmethod
    def clip(x, lo=None, hi=None):
        return cr.clip(x, lo, hi)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return cr.sum(x, axis, keepdims)

    @staticmethod
    def mean(x, axis=None, keepdims=False):
        return cr.mean(x, axis, keepdims)

    @staticmethod
    def var(x, axis=None, keepdims=False, ddof=0):
        return cr.var(x, axis, keepdims, ddof=ddof)

    @staticmethod
    def std(x, axis=None, keepdims=False, ddof=0):
        return cr.std(x, axis, keepdims, ddof=ddof)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        return cr.max(x, axis, keepdims)

    @staticmethod
    def min(x, axis=None, keepdims=False):
        return cr.min(x, axis, keepdims)

    @staticmethod
    def logsumexp(x, axis=None, keepdims=False):
        return cr.logsumexp(x, axis, keepdims)

    @staticmethod
    def argmax(x, axis=None, keepdims=False):
        return cr.argmax(x, axis, keepdims)

    @staticmethod
    def argmin(x, axis=None, keepdims=False):
        return cr.argmin(x, axis, keepdims)

    @staticmethod
    def transpose(x, axes=None):
        return cr.transpose(x) if axes is None else cr.transpose(x, axes)

    @staticmethod
    def squeeze(x, axis=None):
        return cr.squeeze(x, axis)

    @staticmethod
    def flatten(x, start_axis=0, end_axis=-1):
        return cr.flatten(x, start_axis, end_axis)

    @staticmethod
    def index(x, idx):
        return x[idx]

    @staticmethod
    def concatenate(xs, axis=0):
        return cr.concatenate(xs, axis)

    @staticmethod
    def stack(xs, axis=0):
        return cr.stack(xs, axis)

    @staticmethod
    def split(x, indices_or_sections, axis=0):
        return cr.split(x, indices_or_sections, axis)

    @staticmethod
    def pad(x, pad_width, constant_values=0):
        return cr.pad(x, pad_width, constant_values)


def _torch():
    return pytest.importorskip("torch")


class _TorchNamespace:
    """PyTorch under the shared (NumPy-style) names and arguments."""

    name = "torch"

    def __getattr__(self, item):
        return getattr(_torch(), item)

    @staticmethod
    def _reduce(fn, x, axis, keepdims, **kw):
        if x.ndim == 0:
            return fn(x, dim=0, keepdim=keepdims, **kw)
        return fn(x, dim=_normalize_axes(axis, x.ndim), keepdim=keepdims, **kw)

    def clip(self, x, lo=None, hi=None):
        return _torch().clamp(x, lo, hi)

    def sum(self, x, axis=None, keepdims=False):
        return self._reduce(_torch().sum, x, axis, keepdims)

    def mean(self, x, axis=None, keepdims=False):
        return self._reduce(_torch().mean, x, axis, keepdims)

    def var(self, x, axis=None, keepdims=False, ddof=0):
        with warnings.catch_warnings():  # torch warns of "degrees of freedom <= 0" over an empty axis (NaN, as NumPy)
            warnings.simplefilter("ignore", UserWarning)
            return self._reduce(_torch().var, x, axis, keepdims, correction=ddof)

    def std(self, x, axis=None, keepdims=False, ddof=0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return self._reduce(_torch().std, x, axis, keepdims, correction=ddof)

    def max(self, x, axis=None, keepdims=False):
        return self._reduce(_torch().amax, x, axis, keepdims)

    def min(self, x, axis=None, keepdims=False):
        return self._reduce(_torch().amin, x, axis, keepdims)

    def logsumexp(self, x, axis=None, keepdims=False):
        return self._reduce(_torch().logsumexp, x, axis, keepdims)

    def argmax(self, x, axis=None, keepdims=False):
        return _torch().argmax(x, dim=axis, keepdim=keepdims)

    def argmin(self, x, axis=None, keepdims=False):
        return _torch().argmin(x, dim=axis, keepdim=keepdims)

    def reshape(self, x, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _torch().reshape(x, tuple(shape))

    def transpose(self, x, axes=None):
        return x.permute(tuple(range(x.ndim - 1, -1, -1)) if axes is None else tuple(axes))

    def broadcast_to(self, x, shape):
        return _torch().broadcast_to(x, tuple(shape))

    def squeeze(self, x, axis=None):
        return _torch().squeeze(x) if axis is None else _torch().squeeze(x, axis)

    def expand_dims(self, x, axis):
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        n = x.ndim + len(axes)
        for a in sorted(a % n for a in axes):
            x = x.unsqueeze(a)
        return x

    def flatten(self, x, start_axis=0, end_axis=-1):
        return _torch().flatten(x, start_axis, end_axis)

    def index(self, x, idx):
        torch = _torch()

        def conv(i):
            if isinstance(i, list):
                i = np.asarray(i)
            if isinstance(i, np.ndarray):
                return torch.from_numpy(i.astype(np.int64) if i.dtype.kind in "iu" else i)
            return i

        return x[tuple(conv(i) for i in idx) if isinstance(idx, tuple) else conv(idx)]

    def concatenate(self, xs, axis=0):
        return _torch().cat(list(xs), dim=axis)

    def stack(self, xs, axis=0):
        return _torch().stack(list(xs), dim=axis)

    def split(self, x, indices_or_sections, axis=0):
        ios = indices_or_sections if isinstance(indices_or_sections, int) else list(indices_or_sections)
        return list(_torch().tensor_split(x, ios, dim=axis))

    def pad(self, x, pad_width, constant_values=0):
        flat = []
        for lo, hi in reversed(_pad_pairs(pad_width, x.ndim)):
            flat += [lo, hi]
        return _torch().nn.functional.pad(x, flat, value=constant_values)


TH = _TorchNamespace()


# ------------------------------------------------------------------------------ building inputs
def _strided_view(arr):
    """A non-contiguous array equal to ``arr``: every other element of a twice-as-long buffer."""
    buf = np.zeros(arr.shape + (2,), dtype=arr.dtype)
    buf[..., 0] = arr
    view = buf[..., 0]
    assert view.shape == arr.shape and (arr.ndim == 0 or not view.flags.c_contiguous)
    return view


def _make_inputs(specs, dtype):
    torch = _torch()
    tdtype = getattr(torch, dtype)
    cr_in, th_in, diff = [], [], []
    for k, s in enumerate(specs):
        if isinstance(s, (const, strided)):
            arr = s.array.astype(dtype)
            if isinstance(s, strided):
                crt = cr.tensor(_strided_view(arr), requires_grad=True, dtype=dtype)
                tht = torch.tensor(arr, dtype=tdtype, requires_grad=True)
                diff.append(k)
            else:
                crt = cr.tensor(arr, dtype=dtype)
                tht = torch.tensor(arr, dtype=tdtype)
        elif isinstance(s, np.ndarray) and s.dtype.kind == "f":
            arr = s.astype(dtype)
            crt = cr.tensor(arr, requires_grad=True, dtype=dtype)
            tht = torch.tensor(arr, dtype=tdtype, requires_grad=True)
            diff.append(k)
        elif isinstance(s, np.ndarray):
            crt = cr.tensor(s)
            tht = torch.from_numpy(s.astype(np.int64) if s.dtype.kind in "iu" else s.copy())
        else:  # Python scalars and anything else pass through unchanged
            crt = tht = s
        cr_in.append(crt)
        th_in.append(tht)
    return cr_in, th_in, diff


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _to_numpy(t):
    if isinstance(t, cr.Tensor):
        return t.numpy()
    return t.detach().numpy()


def check(fn, *inputs, dtype="float32", grad=True, rtol=None, atol=None, grad_rtol=None, grad_atol=None, seed=0,
          accumulate=True):
    """Run ``fn(lib, *inputs)`` in chainrule and in PyTorch; assert that values and gradients agree.

    With ``accumulate`` (the default) the gradients are also taken through ``backward()`` into
    ``.grad``. Returns the chainrule outputs (a list) for further checks.
    """
    torch = _torch()
    tol = TOLERANCES[dtype]
    rtol = tol["rtol"] if rtol is None else rtol
    atol = tol["atol"] if atol is None else atol
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    grad_atol = atol if grad_atol is None else grad_atol

    cr_in, th_in, diff = _make_inputs(inputs, dtype)
    cr_out = _as_list(fn(CR, *cr_in))
    th_out = _as_list(fn(TH, *th_in))
    assert len(cr_out) == len(th_out), f"{len(cr_out)} outputs in chainrule, {len(th_out)} in torch"

    for k, (a, b) in enumerate(zip(cr_out, th_out)):
        assert isinstance(a, cr.Tensor), f"output {k} is a {type(a).__name__}, not a Tensor"
        an, bn = _to_numpy(a), _to_numpy(b)
        assert an.shape == bn.shape, f"output {k}: shape {an.shape} in chainrule, {bn.shape} in torch"
        assert a.requires_grad == b.requires_grad, (
            f"output {k}: requires_grad is {a.requires_grad} in chainrule, {b.requires_grad} in torch"
        )
        if bn.dtype.kind == "f":
            # torch's dtype: the test's for float inputs, torch's default float (float32) for
            # integer-only arithmetic such as int / int, which chainrule gives as cr.floatx().
            assert an.dtype == bn.dtype, f"output {k}: dtype {an.dtype} in chainrule, {bn.dtype} in torch"
            np.testing.assert_allclose(an, bn, rtol=rtol, atol=atol, err_msg=f"forward output {k}")
        else:
            assert an.dtype.kind == bn.dtype.kind, f"output {k}: dtype {an.dtype} in chainrule, {bn.dtype} in torch"
            np.testing.assert_array_equal(an, bn, err_msg=f"forward output {k}")

    if not grad or not diff:
        return cr_out

    rng = np.random.default_rng(seed)
    pairs = [
        (a, b, rng.standard_normal(a.shape).astype(dtype))
        for a, b in zip(cr_out, th_out)
        if _to_numpy(b).dtype.kind == "f" and b.requires_grad
    ]
    assert pairs, "no differentiable output to backpropagate from"
    for a, b, _ in pairs:
        assert a.requires_grad, "chainrule output does not require grad but torch's does"
    cr_grads = cr.grad([a for a, _, _ in pairs], [cr_in[k] for k in diff], [cr.tensor(v, dtype=dtype) for _, _, v in pairs])
    th_grads = torch.autograd.grad(
        [b for _, b, _ in pairs], [th_in[k] for k in diff], [torch.from_numpy(v) for _, _, v in pairs], allow_unused=True
    )
    expected = {}
    for k, ga, gb in zip(diff, cr_grads, th_grads):
        shape = tuple(cr_in[k].shape)
        ga = np.zeros(shape) if ga is None else _check_grad_array(ga, shape, dtype, k)
        gb = np.zeros(shape) if gb is None else gb.numpy()
        np.testing.assert_allclose(ga, gb, rtol=grad_rtol, atol=grad_atol, err_msg=f"gradient of input {k}")
        expected[k] = gb
    for k in diff:
        assert cr_in[k].grad is None, f"cr.grad wrote .grad of input {k}"
    if not accumulate:
        return cr_out

    # The other path: a fresh forward pass, then backward() accumulating into the leaves' .grad.
    again = _as_list(fn(CR, *cr_in))
    diffs = [k for k, (a, b) in enumerate(zip(cr_out, th_out)) if _to_numpy(b).dtype.kind == "f" and b.requires_grad]
    cr.autograd.backward([again[k] for k in diffs], [cr.tensor(v, dtype=dtype) for _, _, v in pairs])
    for k in diff:
        g = cr_in[k].grad
        shape = tuple(cr_in[k].shape)
        got = np.zeros(shape) if g is None else _check_grad_array(g, shape, dtype, k)
        np.testing.assert_allclose(got, expected[k], rtol=grad_rtol, atol=grad_atol,
                                   err_msg=f"gradient of input {k} accumulated by backward() into .grad")
        cr_in[k].grad = None
    return cr_out


def _check_grad_array(g, shape, dtype, k):
    assert isinstance(g, cr.Tensor), f"gradient of input {k} is a {type(g).__name__}"
    assert g.shape == shape, f"gradient of input {k}: shape {g.shape}, input shape {shape}"
    assert g.dtype == np.dtype(dtype), f"gradient of input {k}: dtype {g.dtype}, input dtype {dtype}"
    return g.numpy()
