"""The autograd engine: accumulation, graph shapes, higher order, memory, grad modes, dtypes."""
import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.function import Function


def t64(x, requires_grad=True):
    return cr.tensor(np.asarray(x, dtype=np.float64), requires_grad=requires_grad, dtype="float64")


def close(a, b, **kw):
    np.testing.assert_allclose(a.numpy() if isinstance(a, cr.Tensor) else a, b, **kw)


# ------------------------------------------------------------------------------ accumulation and graph shapes
def test_grad_accumulates_across_backward_calls():
    x = t64([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    close(x.grad, [2.0, 4.0, 6.0])
    (x * 3.0).sum().backward()
    close(x.grad, [5.0, 7.0, 9.0])
    x.zero_grad()
    assert x.grad is None


def test_diamond_tensor_used_twice():
    x = t64([0.5, -1.0])
    y = x * x  # used by two branches
    z = (cr.sin(y) + y * 3.0).sum()
    z.backward()
    xv = x.numpy()
    close(x.grad, (np.cos(xv**2) + 3.0) * 2 * xv)


def test_same_tensor_as_both_operands():
    x = t64([1.5, -2.0])
    (x * x * x).sum().backward()
    close(x.grad, 3 * x.numpy() ** 2)


def test_deep_diamond_lattice():
    """Many paths from x to the loss (2^20 of them): the walk visits each node once."""
    x = t64(0.3)
    h = x
    for _ in range(20):
        h = h * 0.5 + h * 0.5  # two uses of h per level
    h.backward()
    close(x.grad, 1.0)


def test_leaf_as_root():
    x = t64([1.0, 2.0])
    x.backward(cr.tensor([3.0, 4.0], dtype="float64"))
    close(x.grad, [3.0, 4.0])


def test_multiple_roots():
    x = t64([1.0, 2.0])
    a, b = x * 2.0, x * x
    cr.autograd.backward([a.sum(), b.sum()])
    close(x.grad, 2.0 + 2 * x.numpy())


def test_backward_with_explicit_gradient():
    x = t64([1.0, 2.0, 3.0])
    y = x * 2.0
    y.backward(np.array([1.0, 0.0, -1.0]))
    close(x.grad, [2.0, 0.0, -2.0])


def test_constant_inputs_get_no_grad():
    x = t64([1.0, 2.0])
    c = t64([3.0, 4.0], requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    close(x.grad, [3.0, 4.0])


# ------------------------------------------------------------------------------ cr.grad
def test_grad_leaves_dot_grad_alone_and_returns_none_for_unused():
    x, y, unused = t64([1.0, 2.0]), t64([3.0, 4.0]), t64([5.0])
    gx, gy, gu = cr.grad((x * y).sum(), [x, y, unused])
    close(gx, [3.0, 4.0])
    close(gy, [1.0, 2.0])
    assert gu is None
    assert x.grad is None and y.grad is None and unused.grad is None


def test_grad_allow_unused_false_raises():
    x, unused = t64([1.0]), t64([2.0])
    with pytest.raises(ValueError, match="input 1"):
        cr.grad((x * 2.0).sum(), [x, unused], allow_unused=False)


def test_grad_with_respect_to_intermediate():
    x = t64([1.0, 2.0])
    h = x * 3.0
    (gh,) = cr.grad((h * h).sum(), [h])
    close(gh, 2 * h.numpy())
    assert x.grad is None


def test_grad_single_tensor_input_and_grad_outputs():
    x = t64([1.0, 2.0])
    (g,) = cr.grad(x * x, x, grad_outputs=cr.tensor([1.0, 10.0], dtype="float64"))
    close(g, [2.0, 40.0])


# ------------------------------------------------------------------------------ higher order
def test_third_derivative_of_x4():
    x = t64(1.7)
    (g1,) = cr.grad(x**4, [x], create_graph=True)
    (g2,) = cr.grad(g1, [x], create_graph=True)
    (g3,) = cr.grad(g2, [x], create_graph=True)
    (g4,) = cr.grad(g3, [x])
    v = 1.7
    close(g1, 4 * v**3)
    close(g2, 12 * v**2)
    close(g3, 24 * v)
    close(g4, 24.0)


def test_higher_order_of_transcendental_chain():
    x = t64(0.4)
    (g1,) = cr.grad(cr.sin(cr.exp(x)), [x], create_graph=True)
    (g2,) = cr.grad(g1, [x])
    e = np.exp(0.4)
    close(g1, np.cos(e) * e)
    close(g2, -np.sin(e) * e * e + np.cos(e) * e)


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    A = A + A.T
    xv, vv = rng.standard_normal(4), rng.standard_normal(4)
    x, v = t64(xv), t64(vv, requires_grad=False)
    At = t64(A, requires_grad=False)
    f = 0.5 * (x @ (At @ x)) + cr.sin(x).sum()  # H = A - diag(sin x)
    (g,) = cr.grad(f, [x], create_graph=True)
    close(g, A @ xv + np.cos(xv))
    (hv,) = cr.grad((g * v).sum(), [x])
    close(hv, A @ vv - np.sin(xv) * vv, rtol=1e-12)


def test_backward_create_graph_gives_differentiable_grad():
    """A gradient penalty: d/dx |df/dx|^2 through .backward(create_graph=True)."""
    x = t64([0.3, -0.7])
    (x**3).sum().backward(create_graph=True)
    g = x.grad  # 3x^2, with a graph
    assert g.requires_grad
    (gg,) = cr.grad((g * g).sum(), [x])  # d/dx sum(9 x^4) = 36 x^3
    close(gg, 36 * x.numpy() ** 3)


# ------------------------------------------------------------------------------ retain_graph and memory
def test_second_backward_without_retain_graph_raises():
    x = t64([1.0, 2.0])
    y = (cr.exp(x) * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = t64([1.0, 2.0])
    y = (cr.exp(x) * 2.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, 4 * np.exp(x.numpy()))


def test_saved_state_cleared_after_backward():
    x = t64([-1.0, 2.0])
    h = cr.relu(x)
    relu_fn = h._ctx
    assert relu_fn.inputs is not None and hasattr(relu_fn, "mask")
    h.sum().backward()
    assert relu_fn.inputs is None
    assert not hasattr(relu_fn, "mask")


def test_saved_state_kept_with_retain_graph():
    x = t64([-1.0, 2.0])
    h = cr.relu(x)
    h.sum().backward(retain_graph=True)
    assert h._ctx.inputs is not None and hasattr(h._ctx, "mask")


def test_intermediate_tensors_freed_after_backward():
    x = t64(np.ones(1000))
    a = cr.exp(x)
    b = cr.tanh(a * 2.0)
    loss = (b * b).sum()
    refs = [weakref.ref(a), weakref.ref(b)]
    del a, b
    gc.collect()
    assert all(r() is not None for r in refs), "the graph keeps intermediates alive before backward"
    loss.backward()
    # Only the refcount is needed: no reference cycle holds the graph's buffers.
    assert all(r() is None for r in refs), "intermediates are still alive after backward"
    assert loss.numpy() > 0 and x.grad is not None


def test_graph_freed_by_refcount_without_backward():
    """Dropping the loss frees the whole graph at once (no cycles through saved outputs)."""
    x = t64(np.ones(10))
    a = cr.sigmoid(cr.exp(x))
    loss = a.sum()
    r = weakref.ref(a)
    del a, loss
    assert r() is None


def test_saved_output_survives_until_its_backward():
    """exp saves its output weakly; the walk keeps it alive until exp's backward has run."""
    x = t64([0.1, 0.2])
    loss = cr.exp(cr.exp(x) * 1.0).sum()
    loss.backward()
    e = np.exp(x.numpy())
    close(x.grad, np.exp(e) * e)


# ------------------------------------------------------------------------------ grad modes
def test_no_grad_context_manager():
    x = t64([1.0])
    with cr.no_grad():
        y = x * 2.0
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None


def test_no_grad_decorator():
    @cr.no_grad()
    def f(x):
        assert not cr.is_grad_enabled()
        return x * 2.0

    y = f(t64([1.0]))
    assert not y.requires_grad
    assert cr.is_grad_enabled()


def test_no_grad_restores_on_exception_and_nests():
    with pytest.raises(KeyError):
        with cr.no_grad():
            raise KeyError
    assert cr.is_grad_enabled()
    x = t64([1.0])
    with cr.no_grad():
        with cr.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad and not z.requires_grad


def test_detach_cuts_the_graph():
    x = t64([1.0, 2.0])
    y = (x * 2.0).detach()
    assert y.is_leaf and not y.requires_grad
    with pytest.raises(ValueError):
        (y * 3.0).sum().backward()


# ------------------------------------------------------------------------------ long chains
def test_ten_thousand_op_chain_without_recursion_error():
    x = t64(1.0)
    h = x
    for _ in range(10_000):
        h = h * 0.9999
    h.backward()
    close(x.grad, 0.9999**10_000, rtol=1e-9)


def test_long_chain_higher_order():
    x = t64(0.5)
    h = x
    for _ in range(2_000):
        h = h + x * x * 1e-3
    (g,) = cr.grad(h, [x], create_graph=True)
    (gg,) = cr.grad(g, [x])
    close(g, 1 + 2_000 * 2 * 0.5 * 1e-3)
    close(gg, 2_000 * 2 * 1e-3)


# ------------------------------------------------------------------------------ leaf gradients are owned arrays
def test_leaf_grads_are_writable_and_not_aliased():
    a, b = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    w = cr.tensor(np.ones((2, 3)), requires_grad=True)
    w.sum().backward()  # the gradient of a sum is a broadcast (read-only) view internally
    assert w.grad.numpy().flags.writeable
    w.grad.numpy()[...] *= 0.5  # an optimizer may update or clip grads in place
    close(w.grad, 0.5 * np.ones((2, 3)))


def test_leaf_grad_does_not_alias_the_given_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.tensor([1.0, 1.0])
    (x + 0.0).backward(g)
    g.numpy()[...] = 7.0
    close(x.grad, [1.0, 1.0])


# ------------------------------------------------------------------------------ float32 discipline
SCALARS = [2, 2.5, np.float64(2.5), np.float32(2.5), np.array(2.5), np.int64(3), True]


@pytest.mark.parametrize("s", SCALARS, ids=[repr(s) for s in SCALARS])
def test_scalars_keep_float32(s):
    x = cr.tensor([[0.5, 1.5], [2.0, 0.25]], requires_grad=True)
    outs = [
        x + s, s + x, x - s, s - x, x * s, s * x, x / s, s / x, x**s, cr.maximum(x, s), cr.minimum(s, x),
        cr.where(x > 1.0, x, s), cr.where(x > 1.0, s, x),
    ]
    if not isinstance(s, (bool, np.bool_)):
        outs.append(cr.clip(x, -s, s))
    for k, y in enumerate(outs):
        assert y.dtype == np.float32, f"output {k}: {y.dtype}"
    loss = outs[0].sum()
    for y in outs[1:]:
        loss = loss + y.sum()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


def test_float32_everywhere_including_higher_order():
    x = cr.tensor(np.linspace(0.1, 1.0, 6).reshape(2, 3), requires_grad=True)
    y = cr.logsumexp(cr.sigmoid(x) * 3.0, axis=1) + cr.std(x, axis=0).sum() + cr.var(x) + cr.mean(cr.exp(-x) ** 2)
    y = y + cr.sqrt(x).max() + (cr.pad(x, 1, 0.5) * 2.0).sum() + cr.tanh(x @ x.T).min()
    assert y.dtype == np.float32
    (g,) = cr.grad(y.sum(), [x], create_graph=True)
    assert g.dtype == np.float32
    (gg,) = cr.grad((g * g).sum(), [x])
    assert gg.dtype == np.float32


def test_integer_tensors_meet_float32():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    i = cr.tensor([1, 2])
    assert i.dtype == np.int64
    for y in (x + i, i * x, x / i, cr.maximum(i, x)):
        assert y.dtype == np.float32
    assert cr.exp(i).dtype == np.float32 and cr.sqrt(i).dtype == np.float32


def test_float32_times_float64_gives_float32_grad():
    """Mixed float dtypes promote the value, but each input's gradient keeps its own dtype."""
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    close(a.grad, [3.0, 4.0])
    c = cr.concatenate([a, b])
    assert c.dtype == np.float64
    (ga, gb) = cr.grad(c.sum(), [a, b])
    assert ga.dtype == np.float32 and gb.dtype == np.float64


def test_set_floatx_changes_defaults():
    assert cr.floatx() == "float32"
    assert cr.tensor([1.0]).dtype == np.float32
    cr.set_floatx("float64")
    assert cr.floatx() == "float64"
    for t in (cr.tensor([1.0]), cr.tensor(np.ones(2, np.float32)), cr.zeros(2), cr.ones(2), cr.full((2,), 3.0),
              cr.eye(2), cr.rand(2), cr.randn(2), cr.arange(0.0, 1.0, 0.5)):
        assert t.dtype == np.float64
    assert cr.arange(3).dtype.kind == "i"
    with pytest.raises(ValueError, match="int32"):
        cr.set_floatx("int32")
    # the autouse fixture in conftest.py sets float32 back after this test


def test_floatx_is_float32_by_default():
    assert cr.floatx() == "float32" and cr.ones(1).dtype == np.float32


def test_manual_seed_reproducibility():
    cr.manual_seed(123)
    a, b = cr.randn(3, 4), cr.rand(5)
    cr.manual_seed(123)
    c, d = cr.randn(3, 4), cr.rand(5)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    np.testing.assert_array_equal(b.numpy(), d.numpy())
    cr.manual_seed(124)
    assert not np.array_equal(cr.randn(3, 4).numpy(), a.numpy())
    with pytest.raises(ValueError):
        cr.manual_seed(-1)


# ------------------------------------------------------------------------------ retain_grad
def test_retain_grad_on_non_leaf():
    x = t64([1.0, -2.0])
    h = x * 3.0
    h.retain_grad()
    other = h + 1.0
    (h * other).sum().backward()
    hv = h.numpy()
    close(h.grad, 2 * hv + 1.0)
    assert other.grad is None
    close(x.grad, 3 * (2 * hv + 1.0))


def test_retain_grad_accumulates_and_is_detached():
    x = t64([1.0])
    h = x * 2.0
    h.retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(h.grad, 2 * 2 * 2.0)
    assert not h.grad.requires_grad


# ------------------------------------------------------------------------------ custom and multi-output Functions
class TwoOutputs(Function):
    """(y1, y2) = (2x, x^2).  dL/dx = 2 g1 + 2x g2."""

    def forward(self, x):
        return x * 2.0, x * x

    def backward(self, g1, g2):
        (x,) = self.inputs
        return g1 * 2.0 + g2 * x * 2.0


def test_multi_output_function():
    x = t64([1.0, 3.0])
    y1, y2 = TwoOutputs.apply(x)
    (y1.sum() + (y2 * 10.0).sum()).backward()
    close(x.grad, 2.0 + 20.0 * x.numpy())


def test_multi_output_function_one_output_unused():
    x = t64([1.0, 3.0])
    _, y2 = TwoOutputs.apply(x)
    (g,) = cr.grad(y2.sum(), [x])
    close(g, 2 * x.numpy())


def test_multi_output_function_gradchecks():
    assert cr.gradcheck(lambda x: TwoOutputs.apply(x), [t64([0.5, -1.5])])
    assert cr.gradgradcheck(lambda x: TwoOutputs.apply(x), [t64([0.5, -1.5])])


class ExpPair(Function):
    """(y1, y2) = (e^x, e^-x), saved with save_output().  dL/dx = g1 y1 - g2 y2."""

    def forward(self, x):
        self.save_output()
        return np.exp(x), np.exp(-x)

    def backward(self, g1, g2):
        y1, y2 = self.output  # a multi-output Function's saved output is the tuple of its outputs
        assert [t.data for t in self.outputs] == [y1.data, y2.data] and y1._ctx is self and y2._out_idx == 1
        return g1 * y1 - g2 * y2


def test_multi_output_function_saves_its_outputs():
    x = t64([0.5, -1.0])
    y1, y2 = ExpPair.apply(x)
    (y1 * 2.0 + y2 * 3.0).sum().backward()
    close(x.grad, 2.0 * np.exp(x.numpy()) - 3.0 * np.exp(-x.numpy()))


def test_multi_output_saved_output_dropped_by_the_caller():
    """Only the second output is used and the first is gone: backward still reads both."""
    x = t64([0.5, -1.0])
    y1, y2 = ExpPair.apply(x)
    r1 = weakref.ref(y1)
    del y1
    gc.collect()
    assert r1() is None
    (g,) = cr.grad((y2 * 3.0).sum(), [x])
    close(g, -3.0 * np.exp(-x.numpy()))


def test_multi_output_saved_output_second_order():
    assert cr.gradcheck(lambda x: ExpPair.apply(x), [t64([0.5, -1.5])])
    assert cr.gradgradcheck(lambda x: ExpPair.apply(x), [t64([0.5, -1.5])])
    x = t64([0.5, -1.5])
    y1, y2 = ExpPair.apply(x)
    del y1  # its Tensor is rebuilt from the saved array, still linked to the node
    (g,) = cr.grad(y2.sum(), [x], create_graph=True)
    (h,) = cr.grad(g.sum(), [x])
    close(h, np.exp(-x.numpy()))


def test_single_output_outputs_is_a_tuple():
    x = t64([0.1, 0.2])
    y = cr.exp(x)
    assert y._ctx.outputs == (y,) and y._ctx.output is y


class WrongCube(Function):
    """y = x^3 with a deliberately wrong backward (2x^2 instead of 3x^2)."""

    def forward(self, x):
        return x**3

    def backward(self, g):
        (x,) = self.inputs
        return g * x * x * 2.0


def test_gradcheck_reports_a_wrong_backward():
    x = t64([[0.5, 1.0], [1.5, -2.0]])
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda x: WrongCube.apply(x), [x])
    msg = str(info.value)
    assert "input 0" in msg and "index (0, 0)" in msg
    assert "analytic" in msg and "numeric" in msg
    # the report carries the numbers: analytic 2x^2 v, numeric 3x^2 v at the first element
    import re

    v = np.random.default_rng(0).standard_normal((2, 2))  # gradcheck's cotangent (seed=0)
    analytic = float(re.search(r"analytic (\S+),", msg).group(1))
    numeric = float(re.search(r"numeric (\S+);", msg).group(1))
    assert analytic == pytest.approx(2 * 0.25 * v[0, 0], rel=1e-9)
    assert numeric == pytest.approx(3 * 0.25 * v[0, 0], rel=1e-6)
    assert isinstance(info.value, AssertionError)


def test_gradcheck_names_the_wrong_input():
    a, b = t64([1.0, 2.0]), t64([0.5, 0.25])
    with pytest.raises(cr.GradcheckError, match="input 1"):
        cr.gradcheck(lambda a, b: a * 2.0 + WrongCube.apply(b), [a, b])


class CutGraphSquare(Function):
    """y = x^2 whose backward is right in value but built from raw arrays (no graph)."""

    def forward(self, x):
        return x * x

    def backward(self, g):
        (x,) = self.inputs
        return cr.Tensor._wrap(g.data * 2.0 * x.data)


def test_gradgradcheck_catches_a_backward_that_cuts_the_graph():
    x = t64([0.5, -1.0])
    assert cr.gradcheck(lambda x: CutGraphSquare.apply(x), [x])
    with pytest.raises(cr.GradcheckError, match="second-order"):
        cr.gradgradcheck(lambda x: CutGraphSquare.apply(x), [x])


def test_gradcheck_needs_float64():
    with pytest.raises(TypeError, match="float64"):
        cr.gradcheck(lambda x: x * 2.0, [cr.tensor([1.0], requires_grad=True)])


def test_gradcheck_handles_non_contiguous_inputs():
    x = cr.tensor(np.arange(12.0).reshape(3, 4).T, dtype="float64", requires_grad=True)
    assert not x.numpy().flags.c_contiguous
    assert cr.gradcheck(lambda x: x * x, [x])


def test_function_backward_returning_wrong_shape_is_reported():
    class BadShape(Function):
        def forward(self, x):
            return x * 2.0

        def backward(self, g):
            return g.sum()

    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="BadShape"):
        BadShape.apply(x).sum().backward()


# ------------------------------------------------------------------------------ bad input to the engine
def test_backward_on_non_scalar_without_gradient():
    y = t64([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"backward.*one-element.*\(2,\)"):
        y.backward()


def test_backward_with_gradient_of_wrong_shape():
    y = t64([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_through_tensor_without_grad():
    y = cr.tensor([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match="does not require grad"):
        y.sum().backward()
    with cr.no_grad():
        z = t64([1.0]) * 2.0
    with pytest.raises(ValueError, match="does not require grad"):
        z.backward()


def test_requires_grad_on_integer_tensor():
    with pytest.raises(TypeError, match="int64"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        cr.tensor([True]).requires_grad_()
    with pytest.raises(TypeError):
        cr.zeros(2, dtype="int32", requires_grad=True)


def test_grad_of_non_tensor_raises():
    x = t64([1.0])
    with pytest.raises(TypeError, match="Tensor"):
        cr.grad((x * 2.0).sum(), [np.ones(1)])


class Probe(Function):
    """y = x; its backward records which of the watched tensors are still alive."""

    watched: list = []
    alive_at_backward: list = []

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        gc.collect()
        Probe.alive_at_backward = [r() is not None for r in Probe.watched]
        return g


def test_buffers_released_during_the_walk_not_after():
    x = t64(np.ones(100))
    h1 = Probe.apply(x) * 2.0
    h2 = cr.tanh(h1)  # tanh saves its output (weakly) for its backward
    h3 = h2 * 2.0
    loss = h3.sum()
    Probe.watched = [weakref.ref(h2), weakref.ref(h3)]
    del h1, h2, h3
    loss.backward()
    # By the time the walk reaches the first op, the later activations are gone.
    assert Probe.alive_at_backward == [False, False]
    close(x.grad, 4 * (1 - np.tanh(2.0) ** 2))


def test_grad_results_are_writable_and_not_aliased():
    a, b = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor(np.ones((2, 2)), requires_grad=True)
    ga, gb = cr.grad((a + a).sum() + b.sum(), [a, b])
    for g in (ga, gb):
        assert g.numpy().flags.writeable
    gb.numpy()[...] = 0.0  # in-place use (gradient clipping in a custom loop) is safe
    v = cr.tensor([5.0, 6.0])
    (g,) = cr.grad(a + 0.0, [a], grad_outputs=v)
    assert not np.shares_memory(g.numpy(), v.numpy())


def test_float_array_takes_the_float_tensor_dtype():
    """A float64 array meeting a float64 tensor keeps its precision (not rounded through float32),
    and meeting a float32 tensor it does not make the result float64."""
    a = np.array([0.1, 1.0 / 3.0])
    x64 = cr.tensor([0.0, 0.0], dtype="float64", requires_grad=True)
    y = x64 + a
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), a)
    np.testing.assert_array_equal((a * x64 + a).numpy(), a)
    x32 = cr.tensor([0.0, 0.0], requires_grad=True)
    assert (x32 + a).dtype == np.float32 and (a - x32).dtype == np.float32


class SpyProduct(Function):
    """y = a * b, recording which input gradients each backward was asked for.  dL/da = g b, dL/db = g a."""

    calls: list = []

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        SpyProduct.calls.append((self.tag, need_a, need_b))
        return (g * b if need_a else None), (g * a if need_b else None)


def _spy(a, b, tag):
    y = SpyProduct.apply(a, b)
    y._ctx.tag = tag
    return y


def test_grad_computes_only_what_leads_to_its_inputs():
    # As PyTorch's autograd.grad: a Function asked only for some inputs' gradients sees the others
    # as not needed, and a Function from which no input can be reached does not run its backward.
    a, b, c, d = (t64([1.0, 2.0]) for _ in range(4))
    h = _spy(a, b, "h")
    loss = (_spy(h, c, "top") + _spy(d, d, "side")).sum()
    SpyProduct.calls = []
    (ga,) = cr.grad(loss, [a], retain_graph=True)
    np.testing.assert_allclose(ga.numpy(), (b.data * c.data))
    assert sorted(SpyProduct.calls) == [("h", True, False), ("top", True, False)]
    SpyProduct.calls = []
    (gh,) = cr.grad(loss, [h], retain_graph=True)          # a non-leaf input: nothing above it runs
    np.testing.assert_allclose(gh.numpy(), c.data)
    assert SpyProduct.calls == [("top", True, False)]
    SpyProduct.calls = []
    loss.backward()                                        # backward: every leaf that requires grad
    assert sorted(SpyProduct.calls) == [("h", True, True), ("side", True, True), ("top", True, True)]
    np.testing.assert_allclose(d.grad.numpy(), 2 * d.data)
