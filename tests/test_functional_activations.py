"""Activations and the softmax family: against PyTorch (values and input gradients, float32 and
float64), float64 gradient checks (and second-order ones), stability, Keras defaults, and the
``cr.activations`` name lookup."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import activations
from chainrule import functional as F
from chainrule.ops.activation import erf, erf_array
from differential import check


def both(cr_fn, th_fn):
    """A ``differential.check`` computation that runs ``cr_fn`` in chainrule and ``th_fn`` in torch."""
    return lambda L, *xs: cr_fn(*xs) if L.name == "chainrule" else th_fn(*xs)


def tf():
    return pytest.importorskip("torch").nn.functional


def _away_from_kinks(shape, seed=0, kinks=(0.0,), scale=3.0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    for k in kinks:
        near = np.abs(x - k) < 1e-3
        x[near] += 1e-2
    return x


SHAPES = [(7,), (3, 4, 5)]

# name -> (chainrule fn, torch fn, kinks to keep away from)
ELEMENTWISE = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: tf().leaky_relu(x, 0.2), (0.0,)),
    "leaky_relu_keras_default": (F.leaky_relu, lambda x: tf().leaky_relu(x, 0.2), (0.0,)),
    # slopes outside (0, 1): y = max(x, a x) no longer holds there, min(x, a x) does for a > 1
    "leaky_relu_steep": (lambda x: F.leaky_relu(x, 1.5), lambda x: tf().leaky_relu(x, 1.5), (0.0,)),
    "leaky_relu_negative": (lambda x: F.leaky_relu(x, -0.5), lambda x: tf().leaky_relu(x, -0.5), (0.0,)),
    "elu": (F.elu, lambda x: tf().elu(x), (0.0,)),
    "elu_alpha": (lambda x: F.elu(x, 0.5), lambda x: tf().elu(x, alpha=0.5), (0.0,)),
    "selu": (F.selu, lambda x: tf().selu(x), (0.0,)),
    "gelu_exact": (F.gelu, lambda x: tf().gelu(x), ()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate=True), lambda x: tf().gelu(x, approximate="tanh"), ()),
    "softplus": (F.softplus, lambda x: tf().softplus(x), ()),
    "silu": (F.silu, lambda x: tf().silu(x), ()),
    "swish": (F.swish, lambda x: tf().silu(x), ()),
    "mish": (F.mish, lambda x: tf().mish(x), ()),
    "relu6": (F.relu6, lambda x: tf().relu6(x), (0.0, 6.0)),
    "hard_sigmoid": (F.hard_sigmoid, lambda x: tf().hardsigmoid(x), (-3.0, 3.0)),
    "hard_silu": (F.hard_silu, lambda x: tf().hardswish(x), (-3.0, 3.0)),
    "softsign": (F.softsign, lambda x: tf().softsign(x), (0.0,)),
    "relu": (F.relu, lambda x: tf().relu(x), (0.0,)),
    "sigmoid": (F.sigmoid, lambda x: pytest.importorskip("torch").sigmoid(x), ()),
    "tanh": (F.tanh, lambda x: pytest.importorskip("torch").tanh(x), ()),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_against_torch(name, shape, dtype):
    cr_fn, th_fn, kinks = ELEMENTWISE[name]
    x = _away_from_kinks(shape, kinks=kinks)
    tol = {}
    if name == "hard_sigmoid" and dtype == "float64":
        tol = dict(grad_rtol=1e-7)  # torch's float64 hardsigmoid backward multiplies by a float32 1/6
    out = check(both(cr_fn, th_fn), x, dtype=dtype, **tol)
    assert out[0].dtype == np.dtype(dtype)


def _torch_softmax(x, axis):
    torch = pytest.importorskip("torch")
    if isinstance(axis, tuple):  # torch softmax takes one dim: flatten the axes together
        return torch.exp(x - torch.logsumexp(x, dim=axis, keepdim=True))
    return torch.softmax(x, dim=axis)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,axis", [((6,), -1), ((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1), ((2, 3, 4), (1, 2))],
                         ids=str)
def test_softmax_against_torch(shape, axis, dtype):
    x = np.random.default_rng(1).standard_normal(shape) * 4
    check(both(lambda t: F.softmax(t, axis=axis), lambda t: _torch_softmax(t, axis)), x, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,axis", [((6,), -1), ((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1)], ids=str)
def test_log_softmax_against_torch(shape, axis, dtype):
    x = np.random.default_rng(2).standard_normal(shape) * 4
    check(both(lambda t: F.log_softmax(t, axis=axis), lambda t: tf().log_softmax(t, dim=axis)), x, dtype=dtype)


def test_softmax_default_axis_is_last():
    x = np.random.default_rng(3).standard_normal((3, 4))
    y = F.softmax(cr.tensor(x, dtype="float64")).numpy()
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(cr.tensor(x, dtype="float64")).numpy(), np.log(y), rtol=1e-12)


# ------------------------------------------------------------------------------ gradient checks
GRADCHECKED = {
    "leaky_relu": lambda x: F.leaky_relu(x, 0.3),
    "elu": lambda x: F.elu(x, 0.7),
    "selu": F.selu,
    "gelu_exact": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate=True),
    "softplus": F.softplus,
    "silu": F.silu,
    "mish": F.mish,
    "relu6": F.relu6,
    "hard_sigmoid": F.hard_sigmoid,
    "softsign": F.softsign,
    "erf": erf,
    "softmax": lambda x: F.softmax(x, axis=-1),
    "softmax_axis0": lambda x: F.softmax(x, axis=0),
    "log_softmax": F.log_softmax,
    "log_softmax_axis0": lambda x: F.log_softmax(x, axis=0),
}
SECOND_ORDER = ["elu", "selu", "gelu_exact", "gelu_tanh", "softplus", "silu", "mish", "erf", "softmax",
                "softmax_axis0", "log_softmax", "log_softmax_axis0"]


@pytest.mark.parametrize("name", sorted(GRADCHECKED))
def test_gradcheck(name):
    x = cr.tensor(_away_from_kinks((3, 4), seed=5, kinks=(0.0, -3.0, 3.0, 6.0)), requires_grad=True, dtype="float64")
    assert cr.gradcheck(GRADCHECKED[name], [x])


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_gradgradcheck(name):
    x = cr.tensor(_away_from_kinks((3, 4), seed=6), requires_grad=True, dtype="float64")
    assert cr.gradgradcheck(GRADCHECKED[name], [x])


# --------------------------------------------------------------------------------- edge cases
def test_erf_matches_math_erf_to_an_ulp():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.84375, 1.25, 1 / 0.35, 6.0, -6.0, 30.0, 1e-300, -1e-30]])
    ref = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf_array(x), ref, rtol=4e-16, atol=1e-300)
    special = erf_array(np.array([np.inf, -np.inf, np.nan, 0.0]))
    assert special[0] == 1 and special[1] == -1 and np.isnan(special[2]) and special[3] == 0
    assert erf_array(np.float32([0.5])).dtype == np.float32


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.softplus, F.silu, F.gelu, F.elu, F.selu, F.mish],
                         ids=lambda f: f.__name__)
def test_extreme_inputs_stay_finite(fn):
    x = cr.tensor(np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 3.0]]), requires_grad=True)
    y = fn(x)
    y.backward(cr.ones(*y.shape))
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()


def test_softmax_of_huge_logits_is_exact():
    y = F.softmax(cr.tensor([1000.0, 1000.0, -1000.0])).numpy()
    np.testing.assert_allclose(y, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(F.log_softmax(cr.tensor([1000.0, 0.0])).numpy(), [0.0, -1000.0])


def test_dtype_is_kept_and_ints_become_floatx():
    for fn in (F.gelu, F.softmax, F.leaky_relu, F.softplus, F.elu):
        assert fn(cr.tensor(np.ones(3, np.float32))).dtype == np.float32
        assert fn(cr.tensor(np.ones(3), dtype="float64")).dtype == np.float64
        assert fn(cr.tensor(np.arange(3))).dtype == np.dtype(cr.floatx())


def test_keras_defaults():
    x = cr.tensor([-1.0, 2.0])
    np.testing.assert_allclose(F.leaky_relu(x).numpy(), [-0.2, 2.0])  # keras.activations.leaky_relu: 0.2
    exact = F.gelu(cr.tensor([1.0], dtype="float64")).item()
    assert exact == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))), rel=1e-15)  # exact by default
    assert F.gelu(cr.tensor([1.0]), approximate="tanh").item() == pytest.approx(0.8411920, rel=1e-6)
    with pytest.raises(ValueError, match="gelu"):
        F.gelu(x, approximate="erf")


def test_gradients_at_kinks_follow_pytorch():
    torch = pytest.importorskip("torch")
    pts = np.array([0.0, -3.0, 3.0, 6.0])
    for cr_fn, th_fn in [(F.leaky_relu, lambda t: tf().leaky_relu(t, 0.2)), (F.elu, tf().elu),
                         (F.relu6, tf().relu6), (F.hard_sigmoid, tf().hardsigmoid)]:
        x = cr.tensor(pts, requires_grad=True, dtype="float64")
        cr_fn(x).backward(cr.ones(4, dtype="float64"))
        xt = torch.tensor(pts, requires_grad=True)
        th_fn(xt).backward(torch.ones(4, dtype=torch.float64))
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), err_msg=cr_fn.__name__)


def test_create_graph_through_softmax_gives_hessian_vector_product():
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(7).standard_normal(5)
    w = np.random.default_rng(8).standard_normal(5)
    x = cr.tensor(x0, requires_grad=True, dtype="float64")
    (g,) = cr.grad((F.softmax(x) * cr.tensor(w, dtype="float64")).sum(), [x], create_graph=True)
    (hv,) = cr.grad((g * g).sum(), [x])
    xt = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad((torch.softmax(xt, 0) * torch.tensor(w)).sum(), [xt], create_graph=True)
    (hvt,) = torch.autograd.grad((gt * gt).sum(), [xt])
    np.testing.assert_allclose(hv.numpy(), hvt.numpy(), rtol=1e-10, atol=1e-12)


# -------------------------------------------------------------------------------- cr.activations
def test_get_by_name_and_passthrough():
    x = cr.tensor([-1.0, 0.5, 2.0])
    for name in ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "gelu", "softplus", "swish", "silu",
                 "leaky_relu", "log_softmax", "exponential", "relu6", "hard_sigmoid", "mish", "softsign"]:
        fn = activations.get(name)
        assert callable(fn) and fn(x).shape == (3,)
        assert activations.get(activations.serialize(fn))(x).numpy().tolist() == fn(x).numpy().tolist()
    assert activations.get(None)(x) is x and activations.get("linear")(x) is x
    custom = lambda t: t * 2.0  # noqa: E731
    assert activations.get(custom) is custom
    np.testing.assert_allclose(activations.get("exponential")(x).numpy(), np.exp(x.numpy()), rtol=1e-6)
    assert activations.serialize(activations.get("swish")) in ("silu", "swish")
    assert activations.serialize(F.relu) == "relu" and activations.serialize(None) == "linear"


def test_get_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown activation 'relux'.*gelu.*relu.*softmax"):
        activations.get("relux")
    with pytest.raises(TypeError):
        activations.get(3)


def test_keras_relu_options():
    x = cr.tensor([-2.0, -0.5, 0.5, 3.0, 8.0])
    np.testing.assert_allclose(activations.relu(x, max_value=5.0).numpy(), [0, 0, 0.5, 3, 5])
    np.testing.assert_allclose(activations.relu(x, negative_slope=0.5).numpy(), [-1, -0.25, 0.5, 3, 8])
    np.testing.assert_allclose(activations.relu(x, threshold=1.0).numpy(), [0, 0, 0, 3, 8])
