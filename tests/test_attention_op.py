"""scaled_dot_product_attention: against PyTorch, gradient checks, masks, dropout, bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F

torch = pytest.importorskip("torch")

TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-11)}


def _both(arrays, dtype):
    crs = [cr.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    ths = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    return crs, ths


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["plain", "causal", "bool_mask", "float_mask", "scale", "cross_causal"])
def test_matches_torch_sdpa_values_and_gradients(dtype, case):
    rng = np.random.default_rng(1)
    t, s = (5, 7) if case in ("plain", "bool_mask", "float_mask", "cross_causal") else (6, 6)
    q, k, v = rng.normal(size=(2, 3, t, 4)), rng.normal(size=(2, 3, s, 4)), rng.normal(size=(2, 3, s, 5))
    kw, tkw = {}, {}
    if case in ("causal", "cross_causal"):
        kw, tkw = {"causal": True}, {"is_causal": True}
    elif case == "bool_mask":
        m = rng.random((2, 1, t, s)) > 0.3
        m[1, 0, 2] = False  # a fully masked row: output 0 in both
        kw, tkw = {"mask": m}, {"attn_mask": torch.tensor(m)}
    elif case == "float_mask":
        m = rng.normal(size=(t, s))
        kw, tkw = {"mask": m.astype(dtype)}, {"attn_mask": torch.tensor(m.astype(dtype))}
    elif case == "scale":
        kw, tkw = {"scale": 0.3}, {"scale": 0.3}
    (cq, ck, cv), (tq, tk, tv) = _both([q, k, v], dtype)
    out = F.scaled_dot_product_attention(cq, ck, cv, **kw)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL[dtype])
    g = rng.normal(size=out.shape).astype(dtype)
    out.backward(cr.tensor(g, dtype=dtype))
    ref.backward(torch.tensor(g))
    for a, b in zip((cq, ck, cv), (tq, tk, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL[dtype])


def test_fully_masked_row_gives_zero_output_and_zero_gradient():
    rng = np.random.default_rng(2)
    q, k, v = (cr.tensor(rng.normal(size=(1, 1, 3, 2)), requires_grad=True) for _ in range(3))
    m = np.ones((3, 3), bool)
    m[1] = False
    out = F.scaled_dot_product_attention(q, k, v, mask=m)
    assert np.all(out.numpy()[0, 0, 1] == 0) and np.all(np.isfinite(out.numpy()))
    out.sum().backward()
    assert np.all(q.grad.numpy()[0, 0, 1] == 0)


@pytest.mark.parametrize("kw", [{}, {"causal": True}, {"mask": np.array([[True, False, True], [False, False, False],
                                                                           [True, True, False]])}])
def test_gradcheck_and_gradgradcheck(kw):
    rng = np.random.default_rng(3)
    q, k, v = (cr.tensor(rng.normal(size=(1, 2, 3, 2)), dtype="float64", requires_grad=True) for _ in range(3))
    f = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw)  # noqa: E731
    assert cr.gradcheck(f, [q, k, v])
    assert cr.gradgradcheck(f, [q, k, v])


def test_fused_op_equals_the_unfused_math():
    rng = np.random.default_rng(4)
    q, k, v = (cr.tensor(rng.normal(size=(2, 2, 4, 3)), dtype="float64", requires_grad=True) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, causal=True)
    s = (q @ k.swapaxes(-1, -2)) / np.sqrt(3) + cr.tensor(np.where(np.tril(np.ones((4, 4))) > 0, 0.0, -1e9))
    ref = F.softmax(s, axis=-1) @ v
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    ga = cr.grad(out.sum(), [q, k, v])
    gb = cr.grad(ref.sum(), [q, k, v])
    for a, b in zip(ga, gb):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


def test_causality_output_at_t_ignores_later_tokens():
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(1, 1, 6, 4)), rng.normal(size=(1, 1, 6, 4)), rng.normal(size=(1, 1, 6, 4))
    a = F.scaled_dot_product_attention(q, k, v, causal=True).numpy()
    k2, v2 = k.copy(), v.copy()
    k2[..., 4:, :] = rng.normal(size=(2, 4))
    v2[..., 4:, :] = rng.normal(size=(2, 4))
    b = F.scaled_dot_product_attention(q, k2, v2, causal=True).numpy()
    np.testing.assert_array_equal(a[..., :4, :], b[..., :4, :])
    assert not np.allclose(a[..., 4:, :], b[..., 4:, :])


def test_dropout_only_in_training_and_gradient_through_the_same_mask():
    rng = np.random.default_rng(6)
    q, k, v = (cr.tensor(rng.normal(size=(2, 2, 5, 3)), dtype="float64", requires_grad=True) for _ in range(3))
    base = F.scaled_dot_product_attention(q, k, v, dropout=0.5)
    np.testing.assert_array_equal(base.numpy(), F.scaled_dot_product_attention(q, k, v).numpy())
    cr.manual_seed(0)
    out = F.scaled_dot_product_attention(q, k, v, dropout=0.5, training=True)
    assert not np.allclose(out.numpy(), base.numpy())

    def f(a, b, c):
        cr.manual_seed(0)
        return F.scaled_dot_product_attention(a, b, c, dropout=0.5, training=True)

    assert cr.gradcheck(f, [q, k, v])


def test_bad_input_names_the_op_and_shapes():
    q = np.zeros((1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: mask of shape \(2, 2\)"):
        F.scaled_dot_product_attention(q, q, q, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="same last axis"):
        F.scaled_dot_product_attention(q, np.zeros((1, 2, 3, 5)), q)
    with pytest.raises(ValueError, match="same number of keys"):
        F.scaled_dot_product_attention(q, q, np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="dropout"):
        F.scaled_dot_product_attention(q, q, q, dropout=1.0)
    with pytest.raises(TypeError, match="mask must be boolean"):
        F.scaled_dot_product_attention(q, q, q, mask=np.ones((3, 3), np.int64))
