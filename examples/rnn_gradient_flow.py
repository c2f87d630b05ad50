"""Why recurrent gradients vanish or explode: a table made with the library's own BPTT.

For a sequence of T = 100 steps, the loss L = sum(h_T) (the last state) is differentiated with
respect to every input x_t; the table shows how large dL/dx_t still is k steps back from the
end, relative to its size at the last step:  r(k) = ||dL/dx_{T-k}|| / ||dL/dx_{T-1}||  (mean over
a batch of 16 random sequences, 8 features, 32 units).

By the chain rule dh_T/dx_t = (prod_{s=t+1..T} dh_s/dh_{s-1}) dh_t/dx_t: a product of k
Jacobians. For SimpleRNN, dh_s/dh_{s-1} = diag(act'(a_s)) U^T, so with recurrent weights
U = g * (orthogonal) and a linear activation the norm scales like g^k exactly: it vanishes
for g < 1 and explodes for g > 1. tanh multiplies in act' <= 1 at each step, so it vanishes
even at g = 1. The LSTM's cell path dc_s/dc_{s-1} = diag(f_s) has no weight matrix in it:
with the forget gate near 1 (unit_forget_bias) the gradient survives many more steps.

Run:  python examples/rnn_gradient_flow.py      (a few seconds; prints the table of docs/recurrent.md)
"""
from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import layers as L

T, BATCH, FEATURES, UNITS = 100, 16, 8, 32
DISTANCES = [1, 5, 10, 25, 50, 99]


def ratios(layer, x):
    xt = cr.Tensor(x, requires_grad=True)
    h = layer(xt)
    (g,) = cr.grad(h.sum(), [xt])
    norms = np.linalg.norm(g.data, axis=-1).mean(axis=0)  # (T,)
    return [norms[T - 1 - k] / norms[T - 1] for k in [0] + DISTANCES[1:]]


def scaled_rnn(gain, activation):
    layer = L.SimpleRNN(UNITS, activation=activation)
    layer.build((None, T, FEATURES))
    layer.cell.recurrent_kernel.data[...] *= gain  # orthogonal * gain
    return layer


def main():
    cr.set_floatx("float64")
    cr.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(BATCH, T, FEATURES)) * 0.5
    rows = []
    for gain in (0.9, 1.0, 1.1):
        rows.append((f"SimpleRNN linear, U = {gain} x orthogonal", ratios(scaled_rnn(gain, "linear"), x)))
    for gain in (1.0, 2.0):
        rows.append((f"SimpleRNN tanh, U = {gain} x orthogonal", ratios(scaled_rnn(gain, "tanh"), x)))
    rows.append(("LSTM, forget bias 0", ratios(L.LSTM(UNITS, unit_forget_bias=False), x)))
    rows.append(("LSTM, unit_forget_bias (forget bias 1)", ratios(L.LSTM(UNITS), x)))
    lstm = L.LSTM(UNITS)
    lstm.build((None, T, FEATURES))
    lstm.cell.bias.data[UNITS:2 * UNITS] = 3.0
    rows.append(("LSTM, forget bias 3", ratios(lstm, x)))
    rows.append(("GRU (reset_after)", ratios(L.GRU(UNITS), x)))
    head = "| model | " + " | ".join(f"k = {k}" for k in DISTANCES) + " |"
    print(head)
    print("|" + "---|" * (len(DISTANCES) + 1))
    for name, r in rows:
        print(f"| {name} | " + " | ".join(f"{v:.2g}" for v in r) + " |")


if __name__ == "__main__":
    main()
