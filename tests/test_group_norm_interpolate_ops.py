"""F.group_norm and F.interpolate: float64 gradient checks of first and second order, and values and
gradients against PyTorch's F.group_norm / F.interpolate (channels moved), float32 and float64."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from layer_differential import compare

DTYPES = ["float32", "float64"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _last_to_first(t):
    return t.permute(0, t.ndim - 1, *range(1, t.ndim - 1))


def _first_to_last(t):
    return t.permute(0, *range(2, t.ndim), 1)


# ------------------------------------------------------------------------------------------ group_norm
GN_CASES = [((2, 5, 6), 3, -1), ((2, 4, 3, 6), 2, -1), ((3, 2, 2, 2, 4), 4, -1), ((2, 6, 5), 3, 1),
            ((2, 4, 3, 3), 1, 1), ((4, 8), 2, -1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups,axis", GN_CASES)
def test_group_norm_matches_torch(shape, groups, axis, dtype):
    torch = pytest.importorskip("torch")
    r = _rng(1)
    c = shape[axis]
    x = r.standard_normal(shape) * 3 + 1
    gamma, beta = r.standard_normal(c), r.standard_normal(c)

    def reference(ts, g, b):
        t = ts[0] if axis == 1 else _last_to_first(ts[0])
        y = torch.nn.functional.group_norm(t, groups, g, b, eps=1e-3)
        return y if axis == 1 else _first_to_last(y)

    w = [cr.tensor(gamma, dtype=dtype, requires_grad=True), cr.tensor(beta, dtype=dtype, requires_grad=True)]
    compare(lambda xs: F.group_norm(xs[0], groups, w[0], w[1], epsilon=1e-3, axis=axis), reference, [x], dtype,
            weights=w, torch_weights=[gamma, beta], rtol=1e-4 if dtype == "float32" else 1e-9,
            atol=1e-4 if dtype == "float32" else 1e-10)


def test_group_norm_without_affine_and_gradchecks():
    cr.set_floatx("float64")
    r = _rng(2)
    x = cr.tensor(r.standard_normal((2, 3, 4)), requires_grad=True)
    g = cr.tensor(r.standard_normal(4), requires_grad=True)
    b = cr.tensor(r.standard_normal(4), requires_grad=True)
    assert cr.gradcheck(lambda x, g, b: F.group_norm(x, 2, g, b), [x, g, b])
    assert cr.gradgradcheck(lambda x, g, b: F.group_norm(x, 2, g, b), [x, g, b])
    assert cr.gradgradcheck(lambda x: F.group_norm(x, 4, axis=-1), [x])
    xc = cr.tensor(r.standard_normal((2, 4, 3)), requires_grad=True)
    assert cr.gradcheck(lambda x, g: F.group_norm(x, 2, g, None, axis=1), [xc, g])
    a = r.standard_normal((3, 5, 4))
    y = F.group_norm(cr.tensor(a), 2).numpy().reshape(3, 5, 2, 2)  # groups: channels (0, 1) and (2, 3)
    v = a.reshape(3, 5, 2, 2).var(axis=(1, 3))
    np.testing.assert_allclose(y.mean(axis=(1, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(1, 3)), v / (v + 1e-3), rtol=1e-12)


def test_group_norm_bad_input():
    x = np.ones((2, 3, 6))
    with pytest.raises(ValueError, match=r"group_norm: groups must be a positive divisor of the 6 channels.*got 4"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match="batch axis"):
        F.group_norm(x, 1, axis=0)
    with pytest.raises(ValueError, match=r"gamma has shape \(5,\), expected \(6,\)"):
        F.group_norm(x, 2, gamma=np.ones(5))
    with pytest.raises(ValueError, match="rank >= 2"):
        F.group_norm(np.ones(6), 2)


# ------------------------------------------------------------------------------------------ interpolate
INTERP_CASES = [  # (channels-last shape, size, scale_factor, mode)
    ((2, 5, 3), None, 2, "nearest"),
    ((2, 5, 3), None, 3, "linear"),
    ((2, 4, 5, 3), None, (2, 3), "nearest"),
    ((2, 4, 5, 3), None, (2, 3), "bilinear"),
    ((1, 4, 5, 2), (7, 3), None, "bilinear"),   # non-integer ratios, enlarging and shrinking
    ((1, 6, 5, 2), (3, 11), None, "nearest"),
    ((1, 3, 2, 4, 2), None, 2, "nearest"),
    ((1, 3, 2, 4, 2), (5, 3, 6), None, "trilinear"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("shape,size,scale,mode", INTERP_CASES)
def test_interpolate_matches_torch(shape, size, scale, mode, channels_first, dtype):
    torch = pytest.importorskip("torch")
    r = _rng(3)
    x = r.standard_normal(shape)
    rank = len(shape) - 2
    tmode = {"linear": ["linear", "bilinear", "trilinear"][rank - 1]}.get(mode, mode)
    extra = {} if mode == "nearest" else {"align_corners": False}
    if channels_first:
        x = np.moveaxis(x, -1, 1)

    def reference(ts):
        t = ts[0] if channels_first else _last_to_first(ts[0])
        y = torch.nn.functional.interpolate(t, size=size, scale_factor=scale, mode=tmode, **extra)
        return y if channels_first else _first_to_last(y)

    fmt = "channels_first" if channels_first else "channels_last"
    compare(lambda xs: F.interpolate(xs[0], size=size, scale_factor=scale, mode=mode, data_format=fmt), reference,
            [x], dtype)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_gradchecks(mode):
    cr.set_floatx("float64")
    x = cr.tensor(_rng(4).standard_normal((2, 3, 2, 2)), requires_grad=True)
    for kw in (dict(scale_factor=2), dict(size=(5, 1)), dict(size=(2, 3))):
        assert cr.gradcheck(lambda x: F.interpolate(x, mode=mode, **kw), [x])
        assert cr.gradgradcheck(lambda x: F.interpolate(x, mode=mode, **kw), [x])


def test_nearest_upsampling_is_repeat_and_linear_keeps_constants():
    x = _rng(5).standard_normal((2, 3, 4, 1))
    y = F.interpolate(x, scale_factor=(2, 3)).numpy()
    np.testing.assert_array_equal(y, np.repeat(np.repeat(x, 2, axis=1), 3, axis=2).astype("float32"))
    c = np.full((1, 3, 4, 2), 2.5)
    np.testing.assert_allclose(F.interpolate(c, size=(7, 9), mode="bilinear").numpy(), 2.5, rtol=1e-6)


def test_interpolate_bad_input():
    x = np.ones((2, 4, 4, 3))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match=r"mode must be one of"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match=r"size must be one positive number or 2 of them.*\(2, 4, 4, 3\)"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(ValueError, match="scale_factor must be"):
        F.interpolate(x, scale_factor=-1)
    with pytest.raises(ValueError, match="spatial axis"):
        F.interpolate(np.ones((2, 3)), scale_factor=2)
    with pytest.raises(ValueError, match="data_format"):
        F.interpolate(x, scale_factor=2, data_format="NHWC")
