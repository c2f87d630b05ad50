"""The fused whole-sequence recurrent Functions (ops/recurrent.py, lstm.py, gru.py).

Each is checked against its unfused step-by-step Tensor-op reference (values and gradients,
every combination of mask / go_backwards / zero_output_for_mask), by gradcheck and
gradgradcheck on tiny cells, and GRU reset_after=False against a plain NumPy loop.
"""
import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.gru import GRUSequence
from chainrule.ops.lstm import LSTMSequence
from chainrule.ops.recurrent import SimpleRNNSequence

B, T, D, U = 3, 5, 4, 3


def _inputs(kind, rng, reset_after=True, dtype="float64"):
    g = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    arrays = [rng.normal(size=(B, T, D)), rng.normal(size=(D, g * U)) * 0.5, rng.normal(size=(U, g * U)) * 0.5,
              rng.normal(size=(2, g * U) if (kind == "gru" and reset_after) else (g * U,)) * 0.5,
              rng.normal(size=(B, U)) * 0.5]
    if kind == "lstm":
        arrays.append(rng.normal(size=(B, U)) * 0.5)
    return [cr.Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]


OPS = {"lstm": LSTMSequence, "gru": GRUSequence, "rnn": SimpleRNNSequence}
KINDS = [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)]


@pytest.mark.parametrize("kind,reset_after", KINDS)
@pytest.mark.parametrize("masked,go_backwards,zero_out", list(itertools.product([False, True], repeat=3)))
def test_fused_matches_reference(kind, reset_after, masked, go_backwards, zero_out):
    rng = np.random.default_rng(1)
    ins = _inputs(kind, rng, reset_after)
    mask = rng.random((B, T)) > 0.35 if masked else None
    kw = dict(mask=mask, go_backwards=go_backwards, zero_output_for_mask=zero_out)
    if kind == "gru":
        kw["reset_after"] = reset_after
    op = OPS[kind]
    outs = op.apply(*ins, **kw)
    refs = op.reference(*ins, **kw)
    for o, r in zip(outs, refs):
        np.testing.assert_allclose(o.data, r.data, rtol=1e-12, atol=1e-12)
    cot = [cr.Tensor(rng.normal(size=o.shape), dtype="float64") for o in outs]
    g_fused = cr.grad(list(outs), ins, cot)
    g_ref = cr.grad(list(refs), ins, cot)
    for a, b in zip(g_fused, g_ref):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,reset_after", KINDS)
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_and_gradgradcheck(kind, reset_after, masked):
    cr.set_floatx("float64")
    rng = np.random.default_rng(2)
    ins = _inputs(kind, rng, reset_after)
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool) if masked else None
    kw = dict(mask=mask)
    if kind == "gru":
        kw["reset_after"] = reset_after
    fn = lambda *a: OPS[kind].apply(*a, **kw)
    assert cr.gradcheck(fn, ins)
    # second order on a shorter sequence (the replayed graph is differentiated numerically per element)
    short = [ins[0][:, :3]] + ins[1:]
    short[0] = cr.Tensor(short[0].data, requires_grad=True)
    kw2 = dict(kw, mask=None if mask is None else mask[:, :3])
    assert cr.gradgradcheck(lambda *a: OPS[kind].apply(*a, **kw2), short)


def test_activations_without_fast_path():
    rng = np.random.default_rng(3)
    ins = _inputs("lstm", rng)
    kw = dict(activation="relu", recurrent_activation="hard_sigmoid")
    outs = LSTMSequence.apply(*ins, **kw)
    refs = LSTMSequence.reference(*ins, **kw)
    for o, r in zip(outs, refs):
        np.testing.assert_allclose(o.data, r.data, rtol=1e-12, atol=1e-12)
    g1 = cr.grad(outs[0].sum(), ins)
    g2 = cr.grad(refs[0].sum(), ins)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_gru_reset_after_false_against_numpy():
    rng = np.random.default_rng(4)
    x, W, Uk, b, h0 = [t.data for t in _inputs("gru", rng, reset_after=False)]
    h = h0.copy()
    hs = []
    for t in range(T):
        xz, xr, xh = np.split(x[:, t] @ W + b, 3, axis=-1)
        z = _sigmoid(xz + h @ Uk[:, :U])
        r = _sigmoid(xr + h @ Uk[:, U:2 * U])
        hh = np.tanh(xh + (r * h) @ Uk[:, 2 * U:])
        h = z * h + (1 - z) * hh
        hs.append(h)
    seq, last = GRUSequence.apply(*[cr.Tensor(a, dtype="float64") for a in (x, W, Uk, b, h0)], reset_after=False)
    np.testing.assert_allclose(seq.data, np.stack(hs, 1), rtol=1e-12)
    np.testing.assert_allclose(last.data, h, rtol=1e-12)


def test_mask_of_wrong_shape_is_an_error():
    ins = _inputs("lstm", np.random.default_rng(0))
    with pytest.raises(ValueError, match="mask of shape"):
        LSTMSequence.apply(*ins, mask=np.ones((B, T + 1), bool))


def test_float32_stays_float32():
    ins = _inputs("gru", np.random.default_rng(0), dtype="float32")
    outs = GRUSequence.apply(*ins)
    assert all(o.dtype == np.float32 for o in outs)
    grads = cr.grad(outs[0].sum(), ins)
    assert all(g.dtype == np.float32 for g in grads)
