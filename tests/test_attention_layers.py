"""MultiHeadAttention, TransformerEncoder/Decoder against PyTorch with mapped weights; masks; errors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers

torch = pytest.importorskip("torch")

TOL = {"float32": dict(rtol=2e-4, atol=3e-5), "float64": dict(rtol=1e-8, atol=1e-10)}


def _t(a, dtype):
    return torch.tensor(np.asarray(a, dtype=dtype))


def map_mha(mha, tmha, dtype):
    """Copy a chainrule MultiHeadAttention's weights into torch.nn.MultiheadAttention."""
    e = tmha.embed_dim
    wq, bq, wk, bk, wv, bv, wo, bo = [w.numpy() for w in mha.weights]
    with torch.no_grad():
        tmha.in_proj_weight.copy_(_t(np.concatenate([w.reshape(e, e).T for w in (wq, wk, wv)]), dtype))
        tmha.in_proj_bias.copy_(_t(np.concatenate([b.reshape(-1) for b in (bq, bk, bv)]), dtype))
        tmha.out_proj.weight.copy_(_t(wo.reshape(e, e).T, dtype))
        tmha.out_proj.bias.copy_(_t(bo, dtype))
    return [(wq, tmha.in_proj_weight, "q"), (wo, tmha.out_proj.weight, "o")]


def _mha_grads_match(mha, tmha, dtype):
    e = tmha.embed_dim
    g = [w.grad.numpy() for w in mha.weights]
    tg = tmha.in_proj_weight.grad.numpy()
    for i, w in enumerate((g[0], g[2], g[4])):
        np.testing.assert_allclose(w.reshape(e, e).T, tg[i * e:(i + 1) * e], **TOL[dtype])
    tb = tmha.in_proj_bias.grad.numpy()
    for i, b in enumerate((g[1], g[3], g[5])):
        np.testing.assert_allclose(b.reshape(-1), tb[i * e:(i + 1) * e], **TOL[dtype])
    np.testing.assert_allclose(g[6].reshape(e, e).T, tmha.out_proj.weight.grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(g[7], tmha.out_proj.bias.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["self", "cross", "padding", "causal", "attention_mask"])
def test_multi_head_attention_matches_torch(dtype, case):
    cr.set_floatx(dtype)
    rng = np.random.default_rng(0)
    b, t, s, e, h = 2, 5, 7 if case in ("cross", "padding") else 5, 8, 2
    x = rng.normal(size=(b, t, e))
    y = x if case in ("self", "causal", "attention_mask") else rng.normal(size=(b, s, e))
    mha = layers.MultiHeadAttention(num_heads=h, key_dim=e // h)
    q = cr.tensor(x, dtype=dtype, requires_grad=True)
    v = q if y is x else cr.tensor(y, dtype=dtype, requires_grad=True)
    tq = _t(x, dtype).requires_grad_()
    tv = tq if y is x else _t(y, dtype).requires_grad_()
    kw, tkw = {}, {}
    if case == "padding":
        pad = np.ones((b, s), bool)
        pad[0, 4:] = False
        v._keras_mask = pad  # as Embedding(mask_zero=True) would set it
        tkw = {"key_padding_mask": torch.tensor(~pad)}
    elif case == "causal":
        kw = {"use_causal_mask": True}
        tkw = {"attn_mask": torch.triu(torch.ones(t, t, dtype=torch.bool), 1)}
    elif case == "attention_mask":
        am = rng.random((b, t, t)) > 0.3
        am[:, np.arange(t), np.arange(t)] = True
        kw = {"attention_mask": am.astype(np.int64)}  # Keras: 1 = may attend
        tkw = {"attn_mask": torch.tensor(np.repeat(~am, h, axis=0))}  # torch: True = masked out
    out = mha(q, v, **kw)
    tmha = torch.nn.MultiheadAttention(e, h, batch_first=True, dtype=getattr(torch, dtype))
    map_mha(mha, tmha, dtype)
    ref, _ = tmha(tq, tv, tv, need_weights=False, **tkw)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL[dtype])
    g = rng.normal(size=out.shape)
    out.backward(cr.tensor(g, dtype=dtype))
    ref.backward(_t(g, dtype))
    np.testing.assert_allclose(q.grad.numpy(), tq.grad.numpy(), **TOL[dtype])
    if v is not q:
        np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), **TOL[dtype])
    _mha_grads_match(mha, tmha, dtype)


def test_multi_head_attention_keras_layouts_scores_and_output_shape():
    mha = layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, output_shape=6)
    q, v = np.ones((2, 7, 10), np.float32), np.ones((2, 9, 11), np.float32)
    out, scores = mha(q, v, return_attention_scores=True)
    assert [tuple(w.shape) for w in mha.weights] == [(10, 3, 4), (3, 4), (11, 3, 4), (3, 4), (11, 3, 5), (3, 5),
                                                      (3, 5, 6), (6,)]
    assert out.shape == (2, 7, 6) and scores.shape == (2, 3, 7, 9)
    np.testing.assert_allclose(scores.numpy().sum(-1), 1, rtol=1e-6)
    assert mha.compute_output_shape((None, 7, 10), (None, 9, 11)) == (None, 7, 6)
    np.testing.assert_allclose(out.numpy(), mha(q, v).numpy(), rtol=1e-5, atol=1e-6)
    nb = layers.MultiHeadAttention(2, 4, use_bias=False)
    nb(q, q)
    assert len(nb.weights) == 4


def test_multi_head_attention_query_mask_zeroes_padded_rows_and_masks_combine():
    rng = np.random.default_rng(1)
    mha = layers.MultiHeadAttention(2, 3)
    x = cr.tensor(rng.normal(size=(2, 4, 6)))
    x._keras_mask = np.array([[True, True, True, False], [True, True, False, False]])
    out, scores = mha(x, x, return_attention_scores=True, use_causal_mask=True)
    sc = scores.numpy()
    assert np.all(sc[0, :, 3] == 0) and np.all(sc[1, :, 2:] == 0)  # padded queries attend to nothing
    assert np.all(sc[0, :, 0, 1:] == 0)  # causal
    assert np.all(sc[0, :, 2, 3] == 0)  # padded key
    np.testing.assert_array_equal(out._keras_mask, x._keras_mask)


def test_multi_head_attention_attention_axes_over_two_axes_equals_flattened():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4, 6)).astype(np.float32)
    mha = layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))
    out = mha(x, x).numpy()
    flat = mha.attend(cr.tensor(x.reshape(2, 12, 6)), cr.tensor(x.reshape(2, 12, 6)),
                      cr.tensor(x.reshape(2, 12, 6))).numpy()
    np.testing.assert_allclose(out.reshape(2, 12, 6), flat, rtol=1e-5, atol=1e-6)
    # attending over axis 2 only: each row of axis 1 is its own sequence
    mha2 = layers.MultiHeadAttention(2, 3, attention_axes=2)
    out2 = mha2(x, x).numpy()
    row = mha2(x[:, 1:2], x[:, 1:2]).numpy()
    np.testing.assert_allclose(out2[:, 1:2], row, rtol=1e-5, atol=1e-6)


def test_multi_head_attention_bad_input():
    with pytest.raises(ValueError, match="key_dim must be a positive integer"):
        layers.MultiHeadAttention(2, 0)
    mha = layers.MultiHeadAttention(2, 4)
    x = np.zeros((2, 5, 8), np.float32)
    with pytest.raises(ValueError, match=r"attention_mask of shape \(2, 5, 4\) does not broadcast to "
                                         r"\(batch, T, S\) = \(2, 5, 5\)"):
        mha(x, x, attention_mask=np.ones((2, 5, 4)))
    with pytest.raises(TypeError, match="needs a query and a value"):
        mha(x)


def test_multi_head_attention_config_round_trip_and_gradcheck():
    cr.set_floatx("float64")
    mha = layers.MultiHeadAttention(2, 2, value_dim=3, dropout=0.1, output_shape=5, name="mha_x")
    clone = layers.MultiHeadAttention.from_config(mha.get_config())
    assert clone.get_config() == mha.get_config()
    rng = np.random.default_rng(3)
    q = cr.tensor(rng.normal(size=(1, 3, 4)), requires_grad=True)
    v = cr.tensor(rng.normal(size=(1, 2, 4)), requires_grad=True)
    mha(q, v)
    assert cr.gradcheck(lambda a, b: mha(a, b), [q, v])


# ------------------------------------------------------------------ Transformer blocks
def _map_block(block, tlayer, dtype, decoder=False):
    """Copy a chainrule Transformer block's weights into torch's TransformerEncoderLayer/DecoderLayer."""
    ws = [w.numpy() for w in block.weights]
    e = ws[0].shape[0]

    def mha_into(tm, w8):
        wq, bq, wk, bk, wv, bv, wo, bo = w8
        with torch.no_grad():
            tm.in_proj_weight.copy_(_t(np.concatenate([w.reshape(e, e).T for w in (wq, wk, wv)]), dtype))
            tm.in_proj_bias.copy_(_t(np.concatenate([b.reshape(-1) for b in (bq, bk, bv)]), dtype))
            tm.out_proj.weight.copy_(_t(wo.reshape(e, e).T, dtype))
            tm.out_proj.bias.copy_(_t(bo, dtype))

    def ln_into(tn, g, b):
        with torch.no_grad():
            tn.weight.copy_(_t(g, dtype))
            tn.bias.copy_(_t(b, dtype))

    mha_into(tlayer.self_attn, ws[0:8])
    ln_into(tlayer.norm1, ws[8], ws[9])
    i = 10
    if decoder:
        mha_into(tlayer.multihead_attn, ws[10:18])
        ln_into(tlayer.norm2, ws[18], ws[19])
        i = 20
    ln_into(tlayer.norm3 if decoder else tlayer.norm2, ws[i], ws[i + 1])
    with torch.no_grad():
        tlayer.linear1.weight.copy_(_t(ws[i + 2].T, dtype))
        tlayer.linear1.bias.copy_(_t(ws[i + 3], dtype))
        tlayer.linear2.weight.copy_(_t(ws[i + 4].T, dtype))
        tlayer.linear2.bias.copy_(_t(ws[i + 5], dtype))
    tparams = dict(tlayer.named_parameters())
    return tparams


def _check_param_grads(block, tparams, dtype, decoder=False):
    """Compare the feed-forward and layer-norm gradients (the attention ones are covered above)."""
    gs = [w.grad.numpy() for w in block.weights]
    i = 20 if decoder else 10
    norm_ff = "norm3" if decoder else "norm2"
    np.testing.assert_allclose(gs[8], tparams["norm1.weight"].grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(gs[i], tparams[f"{norm_ff}.weight"].grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(gs[i + 1], tparams[f"{norm_ff}.bias"].grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(gs[i + 2].T, tparams["linear1.weight"].grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(gs[i + 4].T, tparams["linear2.weight"].grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(gs[i + 5], tparams["linear2.bias"].grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(gs[6].reshape(gs[6].shape[0] * gs[6].shape[1], -1).T,
                               tparams["self_attn.out_proj.weight"].grad.numpy(), **TOL[dtype])
    if decoder:
        np.testing.assert_allclose(gs[16].reshape(-1, gs[16].shape[-1]).T,
                                   tparams["multihead_attn.out_proj.weight"].grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("normalize_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_matches_torch(dtype, normalize_first, activation):
    cr.set_floatx(dtype)
    rng = np.random.default_rng(4)
    b, t, e, h, ff = 2, 6, 8, 2, 16
    x = rng.normal(size=(b, t, e))
    pad = np.ones((b, t), bool)
    pad[1, 4:] = False
    enc = layers.TransformerEncoder(ff, h, activation=activation, normalize_first=normalize_first)
    cx = cr.tensor(x, dtype=dtype, requires_grad=True)
    out = enc(cx, padding_mask=pad)
    tl = torch.nn.TransformerEncoderLayer(e, h, ff, dropout=0.0, activation=activation, batch_first=True,
                                          norm_first=normalize_first, dtype=getattr(torch, dtype))
    tparams = _map_block(enc, tl, dtype)
    tx = _t(x, dtype).requires_grad_()
    ref = tl(tx, src_key_padding_mask=torch.tensor(~pad))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL[dtype])
    g = rng.normal(size=out.shape)
    out.backward(cr.tensor(g, dtype=dtype))
    ref.backward(_t(g, dtype))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), **TOL[dtype])
    _check_param_grads(enc, tparams, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("normalize_first", [False, True])
def test_transformer_decoder_matches_torch(dtype, normalize_first):
    cr.set_floatx(dtype)
    rng = np.random.default_rng(5)
    b, t, s, e, h, ff = 2, 5, 7, 8, 2, 12
    x, mem = rng.normal(size=(b, t, e)), rng.normal(size=(b, s, e))
    enc_pad = np.ones((b, s), bool)
    enc_pad[0, 5:] = False
    dec = layers.TransformerDecoder(ff, h, normalize_first=normalize_first)
    cx = cr.tensor(x, dtype=dtype, requires_grad=True)
    cm = cr.tensor(mem, dtype=dtype, requires_grad=True)
    out = dec(cx, cm, encoder_padding_mask=enc_pad)
    tl = torch.nn.TransformerDecoderLayer(e, h, ff, dropout=0.0, batch_first=True, norm_first=normalize_first,
                                          dtype=getattr(torch, dtype))
    tparams = _map_block(dec, tl, dtype, decoder=True)
    tx, tm = _t(x, dtype).requires_grad_(), _t(mem, dtype).requires_grad_()
    ref = tl(tx, tm, tgt_mask=torch.triu(torch.ones(t, t, dtype=torch.bool), 1),
             memory_key_padding_mask=torch.tensor(~enc_pad))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL[dtype])
    g = rng.normal(size=out.shape)
    out.backward(cr.tensor(g, dtype=dtype))
    ref.backward(_t(g, dtype))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(cm.grad.numpy(), tm.grad.numpy(), **TOL[dtype])
    _check_param_grads(dec, tparams, dtype, decoder=True)


def test_decoder_without_encoder_is_causal_and_mask_from_input_is_honoured():
    rng = np.random.default_rng(6)
    dec = layers.TransformerDecoder(16, 2, normalize_first=True)
    x = rng.normal(size=(1, 6, 8)).astype(np.float32)
    a = dec(x).numpy()
    x2 = x.copy()
    x2[:, 4:] = rng.normal(size=(2, 8))
    b = dec(x2).numpy()
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-6, atol=1e-6)
    assert len(dec.weights) == 16
    enc = layers.TransformerEncoder(16, 2)
    y = cr.tensor(x)
    y._keras_mask = np.array([[True] * 4 + [False] * 2])
    with_mask = enc(y).numpy()
    explicit = enc(cr.tensor(x), padding_mask=y._keras_mask).numpy()
    np.testing.assert_array_equal(with_mask, explicit)
    y2 = cr.tensor(x2)
    y2._keras_mask = y._keras_mask
    np.testing.assert_allclose(enc(y2).numpy()[:, :4], with_mask[:, :4], rtol=1e-5, atol=1e-6)


def test_transformer_config_round_trips_and_shapes():
    for layer in (layers.TransformerEncoder(32, 4, dropout=0.1, activation="gelu", normalize_first=True),
                  layers.TransformerDecoder(32, 4, layer_norm_epsilon=1e-6)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        assert layer.compute_output_shape((None, 10, 16)) == (None, 10, 16)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        layers.TransformerEncoder(8, 3)(np.zeros((1, 2, 8), np.float32))


# ------------------------------------------------------------------ Attention, AdditiveAttention
def _luong_reference(q, v, k, scale=1.0, v_mask=None, q_mask=None, causal=False):
    s = scale * q @ np.swapaxes(k, -1, -2)
    allowed = np.ones(s.shape, bool)
    if v_mask is not None:
        allowed &= v_mask[:, None, :]
    if causal:
        allowed &= np.tril(np.ones(s.shape[-2:], bool))
    s = s - 1e9 * (~allowed)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    out = w @ v
    return out * q_mask[..., None] if q_mask is not None else out


def test_attention_dot_and_masks_match_keras_formula():
    rng = np.random.default_rng(7)
    q, v, k = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6)), rng.normal(size=(2, 5, 4))
    vm = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    qm = np.array([[1, 1, 0], [1, 1, 1]], bool)
    cr.set_floatx("float64")
    att = layers.Attention()
    out, w = att([q, v, k], mask=[qm, vm], return_attention_scores=True)
    np.testing.assert_allclose(out.numpy(), _luong_reference(q, v, k, v_mask=vm, q_mask=qm), rtol=1e-10)
    assert out.shape == (2, 3, 6) and w.shape == (2, 3, 5)
    sc = layers.Attention(use_scale=True)
    sc([q, v, k])
    sc.scale.data[...] = 0.5
    np.testing.assert_allclose(sc([q, v, k], use_causal_mask=True).numpy(),
                               _luong_reference(q, v, k, 0.5, causal=True), rtol=1e-10)
    qq = cr.tensor(q, requires_grad=True)
    assert cr.gradcheck(lambda a: layers.Attention(score_mode="concat")([a, cr.tensor(k)]), [qq])


def test_additive_attention_formula_weights_and_config():
    rng = np.random.default_rng(8)
    cr.set_floatx("float64")
    q, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    att = layers.AdditiveAttention()
    out = att([q, v]).numpy()
    scale = att.scale.numpy()
    s = (scale * np.tanh(q[:, :, None, :] + v[:, None, :, :])).sum(-1)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    np.testing.assert_allclose(out, w @ v, rtol=1e-10)
    assert [tuple(x.shape) for x in att.weights] == [(4,)]
    assert layers.AdditiveAttention.from_config(att.get_config()).get_config() == att.get_config()
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="cosine")


# ------------------------------------------------------------------ position layers
def test_position_layers():
    x = np.zeros((2, 5, 6), np.float32)
    pe = layers.PositionEmbedding(8)
    out = pe(x)
    assert out.shape == (2, 5, 6)
    np.testing.assert_array_equal(out.numpy()[1], pe.weights[0].numpy()[:5])
    np.testing.assert_array_equal(pe(x[:, :2], start_index=3).numpy()[0], pe.weights[0].numpy()[3:5])
    with pytest.raises(ValueError, match=r"do not fit in the sequence_length 8 .*input length 9"):
        pe(np.zeros((1, 9, 6), np.float32))
    sine = layers.SinePositionEncoding()(x).numpy()[0]
    t, i = np.arange(5)[:, None], np.arange(6)[None, :]
    angle = t / 10000 ** (2 * (i // 2) / 6)
    np.testing.assert_allclose(sine, np.where(i % 2 == 0, np.sin(angle), np.cos(angle)), rtol=1e-6, atol=1e-7)
    tpe = layers.TokenAndPositionEmbedding(10, 8, 6, mask_zero=True)
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    y = tpe(ids)
    w_tok, w_pos = [w.numpy() for w in tpe.weights]
    np.testing.assert_allclose(y.numpy(), w_tok[ids] + w_pos[:3], rtol=1e-6)
    np.testing.assert_array_equal(y._keras_mask, ids != 0)
    assert tpe.compute_output_shape((None, 3)) == (None, 3, 6)
    with pytest.raises(ValueError, match="sequence_length 8"):
        tpe(np.ones((1, 9), np.int64))
    for layer in (pe, layers.SinePositionEncoding(500), tpe):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_encoder_model_saves_and_loads(tmp_path):
    model = cr.Sequential([layers.Input(shape=(4, 8)), layers.TransformerEncoder(16, 2, normalize_first=True),
                           layers.TransformerEncoder(16, 2)])
    x = np.random.default_rng(9).normal(size=(3, 4, 8)).astype(np.float32)
    before = model.predict(x)
    model.save(tmp_path / "enc.crm")
    loaded = cr.models.load_model(tmp_path / "enc.crm")
    np.testing.assert_allclose(loaded.predict(x), before, rtol=1e-6)
