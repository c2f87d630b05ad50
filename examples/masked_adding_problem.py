"""A bidirectional LSTM with masking on variable-length sequences: the adding problem (synthetic data).

The adding problem (Hochreiter & Schmidhuber, 1997) is a standard test of long-range memory:
each sequence has 10 to 50 steps of two features, a random value in [0, 1) and a marker
(0 or 1); exactly two steps are marked, one in each half of the sequence, and the target is
the sum of the two marked values. The data are generated here (synthetic, seeded): 8,000
training and 2,000 test sequences, right-padded with all-zero steps to 50.

    Masking(0.0) -> Bidirectional(LSTM(32)) -> Dense(1),  mean squared error, Adam 3e-3, batch 64

``Masking`` marks the padded steps; both LSTM directions carry their state through them, so a
padded sequence gets the same prediction as the sequence alone (checked at the end). Always
predicting the mean target (1.0) gives a mean squared error of about 1/6 = 0.167; a model
that finds and adds the two marked values goes far below.

Run:  python examples/masked_adding_problem.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import layers as L

MAX_LEN = 50


def make_data(n, rng):
    lengths = rng.integers(10, MAX_LEN + 1, size=n)
    x = np.zeros((n, MAX_LEN, 2), dtype=np.float32)
    y = np.zeros((n, 1), dtype=np.float32)
    for i, n_steps in enumerate(lengths):
        values = rng.random(n_steps).astype(np.float32) + 1e-3  # never exactly the mask value 0
        a = rng.integers(0, n_steps // 2)
        b = rng.integers(n_steps // 2, n_steps)
        x[i, :n_steps, 0] = values
        x[i, [a, b], 1] = 1.0
        y[i, 0] = values[a] + values[b]
    return x, y, lengths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    n_train, n_test = (512, 256) if args.quick else (8000, 2000)
    x_train, y_train, _ = make_data(n_train, rng)
    x_test, y_test, len_test = make_data(n_test, rng)
    epochs = args.epochs or (1 if args.quick else 12)
    model = cr.Sequential([L.Input(shape=(None, 2)), L.Masking(0.0), L.Bidirectional(L.LSTM(32)), L.Dense(1)])
    model.compile(optimizer=cr.optimizers.Adam(3e-3), loss="mse")
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        h = model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
        mse = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
        print(f"epoch {epoch + 1}/{epochs}  train mse {h.history['loss'][-1]:.4f}  test mse {mse:.4f}  "
              f"{times[-1]:.1f} s", flush=True)
    mse = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    baseline = float(((y_test - y_test.mean()) ** 2).mean())
    padded = model.predict(x_test[:20], verbose=0)
    alone = np.concatenate([model.predict(x_test[i:i + 1, :len_test[i]], verbose=0) for i in range(20)])
    print(f"padded vs alone: max |difference| of predictions {np.abs(padded - alone).max():.2e}")
    print(f"test mse: {mse:.4f} (predicting the mean: {baseline:.4f})  seconds per epoch: {np.mean(times):.1f}")


if __name__ == "__main__":
    main()
