"""PyTorch twin of examples/mnist_lstm_rows.py part 2: two LSTM(64) on MNIST read as 28 rows of 28 pixels.

Same model (LSTM(64) -> LSTM(64) -> Linear(10), softmax cross-entropy), Keras's initializers
(kernels glorot-uniform, recurrent kernels orthogonal, zero biases with the forget-gate bias
at 1, Dense glorot-uniform), Adam (eps 1e-7) 2e-3 with the same half-cosine decay over the
run, batch 64, the same per-epoch NumPy permutations, 10 epochs. One CPU thread.

Run:  python examples/torch_twins/mnist_lstm_rows_torch.py [--epochs N] [--seed N]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from chainrule import recipes


class RowsLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.LSTM(28, 64, batch_first=True)
        self.l2 = torch.nn.LSTM(64, 64, batch_first=True)
        for rnn in (self.l1, self.l2):
            torch.nn.init.xavier_uniform_(rnn.weight_ih_l0)
            torch.nn.init.orthogonal_(rnn.weight_hh_l0)
            torch.nn.init.zeros_(rnn.bias_ih_l0)
            torch.nn.init.zeros_(rnn.bias_hh_l0)
            with torch.no_grad():
                rnn.bias_ih_l0[64:128] = 1.0
        self.out = torch.nn.Linear(64, 10)
        torch.nn.init.xavier_uniform_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def forward(self, x):
        h = self.l1(x)[0]
        h = self.l2(h)[0][:, -1]
        return self.out(h)


def accuracy(model, x, y):
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(x[s:s + 256])).argmax(-1) for s in range(0, len(x), 256)])
    return float((pred.numpy() == y).mean())


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = recipes.load_images("mnist", "image")
    x_train, x_test = x_train[..., 0], x_test[..., 0]
    batch = 64
    steps = args.epochs * -(-len(x_train) // batch)
    model = RowsLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, eps=1e-7)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    rng = np.random.default_rng(args.seed)
    times = []
    for epoch in range(args.epochs):
        perm = rng.permutation(len(x_train))
        start = time.perf_counter()
        for s in range(0, len(perm), batch):
            idx = perm[s:s + batch]
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x_train[idx])), torch.from_numpy(y_train[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        times.append(time.perf_counter() - start)
        print(f"epoch {epoch + 1}/{args.epochs}  test accuracy {accuracy(model, x_test, y_test):.4f}  {times[-1]:.1f} s",
              flush=True)
    print(f"[torch twin, two LSTM(64) on MNIST rows] test accuracy: {accuracy(model, x_test, y_test):.4f}  "
          f"seconds per epoch: {np.mean(times):.1f}")


if __name__ == "__main__":
    main()
