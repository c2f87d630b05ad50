"""PyTorch twin of the ``lstm-shakespeare`` and ``gru-shakespeare`` recipes (examples/char_lstm_shakespeare.py).

The same model (Embedding 64 -> 2 x [LSTM or GRU(384) -> Dropout] -> Linear), the same
initializers as chainrule's recipe (embedding N(0, stddev) when the recipe sets
``embedding_stddev``, else Keras's default uniform(-0.05, 0.05); kernels glorot-uniform,
recurrent kernels orthogonal, zero biases with the LSTM forget-gate bias at 1, Dense
glorot-uniform), the same batches (random windows drawn by the same NumPy generator from
chainrule.data.text), Adam (eps 1e-7 as Keras) with the same cosine decay, the same global-norm
clipping at 5, and the same validation windows. One CPU thread unless ``--threads``;
``--device cuda`` runs it on a GPU (the same figures up to rounding), ``--set FIELD=VALUE``
tries a variant of the recipe.

Run:  python examples/torch_twins/char_lstm_shakespeare_torch.py [--steps N] [--cell lstm|gru]
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import numpy as np
import torch

from chainrule import char_lm
from chainrule.data.text import char_windows, random_windows


class CharModel(torch.nn.Module):
    def __init__(self, vocab, r):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, r.embedding_dim)
        if r.embedding_stddev is None:
            torch.nn.init.uniform_(self.emb.weight, -0.05, 0.05)  # Keras's default, RandomUniform(-0.05, 0.05)
        else:
            torch.nn.init.normal_(self.emb.weight, 0.0, r.embedding_stddev)
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[r.cell]
        self.rnns = torch.nn.ModuleList()
        d = r.embedding_dim
        for _ in range(r.num_layers):
            rnn = cls(d, r.units, batch_first=True)
            torch.nn.init.xavier_uniform_(rnn.weight_ih_l0)  # Keras kernel (in, G*u): same fans
            torch.nn.init.orthogonal_(rnn.weight_hh_l0)
            torch.nn.init.zeros_(rnn.bias_ih_l0)
            torch.nn.init.zeros_(rnn.bias_hh_l0)
            if r.cell == "lstm":
                with torch.no_grad():
                    rnn.bias_ih_l0[r.units:2 * r.units] = 1.0  # unit_forget_bias
            self.rnns.append(rnn)
            d = r.units
        self.drop = torch.nn.Dropout(r.dropout)
        self.out = torch.nn.Linear(r.units, vocab)
        torch.nn.init.xavier_uniform_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def forward(self, x):
        h = self.emb(x)
        for rnn in self.rnns:
            h = self.drop(rnn(h)[0])
        return self.out(h)


def evaluate(model, ids, length, batch=128, device="cpu"):
    x, y = char_windows(ids, length)
    model.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            lo = model(torch.from_numpy(x[s:s + batch]).to(device))
            tot += torch.nn.functional.cross_entropy(lo.reshape(-1, lo.shape[-1]),
                                                     torch.from_numpy(y[s:s + batch]).to(device).reshape(-1),
                                                     reduction="sum").item()
            n += y[s:s + batch].size
    model.train()
    return tot / n


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="where PyTorch runs (the figures are the same up to rounding)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a field of the recipe (units=512, dropout=0.3, ...), to try a variant")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    r = char_lm.get(f"{args.cell}-shakespeare")
    for item in args.set:
        field, value = item.split("=", 1)
        kind = type(getattr(r, field))
        r = replace(r, **{field: None if value == "None" else (float(value) if kind in (float, type(None)) else kind(value))})
    steps = args.steps or r.steps
    vocab, train_ids, val_ids = char_lm.load_text()
    model = CharModel(vocab.size, r).to(args.device)
    opt = torch.optim.Adam(model.parameters(), lr=r.learning_rate, eps=1e-7)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    rng = np.random.default_rng(args.seed)
    print(f"torch {torch.__version__} twin of {r.name} on {args.device}: {steps} steps of {r.batch_size} x "
          f"{r.sequence_length}; {r}")
    train_time, running = 0.0, []
    for step in range(1, steps + 1):
        x, y = random_windows(train_ids, r.sequence_length, r.batch_size, rng)
        t0 = time.perf_counter()
        lo = model(torch.from_numpy(x).to(args.device))
        loss = torch.nn.functional.cross_entropy(lo.reshape(-1, vocab.size),
                                                 torch.from_numpy(y).to(args.device).reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), r.global_clipnorm)
        opt.step()
        sched.step()
        train_time += time.perf_counter() - t0
        running.append(loss.item())
        if step % r.eval_every == 0 or step == steps:
            val = evaluate(model, val_ids, r.sequence_length, device=args.device)
            ep = step * r.batch_size * r.sequence_length / len(train_ids)
            print(f"step {step:5d}  train loss {np.mean(running):.4f}  val loss {val:.4f}  "
                  f"training time {train_time:7.1f} s  ({train_time / ep:.1f} s/epoch)", flush=True)
            running = []
    print(f"validation loss: {val:.4f} nats/char")


if __name__ == "__main__":
    main()
