"""The functional API: symbolic tensors, cr.Model(inputs, outputs), replay, training checked by hand."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L


# ------------------------------------------------------------------------------------------ helpers
class AddAll(L.Layer):
    """A merge layer for these tests: the sum of a list of tensors (cr.layers.Add comes with the layer catalog)."""

    def call(self, inputs, training=False):
        out = inputs[0]
        for t in inputs[1:]:
            out = out + t
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


class ConcatLast(L.Layer):
    """Concatenation on the last axis of a list of tensors."""

    def call(self, inputs, training=False):
        return cr.concatenate(list(inputs), axis=-1)


def _data(n=12, features=4, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, features)).astype(np.float32)


def _sgd_step(weights, loss_fn, lr):
    """One SGD step done by hand: the gradient of ``loss_fn(ws)`` at copies of ``weights``."""
    ws = [cr.tensor(w.copy(), requires_grad=True) for w in weights]
    loss = loss_fn(ws)
    grads = cr.grad(loss, ws)
    return float(loss.item()), [w - lr * g.data for w, g in zip(weights, grads)]


def _dense(x, w, b):
    return x @ w + b


def _mse(pred, y):
    d = pred - cr.tensor(y)
    return (d * d).mean()


def _fit_one_step(model, x, y, lr=0.1, **compile_kwargs):
    model.compile(optimizer=cr.optimizers.SGD(lr), **compile_kwargs)
    return model.fit(x, y, batch_size=len(y if not isinstance(y, (list, dict)) else next(iter(
        y.values() if isinstance(y, dict) else y))), epochs=1, shuffle=False, verbose=0)


# ------------------------------------------------------------------------------------------ symbolic tensors
def test_input_and_layer_calls_infer_shapes_without_math():
    x = cr.Input(shape=(4,), name="features")
    assert x.shape == (None, 4) and x.dtype == "float32" and x.name == "features"
    h = L.Dense(8, name="hidden")(x)
    assert h.shape == (None, 8)
    history = h._keras_history
    assert history.layer.name == "hidden" and history.node_index == 0 and history.tensor_index == 0
    assert h._keras_history.layer.built and h._keras_history.layer.kernel.shape == (4, 8)
    img = cr.Input(shape=(None, None, 3))
    c = L.Conv2D(5, 3)(img)
    assert c.shape == (None, None, None, 5)
    assert L.GlobalAveragePooling2D()(c).shape == (None, 5)
    seq = cr.Input(shape=(None, 3))
    assert L.Flatten()(L.Conv1D(2, 3, padding="same")(seq)).shape == (None, None)
    assert cr.Input(shape=(6,), batch_size=16).shape == (16, 6)
    assert cr.Input((3,), dtype="int32").dtype == "int32"
    with pytest.raises(TypeError, match="holds no data"):
        np.asarray(x)


def test_layer_called_on_incompatible_shapes_fails_at_the_call():
    dense = L.Dense(3, name="d3")
    dense(cr.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"Layer 'd3' \(Dense\) cannot be called on inputs of shape \(None, 5\)"):
        dense(cr.Input(shape=(5,)))
    with pytest.raises(ValueError, match=r"'merge'.*\(None, 4\), \(None, 5\)"):
        AddAll(name="merge")([cr.Input(shape=(4,)), cr.Input(shape=(5,))])
    conv = L.Conv2D(2, 3, name="conv")
    with pytest.raises(ValueError, match=r"'conv' \(Conv2D\).*\(None, 2, 2, 1\)"):
        conv(cr.Input(shape=(2, 2, 1)))
    assert not conv.built  # the failed first call left nothing half-built
    assert conv(cr.Input(shape=(5, 5, 1))).shape == (None, 3, 3, 2)


def test_layer_input_and_output():
    x = cr.Input(shape=(3,))
    d = L.Dense(2)
    y = d(x)
    assert d.input is x and d.output is y
    with pytest.raises(AttributeError, match="never been called"):
        L.Dense(2).output


# ------------------------------------------------------------------------------------------ models
def test_model_replays_the_graph_and_lists_its_layers():
    x = cr.Input(shape=(4,))
    h = L.Dense(6, activation="relu", name="h")(x)
    y = L.Dense(2, name="y")(h)
    model = cr.Model(x, y, name="mlp")
    assert type(model).__name__ == "Functional" and isinstance(model, cr.Model) and model.name == "mlp"
    assert [l.name for l in model.layers] == [x._keras_history.layer.name, "h", "y"]
    assert model.inputs == [x] and model.outputs == [y]
    assert model.get_layer("h") is model.layers[1] and model.get_layer(index=2).name == "y"
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")
    data = _data()
    hl, yl = model.get_layer("h"), model.get_layer("y")
    want = np.maximum(data @ hl.kernel.data + hl.bias.data, 0) @ yl.kernel.data + yl.bias.data
    np.testing.assert_allclose(model(data).numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(data, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert len(model.weights) == 4 and model.count_params() == 4 * 6 + 6 + 6 * 2 + 2


def test_subclassed_models_are_unchanged():
    class MLP(cr.Model):
        def __init__(self, units=3):
            super().__init__()
            self.d = L.Dense(units)

        def call(self, x, training=False):
            return self.d(x)

    model = MLP(units=2)
    assert type(model) is MLP and model(_data()).shape == (12, 2)
    assert model.get_config() == {"units": 2}


def test_residual_model_fit_matches_the_computation_by_hand():
    x = cr.Input(shape=(4,))
    h = L.Dense(4, activation="relu", name="h")(x)
    s = AddAll(name="skip")([x, h])
    y = L.Dense(1, name="out")(s)
    model = cr.Model(x, y)
    data, target = _data(), _data(features=1, seed=1)
    w0 = model.get_weights()

    def loss_fn(ws):
        xt = cr.tensor(data)
        return _mse(_dense(xt + cr.relu(_dense(xt, ws[0], ws[1])), ws[2], ws[3]), target)

    loss, want = _sgd_step(w0, loss_fn, 0.1)
    history = _fit_one_step(model, data, target, loss="mse")
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_shared_layer_fit_matches_the_computation_by_hand():
    a, b = cr.Input(shape=(3,), name="a"), cr.Input(shape=(3,), name="b")
    shared = L.Dense(2, activation="tanh", name="shared")
    merged = ConcatLast()([shared(a), shared(b)])
    y = L.Dense(1, name="out")(merged)
    model = cr.Model([a, b], y)
    assert len(model.weights) == 4  # the shared layer's weights count once
    assert shared.output.shape == (None, 2)  # (its first call)
    xa, xb, target = _data(features=3), _data(features=3, seed=2), _data(features=1, seed=3)
    w0 = model.get_weights()

    def loss_fn(ws):
        ha = cr.tanh(_dense(cr.tensor(xa), ws[0], ws[1]))
        hb = cr.tanh(_dense(cr.tensor(xb), ws[0], ws[1]))
        return _mse(_dense(cr.concatenate([ha, hb], axis=-1), ws[2], ws[3]), target)

    loss, want = _sgd_step(w0, loss_fn, 0.05)
    history = _fit_one_step(model, [xa, xb], target, lr=0.05, loss="mse")
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    # dict inputs are matched by the inputs' names
    np.testing.assert_allclose(model.predict({"a": xa, "b": xb}, verbose=0), model.predict([xa, xb], verbose=0))
    with pytest.raises(ValueError, match="no key 'b'"):
        model.predict({"a": xa}, verbose=0)


def test_nested_model_fit_matches_the_computation_by_hand():
    inner_in = cr.Input(shape=(3,))
    inner = cr.Model(inner_in, L.Dense(4, activation="sigmoid", name="inner_dense")(inner_in), name="inner")
    x = cr.Input(shape=(3,))
    y = L.Dense(2, name="head")(inner(x))
    model = cr.Model(x, y)
    assert [l.name for l in model.layers][1:] == ["inner", "head"]
    assert len(model.weights) == 4
    data, target = _data(features=3), _data(features=2, seed=4)
    w0 = model.get_weights()
    # On real data, as a layer of another model, and on symbolic tensors
    np.testing.assert_allclose(model(data).numpy(), model.get_layer("head")(inner(data)).numpy(), rtol=1e-6)
    assert inner(cr.Input(shape=(3,))).shape == (None, 4)

    def loss_fn(ws):
        return _mse(_dense(cr.sigmoid(_dense(cr.tensor(data), ws[0], ws[1])), ws[2], ws[3]), target)

    loss, want = _sgd_step(w0, loss_fn, 0.2)
    history = _fit_one_step(model, data, target, lr=0.2, loss="mse")
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_feature_extraction_shares_the_weights():
    x = cr.Input(shape=(4,))
    h = L.Dense(5, activation="relu", name="features")(x)
    model = cr.Model(x, L.Dense(2)(h))
    extractor = cr.Model(model.inputs, model.get_layer("features").output)
    data = _data()
    layer = model.get_layer("features")
    np.testing.assert_allclose(extractor.predict(data, verbose=0),
                               np.maximum(data @ layer.kernel.data + layer.bias.data, 0), rtol=1e-5, atol=1e-6)
    assert extractor.weights[0] is layer.kernel


def test_training_mode_reaches_the_layers():
    x = cr.Input(shape=(50,))
    model = cr.Model(x, L.Dropout(0.5)(x))
    data = np.ones((4, 50), np.float32)
    np.testing.assert_array_equal(model(data).numpy(), data)
    assert (model(data, training=True).numpy() == 0).any()


def test_disconnected_graph_names_the_input_and_output():
    a, b = cr.Input(shape=(2,), name="in_a"), cr.Input(shape=(2,), name="in_b")
    out = L.Dense(1, name="out_b")(b)
    with pytest.raises(ValueError, match=r"graph disconnected.*'out_b'.*'in_b'"):
        cr.Model(a, out)
    with pytest.raises(ValueError, match=r"graph disconnected.*'in_b'"):
        cr.Model(a, [L.Dense(1)(a), b])
    with pytest.raises(TypeError, match="symbolic tensor"):
        cr.Model(a, np.ones(3))


def test_wrong_number_of_inputs():
    a, b = cr.Input(shape=(2,)), cr.Input(shape=(2,))
    model = cr.Model([a, b], AddAll()([a, b]))
    with pytest.raises(ValueError, match="2 inputs"):
        model(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 2\)"):
        model([np.ones((1, 3), np.float32), np.ones((1, 2), np.float32)])


# ------------------------------------------------------------------------------------------ several outputs
def _two_output_model():
    x = cr.Input(shape=(4,), name="x")
    h = L.Dense(5, activation="relu", name="h")(x)
    out_a = L.Dense(3, activation="softmax", name="out_a")(h)
    out_b = L.Dense(1, name="out_b")(h)
    return cr.Model(x, [out_a, out_b])


def _two_output_loss_by_hand(ws, data, labels, target, weight_b):
    from chainrule import functional as F

    h = cr.relu(_dense(cr.tensor(data), ws[0], ws[1]))
    la = F.sparse_categorical_crossentropy(cr.tensor(labels), F.softmax(_dense(h, ws[2], ws[3]))).mean()
    lb = _mse(_dense(h, ws[4], ws[5]), target)
    return la, lb, la + weight_b * lb


def test_two_output_model_fit_with_loss_weights_and_metrics_per_output():
    model = _two_output_model()
    assert model.output_names == ["out_a", "out_b"]
    data = _data()
    labels = np.random.default_rng(5).integers(0, 3, size=len(data))
    target = _data(features=1, seed=6)
    w0 = model.get_weights()
    la, lb, _ = _two_output_loss_by_hand([cr.tensor(w) for w in w0], data, labels, target, 0.5)
    loss, want = _sgd_step(w0, lambda ws: _two_output_loss_by_hand(ws, data, labels, target, 0.5)[2], 0.1)
    history = _fit_one_step(model, data, [labels, target], loss=["sparse_categorical_crossentropy", "mse"],
                            loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]])
    logs = history.history
    assert list(logs) == ["loss", "out_a_accuracy", "out_b_mae", "out_a_loss", "out_b_loss"]
    assert logs["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert logs["out_a_loss"][0] == pytest.approx(float(la.item()), rel=1e-5)
    assert logs["out_b_loss"][0] == pytest.approx(float(lb.item()), rel=1e-5)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    # evaluate, predict; the list is in Keras 3's order: loss, the per-output losses, the rest by name
    preds = model.predict(data, verbose=0)
    assert isinstance(preds, list) and preds[0].shape == (12, 3) and preds[1].shape == (12, 1)
    acc = float(np.mean(preds[0].argmax(-1) == labels))
    mae = float(np.mean(np.abs(preds[1] - target)))
    result = model.evaluate(data, {"out_a": labels, "out_b": target}, verbose=0, return_dict=True)
    assert result["out_a_accuracy"] == pytest.approx(acc) and result["out_b_mae"] == pytest.approx(mae, rel=1e-5)
    assert result["loss"] == pytest.approx(result["out_a_loss"] + 0.5 * result["out_b_loss"], rel=1e-5)
    values = model.evaluate(data, [labels, target], verbose=0)
    assert values == pytest.approx([result[k] for k in ("loss", "out_a_loss", "out_b_loss", "out_a_accuracy",
                                                          "out_b_mae")], rel=1e-6)
    with pytest.raises(ValueError, match="no key 'out_b'"):
        model.evaluate(data, {"out_a": labels}, verbose=0)
    history = model.fit(data, [labels, target], epochs=1, verbose=0, validation_split=0.25)
    assert "val_out_a_accuracy" in history.history and "val_out_b_loss" in history.history


def test_loss_and_metric_dicts_by_output_name():
    model = _two_output_model()
    data = _data()
    labels = np.random.default_rng(5).integers(0, 3, size=len(data))
    target = _data(features=1, seed=6)
    w0 = model.get_weights()
    loss, want = _sgd_step(w0, lambda ws: _two_output_loss_by_hand(ws, data, labels, target, 2.0)[2], 0.05)
    history = _fit_one_step(model, data, {"out_b": target, "out_a": labels}, lr=0.05,
                            loss={"out_a": "sparse_categorical_crossentropy", "out_b": "mse"},
                            loss_weights={"out_b": 2.0}, metrics={"out_a": "accuracy"})
    assert list(history.history) == ["loss", "out_a_accuracy", "out_a_loss", "out_b_loss"]
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="'out_c', which is not an output"):
        model.compile(loss={"out_c": "mse"})
    with pytest.raises(ValueError, match="2 outputs.*got 1"):
        model.compile(loss="mse", metrics=["mae"])


def test_dict_inputs_and_outputs():
    a, b = cr.Input(shape=(3,), name="a"), cr.Input(shape=(2,), name="b")
    merged = ConcatLast()([a, b])
    model = cr.Model({"a": a, "b": b}, {"score": L.Dense(1, name="s")(merged), "code": L.Dense(2, name="c")(merged)})
    assert model.output_names == ["code", "score"]
    xa, xb = _data(features=3), _data(features=2, seed=7)
    out = model({"b": xb, "a": xa})
    assert set(out) == {"score", "code"} and out["score"].shape == (12, 1)
    preds = model.predict({"a": xa, "b": xb}, verbose=0)
    assert set(preds) == {"score", "code"}
    np.testing.assert_allclose(preds["score"], out["score"].numpy(), rtol=1e-6)
    model.compile(optimizer="sgd", loss={"score": "mse", "code": "mae"})
    history = model.fit({"a": xa, "b": xb}, {"score": _data(features=1), "code": _data(features=2)}, epochs=1,
                        verbose=0)
    assert list(history.history) == ["loss", "code_loss", "score_loss"]
    with pytest.raises(ValueError, match="x has no key 'b'"):
        model.fit({"a": xa}, {"score": _data(features=1), "code": _data(features=2)}, verbose=0)


# ------------------------------------------------------------------------------------------ summary
def _summary(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def test_summary_has_keras_connected_to_column_and_parameter_counts():
    x = cr.Input(shape=(4,), name="x")
    h = L.Dense(4, activation="relu", name="h")(x)
    s = AddAll(name="skip")([x, h])
    bn = L.BatchNormalization(name="bn")(s)
    model = cr.Model(x, L.Dense(1, name="out")(bn), name="residual")
    lines = _summary(model)
    assert lines[0] == 'Model: "residual"' and len(lines[1]) == 108
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#", "Connected", "to"]
    rows = [line.split() for line in lines if line.strip() and not set(line) <= set("=_ ")]
    assert ["x", "(InputLayer)", "(None,", "4)", "0", "-"] in rows
    assert ["h", "(Dense)", "(None,", "4)", "20", "x[0][0]"] in rows
    assert ["skip", "(AddAll)", "(None,", "4)", "0", "x[0][0]"] in rows and ["h[0][0]"] in rows
    assert ["bn", "(BatchNormalization)", "(None,", "4)", "16", "skip[0][0]"] in rows
    assert lines[-4:] == ["Total params: 41", "Trainable params: 33", "Non-trainable params: 8", "_" * 108]


def test_summary_of_a_chain_and_of_a_nested_model():
    x = cr.Input(shape=(3,), name="x")
    inner = cr.Model(x, L.Dense(4, name="d4")(x), name="inner")
    y = cr.Input(shape=(3,), name="y")
    model = cr.Model(y, L.Dense(2, name="d2")(inner(y)), name="outer")
    lines = _summary(model)
    assert "Connected to" not in lines[2] and len(lines[1]) == 65  # a chain: Keras leaves the column out
    rows = [line.split() for line in lines]
    assert ["inner", "(Functional)", "(None,", "4)", "16"] in rows and ["d2", "(Dense)", "(None,", "2)", "10"] in rows
    assert "Total params: 26" in lines


# ------------------------------------------------------------------------------------------ arithmetic
def test_arithmetic_on_symbolic_tensors_records_nodes_and_trains(tmp_path):
    x = cr.Input(shape=(4,))
    dense = L.Dense(4, name="d")
    y = -(x + 0.5 * dense(x)) / 2.0 - x ** 2
    out = L.Dense(1, name="out")(1.0 - y)
    model = cr.Model(x, out)
    assert y.shape == (None, 4) and type(y._keras_history.layer).__name__ == "TensorOperation"
    data, target = _data(), _data(features=1, seed=9)
    w0 = model.get_weights()

    def loss_fn(ws):
        xt = cr.tensor(data)
        inner = -(xt + 0.5 * _dense(xt, ws[0], ws[1])) / 2.0 - xt ** 2
        return _mse(_dense(1.0 - inner, ws[2], ws[3]), target)

    loss, want = _sgd_step(w0, loss_fn, 0.01)
    history = _fit_one_step(model, data, target, lr=0.01, loss="mse")
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "ops.safetensors")
    loaded = cr.models.load_model(tmp_path / "ops.safetensors")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    with pytest.raises(TypeError, match="symbolic tensor or a number"):
        np.ones(4) + x


def test_feature_extraction_from_a_sequential_model():
    seq = cr.Sequential([L.Input(shape=(4,)), L.Dense(3, activation="relu", name="a"), L.Dense(2, name="b")])
    extractor = cr.Model(seq.inputs, [layer.output for layer in seq.layers])
    data = _data()
    features, out = extractor.predict(data, verbose=0)
    a = seq.get_layer("a")
    np.testing.assert_allclose(features, np.maximum(data @ a.kernel.data + a.bias.data, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, seq.predict(data, verbose=0), rtol=1e-6)
    assert seq.get_layer(index=-1).name == "b" and seq.output.shape == (None, 2)
    with pytest.raises(ValueError, match="no defined input"):
        cr.Sequential([L.Dense(2)]).inputs


def test_keyword_form_explicit_training_intermediate_inputs_and_inside_sequential():
    x = cr.Input(shape=(40,))
    h = L.Dense(40, name="h1")(x)
    always = L.Dropout(0.5)(h, training=True)  # recorded with the node: replayed in training mode
    model = cr.Model(inputs=x, outputs=always)
    data = np.ones((3, 40), np.float32)
    assert (model.predict(data, verbose=0) == 0).any()
    # a model may start at an intermediate tensor
    head = cr.Model(h, L.Dense(2, name="d2")(h))
    hidden = np.random.default_rng(0).standard_normal((3, 40)).astype(np.float32)
    d2 = head.get_layer("d2")
    np.testing.assert_allclose(head(hidden).numpy(), hidden @ d2.kernel.data + d2.bias.data, rtol=1e-5, atol=1e-6)
    # a functional model as one layer of a Sequential one
    inner_in = cr.Input(shape=(3,))
    inner = cr.Model(inner_in, L.Dense(4, name="inner4")(inner_in))
    seq = cr.Sequential([L.Input(shape=(3,)), inner, L.Dense(1)])
    assert seq.output_shape == (None, 1) and len(seq.weights) == 4
    assert seq.predict(np.ones((2, 3), np.float32), verbose=0).shape == (2, 1)


def test_layer_names_must_be_unique_in_a_model():
    x = cr.Input(shape=(2,))
    with pytest.raises(ValueError, match="'twin' is used by 2 different layers"):
        cr.Model(x, L.Dense(1, name="twin")(L.Dense(2, name="twin")(x)))
