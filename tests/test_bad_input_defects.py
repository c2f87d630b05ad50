"""Bad input caught where it enters: conv/pool windows larger than their input, ragged data."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def test_sequential_with_a_kernel_larger_than_its_declared_input_fails_at_construction():
    with pytest.raises(ValueError) as info:
        cr.Sequential([layers.Input(shape=(2, 2, 1)), layers.Conv2D(4, (3, 3), name="too_big"), layers.Flatten(),
                       layers.Dense(3)])
    msg = str(info.value)
    assert "too_big" in msg and "Conv2D" in msg and "kernel_size=(3, 3)" in msg and "(2, 2)" in msg
    with pytest.raises(ValueError, match=r"conv_late: input spatial size \(1, 1\).*Conv2D with kernel_size=\(3, 3\)"):
        cr.Sequential([layers.Conv2D(4, 3, input_shape=(12, 12, 1)), layers.MaxPooling2D(2),     # 10 -> 5
                       layers.Conv2D(4, 3), layers.MaxPooling2D(2),                              # 3 -> 1
                       layers.Conv2D(4, 3, name="conv_late")])


def test_pooling_window_larger_than_the_input_fails_at_construction():
    with pytest.raises(ValueError, match=r"pool: input spatial size \(3, 3\).*MaxPooling2D with pool_size=\(4, 4\)"):
        cr.Sequential([layers.Input(shape=(3, 3, 1)), layers.MaxPooling2D(4, name="pool")])
    with pytest.raises(ValueError, match=r"AveragePooling1D with pool_size=\(5,\)"):
        layers.AveragePooling1D(5)(cr.ones(2, 3, 1))


def test_window_checks_leave_fitting_and_unknown_sizes_alone():
    m = cr.Sequential([layers.Input(shape=(3, 3, 1)), layers.Conv2D(2, 3), layers.MaxPooling2D(1)])
    assert m.output_shape == (None, 1, 1, 2)
    assert cr.Sequential([layers.Input(shape=(None, None, 1)), layers.Conv2D(2, 3)]).output_shape == \
        (None, None, None, 2)
    assert layers.Conv2D(2, 5, padding="same")(cr.ones(1, 2, 2, 1)).shape == (1, 2, 2, 2)
    assert layers.MaxPooling2D(4, padding="same")(cr.ones(1, 3, 3, 1)).shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="dilation_rate=\\(3,\\)"):
        layers.Conv1D(2, 3, dilation_rate=3)(cr.ones(1, 6, 1))       # reach (3 - 1) * 3 + 1 = 7 > 6


def test_ragged_data_names_the_entry_point():
    for make in (lambda: cr.tensor([[1, 2], [3]]), lambda: cr.Tensor([[1.0], [2.0, 3.0]]),
                 lambda: cr.array([[1, 2], [3]], dtype="float64")):
        with pytest.raises(ValueError, match=r"^tensor: ragged data: .*lengths 1, 2 at depth 2"):
            make()
    with pytest.raises(ValueError, match=r"^tensor: ragged data: .*a mix of numbers and lists at depth 2"):
        cr.tensor([1, [2, 3]])
    with pytest.raises(ValueError, match=r"^my_dense: ragged data"):
        layers.Dense(2, name="my_dense")([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match=r"^sequential_of_one: ragged data"):
        cr.Sequential([layers.Input(shape=(2,)), layers.Dense(1)], name="sequential_of_one")([[1.0, 2.0], [3.0]])
    # A rectangular list of numbers is one input, as an array would be.
    assert layers.Dense(3)([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 3)
    model = cr.Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"^fit: x is ragged: .*lengths 1, 2 at depth 2"):
        model.fit([[1.0, 2.0], [3.0]], [1.0, 2.0], verbose=0)
    with pytest.raises(ValueError, match=r"^fit: y is ragged"):
        model.fit(np.ones((2, 2)), [[1.0], [2.0, 3.0]], verbose=0)
    assert cr.backend.ragged_detail([[1, 2], [3, 4]]) is None
