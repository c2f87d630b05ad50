"""Text generation from a trained character (or token) model, one sampled id at a time.

``generate_text(model, vocab, prompt, length, temperature, top_k)`` works with any model
that maps ids (batch, T) to logits (batch, T, vocab) or (batch, vocab) (probabilities from a
softmax are turned back into log-probabilities). Three ways, the fastest that applies:

* the model has its own ``generate(ids, max_new_tokens, temperature=, top_k=, rng=)``
  (e.g. a GPT with a key/value cache): it is called;
* the model is recurrent step by step (only recurrent, embedding, dense, dropout and
  other per-timestep layers): its recurrent layers are made stateful for the run, the
  prompt is read once, then each new character costs one timestep;
* otherwise the whole context (the last ``max_context`` ids) is run again for each new id.

``chainrule generate MODEL --prompt ... --length ... --temperature ...`` calls this with the
model file and its ``<model>.vocab.json`` vocabulary.
"""
from __future__ import annotations

import numpy as np

from .autograd.grad_mode import no_grad
from .data.text import CharVocabulary, sample_logits, vocabulary_path


def _last_logits(out) -> np.ndarray:
    """Logits of the last position, shape (batch, vocab)."""
    if isinstance(out, (list, tuple)):
        out = out[0]
    a = np.asarray(getattr(out, "data", out), dtype=np.float64)
    if a.ndim == 3:
        a = a[:, -1]
    if a.ndim != 2:
        raise ValueError(f"generate: the model must output (batch, T, vocab) or (batch, vocab), got shape {a.shape}")
    if a.min() >= 0 and np.allclose(a.sum(axis=-1), 1.0, atol=1e-3):  # softmax probabilities
        a = np.log(np.maximum(a, 1e-12))
    return a


def _stepwise_layers(model):
    """The recurrent layers if the model can be run one timestep at a time, else None."""
    from . import layers as L

    per_step = (L.Embedding, L.Dense, L.Dropout, L.Activation, L.InputLayer, L.TimeDistributed,
                L.LayerNormalization, L.Masking)
    rnns = []

    def visit(layer):
        if isinstance(layer, L.RNN):
            rnns.append(layer)
            return True
        if isinstance(layer, per_step) or (layer._layers and not isinstance(layer, L.Bidirectional)):
            return all(visit(c) for c in layer._layers)  # containers: every part must be per-step too
        return False

    if not all(visit(c) for c in model._layers):
        return None
    return rnns or None


def generate_ids(model, prompt_ids, length: int, temperature: float = 1.0, top_k=None, rng=None,
                 max_context: int = 256) -> np.ndarray:
    """``length`` new ids after ``prompt_ids`` (a 1-D int array), sampled from the model's next-id logits."""
    prompt_ids = np.asarray(prompt_ids, dtype=np.int64).reshape(-1)
    if prompt_ids.size == 0:
        raise ValueError("generate: the prompt is empty; give at least one character")
    length = int(length)
    if length < 0:
        raise ValueError(f"generate: length must be >= 0, got {length}")
    rng = np.random.default_rng() if rng is None else rng
    own = getattr(model, "generate", None)
    if callable(own):
        out = np.asarray(own(prompt_ids[None, :], length, temperature=temperature, top_k=top_k, rng=rng))
        out = out.reshape(-1)
        return out[prompt_ids.size:] if out.size == prompt_ids.size + length else out[-length:]
    new = np.empty(length, dtype=np.int64)
    rnns = _stepwise_layers(model)
    with no_grad():
        if rnns is not None:
            saved = [(r, r.stateful, r.states) for r in rnns]
            try:
                for r in rnns:
                    r.stateful, r.states = True, None
                logits = _last_logits(model(prompt_ids[None, :], training=False))
                for k in range(length):
                    nxt = sample_logits(logits, temperature, top_k, rng)[0]
                    new[k] = nxt
                    if k + 1 < length:
                        logits = _last_logits(model(np.array([[nxt]]), training=False))
            finally:
                for r, stateful, states in saved:
                    r.stateful, r.states = stateful, states
            return new
        ids = list(prompt_ids)
        for k in range(length):
            context = np.asarray(ids[-max_context:], dtype=np.int64)[None, :]
            logits = _last_logits(model(context, training=False))
            new[k] = sample_logits(logits, temperature, top_k, rng)[0]
            ids.append(int(new[k]))
    return new


def generate_text(model, vocab: CharVocabulary, prompt: str, length: int = 500, temperature: float = 1.0,
                  top_k=None, seed=None, max_context: int = 256) -> str:
    """The prompt followed by ``length`` sampled characters."""
    rng = np.random.default_rng(seed)
    ids = generate_ids(model, vocab.encode(prompt), length, temperature, top_k, rng, max_context)
    return prompt + vocab.decode(ids)


def load_for_generation(model_path):
    """(model, vocabulary) from a saved model file and its ``<model>.vocab.json``."""
    import os

    from .models import load_model

    vpath = vocabulary_path(model_path)
    if not os.path.exists(vpath):
        raise ValueError(f"generate: no vocabulary beside the model: {vpath} is missing "
                         "(a character model is saved with its vocabulary as <model>.vocab.json)")
    return load_model(model_path, compile=False), CharVocabulary.load(vpath)
