"""Regularization side by side: one MLP, seven ways to fight overfitting, one table.

The network is 784 -> 256 relu -> 256 relu -> 10 softmax, trained with Adam (batch 128,
20 epochs) on only the first 10,000 MNIST training images so that it overfits: training
accuracy climbs to ~100% while test accuracy stalls. Each variant adds one remedy:

    none             L = CE
    L1               L = CE + l1 * sum |W|                   dR/dW = l1 sign(W)   (sparse weights)
    L2               L = CE + l2 * sum W^2                   dR/dW = 2 l2 W       (weight decay)
    Elastic Net      L = CE + l1 * sum |W| + l2 * sum W^2    (cr.regularizers.L1L2)
    dropout          h <- h * mask / (1 - rate) while training, mask_i ~ Bernoulli(1 - rate)
    batch norm       h <- gamma (z - mean_B) / sqrt(var_B + eps) + beta before each relu
    activity L1      L = CE + a1 * sum |h|   on the hidden activations h (sparse activations)

The weight penalties go on every Dense kernel (``kernel_regularizer=``); the activity
penalty on the two hidden layers' outputs (``activity_regularizer=``; as in Keras 3, the
penalty is summed over the batch, not averaged; tf.keras 2 divided it by the batch size). The table gives train and test accuracy,
their gap, the fraction of hidden activations that are exactly zero on the test set (relu
makes some zero in every variant; the L1 activity penalty makes many more), and the
fraction of kernel weights with |w| < 1e-3.

Run:  python examples/regularization.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import recipes

from _common import EpochTimer, epochs_for, make_parser, report

L1, L2, ACTIVITY_L1, DROPOUT = 1e-5, 1e-4, 1e-5, 0.5
VARIANTS = ["none", "L1", "L2", "Elastic Net (L1L2)", "dropout", "batch norm", "activity L1"]


def build_mlp(variant: str) -> cr.Sequential:
    """784 -> 256 relu -> 256 relu -> 10 softmax with one regularizer; hidden relu outputs are named hidden1/2."""
    kernel_reg = {
        "L1": cr.regularizers.L1(L1),
        "L2": cr.regularizers.L2(L2),
        "Elastic Net (L1L2)": cr.regularizers.L1L2(l1=L1, l2=L2),
    }.get(variant)
    activity_reg = cr.regularizers.L1(ACTIVITY_L1) if variant == "activity L1" else None
    layers = [cr.layers.Input(shape=(784,))]
    for i in (1, 2):
        if variant == "batch norm":
            layers += [cr.layers.Dense(256),
                       cr.layers.BatchNormalization(),
                       cr.layers.Activation("relu", name=f"hidden{i}")]
        else:
            layers.append(cr.layers.Dense(256, activation="relu", kernel_regularizer=kernel_reg,
                                          activity_regularizer=activity_reg, name=f"hidden{i}"))
        if variant == "dropout":
            layers.append(cr.layers.Dropout(DROPOUT))
    layers.append(cr.layers.Dense(10, activation="softmax", kernel_regularizer=kernel_reg))
    return cr.Sequential(layers)


def hidden_zero_fraction(model, x) -> float:
    """Fraction of exactly-zero values in the outputs of the layers named hidden1 and hidden2."""
    zeros, total = 0, 0
    with cr.no_grad():
        h = cr.tensor(x)
        for layer in model.layers:
            h = layer(h, training=False)
            if layer.name.startswith("hidden"):
                zeros += int(np.sum(h.numpy() == 0))
                total += h.size
    return zeros / total


def small_weight_fraction(model) -> float:
    kernels = [w.numpy() for w in model.weights if w.ndim == 2]
    return float(sum(np.sum(np.abs(k) < 1e-3) for k in kernels) / sum(k.size for k in kernels))


def main(argv=None) -> None:
    parser = make_parser("One MLP with none/L1/L2/L1L2/dropout/batch norm/activity L1.",
                         quick_help="smoke test: 1000 training images, 1 epoch", epochs=20, batch_size=128)
    parser.add_argument("--train-size", type=int, default=10_000, help="training subset size (default 10000)")
    args = parser.parse_args(argv)
    epochs = epochs_for(args, 20)
    n_train = 1000 if args.quick else args.train_size

    (x_train, y_train), (x_test, y_test) = recipes.load_images("mnist", "flat")
    x_train, y_train = x_train[:n_train], y_train[:n_train]
    if args.quick:
        x_test, y_test = x_test[:500], y_test[:500]
    print(f"data: the first {len(x_train)} MNIST training images (a subset, so overfitting shows), "
          f"{len(x_test)} test images; {epochs} epoch(s), batch {args.batch_size}")

    rows, seconds = [], []
    for variant in VARIANTS:
        cr.manual_seed(args.seed)  # the same initial weights and batch order for every variant
        model = build_mlp(variant)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        timer = EpochTimer()
        model.fit(x_train, y_train, epochs=epochs, batch_size=args.batch_size, verbose=0, callbacks=[timer])
        seconds += timer.seconds
        _, train_acc = model.evaluate(x_train, y_train, batch_size=512, verbose=0)
        _, test_acc = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
        row = (variant, train_acc, test_acc, hidden_zero_fraction(model, x_test), small_weight_fraction(model))
        rows.append(row)
        print(f"  {variant:20s} train {train_acc:.4f}  test {test_acc:.4f}  ({np.mean(timer.seconds):.1f} s/epoch)")

    print()
    print(f"{'regularization':20s} {'train acc':>9s} {'test acc':>9s} {'gap':>7s} {'zero activations':>17s} "
          f"{'|w| < 1e-3':>11s}")
    for variant, train_acc, test_acc, zero_frac, small_w in rows:
        print(f"{variant:20s} {train_acc:9.4f} {test_acc:9.4f} {train_acc - test_acc:7.4f} {zero_frac:17.3f} "
              f"{small_w:11.3f}")
    print(f"(L1 {L1}, L2 {L2}, dropout rate {DROPOUT}, activity L1 {ACTIVITY_L1} on the hidden layers)")
    best = max(rows, key=lambda r: r[2])
    print(f"best test accuracy: {best[0]}")
    report(best[2], np.mean(seconds), seconds_note="mean over all variants")


if __name__ == "__main__":
    main()
