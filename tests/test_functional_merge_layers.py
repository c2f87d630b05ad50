"""The functional API with the catalog's merge layers: a residual block and a two-branch model."""
import numpy as np

import chainrule as cr
from chainrule import layers as L


def _residual_model():
    inp = cr.Input(shape=(8,), name="x")
    h = L.Dense(8, activation="relu", name="d1")(inp)
    h = L.Add(name="skip")([inp, h])
    a = L.Dense(4, name="branch_a")(h)
    b = L.Dense(4, name="branch_b")(h)
    out = L.Dense(3, activation="softmax", name="out")(L.Concatenate(name="cat")([a, b]))
    return cr.Model(inp, out, name="residual")


def test_residual_block_with_add_and_concatenate_matches_the_hand_computation():
    cr.manual_seed(0)
    model = _residual_model()
    assert model.get_layer("skip").output.shape == (None, 8)
    assert model.get_layer("cat").output.shape == (None, 8)
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    w = {n: model.get_layer(n).get_weights() for n in ("d1", "branch_a", "branch_b", "out")}
    h = x + np.maximum(x @ w["d1"][0] + w["d1"][1], 0)
    cat = np.concatenate([h @ w["branch_a"][0] + w["branch_a"][1], h @ w["branch_b"][0] + w["branch_b"][1]], -1)
    z = cat @ w["out"][0] + w["out"][1]
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), p, rtol=1e-5, atol=1e-6)


def test_residual_model_trains_saves_and_loads(tmp_path):
    cr.manual_seed(1)
    model = _residual_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    path = tmp_path / "residual.safetensors"
    model.save(path)
    loaded = cr.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
