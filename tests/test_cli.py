"""The ``chainrule`` command: train, save, evaluate, list recipes, and its errors.

The datasets are replaced by a small synthetic stand-in (``recipes.load_images`` is
monkeypatched) so that the whole command runs in a second; the real MNIST runs are the
README's main job and the examples.
"""
from __future__ import annotations

import numpy as np
import pytest

from chainrule import cli, recipes


def _fake_images(dataset, layout):
    """Ten classes of 28x28 images, each class a bright square at its own place: learnable."""
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 10, n)
        x = rng.uniform(0, 0.2, (n, 28, 28, 1)).astype(np.float32)
        for i, label in enumerate(y):
            r, c = divmod(int(label), 5)
            x[i, 4 + 10 * r: 10 + 10 * r, 1 + 5 * c: 5 + 5 * c] = 1.0
        if layout == "flat":
            x = x.reshape(n, 784)
        return x, y.astype(np.int64)

    return make(400), make(200)


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(recipes, "load_images", _fake_images)


@pytest.mark.parametrize("recipe", ["mlp-mnist", "cnn-mnist", "cnn-fashion"])
def test_train_save_and_evaluate_round_trip(fake_data, tmp_path, capsys, recipe):
    path = tmp_path / "model.cr"
    assert cli.main(["train", recipe, "--epochs", "3", "--batch-size", "32", "--verbose", "0",
                     "--save", str(path)]) == 0
    out = capsys.readouterr().out
    trained = float(out.split("test accuracy: ")[1].split()[0])
    assert trained > 0.5                                  # chance is 0.1
    assert path.exists()

    assert cli.main(["evaluate", str(path), "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    assert float(out.split("test accuracy: ")[1].split()[0]) == pytest.approx(trained, abs=1e-6)


def test_recipes_lists_every_recipe(capsys):
    assert cli.main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in recipes.RECIPES:
        assert name in out


def test_unknown_recipe_is_a_clear_error(capsys):
    assert cli.main(["train", "no-such-recipe"]) == 2
    err = capsys.readouterr().err
    assert "unknown recipe 'no-such-recipe'" in err and "mlp-mnist" in err


def test_evaluate_a_corrupt_file_is_a_clear_error(fake_data, tmp_path, capsys):
    path = tmp_path / "broken.cr"
    path.write_bytes(b"not a model")
    assert cli.main(["evaluate", str(path)]) == 2
    assert "chainrule: error:" in capsys.readouterr().err


def test_evaluate_a_model_with_the_wrong_input_size_is_a_clear_error(fake_data, tmp_path, capsys):
    import chainrule as cr

    model = cr.Sequential([cr.layers.Input(shape=(100,)), cr.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "m.cr")
    assert cli.main(["evaluate", str(tmp_path / "m.cr")]) == 2
    err = capsys.readouterr().err
    assert "(100,)" in err and "(28, 28, 1)" in err
