"""SimpleRNN, LSTM, GRU, their cells, RNN(cell), Bidirectional, TimeDistributed and masking.

The layers are compared with torch.nn.RNN / LSTM / GRU given the same weights (mapped by the
layout table in layers/recurrent.py): outputs, final states, and the gradients of the input and
of every weight, in float32 and float64.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L

torch = pytest.importorskip("torch")

TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-11)}
B, T, D, U = 3, 6, 5, 4


def _gru_blocks(a, u):
    """Keras (z, r, h) blocks on the first axis -> PyTorch's (r, z, n)."""
    return np.concatenate([a[u:2 * u], a[:u], a[2 * u:]], axis=0)


def copy_to_torch(layer, mod, suffix="_l0"):
    """Give the torch module the chainrule layer's weights (the documented mapping)."""
    cell = layer.cell
    k, rk = cell.kernel.data.T, cell.recurrent_kernel.data.T
    u = cell.units
    if isinstance(cell, L.GRUCell):
        k, rk = _gru_blocks(k, u), _gru_blocks(rk, u)
        b_ih, b_hh = _gru_blocks(cell.bias.data[0], u), _gru_blocks(cell.bias.data[1], u)
    else:
        b_ih, b_hh = cell.bias.data, np.zeros_like(cell.bias.data)
    with torch.no_grad():
        for name, v in (("weight_ih", k), ("weight_hh", rk), ("bias_ih", b_ih), ("bias_hh", b_hh)):
            getattr(mod, name + suffix).copy_(torch.from_numpy(np.ascontiguousarray(v)))


def torch_grads_to_keras(layer, mod, suffix="_l0"):
    """The torch module's weight gradients in the chainrule layer's layouts."""
    u = layer.cell.units
    g = {n: getattr(mod, n + suffix).grad.numpy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if isinstance(layer.cell, L.GRUCell):
        back = lambda a: np.concatenate([a[u:2 * u], a[:u], a[2 * u:]], axis=0)  # (r, z, n) -> (z, r, h)
        return [back(g["weight_ih"]).T, back(g["weight_hh"]).T, np.stack([back(g["bias_ih"]), back(g["bias_hh"])])]
    return [g["weight_ih"].T, g["weight_hh"].T, g["bias_ih"]]


def make(kind, units=U, **kw):
    layer = {"lstm": L.LSTM, "gru": L.GRU, "rnn": L.SimpleRNN}[kind](units, **kw)
    return layer


def torch_mod(kind, dtype, input_size=D, hidden=U, **kw):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    return cls(input_size, hidden, batch_first=True, **kw).to(getattr(torch, dtype))


def _randomize_biases(layer, rng):
    layer.cell.bias.data[...] = rng.normal(size=layer.cell.bias.shape) * 0.3


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_layer_matches_torch(kind, dtype, return_sequences):
    cr.set_floatx(dtype)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, D)).astype(dtype)
    layer = make(kind, return_sequences=return_sequences, return_state=True)
    xt = cr.Tensor(x, requires_grad=True)
    out, *states = layer(xt)
    _randomize_biases(layer, rng)
    out, *states = layer(xt)
    mod = torch_mod(kind, dtype)
    copy_to_torch(layer, mod)
    xtt = torch.from_numpy(x).requires_grad_(True)
    y, hn = mod(xtt)
    hn = list(hn) if kind == "lstm" else [hn]
    ref = y if return_sequences else y[:, -1]
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL[dtype])
    for s, r in zip(states, hn):
        np.testing.assert_allclose(s.data, r[0].detach().numpy(), **TOL[dtype])
    cot = rng.normal(size=out.shape).astype(dtype)
    cot_s = [rng.normal(size=s.shape).astype(dtype) for s in states]
    loss = (out * cr.Tensor(cot)).sum() + sum((s * cr.Tensor(c)).sum() for s, c in zip(states, cot_s))
    grads = cr.grad(loss, [xt] + layer.weights)
    tloss = (ref * torch.from_numpy(cot)).sum() + sum((r[0] * torch.from_numpy(c)).sum() for r, c in zip(hn, cot_s))
    tloss.backward()
    np.testing.assert_allclose(grads[0].data, xtt.grad.numpy(), **TOL[dtype])
    for g, r in zip(grads[1:], torch_grads_to_keras(layer, mod)):
        np.testing.assert_allclose(g.data, r, **TOL[dtype])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_go_backwards_and_initial_state(kind):
    cr.set_floatx("float64")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, D))
    states = [rng.normal(size=(B, U)) for _ in range(2 if kind == "lstm" else 1)]
    layer = make(kind, return_sequences=True, go_backwards=True)
    out = layer(x, initial_state=[cr.Tensor(s) for s in states])
    mod = torch_mod(kind, "float64")
    copy_to_torch(layer, mod)
    init = tuple(torch.from_numpy(s)[None] for s in states)
    y, _ = mod(torch.from_numpy(x[:, ::-1].copy()), init if kind == "lstm" else init[0])
    np.testing.assert_allclose(out.data, y.detach().numpy(), **TOL["float64"])  # processing order, as Keras


def test_stacked_layers_and_stacked_cells_match_torch():
    cr.set_floatx("float64")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(B, T, D))
    l1, l2 = L.LSTM(U, return_sequences=True), L.LSTM(U, return_sequences=True)
    y = l2(l1(x))
    mod = torch.nn.LSTM(D, U, num_layers=2, batch_first=True).double()
    copy_to_torch(l1, mod, "_l0")
    copy_to_torch(l2, mod, "_l1")
    np.testing.assert_allclose(y.data, mod(torch.from_numpy(x))[0].detach().numpy(), **TOL["float64"])
    stacked = L.RNN([l1.cell, l2.cell], return_sequences=True)  # the same cells, stepped as one
    np.testing.assert_allclose(stacked(x).data, y.data, **TOL["float64"])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bidirectional_matches_torch(kind):
    cr.set_floatx("float64")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, T, D))
    bi = L.Bidirectional(make(kind, return_sequences=True))
    y = bi(x)
    assert y.shape == (B, T, 2 * U) and len(bi.weights) == 6
    mod = torch_mod(kind, "float64", bidirectional=True)
    copy_to_torch(bi.forward_layer, mod, "_l0")
    copy_to_torch(bi.backward_layer, mod, "_l0_reverse")
    np.testing.assert_allclose(y.data, mod(torch.from_numpy(x))[0].detach().numpy(), **TOL["float64"])


@pytest.mark.parametrize("merge_mode", ["sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(B, T, D)).astype("float32")
    bi = L.Bidirectional(L.GRU(U, return_sequences=True), merge_mode=merge_mode)
    out = bi(x)
    f = bi.forward_layer(x).data
    b = bi.backward_layer(x).data[:, ::-1]
    want = {"sum": f + b, "mul": f * b, "ave": (f + b) / 2}.get(merge_mode)
    if merge_mode is None:
        np.testing.assert_allclose(out[0].data, f, rtol=1e-6)
        np.testing.assert_allclose(out[1].data, b, rtol=1e-6)
    else:
        np.testing.assert_allclose(out.data, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_mask_matches_packed_sequences(kind):
    cr.set_floatx("float64")
    rng = np.random.default_rng(5)
    lengths = np.array([6, 2, 4])
    x = rng.normal(size=(B, T, D))
    mask = np.arange(T)[None, :] < lengths[:, None]
    x[~mask] = 0.0
    layer = make(kind, return_sequences=True, return_state=True)
    out, *states = layer(x, mask=mask)
    mod = torch_mod(kind, "float64")
    copy_to_torch(layer, mod)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lengths),
                                                     batch_first=True, enforce_sorted=False)
    y, hn = mod(packed)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=T)
    hn = list(hn) if kind == "lstm" else [hn]
    for s, r in zip(states, hn):
        np.testing.assert_allclose(s.data, r[0].detach().numpy(), **TOL["float64"])
    np.testing.assert_allclose(out.data[mask], y.detach().numpy()[mask], **TOL["float64"])
    # Keras: at a padded step the output is the carried (last real) output
    last_real = out.data[np.arange(B), lengths - 1]
    np.testing.assert_allclose(out.data[:, -1], last_real, **TOL["float64"])
    # and each sequence alone gives the same final state
    for b in range(B):
        alone = layer(x[b:b + 1, :lengths[b]])
        np.testing.assert_allclose(alone[1].data[0], states[0].data[b], **TOL["float64"])


def test_masks_from_embedding_and_masking_layers():
    ids = np.array([[3, 1, 4, 0, 0], [2, 7, 0, 0, 0]])
    emb = L.Embedding(10, 4, mask_zero=True)
    h = emb(ids)
    np.testing.assert_array_equal(h._keras_mask, ids != 0)
    lstm = L.LSTM(3)
    full = lstm(h)
    alone = lstm(emb(ids[:1, :3]))
    np.testing.assert_allclose(full.data[0], alone.data[0], rtol=1e-5)
    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
    x[0, 3:] = 0.0
    masked = L.Masking(0.0)(x)
    np.testing.assert_array_equal(masked._keras_mask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    gru = L.GRU(3)
    np.testing.assert_allclose(gru(masked).data[0], gru(x[:1, :3]).data[0], rtol=1e-5)
    seq = L.LSTM(3, return_sequences=True)(h)
    np.testing.assert_array_equal(seq._keras_mask, ids != 0)  # return_sequences passes the mask on
    assert getattr(full, "_keras_mask", None) is None


def test_stateful_across_calls_and_reset():
    cr.set_floatx("float64")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(B, T, D))
    layer = L.LSTM(U, stateful=True, return_sequences=True)
    first = layer(x[:, :3])
    second = layer(x[:, 3:])
    whole = L.LSTM(U, return_sequences=True)
    whole(x)
    whole.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.concatenate([first.data, second.data], 1), whole(x).data, rtol=1e-10)
    layer.reset_states()
    np.testing.assert_allclose(layer(x[:, :3]).data, first.data, rtol=1e-10)
    with pytest.raises(ValueError, match="batch size"):
        layer(x[:2])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_200_step_sequence_matches_torch(kind):
    cr.set_floatx("float64")
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 200, 3))
    layer = make(kind, 5)
    xt = cr.Tensor(x, requires_grad=True)
    y = layer(xt)
    mod = torch_mod(kind, "float64", 3, 5)
    copy_to_torch(layer, mod)
    xtt = torch.from_numpy(x).requires_grad_(True)
    ty = mod(xtt)[0][:, -1]
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **TOL["float64"])
    g = cr.grad(y.sum(), [xt])[0]
    ty.sum().backward()
    np.testing.assert_allclose(g.data, xtt.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_dropout_semantics():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = L.LSTM(U, dropout=0.5, return_sequences=True)
    inference = layer(x)
    np.testing.assert_allclose(layer(x).data, inference.data)  # no dropout outside training
    cr.manual_seed(1)
    fused = layer(x, training=True)
    cr.manual_seed(1)
    stepped = L.RNN(layer.cell, return_sequences=True)(x, training=True)  # the cell, step by step
    np.testing.assert_allclose(fused.data, stepped.data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(fused.data, inference.data)
    rec = L.GRU(U, recurrent_dropout=0.3, dropout=0.2)
    rec(x)
    xt = cr.Tensor(x, requires_grad=True)
    y = rec(xt, training=True)
    g = cr.grad(y.sum(), [xt] + rec.weights)
    assert all(np.isfinite(a.data).all() for a in g)
    assert rec.cell._dropout_mask is None  # masks are drawn per sequence, not kept between calls


class MinimalRNNCell(L.Layer):
    """Keras's documentation example of a custom cell: h_t = x_t W + h_{t-1} U."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units))
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, self.units))
        self.built = True

    def call(self, inputs, states, training=False):
        h = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return h, [h]


def test_rnn_with_a_users_cell():
    cr.set_floatx("float64")
    x = np.random.default_rng(10).normal(size=(B, T, D))
    layer = L.RNN(MinimalRNNCell(U), return_sequences=True)
    xt = cr.Tensor(x, requires_grad=True)
    y = layer(xt)
    W, Uk = [w.data for w in layer.weights]
    h = np.zeros((B, U))
    for t in range(T):
        h = x[:, t] @ W + h @ Uk
        np.testing.assert_allclose(y.data[:, t], h, rtol=1e-10)
    g = cr.grad(y.sum(), layer.weights)
    assert [a.shape for a in g] == [(D, U), (U, U)]


def test_time_distributed():
    x = np.random.default_rng(11).normal(size=(B, T, D)).astype("float32")
    td = L.TimeDistributed(L.Dense(2))
    y = td(x)
    np.testing.assert_allclose(y.data, td.layer(x.reshape(-1, D)).data.reshape(B, T, 2), rtol=1e-6)
    assert td.compute_output_shape((None, None, D)) == (None, None, 2)


def test_parameter_counts_and_summary(capsys):
    model = cr.Sequential([L.Input(shape=(10, 64)), L.LSTM(64)])
    assert model.count_params() == 33_024
    model.summary()
    assert "33,024" in capsys.readouterr().out
    gru = L.GRU(8)
    gru(np.zeros((1, 2, 5), "float32"))
    assert gru.count_params() == 3 * 8 * (5 + 8 + 2)
    gru2 = L.GRU(8, reset_after=False)
    gru2(np.zeros((1, 2, 5), "float32"))
    assert gru2.count_params() == 3 * 8 * (5 + 8 + 1)
    lstm = L.LSTM(4)
    lstm(np.zeros((1, 2, 3), "float32"))
    assert [w.shape for w in lstm.weights] == [(3, 16), (4, 16), (16,)]
    np.testing.assert_array_equal(lstm.cell.bias.data, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    k = lstm.cell.recurrent_kernel.data
    np.testing.assert_allclose(k @ k.T, np.eye(4), atol=1e-5)  # orthogonal rows


def test_compute_output_shape():
    assert L.LSTM(7).compute_output_shape((None, None, 3)) == (None, 7)
    assert L.GRU(7, return_sequences=True).compute_output_shape((None, 5, 3)) == (None, 5, 7)
    assert L.LSTM(7, return_state=True).compute_output_shape((2, 5, 3)) == [(2, 7), (2, 7), (2, 7)]
    assert L.Bidirectional(L.LSTM(7, return_sequences=True)).compute_output_shape((None, 5, 3)) == (None, 5, 14)
    assert L.Bidirectional(L.GRU(7), merge_mode="sum").compute_output_shape((None, 5, 3)) == (None, 7)


def test_config_round_trips():
    for layer in [L.LSTM(5, dropout=0.1, return_sequences=True, go_backwards=True, unit_forget_bias=False),
                  L.GRU(4, reset_after=False, activation="relu"), L.SimpleRNN(3, stateful=True),
                  L.Masking(-1.0), L.RNN([L.LSTMCell(3), L.GRUCell(2)]),
                  L.Bidirectional(L.LSTM(3), merge_mode="ave"), L.TimeDistributed(L.Dense(2))]:
        cfg = layer.get_config()
        again = type(layer).from_config(cfg)
        assert again.get_config() == cfg


def test_save_and_load_recurrent_models(tmp_path):
    rng = np.random.default_rng(12)
    ids = rng.integers(1, 20, size=(4, 7))
    ids[0, 4:] = 0
    model = cr.Sequential([
        L.Input(shape=(7,), dtype="int64"), L.Embedding(20, 6, mask_zero=True),
        L.Bidirectional(L.LSTM(5, return_sequences=True)), L.GRU(4, return_sequences=True),
        L.TimeDistributed(L.Dense(3)), L.RNN([L.SimpleRNNCell(3), L.LSTMCell(2)]), L.Dense(2),
    ])
    before = model.predict(ids, verbose=0)
    path = tmp_path / "rec.keras"
    model.save(path)
    loaded = cr.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), before, rtol=1e-6)


def test_bad_inputs_name_the_layer():
    with pytest.raises(ValueError, match="LSTM: units must be a positive integer, got 0"):
        L.LSTM(0)
    with pytest.raises(ValueError, match="units"):
        L.GRUCell(-2)
    lstm = L.LSTM(3, name="my_lstm")
    with pytest.raises(ValueError, match="my_lstm.*rank 3"):
        lstm(np.zeros((2, 4), "float32"))
    lstm(np.zeros((2, 4, 5), "float32"))
    with pytest.raises(ValueError, match="my_lstm.*5 features"):
        lstm(np.zeros((2, 4, 6), "float32"))
    with pytest.raises(ValueError, match="my_lstm: mask of shape"):
        lstm(np.zeros((2, 4, 5), "float32"), mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="merge_mode"):
        L.Bidirectional(L.LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="dropout"):
        L.LSTM(3, dropout=1.5)
    with pytest.raises(ValueError, match="initial_state"):
        L.GRU(3)(np.zeros((2, 4, 5), "float32"), initial_state=[np.zeros((2, 4), "float32")])


def test_masks_flow_through_sequential():
    model = cr.Sequential([L.Input(shape=(None,), dtype="int64"), L.Embedding(10, 4, mask_zero=True),
                           L.Dense(4), L.LSTM(3)])
    ids = np.array([[3, 1, 4, 0, 0]])
    np.testing.assert_allclose(model(ids).data, model(ids[:, :3]).data, rtol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_v1", "rnn"])
@pytest.mark.parametrize("go_backwards,zero_out", [(False, False), (True, False), (True, True)])
def test_fused_layer_equals_stepping_its_cell(kind, go_backwards, zero_out):
    cr.set_floatx("float64")
    rng = np.random.default_rng(13)
    x = rng.normal(size=(B, T, D))
    mask = rng.random((B, T)) > 0.3
    kw = dict(return_sequences=True, return_state=True, go_backwards=go_backwards, zero_output_for_mask=zero_out)
    layer = make("gru", reset_after=False, **kw) if kind == "gru_v1" else make(kind, **kw)
    xt = cr.Tensor(x, requires_grad=True)
    fused = layer(xt, mask=mask)
    _randomize_biases(layer, rng)
    fused = layer(xt, mask=mask)
    stepped = L.RNN(layer.cell, **kw)(xt, mask=mask)
    for a, b in zip(fused, stepped):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)
    g1 = cr.grad(sum((o * o).sum() for o in fused), [xt] + layer.weights)
    g2 = cr.grad(sum((o * o).sum() for o in stepped), [xt] + layer.weights)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-9, atol=1e-11)

