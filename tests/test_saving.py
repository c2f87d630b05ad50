"""Saving: one safetensors file per model, exact round trips, atomic writes, clear errors on bad files."""
import json
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.models import saving


def data(n=64, features=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = rng.integers(0, classes, size=n)
    return x, y


def trained_sequential(x, y):
    cr.manual_seed(0)
    model = cr.Sequential([
        layers.Input(shape=(x.shape[1],)),
        layers.Dense(16, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.3),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=cr.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model


class TwoTower(cr.Model):
    """A subclassed model defined at module level, so load_model can import it."""

    def __init__(self, hidden=8, classes=3):
        super().__init__()
        self.a = layers.Dense(hidden, activation="relu")
        self.b = layers.Dense(hidden, activation="tanh")
        self.head = layers.Dense(classes, activation="softmax")

    def call(self, x, training=False):
        return self.head(self.a(x) + self.b(x))


def header(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n])


# ------------------------------------------------------------------------------------------ round trips
def test_sequential_round_trip_with_dropout_batchnorm_and_compile_state(tmp_path):
    x, y = data()
    model = trained_sequential(x, y)
    path = tmp_path / "model.cr"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.cr"]  # one file, no temporaries left
    loaded = cr.models.load_model(path)
    assert type(loaded) is cr.Sequential
    assert [type(l).__name__ for l in loaded.layers] == ["Dense", "BatchNormalization", "Dropout", "Dense"]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # compile state: optimizer (config and slots), loss, metrics
    assert type(loaded.optimizer) is cr.optimizers.Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    assert loaded.compiled_loss.name == "sparse_categorical_crossentropy"
    assert loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_training_resumes_identically_after_loading(tmp_path):
    x, y = data()
    model = trained_sequential(x, y)
    model.save(tmp_path / "m.cr")
    loaded = cr.models.load_model(tmp_path / "m.cr")
    cr.manual_seed(3)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    cr.manual_seed(3)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_file_layout_weights_in_order_and_config_in_metadata(tmp_path):
    x, y = data()
    model = trained_sequential(x, y)
    model.save(tmp_path / "m.safetensors")
    head = header(tmp_path / "m.safetensors")
    doc = json.loads(head["__metadata__"]["chainrule_config"])
    assert doc["kind"] == "model" and doc["class_name"] == "Sequential"
    dense, bn = model.layers[0].name, model.layers[1].name
    assert doc["weight_names"][:6] == [f"0000:{dense}/kernel", f"0001:{dense}/bias", f"0002:{bn}/gamma",
                                       f"0003:{bn}/beta", f"0004:{bn}/moving_mean", f"0005:{bn}/moving_variance"]
    assert [e["class_name"] for e in doc["config"]["layers"]] == ["Dense", "BatchNormalization", "Dropout", "Dense"]
    assert doc["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 12]
    assert doc["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert doc["compile_config"]["metrics"] == ["accuracy"]
    assert any(k.startswith("optimizer:") for k in head)
    from safetensors.numpy import load_file

    tensors = load_file(str(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(tensors[f"0000:{dense}/kernel"], model.layers[0].get_weights()[0])


def test_uncompiled_and_lazily_built_models(tmp_path):
    x, _ = data()
    model = cr.Sequential([layers.Dense(5, activation="relu"), layers.Dense(2)])
    model(x[:2])  # built by a call, no Input
    model.save(tmp_path / "m.cr", include_optimizer=False)
    loaded = cr.models.load_model(tmp_path / "m.cr")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_subclassed_model_round_trip(tmp_path):
    x, y = data()
    model = TwoTower(hidden=6)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "tower.cr")
    loaded = cr.models.load_model(tmp_path / "tower.cr")
    assert type(loaded) is TwoTower and loaded.get_config() == {"hidden": 6}
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert type(loaded.optimizer) is cr.optimizers.RMSprop


def test_local_class_needs_custom_objects(tmp_path):
    class Local(cr.Model):
        def __init__(self, units=4):
            super().__init__()
            self.d = layers.Dense(units)

        def call(self, x, training=False):
            return self.d(x)

    x, _ = data()
    model = Local(units=3)
    model(x[:1])
    model.save(tmp_path / "local.cr")
    with pytest.raises(ValueError, match="custom_objects"):
        cr.models.load_model(tmp_path / "local.cr")
    loaded = cr.models.load_model(tmp_path / "local.cr", custom_objects={"Local": Local})
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_unserializable_constructor_arguments_are_a_clear_error(tmp_path):
    class Holder(cr.Model):
        def __init__(self, layer):
            super().__init__()
            self.inner = layer

        def call(self, x, training=False):
            return self.inner(x)

    model = Holder(layers.Dense(2))
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="get_config"):
        model.save(tmp_path / "h.cr")
    assert not list(tmp_path.iterdir())
    model.save_weights(tmp_path / "h.weights")  # weights alone need no config
    other = Holder(layers.Dense(2))
    other.load_weights(tmp_path / "h.weights")  # built from the recorded input shape
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])


def test_save_weights_and_load_weights(tmp_path):
    x, y = data()
    model = trained_sequential(x, y)
    model.save_weights(tmp_path / "w.safetensors")
    fresh = cr.Sequential([layers.Input(shape=(12,)), layers.Dense(16, activation="relu"),
                           layers.BatchNormalization(), layers.Dropout(0.3), layers.Dense(3, activation="softmax")])
    fresh.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))
    # a full model file also holds the weights
    model.save(tmp_path / "full.cr")
    lazy = cr.Sequential([layers.Dense(16, activation="relu"), layers.BatchNormalization(), layers.Dropout(0.3),
                          layers.Dense(3, activation="softmax")])
    lazy.load_weights(tmp_path / "full.cr")
    np.testing.assert_array_equal(lazy.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="only weights"):
        cr.models.load_model(tmp_path / "w.safetensors")


def test_load_weights_shape_mismatch_names_the_weight(tmp_path):
    x, y = data()
    model = trained_sequential(x, y)
    model.save_weights(tmp_path / "w.cr")
    wrong = cr.Sequential([layers.Input(shape=(12,)), layers.Dense(17, activation="relu"),
                           layers.BatchNormalization(), layers.Dropout(0.3), layers.Dense(3, activation="softmax")])
    before = wrong.get_weights()
    with pytest.raises(ValueError, match=r"kernel.*\(12, 17\).*\(12, 16\)"):
        wrong.load_weights(tmp_path / "w.cr")
    for a, b in zip(wrong.get_weights(), before):  # nothing was assigned
        np.testing.assert_array_equal(a, b)
    fewer = cr.Sequential([layers.Input(shape=(12,)), layers.Dense(3)])
    with pytest.raises(ValueError, match="holds 8 weights but the model"):
        fewer.load_weights(tmp_path / "w.cr")


# ------------------------------------------------------------------------------------------ custom objects
def doubled(x):
    return x * 2.0


def halves(shape, dtype=None):
    return np.full(shape, 0.5, dtype=dtype)


def small_weights(w):
    return (w * w).sum() * 0.1


class ScaledL1(cr.regularizers.Regularizer):
    def __init__(self, k=0.2):
        self.k = k

    def __call__(self, x):
        return x.abs().sum() * self.k

    def get_config(self):
        return {"k": self.k}


def squared(y_true, y_pred):
    return ((y_pred - y_true) ** 2).mean(axis=-1)


def off_by(y_true, y_pred):
    return (y_pred - y_true).abs().mean(axis=-1)


class Scale(layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs, training=False):
        return inputs * self.factor

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


CUSTOM = {"doubled": doubled, "halves": halves, "small_weights": small_weights, "ScaledL1": ScaledL1,
          "squared": squared, "off_by": off_by}


def test_custom_objects_reach_activations_initializers_regularizers_losses_and_metrics(tmp_path):
    model = cr.Sequential([
        layers.Input((3,)),
        layers.Dense(2, activation=doubled, kernel_initializer=halves, kernel_regularizer=small_weights,
                     activity_regularizer=ScaledL1(0.3)),
        layers.Dense(1, activity_regularizer=small_weights),
    ])
    model.compile(optimizer="sgd", loss=squared, metrics=[off_by])
    path = tmp_path / "m.cr"
    model.save(path)
    with pytest.raises(ValueError, match="custom_objects"):
        cr.models.load_model(path)
    again = cr.models.load_model(path, custom_objects=CUSTOM)
    first, second = again.layers
    assert first.activation is doubled and first.kernel_initializer is halves
    assert first.kernel_regularizer is small_weights and second.activity_regularizer is small_weights
    assert isinstance(first.activity_regularizer, ScaledL1) and first.activity_regularizer.k == 0.3
    assert again.compiled_loss.fn is squared and again.metrics_names == ["loss", "off_by"]
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    # The same names through a scope (Keras's custom_object_scope), and a custom layer class.
    with cr.models.custom_object_scope({"doubled": doubled}):
        clone = layers.Dense.from_config(first.get_config() | {"activity_regularizer": None, "name": "clone",
                                                                 "kernel_initializer": "zeros",
                                                                 "kernel_regularizer": None})
    assert clone.activation is doubled
    with pytest.raises(ValueError, match="unknown activation 'doubled'"):
        layers.Dense.from_config({"units": 2, "activation": "doubled"})
    scaled = cr.Sequential([layers.Input((3,)), Scale(3.0)])
    scaled.save(path)
    assert isinstance(cr.models.load_model(path, custom_objects={"Scale": Scale}).layers[0], Scale)


def test_a_custom_activity_regularizer_is_kept_in_the_config_and_saved_by_name(tmp_path):
    dense = layers.Dense(2, activity_regularizer=small_weights, name="act_reg")
    assert dense.get_config()["activity_regularizer"] is small_weights  # as kernel_regularizer does
    model = cr.Sequential([layers.Input((3,)), dense])
    model.save(tmp_path / "m.cr")
    loaded = cr.models.load_model(tmp_path / "m.cr", custom_objects={"small_weights": small_weights})
    assert loaded.layers[0].activity_regularizer is small_weights
    unnamed = cr.Sequential([layers.Input((3,)), layers.Dense(2, activity_regularizer=lambda y: y.sum(),
                                                               name="with_lambda")])
    with pytest.raises(ValueError, match=r"layer 'with_lambda' \(Dense\).*activity_regularizer.*lambda"):
        unnamed.save(tmp_path / "other.cr")
    assert not (tmp_path / "other.cr").exists()


# ------------------------------------------------------------------------------------------ bad files
@pytest.mark.parametrize("damage", ["truncated", "half", "empty", "text", "garbage_header", "no_metadata",
                                    "bad_config_json"])
def test_corrupt_files_give_a_clear_error(tmp_path, damage):
    x, y = data()
    good = tmp_path / "good.cr"
    trained_sequential(x, y).save(good)
    raw = good.read_bytes()
    bad = tmp_path / "bad.cr"
    if damage == "truncated":
        bad.write_bytes(raw[:-7])
    elif damage == "half":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "text":
        bad.write_text("this is not a model\n")
    elif damage == "garbage_header":
        n = int.from_bytes(raw[:8], "little")
        bad.write_bytes(raw[:8] + b"\xff" * n + raw[8 + n:])
    elif damage == "no_metadata":
        from safetensors.numpy import save

        bad.write_bytes(save({"w": np.zeros(3, np.float32)}))
    elif damage == "bad_config_json":
        from safetensors.numpy import save

        bad.write_bytes(save({"w": np.zeros(3, np.float32)}, metadata={"chainrule_config": "{not json"}))
    for load in (cr.models.load_model, trained_sequential(x, y).load_weights):
        with pytest.raises(ValueError) as info:
            load(bad)
        message = str(info.value)
        assert str(bad) in message and "not a valid chainrule file" in message
        assert "Traceback" not in message


def test_a_flipped_bit_in_the_weights_is_caught_by_the_checksum(tmp_path):
    x, y = data()
    good = tmp_path / "good.cr"
    model = trained_sequential(x, y)
    model.save(good)
    meta = header(good)["__metadata__"]
    assert meta["chainrule_sha256"].startswith("sha256:")
    raw = bytearray(good.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    for where in (8 + n, len(raw) - 1, 8 + n + (len(raw) - 8 - n) // 2):  # first, last and a middle data byte
        flipped = bytearray(raw)
        flipped[where] ^= 0x01
        bad = tmp_path / "bad.cr"
        bad.write_bytes(bytes(flipped))
        for load in (cr.models.load_model, model.load_weights):
            with pytest.raises(ValueError, match="SHA-256") as info:
                load(bad)
            assert str(bad) in str(info.value) and "not a valid chainrule file" in str(info.value)
    model.save_weights(tmp_path / "w.cr")
    assert header(tmp_path / "w.cr")["__metadata__"]["chainrule_sha256"].startswith("sha256:")


def test_files_saved_without_a_checksum_still_load(tmp_path):
    from safetensors.numpy import load, save

    x, y = data()
    path = tmp_path / "old.cr"
    model = trained_sequential(x, y)
    model.save(path)
    meta = header(path)["__metadata__"]
    path.write_bytes(save(load(path.read_bytes()), metadata={"chainrule_config": meta["chainrule_config"]}))
    assert "chainrule_sha256" not in header(path)["__metadata__"]
    np.testing.assert_array_equal(cr.models.load_model(path).predict(x), model.predict(x))


def test_saving_through_a_symlink_keeps_the_link(tmp_path):
    x, y = data()
    target = tmp_path / "store" / "model.cr"
    target.parent.mkdir()
    link = tmp_path / "latest.cr"
    model = trained_sequential(x, y)
    model.save(target)
    os.symlink(target, link)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(cr.models.load_model(target).predict(x), model.predict(x))
    model.save_weights(link)
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.cr", "store"]
    assert [p.name for p in target.parent.iterdir()] == ["model.cr"]  # no temporary file left


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no such file"):
        cr.models.load_model("/nonexistent/model.cr")


# ------------------------------------------------------------------------------------------ atomic writes
def test_failed_rename_leaves_the_old_file_intact(tmp_path, monkeypatch):
    x, y = data()
    path = tmp_path / "m.cr"
    model = trained_sequential(x, y)
    model.save(path)
    old = path.read_bytes()
    model.fit(x, y, epochs=1, verbose=0)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    with pytest.raises(OSError, match="disk full"):
        model.save_weights(path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["m.cr"]  # the temporary file was removed


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    x, y = data()
    path = tmp_path / "m.cr"
    model = trained_sequential(x, y)
    model.save(path)
    old = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="I/O error"):
        model.save(path)
    monkeypatch.undo()

    import safetensors.numpy

    def failing_serializer(*args, **kwargs):
        raise RuntimeError("serializer failed")

    monkeypatch.setattr(safetensors.numpy, "save", failing_serializer)
    with pytest.raises(RuntimeError, match="serializer failed"):
        model.save(path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["m.cr"]


def test_overwrite_false_and_missing_directory(tmp_path):
    x, _ = data()
    model = cr.Sequential([layers.Input(shape=(12,)), layers.Dense(2)])
    model.save(tmp_path / "m.cr")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.cr", overwrite=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.save(tmp_path / "no" / "such" / "m.cr")


def test_saved_file_permissions_follow_the_umask(tmp_path):
    model = cr.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    model.save(tmp_path / "m.cr")
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "m.cr").st_mode & 0o777 == 0o666 & ~umask


def test_serialize_and_deserialize_layer_round_trip():
    dense = layers.Dense(4, activation="relu", name="d")
    entry = saving.serialize_layer(dense)
    assert entry["class_name"] == "Dense"
    again = saving.deserialize_layer(json.loads(json.dumps(entry)))
    assert type(again) is type(dense) and again.get_config() == dense.get_config()
    with pytest.raises(ValueError, match="custom_objects"):
        saving.deserialize_layer({"class_name": "NoSuchLayer", "module": "nowhere", "config": {}})
