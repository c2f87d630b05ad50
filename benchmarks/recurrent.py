"""Recurrent workloads: LSTM and GRU training steps, chainrule against torch.nn.LSTM/GRU.

* ``lstm_rows`` / ``gru_rows``: batch 64, 28 steps of 28 features (MNIST rows), two
  recurrent layers of 128 units, the last output into Dense(10); Adam.
* ``lstm_char`` / ``gru_char``: the character-model recipe of chainrule/char_lm.py:
  Embedding(65, 64), two layers of 384 units over 100 steps, Dense(65) at every step;
  batch 64, Adam.

A step is forward + loss + backward + Adam update in both libraries; chainrule's recurrent
layers run their fused whole-sequence ops (ops/lstm.py, ops/gru.py), PyTorch its own
(nn.LSTM/nn.GRU, one layer each, as chainrule's Sequential has them).
"""
from __future__ import annotations

import numpy as np

from .workloads import Row, Variant, Workload, _chainrule

TARGET = 2.0


def _rnn_flops(batch, steps, d_in, units, gates):
    return 2.0 * batch * steps * (d_in + units) * gates * units


def _workload(torch, name, cell, batch, steps, d_in, units, vocab=None, seed=0):
    cr = _chainrule()
    from torch import nn
    import torch.nn.functional as tF

    L = cr.layers
    rng = np.random.default_rng(seed)
    gates = {"lstm": 4, "gru": 3}[cell]
    rnn_cr = {"lstm": L.LSTM, "gru": L.GRU}[cell]
    rnn_th = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
    if vocab is None:  # sequence classification from real-valued steps
        x = rng.random((batch, steps, d_in), dtype=np.float32)
        y = rng.integers(0, 10, size=batch)
        model = cr.Sequential([L.Input(shape=(steps, d_in)), rnn_cr(units, return_sequences=True), rnn_cr(units),
                               L.Dense(10)])
        th = nn.ModuleList([rnn_th(d_in, units, batch_first=True), rnn_th(units, units, batch_first=True),
                            nn.Linear(units, 10)])

        def th_forward(xt):
            h = th[1](th[0](xt)[0])[0][:, -1]
            return th[2](h)

        x_th, y_th = torch.from_numpy(x), torch.from_numpy(y)
        flops = [_rnn_flops(batch, steps, d_in, units, gates), _rnn_flops(batch, steps, units, units, gates),
                 2.0 * batch * units * 10]
    else:  # character model: logits at every step
        x = rng.integers(0, vocab, size=(batch, steps))
        y = rng.integers(0, vocab, size=(batch, steps))
        model = cr.Sequential([L.Input(shape=(steps,), dtype="int64"), L.Embedding(vocab, d_in),
                               rnn_cr(units, return_sequences=True), rnn_cr(units, return_sequences=True),
                               L.Dense(vocab)])
        th = nn.ModuleList([nn.Embedding(vocab, d_in), rnn_th(d_in, units, batch_first=True),
                            rnn_th(units, units, batch_first=True), nn.Linear(units, vocab)])

        def th_forward(xt):
            h = th[2](th[1](th[0](xt))[0])[0]
            return th[3](h).reshape(-1, vocab)

        x_th, y_th = torch.from_numpy(x), torch.from_numpy(y.reshape(-1))
        flops = [_rnn_flops(batch, steps, d_in, units, gates), _rnn_flops(batch, steps, units, units, gates),
                 2.0 * batch * steps * units * vocab]
    from chainrule import functional as F

    opt = cr.optimizers.Adam()
    xt = cr.tensor(x) if vocab is None else x

    def cr_train():
        logits = model(xt, training=True)
        loss = F.sparse_categorical_crossentropy(y, logits, from_logits=True).mean()
        weights = model.trainable_weights
        opt.apply(cr.grad(loss, weights), weights)
        return loss

    topt = torch.optim.Adam(th.parameters(), lr=1e-3)

    def th_train():
        topt.zero_grad(set_to_none=True)
        loss = tF.cross_entropy(th_forward(x_th), y_th)
        loss.backward()
        topt.step()
        return loss

    desc = (f"{cell.upper()}: 2 layers of {units} units over {steps} steps of "
            + (f"{d_in} features, last output -> Dense(10)" if vocab is None
               else f"Embedding({vocab}, {d_in}), Dense({vocab}) at every step") + f"; batch {batch}, Adam")
    fwd = sum(flops)
    return Workload(name=name, kind="train", description=desc,
                    variants=[Variant("chainrule", "chainrule", cr_train), Variant("pytorch", "pytorch", th_train)],
                    rows=[Row("train", "chainrule", "pytorch", TARGET)],
                    flops_per_step=3 * fwd)  # forward, weight gradients, input gradients


SPECS = [
    ("lstm_rows", "lstm", 64, 28, 28, 128, None),
    ("gru_rows", "gru", 64, 28, 28, 128, None),
    ("lstm_char", "lstm", 64, 100, 64, 384, 65),
    ("gru_char", "gru", 64, 100, 64, 384, 65),
]


def recurrent_workloads(torch, only=None):
    """Yield (name, builder) pairs, as workloads.all_workloads does."""
    for name, cell, batch, steps, d_in, units, vocab in SPECS:
        if only and not any(o in name for o in only):
            continue
        yield name, (lambda a=(name, cell, batch, steps, d_in, units, vocab): [_workload(torch, *a)])
