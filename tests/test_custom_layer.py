"""The custom-layer guide (docs/custom_layers.md) and its example (examples/custom_layer.py):
a Keras-style layer with build/add_weight/call/get_config trains, saves and loads."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import chainrule as cr
from example_loader import ROOT, load_example



@pytest.fixture(scope="module")
def example():
    return load_example("custom_layer.py", "custom_layer_example")


def test_the_layer_computes_its_formula_and_backward_gives_the_chain_rule(example):
    cr.set_floatx("float64")
    cr.manual_seed(0)
    layer = example.GatedDense(3)
    x = cr.tensor(np.random.default_rng(0).normal(size=(4, 5)))
    y = layer(x)
    W, b, V, c = (w.numpy() for w in layer.weights)
    assert [w.name for w in layer.weights] == [f"{layer.name}/{n}" for n in ("kernel", "bias", "gate_kernel",
                                                                              "gate_bias")]
    a, s = x.numpy() @ W + b, 1 / (1 + np.exp(-(x.numpy() @ V + c)))
    np.testing.assert_allclose(y.numpy(), a * s, rtol=1e-12)
    g = np.random.default_rng(1).normal(size=y.shape)
    y.backward(cr.tensor(g))
    np.testing.assert_allclose(layer.kernel.grad.numpy(), x.numpy().T @ (g * s), rtol=1e-10)
    np.testing.assert_allclose(layer.gate_kernel.grad.numpy(), x.numpy().T @ (g * a * s * (1 - s)), rtol=1e-10)
    np.testing.assert_allclose(layer.bias.grad.numpy(), (g * s).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(layer.gate_bias.grad.numpy(), (g * a * s * (1 - s)).sum(axis=0), rtol=1e-10)
    assert cr.gradcheck(lambda inp: layer(inp), [cr.tensor(x.numpy(), requires_grad=True)])


def test_trained_saved_and_loaded_with_custom_objects(example, tmp_path):
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (200, 784)).astype(np.float32)
    y = (x[:, :392].mean(axis=1) > x[:, 392:].mean(axis=1)).astype(np.int64)
    model = example.build_model(units=16)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    loaded, difference = example.save_and_load(model, x[:20])
    assert difference == 0.0 and isinstance(loaded.layers[0], example.GatedDense)
    assert loaded.layers[0].get_config()["units"] == 16
    # Without custom_objects, a class that cannot be imported by name is a clear error.
    model.save(tmp_path / "m.safetensors")
    sys.modules.pop("custom_layer_example", None)
    with pytest.raises(ValueError, match=r"GatedDense.*custom_objects"):
        cr.models.load_model(tmp_path / "m.safetensors")


def test_config_round_trip(example):
    layer = example.GatedDense(7, kernel_initializer="he_normal", name="glu")
    clone = example.GatedDense.from_config(layer.get_config())
    assert (clone.units, clone.kernel_initializer, clone.name) == (7, "he_normal", "glu")


def test_a_keras_3_style_layer_without_names_or_training_argument():
    class Scale(cr.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
            self.v = self.add_weight(shape=(input_shape[-1],), initializer=None)

        def call(self, inputs):                # no training argument, as Keras allows
            return inputs * self.w

    layer = Scale(name="s")
    out = layer(np.ones((2, 3), np.float32), training=True)
    assert out.shape == (2, 3) and [w.name for w in layer.weights] == ["s/variable", "s/variable_1"]
    with pytest.raises(TypeError, match="add_weight needs a shape"):
        cr.layers.Layer().add_weight(name="w")


def test_the_guides_code_runs(tmp_path, monkeypatch):
    """Every python block of docs/custom_layers.md runs, in order, in one namespace."""
    import re

    text = open(os.path.join(ROOT, "docs", "custom_layers.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)                       # the guide saves gated.safetensors in the current folder
    cr.manual_seed(0)
    ns: dict = {"__name__": "custom_layers_guide"}
    for block in blocks:
        exec(compile(block, "docs/custom_layers.md", "exec"), ns)
    assert (tmp_path / "gated.safetensors").exists()
    residual = ns["Residual"](20)
    assert residual(np.ones((2, 20), np.float32)).shape == (2, 20) and len(residual.weights) == 2
