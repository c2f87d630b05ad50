"""Text generation (chainrule/generation.py) and the `chainrule generate` command."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L
from chainrule.data.text import CharVocabulary
from chainrule.generation import generate_ids, generate_text


def _char_model(vocab_size=7):
    cr.manual_seed(0)
    model = cr.Sequential([L.Input(shape=(None,), dtype="int64"), L.Embedding(vocab_size, 5),
                           L.LSTM(8, return_sequences=True), L.Dropout(0.1), L.GRU(6, return_sequences=True),
                           L.Dense(vocab_size)])
    for w in model.weights:  # larger weights: a peaked next-character distribution
        w.data[...] = np.random.default_rng(1).normal(size=w.shape) * 0.8
    return model


def test_stepwise_generation_equals_rerunning_the_context():
    model = _char_model()
    prompt = np.array([1, 2, 3])
    fast = generate_ids(model, prompt, 12, temperature=0)  # recurrent layers stepped one id at a time
    ids = list(prompt)
    for _ in range(12):  # the slow way: the whole context again for each id
        logits = model(np.array([ids]), training=False).data[0, -1]
        ids.append(int(logits.argmax()))
    np.testing.assert_array_equal(fast, ids[3:])
    assert all(not l.stateful and l.states is None for l in model.layers if isinstance(l, L.RNN))


def test_generate_text_with_temperature_and_top_k_is_reproducible():
    model = _char_model()
    vocab = CharVocabulary("abcdefg")
    a = generate_text(model, vocab, "abc", length=30, temperature=0.8, top_k=3, seed=5)
    b = generate_text(model, vocab, "abc", length=30, temperature=0.8, top_k=3, seed=5)
    assert a == b and a.startswith("abc") and len(a) == 33
    with pytest.raises(ValueError, match="not in the vocabulary"):
        generate_text(model, vocab, "xyz", length=3)


def test_a_models_own_generate_is_used():
    class WithGenerate(cr.Model):
        def call(self, x, training=False):
            raise AssertionError("generate() should be used instead")

        def generate(self, ids, max_new_tokens, temperature=1.0, top_k=None, rng=None):
            return np.concatenate([ids, np.full((1, max_new_tokens), 4)], axis=1)

    out = generate_ids(WithGenerate(), np.array([1, 2]), 5)
    np.testing.assert_array_equal(out, [4] * 5)


def test_non_recurrent_model_reruns_the_context():
    cr.manual_seed(0)
    model = cr.Sequential([L.Input(shape=(None,), dtype="int64"), L.Embedding(7, 4),
                           L.Conv1D(7, 2, padding="causal") if hasattr(L, "Conv1D") else L.Dense(7)])
    out = generate_ids(model, np.array([1, 2, 3]), 4, temperature=0)
    assert out.shape == (4,) and out.dtype == np.int64


def test_cli_generate(tmp_path, capsys):
    from chainrule.cli import main

    model = _char_model()
    path = str(tmp_path / "char.keras")
    model.save(path)
    CharVocabulary("abcdefg").save(path + ".vocab.json")
    assert main(["generate", path, "--prompt", "abc", "--length", "20", "--temperature", "0.8", "--seed", "1"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("abc") and len(out) == 23
    (tmp_path / "other.keras").write_bytes(open(path, "rb").read())
    assert main(["generate", str(tmp_path / "other.keras")]) == 2
    assert "vocab.json" in capsys.readouterr().err


def test_cli_train_char_recipe_then_generate(tmp_path, capsys, monkeypatch):
    from chainrule import char_lm
    from chainrule.cli import main

    text = "to be or not to be, that is the question. " * 20
    vocab = CharVocabulary.from_text(text)
    ids = vocab.encode(text)
    monkeypatch.setattr(char_lm, "load_text", lambda: (vocab, ids[:600], ids[600:]))
    tiny = char_lm.CharRecipe("tiny-shakespeare-test", "a tiny test recipe", cell="gru", units=8, embedding_dim=4,
                              sequence_length=10, batch_size=4, steps=3, eval_every=2)
    monkeypatch.setitem(char_lm.RECIPES, tiny.name, tiny)
    from chainrule import recipes

    monkeypatch.setitem(recipes.RECIPES, tiny.name,
                        recipes.Recipe(tiny.name, tiny.description, train=recipes._train_char_model))
    path = str(tmp_path / "tiny.keras")
    assert main(["train", tiny.name, "--save", path, "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "validation loss" in out and "step     2" in out and "step     3" in out
    assert main(["generate", path, "--prompt", "to be", "--length", "15", "--seed", "2"]) == 0
    sample = capsys.readouterr().out.strip()
    assert sample.startswith("to be") and len(sample) == 20
    assert main(["train", tiny.name, "--epochs", "2"]) == 2  # a text recipe counts steps, not epochs
