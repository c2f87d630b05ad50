"""No float64 anywhere in a float32 model's forward or backward pass.

A float64 array in a float32 model is a silent slowdown (twice the memory traffic, a
float64 GEMM at half the speed) and a silent change of numbers. These tests run whole
training steps with ``Function.apply`` wrapped so that the dtype of every array that
enters or leaves every op -- its input Tensors, array parameters, the arrays it saves
for backward, its outputs -- is recorded, in the forward pass and in the backward pass
(whose gradients are computed by Tensor ops, so they go through ``apply`` too). Every
floating dtype seen must be float32; so must every gradient, and every weight and
optimizer slot after the update.
"""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule.autograd.function import Function
from chainrule.autograd.tensor import Tensor

F32 = np.dtype("float32")


class DtypeRecorder:
    """Wraps ``Function.apply``; ``records`` holds (phase, op, role, dtype) for every floating array."""

    def __init__(self, monkeypatch):
        self.records = []
        self.phase = "setup"
        self.calls = 0
        original = Function.__dict__["apply"].__func__
        recorder = self

        def apply(cls, *inputs, **params):
            recorder.calls += 1
            name = cls.__name__
            for i, t in enumerate(inputs):
                recorder._note(name, f"input {i}", t.data if isinstance(t, Tensor) else t)
            for k, v in params.items():
                recorder._note(name, f"param {k}", v)
            out = original(cls, *inputs, **params)
            outs = out if isinstance(out, tuple) else (out,)
            for i, t in enumerate(outs):
                recorder._note(name, f"output {i}", t.data)
            ctx = outs[0]._ctx if outs and isinstance(outs[0], Tensor) else None
            if ctx is not None:
                for k, v in vars(ctx).items():
                    recorder._note(name, f"saved {k}", v)
            return out

        monkeypatch.setattr(Function, "apply", classmethod(apply))

    def _note(self, op, role, value):
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "fc":
                self.records.append((self.phase, op, role, value.dtype))
        elif isinstance(value, (list, tuple)):
            for j, v in enumerate(value):
                if isinstance(v, np.ndarray):
                    self._note(op, f"{role}[{j}]", v)
        elif isinstance(value, np.generic) and value.dtype.kind in "fc":
            self.records.append((self.phase, op, role, value.dtype))

    def assert_float32(self, phases=None):
        seen = [r for r in self.records if phases is None or r[0] in phases]
        bad = sorted({f"{p}: {op} {role} is {dt}" for p, op, role, dt in seen if dt != F32})
        assert not bad, "float64 (or other non-float32) arrays in a float32 model:\n  " + "\n  ".join(bad)
        return seen


@pytest.fixture
def recorder(monkeypatch):
    return DtypeRecorder(monkeypatch)


def _assert_all_float32(arrays, what):
    bad = [(i, a.dtype) for i, a in enumerate(arrays) if a.dtype != F32]
    assert not bad, f"{what} not float32: {bad}"


def _phases_covered(rec, *phases):
    for p in phases:
        assert any(r[0] == p for r in rec.records), f"no op was recorded in the {p} phase; is the hook working?"


def _custom_step(rec, model, x, y, loss_fn, opt):
    rec.phase = "forward"
    y_pred = model(x, training=True)
    loss = loss_fn(y, y_pred)
    assert loss.dtype == F32, f"loss dtype {loss.dtype}"
    weights = model.trainable_weights
    rec.phase = "backward"
    grads = cr.grad(loss, weights)
    rec.phase = "optimizer"
    _assert_all_float32([g.data for g in grads], "gradients")
    opt.apply(grads, weights)
    rec.phase = "done"
    return loss, grads


def _optimizer_state_arrays(opt):
    return [a for slots in opt._slots for a in slots.values() if isinstance(a, np.ndarray)]


# ------------------------------------------------------------------------------ the hook itself
def test_the_recorder_sees_forward_and_backward_and_catches_float64(recorder):
    a = cr.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    recorder.phase = "forward"
    y = (cr.tanh(a) * 2.0).sum()
    recorder.phase = "backward"
    (g,) = cr.grad(y, [a])
    _phases_covered(recorder, "forward", "backward")
    recorder.assert_float32()
    assert g.dtype == F32
    recorder.phase = "forward"
    b = cr.tensor(np.ones(3), requires_grad=True, dtype="float64")
    (cr.exp(b)).sum()
    with pytest.raises(AssertionError, match="float64"):
        recorder.assert_float32()


# ------------------------------------------------------------------------------ functional MLP (no layers needed)
def test_functional_mlp_with_dropout_and_batch_norm_is_float32(recorder):
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.random((16, 20)))                         # float64 data -> floatx
    assert x.dtype == F32
    y = rng.integers(0, 5, size=16)                             # int64 labels
    w1 = cr.tensor(rng.standard_normal((20, 32)) * 0.1, requires_grad=True)
    b1 = cr.tensor(np.zeros(32), requires_grad=True)
    gamma = cr.tensor(np.ones(32), requires_grad=True)
    beta = cr.tensor(np.zeros(32), requires_grad=True)
    mm, mv = np.zeros(32, np.float32), np.ones(32, np.float32)
    w2 = cr.tensor(rng.standard_normal((32, 5)) * 0.1, requires_grad=True)
    b2 = cr.tensor(np.zeros(5), requires_grad=True)
    params = [w1, b1, gamma, beta, w2, b2]
    _assert_all_float32([p.data for p in params], "parameters")
    opt = cr.optimizers.Adam() if hasattr(cr, "optimizers") else __import__("chainrule.optimizers").optimizers.Adam()

    recorder.phase = "forward"
    h = F.relu(F.linear(x, w1, b1))
    h = F.batch_norm(h, mm, mv, gamma, beta, training=True)
    h = F.dropout(h, 0.2, training=True)
    probs = F.softmax(F.linear(h, w2, b2))
    loss = F.sparse_categorical_crossentropy(y, probs).mean()
    loss = loss + 1e-4 * (w1 * w1).sum()                        # a Python-float regularizer term
    assert loss.dtype == F32
    recorder.phase = "backward"
    grads = cr.grad(loss, params)
    _assert_all_float32([g.data for g in grads], "gradients")
    recorder.phase = "optimizer"
    opt.apply(grads, params)
    _phases_covered(recorder, "forward", "backward")
    recorder.assert_float32()
    _assert_all_float32([p.data for p in params], "parameters after the update")
    _assert_all_float32([mm, mv], "moving statistics")
    _assert_all_float32(_optimizer_state_arrays(opt), "optimizer slots")


def test_backward_with_create_graph_is_float32(recorder):
    """Second-order gradients (gradient penalties) stay float32 too."""
    rng = np.random.default_rng(1)
    w = cr.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    x = cr.tensor(rng.standard_normal((3, 6)))
    recorder.phase = "forward"
    out = (F.gelu(x @ w) ** 2).mean()
    recorder.phase = "backward"
    (g,) = cr.grad(out, [w], create_graph=True)
    penalty = (g * g).sum()
    (gg,) = cr.grad(penalty, [w])
    recorder.assert_float32()
    assert g.dtype == F32 and gg.dtype == F32


# ------------------------------------------------------------------------------ layer models
def _layers(*names):
    layers = pytest.importorskip("chainrule.layers")
    missing = [n for n in names if not hasattr(layers, n)]
    if missing:
        pytest.skip(f"chainrule.layers has no {', '.join(missing)} yet")
    models = pytest.importorskip("chainrule.models")
    if not hasattr(models, "Sequential"):
        pytest.skip("chainrule.models has no Sequential yet")
    return layers, models


def _losses():
    return pytest.importorskip("chainrule.losses")


def test_dense_mlp_with_dropout_and_batchnorm_training_step_is_float32(recorder):
    L, M = _layers("Input", "Dense", "Dropout", "BatchNormalization")
    from chainrule import optimizers
    cr.manual_seed(0)
    model = M.Sequential([L.Input(shape=(20,)), L.Dense(32, activation="relu"), L.BatchNormalization(),
                          L.Dropout(0.2), L.Dense(16, activation="tanh"), L.Dense(5, activation="softmax")])
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.random((16, 20)))
    y = cr.tensor(rng.integers(0, 5, size=16))
    opt = optimizers.Adam()
    _custom_step(recorder, model, x, y, _losses().get("sparse_categorical_crossentropy"), opt)
    _phases_covered(recorder, "forward", "backward")
    recorder.assert_float32()
    _assert_all_float32([w.data for w in model.weights], "weights (incl. moving statistics) after the update")
    _assert_all_float32(_optimizer_state_arrays(opt), "optimizer slots")
    with cr.no_grad():
        out = model(x, training=False)
    assert out.dtype == F32


def test_small_cnn_training_step_is_float32(recorder):
    L, M = _layers("Input", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout")
    from chainrule import optimizers
    cr.manual_seed(0)
    model = M.Sequential([L.Input(shape=(10, 10, 1)), L.Conv2D(4, (3, 3), activation="relu"),
                          L.MaxPooling2D((2, 2)), L.Conv2D(6, (3, 3), activation="relu", padding="same"),
                          L.Dropout(0.25), L.Flatten(), L.Dense(8, activation="relu"),
                          L.Dense(3, activation="softmax")])
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.random((4, 10, 10, 1)))
    y = cr.tensor(rng.integers(0, 3, size=4))
    opt = optimizers.Adam()
    _custom_step(recorder, model, x, y, _losses().get("sparse_categorical_crossentropy"), opt)
    _phases_covered(recorder, "forward", "backward")
    recorder.assert_float32()
    _assert_all_float32([w.data for w in model.weights], "weights after the update")
    _assert_all_float32(_optimizer_state_arrays(opt), "optimizer slots")


def test_fit_path_with_float64_inputs_and_metrics_is_float32(recorder):
    """Users pass ``x / 255.0`` (float64) and compile metrics; the model must still run in float32."""
    L, M = _layers("Input", "Dense", "Dropout")
    cr.manual_seed(0)
    model = M.Sequential([L.Input(shape=(12,)), L.Dense(16, activation="relu"), L.Dropout(0.2),
                          L.Dense(4, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_categorical_crossentropy"])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(32, 12)) / 255.0              # float64, as users' data is
    y = rng.integers(0, 4, size=32)
    recorder.phase = "fit"
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert recorder.calls > 0
    recorder.assert_float32()
    _assert_all_float32([w.data for w in model.weights], "weights after fit")
    _assert_all_float32(_optimizer_state_arrays(model.optimizer), "optimizer slots")
    recorder.phase = "predict"
    out = model.predict(x, batch_size=16)
    assert out.dtype == F32
    recorder.assert_float32()


# ------------------------------------------------------------------------------ losses and metrics
def _loss_cases(rng):
    n, c = 8, 5
    labels = rng.integers(0, c, size=n)
    one_hot = np.eye(c)[labels]                                   # float64, as np.eye gives
    probs_logits = rng.standard_normal((n, c))
    binary = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    return [
        ("sparse_categorical_crossentropy", labels, probs_logits, dict(from_logits=True)),
        ("sparse_categorical_crossentropy", labels, "softmax", {}),
        ("categorical_crossentropy", one_hot, probs_logits, dict(from_logits=True)),
        ("categorical_crossentropy", one_hot, "softmax", dict(label_smoothing=0.1)),
        ("binary_crossentropy", binary, rng.standard_normal((n, 1)), dict(from_logits=True)),
        ("binary_crossentropy", binary, "sigmoid", {}),
        ("mean_squared_error", one_hot, probs_logits, {}),
        ("mean_absolute_error", one_hot, probs_logits, {}),
        ("huber", one_hot, probs_logits, {}),
        ("kl_divergence", one_hot * 0.9 + 0.02, "softmax", {}),
    ]


@pytest.mark.parametrize("case", range(10))
def test_losses_are_float32_with_float64_targets(recorder, case):
    losses = _losses()
    rng = np.random.default_rng(case)
    name, y_true, raw, kwargs = _loss_cases(rng)[case]
    z = cr.tensor(rng.standard_normal((8, y_true.shape[-1] if y_true.ndim > 1 else 5)), requires_grad=True) \
        if isinstance(raw, str) else cr.tensor(raw, requires_grad=True)
    assert z.dtype == F32
    recorder.phase = "forward"
    y_pred = {"softmax": lambda t: F.softmax(t), "sigmoid": lambda t: F.sigmoid(t)}.get(raw, lambda t: t)(z) \
        if isinstance(raw, str) else z
    per_sample = getattr(F, name)(y_true, y_pred, **kwargs)
    assert per_sample.dtype == F32, f"F.{name} returned {per_sample.dtype}"
    loss_obj = losses.get(name) if not kwargs else type(losses.get(name))(**kwargs)
    loss = loss_obj(y_true, y_pred, sample_weight=np.linspace(0.5, 1.5, 8))  # float64 weights too
    assert loss.dtype == F32, f"losses.get({name!r}) returned {loss.dtype}"
    recorder.phase = "backward"
    (g,) = cr.grad(loss + per_sample.mean(), [z])
    assert g.dtype == F32
    recorder.assert_float32()


def test_metrics_on_float32_predictions_record_no_float64_ops(recorder):
    metrics = pytest.importorskip("chainrule.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=16)
    one_hot = np.eye(5)[labels]
    with cr.no_grad():
        probs = F.softmax(cr.tensor(rng.standard_normal((16, 5))))
    assert probs.dtype == F32
    recorder.phase = "metrics"
    for name, y_true in [("sparse_categorical_accuracy", labels), ("categorical_accuracy", one_hot),
                         ("sparse_categorical_crossentropy", labels), ("categorical_crossentropy", one_hot),
                         ("kl_divergence", one_hot * 0.9 + 0.02), ("mse", one_hot)]:
        m = metrics.get(name)
        m.update_state(y_true, probs)
        assert np.isfinite(float(m.result()))
    recorder.assert_float32()
