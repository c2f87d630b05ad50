"""The convolution and pooling layers: Keras's output shapes, values and gradients against the
PyTorch modules with the same weights (both data formats), activations, regularization
penalties, config round trips, Keras's parameter counts, saving, bad input, and training.

The ops under the layers are tested in ``test_conv_ops.py``, their kernels in ``test_conv_kernels.py``.
"""
import json

import numpy as np
import pytest

import chainrule as cr
import chainrule.layers as L
from chainrule import initializers, regularizers
from conv_cases import naive_conv, naive_conv_vjp, tf_same_pads, torch_kernel, torch_pad, torch_pool

FORMATS = ["channels_last", "channels_first"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _close(a, b, rtol=1e-4, atol=1e-5, what=""):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol,
                               err_msg=what)


def _cl(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _cf(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def _roundtrip(layer):
    """from_config(get_config()) gives an equal config, and the config is JSON-serializable."""
    cfg = layer.get_config()
    json.dumps(cfg)
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    return clone


# ------------------------------------------------------------------------------------------ output shapes
# Keras's output shapes: conv "valid" floor((in - dk) / s) + 1, "same" ceil(in / s), "causal" as "same"
# for stride 1; transposed conv "valid" in*s + max(dk - s, 0), "same" in*s, with output_padding
# (in - 1)*s + dk - 2*(dk // 2 for "same", else 0) + output_padding; pools as conv with dk = pool.
SHAPE_CASES = [
    (lambda: L.Conv1D(4, 3), (None, 10, 2), (None, 8, 4)),
    (lambda: L.Conv1D(4, 3, strides=2, padding="same"), (None, 10, 2), (None, 5, 4)),
    (lambda: L.Conv1D(4, 3, dilation_rate=2), (None, 10, 2), (None, 6, 4)),
    (lambda: L.Conv1D(4, 3, padding="causal", dilation_rate=2), (None, 10, 2), (None, 10, 4)),
    (lambda: L.Conv1D(4, 3, strides=2, padding="causal"), (None, 10, 2), (None, 5, 4)),
    (lambda: L.Conv2D(8, 3), (None, 28, 28, 1), (None, 26, 26, 8)),
    (lambda: L.Conv2D(8, 3, strides=2), (None, 28, 28, 1), (None, 13, 13, 8)),
    (lambda: L.Conv2D(8, 3, dilation_rate=2), (None, 28, 28, 1), (None, 24, 24, 8)),
    (lambda: L.Conv2D(8, (3, 5), strides=(2, 1), padding="same"), (None, 28, 27, 3), (None, 14, 27, 8)),
    (lambda: L.Conv2D(8, 4, strides=3, padding="same"), (None, 10, 11, 2), (None, 4, 4, 8)),
    (lambda: L.Conv2D(6, 3, padding="same", data_format="channels_first"), (None, 3, 9, 7), (None, 6, 9, 7)),
    (lambda: L.Conv2D(6, 3, groups=3), (None, 9, 9, 3), (None, 7, 7, 6)),
    (lambda: L.Conv3D(4, 3, strides=2, padding="same"), (None, 7, 6, 5, 2), (None, 4, 3, 3, 4)),
    (lambda: L.Conv3D(4, (2, 3, 2)), (None, 5, 5, 5, 1), (None, 4, 3, 4, 4)),
    (lambda: L.Conv3D(4, 2, data_format="channels_first"), (None, 1, 5, 5, 5), (None, 4, 4, 4, 4)),
    (lambda: L.ConvND(4, 3, 2), (None, 4, 3, 4, 3, 2), (None, 3, 2, 3, 2, 3)),
    (lambda: L.ConvND(4, 3, 2, strides=2, padding="same"), (None, 4, 3, 4, 3, 2), (None, 2, 2, 2, 2, 3)),
    (lambda: L.Conv1DTranspose(4, 3, strides=2), (None, 5, 2), (None, 11, 4)),
    (lambda: L.Conv1DTranspose(4, 2, strides=3), (None, 5, 2), (None, 15, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2), (None, 5, 7, 3), (None, 11, 15, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"), (None, 5, 7, 3), (None, 10, 14, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1), (None, 5, 7, 3),
     (None, 10, 14, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=1), (None, 5, 7, 3), (None, 12, 16, 4)),
    (lambda: L.Conv2DTranspose(4, 3, dilation_rate=2), (None, 5, 7, 3), (None, 9, 11, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, data_format="channels_first"), (None, 3, 5, 7), (None, 4, 11, 15)),
    (lambda: L.Conv3DTranspose(2, 2, strides=2), (None, 3, 4, 2, 1), (None, 6, 8, 4, 2)),
    (lambda: L.MaxPooling1D(), (None, 10, 3), (None, 5, 3)),
    (lambda: L.MaxPooling1D(3, 2, "same"), (None, 10, 3), (None, 5, 3)),
    (lambda: L.MaxPooling2D(), (None, 28, 28, 32), (None, 14, 14, 32)),
    (lambda: L.MaxPooling2D((2, 2)), (None, 27, 27, 3), (None, 13, 13, 3)),
    (lambda: L.MaxPooling2D(padding="same"), (None, 27, 27, 3), (None, 14, 14, 3)),
    (lambda: L.MaxPooling2D(3, strides=1), (None, 27, 27, 3), (None, 25, 25, 3)),
    (lambda: L.MaxPooling2D(data_format="channels_first"), (None, 3, 8, 9), (None, 3, 4, 4)),
    (lambda: L.MaxPooling3D(), (None, 4, 5, 6, 2), (None, 2, 2, 3, 2)),
    (lambda: L.AveragePooling1D(2, 1), (None, 10, 3), (None, 9, 3)),
    (lambda: L.AveragePooling2D(3, 2, "same"), (None, 7, 6, 2), (None, 4, 3, 2)),
    (lambda: L.AveragePooling3D(padding="same"), (None, 3, 3, 3, 1), (None, 2, 2, 2, 1)),
    (lambda: L.GlobalAveragePooling1D(), (None, 10, 3), (None, 3)),
    (lambda: L.GlobalAveragePooling2D(keepdims=True), (None, 5, 6, 3), (None, 1, 1, 3)),
    (lambda: L.GlobalMaxPooling1D(), (None, 7, 4), (None, 4)),
    (lambda: L.GlobalMaxPooling2D(data_format="channels_first"), (None, 3, 5, 6), (None, 3)),
    (lambda: L.GlobalMaxPooling2D(data_format="channels_first", keepdims=True), (None, 3, 5, 6), (None, 3, 1, 1)),
]


@pytest.mark.parametrize("make, input_shape, expected", SHAPE_CASES,
                         ids=[f"{i}-{c[1]}" for i, c in enumerate(SHAPE_CASES)])
def test_output_shapes_are_keras(make, input_shape, expected):
    layer = make()
    assert tuple(layer.compute_output_shape(input_shape)) == expected
    y = layer(np.zeros((2,) + input_shape[1:], np.float32))
    assert y.shape == (2,) + expected[1:]
    assert y.dtype == np.float32
    assert tuple(layer.compute_output_shape(input_shape)) == expected   # built or not


# ------------------------------------------------------------------------------------------ conv layers vs torch
def _module(torch, kind, c_in, filters, kernel, **kw):
    nn = torch.nn
    cls = {("conv", 1): nn.Conv1d, ("conv", 2): nn.Conv2d, ("conv", 3): nn.Conv3d,
           ("transpose", 1): nn.ConvTranspose1d, ("transpose", 2): nn.ConvTranspose2d,
           ("transpose", 3): nn.ConvTranspose3d}[kind, len(kernel)]
    return cls(c_in, filters, kernel, **kw).double()


# (chainrule layer, torch module's arguments, extra torch ops, input shape channels_first, activation)
#   pre: a (lo, hi) padding applied before the torch module ("same" with strides, "causal");
#   post: the activation.
LAYER_CASES = {
    "conv1d_stride2_relu": (lambda f: L.Conv1D(4, 3, strides=2, activation="relu", data_format=f),
                            ("conv", 2, 4, (3,), dict(stride=2)), None, (2, 2, 9), "relu"),
    "conv1d_same_dilated": (lambda f: L.Conv1D(4, 3, padding="same", dilation_rate=2, data_format=f),
                            ("conv", 2, 4, (3,), dict(padding="same", dilation=2)), None, (2, 2, 9), None),
    "conv1d_causal": (lambda f: L.Conv1D(3, 3, padding="causal", dilation_rate=2, data_format=f),
                      ("conv", 2, 3, (3,), dict(dilation=2)), ((4, 0),), (2, 2, 8), None),
    "conv2d_same_tanh": (lambda f: L.Conv2D(6, 3, padding="same", activation="tanh", data_format=f),
                         ("conv", 3, 6, (3, 3), dict(padding="same")), None, (2, 3, 6, 5), "tanh"),
    "conv2d_same_stride2": (lambda f: L.Conv2D(4, 3, strides=2, padding="same", data_format=f),
                            ("conv", 3, 4, (3, 3), dict(stride=2)), ((1, 1), (0, 1)), (2, 3, 7, 8), None),
    "conv2d_groups_nobias": (lambda f: L.Conv2D(6, (3, 2), strides=2, groups=3, use_bias=False, data_format=f),
                             ("conv", 3, 6, (3, 2), dict(stride=2, groups=3, bias=False)), None, (2, 3, 7, 6),
                             None),
    "conv2d_depthwise_dilated": (lambda f: L.Conv2D(4, 3, padding="same", groups=4, dilation_rate=2, data_format=f),
                                 ("conv", 4, 4, (3, 3), dict(padding="same", groups=4, dilation=2)), None,
                                 (2, 4, 6, 6), None),
    "conv3d_sigmoid": (lambda f: L.Conv3D(3, 2, strides=(1, 2, 1), activation="sigmoid", data_format=f),
                       ("conv", 2, 3, (2, 2, 2), dict(stride=(1, 2, 1))), None, (2, 2, 4, 5, 3), "sigmoid"),
    "conv3d_same_groups": (lambda f: L.Conv3D(4, 3, padding="same", groups=2, data_format=f),
                           ("conv", 2, 4, (3, 3, 3), dict(padding="same", groups=2)), None, (1, 2, 3, 4, 3), None),
    "conv1d_transpose": (lambda f: L.Conv1DTranspose(3, 3, strides=2, data_format=f),
                         ("transpose", 2, 3, (3,), dict(stride=2)), None, (2, 2, 5), None),
    "conv2d_transpose_same_k4": (lambda f: L.Conv2DTranspose(4, 4, strides=2, padding="same", data_format=f),
                                 ("transpose", 3, 4, (4, 4), dict(stride=2, padding=1)), None, (2, 3, 3, 4), None),
    "conv2d_transpose_output_padding_relu": (   # Keras's output (6, 8), TensorFlow's placement: see CROPS
        lambda f: L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1, activation="relu",
                                    data_format=f),
        ("transpose", 3, 4, (3, 3), dict(stride=2)), None, (2, 3, 3, 4), "relu"),
    "conv2d_transpose_dilated_groups": (
        lambda f: L.Conv2DTranspose(6, 3, dilation_rate=2, groups=2, data_format=f),
        ("transpose", 4, 6, (3, 3), dict(dilation=2, groups=2)), None, (2, 4, 3, 4), None),
    "conv3d_transpose": (lambda f: L.Conv3DTranspose(2, 2, strides=2, data_format=f),
                         ("transpose", 2, 2, (2, 2, 2), dict(stride=2)), None, (1, 2, 2, 3, 2), None),
}

#: (lo, size) per spatial dim, cropped from the torch module's full (unpadded) output: Keras's
#: "same" transposed conv with output_padding has (in - 1)*s + dk - 2*(dk // 2) + output_padding
#: positions (6, 8 here) from TensorFlow's low "same" padding of a conv from that size back to the
#: input, pad_total // 2 with pad_total = max((ceil(out/s) - 1)*s + dk - out, 0): 0 and 0 here.
CROPS = {"conv2d_transpose_output_padding_relu": ((0, 6), (0, 8))}


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_conv_layer_matches_torch_with_the_same_weights(torch, name, data_format):
    make, (kind, c_in, filters, kernel, kw), pre, xshape, activation = LAYER_CASES[name]
    r = _rng(len(name))
    layer = make(data_format)
    cf = data_format == "channels_first"
    xa = r.standard_normal(xshape).astype(np.float32)
    x = cr.tensor(xa if cf else _cl(xa), requires_grad=True)
    layer(x)   # build
    kernel_w = layer.kernel
    expected = kernel + ((filters // layer.groups, c_in) if kind == "transpose" else (c_in // layer.groups, filters))
    assert kernel_w.shape == expected    # Keras's layouts (conv and transposed conv)
    module = _module(torch, kind, c_in, filters, kernel, **kw)
    assert tuple(module.weight.shape) == torch_kernel(kernel_w.numpy()).shape
    if layer.use_bias:
        layer.bias.data[...] = r.standard_normal(filters)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(torch_kernel(kernel_w.numpy())))
        if layer.use_bias:
            module.bias.copy_(torch.tensor(layer.bias.numpy()))
    y = layer(x)
    xt = torch.tensor(xa.astype(np.float64), requires_grad=True)
    yt = module(xt if pre is None else torch.nn.functional.pad(xt, torch_pad(pre)))
    if name in CROPS:
        yt = yt[(slice(None), slice(None)) + tuple(slice(lo, lo + n) for lo, n in CROPS[name])]
    if activation is not None:
        yt = getattr(torch, activation)(yt)
    got = y.numpy() if cf else _cf(y.numpy())
    assert y.dtype == np.float32 and got.shape == tuple(yt.shape)
    _close(got, yt.detach().numpy(), what="output")
    v = r.standard_normal(tuple(yt.shape))
    y.backward(cr.tensor(v if cf else _cl(v)))
    yt.backward(torch.tensor(v))
    _close(x.grad.numpy() if cf else _cf(x.grad.numpy()), xt.grad.numpy(), what="input gradient")
    _close(torch_kernel(kernel_w.grad.numpy()), module.weight.grad.numpy(), what="kernel gradient")
    if layer.use_bias:
        _close(layer.bias.grad.numpy(), module.bias.grad.numpy(), what="bias gradient")
    assert layer.count_params() == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("data_format", FORMATS)
def test_convnd_rank4_matches_direct_summation(data_format):
    cr.set_floatx("float64")
    r = _rng(3)
    layer = L.ConvND(4, 4, (2, 1, 2, 2), strides=(1, 2, 1, 1), padding="same", data_format=data_format, groups=2,
                     activation="linear", bias_initializer="random_normal")
    x = r.standard_normal((2, 3, 4, 3, 3, 4))          # channels_last
    cf = data_format == "channels_first"
    X = cr.tensor(np.moveaxis(x, -1, 1).copy() if cf else x, requires_grad=True)
    y = layer(X)
    k, b = layer.kernel, layer.bias
    assert k.shape == (2, 1, 2, 2, 2, 4) and b.shape == (4,) and layer.count_params() == 2 * 1 * 2 * 2 * 2 * 4 + 4
    assert np.abs(b.numpy()).max() > 0
    s, d = (1, 2, 1, 1), (1, 1, 1, 1)
    pairs = tf_same_pads(x.shape[1:-1], k.shape[:4], s, d)
    y_ref = naive_conv(x, k.numpy(), b.numpy(), s, pairs, d, 2)
    _close(np.moveaxis(y.numpy(), 1, -1) if cf else y.numpy(), y_ref, rtol=1e-10, atol=1e-10)
    gy = r.standard_normal(y_ref.shape)
    y.backward(cr.tensor(np.moveaxis(gy, -1, 1).copy() if cf else gy))
    gx, gw, gb = naive_conv_vjp(x, k.numpy(), gy, s, pairs, d, 2)
    _close(np.moveaxis(X.grad.numpy(), 1, -1) if cf else X.grad.numpy(), gx, rtol=1e-10, atol=1e-10)
    _close(k.grad.numpy(), gw, rtol=1e-10, atol=1e-10)
    _close(b.grad.numpy(), gb, rtol=1e-10, atol=1e-10)


def test_convnd_rank2_is_conv2d():
    x = _rng(4).standard_normal((2, 6, 5, 3)).astype(np.float32)
    a, b = L.ConvND(2, 4, 3, strides=2, padding="same"), L.Conv2D(4, 3, strides=2, padding="same")
    a(x), b(x)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


# ------------------------------------------------------------------------------------------ pooling layers vs torch
POOL_LAYER_CASES = [
    # (layer class, kwargs, input shape channels_first)
    (L.MaxPooling1D, dict(), (2, 3, 9)),
    (L.MaxPooling1D, dict(pool_size=3, strides=2, padding="same"), (2, 3, 8)),
    (L.MaxPooling2D, dict(), (2, 3, 7, 6)),
    (L.MaxPooling2D, dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (2, 2, 7, 5)),
    (L.MaxPooling3D, dict(), (2, 2, 4, 5, 4)),
    (L.MaxPooling3D, dict(pool_size=2, strides=1, padding="same"), (1, 2, 3, 3, 3)),
    (L.AveragePooling1D, dict(pool_size=3, strides=1), (2, 3, 7)),
    (L.AveragePooling1D, dict(padding="same"), (2, 3, 7)),
    (L.AveragePooling2D, dict(), (2, 3, 6, 7)),
    (L.AveragePooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 2, 7, 6)),
    (L.AveragePooling3D, dict(), (1, 2, 4, 4, 5)),
    (L.AveragePooling3D, dict(pool_size=(2, 3, 2), padding="same"), (1, 2, 3, 5, 4)),
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("cls, kw, xshape", POOL_LAYER_CASES,
                         ids=[f"{c.__name__}-{k.get('padding', 'valid')}-{i}" for i, (c, k, _) in
                              enumerate(POOL_LAYER_CASES)])
def test_pooling_layer_matches_torch(torch, cls, kw, xshape, data_format):
    layer = cls(data_format=data_format, **kw)
    assert layer.count_params() == 0
    cf = data_format == "channels_first"
    xa = _rng(len(xshape)).standard_normal(xshape).astype(np.float32)
    x = cr.tensor(xa if cf else _cl(xa), requires_grad=True)
    y = layer(x)
    kind = "max" if "Max" in cls.__name__ else "avg"
    xt = torch.tensor(xa.astype(np.float64), requires_grad=True)
    nd = len(xshape) - 2
    yt = torch_pool(torch, kind, xt, kw.get("pool_size", 2), kw.get("strides"), kw.get("padding", "valid"))
    got = y.numpy() if cf else _cf(y.numpy())
    assert y.dtype == np.float32 and got.shape == tuple(yt.shape)
    assert tuple(layer.compute_output_shape((None,) + x.shape[1:])) == (None,) + y.shape[1:]
    _close(got, yt.detach().numpy(), what=f"{nd}-D {kind} pooling")
    v = _rng(5).standard_normal(tuple(yt.shape))
    y.backward(cr.tensor(v if cf else _cl(v)))
    yt.backward(torch.tensor(v))
    _close(x.grad.numpy() if cf else _cf(x.grad.numpy()), xt.grad.numpy(), what="input gradient")


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("cls", [L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalMaxPooling1D,
                                 L.GlobalMaxPooling2D])
def test_global_pooling_layer_matches_torch(torch, cls, data_format, keepdims):
    rank = 1 if cls.__name__.endswith("1D") else 2
    xshape = (3, 4, 5) if rank == 1 else (3, 4, 5, 3)
    layer = cls(data_format=data_format, keepdims=keepdims)
    cf = data_format == "channels_first"
    xa = _rng(6).standard_normal(xshape).astype(np.float32)
    x = cr.tensor(xa if cf else _cl(xa), requires_grad=True)
    y = layer(x)
    xt = torch.tensor(xa.astype(np.float64), requires_grad=True)
    dims = tuple(range(2, len(xshape)))
    yt = xt.mean(dim=dims, keepdim=keepdims) if "Average" in cls.__name__ else torch.amax(xt, dim=dims,
                                                                                          keepdim=keepdims)
    got = y.numpy() if cf or not keepdims else _cf(y.numpy())
    assert got.shape == tuple(yt.shape)
    assert tuple(layer.compute_output_shape((None,) + x.shape[1:])) == (None,) + y.shape[1:]
    _close(got, yt.detach().numpy())
    v = _rng(7).standard_normal(tuple(yt.shape))
    y.backward(cr.tensor(v if cf or not keepdims else _cl(v)))
    yt.backward(torch.tensor(v))
    _close(x.grad.numpy() if cf else _cf(x.grad.numpy()), xt.grad.numpy())


# ------------------------------------------------------------------------------------------ regularizers, config
def test_kernel_and_bias_regularizers_add_their_penalties_to_model_losses():
    model = cr.Sequential([
        L.Input(shape=(6, 6, 2)),
        L.Conv2D(3, 3, kernel_regularizer=regularizers.L2(0.01), bias_regularizer=regularizers.L1(0.5),
                 bias_initializer="ones"),
        L.Conv2DTranspose(2, 2, strides=2, kernel_regularizer="l1"),
        L.MaxPooling2D(),
        L.GlobalAveragePooling2D(),
    ])
    model.build()
    conv, deconv = model.layers[0], model.layers[1]
    penalties = [float(p.item()) for p in model.losses]
    expected = [0.01 * float(np.sum(conv.kernel.numpy().astype(np.float64) ** 2)), 0.5 * 3,
                0.01 * float(np.abs(deconv.kernel.numpy().astype(np.float64)).sum())]
    assert penalties == pytest.approx(expected, rel=1e-5)
    assert len(conv.losses) == 2 and len(deconv.losses) == 1
    # ... and the penalties are differentiable in the kernel: d(0.01 * sum k^2)/dk = 0.02 k
    (g,) = cr.grad(model.losses[0], [conv.kernel])
    _close(g.numpy(), 0.02 * conv.kernel.numpy(), rtol=1e-6, atol=1e-8)


CONFIG_LAYERS = [
    lambda: L.Conv1D(5, 3, strides=2, padding="causal", dilation_rate=1, activation="relu", name="c1"),
    lambda: L.Conv2D(8, (3, 2), strides=(2, 1), padding="same", data_format="channels_first", dilation_rate=(1, 2),
                     groups=2, activation="tanh", use_bias=False, kernel_initializer="he_normal",
                     bias_initializer=initializers.Constant(0.5), kernel_regularizer=regularizers.L2(1e-3),
                     bias_regularizer="l1", activity_regularizer="l2", name="c2"),
    lambda: L.Conv2D(4, 3, padding=(1, 2)),
    lambda: L.Conv3D(2, 2, padding="same", activation="sigmoid"),
    lambda: L.ConvND(4, 3, 2, strides=(1, 2, 1, 1), padding="same"),
    lambda: L.Conv1DTranspose(3, 4, strides=2, padding="same"),
    lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1, activation="relu",
                              data_format="channels_first"),
    lambda: L.Conv3DTranspose(2, 2, strides=(1, 2, 2), groups=2),
    lambda: L.MaxPooling1D(3, 2, "same"),
    lambda: L.MaxPooling2D((2, 3), (1, 2), "same", "channels_first", name="mp"),
    lambda: L.MaxPooling3D(),
    lambda: L.AveragePooling1D(4),
    lambda: L.AveragePooling2D(3, 1, "same"),
    lambda: L.AveragePooling3D(2, data_format="channels_first"),
    lambda: L.GlobalAveragePooling1D(),
    lambda: L.GlobalAveragePooling2D(data_format="channels_first", keepdims=True),
    lambda: L.GlobalMaxPooling1D(keepdims=True),
    lambda: L.GlobalMaxPooling2D(),
]
CONFIG_INPUTS = [(2, 9, 2), (2, 4, 7, 6), (2, 5, 5, 2), (2, 4, 4, 3, 2), (2, 3, 4, 3, 2, 2), (2, 4, 3),
                 (2, 3, 4, 3), (2, 3, 4, 3, 2), (2, 7, 3), (2, 3, 5, 6), (2, 4, 4, 4, 2), (2, 9, 3), (2, 5, 4, 3),
                 (2, 2, 4, 4, 4), (2, 6, 3), (2, 3, 4, 4), (2, 6, 2), (2, 4, 5, 3)]


@pytest.mark.parametrize("make, xshape", list(zip(CONFIG_LAYERS, CONFIG_INPUTS)),
                         ids=[f"layer{i}" for i in range(len(CONFIG_LAYERS))])
def test_config_round_trip_gives_the_same_layer(make, xshape):
    layer = make()
    clone = _roundtrip(layer)
    assert type(clone) is type(layer)
    x = _rng(8).standard_normal(xshape).astype(np.float32)
    y = layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), y.numpy())
    assert clone.get_config() == layer.get_config()   # building changes nothing in the config


def test_config_values_survive_the_round_trip():
    c = _roundtrip(CONFIG_LAYERS[1]())
    assert (c.filters, c.kernel_size, c.strides, c.padding) == (8, (3, 2), (2, 1), "same")
    assert (c.data_format, c.dilation_rate, c.groups, c.use_bias) == ("channels_first", (1, 2), 2, False)
    assert isinstance(c.kernel_initializer, initializers.HeNormal)
    assert isinstance(c.kernel_regularizer, regularizers.L2) and c.kernel_regularizer.l2 == 1e-3
    assert c.get_config()["activation"] == "tanh" and c.name == "c2"
    t = _roundtrip(CONFIG_LAYERS[6]())
    assert (t.output_padding, t.padding, t.strides) in [(1, "same", (2, 2)), ((1, 1), "same", (2, 2))]
    assert _roundtrip(CONFIG_LAYERS[4]()).rank == 4
    p = _roundtrip(CONFIG_LAYERS[9]())
    assert (p.pool_size, p.strides, p.padding, p.data_format, p.name) == ((2, 3), (1, 2), "same", "channels_first",
                                                                         "mp")


# ------------------------------------------------------------------------------------------ Keras's parameter counts
def _texts_cnn():
    return cr.Sequential([
        L.Input(shape=(28, 28, 1)),
        L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax"),
    ])


def _keras_mnist_cnn():
    return cr.Sequential([
        L.Input(shape=(28, 28, 1)),
        L.Conv2D(32, kernel_size=(3, 3), activation="relu"), L.Conv2D(64, (3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)), L.Dropout(0.25), L.Flatten(),
        L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax"),
    ])


@pytest.mark.parametrize("make, total, rows", [
    (_texts_cnn, "121,930", [("(None, 26, 26, 32)", 320), ("(None, 13, 13, 32)", 0), ("(None, 11, 11, 64)", 18496),
                            ("(None, 5, 5, 64)", 0), ("(None, 1600)", 0), ("(None, 64)", 102464),
                            ("(None, 10)", 650)]),
    (_keras_mnist_cnn, "1,199,882", [("(None, 26, 26, 32)", 320), ("(None, 24, 24, 64)", 18496),
                                     ("(None, 12, 12, 64)", 0), ("(None, 12, 12, 64)", 0), ("(None, 9216)", 0),
                                     ("(None, 128)", 1179776), ("(None, 128)", 0), ("(None, 10)", 1290)]),
])
def test_summary_parameter_counts_match_keras(make, total, rows):
    model = make()
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Total params: {total}" in lines and f"Trainable params: {total}" in lines
    assert "Non-trainable params: 0" in lines
    table = [line for line in lines if line.startswith(" ") and "(None" in line]
    assert [(line.split()[-1]) for line in table] == [str(n) for _, n in rows]
    assert all(shape in line for line, (shape, _) in zip(table, rows))
    assert model.count_params() == int(total.replace(",", ""))


# ------------------------------------------------------------------------------------------ saving, errors, training
def _small_cnn(seed=0):
    cr.manual_seed(seed)
    return cr.Sequential([
        L.Input(shape=(8, 8, 2)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Conv2DTranspose(4, 2, strides=2, activation="tanh"),
        L.AveragePooling2D(2, 1, "same"),
        L.Conv2D(4, 3, strides=2, groups=2, kernel_regularizer=regularizers.L2(1e-3)),
        L.GlobalMaxPooling2D(),
        L.Dense(3, activation="softmax"),
    ])


def test_cnn_save_and_load_model_round_trip(tmp_path):
    r = _rng(9)
    x = r.standard_normal((40, 8, 8, 2)).astype(np.float32)
    y = r.integers(0, 3, 40)
    model = _small_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "cnn.cr"
    model.save(path)
    loaded = cr.models.load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    def configs(m):   # the loaded model may record its input shape on its first layer instead of an Input
        return [{k: v for k, v in l.get_config().items() if k != "batch_input_shape"} for l in m.layers]

    assert configs(loaded) == configs(model)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_conv_layer_fed_another_channel_count_raises_a_clear_error():
    conv = L.Conv2D(4, 3, name="features")
    conv(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"features: expected inputs of rank 4 with 3 channels \(channels_last\), "
                                         r"got shape \(2, 8, 8, 5\)"):
        conv(np.zeros((2, 8, 8, 5), np.float32))
    with pytest.raises(ValueError, match=r"features: expected inputs of rank 4 .*got shape \(2, 8, 3\)"):
        conv(np.zeros((2, 8, 3), np.float32))
    cf = L.Conv2D(4, 3, data_format="channels_first", name="cf")
    cf(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"cf: expected .* 3 channels \(channels_first\), got shape \(2, 8, 8, 3\)"):
        cf(np.zeros((2, 8, 8, 3), np.float32))
    deconv = L.Conv2DTranspose(4, 3, name="up")
    deconv(np.zeros((1, 4, 4, 6), np.float32))
    with pytest.raises(ValueError, match=r"up: expected inputs of rank 4 with 6 channels"):
        deconv(np.zeros((1, 4, 4, 2), np.float32))


def test_conv_and_pooling_layers_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"conv3d: Conv3D expects inputs of rank 5 .*got shape \(None, 8, 8, 3\)"):
        L.Conv3D(2, 3, name="conv3d")(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"input channels \(5\) must be divisible by groups \(2\)"):
        L.Conv2D(4, 3, groups=2)(np.zeros((1, 5, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2D: filters \(5\) must be divisible by groups \(2\)"):
        L.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2D: padding must be 'valid' or 'same'"):
        L.Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match=r"Conv2D: kernel_size must be .* 2 positive ints"):
        L.Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match=r"Conv1D: data_format must be"):
        L.Conv1D(4, 3, data_format="NWC")
    with pytest.raises(ValueError, match=r"Conv2D: filters must be a positive int"):
        L.Conv2D(0, 3)
    with pytest.raises(ValueError, match=r"pool: expected inputs of rank 4 .*got shape \(2, 8, 3\)"):
        L.MaxPooling2D(name="pool")(np.zeros((2, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"AveragePooling1D: padding must be 'valid' or 'same'"):
        L.AveragePooling1D(padding="causal")
    with pytest.raises(ValueError, match=r"gap: expected inputs of rank 4, got shape \(2, 8, 3\)"):
        L.GlobalAveragePooling2D(name="gap")(np.zeros((2, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"small: input spatial size \(2, 2\)|smaller than"):
        L.Conv2D(2, 3, name="small")(np.zeros((1, 2, 2, 1), np.float32))


def test_conv_transpose_output_padding_is_checked_when_the_layer_is_made():
    """0 <= output_padding < max(stride, dilation) per dim, at construction (not deep inside a kernel)."""
    for make, shown in [(lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2), r"\(2, 2\).*strides \(2, 2\)"),
                        (lambda: L.Conv2DTranspose(4, 3, output_padding=1), r"\(1, 1\).*strides \(1, 1\)"),
                        (lambda: L.Conv1DTranspose(4, 3, strides=2, output_padding=-1), r"\(-1,\)"),
                        (lambda: L.Conv3DTranspose(4, 3, strides=(2, 3, 1), dilation_rate=(1, 1, 2),
                                                   output_padding=(1, 3, 1)), r"\(1, 3, 1\)")]:
        with pytest.raises(ValueError, match=r"Conv\dDTranspose: output_padding " + shown):
            make()
    with pytest.raises(ValueError, match=r"Conv2DTranspose: output_padding must be an int or a tuple of 2 ints"):
        L.Conv2DTranspose(4, 3, strides=2, output_padding=(1, 1, 1))
    with pytest.raises(TypeError, match=r"Conv2D: output_padding applies to transposed convolutions only"):
        L.Conv2D(4, 3, output_padding=1)
    ok = L.Conv2DTranspose(4, 3, dilation_rate=2, output_padding=1)    # a dilation allows it (PyTorch's rule)
    assert ok.compute_output_shape((None, 5, 5, 2)) == (None, 10, 10, 4)
    assert ok(np.zeros((1, 5, 5, 2), np.float32)).shape == (1, 10, 10, 4)


def test_conv_transpose_layer_same_with_output_padding_is_tensorflow():
    """Keras (TensorFlow backend): x = [1, 0], kernel [1, 2, 3], strides 2, "same" gives [1, 2, 3, 0]
    with and without output_padding=1 (PyTorch's padding=1 placement would give [2, 3, 0, 0])."""
    x = np.array([1.0, 0.0], np.float32).reshape(1, 2, 1)
    for output_padding in (None, 1):
        layer = L.Conv1DTranspose(1, 3, strides=2, padding="same", output_padding=output_padding, use_bias=False)
        layer.build(x.shape)
        layer.set_weights([np.array([1.0, 2.0, 3.0], np.float32).reshape(3, 1, 1)])
        np.testing.assert_array_equal(layer(x).numpy().ravel(), [1, 2, 3, 0])


UNKNOWN_SIZE_CASES = [   # (layer, input shape with unknown dims, Keras's output shape)
    (lambda: L.Conv2D(3, 3), (None, None, None, 4), (None, None, None, 3)),
    (lambda: L.Conv2D(3, 3, strides=2, padding="same"), (None, None, 9, 4), (None, None, 5, 3)),
    (lambda: L.Conv2D(3, (3, 2), data_format="channels_first"), (None, 4, None, 9), (None, 3, None, 8)),
    (lambda: L.Conv1D(3, 3, padding="causal"), (None, None, 2), (None, None, 3)),
    (lambda: L.Conv3D(2, 2, dilation_rate=(1, 2, 1)), (None, 5, None, 5, 1), (None, 4, None, 4, 2)),
    (lambda: L.ConvND(4, 2, 2), (None, None, 3, None, 3, 2), (None, None, 2, None, 2, 2)),
    (lambda: L.Conv2DTranspose(3, 3, strides=2), (None, None, 5, 4), (None, None, 11, 3)),
    (lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1), (None, 5, None, 4),
     (None, 10, None, 3)),
    (lambda: L.Conv1DTranspose(3, 2), (None, None, 4), (None, None, 3)),
    (lambda: L.Conv3DTranspose(2, 2, strides=2), (None, None, None, 2, 1), (None, None, None, 4, 2)),
    (lambda: L.MaxPooling2D(), (None, None, None, 4), (None, None, None, 4)),
    (lambda: L.MaxPooling2D(3, 2, "same"), (None, 7, None, 4), (None, 4, None, 4)),
    (lambda: L.MaxPooling1D(), (None, None, 4), (None, None, 4)),
    (lambda: L.AveragePooling2D(data_format="channels_first"), (None, 3, None, 8), (None, 3, None, 4)),
    (lambda: L.AveragePooling3D(), (None, None, 4, None, 2), (None, None, 2, None, 2)),
    (lambda: L.GlobalAveragePooling2D(), (None, None, None, 4), (None, 4)),
    (lambda: L.GlobalMaxPooling1D(keepdims=True), (None, None, 4), (None, 1, 4)),
    (lambda: L.GlobalMaxPooling2D(data_format="channels_first", keepdims=True), (None, 4, None, None),
     (None, 4, 1, 1)),
]


@pytest.mark.parametrize("make, input_shape, expected", UNKNOWN_SIZE_CASES,
                         ids=[f"{i}-{c[1]}" for i, c in enumerate(UNKNOWN_SIZE_CASES)])
def test_output_shape_of_unknown_spatial_sizes_is_unknown(make, input_shape, expected):
    """As Keras: a None (unknown) spatial size gives None; the known ones are computed as ever."""
    layer = make()
    assert tuple(layer.compute_output_shape(input_shape)) == expected
    known = tuple(7 if d is None else d for d in input_shape[1:])
    full = tuple(layer.compute_output_shape((None,) + known))
    assert all(e is None or e == f for e, f in zip(expected, full))
    assert layer(np.zeros((1,) + known, np.float32)).shape == (1,) + full[1:]


def test_tiny_cnn_learns_with_fit():
    """~200 random images whose label is which half is brighter: a few epochs lower the loss a lot."""
    r = _rng(10)
    x = r.standard_normal((200, 8, 8, 1)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(np.int64)
    cr.manual_seed(0)
    model = cr.Sequential([
        L.Input(shape=(8, 8, 1)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.AveragePooling2D(2),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=cr.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)[0]
    history = model.fit(x, y, batch_size=20, epochs=8, verbose=0)
    losses = history.history["loss"]
    after, accuracy = model.evaluate(x, y, verbose=0)
    assert len(losses) == 8 and losses[-1] < losses[0]
    assert after < 0.6 * before and accuracy > 0.8
