"""A character-level LSTM language model on Tiny Shakespeare, and a generated sample.

    Embedding(65, 64, N(0, 1) init) -> LSTM(384, return_sequences) -> Dropout(0.25)
    -> LSTM(384, return_sequences) -> Dropout(0.25) -> Dense(65)
    random windows of 100 characters, batch 32, 2,200 steps (~7 epochs of the 1.0M training
    characters), Adam 3e-3 with cosine decay to 0, global gradient-norm clipping at 5
    target: validation loss (the last 10% of the text) <= 1.50 nats per character in <= 30 min

At every position the model predicts the next character; the loss is the mean cross-entropy
-log p(next char) in nats. After training it writes 500 characters after the prompt "ROMEO:"
(temperature 0.8), as ``chainrule generate MODEL --prompt "ROMEO:" --length 500 --temperature 0.8``
does from the saved file. ``--cell gru`` trains the GRU variant (recipe ``gru-shakespeare``).
The recipe and its loop are ``chainrule/char_lm.py`` (``chainrule train lstm-shakespeare``);
``examples/torch_twins/char_lstm_shakespeare_torch.py`` is the same recipe in PyTorch.

Run:  python examples/char_lstm_shakespeare.py [--quick] [--steps N] [--cell lstm|gru] [--save PATH]
"""
from __future__ import annotations

import argparse
import time

from chainrule import char_lm
from chainrule.generation import generate_text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20 steps, a smoke test")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="save the model here (and its vocabulary as PATH.vocab.json)")
    args = p.parse_args(argv)
    recipe = char_lm.get(f"{args.cell}-shakespeare")
    steps = 20 if args.quick else args.steps
    if args.quick:
        from dataclasses import replace

        recipe = replace(recipe, eval_every=10)
    start = time.perf_counter()
    model, vocab, hist = char_lm.train_char_model(recipe, steps=steps, seed=args.seed)
    total = time.perf_counter() - start
    if args.save:
        model.save(args.save)
        vocab.save(args.save + ".vocab.json")
        print(f"saved to {args.save} (+ .vocab.json)")
    sample = generate_text(model, vocab, "ROMEO:", length=500, temperature=0.8, seed=args.seed)
    print("---- sample (temperature 0.8) ----")
    print(sample)
    print("----")
    n_chars = len(char_lm.load_text()[1])
    epochs = hist["step"][-1] * recipe.batch_size * recipe.sequence_length / n_chars
    print(f"validation loss: {hist['val_loss'][-1]:.4f} nats/char (best {min(hist['val_loss']):.4f})")
    print(f"training time: {hist['seconds'][-1]:.1f} s ({hist['seconds'][-1] / epochs:.1f} seconds per epoch); "
          f"wall time with evaluation {total:.1f} s")


if __name__ == "__main__":
    main()
