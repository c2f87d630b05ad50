"""A GPT: a decoder-only Transformer language model (Radford et al., 2018-2019; nanoGPT's layout).

    x_0   = wte[ids] + wpe[0..T-1]                          token + learned position embeddings
    x_l+1 = x_l + Attn_l(LN(x_l));  x_l+1 += MLP_l(LN(x_l+1))   pre-norm blocks, causal attention
    logits = LN(x_L) @ wte^T                                the output layer shares the token table

MLP(x) = gelu(x W_fc) W_proj with a hidden size of 4 * n_embd. The weights are drawn as in
nanoGPT: every kernel and table N(0, 0.02), the two projections that write into the residual
stream (attention output, MLP output) N(0, 0.02 / sqrt(2 n_layer)), biases 0. ``bias=False``
(nanoGPT's choice for its small models) drops every bias, LayerNormalization's beta included.

``generate`` samples with a key/value cache: the keys and values of the tokens already seen
are kept per layer, so each new token costs one query row against t cached keys (O(t)) rather
than recomputing the whole (t, t) attention.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..layers.base import Layer
from ..layers.core import Dense, Dropout
from ..layers.embedding import Embedding
from ..layers.multi_head_attention import MultiHeadAttention
from ..layers.normalization import LayerNormalization
from ..ops.attention import scaled_dot_product_attention
from ..ops.nn import linear
from ..ops.shape import transpose
from .model import Model


def _normal(stddev):
    from ..initializers import RandomNormal

    return RandomNormal(0.0, stddev)


class GPTBlock(Layer):
    """x + Attn(LN(x)), then x + MLP(LN(x)): one pre-norm decoder block with causal self-attention."""

    def __init__(self, n_embd, n_head, n_layer=1, dropout=0.0, bias=False, **kwargs):
        super().__init__(**kwargs)
        if n_embd % n_head:
            raise ValueError(f"GPTBlock: n_embd {n_embd} must be divisible by n_head {n_head}")
        self.n_embd, self.n_head, self.dropout, self.bias = n_embd, n_head, float(dropout), bool(bias)
        proj = _normal(0.02 / math.sqrt(2 * n_layer))
        self.ln_1 = LayerNormalization(epsilon=1e-5, center=bias, name="ln_1")
        self.attn = MultiHeadAttention(n_head, n_embd // n_head, dropout=dropout, use_bias=bias,
                                       kernel_initializer=_normal(0.02), name="attn")
        self.ln_2 = LayerNormalization(epsilon=1e-5, center=bias, name="ln_2")
        self.mlp_fc = Dense(4 * n_embd, activation="gelu", use_bias=bias, kernel_initializer=_normal(0.02),
                            name="mlp_fc")
        self.mlp_proj = Dense(n_embd, use_bias=bias, kernel_initializer=proj, name="mlp_proj")
        self.resid_dropout = Dropout(dropout, name="resid_dropout")
        self._proj_init = proj

    def build(self, input_shape):
        shape = (None, None, self.n_embd)
        self.attn.build(shape, shape)
        # the attention's output projection writes into the residual stream: nanoGPT's smaller std
        k = self.attn.output_dense.kernel
        k.data[...] = self._proj_init(k.shape, dtype=k.data.dtype)
        self.built = True

    def call(self, x, training=False):
        h = self.ln_1(x)
        q, k, v = self.attn.project(h, h, h)
        o = scaled_dot_product_attention(q, k, v, causal=True, dropout=self.dropout, training=bool(training))
        x = x + self._drop(self.attn.output_projection(o), training)
        return x + self._drop(self.mlp_proj(self.mlp_fc(self.ln_2(x))), training)

    def _drop(self, y, training):
        return self.resid_dropout(y, training=training) if self.dropout and training else y

    def call_cached(self, x, cache, pos):
        """The block on new tokens x (batch, n, n_embd) at positions pos..pos+n-1, with ``cache`` =
        [keys, values] arrays (batch, heads, max_len, head_dim) that hold positions < pos and get
        the new ones. Inference only."""
        h = self.ln_1(x)
        q, k, v = self.attn.project(h, h, h)
        n = x.shape[1]
        cache[0][:, :, pos:pos + n] = k.data
        cache[1][:, :, pos:pos + n] = v.data
        keys = Tensor._wrap(cache[0][:, :, :pos + n])
        values = Tensor._wrap(cache[1][:, :, :pos + n])
        mask = None
        if n > 1:  # new token i (position pos + i) sees keys j <= pos + i
            mask = np.arange(pos + n)[None, :] <= (pos + np.arange(n))[:, None]
        o = scaled_dot_product_attention(q, keys, values, mask=mask)
        x = x + self.attn.output_projection(o)
        return x + self.mlp_proj(self.mlp_fc(self.ln_2(x)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(n_embd=self.n_embd, n_head=self.n_head, dropout=self.dropout, bias=self.bias)
        return cfg


class GPT(Model):
    """``GPT(vocab_size, block_size, n_layer, n_head, n_embd, dropout=0.0, bias=False)``: ids (batch, T)
    with T <= block_size -> next-token logits (batch, T, vocab_size). See the module docstring."""

    def __init__(self, vocab_size, block_size, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.block_size = int(vocab_size), int(block_size)
        self.n_layer, self.n_head, self.n_embd = int(n_layer), int(n_head), int(n_embd)
        self.dropout, self.bias = float(dropout), bool(bias)
        self.wte = Embedding(vocab_size, n_embd, embeddings_initializer=_normal(0.02), name="wte")
        self.wpe = Embedding(block_size, n_embd, embeddings_initializer=_normal(0.02), name="wpe")
        self.drop = Dropout(dropout, name="drop")
        self.blocks = [GPTBlock(n_embd, n_head, n_layer, dropout, bias, name=f"h_{i}") for i in range(n_layer)]
        self.ln_f = LayerNormalization(epsilon=1e-5, center=bias, name="ln_f")

    def call(self, ids, training=False):
        t = ids.shape[-1]
        if ids.ndim != 2:
            raise ValueError(f"{self.name}: expected token ids of shape (batch, T), got {tuple(ids.shape)}")
        if t > self.block_size:
            raise ValueError(f"{self.name}: a sequence of {t} tokens is longer than block_size {self.block_size}")
        x = self.wte(ids) + self.wpe(np.arange(t)[None, :])
        if self.dropout and training:
            x = self.drop(x, training=training)
        for block in self.blocks:
            x = block(x, training=training)
        return self.logits(self.ln_f(x))

    def logits(self, h):
        """h @ wte^T: the output layer is the token table, transposed (weight tying)."""
        return linear(h, transpose(self.wte.embeddings))

    def _forward_cached(self, ids, caches, pos):
        x = self.wte(ids) + self.wpe(np.arange(pos, pos + ids.shape[1])[None, :])
        for block, cache in zip(self.blocks, caches):
            x = block.call_cached(x, cache, pos)
        return self.logits(self.ln_f(x[:, -1:]))

    def generate(self, ids, length, temperature=1.0, top_k=None, rng=None, seed=None, use_cache=True):
        """Append ``length`` sampled tokens to ``ids`` ((batch, T0) or (T0,) ints); returns the ids with them.

        Each step samples from softmax(logits / temperature) of the last position, keeping the
        ``top_k`` largest logits if given (temperature 0: the most likely token). With
        ``use_cache`` the keys and values of earlier tokens are kept (one attention row per new
        token) while the text fits in ``block_size``. Past it the window slides, every token's
        position (and so its cached keys) changes, and each step recomputes the last block_size
        tokens, as nanoGPT's ``generate``. ``use_cache=False`` recomputes every step; both give the
        same tokens.
        """
        from ..data.text import sample_logits

        ids = np.asarray(ids, dtype=np.int64)
        single = ids.ndim == 1
        ids = ids[None] if single else ids
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"{self.name}.generate: ids must be a non-empty (batch, T) array, got {ids.shape}")
        if rng is None:
            rng = np.random.default_rng(seed)
        out = ids
        with no_grad():
            if not self.built:
                self(out[:, -self.block_size:])
            caches, pos = None, 0
            for _ in range(int(length)):
                if not use_cache or out.shape[1] > self.block_size:
                    # past block_size the window slides and every position shifts: recompute it
                    logits = self(out[:, -self.block_size:])[:, -1]
                elif caches is None:
                    caches = self._new_caches(out.shape[0])
                    logits = self._forward_cached(out, caches, 0)[:, -1]
                    pos = out.shape[1]
                else:
                    logits = self._forward_cached(out[:, -1:], caches, pos)[:, -1]
                    pos += 1
                nxt = sample_logits(logits.data, temperature=temperature, top_k=top_k, rng=rng)
                out = np.concatenate([out, nxt[:, None]], axis=1)
        return out[0] if single else out

    def _new_caches(self, batch):
        head = self.n_embd // self.n_head
        dtype = self.wte.embeddings.data.dtype
        return [[np.zeros((batch, self.n_head, self.block_size, head), dtype),
                 np.zeros((batch, self.n_head, self.block_size, head), dtype)] for _ in self.blocks]
