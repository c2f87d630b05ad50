"""Losses: the per-sample functions against PyTorch (values and gradients, float32 and float64),
float64 gradient checks, stability with huge logits, the softmax/sigmoid-output shortcut, label
validation, Keras's reference values, and the ``cr.losses`` classes, reductions and lookup."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import losses
from chainrule.ops.elementwise import Sigmoid
from differential import check, const


def both(cr_fn, th_fn):
    return lambda L, *xs: cr_fn(*xs) if L.name == "chainrule" else th_fn(*xs)


def torch():
    return pytest.importorskip("torch")


def tf():
    return torch().nn.functional


RNG = np.random.default_rng(0)
DTYPES = ["float32", "float64"]


def probs(shape, seed=0, low=0.05):
    """Probabilities over the last axis, each at least ``low``-ish (away from Keras's clipping)."""
    p = np.random.default_rng(seed).uniform(low, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def one_hot(labels, n):
    return np.eye(n)[labels]


# ------------------------------------------------------------------------------- regression
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4)], ids=str)
def test_mse_mae_huber_against_torch(shape, dtype):
    t = RNG.standard_normal(shape)
    p = RNG.standard_normal(shape) * 2
    check(both(F.mean_squared_error, lambda a, b: tf().mse_loss(b, a, reduction="none").mean(-1)), t, p, dtype=dtype)
    check(both(F.mean_absolute_error, lambda a, b: tf().l1_loss(b, a, reduction="none").mean(-1)), t, p, dtype=dtype)
    for delta in (1.0, 0.5):
        check(both(lambda a, b: F.huber(a, b, delta=delta),
                   lambda a, b: tf().huber_loss(b, a, reduction="none", delta=delta).mean(-1)), t, p, dtype=dtype)


def test_regression_rank_fix_as_keras():
    # y_true (batch,) against y_pred (batch, 1): y_true is expanded, giving one loss per sample
    y = np.array([1.0, 2.0, 3.0])
    out = F.mean_squared_error(y, cr.tensor([[1.5], [2.0], [2.0]]))
    assert out.shape == (3,)
    np.testing.assert_allclose(out.numpy(), [0.25, 0.0, 1.0])


def test_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"mean_squared_error.*\(4, 3\).*\(4, 2\)"):
        F.mean_squared_error(np.zeros((4, 3)), cr.zeros(4, 2))
    with pytest.raises(ValueError, match=r"categorical_crossentropy.*\(4,\).*\(4, 3\).*sparse_categorical"):
        F.categorical_crossentropy(np.zeros(4), cr.zeros(4, 3))
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(4, 3\).*categorical_crossentropy"):
        F.sparse_categorical_crossentropy(np.zeros((4, 3)), cr.zeros(4, 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_divergence_against_torch(dtype):
    t, p = probs((5, 4), 1), probs((5, 4), 2)
    check(both(F.kl_divergence, lambda a, b: tf().kl_div(torch().log(b), a, reduction="none").sum(-1)),
          t, p, dtype=dtype, rtol=1e-4 if dtype == "float32" else None)


# --------------------------------------------------------------------------- cross-entropies
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy_against_torch(dtype):
    t = RNG.integers(0, 2, (6, 3)).astype(float)
    x = RNG.standard_normal((6, 3)) * 3
    p = 1 / (1 + np.exp(-RNG.standard_normal((6, 3))))
    check(both(lambda a, b: F.binary_crossentropy(a, b, from_logits=True),
               lambda a, b: tf().binary_cross_entropy_with_logits(b, a, reduction="none").mean(-1)),
          t, x, dtype=dtype)
    check(both(F.binary_crossentropy, lambda a, b: tf().binary_cross_entropy(b, a, reduction="none").mean(-1)),
          const(t), p, dtype=dtype)
    # soft targets: the gradient w.r.t. y_true too
    soft = RNG.uniform(0, 1, (6, 3))
    check(both(lambda a, b: F.binary_crossentropy(a, b, from_logits=True),
               lambda a, b: tf().binary_cross_entropy_with_logits(b, a, reduction="none").mean(-1)),
          soft, x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_categorical_crossentropy_logits_against_torch(smoothing, dtype):
    labels = RNG.integers(0, 5, 6)
    x = RNG.standard_normal((6, 5)) * 3
    check(both(lambda a, b: F.categorical_crossentropy(a, b, from_logits=True, label_smoothing=smoothing),
               lambda a, b: tf().cross_entropy(b, a, reduction="none", label_smoothing=smoothing)),
          const(one_hot(labels, 5)), x, dtype=dtype)
    # a soft target distribution, differentiated too
    check(both(lambda a, b: F.categorical_crossentropy(a, b, from_logits=True),
               lambda a, b: tf().cross_entropy(b, a, reduction="none")), probs((6, 5), 3), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_probabilities_against_torch_nll(dtype):
    labels = RNG.integers(0, 4, 7)
    p = probs((7, 4), 4)
    # Keras renormalises the probabilities (p / sum p) before the log; the reference does too
    check(both(F.categorical_crossentropy, lambda a, b: -(a * torch().log(b / b.sum(-1, keepdim=True))).sum(-1)),
          const(one_hot(labels, 4)), p, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_channels_first_axis(dtype):
    labels = RNG.integers(0, 3, (2, 4))
    x = RNG.standard_normal((2, 3, 4))
    t = np.moveaxis(one_hot(labels, 3), -1, 1)
    check(both(lambda a, b: F.categorical_crossentropy(a, b, from_logits=True, axis=1),
               lambda a, b: tf().cross_entropy(b, a, reduction="none")), const(t), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 5), (2, 3, 6)], ids=str)
def test_sparse_categorical_crossentropy_logits_against_torch(shape, dtype):
    labels = RNG.integers(0, shape[-1], shape[:-1])
    x = RNG.standard_normal(shape) * 3

    def th(lab, logits):
        return tf().cross_entropy(torch().movedim(logits, -1, 1), lab, reduction="none")

    out = check(both(lambda a, b: F.sparse_categorical_crossentropy(a, b, from_logits=True), th), labels, x,
                dtype=dtype)
    assert out[0].shape == shape[:-1]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_categorical_crossentropy_probabilities_against_torch_nll(dtype):
    labels = RNG.integers(0, 5, 9)
    p = probs((9, 5), 5)
    check(both(F.sparse_categorical_crossentropy,
               lambda a, b: tf().nll_loss(torch().log(b / b.sum(-1, keepdim=True)), a, reduction="none")),
          labels, p, dtype=dtype)


def test_sparse_ignore_class_matches_torch_ignore_index():
    labels = np.array([0, 2, -1, 1, -1, 3])
    x = RNG.standard_normal((6, 4))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    xc = cr.tensor(x, requires_grad=True, dtype="float64")
    out = loss(labels, xc)
    out.backward()
    xt = torch().tensor(x, requires_grad=True)
    ref = tf().cross_entropy(xt, torch().tensor(labels), ignore_index=-1)
    ref.backward()
    assert out.item() == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    per = F.sparse_categorical_crossentropy(labels, xc, from_logits=True, ignore_class=-1).numpy()
    assert per[2] == 0 and per[4] == 0


# --------------------------------------------------------------------------- gradient checks
def _f64(a, grad=True):
    return cr.tensor(a, requires_grad=grad, dtype="float64")


LABELS = np.array([0, 3, 1, 2])
GRADCHECKS = {
    "sparse_logits": (lambda x: F.sparse_categorical_crossentropy(LABELS, x, from_logits=True), (4, 4)),
    "sparse_axis0": (lambda x: F.sparse_categorical_crossentropy(LABELS, x, from_logits=True, axis=0), (4, 4)),
    "sparse_probs": (lambda x: F.sparse_categorical_crossentropy(LABELS, F.softmax(x) * 1.0), (4, 4)),
    "sparse_softmax_output": (lambda x: F.sparse_categorical_crossentropy(LABELS, F.softmax(x)), (4, 4)),
    "categorical_logits": (lambda x: F.categorical_crossentropy(one_hot(LABELS, 4), x, from_logits=True), (4, 4)),
    "categorical_smoothing": (lambda x: F.categorical_crossentropy(one_hot(LABELS, 4), x, from_logits=True,
                                                                   label_smoothing=0.2), (4, 4)),
    "categorical_softmax_output": (lambda x: F.categorical_crossentropy(one_hot(LABELS, 4), F.softmax(x)), (4, 4)),
    "binary_logits": (lambda x: F.binary_crossentropy(np.array([[0., 1.], [1., 0.]]), x, from_logits=True), (2, 2)),
    "binary_sigmoid_output": (lambda x: F.binary_crossentropy(np.array([[0., 1.], [1., 0.]]), F.sigmoid(x)), (2, 2)),
    "binary_probs": (lambda x: F.binary_crossentropy(np.array([[0., 1.], [1., 0.]]), F.sigmoid(x) * 1.0), (2, 2)),
    "mse": (lambda x: F.mean_squared_error(np.ones((3, 2)), x), (3, 2)),
    "mae": (lambda x: F.mean_absolute_error(np.zeros((3, 2)), x), (3, 2)),
    "huber": (lambda x: F.huber(np.zeros((3, 2)), x, delta=0.8), (3, 2)),
    "kl": (lambda x: F.kl_divergence(probs((3, 4), 9), F.softmax(x)), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck(name):
    fn, shape = GRADCHECKS[name]
    x = np.random.default_rng(11).standard_normal(shape)
    x[np.abs(x) < 0.05] += 0.1  # away from |e| kinks
    x[np.abs(np.abs(x) - 0.8) < 0.05] += 0.1
    assert cr.gradcheck(fn, [_f64(x)])


@pytest.mark.parametrize("name", ["sparse_logits", "sparse_axis0", "sparse_softmax_output", "categorical_logits",
                                  "categorical_softmax_output", "binary_logits"])
def test_gradgradcheck(name):
    fn, shape = GRADCHECKS[name]
    assert cr.gradgradcheck(fn, [_f64(np.random.default_rng(12).standard_normal(shape))])


def test_gradcheck_with_respect_to_soft_targets():
    x = _f64(RNG.standard_normal((3, 4)))
    t = _f64(probs((3, 4), 13))
    assert cr.gradcheck(lambda t, x: F.categorical_crossentropy(t, x, from_logits=True), [t, x])
    assert cr.gradgradcheck(lambda t, x: F.categorical_crossentropy(t, x, from_logits=True), [t, x])
    tb = _f64(RNG.uniform(0, 1, (3, 4)))
    assert cr.gradcheck(lambda t, x: F.binary_crossentropy(t, x, from_logits=True), [tb, x])


# ------------------------------------------------------------------------------- stability
@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_logits_give_finite_loss_and_gradient(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
    lab = np.array([2, 1])
    cases = [
        lambda t: F.sparse_categorical_crossentropy(lab, t, from_logits=True),
        lambda t: F.categorical_crossentropy(one_hot(lab, 3), t, from_logits=True),
        lambda t: F.binary_crossentropy(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), t, from_logits=True),
        lambda t: F.sparse_categorical_crossentropy(lab, F.softmax(t)),
        lambda t: F.binary_crossentropy(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), F.sigmoid(t)),
    ]
    for fn in cases:
        t = cr.tensor(x, requires_grad=True, dtype=dtype)
        out = fn(t)
        out.sum().backward()
        assert np.isfinite(out.numpy()).all() and np.isfinite(t.grad.numpy()).all()
    out = F.sparse_categorical_crossentropy(lab, cr.tensor(x, dtype=dtype), from_logits=True).numpy()
    np.testing.assert_allclose(out, [2000.0, 0.0])


def test_softmax_output_shortcut_uses_the_logits():
    x = np.random.default_rng(14).standard_normal((5, 4)) * 2
    lab = np.array([0, 1, 2, 3, 0])
    for make in (lambda t: F.sparse_categorical_crossentropy(lab, t),
                 lambda t: F.categorical_crossentropy(one_hot(lab, 4), t)):
        a = _f64(x)
        short = make(F.softmax(a))  # the shortcut: softmax output with a recorded graph
        short.sum().backward()
        b = _f64(x)
        direct = make(F.softmax(b) * 1.0)  # the same probabilities through the clipped formula
        direct.sum().backward()
        np.testing.assert_allclose(short.numpy(), direct.numpy(), rtol=1e-12)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
        with cr.no_grad():  # no graph: the recorded logits still give the same values
            np.testing.assert_allclose(make(F.softmax(_f64(x, False))).numpy(), short.numpy(), rtol=1e-12)
    # far in the tail only the shortcut stays exact (the clipped formula caps at -log(1e-7))
    big = _f64(np.array([[50.0, 0.0]]))
    assert F.sparse_categorical_crossentropy([1], F.softmax(big)).item() == pytest.approx(50.0, rel=1e-12)
    assert F.sparse_categorical_crossentropy([1], F.softmax(big) * 1.0).item() == pytest.approx(-np.log(1e-7))


def test_sigmoid_output_shortcut_uses_the_logits():
    x = np.random.default_rng(15).standard_normal((4, 3))
    t = RNG.integers(0, 2, (4, 3)).astype(float)
    a, b = _f64(x), _f64(x)
    short = F.binary_crossentropy(t, F.sigmoid(a))
    direct = F.binary_crossentropy(t, F.sigmoid(b) * 1.0)
    short.sum().backward()
    direct.sum().backward()
    np.testing.assert_allclose(short.numpy(), direct.numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9)
    # (batch,) labels against a (batch, 1) sigmoid output
    z = _f64(np.array([[30.0], [-2.0]]))
    out = F.binary_crossentropy(np.array([0.0, 0.0]), F.sigmoid(z))
    assert out.shape == (2,) and out.numpy()[0] == pytest.approx(30.0, rel=1e-12)


def test_the_logits_shortcut_holds_without_a_graph():
    big = np.array([[100.0, 0.0, 0.0]], np.float32)
    with cr.no_grad():
        p = F.softmax(cr.tensor(big))
        assert p._ctx is None
        assert F.sparse_categorical_crossentropy([1], p).item() == pytest.approx(100.0)
        assert F.categorical_crossentropy(np.array([[0.0, 1.0, 0.0]]), p).item() == pytest.approx(100.0)
        q = F.sigmoid(cr.tensor(np.array([[100.0]], np.float32)))
        assert F.binary_crossentropy(np.array([[0.0]]), q).item() == pytest.approx(100.0)
        assert cr.activations.get("sigmoid")(cr.tensor([[-100.0]]))._keras_logits[1].item() == -100.0
        # one sigmoid: the function, the method and F's record alike
        t = cr.tensor(np.array([[100.0]], np.float32))
        for q in (cr.sigmoid(t), t.sigmoid()):
            assert q._keras_logits[1] is t
            assert F.binary_crossentropy(np.array([[0.0]]), q).item() == pytest.approx(100.0)
    # without the record (a bare Function, no graph), the clipped formula: Keras's value too
    with cr.no_grad():
        plain = Sigmoid.apply(cr.tensor(np.array([[100.0]], np.float32)))
        assert F.binary_crossentropy(np.array([[0.0]]), plain).item() < 17.0  # -log(1 - (1 - 1e-7)) in float32


@pytest.mark.parametrize("activation, units, loss, y", [
    ("softmax", 3, "sparse_categorical_crossentropy", np.array([1])),
    ("softmax", 3, "categorical_crossentropy", np.array([[0.0, 1.0, 0.0]], np.float32)),
    ("sigmoid", 1, "binary_crossentropy", np.array([[0.0]], np.float32)),
])
def test_fit_and_evaluate_agree_on_saturated_outputs(activation, units, loss, y):
    model = cr.Sequential([cr.layers.Input((1,)), cr.layers.Dense(units, activation=activation)])
    model.set_weights([np.array([[100.0] + [0.0] * (units - 1)], np.float32), np.zeros(units, np.float32)])
    model.compile(optimizer=cr.optimizers.SGD(learning_rate=0.0), loss=loss, metrics=[loss])
    batch_losses = []
    record = cr.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"]))
    x = np.ones((1, 1), np.float32)
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[record])
    evaluated, metric = model.evaluate(x, y, verbose=0)
    assert batch_losses == [pytest.approx(100.0)] and evaluated == pytest.approx(100.0)
    assert history.history[loss] == [pytest.approx(100.0)] and metric == pytest.approx(100.0)


def test_warnings_for_likely_mistakes():
    x = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.warns(UserWarning, match="from_logits=True, but y_pred was produced by a softmax"):
        F.sparse_categorical_crossentropy([0, 1], F.softmax(x), from_logits=True)
    with pytest.warns(UserWarning, match="produced by a sigmoid"):
        F.binary_crossentropy(np.zeros((2, 3)), F.sigmoid(x), from_logits=True)
    with pytest.warns(UserWarning, match="single class.*binary_crossentropy"):
        F.categorical_crossentropy(np.ones((2, 1)), cr.tensor(np.ones((2, 1))))


def test_softmax_over_another_axis_is_not_taken_for_logits():
    x = _f64(np.random.default_rng(16).standard_normal((3, 3)))
    lab = np.array([0, 1, 2])
    y = F.softmax(x, axis=0)
    ref = -np.log(np.clip(y.numpy() / y.numpy().sum(-1, keepdims=True), 1e-7, 1 - 1e-7)[np.arange(3), lab])
    np.testing.assert_allclose(F.sparse_categorical_crossentropy(lab, y).numpy(), ref, rtol=1e-12)


# -------------------------------------------------------------------------------------- labels
def test_labels_out_of_range_raise():
    x = cr.zeros(3, 4)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: label 4 is out of range for 4 classes"):
        F.sparse_categorical_crossentropy([0, 4, 1], x, from_logits=True)
    with pytest.raises(ValueError, match=r"label -1 is out of range for 4 classes"):
        F.sparse_categorical_crossentropy(np.array([0, -1, 1]), x)
    with pytest.raises(ValueError, match=r"label 7 is out of range for 4 classes"):
        losses.SparseCategoricalCrossentropy()(cr.tensor([0, 7, 1]), x)
    with pytest.raises(ValueError, match=r"integer class indices.*1\.5"):
        F.sparse_categorical_crossentropy(np.array([0.0, 1.5, 1.0]), x)


def test_label_forms_accepted():
    x = cr.tensor(np.random.default_rng(17).standard_normal((3, 4)))
    ref = F.sparse_categorical_crossentropy(np.array([0, 3, 1]), x, from_logits=True).numpy()
    for lab in ([0, 3, 1], np.array([0., 3., 1.]), np.array([[0], [3], [1]]), cr.tensor([0, 3, 1]),
                np.array([0, 3, 1], dtype=np.uint8), cr.tensor([[0.0], [3.0], [1.0]])):
        np.testing.assert_array_equal(F.sparse_categorical_crossentropy(lab, x, from_logits=True).numpy(), ref)


# ---------------------------------------------------------------------------- Keras's values
def test_keras_documented_values():
    yt = np.array([[0.0, 1.0], [0.0, 0.0]])
    yp = cr.tensor([[0.6, 0.4], [0.4, 0.6]])
    ones = cr.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert losses.MeanSquaredError()(yt, ones).item() == pytest.approx(0.5)
    assert losses.MeanAbsoluteError()(yt, ones).item() == pytest.approx(0.5)
    assert losses.Huber()(yt, yp).item() == pytest.approx(0.155)
    assert losses.BinaryCrossentropy()(yt, yp).item() == pytest.approx(0.81492424, rel=1e-5)
    assert losses.KLDivergence()(yt, yp).item() == pytest.approx(0.45814, rel=1e-4)
    cce = F.categorical_crossentropy(np.eye(3), cr.tensor([[.9, .05, .05], [.05, .89, .06], [.05, .01, .94]]))
    np.testing.assert_allclose(cce.numpy(), [0.10536, 0.11653, 0.06188], atol=1e-5)
    scce = losses.SparseCategoricalCrossentropy()([1, 2], cr.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
    assert scce.item() == pytest.approx(1.177, abs=1e-3)
    cce_ls = losses.CategoricalCrossentropy(label_smoothing=0.1)(
        np.eye(3)[[1, 2]], cr.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
    assert np.isfinite(cce_ls.item())


# ----------------------------------------------------------------------------- Loss classes
def test_reductions_and_sample_weight():
    yt = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    yp = cr.tensor([[1.0, 0.0], [3.0, 5.0], [1.0, 1.0]])
    per = np.array([2.0, 0.5, 1.0])
    assert losses.MeanSquaredError()(yt, yp).item() == pytest.approx(per.mean())
    assert losses.MeanSquaredError(reduction="sum")(yt, yp).item() == pytest.approx(per.sum())
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="none")(yt, yp).numpy(), per)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction=None)(yt, yp).numpy(), per)
    w = np.array([1.0, 2.0, 0.0])
    assert losses.MeanSquaredError()(yt, yp, sample_weight=w).item() == pytest.approx((per * w).sum() / 3)
    assert losses.MeanSquaredError(reduction="mean_with_sample_weight")(yt, yp, w).item() == pytest.approx(
        (per * w).sum() / 3.0)
    assert losses.MeanSquaredError()(yt, yp, sample_weight=w[:, None]).item() == pytest.approx((per * w).sum() / 3)
    with pytest.raises(ValueError, match="sample_weight"):
        losses.MeanSquaredError()(yt, yp, sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")


def test_per_timestep_losses_with_per_sample_weights():
    lab = np.array([[0, 1, 2], [2, 1, 0]])
    x = cr.tensor(np.random.default_rng(18).standard_normal((2, 3, 3)), dtype="float64")
    per = F.sparse_categorical_crossentropy(lab, x, from_logits=True).numpy()
    out = losses.SparseCategoricalCrossentropy(from_logits=True)(lab, x, sample_weight=np.array([1.0, 0.0]))
    assert out.item() == pytest.approx(per[0].sum() / 6)


def test_loss_class_gradient_matches_torch_mean():
    x0 = np.random.default_rng(19).standard_normal((6, 5))
    lab = np.array([0, 4, 2, 1, 3, 3])
    x = cr.tensor(x0, requires_grad=True, dtype="float64")
    losses.SparseCategoricalCrossentropy(from_logits=True)(lab, x).backward()
    xt = torch().tensor(x0, requires_grad=True)
    tf().cross_entropy(xt, torch().tensor(lab)).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_names_and_configs():
    assert losses.SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.Huber().name == "huber_loss"
    cfg = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1).get_config()
    assert cfg["from_logits"] is True and cfg["label_smoothing"] == 0.1 and cfg["reduction"] == "sum_over_batch_size"


@pytest.mark.parametrize("name,cls", [
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("mean_absolute_error", losses.MeanAbsoluteError), ("huber", losses.Huber),
    ("binary_crossentropy", losses.BinaryCrossentropy), ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy), ("kl_divergence", losses.KLDivergence),
    ("kld", losses.KLDivergence), ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy),
])
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_other_identifiers():
    inst = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(inst) is inst
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    assert isinstance(losses.get(F.mean_squared_error), losses.MeanSquaredError)
    assert losses.get(None) is None
    assert isinstance(losses.get({"class_name": "Huber", "config": {"delta": 2.0}}), losses.Huber)

    def per_sample(y_true, y_pred):
        return ((y_pred - y_true) ** 2).sum(axis=-1)

    def scalar(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean()

    yt, yp = np.ones((4, 2)), cr.tensor(np.zeros((4, 2)))
    wrapped = losses.get(per_sample)
    assert isinstance(wrapped, losses.Loss) and wrapped.name == "per_sample"
    assert wrapped(yt, yp).item() == pytest.approx(2.0)
    assert losses.get(scalar)(yt, yp).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"unknown loss 'cross_entropy'.*binary_crossentropy.*mse.*"
                                         r"sparse_categorical_crossentropy"):
        losses.get("cross_entropy")
    with pytest.raises(TypeError):
        losses.get(42)


def test_serialize_round_trip():
    for loss in (losses.MeanSquaredError(), losses.Huber(delta=0.3), losses.BinaryCrossentropy(from_logits=True,
                 label_smoothing=0.2), losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
                 losses.CategoricalCrossentropy(reduction="sum"), losses.KLDivergence(name="kl")):
        cfg = losses.serialize(loss)
        assert set(cfg) == {"class_name", "config"}
        back = losses.deserialize(cfg)
        assert type(back) is type(loss) and back.get_config() == loss.get_config()
    assert type(losses.deserialize(losses.serialize("mse"))) is losses.MeanSquaredError

    def my_loss(y_true, y_pred):
        return (y_pred - y_true).abs().mean(axis=-1)

    cfg = losses.serialize(my_loss)
    with pytest.raises(ValueError, match="custom_objects"):
        losses.deserialize(cfg)
    assert losses.deserialize(cfg, custom_objects={"my_loss": my_loss}).fn is my_loss
