"""The everyday layers inside models: trained by fit, saved and loaded by name (identical predictions),
compute_output_shape agreeing with the real output for every layer, and a Lambda file that can only
find functions the user hands over (loading never runs code named by the file)."""
import json

import numpy as np
import pytest

import chainrule as cr
import chainrule.layers as L
from chainrule.models import saving


def _rng(seed=0):
    return np.random.default_rng(seed)


def halve(x):
    return x * 0.5


def image_model():
    return cr.Sequential([
        L.Input(shape=(6, 6, 2)),
        L.Rescaling(1 / 255, offset=-0.5),
        L.ZeroPadding2D(((1, 0), (0, 1))),
        L.Cropping2D(((0, 1), (1, 0))),
        L.UpSampling2D(interpolation="bilinear"),
        L.Conv2D(4, 3, padding="same"),
        L.GroupNormalization(groups=2),
        L.PReLU(shared_axes=[1, 2], alpha_initializer="constant"),
        L.SpatialDropout2D(0.2, seed=1),
        L.GaussianNoise(0.1, seed=2),
        L.GaussianDropout(0.1, seed=3),
        L.ReLU(max_value=6.0, negative_slope=0.1),
        L.UpSampling2D(size=(1, 2), data_format="channels_last"),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    ])


def sequence_model(adapt_on):
    norm = L.Normalization()
    norm.adapt(adapt_on)
    return cr.Sequential([
        L.Input(shape=(5, 3)),
        norm,
        L.UpSampling1D(2),
        L.ZeroPadding1D((1, 2)),
        L.Cropping1D((2, 1)),
        L.Permute((2, 1)),
        L.LeakyReLU(),
        L.ELU(alpha=0.5),
        L.UnitNormalization(axis=[1, 2]),
        L.Softmax(axis=1),
        L.Permute((2, 1)),
        L.SpatialDropout1D(0.1, seed=4),
        L.ActivityRegularization(l2=1e-3),
        L.Flatten(),
        L.Dense(4),
        L.RepeatVector(2),
        L.Identity(),
        L.Lambda(halve),
        L.Flatten(),
        L.Dense(1),
    ])


def volume_model():
    return cr.Sequential([
        L.Input(shape=(2, 3, 2, 2)),
        L.UpSampling3D((2, 1, 2)),
        L.ZeroPadding3D(1),
        L.Cropping3D(((1, 0), (0, 1), (1, 1))),
        L.SpatialDropout3D(0.3, seed=5),
        L.Flatten(),
        L.Dense(2),
    ])


def test_image_model_trains_saves_and_loads_with_identical_predictions(tmp_path):
    r = _rng(1)
    x = r.integers(0, 256, (24, 6, 6, 2)).astype("float32")
    y = r.integers(0, 3, 24)
    model = image_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "image.cr")
    loaded = cr.models.load_model(tmp_path / "image.cr")
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequence_model_with_adapted_normalization_and_lambda(tmp_path):
    r = _rng(2)
    x = (r.standard_normal((32, 5, 3)) * 3 + 2).astype("float32")
    y = r.standard_normal((32, 1)).astype("float32")
    model = sequence_model(x)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert len(model.losses) == 1  # the activity regularizer of the latest call
    model.save(tmp_path / "seq.cr")
    with pytest.raises(ValueError, match=r"unknown function 'halve'.*custom_objects"):
        cr.models.load_model(tmp_path / "seq.cr")
    loaded = cr.models.load_model(tmp_path / "seq.cr", custom_objects={"halve": halve})
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_allclose(loaded.layers[0].adapt_mean.numpy(), x.reshape(-1, 3).mean(0), rtol=1e-5)


def test_volume_model_round_trip(tmp_path):
    x = _rng(3).standard_normal((4, 2, 3, 2, 2)).astype("float32")
    model = volume_model()
    model.save(tmp_path / "vol.cr")
    loaded = cr.models.load_model(tmp_path / "vol.cr")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_lambda_expression_cannot_be_saved_and_the_old_file_survives(tmp_path):
    path = tmp_path / "m.cr"
    good = cr.Sequential([L.Input(shape=(2,)), L.Lambda(halve), L.Dense(1)])
    good.save(path)
    before = path.read_bytes()
    bad = cr.Sequential([L.Input(shape=(2,)), L.Lambda(lambda t: t * 2), L.Dense(1)])
    with pytest.raises(ValueError, match="lambda expression.*Define it with def"):
        bad.save(path)
    assert path.read_bytes() == before


def test_loading_never_runs_a_function_the_file_names(tmp_path, monkeypatch):
    """A file whose Lambda names a dangerous importable function (os.system, builtins.eval) fails to
    load: the name is looked up in custom_objects only, never imported or evaluated."""
    import os

    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    path = tmp_path / "m.cr"
    cr.Sequential([L.Input(shape=(2,)), L.Lambda(halve), L.Dense(1)]).save(path)
    doc, tensors = saving.read_file(path, "test")
    for name in ("system", "os.system", "eval", "__import__", "print"):
        (entry,) = [e for e in doc["config"]["layers"] if e["class_name"] == "Lambda"]
        entry["config"]["function"] = name
        edited = tmp_path / f"{name}.cr"
        saving._write(edited, tensors, doc, overwrite=True, who="test")
        with pytest.raises(ValueError, match=f"unknown function {name!r}"):
            cr.models.load_model(edited)
    assert calls == []


# ------------------------------------------------------------------------------------------ shapes
SHAPE_CASES = [  # (layer, input shape with None, a concrete input shape)
    (L.ReLU(), (None, None, 3), (2, 4, 3)),
    (L.LeakyReLU(), (None, 3), (2, 3)),
    (L.PReLU(), (None, 4), (2, 4)),
    (L.ELU(), (None, None), (2, 5)),
    (L.Softmax(), (None, 2, None), (2, 2, 3)),
    (L.UpSampling1D(3), (None, None, 2), (2, 4, 2)),
    (L.UpSampling2D((2, 3)), (None, None, 5, 2), (2, 4, 5, 2)),
    (L.UpSampling3D(), (None, 2, None, 3, 1), (2, 2, 2, 3, 1)),
    (L.ZeroPadding1D(), (None, None, 2), (2, 4, 2)),
    (L.ZeroPadding2D(data_format="channels_first"), (None, 3, None, 4), (2, 3, 5, 4)),
    (L.ZeroPadding3D(), (None, None, 2, 2, 1), (1, 3, 2, 2, 1)),
    (L.Cropping1D(), (None, None, 2), (2, 5, 2)),
    (L.Cropping2D(1), (None, 5, None, 2), (2, 5, 4, 2)),
    (L.Cropping3D(), (None, 3, None, 4, 1), (1, 3, 4, 4, 1)),
    (L.RepeatVector(3), (None, 4), (2, 4)),
    (L.Permute((2, 1)), (None, None, 3), (2, 5, 3)),
    (L.GaussianNoise(0.1), (None, None), (2, 3)),
    (L.GaussianDropout(0.1), (None, 3), (2, 3)),
    (L.SpatialDropout1D(0.1), (None, None, 3), (2, 4, 3)),
    (L.SpatialDropout2D(0.1), (None, None, None, 3), (2, 4, 4, 3)),
    (L.SpatialDropout3D(0.1), (None, None, 2, 2, 3), (2, 2, 2, 2, 3)),
    (L.ActivityRegularization(0.1), (None, 3), (2, 3)),
    (L.GroupNormalization(2), (None, None, 4), (2, 3, 4)),
    (L.UnitNormalization(), (None, None, 4), (2, 3, 4)),
    (L.Rescaling(2.0), (None, 3), (2, 3)),
    (L.Normalization(mean=0.0, variance=1.0), (None, None, 3), (2, 4, 3)),
    (L.Identity(), (None, 3), (2, 3)),
    (L.Lambda(halve), (None, None, 3), (2, 4, 3)),
]


@pytest.mark.parametrize("case", range(len(SHAPE_CASES)), ids=[type(c[0]).__name__ for c in SHAPE_CASES])
def test_compute_output_shape_agrees_with_the_output(case):
    layer, symbolic, concrete = SHAPE_CASES[case]
    out = layer.compute_output_shape(symbolic)
    assert out[0] is None
    y = layer(np.ones(concrete, dtype="float32"), training=True)
    assert len(out) == y.ndim
    for s, c, o, d in zip(symbolic, concrete, out, y.shape):
        assert o == d or o is None, (out, y.shape)
    # every size that was known in the input and is unchanged by the layer stays known
    assert sum(o is None for o in out) <= sum(s is None for s in symbolic) + 1


@pytest.mark.parametrize("name", [n for n in L.__all__ if n in {
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Lambda", "Identity",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "RepeatVector", "Permute",
    "GaussianNoise", "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "ActivityRegularization", "GroupNormalization", "UnitNormalization", "Rescaling", "Normalization"}])
def test_every_new_layer_is_found_by_its_saved_class_name(name):
    cls = getattr(L, name)
    assert saving._resolve_class(name, cls.__module__, cls.__qualname__) is cls
    assert json.dumps({"class_name": name})
