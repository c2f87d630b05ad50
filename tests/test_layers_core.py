"""The core layers against their PyTorch equivalents with the same weights (outputs and the
gradients of the input and of every weight), Keras's weight order and parameter counts,
config round trips, and bad input."""
import json

import numpy as np
import pytest

import chainrule as cr
import chainrule.layers as L
from chainrule import functional as F
from chainrule import initializers, regularizers


def _rng(seed=0):
    return np.random.default_rng(seed)


def _x(a, dtype="float32"):
    return cr.tensor(np.asarray(a), dtype=dtype, requires_grad=True)


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol)


def _roundtrip(layer):
    """from_config(get_config()) gives an equal config, and the config is JSON-serializable."""
    cfg = layer.get_config()
    json.dumps(cfg)
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    return clone


# ------------------------------------------------------------------------------------------ Input
def test_input_declares_shape_and_passes_data_through():
    inp = L.InputLayer(shape=(784,))
    assert inp.shape == (None, 784) and inp.batch_input_shape == (None, 784)
    x = cr.tensor(np.ones((3, 784)))
    assert inp(x) is x
    assert inp.count_params() == 0 and inp.weights == []
    assert L.InputLayer(shape=(28, 28, 1), batch_size=32).shape == (32, 28, 28, 1)
    assert L.InputLayer(shape=5).shape == (None, 5)
    assert L.InputLayer(batch_shape=(None, None, 8)).compute_output_shape() == (None, None, 8)
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 784\).*got \(3, 10\)"):
        inp(np.ones((3, 10)))
    with pytest.raises(ValueError, match="shape is required"):
        L.InputLayer()
    assert _roundtrip(inp).shape == (None, 784)
    # Input (Keras 3's function) returns the InputLayer's output: a symbolic tensor.
    x = L.Input(shape=(784,))
    assert x.shape == (None, 784) and type(x).__name__ == "KerasTensor"
    assert isinstance(x._keras_history.layer, L.InputLayer) and cr.Input is L.Input


# ------------------------------------------------------------------------------------------ Dense
@pytest.mark.parametrize("xshape", [(5, 4), (2, 3, 4)])
def test_dense_matches_torch_linear(xshape):
    torch = pytest.importorskip("torch")
    r = _rng(1)
    layer = L.Dense(3, activation="tanh")
    x = _x(r.standard_normal(xshape))
    y = layer(x)
    kernel, bias = layer.weights
    assert kernel.shape == (4, 3) and bias.shape == (3,)  # Keras's layout: kernel (in, units), then bias
    xt = torch.tensor(x.data, requires_grad=True)
    wt = torch.tensor(kernel.data.T.copy(), requires_grad=True)  # torch's weight is (out, in)
    bt = torch.tensor(bias.data, requires_grad=True)
    yt = torch.tanh(torch.nn.functional.linear(xt, wt, bt))
    _close(y.data, yt.detach().numpy())
    v = r.standard_normal(y.shape).astype(np.float32)
    y.backward(v)
    yt.backward(torch.tensor(v))
    _close(x.grad.data, xt.grad.numpy())
    _close(kernel.grad.data, wt.grad.numpy().T)
    _close(bias.grad.data, bt.grad.numpy())


def test_dense_parameter_count_names_shape_and_no_bias():
    d = L.Dense(10)
    assert d.compute_output_shape((None, 784)) == (None, 10)
    d(np.zeros((1, 784), np.float32))
    assert d.count_params() == 784 * 10 + 10
    assert [w.name.split("/")[-1] for w in d.weights] == ["kernel", "bias"]
    assert len(d.trainable_weights) == 2 and d.non_trainable_weights == []
    nb = L.Dense(4, use_bias=False)
    nb(np.zeros((2, 3)))
    assert nb.count_params() == 12 and len(nb.weights) == 1
    np.testing.assert_allclose(nb(np.ones((1, 3))).data, np.ones((1, 3)) @ nb.kernel.data, rtol=1e-6)


def test_dense_feature_size_mismatch_names_layer_and_sizes():
    d = L.Dense(2, name="classifier")
    d(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"classifier: expected inputs with 3 features.*got 5 features"):
        d(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"rank >= 2"):
        L.Dense(2)(np.ones(3))
    with pytest.raises(ValueError, match="units must be a positive integer"):
        L.Dense(0)


def test_dense_accepts_integer_inputs_and_regularizers_add_losses():
    d = L.Dense(2, kernel_initializer="ones", kernel_regularizer=regularizers.L2(0.1),
                activity_regularizer=regularizers.L1(0.5))
    y = d(np.arange(6, dtype=np.uint8).reshape(2, 3))  # MNIST-style uint8 pixels
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [[3, 3], [12, 12]])
    penalties = [float(p.item()) for p in d.losses]
    assert penalties == pytest.approx([0.1 * 6, 0.5 * 30])


def test_dense_config_round_trip():
    d = L.Dense(7, activation="relu", use_bias=False, kernel_initializer="he_normal",
                bias_initializer=initializers.Constant(0.5), kernel_regularizer=regularizers.L2(1e-3),
                activity_regularizer="l1", name="d7")
    clone = _roundtrip(d)
    assert clone.units == 7 and clone.use_bias is False and clone.name == "d7"
    assert isinstance(clone.kernel_initializer, initializers.HeNormal)
    assert isinstance(clone.kernel_regularizer, regularizers.L2) and clone.kernel_regularizer.l2 == 1e-3
    x = np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32)
    d(x)
    clone(x)
    clone.set_weights(d.get_weights())
    np.testing.assert_array_equal(clone(x).data, d(x).data)


# ------------------------------------------------------------------------ Activation, Flatten, Reshape
def test_activation_layer():
    a = L.Activation("softmax")
    x = _rng(2).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(a(x).data, F.softmax(cr.tensor(x)).data)
    assert a.compute_output_shape((None, 4)) == (None, 4)
    assert _roundtrip(a).get_config()["activation"] == "softmax"


def test_flatten_keeps_the_batch_axis_and_channels_first_order():
    torch = pytest.importorskip("torch")
    f = L.Flatten()
    x = _x(_rng(3).standard_normal((2, 3, 4, 5)))
    y = f(x)
    assert y.shape == (2, 60) and f.compute_output_shape((None, 3, 4, 5)) == (None, 60)
    np.testing.assert_array_equal(y.data, x.data.reshape(2, 60))
    y.backward(np.ones((2, 60), np.float32))
    np.testing.assert_array_equal(x.grad.data, np.ones(x.shape))
    assert L.Flatten()(np.ones(4)).shape == (4, 1)
    # channels_first: channels moved last first, so the order is that of the channels_last layout
    cf = L.Flatten(data_format="channels_first")
    xt = torch.tensor(x.data)
    np.testing.assert_array_equal(cf(x).data, torch.flatten(xt.permute(0, 2, 3, 1), 1).numpy())
    assert _roundtrip(cf).data_format == "channels_first"


def test_reshape_layer():
    r = L.Reshape((-1, 4))
    x = _x(np.arange(24.0).reshape(2, 12))
    y = r(x)
    assert y.shape == (2, 3, 4)
    assert r.compute_output_shape((None, 12)) == (None, 3, 4)
    assert r.compute_output_shape((None, None)) == (None, None, 4)
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.shape == (2, 12)
    with pytest.raises(ValueError, match=r"reshape.*cannot reshape samples of shape \(10,\)"):
        L.Reshape((3, 4), name="reshape_bad")(np.ones((2, 10)))
    with pytest.raises(ValueError, match="at most one -1"):
        L.Reshape((-1, -1))
    assert _roundtrip(L.Reshape((2, 6))).target_shape == (2, 6)


# ------------------------------------------------------------------------------------------ Dropout
def test_dropout_layer_only_in_training():
    d = L.Dropout(0.5)
    x = cr.tensor(np.ones((200, 100), np.float32))
    assert d(x) is x and d(x, training=False) is x
    y = d(x, training=True).data
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs((y == 0).mean() - 0.5) < 0.02
    assert d.count_params() == 0


def test_dropout_layer_seed_gives_a_reproducible_sequence_of_masks():
    x = np.ones((20, 30), np.float32)
    a, b = L.Dropout(0.3, seed=5), L.Dropout(0.3, seed=5)
    m1, m2 = a(x, training=True).data, a(x, training=True).data
    assert not np.array_equal(m1, m2)  # a new mask each step
    np.testing.assert_array_equal(m1, b(x, training=True).data)
    np.testing.assert_array_equal(m2, b(x, training=True).data)


def test_dropout_layer_bad_rate_and_config():
    for rate in (-0.5, 1.0, 2):
        with pytest.raises(ValueError, match=r"Dropout: rate must be a number in \[0, 1\)"):
            L.Dropout(rate)
    d = L.Dropout(0.25, noise_shape=(None, 1, 8), seed=3)
    clone = _roundtrip(d)
    assert clone.rate == 0.25 and clone.noise_shape == (None, 1, 8) and clone.seed == 3
    y = d(np.ones((4, 5, 8), np.float32), training=True).data
    assert (y == y[:, :1]).all()


# ------------------------------------------------------------------------------------------ BatchNormalization
def test_batch_normalization_weights_in_keras_order_and_counts():
    bn = L.BatchNormalization()
    bn(np.zeros((2, 16), np.float32))
    assert [w.name.split("/")[-1] for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert bn.count_params() == 64
    assert [w.name.split("/")[-1] for w in bn.trainable_weights] == ["gamma", "beta"]
    assert [w.name.split("/")[-1] for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    np.testing.assert_array_equal(bn.moving_variance.data, np.ones(16))
    plain = L.BatchNormalization(center=False, scale=False)
    plain(np.zeros((2, 4), np.float32))
    assert [w.name.split("/")[-1] for w in plain.weights] == ["moving_mean", "moving_variance"]


@pytest.mark.parametrize("shape,axis", [((8, 5), -1), ((4, 3, 3, 6), -1), ((4, 6, 3, 3), 1)])
def test_batch_normalization_matches_torch_over_training_steps_then_inference(shape, axis):
    torch = pytest.importorskip("torch")
    r = _rng(4)
    c = shape[axis]
    bn = L.BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3)
    tbn = torch.nn.BatchNorm1d(c, eps=1e-3, momentum=0.1) if len(shape) == 2 else \
        torch.nn.BatchNorm2d(c, eps=1e-3, momentum=0.1)
    to_t = (lambda a: a) if axis == 1 or len(shape) == 2 else (lambda a: a.permute(0, 3, 1, 2))
    from_t = (lambda a: a) if axis == 1 or len(shape) == 2 else (lambda a: a.permute(0, 2, 3, 1))
    bn(np.zeros(shape, np.float32))
    bn.gamma.data[...] = r.standard_normal(c) + 1
    bn.beta.data[...] = r.standard_normal(c)
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(bn.gamma.data))
        tbn.bias.copy_(torch.tensor(bn.beta.data))
    expected_var = expected_torch_var = np.ones(c)
    n = int(np.prod(shape)) // c
    for step in range(3):
        xa = (r.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        x = _x(xa)
        xt = torch.tensor(xa, requires_grad=True)
        tbn.train()
        y = bn(x, training=True)
        yt = from_t(tbn(to_t(xt)))
        _close(y.data, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        v = r.standard_normal(shape).astype(np.float32)
        bn.gamma.grad = bn.beta.grad = None
        tbn.zero_grad()
        y.backward(v)
        yt.backward(torch.tensor(v))
        _close(x.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
        _close(bn.gamma.grad.data, tbn.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
        _close(bn.beta.grad.data, tbn.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
        # moving mean: the same update as torch's running_mean
        _close(bn.moving_mean.data, tbn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
        # moving variance: Keras's rule with the biased batch variance (torch uses the unbiased one)
        batch_var = np.moveaxis(xa.astype(np.float64), axis, -1).reshape(-1, c).var(axis=0)
        expected_var = 0.9 * expected_var + 0.1 * batch_var
        _close(bn.moving_variance.data, expected_var, rtol=1e-5)
        # ... which is the documented difference: torch's rule has var_b * n / (n - 1)
        expected_torch_var = 0.9 * expected_torch_var + 0.1 * batch_var * n / (n - 1)
        _close(tbn.running_var.numpy(), expected_torch_var, rtol=1e-5)
        assert not np.allclose(bn.moving_variance.data, expected_torch_var, rtol=1e-3)
    # inference: the moving statistics (copy ours into torch, since the variances differ by design)
    with torch.no_grad():
        tbn.running_var.copy_(torch.tensor(bn.moving_variance.data))
    tbn.eval()
    xa = r.standard_normal(shape).astype(np.float32)
    x, xt = _x(xa), torch.tensor(xa, requires_grad=True)
    y, yt = bn(x), from_t(tbn(to_t(xt)))
    _close(y.data, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    v = r.standard_normal(shape).astype(np.float32)
    bn.gamma.grad = bn.beta.grad = None
    tbn.zero_grad()
    y.backward(v)
    yt.backward(torch.tensor(v))
    _close(x.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    _close(bn.gamma.grad.data, tbn.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    _close(bn.beta.grad.data, tbn.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_batch_normalization_frozen_layer_runs_in_inference_mode():
    bn = L.BatchNormalization()
    x = _rng(5).standard_normal((10, 3)).astype(np.float32) * 5 + 2
    bn(x)
    bn.trainable = False
    y = bn(x, training=True)
    np.testing.assert_array_equal(bn.moving_mean.data, np.zeros(3))  # no update
    np.testing.assert_allclose(y.data, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    assert bn.trainable_weights == []


def test_batch_normalization_bad_input_and_config():
    bn = L.BatchNormalization(name="bn")
    bn(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"bn: the layer was built for inputs of rank 2 with sizes \(4,\)"):
        bn(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="invalid axis 3"):
        L.BatchNormalization(axis=3)(np.zeros((2, 4)))
    bn2 = L.BatchNormalization(axis=1, momentum=0.8, epsilon=1e-5, center=False,
                               gamma_regularizer=regularizers.L2(0.01), moving_variance_initializer="zeros")
    clone = _roundtrip(bn2)
    assert clone.axis == 1 and clone.momentum == 0.8 and clone.epsilon == 1e-5 and clone.center is False
    assert bn2.compute_output_shape((None, 3, 5)) == (None, 3, 5)
    bn2(np.ones((2, 3, 5), np.float32), training=True)
    assert len(bn2.losses) == 1 and len(bn2.weights) == 3


# ------------------------------------------------------------------------------------------ LayerNormalization
@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((2, 5, 6), -1), ((2, 3, 4), [-2, -1])])
def test_layer_normalization_matches_torch(shape, axis):
    torch = pytest.importorskip("torch")
    r = _rng(6)
    ln = L.LayerNormalization(axis=axis)
    ln(np.zeros(shape, np.float32))
    nshape = ln.gamma.shape
    assert nshape == (tuple(shape[-1:]) if axis == -1 else tuple(shape[-2:]))
    ln.gamma.data[...] = r.standard_normal(nshape)
    ln.beta.data[...] = r.standard_normal(nshape)
    tln = torch.nn.LayerNorm(nshape, eps=1e-3)  # Keras's default epsilon, not torch's 1e-5
    with torch.no_grad():
        tln.weight.copy_(torch.tensor(ln.gamma.data))
        tln.bias.copy_(torch.tensor(ln.beta.data))
    xa = (r.standard_normal(shape) * 3 + 1).astype(np.float32)
    x, xt = _x(xa), torch.tensor(xa, requires_grad=True)
    y, yt = ln(x, training=True), tln(xt)
    _close(y.data, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    v = r.standard_normal(shape).astype(np.float32)
    y.backward(v)
    yt.backward(torch.tensor(v))
    _close(x.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    _close(ln.gamma.grad.data, tln.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    _close(ln.beta.grad.data, tln.bias.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_layer_normalization_weights_counts_and_config():
    ln = L.LayerNormalization()
    assert ln.epsilon == 1e-3
    ln(np.zeros((2, 10), np.float32))
    assert [w.name.split("/")[-1] for w in ln.weights] == ["gamma", "beta"]
    assert ln.count_params() == 20
    clone = _roundtrip(L.LayerNormalization(axis=[1, 2], epsilon=1e-5, scale=False))
    assert clone.axis == [1, 2] and clone.scale is False
    clone(np.ones((2, 3, 4), np.float32))
    assert [w.name.split("/")[-1] for w in clone.weights] == ["beta"]
    with pytest.raises(ValueError, match="the layer was built for inputs"):
        ln(np.zeros((2, 11), np.float32))


# ------------------------------------------------------------------------------------------ Embedding
def test_embedding_matches_torch_with_repeated_indices():
    torch = pytest.importorskip("torch")
    emb = L.Embedding(10, 4)
    idx = np.array([[1, 2, 1, 9], [0, 1, 1, 2]])
    y = emb(idx)
    assert y.shape == (2, 4, 4) and emb.compute_output_shape((None, 4)) == (None, 4, 4)
    (table,) = emb.weights
    assert table.name.endswith("embeddings") and table.shape == (10, 4) and emb.count_params() == 40
    assert np.abs(table.data).max() <= 0.05  # Keras's "uniform": RandomUniform(-0.05, 0.05)
    tt = torch.tensor(table.data, requires_grad=True)
    yt = torch.nn.functional.embedding(torch.tensor(idx), tt)
    _close(y.data, yt.detach().numpy())
    v = _rng(7).standard_normal(y.shape).astype(np.float32)
    y.backward(v)
    yt.backward(torch.tensor(v))
    _close(table.grad.data, tt.grad.numpy())
    assert np.abs(table.grad.data[1]).sum() > 0 and (table.grad.data[[3, 4, 5, 6, 7, 8]] == 0).all()


def test_embedding_bad_indices_name_layer_index_and_input_dim():
    emb = L.Embedding(5, 2, name="tokens")
    with pytest.raises(ValueError, match=r"tokens: index 7 is out of range \[0, 5\) for input_dim=5"):
        emb(np.array([[1, 7]]))
    with pytest.raises(ValueError, match=r"tokens: index -2 is out of range"):
        emb(np.array([[-2, 1]]))
    np.testing.assert_array_equal(emb(np.array([[1.0, 2.0]])).data, emb(np.array([[1, 2]])).data)


def test_embedding_config_round_trip():
    emb = L.Embedding(100, 8, embeddings_initializer="glorot_uniform",
                      embeddings_regularizer=regularizers.L1(1e-4), mask_zero=True, name="emb")
    clone = _roundtrip(emb)
    assert (clone.input_dim, clone.output_dim, clone.mask_zero) == (100, 8, True)
    assert isinstance(clone.embeddings_initializer, initializers.GlorotUniform)
    emb(np.array([[1, 2]]))
    assert len(emb.losses) == 1


# ------------------------------------------------------------------------------------------ together
def test_small_mlp_with_batch_norm_and_dropout_learns():
    """A few plain gradient steps on a toy problem: the layers compose and train."""
    cr.manual_seed(0)
    r = _rng(8)
    x = r.standard_normal((128, 6)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2] + 0.5).astype(np.float32)
    layers = [L.InputLayer(shape=(6,)), L.Dense(16, activation="relu"), L.BatchNormalization(), L.Dropout(0.1),
              L.Dense(1)]

    def forward(training):
        h = x
        for layer in layers:
            h = layer(h, training=training)
        return h

    def loss(training):
        d = forward(training) - cr.tensor(y)
        return (d * d).mean()

    first = float(loss(False).item())
    params = [w for l in layers for w in l.trainable_weights]
    for _ in range(60):
        value = loss(True)
        for p in params:
            p.grad = None
        value.backward()
        for p in params:
            p.data -= 0.05 * p.grad.data
    assert float(loss(False).item()) < 0.3 * first


@pytest.mark.parametrize("alias, cls, config", [
    ("uniform", "RandomUniform", {"minval": -0.05, "maxval": 0.05}),
    ("normal", "RandomNormal", {"mean": 0.0, "stddev": 0.05}),
    ("one", "Ones", {}), ("zero", "Zeros", {}),
])
def test_keras_short_initializer_aliases(alias, cls, config):
    """Keras 3 accepts "uniform" (its Embedding's default), "normal", "one" and "zero"."""
    init = cr.initializers.get(alias)
    assert type(init).__name__ == cls
    assert {k: init.get_config()[k] for k in config} == config
    emb = cr.layers.Embedding(10, 4, embeddings_initializer=alias)
    emb.build((None, 3))
    assert emb.embeddings.shape == (10, 4)
