"""Functional models as a JSON graph: get_config/from_config, save/load_model, and loading never runs code."""
import json
import os
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L
from chainrule.models import saving

from test_functional import AddAll, ConcatLast, _data, _two_output_model

CUSTOM = {"AddAll": AddAll, "ConcatLast": ConcatLast}


def _residual():
    x = cr.Input(shape=(4,), name="x")
    h = L.Dense(4, activation="relu", name="h")(x)
    s = AddAll(name="skip")([x, h])
    return cr.Model(x, L.Dense(1, name="out")(L.BatchNormalization(name="bn")(s)), name="residual")


def _nested_shared():
    inner_in = cr.Input(shape=(3,), name="inner_in")
    inner = cr.Model(inner_in, L.Dense(4, activation="tanh", name="inner_d")(inner_in), name="inner")
    a, b = cr.Input(shape=(3,), name="a"), cr.Input(shape=(3,), name="b")
    merged = ConcatLast(name="cat")([inner(a), inner(b)])  # the inner model is shared by both inputs
    return cr.Model({"a": a, "b": b}, {"y": L.Dense(2, name="y")(merged)}, name="siamese")


def test_config_is_keras_functional_json_and_round_trips():
    model = _residual()
    config = model.get_config()
    text = json.dumps(config)
    assert config["input_layers"] == ["x", 0, 0] and config["output_layers"] == ["out", 0, 0]
    names = [entry["name"] for entry in config["layers"]]
    assert names == ["x", "h", "skip", "bn", "out"]
    skip = config["layers"][2]
    assert skip["class_name"] == "AddAll"
    args = skip["inbound_nodes"][0]["args"][0]
    assert [a["config"]["keras_history"] for a in args] == [["x", 0, 0], ["h", 0, 0]]
    assert args[0]["class_name"] == "__keras_tensor__" and args[0]["config"]["shape"] == [None, 4]
    clone = cr.Model.from_config(json.loads(text), custom_objects=CUSTOM)
    assert type(clone).__name__ == "Functional" and json.dumps(clone.get_config()) == text
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_nested_shared_model_config_counts_only_its_own_calls():
    model = _nested_shared()
    config = model.get_config()
    inner = next(e for e in config["layers"] if e["name"] == "inner")
    assert inner["class_name"] == "Functional" and len(inner["inbound_nodes"]) == 2
    assert inner["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == ["inner_in", 0, 0]
    cat = next(e for e in config["layers"] if e["name"] == "cat")
    refs = [a["config"]["keras_history"] for a in cat["inbound_nodes"][0]["args"][0]]
    assert refs == [["inner", 0, 0], ["inner", 1, 0]]
    assert config["input_layers"] == {"a": ["a", 0, 0], "b": ["b", 0, 0]}
    clone = cr.Model.from_config(json.loads(json.dumps(config)), custom_objects=CUSTOM)
    assert len(clone.weights) == 4  # the inner model is still shared


@pytest.mark.parametrize("build", [_residual, _nested_shared])
def test_save_and_load_give_identical_predictions(tmp_path, build):
    model = build()
    path = tmp_path / "model.safetensors"
    if "a" in model._input_keys:
        x = {"a": _data(features=3), "b": _data(features=3, seed=1)}
        y = {"y": _data(features=2, seed=2)}
    else:
        x, y = _data(), _data(features=1, seed=2)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    model.save(path)
    loaded = cr.models.load_model(path, custom_objects=CUSTOM)
    assert type(loaded).__name__ == "Functional" and loaded.name == model.name
    a, b = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    a, b = (a["y"], b["y"]) if isinstance(a, dict) else (a, b)
    np.testing.assert_array_equal(a, b)
    for w0, w1 in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    # compiled again, optimizer state included: one more step moves both the same way
    model.fit(x, y, epochs=1, batch_size=100, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=100, shuffle=False, verbose=0)
    for w0, w1 in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(w0, w1, rtol=1e-6, atol=1e-7)


def test_two_output_model_keeps_its_compile_settings(tmp_path):
    model = _two_output_model()
    model.compile(optimizer="sgd", loss={"out_a": "sparse_categorical_crossentropy", "out_b": "mse"},
                  loss_weights={"out_a": 1.0, "out_b": 0.25}, metrics={"out_a": ["accuracy"], "out_b": "mae"})
    model.save(tmp_path / "two.safetensors")
    loaded = cr.models.load_model(tmp_path / "two.safetensors")
    data, labels, target = _data(), np.arange(12) % 3, _data(features=1)
    r0 = model.evaluate(data, [labels, target], verbose=0, return_dict=True)
    r1 = loaded.evaluate(data, [labels, target], verbose=0, return_dict=True)
    assert r0 == r1 and set(r1) == {"loss", "out_a_accuracy", "out_b_mae", "out_a_loss", "out_b_loss"}
    assert r1["loss"] == pytest.approx(r1["out_a_loss"] + 0.25 * r1["out_b_loss"], rel=1e-6)
    np.testing.assert_array_equal(model.predict(data, verbose=0)[1], loaded.predict(data, verbose=0)[1])


# ------------------------------------------------------------------------------------------ safety
def _rewrite(path, change):
    """Rewrite a saved file with its config changed by ``change(doc)`` (the checksum kept valid)."""
    from safetensors.numpy import save

    doc, tensors = saving.read_file(path, "test")
    change(doc)
    data = save(tensors, metadata={"chainrule_config": json.dumps(doc),
                                   "chainrule_sha256": saving.weights_digest(tensors)})
    path.write_bytes(data)


class _Payload:
    """Unpickling this object would create the marker file (what a pickle-based format would run)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("where", ["layer", "model"])
def test_a_crafted_config_naming_code_is_rejected(tmp_path, where):
    model = _residual()
    path = tmp_path / "m.safetensors"
    model.save(path)
    marker = tmp_path / "ran"

    def craft(doc):
        target = doc["config"]["layers"][1] if where == "layer" else doc
        target.update(class_name="system", module="os", qualname="system")
        target["config"] = {"command": f"touch {marker}"} if where == "layer" else target["config"]

    _rewrite(path, craft)
    with pytest.raises(ValueError, match="system"):
        cr.models.load_model(path, custom_objects=CUSTOM)
    model.save(path)
    _rewrite(path, lambda doc: doc["config"]["layers"][1].update(class_name="Popen", module="subprocess",
                                                                 qualname="Popen",
                                                                 config={"args": ["touch", str(marker)]}))
    with pytest.raises(ValueError, match="not a layer class"):
        cr.models.load_model(path, custom_objects=CUSTOM)
    assert not marker.exists()


def test_a_pickle_payload_in_the_file_stays_inert(tmp_path):
    model = _residual()
    path = tmp_path / "m.safetensors"
    model.save(path)
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Payload(str(marker)))
    assert not marker.exists()

    def craft(doc):  # the payload as a config value and as a layer call argument
        doc["config"]["layers"][1]["config"]["name"] = payload.decode("latin-1")
        doc["config"]["layers"][2]["inbound_nodes"][0]["kwargs"] = {"extra": payload.decode("latin-1")}

    _rewrite(path, craft)
    with pytest.raises((ValueError, TypeError)):
        cr.models.load_model(path, custom_objects=CUSTOM)
    assert not marker.exists()
    # and a graph whose tensors point at a layer that does not exist is a clear error
    model.save(path)
    _rewrite(path, lambda doc: doc["config"]["layers"][4]["inbound_nodes"][0]["args"][0]["config"].update(
        keras_history=["nowhere", 0, 0]))
    with pytest.raises(ValueError, match="unknown layer 'nowhere'"):
        cr.models.load_model(path, custom_objects=CUSTOM)
    assert not os.path.exists(marker)


def test_loading_never_imports_a_module_named_in_the_file(tmp_path):
    """A config naming a class in a module that is not imported yet must not import it (its code would run)."""
    import json
    import sys

    import numpy as np

    import chainrule as cr
    from chainrule.models import saving

    assert "antigravity" not in sys.modules
    with pytest.raises(ValueError, match="not imported"):
        saving._resolve_class("Fly", module="antigravity", qualname="Fly")
    assert "antigravity" not in sys.modules
