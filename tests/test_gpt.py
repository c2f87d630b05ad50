"""The GPT model: causality, KV-cache generation equal to full recomputation, saving, a training smoke test."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule.models.gpt import GPT


def _model(block=8, seed=0, **kw):
    cr.manual_seed(seed)
    m = GPT(vocab_size=11, block_size=block, n_layer=2, n_head=2, n_embd=16, **kw)
    m(np.zeros((1, block), np.int64))
    return m


def test_gpt_shapes_weights_and_causality():
    m = _model()
    assert len(m.weights) == 2 + 2 * 8 + 1  # wte, wpe; per block ln_1, q, k, v, o, ln_2, fc, proj; ln_f
    ids = np.random.default_rng(0).integers(0, 11, (2, 8))
    a = m(ids).numpy()
    assert a.shape == (2, 8, 11)
    ids2 = ids.copy()
    ids2[:, 5:] = (ids2[:, 5:] + 1) % 11
    b = m(ids2).numpy()
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert not np.allclose(a[:, 5:], b[:, 5:])
    with pytest.raises(ValueError, match="longer than block_size 8"):
        m(np.zeros((1, 9), np.int64))


@pytest.mark.parametrize("temperature,top_k", [(0.0, None), (1.0, None), (0.8, 3)])
def test_kv_cache_generation_gives_the_tokens_of_full_recomputation(temperature, top_k):
    m = _model(bias=True)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    # 12 new tokens: past block_size 8, so the sliding window is exercised too
    cached = m.generate(prompt, 12, temperature=temperature, top_k=top_k, seed=3)
    full = m.generate(prompt, 12, temperature=temperature, top_k=top_k, seed=3, use_cache=False)
    np.testing.assert_array_equal(cached, full)
    assert cached.shape == (2, 15)
    np.testing.assert_array_equal(cached[:, :3], prompt)


def test_cached_logits_equal_full_logits():
    m = _model()
    ids = np.random.default_rng(1).integers(0, 11, (2, 8))
    full = m(ids).numpy()
    with cr.no_grad():
        caches = m._new_caches(2)
        first = m._forward_cached(ids[:, :3], caches, 0).numpy()
        np.testing.assert_allclose(first[:, -1], full[:, 2], rtol=1e-5, atol=1e-6)
        for t in range(3, 8):
            step = m._forward_cached(ids[:, t:t + 1], caches, t).numpy()
            np.testing.assert_allclose(step[:, -1], full[:, t], rtol=1e-5, atol=1e-6)


def test_gpt_saves_loads_and_generates_the_same(tmp_path):
    m = _model()
    path = tmp_path / "gpt.crm"
    m.save(path)
    loaded = cr.models.load_model(path)
    assert isinstance(loaded, GPT) and loaded.block_size == 8
    ids = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(loaded(ids).numpy(), m(ids).numpy())
    np.testing.assert_array_equal(loaded.generate(ids, 5, seed=1), m.generate(ids, 5, seed=1))


def test_gpt_training_steps_lower_the_loss():
    from chainrule.gpt_recipe import make_optimizer, validation_loss

    m = _model(block=16)
    text = np.tile(np.array([1, 2, 3, 4, 5, 6, 7]), 40)
    cfg = dict(lr_decay_iters=30, warmup_iters=3, learning_rate=1e-2, min_lr=1e-3, weight_decay=0.1, beta_2=0.99,
               grad_clip=1.0)
    opt = make_optimizer(cfg, m)
    before = validation_loss(m, text, 16)
    rng = np.random.default_rng(0)
    from chainrule.data.text import random_windows

    for _ in range(30):
        x, y = random_windows(text, 16, 8, rng)
        loss = F.sparse_categorical_crossentropy(y, m(x, training=True), from_logits=True).mean()
        opt.apply(cr.grad(loss, m.trainable_weights), m.trainable_weights)
    after = validation_loss(m, text, 16)
    assert after < 0.5 * before
    # the LayerNormalization scales are not decayed, the matrices are
    assert not opt._decays(m.ln_f.gamma) and opt._decays(m.wte.embeddings)
