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


@pytest.mark.parametrize("recipe", ["texts-mlp", "texts-cnn", "fashion-mnist-cnn"])
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
    assert "unknown recipe 'no-such-recipe'" in err and "texts-mlp" in err


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


# ------------------------------------------------------------------------------- help and names
def test_train_help_documents_every_option_with_its_default_and_lists_the_recipes(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    options = out.split("options:")[1].split("recipes (name")[0]
    for option in ("--epochs", "--batch-size", "--seed", "--verbose", "--save"):
        block = options.split(option, 1)[1].split("\n  --")[0]
        assert "(default: " in " ".join(block.split()), option
    listing = out.split("recipes (name")[1]
    for name, recipe in recipes.RECIPES.items():
        line = next(l for l in listing.splitlines() if l.strip().startswith(name + " "))
        assert recipe.description in line
        assert recipe.train is not None or f"{recipe.epochs} epochs" in line  # own flows list no epochs
    for old in recipes.DEPRECATED_NAMES:
        assert old in " ".join(listing.split())


def test_every_command_documents_its_options(capsys):
    for command in ("evaluate", "recipes"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = capsys.readouterr().out
        for line in out.split("options:")[1].splitlines():
            if line.startswith("  --"):
                assert "(default: " in line, line


def test_recipe_names_say_what_the_model_is():
    assert set(recipes.RECIPES) >= {"texts-mlp", "texts-cnn", "keras-mnist-mlp", "keras-mnist-cnn",
                                    "fashion-mnist-cnn"}
    for name, recipe in recipes.RECIPES.items():
        assert "\n" not in recipe.description
        if name.startswith("texts-"):
            assert recipe.description.startswith("the texts' ")
        if name.startswith("keras-"):
            assert recipe.description.startswith("Keras's ")


def test_old_recipe_names_still_work_with_a_notice(fake_data, capsys):
    assert cli.main(["train", "mlp-mnist", "--epochs", "1", "--verbose", "0"]) == 0
    captured = capsys.readouterr()
    assert "'mlp-mnist' is now called 'texts-mlp'" in captured.err and "deprecated" in captured.err
    assert "recipe texts-mlp:" in captured.out
    for old, new in recipes.DEPRECATED_NAMES.items():
        assert recipes.get(old, warn=False) is recipes.RECIPES[new]


def test_a_recipe_may_bring_its_own_training_flow(monkeypatch, capsys):
    seen = {}

    def train(recipe, args):
        seen.update(recipe=recipe.name, epochs=args.epochs, verbose=args.verbose, seed=args.seed)
        print("sampled text")
        return 0

    monkeypatch.setattr(recipes, "RECIPES", dict(recipes.RECIPES))
    recipes.register(recipes.Recipe("toy-language-model", "a toy with its own loop", train=train, epochs=3))
    assert cli.main(["train", "toy-language-model", "--epochs", "2"]) == 0
    assert seen == {"recipe": "toy-language-model", "epochs": 2, "verbose": "auto", "seed": 0}
    assert "sampled text" in capsys.readouterr().out
    with pytest.raises(ValueError, match="exists already"):
        recipes.register(recipes.Recipe("toy-language-model", "again", train=train))
    with pytest.raises(ValueError, match="needs build= and dataset="):
        recipes.register(recipes.Recipe("no-flow", "neither a model nor a train function"))


@pytest.mark.parametrize("tty", [True, False])
def test_cli_picks_the_progress_display_by_itself(fake_data, monkeypatch, tty):
    import io
    import sys

    class Stream(io.StringIO):
        def isatty(self):
            return tty

    stream = Stream()
    monkeypatch.setattr(sys, "stdout", stream)
    assert cli.main(["train", "texts-mlp", "--epochs", "1", "--batch-size", "100"]) == 0
    monkeypatch.undo()
    epoch = stream.getvalue().split("Epoch 1/1\n")[1].split("trained in")[0]
    if tty:
        assert epoch.startswith("\r") and "4/4 [==============================]" in epoch
    else:
        assert epoch.startswith("4/4 - ") and "\r" not in epoch and "[" not in epoch


def test_bad_option_values_are_refused(capsys):
    for argv in (["train", "texts-mlp", "--epochs", "0"], ["train", "texts-mlp", "--verbose", "3"],
                 ["train", "texts-mlp", "--seed", "-1"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        assert "must be" in capsys.readouterr().err
