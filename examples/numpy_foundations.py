"""The texts' NumPy foundations, redone with chainrule tensors and checked against the math.

Six small pieces, each computed by hand in NumPy and by chainrule, with the difference
printed:

1. One neuron:      z = w . x + b,   a = sigmoid(z) = 1 / (1 + e^{-z});   da/dw = a (1 - a) x
2. Mean squared error:  L = (1/n) sum_i (y_hat_i - y_i)^2;   dL/dy_hat = (2/n)(y_hat - y)
3. Linear regression by gradient descent on synthetic data (y = X w_true + b_true + noise,
   drawn here from a fixed seed — not a real data set):
       L(w, b) = (1/N) ||X w + b - y||^2,   dL/dw = (2/N) X^T (X w + b - y),   dL/db = (2/N) sum (X w + b - y)
   compared with the closed-form least-squares solution from np.linalg.lstsq.
4. Backpropagation by hand for a two-layer network (softmax + cross-entropy, batch mean):
       z1 = X W1 + b1,  h = relu(z1),  z2 = h W2 + b2,  y_hat = softmax(z2),  L = -(1/N) sum log y_hat[y]
       dL/dz2 = (y_hat - Y) / N                   (Y one-hot)
       dL/dW2 = h^T dL/dz2,     dL/db2 = sum_rows dL/dz2
       dL/dh  = dL/dz2 W2^T,    dL/dz1 = dL/dh * 1[z1 > 0]
       dL/dW1 = X^T dL/dz1,     dL/db1 = sum_rows dL/dz1
   next to what ``loss.backward()`` finds.
5. Batch vs stochastic vs mini-batch gradient descent on the regression of 3.
6. Momentum, AdaGrad, RMSprop and Adam (``cr.optimizers``) on the same regression.

Everything runs in float64 (``cr.set_floatx("float64")``) so that the checks are exact to
rounding. The script trains no network on a data set, so ``--quick`` and ``--epochs`` only
shorten sections 5 and 6, and the "test accuracy" it prints at the end is that of the
two-layer network of section 4 after a few hundred steps on its own synthetic, separable data.

Run:  python examples/numpy_foundations.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

import time

import numpy as np

import chainrule as cr
from chainrule import functional as F

from _common import epochs_for, make_parser, report


def section(title: str) -> None:
    print()
    print(f"== {title}")


def single_neuron() -> None:
    section("1. a single neuron: a = sigmoid(w . x + b)")
    x = np.array([1.0, 2.0, 3.0])
    w = np.array([0.2, -0.5, 0.1])
    b = 0.4
    z = w @ x + b
    a = 1.0 / (1.0 + np.exp(-z))
    print(f"NumPy:      z = {z:.6f}, a = {a:.6f}, da/dw = a(1-a)x = {a * (1 - a) * x}")

    wt = cr.tensor(w, requires_grad=True)
    at = ((wt * cr.tensor(x)).sum() + b).sigmoid()
    at.backward()
    print(f"chainrule:  a = {at.item():.6f}, da/dw (backward) = {wt.grad.numpy()}")
    print(f"max |difference| of da/dw: {np.max(np.abs(wt.grad.numpy() - a * (1 - a) * x)):.2e}")


def mean_squared_error() -> None:
    section("2. mean squared error: L = mean((y_hat - y)^2)")
    y = np.array([3.0, -0.5, 2.0, 7.0])
    y_hat = np.array([2.5, 0.0, 2.0, 8.0])
    loss = np.mean((y_hat - y) ** 2)
    print(f"NumPy:      L = {loss:.6f}, dL/dy_hat = 2(y_hat - y)/n = {2 * (y_hat - y) / len(y)}")

    y_hat_t = cr.tensor(y_hat, requires_grad=True)
    loss_t = F.mean_squared_error(cr.tensor(y), y_hat_t)
    loss_t.backward()
    print(f"chainrule:  L = {loss_t.item():.6f} (F.mean_squared_error), dL/dy_hat = {y_hat_t.grad.numpy()}")


def regression_data(n: int = 200):
    """Synthetic linear data: y = X w_true + b_true + N(0, 0.1^2) noise, from a fixed seed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    w_true, b_true = np.array([2.0, -3.4, 1.5]), 4.2
    y = X @ w_true + b_true + 0.1 * rng.normal(size=n)
    return X, y


def least_squares(X, y):
    """The exact minimizer of mean((X w + b - y)^2): lstsq on [X, 1]."""
    A = np.hstack([X, np.ones((len(X), 1))])
    theta, *_ = np.linalg.lstsq(A, y, rcond=None)
    return theta[:-1], theta[-1], np.mean((A @ theta - y) ** 2)


def mse_of(X, y, w, b) -> float:
    return float(np.mean((X @ w + b - y) ** 2))


def linear_regression_gd(X, y) -> None:
    section("3. linear regression by gradient descent (synthetic data) vs least squares")
    w = cr.zeros((3,), requires_grad=True)
    b = cr.zeros((), requires_grad=True)
    Xt, yt = cr.tensor(X), cr.tensor(y)
    lr, steps = 0.1, 500
    for step in range(steps):
        loss = ((Xt @ w + b - yt) ** 2).mean()
        w.grad, b.grad = None, None
        loss.backward()
        with cr.no_grad():
            w.data -= lr * w.grad.data
            b.data -= lr * b.grad.data
        if step in (0, 10, 100, steps - 1):
            print(f"  step {step:3d}: loss {loss.item():.6f}")
    w_ls, b_ls, loss_ls = least_squares(X, y)
    print(f"gradient descent ({steps} steps, lr {lr}): w = {np.round(w.numpy(), 6)}, b = {b.item():.6f}")
    print(f"least squares (np.linalg.lstsq):        w = {np.round(w_ls, 6)}, b = {b_ls:.6f}")
    diff = max(np.max(np.abs(w.numpy() - w_ls)), abs(b.item() - b_ls))
    print(f"max |difference|: {diff:.2e}   (the data were made with w = [2, -3.4, 1.5], b = 4.2)")
    print(f"minimum loss (least squares): {loss_ls:.6f}")


def backprop_by_hand():
    section("4. backpropagation by hand for a two-layer network vs backward()")
    rng = np.random.default_rng(1)
    N, d, H, K = 64, 4, 16, 3
    # Synthetic, separable data: the class is the index of the largest of the first three features.
    X = rng.normal(size=(N, d))
    y = np.argmax(X[:, :K], axis=1)
    W1, b1 = rng.normal(size=(d, H)) * 0.5, np.zeros(H)
    W2, b2 = rng.normal(size=(H, K)) * 0.5, np.zeros(K)

    # Forward and backward by hand.
    z1 = X @ W1 + b1
    h = np.maximum(z1, 0.0)
    z2 = h @ W2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    y_hat = e / e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(y_hat[np.arange(N), y]))
    Y = np.eye(K)[y]
    dz2 = (y_hat - Y) / N
    dW2 = h.T @ dz2
    db2 = dz2.sum(axis=0)
    dh = dz2 @ W2.T
    dz1 = dh * (z1 > 0)
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)

    # The same with chainrule's autograd.
    params = [cr.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    tW1, tb1, tW2, tb2 = params

    def forward(Xb):
        return F.softmax((Xb @ tW1 + tb1).relu() @ tW2 + tb2)

    loss_t = F.sparse_categorical_crossentropy(y, forward(cr.tensor(X))).mean()
    loss_t.backward()
    print(f"loss: by hand {loss:.10f}, chainrule {loss_t.item():.10f}")
    worst = 0.0
    for name, by_hand, p in zip(("dL/dW1", "dL/db1", "dL/dW2", "dL/db2"), (dW1, db1, dW2, db2), params):
        d_max = float(np.max(np.abs(by_hand - p.grad.numpy())))
        worst = max(worst, d_max)
        print(f"  {name} {str(by_hand.shape):8s} max |by hand - backward()| = {d_max:.2e}")
    print(f"max difference over all gradients: {worst:.2e}")

    # A few hundred plain gradient steps with the hand-derived gradients' twin, backward().
    opt = cr.optimizers.SGD(learning_rate=0.5)
    X_test = rng.normal(size=(500, d))
    y_test = np.argmax(X_test[:, :K], axis=1)
    for _ in range(300):
        for p in params:
            p.grad = None
        F.sparse_categorical_crossentropy(y, forward(cr.tensor(X))).mean().backward()
        opt.apply([p.grad for p in params], params)
    with cr.no_grad():
        acc = float(np.mean(np.argmax(forward(cr.tensor(X_test)).numpy(), axis=1) == y_test))
    print(f"after 300 SGD steps on the 64 training points: accuracy on 500 fresh synthetic points {acc:.4f}")
    return acc


def run_gd(X, y, batch_size: int, epochs: int, lr: float, seed: int = 0):
    """Gradient descent on mean((X w + b - y)^2) with batches of ``batch_size``; returns (w, b, updates)."""
    rng = np.random.default_rng(seed)
    w = cr.zeros((X.shape[1],), requires_grad=True)
    b = cr.zeros((), requires_grad=True)
    updates = 0
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss = ((cr.tensor(X[idx]) @ w + b - cr.tensor(y[idx])) ** 2).mean()
            w.grad, b.grad = None, None
            loss.backward()
            with cr.no_grad():
                w.data -= lr * w.grad.data
                b.data -= lr * b.grad.data
            updates += 1
    return w.numpy(), b.item(), updates


def batch_vs_stochastic(X, y, epochs: int) -> None:
    section(f"5. batch vs stochastic vs mini-batch gradient descent ({epochs} epochs each, lr 0.05)")
    _, _, loss_ls = least_squares(X, y)
    print(f"{'method':28s} {'updates':>8s} {'final loss':>12s} {'loss - minimum':>15s}")
    for name, bs in (("batch (all 200 samples)", len(X)), ("stochastic (1 sample)", 1), ("mini-batch (32 samples)", 32)):
        w, b, updates = run_gd(X, y, bs, epochs, lr=0.05)
        loss = mse_of(X, y, w, b)
        print(f"{name:28s} {updates:8d} {loss:12.6f} {loss - loss_ls:15.2e}")
    print(f"{'least squares':28s} {'':8s} {loss_ls:12.6f}")


def optimizers_compared(X, y, steps: int) -> None:
    section(f"6. optimizers on the same regression ({steps} full-batch steps each, from w = 0, b = 0)")
    _, _, loss_ls = least_squares(X, y)
    Xt, yt = cr.tensor(X), cr.tensor(y)
    candidates = [
        ("SGD, lr 0.01", cr.optimizers.SGD(learning_rate=0.01)),
        ("SGD + momentum 0.9, lr 0.01", cr.optimizers.SGD(learning_rate=0.01, momentum=0.9)),
        ("AdaGrad, lr 0.5", cr.optimizers.Adagrad(learning_rate=0.5)),
        ("RMSprop, lr 0.05", cr.optimizers.RMSprop(learning_rate=0.05)),
        ("Adam, lr 0.1", cr.optimizers.Adam(learning_rate=0.1)),
    ]
    print(f"{'optimizer':30s} {'final loss':>12s} {'loss - minimum':>15s}")
    for name, opt in candidates:
        w = cr.zeros((X.shape[1],), requires_grad=True)
        b = cr.zeros((), requires_grad=True)
        for _ in range(steps):
            loss = ((Xt @ w + b - yt) ** 2).mean()
            gw, gb = cr.grad(loss, [w, b])
            opt.apply([gw, gb], [w, b])
        final = mse_of(X, y, w.numpy(), b.item())
        print(f"{name:30s} {final:12.6f} {final - loss_ls:15.2e}")
    print(f"{'least squares':30s} {loss_ls:12.6f}")


def main(argv=None) -> None:
    parser = make_parser("The texts' NumPy foundations with chainrule tensors.",
                         quick_help="fewer epochs/steps in sections 5 and 6", epochs=20,
                         epochs_help="epochs for section 5 (default 20; 2 with --quick); "
                                     "section 6 runs 10x as many steps")
    args = parser.parse_args(argv)
    epochs = epochs_for(args, 20, quick=2)
    cr.manual_seed(args.seed)
    cr.set_floatx("float64")

    start = time.perf_counter()
    single_neuron()
    mean_squared_error()
    X, y = regression_data()
    linear_regression_gd(X, y)
    acc = backprop_by_hand()
    batch_vs_stochastic(X, y, epochs)
    optimizers_compared(X, y, 10 * epochs)
    seconds = time.perf_counter() - start
    print()
    report(acc, seconds / epochs, accuracy_note="the two-layer network of section 4, on synthetic data",
           seconds_note=f"the whole script's time over the {epochs} epochs of section 5")


if __name__ == "__main__":
    main()
