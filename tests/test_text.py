"""Text helpers: the character vocabulary, training windows and sampling."""
import numpy as np
import pytest

from chainrule.data.text import (
    CharVocabulary, char_windows, random_windows, sample_logits, split_text, vocabulary_path,
)


def test_vocabulary_round_trip(tmp_path):
    vocab = CharVocabulary.from_text("hello world")
    assert vocab.chars == sorted(set("hello world"))
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "hello"
    path = tmp_path / "m.vocab.json"
    vocab.save(path)
    assert CharVocabulary.load(path).chars == vocab.chars
    assert vocabulary_path("m.safetensors") == "m.safetensors.vocab.json"


def test_vocabulary_errors():
    vocab = CharVocabulary.from_text("abc")
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        vocab.encode("abz")
    with pytest.raises(ValueError, match="ids must lie"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="distinct"):
        CharVocabulary("aa")


def test_split_and_windows():
    train, val = split_text("abcdefghij", 0.1)
    assert (train, val) == ("abcdefghi", "j")
    x, y = char_windows(np.arange(11), 5)
    np.testing.assert_array_equal(x, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(y, x + 1)
    x, y = char_windows(np.arange(8), 3, stride=2)
    np.testing.assert_array_equal(x[:, 0], [0, 2, 4])
    with pytest.raises(ValueError, match="too few"):
        char_windows(np.arange(3), 3)
    xb, yb = random_windows(np.arange(100), 10, 4, np.random.default_rng(0))
    assert xb.shape == (4, 10) and np.array_equal(yb, xb + 1)


def test_sample_logits_matches_the_softmax():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([0.1, 0.2, 0.7]))
    draws = sample_logits(np.tile(logits, (20000, 1)), rng=rng)
    freq = np.bincount(draws, minlength=3) / draws.size
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)
    # temperature 0.5 squares the probabilities (renormalized)
    draws = sample_logits(np.tile(logits, (20000, 1)), temperature=0.5, rng=rng)
    p = np.array([0.01, 0.04, 0.49]) / 0.54
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / draws.size, p, atol=0.015)
    # top-k = 1 and temperature 0 are greedy
    assert np.all(sample_logits(np.tile(logits, (50, 1)), top_k=1, rng=rng) == 2)
    assert sample_logits(logits, temperature=0) == 2
    draws = sample_logits(np.tile(logits, (2000, 1)), top_k=2, rng=rng)
    assert set(np.unique(draws)) <= {1, 2}
    with pytest.raises(ValueError, match="top_k"):
        sample_logits(logits, top_k=0)
