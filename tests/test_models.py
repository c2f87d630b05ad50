"""Models: Sequential and subclassed Model, compile/fit/evaluate/predict, summary, bad input."""
import io
import sys
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def blobs(n=300, features=10, classes=3, seed=0, dtype=np.float32):
    """A learnable classification problem: Gaussian blobs around random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    x = centres[y] + rng.normal(size=(n, features))
    return x.astype(dtype), y.astype(np.int64)


def mlp(features=10, classes=3, hidden=16, **dense_kwargs):
    return cr.Sequential([
        layers.Input(shape=(features,)),
        layers.Dense(hidden, activation="relu", **dense_kwargs),
        layers.Dense(classes, activation="softmax"),
    ])


class SubclassedMLP(cr.Model):
    def __init__(self, hidden=16, classes=3):
        super().__init__()
        self.hidden = layers.Dense(hidden, activation="relu")
        self.out = layers.Dense(classes, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.hidden(x))


def adam(lr=0.01):
    return cr.optimizers.Adam(learning_rate=lr)


def sparse_ce(probs, y):
    p = np.clip(probs[np.arange(len(y)), y].astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(np.log(p)))


# ------------------------------------------------------------------------------------------ fit
def test_sequential_fit_loss_falls_and_history_is_complete():
    cr.manual_seed(0)
    x, y = blobs()
    model = mlp()
    model.compile(optimizer=adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0, validation_split=0.2)
    h = history.history
    assert list(h) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 5 for v in h.values())
    assert history.epoch == [0, 1, 2, 3, 4]
    assert model.history is history
    assert h["loss"][-1] < h["loss"][0] * 0.7
    assert h["accuracy"][-1] > 0.8
    assert all(isinstance(v, float) for vs in h.values() for v in vs)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    cr.manual_seed(1)
    x, y = blobs(n=200)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25).history
    # The last epoch's validation ran with the final weights on samples 150..199.
    loss, acc = model.evaluate(x[150:], y[150:], verbose=0)
    assert h["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert h["val_accuracy"][-1] == pytest.approx(acc)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)


def test_validation_data_gives_val_keys_and_matches_evaluate():
    cr.manual_seed(2)
    x, y = blobs(n=240)
    xv, yv = blobs(n=60, seed=1)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=2, verbose=0, validation_data=(xv, yv)).history
    assert {"val_loss", "val_accuracy"} <= set(h)
    loss, acc = model.evaluate(xv, yv, verbose=0, batch_size=7)
    assert h["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert h["val_accuracy"][-1] == pytest.approx(acc)


def test_evaluate_matches_a_hand_computation_on_predict():
    cr.manual_seed(3)
    x, y = blobs(n=150)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    probs = model.predict(x, batch_size=64)
    assert probs.shape == (150, 3) and probs.dtype == np.float32
    loss, acc = model.evaluate(x, y, batch_size=32, verbose=0)
    assert acc == pytest.approx(float(np.mean(probs.argmax(axis=1) == y)))
    assert loss == pytest.approx(sparse_ce(probs, y), rel=1e-5)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx({"loss": loss, "accuracy": acc})
    assert model.metrics_names == ["loss", "accuracy"]
    # predict does not depend on the batch size
    np.testing.assert_allclose(model.predict(x, batch_size=7), probs, rtol=1e-6, atol=1e-7)


def test_evaluate_without_metrics_returns_a_float():
    x, y = blobs(n=50)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, float)


def test_subclassed_model_fits():
    cr.manual_seed(4)
    x, y = blobs()
    model = SubclassedMLP(hidden=24)
    model.compile(optimizer=adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=4, verbose=0, batch_size=32).history
    assert h["loss"][-1] < h["loss"][0]
    assert h["accuracy"][-1] > 0.8
    assert [w.shape for w in model.weights] == [(10, 24), (24,), (24, 3), (3,)]
    assert model.get_config() == {"hidden": 24}
    out = model(x[:5])
    assert isinstance(out, cr.Tensor) and out.shape == (5, 3)


def test_custom_training_loop_matches_fit():
    """cr.grad + optimizer.apply on the same batches gives the same weights as fit."""
    x, y = blobs(n=96)
    cr.manual_seed(5)
    a = mlp()
    b = mlp()
    b.build()
    a.build()
    b.set_weights(a.get_weights())
    a.compile(optimizer=cr.optimizers.SGD(learning_rate=0.1, momentum=0.9),
              loss="sparse_categorical_crossentropy")
    a.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)

    opt = cr.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    loss_fn = cr.losses.SparseCategoricalCrossentropy()
    for _ in range(2):
        for i in range(0, 96, 32):
            probs = b(x[i:i + 32], training=True)
            loss = loss_fn(y[i:i + 32], probs)
            grads = cr.grad(loss, b.trainable_weights)
            opt.apply(grads, b.trainable_weights)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_custom_loop_with_backward_and_grad_attributes():
    x, y = blobs(n=64)
    model = SubclassedMLP()
    opt = cr.optimizers.Adam(learning_rate=0.01)
    loss_fn = cr.losses.get("sparse_categorical_crossentropy")
    first = None
    for _ in range(30):
        loss = loss_fn(y, model(x, training=True))
        for w in model.trainable_weights:
            w.grad = None
        loss.backward()
        opt.apply([w.grad for w in model.trainable_weights], model.trainable_weights)
        first = first if first is not None else loss.item()
    assert loss.item() < first


def test_regularization_penalty_is_part_of_the_reported_loss():
    x, y = blobs(n=64)
    model = mlp(kernel_regularizer=cr.regularizers.L2(0.01))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    probs = model.predict(x)
    kernel = model.layers[0].get_weights()[0].astype(np.float64)
    expected = sparse_ce(probs, y) + 0.01 * float(np.sum(kernel ** 2))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert len(model.losses) == 1


def test_differential_against_pytorch():
    """Loss and gradients of Dense/relu/Dense/softmax + sparse CE equal PyTorch's with the same weights."""
    torch = pytest.importorskip("torch")
    cr.set_floatx("float64")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(16, 6))
    y = rng.integers(0, 4, size=16)
    model = cr.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                           layers.Dense(4, activation="softmax")])
    model.build()
    loss = cr.losses.SparseCategoricalCrossentropy()(y, model(x, training=True))
    grads = cr.grad(loss, model.trainable_weights)

    k1, b1, k2, b2 = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    tx = torch.tensor(x)
    probs = torch.softmax(torch.relu(tx @ k1 + b1) @ k2 + b2, dim=-1)
    t_loss = torch.nn.functional.nll_loss(torch.log(probs), torch.tensor(y))
    t_loss.backward()
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-12)
    for g, t in zip(grads, (k1, b1, k2, b2)):
        np.testing.assert_allclose(g.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_train_on_batch_and_test_on_batch():
    x, y = blobs(n=40)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x, y)
    for _ in range(20):
        model.train_on_batch(x, y)
    after = model.test_on_batch(x, y, return_dict=True)
    assert after["loss"] < before[0]
    assert model.optimizer.iterations == 20


# ------------------------------------------------------------------------------------------ data
def test_uint8_images_and_float64_inputs_become_float32():
    rng = np.random.default_rng(0)
    x8 = rng.integers(0, 256, size=(64, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 2, size=64)
    model = cr.Sequential([layers.Input(shape=(4, 4)), layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x8, y, epochs=1, verbose=0)
    model.fit(x8.astype(np.float64) / 255.0, y, epochs=1, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(x8).dtype == np.float32


def test_tensors_and_one_hot_labels():
    x, y = blobs(n=60)
    onehot = np.eye(3, dtype=np.float32)[y]
    model = mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(cr.tensor(x), cr.tensor(onehot), epochs=1, verbose=0)
    loss, acc = model.evaluate(x, onehot, verbose=0)
    assert acc == pytest.approx(float(np.mean(model.predict(x).argmax(1) == y)))


def test_iterable_of_batches_and_steps_per_epoch():
    x, y = blobs(n=96)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)]
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(batches, epochs=2, verbose=0, validation_data=batches)
    assert model.optimizer.iterations == 6
    model.fit(batches, epochs=2, steps_per_epoch=2, verbose=0)
    assert model.optimizer.iterations == 10
    loss, acc = model.evaluate(batches, verbose=0)
    assert loss == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-6)
    np.testing.assert_allclose(model.predict(iter([b[0] for b in batches])), model.predict(x), rtol=1e-6)


def test_dataloader_input():
    data = pytest.importorskip("chainrule.data")
    if not hasattr(data, "DataLoader"):
        pytest.skip("chainrule.data.DataLoader not available")
    x, y = blobs(n=100)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=25, shuffle=True)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(loader, epochs=3, verbose=0)
    assert model.optimizer.iterations == 12 and len(h.history["loss"]) == 3
    assert model.evaluate(data.DataLoader(data.TensorDataset(x, y), batch_size=30), verbose=0)[0] == \
        pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-5)


def test_integer_token_ids_reach_an_embedding_unconverted():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, size=(120, 6))
    y = (x[:, 0] >= 25).astype(np.int64)
    model = cr.Sequential([layers.Embedding(50, 8), layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=4, verbose=0)
    assert h.history["accuracy"][-1] > 0.9


def test_sample_weight_and_weighted_metrics():
    x, y = blobs(n=90)
    sw = (y == 0).astype(np.float32)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    model.fit(x, y, sample_weight=sw, epochs=1, verbose=0)
    result = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert list(result) == ["loss", "accuracy", "weighted_accuracy"]
    pred = model.predict(x).argmax(axis=1)
    assert result["accuracy"] == pytest.approx(float(np.mean(pred == y)))
    assert result["weighted_accuracy"] == pytest.approx(float(np.mean(pred[y == 0] == 0)))
    probs = model.predict(x)
    per_sample = -np.log(np.clip(probs[np.arange(90), y].astype(np.float64), 1e-7, 1))
    assert result["loss"] == pytest.approx(float(np.mean(per_sample * sw)), rel=1e-5)


def test_shuffle_is_reproducible_with_manual_seed():
    x, y = blobs(n=100)
    results = []
    for _ in range(2):
        cr.manual_seed(11)
        model = mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=10, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_large_arrays_gather_each_batch_with_the_same_result(monkeypatch):
    from chainrule.models import data_adapter

    x, y = blobs(n=100)
    results = []
    for threshold in (data_adapter._GATHER_BYTES, 0):  # whole-pass copy, then per-batch gather
        monkeypatch.setattr(data_adapter, "_GATHER_BYTES", threshold)
        cr.manual_seed(12)
        model = mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------ verbose
def test_verbose_one_line_per_epoch_when_not_a_tty(capsys):
    x, y = blobs(n=64)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=1, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("3/3 [==============================] - ")
    assert "ms/step" in lines[1] or "us/step" in lines[1]
    assert " - loss: " in lines[1] and " - accuracy: " in lines[1] and " - val_loss: " in lines[1]
    model.fit(x, y, epochs=1, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/1" and lines[1].startswith("2/2 - ") and len(lines) == 2
    model.fit(x, y, epochs=1, verbose=0)
    model.predict(x)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, verbose=1)
    assert capsys.readouterr().out.startswith("2/2 [")
    model.evaluate(x, y)                       # "auto" off a terminal: one line, no bar
    assert capsys.readouterr().out.startswith("2/2 - ")


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_verbose_auto_picks_the_live_bar_on_a_terminal_and_one_line_elsewhere(monkeypatch):
    x, y = blobs(n=64)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for tty in (True, False):
        stream = _FakeTTY() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stdout", stream)
        monkeypatch.setattr(cr.models.progbar.Progbar.__init__, "__defaults__",
                            (30, 1, 0.0, None))          # redraw at every step, so the test sees each one
        model.fit(x, y, epochs=2, batch_size=16)           # verbose="auto"
        monkeypatch.undo()
        out = stream.getvalue()
        if tty:
            # Epoch line, then the bar redrawn in place (\r) with an ETA, finished with the timing.
            first = out.split("Epoch 2/2")[0]
            assert first.startswith("Epoch 1/2\n") and "ETA: " in first and "\n" not in first[10:-1]
            assert all(f"\r{i}/4 [" in first for i in (1, 2, 3, 4))
            assert "4/4 [==============================] - " in first and first.endswith("\n")
        else:
            lines = out.splitlines()
            assert len(lines) == 4 and "\r" not in out and "ETA" not in out
            assert lines[0] == "Epoch 1/2" and lines[1].startswith("4/4 - ") and "loss: " in lines[1]


def test_progress_bar_rewrites_in_place_on_a_tty():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    stream = TTY()
    bar = cr.callbacks.Progbar(4, stream=stream, interval=0.0)
    for i in range(1, 4):
        bar.update(i, {"loss": 1.0 / i})
    bar.update(4, {"loss": 0.25}, finalize=True)
    out = stream.getvalue()
    assert out.count("\r") == 4 and out.endswith("\n") and out.count("\n") == 1
    assert "ETA" in out and "4/4 [==============================]" in out and "loss: 0.2500" in out


# ------------------------------------------------------------------------------------------ structure
def test_sequential_add_pop_and_layers():
    model = cr.Sequential()
    model.add(layers.Input(shape=(5,)))
    d1, d2 = layers.Dense(4), layers.Dense(2)
    model.add(d1)
    model.add(d2)
    assert model.layers == [d1, d2]
    assert model.pop() is d2
    assert model.layers == [d1]
    model.add(layers.Dense(3))
    assert model.predict(np.zeros((2, 5), np.float32)).shape == (2, 3)
    with pytest.raises(ValueError, match="unique"):
        model.add(layers.Dense(1, name=d1.name))
    with pytest.raises(ValueError, match="first"):
        model.add(layers.Input(shape=(5,)))
    with pytest.raises(TypeError):
        model.add("dense")
    with pytest.raises(TypeError):
        cr.Sequential().pop()


def test_input_shape_on_the_first_layer_and_lazy_building():
    a = cr.Sequential([layers.Dense(7, input_shape=(3,)), layers.Dense(2)])
    assert a.built and a.count_params() == 44  # built at construction, as Keras
    lines = []
    a.summary(print_fn=lines.append)
    assert "Total params: 44" in lines
    lazy = cr.Sequential([layers.Dense(7), layers.Dense(2)])
    assert lazy.weights == []
    lazy(np.zeros((1, 3), np.float32))
    assert lazy.count_params() == 44


def test_nested_sequential_and_model_as_layer():
    inner = cr.Sequential([layers.Dense(4, activation="relu"), layers.Dense(4)])
    outer = cr.Sequential([layers.Input(shape=(3,)), inner, layers.Dense(1)])
    outer.build()
    assert outer.count_params() == (3 * 4 + 4) + (4 * 4 + 4) + (4 + 1)
    assert len(outer.trainable_weights) == 6


def test_summary_parameter_counts_match_keras():
    lines = []
    model = cr.Sequential([layers.Input(shape=(100,)), layers.Dense(64)])
    model.summary(print_fn=lines.append)
    assert any("(None, 64)" in line and line.rstrip().endswith("6464") for line in lines)
    assert "Total params: 6,464" in lines

    lines = []
    keras_mnist_mlp = cr.Sequential([
        layers.Input(shape=(784,)),
        layers.Dense(512, activation="relu"), layers.Dropout(0.2),
        layers.Dense(512, activation="relu"), layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])
    keras_mnist_mlp.summary(print_fn=lines.append)
    assert lines[0] == f'Model: "{keras_mnist_mlp.name}"'
    assert lines[2].startswith(" Layer (type)                Output Shape              Param #")
    assert "Total params: 669,706" in lines and "Trainable params: 669,706" in lines
    assert "Non-trainable params: 0" in lines
    rows = [line for line in lines if "(Dense)" in line or "(Dropout)" in line]
    assert [r.split()[-1] for r in rows] == ["401920", "0", "262656", "0", "5130"]


def test_summary_counts_non_trainable_batch_norm_statistics():
    lines = []
    model = cr.Sequential([layers.Input(shape=(20,)), layers.Dense(10), layers.BatchNormalization()])
    model.summary(print_fn=lines.append)
    assert "Total params: 250" in lines
    assert "Trainable params: 230" in lines
    assert "Non-trainable params: 20" in lines


def test_summary_of_an_unbuilt_subclassed_model():
    lines = []
    model = SubclassedMLP()
    model.summary(print_fn=lines.append)
    assert any("?" in line and "0 (unbuilt)" in line for line in lines)
    model(np.zeros((2, 10), np.float32))
    lines.clear()
    model.summary(print_fn=lines.append)
    assert "Total params: 227" in lines


def test_dropout_is_active_only_in_training():
    x = np.ones((8, 50), np.float32)
    model = cr.Sequential([layers.Input(shape=(50,)), layers.Dropout(0.5)])
    np.testing.assert_array_equal(model.predict(x), x)
    np.testing.assert_array_equal(model(x).data, x)
    assert (model(x, training=True).data == 0).any()


# ------------------------------------------------------------------------------------------ training mode
class NormDropModel(cr.Model):
    """Calls its BatchNormalization, Dropout and a nested Sequential without passing ``training``."""

    def __init__(self):
        super().__init__()
        self.d = layers.Dense(6)
        self.bn = layers.BatchNormalization()
        self.do = layers.Dropout(0.5)
        self.block = cr.Sequential([layers.BatchNormalization(), layers.Dropout(0.5)])
        self.out = layers.Dense(1)

    def call(self, x, training=False):
        return self.out(self.block(self.do(self.bn(self.d(x)))))


def test_sub_layers_inherit_training_from_fit_in_a_subclassed_model():
    cr.manual_seed(0)
    x = np.random.default_rng(0).normal(3.0, 1.0, size=(64, 4)).astype(np.float32)
    y = np.ones((64, 1), np.float32)
    model = NormDropModel()
    model.compile(optimizer=cr.optimizers.SGD(0.01), loss="mse")
    model(x[:2])  # build; outside any call, no training given: inference
    inner_bn = model.block.layers[0]
    assert not model.bn.moving_mean.data.any() and not inner_bn.moving_mean.data.any()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    assert np.abs(model.bn.moving_mean.data).max() > 1e-3  # BN ran in training mode
    assert np.abs(inner_bn.moving_mean.data).max() > 1e-4  # also through the nested Sequential
    stats = [w.data.copy() for w in model.non_trainable_weights]
    p1, p2 = model.predict(x), model.predict(x)
    np.testing.assert_array_equal(p1, p2)  # predict: no dropout
    loss = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(loss, np.mean((p1 - y) ** 2), rtol=1e-5)  # evaluate: inference too
    np.testing.assert_array_equal(model(x).data, p1)  # a plain call: inference
    for before, w in zip(stats, model.non_trainable_weights):
        np.testing.assert_array_equal(before, w.data)  # none of them updated the moving statistics
    # An explicit training= wins over the inherited mode, and is what sub-layers inherit.
    np.testing.assert_array_equal(model(x, training=False).data, p1)
    assert not np.array_equal(model(x, training=True).data, p1)
    assert not np.array_equal(model.bn.moving_mean.data, stats[0])


def test_the_call_context_is_restored_after_an_error():
    from chainrule.layers.base import _call_context

    class Boom(layers.Layer):
        def call(self, inputs, training=False):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Boom()(np.zeros((1, 2), np.float32), training=True)
    assert _call_context.training is None
    drop = layers.Dropout(0.5)
    np.testing.assert_array_equal(drop(np.ones((4, 8), np.float32)).data, 1.0)


# ------------------------------------------------------------------------------------------ building
def test_sequential_with_a_declared_input_is_built_at_construction():
    for model in (cr.Sequential([layers.Input((5,)), layers.Dense(3), layers.BatchNormalization()]),
                  cr.Sequential([layers.Dense(3, input_shape=(5,)), layers.BatchNormalization()])):
        assert model.built
        assert [tuple(w.shape) for w in model.weights] == [(5, 3), (3,), (3,), (3,), (3,), (3,)]
        assert model.count_params() == 5 * 3 + 3 + 4 * 3
        model.set_weights([np.ones((5, 3)), np.zeros(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)])
        assert model.output_shape == (None, 3)
        out = model.predict(np.ones((2, 5), np.float32))
        np.testing.assert_allclose(out, 5.0 / np.sqrt(1 + 1e-3), rtol=1e-6)
        with pytest.raises(ValueError, match=r"\(None, 5\).*\(2, 4\)"):
            model.predict(np.ones((2, 4), np.float32))
    added = cr.Sequential([layers.Input((4,))])
    added.add(layers.Dense(2))
    assert added.count_params() == 10
    with pytest.raises(ValueError, match="reshape"):  # a wrong model fails when it is put together
        added.add(layers.Reshape((3,)))
    assert len(added.layers) == 1 and added.built


def test_summary_of_a_fully_convolutional_model_keeps_unknown_sizes():
    model = cr.Sequential([layers.Input((None, None, 4)), layers.Conv2D(3, 3), layers.GlobalAveragePooling2D(),
                           layers.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)  # no dry run on a made-up 1x1 image
    conv_row = next(line for line in lines if "(Conv2D)" in line)
    assert conv_row.split()[-1] == "111" and "(None, None, None, 3)" in conv_row  # None sizes, as Keras
    assert any("(None, 2)" in line and line.split()[-1] == "8" for line in lines if "(Dense)" in line)
    assert "Total params: 119" in lines and model.built
    assert model.predict(np.zeros((2, 9, 9, 4), np.float32)).shape == (2, 2)


# ------------------------------------------------------------------------------------------ bad input
def test_fit_before_compile_is_a_clear_error():
    x, y = blobs(n=10)
    with pytest.raises(RuntimeError, match="compile"):
        mlp().fit(x, y, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        mlp().evaluate(x, y, verbose=0)


def test_unknown_names_in_compile_list_the_known_ones():
    model = mlp()
    with pytest.raises(ValueError, match="adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="mean_squared_error"):
        model.compile(optimizer="adam", loss="mean_squared_err")
    with pytest.raises(ValueError, match="accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["acurracy"])


def test_mismatched_sample_counts():
    x, y = blobs(n=20)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="20.*19|same number of samples"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(ValueError, match="y is None"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, y[:15], validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.evaluate(x[:5], y, verbose=0)


def test_labels_out_of_range():
    x, y = blobs(n=20)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError):
        model.fit(x, y + 3, verbose=0)


def test_wrong_feature_size():
    x, y = blobs(n=20)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="10"):
        model.fit(x[:, :7], y, verbose=0)
    lazy = cr.Sequential([layers.Dense(3)])
    lazy.compile(optimizer="adam", loss="mse")
    lazy.fit(x, np.zeros((20, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match="10"):
        lazy.predict(x[:, :4])


def test_bad_arguments():
    x, y = blobs(n=20)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, y, verbose=3)
    with pytest.raises(TypeError, match="functional API"):
        cr.Model(inputs=None, outputs=None)


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.skipif(not os.environ.get("CHAINRULE_DATA"), reason="CHAINRULE_DATA is not set")
def test_mnist_slice_learns():
    datasets = pytest.importorskip("chainrule.data.datasets")
    if not hasattr(datasets, "mnist"):
        pytest.skip("chainrule.datasets.mnist not available")
    (x_train, y_train), (x_test, y_test) = datasets.mnist.load_data()
    x_train = x_train[:2000].reshape(-1, 784) / np.float32(255)
    x_test = x_test[:500].reshape(-1, 784) / np.float32(255)
    cr.manual_seed(0)
    model = cr.Sequential([layers.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                           layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train[:2000], epochs=3, batch_size=32, verbose=0)
    _, acc = model.evaluate(x_test, y_test[:500], verbose=0)
    assert acc > 0.85


def test_subclassed_build_with_unknown_sizes_says_so():
    class Net(cr.Model):
        def __init__(self):
            super().__init__()
            self.conv = cr.layers.Conv2D(2, 3)
            self.pool = cr.layers.GlobalAveragePooling2D()

        def call(self, x, training=False):
            return self.pool(self.conv(x))

    net = Net()
    with pytest.raises(ValueError, match=r"build: input shape \(None, None, None, 1\) has unknown sizes"):
        net.build((None, None, None, 1))
    assert net(np.zeros((2, 9, 7, 1), np.float32)).shape == (2, 2)   # built by a call on data


@pytest.mark.parametrize("weights", [0.5, [0.5], (0.5,), {"dense": 0.5}, np.float32(0.5)])
def test_single_output_loss_weights_scale_the_loss_in_every_form(weights):
    """A one-output model takes loss_weights as a number or a one-entry list/dict (Keras); none is ignored."""
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(16, 4)
    y = np.ones((16, 1), np.float32)

    def loss(lw):
        cr.utils.set_random_seed(3)
        m = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(1, name="dense")])
        m.compile("sgd", "mse", loss_weights=lw)
        return m.evaluate(x, y, verbose=0)

    assert loss(weights) == pytest.approx(0.5 * loss(None), rel=1e-6)


def test_single_output_loss_weights_of_the_wrong_length_are_refused():
    m = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(1)])
    with pytest.raises(ValueError, match="loss_weights has 2 entries, but the model has one output"):
        m.compile("sgd", "mse", loss_weights=[1.0, 2.0])
    with pytest.raises(TypeError, match="loss_weights must be a number"):
        m.compile("sgd", "mse", loss_weights="heavy")


def test_targets_as_a_list_of_numpy_scalars_are_one_target():
    """y built by a list comprehension over NumPy values is one target of a one-output model, not several."""
    x = np.linspace(0, 1, 32, dtype=np.float32).reshape(8, 4)
    labels = np.arange(8) % 3

    def fit_loss(y):
        cr.utils.set_random_seed(5)
        m = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(3)])
        m.compile("sgd", "sparse_categorical_crossentropy")
        return m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"][0]

    assert fit_loss([np.int64(v) for v in labels]) == pytest.approx(fit_loss(labels))
