"""The merge layers against PyTorch (values and gradients, float32 and float64), Keras's broadcasting
and shape rules, compute_output_shape with unknown sizes, masks, configs, saving inside a model,
and bad input."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.layers as L
from layer_differential import DTYPES, compare
from layer_differential import rng as _rng
from layer_differential import roundtrip as _roundtrip



# ------------------------------------------------------------------------------------------ elementwise
ELEMENTWISE = {
    "Add": lambda t, xs: xs[0] + xs[1] + xs[2],
    "Multiply": lambda t, xs: xs[0] * xs[1] * xs[2],
    "Average": lambda t, xs: (xs[0] + xs[1] + xs[2]) / 3,
    "Maximum": lambda t, xs: t.maximum(t.maximum(xs[0], xs[1]), xs[2]),
    "Minimum": lambda t, xs: t.minimum(t.minimum(xs[0], xs[1]), xs[2]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_merges_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    r = _rng(1)
    arrays = [r.standard_normal((4, 3, 5)) for _ in range(3)]
    layer = getattr(L, name)()
    compare(lambda xs: layer(xs), lambda ts: ELEMENTWISE[name](torch, ts), arrays, dtype)
    assert layer.compute_output_shape([(None, 3, 5)] * 3) == (None, 3, 5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_subtract_matches_torch_and_takes_exactly_two_inputs(dtype):
    pytest.importorskip("torch")
    r = _rng(2)
    layer = L.Subtract()
    compare(lambda xs: layer(xs), lambda ts: ts[0] - ts[1], [r.standard_normal((3, 4)), r.standard_normal((3, 4))],
            dtype)
    with pytest.raises(ValueError, match=r"subtract.*exactly 2 inputs.*got 3"):
        layer([np.ones((3, 4))] * 3)
    with pytest.raises(ValueError, match="exactly 2"):
        L.Subtract().compute_output_shape([(None, 4)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_of_lower_rank_broadcast_after_the_batch_axis(dtype):
    """Keras inserts size-1 axes after the batch axis: (batch, 5) + (batch, 3, 5) -> (batch, 3, 5),
    and size-1 axes broadcast; the gradient of the smaller input is summed over the broadcast axes."""
    pytest.importorskip("torch")
    r = _rng(3)
    a, b, c = r.standard_normal((2, 5)), r.standard_normal((2, 3, 5)), r.standard_normal((2, 3, 1))
    layer = L.Add()
    y = compare(lambda xs: layer(xs), lambda ts: ts[0][:, None, :] + ts[1] + ts[2], [a, b, c], dtype)
    assert y.shape == (2, 3, 5)
    assert layer.compute_output_shape([(None, 5), (None, 3, 5), (None, 3, 1)]) == (None, 3, 5)
    assert L.Multiply().compute_output_shape([(None, None, 5), (None, 4, 1)]) == (None, 4, 5)
    assert L.Maximum().compute_output_shape([(8, 1, 5), (None, None, 5)]) == (8, None, 5)


def test_incompatible_shapes_and_batch_sizes_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"add_?\d*: inputs with incompatible shapes \[\(2, 3\), \(2, 4\)\]"):
        L.Add()([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match=r"different batch sizes.*\(2, 3\).*\(5, 3\)"):
        L.Average()([np.ones((2, 3)), np.ones((5, 3))])
    with pytest.raises(ValueError, match=r"incompatible shapes"):
        L.Maximum().compute_output_shape([(None, 3), (None, 4)])
    with pytest.raises(ValueError, match="list of inputs"):
        L.Add()(np.ones((2, 3)))
    with pytest.raises(ValueError, match="list of inputs"):
        L.Add().compute_output_shape((None, 3))


def test_masks_are_combined_as_keras_does():
    a = cr.tensor(np.array([[[1.0], [5.0], [3.0]]]))
    b = cr.tensor(np.array([[[4.0], [2.0], [6.0]]]))
    a._keras_mask = np.array([[True, False, True]])
    b._keras_mask = np.array([[True, True, False]])
    # Maximum/Minimum: a masked step of one input takes the other's value
    np.testing.assert_array_equal(L.Maximum()([a, b]).numpy()[0, :, 0], [4.0, 2.0, 3.0])
    np.testing.assert_array_equal(L.Minimum()([a, b]).numpy()[0, :, 0], [1.0, 2.0, 3.0])
    # Multiply: masked steps count as 1
    np.testing.assert_array_equal(L.Multiply()([a, b]).numpy()[0, :, 0], [4.0, 2.0, 3.0])
    out = L.Add()([a, b])
    np.testing.assert_array_equal(out._keras_mask, [[True, True, True]])
    b._keras_mask = None  # one input without a mask: no output mask
    assert getattr(L.Add()([a, b]), "_keras_mask", None) is None
    # Concatenate on the feature axis: a step is kept if any input keeps it
    b._keras_mask = np.array([[False, False, True]])
    a._keras_mask = np.array([[True, False, False]])
    np.testing.assert_array_equal(L.Concatenate()([a, b])._keras_mask, [[True, False, True]])


# ------------------------------------------------------------------------------------------ Concatenate
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate_matches_torch_cat(axis, dtype):
    torch = pytest.importorskip("torch")
    r = _rng(4)
    shapes = {-1: [(2, 3, 4), (2, 3, 1), (2, 3, 2)], 1: [(2, 1, 4), (2, 3, 4)], 2: [(2, 3, 4), (2, 3, 2)]}[axis]
    layer = L.Concatenate(axis=axis)
    compare(lambda xs: layer(xs), lambda ts: torch.cat(ts, dim=axis), [r.standard_normal(s) for s in shapes], dtype)
    assert layer.compute_output_shape([(None,) + s[1:] for s in shapes]) == (None,) + tuple(
        np.concatenate([np.zeros(s) for s in shapes], axis=axis).shape[1:])


def test_concatenate_shapes_and_errors():
    layer = L.Concatenate()
    assert layer.compute_output_shape([(None, 3, 4), (None, 3, None)]) == (None, 3, None)
    assert layer.compute_output_shape([(None, None, 4), (None, 3, 2)]) == (None, 3, 6)
    assert L.Concatenate(axis=1).compute_output_shape([(None, 2, 4), (None, 5, 4)]) == (None, 7, 4)
    with pytest.raises(ValueError, match=r"concatenate.*matching sizes except on the concatenation axis.*\(2, 4, 3\)"):
        layer([np.ones((2, 3, 3)), np.ones((2, 4, 3))])
    with pytest.raises(ValueError, match="one rank"):
        layer.compute_output_shape([(None, 3), (None, 3, 3)])
    with pytest.raises(ValueError, match="not the batch axis"):
        L.Concatenate(axis=0).compute_output_shape([(None, 3), (None, 3)])
    with pytest.raises(TypeError, match="axis must be an int"):
        L.Concatenate(axis="1")
    assert _roundtrip(L.Concatenate(axis=1)).axis == 1


# ------------------------------------------------------------------------------------------ Dot
DOT_CASES = [  # (shape1, shape2, axes, einsum of the expected product)
    ((3, 4), (3, 4), 1, "bi,bi->b"),
    ((3, 4), (3, 4), -1, "bi,bi->b"),
    ((3, 5, 4), (3, 6, 4), 2, "bik,bjk->bij"),
    ((3, 5, 4), (3, 4, 6), (2, 1), "bik,bkj->bij"),
    ((3, 4, 5), (3, 6, 4), (1, 2), "bki,bjk->bij"),
    ((3, 4), (3, 6, 4), (1, 2), "bk,bjk->bj"),
    ((3, 2, 4, 5), (3, 4, 6), (2, 1), "bpki,bkj->bpij"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("s1,s2,axes,spec", DOT_CASES)
def test_dot_matches_torch(s1, s2, axes, spec, normalize, dtype):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    r = _rng(5)
    layer = L.Dot(axes=axes, normalize=normalize)
    ax = (axes, axes) if isinstance(axes, int) else axes

    def reference(ts):
        a, b = ts
        if normalize:
            a, b = TF.normalize(a, dim=ax[0], eps=1e-7), TF.normalize(b, dim=ax[1], eps=1e-7)
        out = torch.einsum(spec, a, b)
        return out[:, None] if out.ndim == 1 else out  # Keras: a scalar per sample is (batch, 1)

    y = compare(lambda xs: layer(xs), reference, [r.standard_normal(s1), r.standard_normal(s2)], dtype)
    assert layer.compute_output_shape([(None,) + s1[1:], (None,) + s2[1:]]) == (None,) + tuple(y.shape[1:])


def test_dot_shapes_errors_and_config():
    assert L.Dot(axes=(1, 2)).compute_output_shape([(None, None, 5), (None, 7, None)]) == (None, 5, 7)
    with pytest.raises(ValueError, match=r"dot.*contracts axis 1 of size 4 with axis 1 of size 5.*\(2, 4\).*\(2, 5\)"):
        L.Dot(axes=1)([np.ones((2, 4)), np.ones((2, 5))])
    with pytest.raises(ValueError, match="not the batch axis"):
        L.Dot(axes=0)([np.ones((2, 4)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        L.Dot(axes=1)([np.ones((2, 4))] * 3)
    with pytest.raises(ValueError, match="two ints"):
        L.Dot(axes=(1, 2, 3))
    with pytest.raises(TypeError, match="axes must be"):
        L.Dot(axes="last")
    clone = _roundtrip(L.Dot(axes=[1, 2], normalize=True))
    assert clone.axes == [1, 2] and clone.normalize is True


@pytest.mark.parametrize("name", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
def test_elementwise_config_round_trip(name):
    layer = getattr(L, name)(name=f"my_{name.lower()}")
    assert _roundtrip(layer).name == f"my_{name.lower()}"


# ------------------------------------------------------------------------------------------ in a model
class MergeNet(cr.Model):
    """Two Dense branches joined by every merge layer; defined at module level so load_model imports it."""

    def __init__(self, units=4):
        super().__init__()
        self.a = L.Dense(units, activation="tanh")
        self.b = L.Dense(units)
        self.merges = [L.Add(), L.Subtract(), L.Multiply(), L.Average(), L.Maximum(), L.Minimum()]
        self.concat = L.Concatenate()
        self.dot = L.Dot(axes=1, normalize=True)
        self.head = L.Dense(1)

    def call(self, x, training=False):
        a, b = self.a(x), self.b(x)
        parts = [m([a, b]) for m in self.merges] + [self.dot([a, b])]
        return self.head(self.concat(parts))


def test_merge_layers_train_save_and_load_inside_a_model(tmp_path):
    r = _rng(6)
    x, y = r.standard_normal((32, 3)).astype("float32"), r.standard_normal((32, 1)).astype("float32")
    model = MergeNet(units=4)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.head.kernel.shape == (6 * 4 + 1, 1)
    model.save(tmp_path / "merge.cr")
    loaded = cr.models.load_model(tmp_path / "merge.cr")
    assert type(loaded) is MergeNet
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_functional_forms_build_and_call_the_layer():
    r = _rng(7)
    a, b = r.standard_normal((2, 3)).astype("float32"), r.standard_normal((2, 3)).astype("float32")
    np.testing.assert_allclose(L.add([a, b]).numpy(), a + b, rtol=1e-6)
    np.testing.assert_allclose(L.subtract([a, b]).numpy(), a - b, rtol=1e-6)
    np.testing.assert_allclose(L.multiply([a, b]).numpy(), a * b, rtol=1e-6)
    np.testing.assert_allclose(L.average([a, b]).numpy(), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(L.maximum([a, b]).numpy(), np.maximum(a, b))
    np.testing.assert_allclose(L.minimum([a, b]).numpy(), np.minimum(a, b))
    np.testing.assert_allclose(L.concatenate([a, b], axis=1).numpy(), np.concatenate([a, b], 1))
    np.testing.assert_allclose(L.dot([a, b], axes=1).numpy(), (a * b).sum(1, keepdims=True), rtol=1e-5)
