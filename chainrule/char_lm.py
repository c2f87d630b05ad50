"""Character-level language models on Tiny Shakespeare: the recipe and its training flow.

A character language model reads a window of characters and predicts, at every position,
the next one: logits (batch, T, vocab) for targets (batch, T) (the input shifted by one).
Its loss is the mean cross-entropy in nats per character; the last 10% of the text is held
out for validation (``split_text``).

The recipe ``lstm-shakespeare`` (``chainrule train lstm-shakespeare``)::

    Embedding(65, 64, RandomNormal(stddev=1)) -> LSTM(384, return_sequences) -> Dropout(0.25)
    -> LSTM(384, return_sequences) -> Dropout(0.25) -> Dense(65)   (logits)

trained on 2,200 batches of 32 random windows of 100 characters (7 epochs of the training
text), Adam (lr 3e-3 falling along a half cosine to 0 over the run, gradient norm clipped at
5 over all weights). The embedding starts from N(0, 1) as PyTorch's does: Keras's default
(uniform +-0.05) held the loss on the unigram plateau for the first ~150 steps, and a search
of the same model in PyTorch (``examples/README.md``) found N(0, 1) and a larger learning
rate worth about 0.03 nats at the end. ``gru-shakespeare`` is the same with GRU layers,
dropout 0.2 and 1,750 batches of 64. ``train_char_model`` is the loop (one
``optimizer.apply`` per batch), shared by the command line and
``examples/char_lstm_shakespeare.py``; the trained model is saved with its vocabulary beside
it (``<model>.vocab.json``) for ``chainrule generate``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np


@dataclass
class CharRecipe:
    name: str
    description: str
    cell: str = "lstm"  # "lstm" or "gru"
    units: int = 384
    num_layers: int = 2
    embedding_dim: int = 64
    embedding_stddev: float | None = None  # None: Keras's default RandomUniform(-0.05, 0.05); else RandomNormal(0, s)
    dropout: float = 0.2
    sequence_length: int = 100
    batch_size: int = 64
    steps: int = 640
    learning_rate: float = 2e-3
    global_clipnorm: float = 5.0
    eval_every: int = 160


RECIPES = {
    r.name: r for r in [
        CharRecipe("lstm-shakespeare", "a 2-layer LSTM(384) character model of Tiny Shakespeare",
                   embedding_stddev=1.0, dropout=0.25, batch_size=32, steps=2200, learning_rate=3e-3,
                   eval_every=220),
        CharRecipe("gru-shakespeare", "a 2-layer GRU(384) character model of Tiny Shakespeare", cell="gru",
                   embedding_stddev=1.0, dropout=0.2, batch_size=64, steps=1750, learning_rate=3e-3,
                   eval_every=175),
    ]
}


def get(name: str) -> CharRecipe:
    if name not in RECIPES:
        raise ValueError(f"unknown character-model recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def build_char_model(vocab_size: int, recipe: CharRecipe):
    """The recipe's model: ids (batch, T) -> next-character logits (batch, T, vocab_size)."""
    from . import layers
    from .models import Sequential

    rnn = {"lstm": layers.LSTM, "gru": layers.GRU}[recipe.cell]
    from .initializers import RandomNormal

    init = "random_uniform" if recipe.embedding_stddev is None else RandomNormal(stddev=recipe.embedding_stddev)
    stack = [layers.Input(shape=(None,), dtype="int64"),
             layers.Embedding(vocab_size, recipe.embedding_dim, embeddings_initializer=init)]
    for _ in range(recipe.num_layers):
        stack.append(rnn(recipe.units, return_sequences=True))
        if recipe.dropout:
            stack.append(layers.Dropout(recipe.dropout))
    stack.append(layers.Dense(vocab_size))
    return Sequential(stack)


def load_text():
    """(vocabulary, train ids, validation ids) of Tiny Shakespeare, the last 10% held out."""
    from .data.datasets import tiny_shakespeare
    from .data.text import CharVocabulary, split_text

    text = tiny_shakespeare.load_data()
    vocab = CharVocabulary.from_text(text)
    train, val = split_text(text, validation_fraction=0.1)
    return vocab, vocab.encode(train), vocab.encode(val)


def evaluate(model, ids, sequence_length: int, batch_size: int = 128) -> float:
    """Mean cross-entropy (nats per character) over non-overlapping windows of ``ids``."""
    from . import functional as F
    from .autograd.grad_mode import no_grad
    from .data.text import char_windows

    x, y = char_windows(ids, sequence_length)
    total, count = 0.0, 0
    with no_grad():
        for s in range(0, len(x), batch_size):
            logits = model(x[s:s + batch_size], training=False)
            per = F.sparse_categorical_crossentropy(y[s:s + batch_size], logits, from_logits=True)
            total += float(per.data.astype(np.float64).sum())
            count += per.data.size
    return total / count


def train_char_model(recipe: CharRecipe, steps: int | None = None, seed: int = 0, log=print, data=None):
    """Train the recipe; returns (model, vocabulary, history dict of lists).

    Batches are random windows drawn by ``np.random.default_rng(seed)`` (so a twin in another
    library can draw the very same batches); the learning rate follows the cosine over ``steps``.
    """
    from . import backend
    from . import functional as F
    from .autograd.engine import grad
    from .data.text import random_windows
    from .optimizers import Adam
    from .optimizers.schedules import CosineDecay

    steps = recipe.steps if steps is None else int(steps)
    recipe = replace(recipe, steps=steps)
    backend.manual_seed(seed)
    vocab, train_ids, val_ids = load_text() if data is None else data
    model = build_char_model(vocab.size, recipe)
    optimizer = Adam(CosineDecay(recipe.learning_rate, decay_steps=steps), global_clipnorm=recipe.global_clipnorm)
    rng = np.random.default_rng(seed)
    chars_per_epoch = len(train_ids)
    history = {"step": [], "train_loss": [], "val_loss": [], "seconds": []}
    log(f"{recipe.name}: {recipe.description}; {steps} steps of {recipe.batch_size} x {recipe.sequence_length} "
        f"characters ({steps * recipe.batch_size * recipe.sequence_length / chars_per_epoch:.2f} epochs of "
        f"{chars_per_epoch} training characters)")
    weights = None
    train_time, running = 0.0, []
    for step in range(1, steps + 1):
        x, y = random_windows(train_ids, recipe.sequence_length, recipe.batch_size, rng)
        t0 = time.perf_counter()
        logits = model(x, training=True)
        if weights is None:
            weights = model.trainable_weights
        loss = F.sparse_categorical_crossentropy(y, logits, from_logits=True).mean()
        grads = grad(loss, weights)
        optimizer.apply(grads, weights)
        train_time += time.perf_counter() - t0
        running.append(float(loss.data))
        if step % recipe.eval_every == 0 or step == steps:
            val = evaluate(model, val_ids, recipe.sequence_length)
            epochs_done = step * recipe.batch_size * recipe.sequence_length / chars_per_epoch
            history["step"].append(step)
            history["train_loss"].append(float(np.mean(running)))
            history["val_loss"].append(val)
            history["seconds"].append(train_time)
            log(f"step {step:5d}  train loss {np.mean(running):.4f}  val loss {val:.4f}  "
                f"training time {train_time:7.1f} s  ({train_time / epochs_done:.1f} s/epoch)")
            running = []
    return model, vocab, history


def run_from_cli(args) -> int:
    """``chainrule train lstm-shakespeare [--steps N] [--save PATH] [--seed S]``: train, report, save, sample."""
    from .generation import generate_text

    recipe = get(args.recipe)
    if args.epochs is not None:
        raise ValueError(f"{recipe.name} trains for a number of steps: use --steps (default {recipe.steps})")
    model, vocab, hist = train_char_model(recipe, steps=args.steps, seed=args.seed or 0)
    print(f"validation loss: {hist['val_loss'][-1]:.4f} nats/char")
    if args.save:
        model.save(args.save)
        vocab.save(vocabulary_file(args.save))
        print(f"saved to {args.save} (vocabulary: {vocabulary_file(args.save)})")
    prompt = "ROMEO:" if set("ROMEO:") <= set(vocab.chars) else vocab.chars[0]  # Shakespeare's, or any text's
    print(generate_text(model, vocab, prompt, length=200, temperature=0.8, seed=args.seed))
    return 0


def vocabulary_file(model_path) -> str:
    from .data.text import vocabulary_path

    return vocabulary_path(model_path)
