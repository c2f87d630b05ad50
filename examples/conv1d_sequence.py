"""A 1-D convolution on a sequence task: MNIST digits read row by row as sequences (real data).

Each 28x28 image becomes a sequence of 28 timesteps (the rows, top to bottom) with 28
features (the pixels of a row). A 1-D convolution slides along time only; output channel
f at step t sees k consecutive rows:

    y[t, f] = b[f] + sum_{u < k} sum_c x[t + u, c] K[u, c, f]          (K: k x C_in x filters)

Global max pooling then keeps, per channel, the strongest response anywhere in the
sequence, g[f] = max_t y[t, f], so the classifier sees *whether* a pattern of rows occurs,
not where:

    (28, 28) -> Conv1D(64, 5, relu) -> (24, 64) -> MaxPooling1D(2) -> (12, 64)
             -> Conv1D(128, 3, relu) -> (10, 128) -> GlobalMaxPooling1D -> (128,)
             -> Dense(64, relu) -> Dense(10, softmax)
    adam, sparse categorical cross-entropy, batch 64, 5 epochs

The same layers apply to any (timesteps, features) data: audio frames, sensor traces,
embedded text.

Run:  python examples/conv1d_sequence.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

import chainrule as cr
from chainrule import recipes

from _common import epochs_for, first, make_parser, report, train_and_evaluate

EPOCHS = 5


def build_model() -> cr.Sequential:
    return cr.Sequential([
        cr.layers.Input(shape=(28, 28)),
        cr.layers.Conv1D(64, 5, activation="relu"),
        cr.layers.MaxPooling1D(2),
        cr.layers.Conv1D(128, 3, activation="relu"),
        cr.layers.GlobalMaxPooling1D(),
        cr.layers.Dense(64, activation="relu"),
        cr.layers.Dense(10, activation="softmax"),
    ])


def main(argv=None) -> None:
    parser = make_parser("Conv1D + GlobalMaxPooling1D on MNIST rows read as sequences.",
                         quick_help="smoke test: 1000 training sequences, 1 epoch", epochs=EPOCHS, batch_size=64)
    args = parser.parse_args(argv)
    epochs = epochs_for(args, EPOCHS)
    cr.manual_seed(args.seed)

    data = recipes.load_images("mnist", "image")
    if args.quick:
        data = first(data, 1000, 500)
    (x_train, y_train), (x_test, y_test) = data
    x_train, x_test = x_train.reshape(-1, 28, 28), x_test.reshape(-1, 28, 28)  # (timesteps=rows, features=pixels)
    print(f"data: {x_train.shape[0]} training and {x_test.shape[0]} test MNIST digits as sequences of "
          f"{x_train.shape[1]} timesteps x {x_train.shape[2]} features")

    loss, acc, seconds = train_and_evaluate(build_model(), ((x_train, y_train), (x_test, y_test)),
                                            epochs=epochs, batch_size=args.batch_size)
    report(acc, seconds, loss=loss)


if __name__ == "__main__":
    main()
