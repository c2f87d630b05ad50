"""``cr.utils``: to_categorical, normalize, set_random_seed, pad_sequences (Keras's keras.utils)."""
from __future__ import annotations

import random

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils import normalize, pad_sequences, set_random_seed, to_categorical


def test_to_categorical():
    out = to_categorical([0, 2, 1])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1]])
    assert to_categorical(np.array([[1], [3]]), num_classes=5).shape == (2, 5)    # Keras drops a trailing 1
    assert to_categorical(np.array([[0, 1], [1, 0]]), 2).shape == (2, 2, 2)
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical(cr.tensor([1, 0]), 2), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"to_categorical: labels must lie in \[0, 3\)"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="whole numbers"):
        to_categorical([0.5])


def test_normalize_arrays_and_tensors():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0, 0], [2 ** -0.5, -(2 ** -0.5)]])
    np.testing.assert_allclose(normalize(x, order=1), [[3 / 7, 4 / 7], [0, 0], [0.5, -0.5]])
    np.testing.assert_allclose(normalize(x, axis=0)[:, 0], np.array([3, 0, 1]) / np.sqrt(10))
    cr.set_floatx("float64")
    t = cr.tensor([[3.0, 4.0], [0.0, 0.0]], requires_grad=True)
    y = normalize(t)
    np.testing.assert_allclose(y.numpy(), [[0.6, 0.8], [0, 0]])
    assert np.all(np.isfinite(cr.grad(y.sum(), [t])[0].numpy()))
    # d(x/||x||)/dx = (I - u u^T)/||x||: gradcheck on a row away from zero.
    assert cr.gradcheck(lambda v: normalize(v), [cr.tensor([[1.0, 2.0, -0.5]], requires_grad=True)])
    with pytest.raises(ValueError, match="normalize: order"):
        normalize(x, order=0)


def test_set_random_seed_seeds_every_generator():
    set_random_seed(5)
    a = (random.random(), np.random.rand(), cr.random.rand().item())
    set_random_seed(5)
    assert a == (random.random(), np.random.rand(), cr.random.rand().item())
    with pytest.raises(ValueError, match="set_random_seed"):
        set_random_seed(-2)


def test_pad_sequences_as_keras():
    seqs = [[1, 2, 3], [4], [5, 6]]
    np.testing.assert_array_equal(pad_sequences(seqs), [[1, 2, 3], [0, 0, 4], [0, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, padding="post"), [[1, 2, 3], [4, 0, 0], [5, 6, 0]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[2, 3], [0, 4], [5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, truncating="post"), [[1, 2], [0, 4], [5, 6]])
    np.testing.assert_array_equal(pad_sequences([[1], []], value=-1), [[1], [-1]])
    assert pad_sequences(seqs).dtype == np.int32
    f = pad_sequences([[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0]]], dtype="float32")
    assert f.shape == (2, 2, 2) and f[0, 0].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="pad_sequences: padding"):
        pad_sequences(seqs, padding="middle")
    with pytest.raises(ValueError, match="sequence 1 is not a sequence"):
        pad_sequences([[1], 2])
