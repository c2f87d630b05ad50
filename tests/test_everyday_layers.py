"""The everyday layers against PyTorch (or a NumPy reference where PyTorch has no equivalent): values
and gradients of the input and of every weight, float32 and float64; Keras's defaults; training versus
inference of the noise layers (statistics with fixed seeds); compute_output_shape with unknown sizes;
configs; and bad input. Saving and loading inside models is in test_everyday_layers_saving.py."""
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.layers as L
from layer_differential import DTYPES, close, compare
from layer_differential import rng as _rng
from layer_differential import roundtrip as _roundtrip



def _away_from(x, points, gap=0.05):
    """x with entries near the kinks ``points`` moved away (finite differences and ties are exact elsewhere)."""
    for p in points:
        near = np.abs(x - p) < gap
        x = np.where(near, p + np.sign(x - p + 1e-12) * gap, x)
    return x


def _cf(t):  # channels_last -> channels_first (torch's layout)
    return t.permute(0, t.ndim - 1, *range(1, t.ndim - 1))


def _cl(t):  # channels_first -> channels_last
    return t.permute(0, *range(2, t.ndim), 1)


# ------------------------------------------------------------------------------------------ activations
RELU_CASES = [  # (kwargs, torch reference)
    ({}, lambda T, x: T.relu(x)),
    ({"negative_slope": 0.1}, lambda T, x: T.nn.functional.leaky_relu(x, 0.1)),
    ({"max_value": 6.0}, lambda T, x: T.nn.functional.relu6(x)),
    ({"max_value": 1.5, "negative_slope": 0.2, "threshold": 0.5},
     lambda T, x: T.where(x > 0.5, x, T.zeros_like(x)).clamp(max=1.5) - 0.2 * T.relu(0.5 - x)),
    ({"threshold": 1.0}, lambda T, x: T.where(x > 1.0, x, T.zeros_like(x))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(RELU_CASES)))
def test_relu_matches_torch(case, dtype):
    torch = pytest.importorskip("torch")
    kwargs, ref = RELU_CASES[case]
    x = _away_from(_rng(1).standard_normal((4, 6)) * 3, [0.0, 0.5, 1.0, 1.5, 6.0])
    layer = L.ReLU(**kwargs)
    compare(lambda xs: layer(xs[0]), lambda ts: ref(torch, ts[0]), [x], dtype)
    assert _roundtrip(layer).get_config()["negative_slope"] == kwargs.get("negative_slope", 0.0)


def test_relu_keras_math_and_bad_arguments():
    x = np.array([[-2.0, 0.2, 0.7, 3.0]])
    y = L.ReLU(max_value=2.0, negative_slope=0.5, threshold=0.5)(x).numpy()
    np.testing.assert_allclose(y, [[0.5 * (-2.0 - 0.5), 0.5 * (0.2 - 0.5), 0.7, 2.0]], rtol=1e-6)
    for bad in (dict(max_value=-1), dict(negative_slope=-0.1), dict(threshold=None)):
        with pytest.raises(ValueError, match="ReLU"):
            L.ReLU(**bad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_and_elu_match_torch_with_keras_defaults(dtype):
    torch = pytest.importorskip("torch")
    x = _away_from(_rng(2).standard_normal((3, 5)) * 2, [0.0])
    layer = L.LeakyReLU()
    assert layer.negative_slope == 0.3  # Keras 3's layer default (the function's is 0.2)
    compare(lambda xs: layer(xs[0]), lambda ts: torch.nn.functional.leaky_relu(ts[0], 0.3), [x], dtype)
    elu = L.ELU(alpha=0.7)
    compare(lambda xs: elu(xs[0]), lambda ts: torch.nn.functional.elu(ts[0], 0.7), [x], dtype)
    assert L.ELU().alpha == 1.0 and _roundtrip(elu).alpha == 0.7
    with pytest.warns(UserWarning, match="deprecated"):
        assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1
    with pytest.raises(ValueError, match="LeakyReLU: negative_slope"):
        L.LeakyReLU(-1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_per_channel_matches_torch_prelu(dtype):
    torch = pytest.importorskip("torch")
    cr.set_floatx(dtype)
    r = _rng(3)
    x = _away_from(r.standard_normal((2, 3, 4, 5)), [0.0])
    layer = L.PReLU(shared_axes=[1, 2])
    layer(x)
    assert [w.shape for w in layer.weights] == [(1, 1, 5)] and np.all(layer.alpha.numpy() == 0)  # Keras: zeros
    alpha = r.uniform(0.05, 0.5, (1, 1, 5))
    layer.set_weights([alpha])
    compare(lambda xs: layer(xs[0]), lambda ts, a: _cl(torch.nn.functional.prelu(_cf(ts[0]), a)), [x], dtype,
            weights=layer.weights, torch_weights=[alpha.reshape(5)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_unshared_alpha_matches_the_formula(dtype):
    torch = pytest.importorskip("torch")
    cr.set_floatx(dtype)
    r = _rng(4)
    x = _away_from(r.standard_normal((3, 4, 2)), [0.0])
    layer = L.PReLU(alpha_initializer="ones")
    layer(x)
    alpha = r.uniform(0.1, 0.9, (4, 2))
    layer.set_weights([alpha])
    compare(lambda xs: layer(xs[0]), lambda ts, a: torch.relu(ts[0]) - a * torch.relu(-ts[0]), [x], dtype,
            weights=layer.weights, torch_weights=[alpha])
    assert layer.count_params() == 8
    with pytest.raises(ValueError, match=r"built for samples of shape \(4, 2\).*\(3, 5, 2\)"):
        layer(np.ones((3, 5, 2)))
    with pytest.raises(ValueError, match="shared_axes"):
        L.PReLU(shared_axes=[0])
    assert _roundtrip(L.PReLU(shared_axes=[1])).shared_axes == [1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_softmax_matches_torch(axis, dtype):
    torch = pytest.importorskip("torch")
    x = _rng(5).standard_normal((2, 3, 4)) * 2
    layer = L.Softmax(axis=axis)

    def ref(ts):
        if isinstance(axis, list):
            return torch.exp(ts[0] - torch.logsumexp(ts[0], dim=tuple(axis), keepdim=True))
        return torch.softmax(ts[0], dim=axis)

    compare(lambda xs: layer(xs[0]), ref, [x], dtype)
    assert _roundtrip(layer).axis == axis


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_mask_as_keras(dtype):
    """Masked entries get no probability (and no gradient); a float mask is read as mask > 0.5."""
    torch = pytest.importorskip("torch")
    r = _rng(6)
    x = r.standard_normal((2, 3, 4))
    mask = r.random((2, 1, 4)) > 0.3
    mask[..., 0] = True
    layer = L.Softmax()

    def ref(ts):
        m = torch.tensor(mask)
        return torch.softmax(ts[0].masked_fill(~m, -1e9), dim=-1).masked_fill(~m, 0.0)

    y = compare(lambda xs: layer(xs[0], mask=mask), ref, [x], dtype)
    np.testing.assert_allclose(y.numpy().sum(-1), 1.0, rtol=1e-6)
    cr.set_floatx(dtype)
    close(layer(cr.tensor(x), mask=mask.astype("float32")).numpy(), y.numpy(), dtype)
    with pytest.raises(ValueError, match=r"mask must broadcast.*\(2, 3, 4\).*\(2, 3, 5\)"):
        layer(x, mask=np.ones((2, 3, 5), bool))


# ------------------------------------------------------------------------------------------ reshaping
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("rank,size,interpolation", [(1, 3, "nearest"), (2, (2, 3), "nearest"), (2, (2, 3), "bilinear"),
                                                      (2, 2, "bilinear"), (3, (1, 2, 2), "nearest")])
def test_upsampling_matches_torch_interpolate(rank, size, interpolation, channels_first, dtype):
    torch = pytest.importorskip("torch")
    if rank == 1 and channels_first:
        pytest.skip("UpSampling1D has no data_format (Keras)")
    shape = (2,) + (3, 4, 2)[:rank] + (3,)
    x = _rng(7).standard_normal(shape)
    kwargs = {} if rank == 1 else {"data_format": "channels_first" if channels_first else "channels_last"}
    if rank == 2:
        kwargs["interpolation"] = interpolation
    layer = getattr(L, f"UpSampling{rank}D")(size, **kwargs)
    if channels_first:
        x = np.moveaxis(x, -1, 1)
    factors = (size,) * rank if isinstance(size, int) else size
    mode = {"nearest": "nearest", "bilinear": "bilinear"}[interpolation]
    extra = {} if mode == "nearest" else {"align_corners": False}

    def ref(ts):
        t = ts[0] if channels_first else _cf(ts[0])
        y = torch.nn.functional.interpolate(t, scale_factor=factors, mode=mode, **extra)
        return y if channels_first else _cl(y)

    y = compare(lambda xs: layer(xs[0]), ref, [x], dtype)
    unknown = (None, None) + tuple(x.shape[2:])
    got = layer.compute_output_shape(unknown)
    assert got[0] is None and got[1] is None and got[2:] == tuple(y.shape[2:])
    _roundtrip(layer)


def test_upsampling_defaults_and_errors():
    assert L.UpSampling1D().size == (2,) and L.UpSampling2D().size == (2, 2) and L.UpSampling3D().size == (2, 2, 2)
    assert L.UpSampling2D().interpolation == "nearest" and L.UpSampling2D().data_format == "channels_last"
    with pytest.raises(ValueError, match="interpolation must be 'nearest' or 'bilinear'"):
        L.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match=r"UpSampling2D expects inputs of rank 4.*\(2, 3, 4\)"):
        L.UpSampling2D()(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="size"):
        L.UpSampling2D(size=(2, 0))
    with pytest.raises(TypeError, match="data_format"):
        L.UpSampling1D(data_format="channels_first")  # Keras's UpSampling1D has none


PAD_CASES = [  # (layer, sample shape (channels last), numpy pad pairs of the spatial axes)
    (lambda f: L.ZeroPadding1D(2, data_format=f), (5, 3), [(2, 2)]),
    (lambda f: L.ZeroPadding1D((1, 3), data_format=f), (5, 3), [(1, 3)]),
    (lambda f: L.ZeroPadding2D(data_format=f), (3, 4, 2), [(1, 1), (1, 1)]),
    (lambda f: L.ZeroPadding2D((1, 2), data_format=f), (3, 4, 2), [(1, 1), (2, 2)]),
    (lambda f: L.ZeroPadding2D(((0, 1), (2, 3)), data_format=f), (3, 4, 2), [(0, 1), (2, 3)]),
    (lambda f: L.ZeroPadding3D(data_format=f), (2, 3, 2, 2), [(1, 1)] * 3),
    (lambda f: L.ZeroPadding3D(((0, 1), (1, 0), (2, 1)), data_format=f), (2, 3, 2, 2), [(0, 1), (1, 0), (2, 1)]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("case", range(len(PAD_CASES)))
def test_zero_padding_matches_torch_pad(case, channels_first, dtype):
    torch = pytest.importorskip("torch")
    make, sample, pairs = PAD_CASES[case]
    fmt = "channels_first" if channels_first else "channels_last"
    layer = make(fmt)
    x = _rng(8).standard_normal((2,) + sample)
    if channels_first:
        x = np.moveaxis(x, -1, 1)
    flat = [v for p in reversed(pairs) for v in p]  # torch: last axis first

    def ref(ts):
        t = ts[0] if channels_first else _cf(ts[0])
        y = torch.nn.functional.pad(t, flat)
        return y if channels_first else _cl(y)

    y = compare(lambda xs: layer(xs[0]), ref, [x], dtype)
    unknown = (None,) + tuple(x.shape[1:])
    assert layer.compute_output_shape(unknown) == (None,) + tuple(y.shape[1:])
    _roundtrip(layer)


CROP_CASES = [
    (lambda f: L.Cropping1D(), (6, 3), [(1, 1)]),
    (lambda f: L.Cropping1D((0, 2)), (6, 3), [(0, 2)]),
    (lambda f: L.Cropping2D(1, data_format=f), (5, 6, 2), [(1, 1), (1, 1)]),
    (lambda f: L.Cropping2D(((1, 0), (2, 1)), data_format=f), (5, 6, 2), [(1, 0), (2, 1)]),
    (lambda f: L.Cropping3D(data_format=f), (4, 3, 5, 2), [(1, 1)] * 3),
    (lambda f: L.Cropping3D((0, 1, 2), data_format=f), (4, 3, 5, 2), [(0, 0), (1, 1), (2, 2)]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("case", range(len(CROP_CASES)))
def test_cropping_matches_slicing(case, channels_first, dtype):
    pytest.importorskip("torch")
    make, sample, pairs = CROP_CASES[case]
    layer = make("channels_first" if channels_first else "channels_last")
    if channels_first and layer.rank == 1:
        pytest.skip("Cropping1D has no data_format (Keras)")
    x = _rng(9).standard_normal((2,) + sample)
    if channels_first:
        x = np.moveaxis(x, -1, 1)
    first = 2 if channels_first else 1
    index = [slice(None)] * x.ndim
    for i, (a, b) in enumerate(pairs):
        index[first + i] = slice(a, x.shape[first + i] - b)
    y = compare(lambda xs: layer(xs[0]), lambda ts: ts[0][tuple(index)], [x], dtype)
    assert layer.compute_output_shape((None,) + tuple(x.shape[1:])) == (None,) + tuple(y.shape[1:])
    unknown = list((None,) + tuple(x.shape[1:]))
    unknown[first] = None
    assert layer.compute_output_shape(tuple(unknown))[first] is None
    _roundtrip(layer)


def test_padding_and_cropping_defaults_and_errors():
    assert L.ZeroPadding1D().padding == (1, 1) and L.ZeroPadding2D().padding == ((1, 1), (1, 1))
    assert L.Cropping1D().cropping == (1, 1) and L.Cropping2D().cropping == ((0, 0), (0, 0))
    assert L.Cropping3D().cropping == ((1, 1), (1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"cropping2d.*leaves nothing.*\(None, 2, 6, 1\)"):
        L.Cropping2D(1).compute_output_shape((None, 2, 6, 1))
    with pytest.raises(ValueError, match="padding must be"):
        L.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="cropping must be"):
        L.Cropping1D(-1)
    with pytest.raises(ValueError, match=r"ZeroPadding3D expects inputs of rank 5"):
        L.ZeroPadding3D()(np.ones((2, 3, 3, 3)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_vector_and_permute_match_torch(dtype):
    pytest.importorskip("torch")
    r = _rng(10)
    rep = L.RepeatVector(3)
    compare(lambda xs: rep(xs[0]), lambda ts: ts[0][:, None, :].expand(-1, 3, -1), [r.standard_normal((2, 4))], dtype)
    assert rep.compute_output_shape((None, 4)) == (None, 3, 4) and _roundtrip(rep).n == 3
    perm = L.Permute((3, 1, 2))
    compare(lambda xs: perm(xs[0]), lambda ts: ts[0].permute(0, 3, 1, 2), [r.standard_normal((2, 3, 4, 5))], dtype)
    assert perm.compute_output_shape((None, None, 4, 5)) == (None, 5, None, 4)
    assert _roundtrip(perm).dims == (3, 1, 2)
    with pytest.raises(ValueError, match=r"RepeatVector expects inputs of shape \(batch, features\)"):
        rep(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="permutation of 1..2"):
        L.Permute((0, 1))
    with pytest.raises(ValueError, match=r"expects inputs of rank 4, got shape \(2, 3\)"):
        perm(np.ones((2, 3)))


# ------------------------------------------------------------------------------------------ noise and regularization
def test_gaussian_noise_training_versus_inference():
    x = np.zeros((400, 50), dtype="float32")
    layer = L.GaussianNoise(0.5, seed=1)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # inference: identity
    y = layer(x, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 0.5) < 0.01
    assert not np.array_equal(layer(x, training=True).numpy(), y)  # fresh noise each call
    again = L.GaussianNoise(0.5, seed=1)
    np.testing.assert_array_equal(again(x, training=True).numpy(), y)  # the seed reproduces the draws
    xt = cr.tensor(np.ones((3, 4)), requires_grad=True)
    layer(xt, training=True).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), 1.0)
    with pytest.raises(ValueError, match=r"stddev must be a number in \[0, 1\]"):
        L.GaussianNoise(2.0)
    assert _roundtrip(layer).stddev == 0.5


def test_gaussian_dropout_keeps_the_mean_and_has_dropout_variance():
    rate = 0.3
    x = np.full((500, 100), 2.0, dtype="float64")
    layer = L.GaussianDropout(rate, seed=2)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    y = layer(x, training=True).numpy()
    assert abs(y.mean() - 2.0) < 0.01  # E[y] = x
    assert abs(y.std() - 2.0 * np.sqrt(rate / (1 - rate))) < 0.01
    xt = cr.tensor(np.array([[1.0, -2.0, 3.0]]), requires_grad=True)
    out = L.GaussianDropout(0.5, seed=3)(xt, training=True)
    out.sum().backward()
    close(xt.grad.numpy(), out.numpy() / xt.numpy(), "float32")  # dL/dx = the multiplicative noise
    with pytest.raises(ValueError, match="rate"):
        L.GaussianDropout(1.5)
    assert _roundtrip(layer).rate == rate


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("channels_first", [False, True])
def test_spatial_dropout_drops_whole_channels(rank, channels_first):
    if rank == 1 and channels_first:
        pytest.skip("SpatialDropout1D is channels_last only (Keras)")
    rate = 0.4
    kwargs = {} if rank == 1 else {"data_format": "channels_first" if channels_first else "channels_last"}
    layer = getattr(L, f"SpatialDropout{rank}D")(rate, seed=4, **kwargs)
    spatial = (3, 2, 2)[:rank]
    shape = (200, 16) + spatial if channels_first else (200,) + spatial + (16,)
    x = np.ones(shape, dtype="float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)  # inference: identity
    xt = cr.tensor(x, requires_grad=True)
    y = layer(xt, training=True)
    a = np.moveaxis(y.numpy(), 1 if channels_first else -1, -1).reshape(200, -1, 16)
    assert np.all(a == a[:, :1, :])  # one draw per (sample, channel), shared by every position
    assert set(np.unique(a)) <= {0.0, np.float32(1 / (1 - rate))}
    assert abs((a[:, 0, :] == 0).mean() - rate) < 0.05
    y.sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), y.numpy())  # dL/dx = the mask (x = 1)
    with pytest.raises(ValueError, match=rf"SpatialDropout{rank}D expects inputs of rank {rank + 2}"):
        layer(np.ones((2, 3)), training=True)
    assert _roundtrip(layer).rate == rate


def test_activity_regularization_adds_its_penalty_to_losses():
    x = cr.tensor(np.array([[1.0, -2.0], [0.5, 0.0]]), requires_grad=True)
    layer = L.ActivityRegularization(l1=0.1, l2=0.01)
    y = layer(x)
    assert y is x
    (penalty,) = layer.losses
    np.testing.assert_allclose(penalty.item(), 0.1 * 3.5 + 0.01 * 5.25, rtol=1e-6)
    penalty.backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.1 * np.sign(x.numpy()) + 0.02 * x.numpy(), rtol=1e-6)
    cfg = _roundtrip(layer).get_config()
    assert cfg["l1"] == 0.1 and cfg["l2"] == 0.01 and "activity_regularizer" not in cfg
    assert L.ActivityRegularization().compute_output_shape((None, 3)) == (None, 3)


# ------------------------------------------------------------------------------------------ normalization
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups,axis", [((2, 5, 6), 3, -1), ((2, 3, 4, 8), 4, -1), ((2, 4, 3, 3), 2, 1),
                                                ((2, 4, 6), -1, -1)])
def test_group_normalization_matches_torch_group_norm(shape, groups, axis, dtype):
    torch = pytest.importorskip("torch")
    cr.set_floatx(dtype)
    r = _rng(11)
    c = shape[axis]
    x = r.standard_normal(shape)
    layer = L.GroupNormalization(groups=groups, axis=axis)
    layer(x)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["gamma", "beta"] and layer.gamma.shape == (c,)
    gamma, beta = r.standard_normal(c), r.standard_normal(c)
    layer.set_weights([gamma, beta])
    g = c if groups == -1 else groups

    def ref(ts, tg, tb):
        t = ts[0] if axis == 1 else _cf(ts[0])
        y = torch.nn.functional.group_norm(t, g, tg, tb, eps=1e-3)
        return y if axis == 1 else _cl(y)

    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else {}
    compare(lambda xs: layer(xs[0]), ref, [x], dtype, weights=layer.weights, torch_weights=[gamma, beta], **tol)
    unknown = list((None,) + shape[1:])
    unknown[2 if axis == 1 else 1] = None
    assert layer.compute_output_shape(tuple(unknown)) == tuple(unknown)


def test_group_normalization_defaults_and_errors():
    layer = L.GroupNormalization()
    assert (layer.groups, layer.axis, layer.epsilon, layer.center, layer.scale) == (32, -1, 1e-3, True, True)
    with pytest.raises(ValueError, match=r"32 groups must divide the 16 channels"):
        layer(np.ones((2, 3, 16)))
    with pytest.raises(ValueError, match=r"5 groups must divide the 6 channels"):
        L.GroupNormalization(5)(np.ones((2, 6)))
    with pytest.raises(ValueError, match="groups must be a positive int"):
        L.GroupNormalization(0)
    with pytest.raises(ValueError, match="not a channel axis"):
        L.GroupNormalization(2, axis=0)(np.ones((2, 4)))
    built = L.GroupNormalization(2, center=False)
    built(np.ones((2, 4)))
    assert len(built.weights) == 1
    with pytest.raises(ValueError, match=r"built for 4 channels.*\(2, 6\)"):
        built(np.ones((2, 6)))
    assert _roundtrip(L.GroupNormalization(4, axis=1, epsilon=1e-5)).epsilon == 1e-5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_unit_normalization_matches_torch_normalize(axis, dtype):
    torch = pytest.importorskip("torch")
    x = _rng(12).standard_normal((2, 3, 4))
    layer = L.UnitNormalization(axis=axis)

    def ref(ts):
        dims = tuple(axis) if isinstance(axis, list) else axis
        norm = torch.sqrt((ts[0] ** 2).sum(dim=dims, keepdim=True)).clamp_min(1e-12)
        return ts[0] / norm

    y = compare(lambda xs: layer(xs[0]), ref, [x], dtype)
    if not isinstance(axis, list):
        close(y.numpy(), torch.nn.functional.normalize(torch.tensor(x), dim=axis).numpy(), dtype)
    assert layer.compute_output_shape((None, None, 4)) == (None, None, 4) and _roundtrip(layer).axis == axis
    np.testing.assert_array_equal(L.UnitNormalization()(np.zeros((1, 3))).numpy(), 0.0)  # no 0/0
    with pytest.raises(ValueError, match="out of range"):
        L.UnitNormalization(axis=2).compute_output_shape((None, 3))


# ------------------------------------------------------------------------------------------ preprocessing
@pytest.mark.parametrize("dtype", DTYPES)
def test_rescaling(dtype):
    pytest.importorskip("torch")
    layer = L.Rescaling(1 / 127.5, offset=-1, dtype=dtype)
    compare(lambda xs: layer(xs[0]), lambda ts: ts[0] / 127.5 - 1, [_rng(13).uniform(0, 255, (2, 3, 3))], dtype)
    pixels = np.array([[0, 255, 51]], dtype=np.uint8)
    out = L.Rescaling(1 / 255)(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [[0.0, 1.0, 0.2]], rtol=1e-6)
    per_channel = L.Rescaling([1.0, 2.0], offset=[0.0, 1.0])
    np.testing.assert_allclose(per_channel(np.ones((1, 2, 2))).numpy(), [[[1, 3], [1, 3]]])
    assert _roundtrip(per_channel).scale == [1.0, 2.0]
    assert layer.compute_output_shape((None, 3)) == (None, 3)


def test_normalization_adapt_matches_numpy_and_batches_combine_exactly():
    r = _rng(14)
    data = r.standard_normal((100, 4)) * [1, 2, 3, 4] + [0, 1, -1, 5]
    layer = L.Normalization()
    layer.adapt(data)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["mean", "variance", "count"]
    assert layer.trainable_weights == []
    close(layer.adapt_mean.numpy(), data.mean(0), "float32")
    close(layer.adapt_variance.numpy(), data.var(0), "float32", rtol=1e-5)
    y = layer(data).numpy()
    close(y, (data - data.mean(0)) / data.std(0), "float32", rtol=1e-4, atol=1e-5)
    batched = L.Normalization()
    batched.adapt([data[:30], data[30:70], (data[70:], None)])  # an iterable of batches, (x, y) tuples too
    close(batched.adapt_variance.numpy(), data.var(0), "float32", rtol=1e-5)
    assert int(batched.count.numpy()) == 100
    inverse = L.Normalization(invert=True)
    inverse.adapt(data)
    close(inverse(y).numpy(), data, "float32", rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalization_with_given_statistics_and_axes(dtype):
    pytest.importorskip("torch")
    r = _rng(15)
    x = r.standard_normal((2, 3, 4))
    layer = L.Normalization(axis=-1, mean=[0.0, 1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0, 0.0], dtype=dtype)
    std = np.maximum(np.sqrt([1.0, 4.0, 9.0, 0.0]), 1e-7)
    compare(lambda xs: layer(xs[0]), lambda ts: (ts[0] - ts[0].new_tensor([0.0, 1, 2, 3])) / ts[0].new_tensor(std),
            [x], dtype, rtol=1e-5 if dtype == "float32" else 1e-10)
    assert layer.weights == []
    scalar = L.Normalization(axis=None, mean=2.0, variance=4.0)
    np.testing.assert_allclose(scalar(np.full((2, 3), 4.0)).numpy(), 1.0)
    both = L.Normalization(axis=(1, 2))
    both.adapt(x)
    assert both.adapt_mean.shape == (3, 4)
    close(both.adapt_mean.numpy(), x.mean(0), "float32")
    cfg = _roundtrip(layer).get_config()
    assert cfg["mean"] == [0.0, 1.0, 2.0, 3.0] and cfg["axis"] == [-1]


def test_normalization_errors():
    with pytest.raises(ValueError, match="both mean and variance"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    layer = L.Normalization()
    layer.adapt(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"adapt\(\) got a batch of shape \(5, 4\)"):
        layer.adapt(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(None, 3\).*\(2, 4\)"):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="no data"):
        L.Normalization().adapt([])
    with pytest.raises(ValueError, match="cannot change a mean"):
        L.Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 2)))


# ------------------------------------------------------------------------------------------ Lambda, Identity
def scale_and_shift(x, factor=2.0, shift=0.0):
    return x * factor + shift


def first_half(x):
    return x[:, : x.shape[1] // 2]


def test_lambda_calls_its_function_and_infers_shapes():
    layer = L.Lambda(scale_and_shift, arguments={"factor": 3.0, "shift": 1.0})
    x = cr.tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), [[4.0, 7.0]])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0)
    half = L.Lambda(first_half)
    assert half.compute_output_shape((None, 6, 3)) == (None, 3, 3)
    assert half.compute_output_shape((None, None, 3)) == (None, None, 3)  # sizes that vary are None
    assert L.Lambda(first_half, output_shape=(5,)).compute_output_shape((None, 10)) == (None, 5)
    pair = L.Lambda(lambda xs: xs[0] - xs[1])
    assert pair.compute_output_shape([(None, 4), (None, 4)]) == (None, 4)
    assert L.Identity().compute_output_shape((None, 2)) == (None, 2)
    assert L.Identity()(x) is x


def test_lambda_config_holds_the_function_name_and_needs_custom_objects():
    layer = L.Lambda(scale_and_shift, output_shape=(2,), arguments={"factor": 0.5})
    cfg = layer.get_config()
    assert cfg["function"] == "scale_and_shift" and cfg["arguments"] == {"factor": 0.5}
    with pytest.raises(ValueError, match=r"unknown function 'scale_and_shift'.*custom_objects"):
        L.Lambda.from_config(cfg)
    with cr.models.custom_object_scope({"scale_and_shift": scale_and_shift}):
        clone = L.Lambda.from_config(cfg)
    assert clone.function is scale_and_shift and clone.get_config() == cfg
    with pytest.raises(ValueError, match="cannot be saved: a lambda expression.*def"):
        L.Lambda(lambda x: x + 1).get_config()
    with pytest.raises(TypeError, match="function must be"):
        L.Lambda(3)


def test_identity_round_trip():
    assert _roundtrip(L.Identity(name="skip")).name == "skip"


def test_layers_accept_integer_input_and_keep_float32():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for layer in (L.ReLU(max_value=6), L.ELU(), L.Softmax(), L.UnitNormalization(), L.UpSampling1D()):
            assert layer(np.arange(6).reshape(2, 3, 1)).dtype == np.float32


@pytest.mark.parametrize("shape", [(128, 512), (512, 128), (3, 4, 6)])
def test_orthogonal_weights_are_c_ordered_like_their_gradients_and_slots(shape):
    """NumPy's QR gives a Fortran-ordered matrix; a weight in the other order than its gradient and
    optimizer slots made Adam's update of an LSTM's recurrent kernel 10x slower (strided passes)."""
    w = cr.initializers.Orthogonal(seed=0)(shape)
    assert w.flags["C_CONTIGUOUS"] and w.shape == shape
    flat = w.reshape(-1, shape[-1])
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)
    layer = cr.layers.LSTM(8)
    layer.build((None, 5, 3))
    assert all(v.data.flags["C_CONTIGUOUS"] for v in layer.weights)
