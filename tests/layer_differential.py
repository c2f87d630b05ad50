"""One helper for the layer tests: run a computation on the same inputs in chainrule and in PyTorch
(or a NumPy reference) and compare the outputs and the gradients of every input and weight.

    compare(lambda xs: layer(xs[0]), lambda ts: torch_fn(ts[0]), [x_array], "float64",
            weights=layer.weights, torch_weights=[...])

The gradient compared is that of sum(y * v) for a fixed random cotangent v (a vector-Jacobian
product), through ``backward()``.
"""
import json

import numpy as np
import pytest

import chainrule as cr

DTYPES = ["float32", "float64"]

TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-11)}


def close(a, b, dtype="float64", **kw):
    tol = dict(TOL[dtype], **kw)
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), **tol)


def compare(cr_fn, torch_fn, arrays, dtype, weights=(), torch_weights=(), seed=0, **tol):
    """Values and gradients (inputs, then weights) of ``cr_fn`` against ``torch_fn``."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    xs = [cr.tensor(np.asarray(a), dtype=dtype, requires_grad=True) for a in arrays]
    y = cr_fn(xs)
    assert y.dtype == np.dtype(dtype), (y.dtype, dtype)
    v = rng.standard_normal(y.shape)
    for w in weights:
        w.grad = None
    (y * cr.tensor(v, dtype=dtype)).sum().backward()
    tdtype = getattr(torch, dtype)
    ts = [torch.tensor(np.asarray(a), dtype=tdtype, requires_grad=True) for a in arrays]
    tws = [torch.tensor(np.asarray(w), dtype=tdtype, requires_grad=True) for w in torch_weights]
    ty = torch_fn(ts, *tws)
    (ty * torch.tensor(v, dtype=tdtype)).sum().backward()
    assert tuple(y.shape) == tuple(ty.shape)
    close(y.numpy(), ty.detach().numpy(), dtype, **tol)
    for x, t in zip(xs, ts):
        close(x.grad.numpy(), t.grad.numpy(), dtype, **tol)
    for w, t in zip(weights, tws):
        close(w.grad.numpy().reshape(t.shape), t.grad.numpy(), dtype, **tol)
    return y


def rng(seed=0):
    return np.random.default_rng(seed)


def roundtrip(layer):
    """``from_config(get_config())``, checking that the config is JSON and survives the trip."""
    cfg = layer.get_config()
    json.dumps(cfg)
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    return clone
