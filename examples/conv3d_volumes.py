"""A 3-D convolution on volumes: sphere vs cube vs cross in 16x16x16 voxel grids (synthetic data).

The data are made up here, from a fixed seed, not loaded: each sample is a 16x16x16
volume holding one solid shape — a ball, an axis-aligned cube, or a 3-D cross (three
orthogonal bars through one point) — of random size and position, with random
brightness, plus Gaussian noise (sigma 0.3). The label is the shape. It stands in for
volumetric data such as CT/MRI patches or voxelized 3-D objects.

A 3-D convolution slides a k x k x k x C_in kernel through the volume:

    y[i, j, l, f] = b[f] + sum_{u, v, w < k} sum_c x[i + u, j + v, l + w, c] K[u, v, w, c, f]

and 3-D max pooling keeps the largest value of each 2x2x2 block:

    (16,16,16,1) -> Conv3D(8, 3, relu) -> (14,14,14,8) -> MaxPooling3D(2) -> (7,7,7,8)
                 -> Conv3D(16, 3, relu) -> (5,5,5,16) -> MaxPooling3D(2) -> (2,2,2,16)
                 -> Flatten -> Dense(32, relu) -> Dense(3, softmax)
    adam, sparse categorical cross-entropy, batch 32, 10 epochs; 2000 training / 500 test volumes

Run:  python examples/conv3d_volumes.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

import numpy as np

import chainrule as cr

from _common import epochs_for, make_parser, report, train_and_evaluate

SIZE = 16
SHAPES = ["sphere", "cube", "cross"]
EPOCHS = 10


def make_volumes(n: int, seed: int):
    """n noisy 16^3 volumes with one shape each, and their labels (0 sphere, 1 cube, 2 cross)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(SIZE)] * 3, indexing="ij"), axis=-1).astype(np.float32)
    x = np.zeros((n, SIZE, SIZE, SIZE, 1), dtype=np.float32)
    y = rng.integers(0, len(SHAPES), size=n)
    for s in range(n):
        r = rng.uniform(2.5, 5.0)                       # radius / half-side / arm length
        c = rng.uniform(r, SIZE - 1 - r, size=3)        # centre, so the shape fits inside
        d = grid - c
        if y[s] == 0:
            mask = np.sum(d * d, axis=-1) <= r * r
        elif y[s] == 1:
            mask = np.max(np.abs(d), axis=-1) <= r * 0.8  # side 1.6 r: (1.6 r)^3 ~ the ball's 4/3 pi r^3
        else:
            a = np.abs(d)
            thick, arm = 1.0, r + 1.5                    # bars 3 voxels thick
            bars = [(a[..., i] <= arm) & (a[..., (i + 1) % 3] <= thick) & (a[..., (i + 2) % 3] <= thick)
                    for i in range(3)]
            mask = bars[0] | bars[1] | bars[2]
        x[s, ..., 0] = mask * rng.uniform(0.6, 1.0)
    x += rng.normal(0.0, 0.3, size=x.shape).astype(np.float32)
    return x, y.astype(np.int64)


def build_model() -> cr.Sequential:
    return cr.Sequential([
        cr.layers.Input(shape=(SIZE, SIZE, SIZE, 1)),
        cr.layers.Conv3D(8, 3, activation="relu"),
        cr.layers.MaxPooling3D(2),
        cr.layers.Conv3D(16, 3, activation="relu"),
        cr.layers.MaxPooling3D(2),
        cr.layers.Flatten(),
        cr.layers.Dense(32, activation="relu"),
        cr.layers.Dense(len(SHAPES), activation="softmax"),
    ])


def main(argv=None) -> None:
    parser = make_parser("Conv3D on synthetic 16^3 volumes: sphere vs cube vs cross.",
                         quick_help="smoke test: 300 training volumes, 1 epoch", epochs=EPOCHS, batch_size=32)
    args = parser.parse_args(argv)
    epochs = epochs_for(args, EPOCHS)
    cr.manual_seed(args.seed)

    n_train, n_test = (300, 150) if args.quick else (2000, 500)
    x_train, y_train = make_volumes(n_train, seed=1)
    x_test, y_test = make_volumes(n_test, seed=2)
    print(f"data (synthetic): {n_train} training and {n_test} test volumes of shape {x_train.shape[1:]}, "
          f"classes {SHAPES}, counts in training {np.bincount(y_train, minlength=3).tolist()}")

    loss, acc, seconds = train_and_evaluate(build_model(), ((x_train, y_train), (x_test, y_test)),
                                            epochs=epochs, batch_size=args.batch_size, eval_batch_size=128)
    report(acc, seconds, loss=loss, accuracy_note=f"chance: {1 / len(SHAPES):.4f}")


if __name__ == "__main__":
    main()
