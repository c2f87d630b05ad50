"""Training a character-level GPT on Tiny Shakespeare (nanoGPT's ``shakespeare_char``).

Two configurations:

* ``nanogpt-cpu``: nanoGPT's published CPU run (4 layers, 4 heads, width 128, block 64,
  batch 12, 2,000 iterations, dropout 0, AdamW lr 1e-3 -> 1e-4 with 100 warmup steps,
  beta_2 0.99, weight decay 0.1, gradient clipping 1.0, no biases, tied embeddings).
* ``gpt-shakespeare``: chainrule's own recipe for a 2-core CPU and 30 minutes of training
  (``chainrule train gpt-shakespeare``).

The data are nanoGPT's: a 90/10 split of the text, a vocabulary of the 65 characters, random
windows of ``block_size`` characters as a batch, and the next character as the target of
each position. The loss on the *full* validation split is the mean cross-entropy over every
position of the non-overlapping windows of ``block_size`` that cover it.
"""
from __future__ import annotations

import math
import time

import numpy as np

CONFIGS = {
    "nanogpt-cpu": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, max_iters=2000,
                        learning_rate=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=2000, weight_decay=0.1,
                        beta_2=0.99, grad_clip=1.0, dropout=0.0, bias=False),
    # chainrule's own: wider, a longer context, more tokens per step, a higher rate, and a budget of 30
    # minutes of training: the schedule runs on whichever is used up first, iterations or time.
    "gpt-shakespeare": dict(n_layer=4, n_head=6, n_embd=192, block_size=128, batch_size=16, max_iters=6000,
                            learning_rate=2e-3, min_lr=2e-4, warmup_iters=100, lr_decay_iters=6000,
                            weight_decay=0.1, beta_2=0.99, grad_clip=1.0, dropout=0.0, bias=False,
                            time_budget=1800.0),
}


def train_from_cli(args) -> int:
    """``chainrule train gpt-shakespeare [--seed S] [--save PATH]`` (``--epochs`` caps the iterations)."""
    train_recipe(args.recipe, seed=args.seed or 0, save=args.save, max_iters=args.epochs)
    return 0


def load_shakespeare():
    """``(vocabulary, train_ids, validation_ids)`` of Tiny Shakespeare, split 90/10 as nanoGPT."""
    from .data import datasets
    from .data.text import CharVocabulary, split_text

    text = datasets.tiny_shakespeare.load_data()
    vocab = CharVocabulary.from_text(text)
    train, val = split_text(text, 0.1)
    return vocab, vocab.encode(train), vocab.encode(val)


class _Progress:
    """How far training is, in iterations: the iteration count, or -- with a time budget -- the share of
    the budget used times ``max_iters``, whichever is further."""

    def __init__(self, max_iters, time_budget=None):
        self.max_iters, self.time_budget = max_iters, time_budget
        self.iteration, self.start = 0, time.perf_counter()

    def __call__(self) -> float:
        if self.time_budget is None:
            return float(self.iteration)
        used = (time.perf_counter() - self.start) / self.time_budget
        return max(float(self.iteration), used * self.max_iters)

    def done(self) -> bool:
        return self() >= self.max_iters


def make_optimizer(cfg: dict, model, progress=None):
    """AdamW with linear warmup then cosine decay to ``min_lr``, global-norm clipping, and weight
    decay on the matrices only (not on the LayerNormalization scales), as nanoGPT. With
    ``progress`` (a ``_Progress``) the schedule is read at its value instead of the step count."""
    from .optimizers import AdamW
    from .optimizers.schedules import CosineDecay, warmup

    decay_steps = cfg["lr_decay_iters"] - cfg["warmup_iters"]
    schedule = warmup(CosineDecay(cfg["learning_rate"], decay_steps, alpha=cfg["min_lr"] / cfg["learning_rate"]),
                      cfg["warmup_iters"])
    rate = schedule if progress is None else (lambda: schedule(progress()))
    opt = AdamW(rate, weight_decay=cfg["weight_decay"], beta_1=0.9, beta_2=cfg["beta_2"], epsilon=1e-8,
                global_clipnorm=cfg["grad_clip"])
    opt.exclude_from_weight_decay(var_list=[w for w in model.trainable_weights if w.ndim < 2])
    return opt


def validation_loss(model, ids, block_size: int, batch_size: int = 128, max_windows=None) -> float:
    """Mean next-character cross-entropy over the non-overlapping windows covering ``ids``."""
    from . import functional as F
    from .autograd.grad_mode import no_grad
    from .data.text import char_windows

    x, y = char_windows(ids, block_size)
    if max_windows is not None:
        x, y = x[:max_windows], y[:max_windows]
    total = 0.0
    with no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size], training=False)
            total += float(F.sparse_categorical_crossentropy(y[i:i + batch_size], logits, from_logits=True)
                           .data.astype(np.float64).sum())
    return total / y.size


def train(cfg: dict, seed: int = 0, max_iters=None, log_every: int = 100, time_limit=None, print_fn=print):
    """Train a GPT with ``cfg``; returns ``(model, vocab, info)`` where info has the losses and times."""
    import chainrule as cr

    from . import functional as F
    from .data.text import random_windows
    from .models.gpt import GPT

    vocab, train_ids, val_ids = load_shakespeare()
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GPT(vocab.size, cfg["block_size"], cfg["n_layer"], cfg["n_head"], cfg["n_embd"], cfg["dropout"],
                cfg["bias"])
    model(np.zeros((1, cfg["block_size"]), np.int64))
    n_params = sum(w.size for w in model.weights)
    print_fn(f"GPT: {cfg['n_layer']} layers, {cfg['n_head']} heads, width {cfg['n_embd']}, block "
             f"{cfg['block_size']}, {n_params / 1e6:.2f}M parameters; {len(train_ids):,} training / "
             f"{len(val_ids):,} validation characters, vocabulary {vocab.size}")
    iters = cfg["max_iters"] if max_iters is None else max_iters
    budget = cfg.get("time_budget") if time_limit is None else time_limit
    progress = _Progress(cfg["max_iters"], budget) if budget else None
    opt = make_optimizer(cfg, model, progress)
    weights = model.trainable_weights
    start = time.perf_counter()
    if progress is not None:
        progress.start = start
        print_fn(f"time budget {budget:.0f} s: the learning-rate schedule follows max(iteration, "
                 f"elapsed / budget * {cfg['max_iters']})")
    it = 0
    for it in range(iters):
        if progress is not None:
            progress.iteration = it
            if progress.done():
                print_fn(f"the time budget is used up after {it} iterations")
                it -= 1
                break
        x, y = random_windows(train_ids, cfg["block_size"], cfg["batch_size"], rng)
        logits = model(x, training=True)
        loss = F.sparse_categorical_crossentropy(y, logits, from_logits=True).mean()
        grads = cr.grad(loss, weights)
        opt.apply(grads, weights)
        if log_every and (it % log_every == 0 or it == iters - 1):
            print_fn(f"iter {it:5d}  loss {float(loss.data):.4f}  lr {opt.learning_rate:.2e}  "
                     f"{time.perf_counter() - start:7.1f} s", flush=True)
    seconds = time.perf_counter() - start
    val = validation_loss(model, val_ids, cfg["block_size"])
    info = dict(iterations=it + 1, train_seconds=seconds, val_loss=val, n_params=n_params,
                seconds_per_iter=seconds / max(it + 1, 1))
    return model, vocab, info


def train_recipe(name: str = "gpt-shakespeare", seed: int = 0, save=None, max_iters=None, sample_length=500,
                 print_fn=print) -> dict:
    """``chainrule train gpt-shakespeare``: train, report the full validation loss, sample, save."""
    from .data.text import vocabulary_path

    cfg = CONFIGS[name]
    model, vocab, info = train(cfg, seed=seed, max_iters=max_iters, print_fn=print_fn)
    print_fn(f"trained {info['iterations']} iterations in {info['train_seconds']:.1f} s "
             f"({info['seconds_per_iter'] * 1000:.0f} ms/iteration)")
    print_fn(f"validation loss (full split): {info['val_loss']:.4f}")
    if sample_length:
        ids = model.generate(vocab.encode("\n"), sample_length, temperature=0.8, top_k=None, seed=seed)
        info["sample"] = vocab.decode(ids)
        print_fn("sample (temperature 0.8):\n" + info["sample"])
    if save:
        model.save(save)
        vocab.save(vocabulary_path(save))
        print_fn(f"saved the model to {save} and its vocabulary to {vocabulary_path(save)}")
    return info


def perplexity(loss: float) -> float:
    return math.exp(loss)
