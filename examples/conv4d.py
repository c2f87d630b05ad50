"""A 4-D convolution (``ConvND(rank=4)``) on spatio-temporal volumes (synthetic data).

Keras stops at Conv3D; chainrule's convolution takes any number of spatial axes, and
``cr.layers.ConvND(rank, ...)`` exposes it as a layer. For rank 4, with channels last,

    y[t, i, j, l, f] = b[f] + sum_{a, u, v, w} sum_c x[t + a, i + u, j + v, l + w, c] K[a, u, v, w, c, f]

(a cross-correlation, as in Keras and PyTorch: the kernel is not flipped; K has shape
(k_t, k_i, k_j, k_l, C_in, filters)).

The task is made up here from a fixed seed, not loaded: each sample is a short "video" of
a 3-D volume, 5 frames of 8x8x8 voxels, in which a Gaussian blob moves one voxel per
frame along +x, -x, +y or -y (the 4 classes), with Gaussian noise (sigma 0.3). The grid
wraps around (the blob leaving one face comes back through the opposite one), so in every
frame the blob's position is uniform whatever the class: no single frame tells the class.
The network must combine space and time, which a 4-D kernel (3 frames x 3x3x3 voxels)
does in one step.

    (5, 8,8,8, 1) -> ConvND(4, 8 filters, 3, relu) -> (3, 6,6,6, 8)
                  -> ConvND(4, 16 filters, 3, relu) -> (1, 4,4,4, 16)
                  -> Reshape(64, 16) -> GlobalMaxPooling1D -> (16,) -> Dense(4, softmax)
    adam, sparse categorical cross-entropy, batch 32, 10 epochs; 800 training / 400 test samples

The script also checks the layer against the formula: a ConvND with a lopsided kernel
(2, 3, 3, 2) and strides (1, 2, 1, 2), and the trained first layer, are compared with a
direct summation over every output position, and the largest difference is printed.

Run:  python examples/conv4d.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

import itertools

import numpy as np

import chainrule as cr

from _common import epochs_for, make_parser, report, train_and_evaluate

FRAMES, SIDE = 5, 8
DIRECTIONS = ["+x", "-x", "+y", "-y"]
EPOCHS = 10


def make_videos(n: int, seed: int):
    """n samples of shape (FRAMES, SIDE, SIDE, SIDE, 1): a blob moving 1 voxel/frame in one of 4 directions."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(SIDE)] * 3, indexing="ij"), axis=-1).astype(np.float32)
    steps = {0: (1, 0, 0), 1: (-1, 0, 0), 2: (0, 1, 0), 3: (0, -1, 0)}
    x = np.zeros((n, FRAMES, SIDE, SIDE, SIDE, 1), dtype=np.float32)
    y = rng.integers(0, len(DIRECTIONS), size=n)
    for s in range(n):
        v = np.array(steps[int(y[s])], dtype=np.float32)
        start = rng.uniform(0.0, SIDE, size=3)
        sigma = rng.uniform(0.8, 1.3)
        for t in range(FRAMES):
            # distances on the periodic grid: the blob wraps around at the borders
            d = (grid - (start + t * v) + SIDE / 2) % SIDE - SIDE / 2
            x[s, t, ..., 0] = np.exp(-np.sum(d * d, axis=-1) / (2 * sigma * sigma))
    x += rng.normal(0.0, 0.3, size=x.shape).astype(np.float32)
    return x, y.astype(np.int64)


def build_model() -> cr.Sequential:
    return cr.Sequential([
        cr.layers.Input(shape=(FRAMES, SIDE, SIDE, SIDE, 1)),
        cr.layers.ConvND(rank=4, filters=8, kernel_size=3, activation="relu"),
        cr.layers.ConvND(rank=4, filters=16, kernel_size=3, activation="relu"),
        cr.layers.Reshape((-1, 16)),
        cr.layers.GlobalMaxPooling1D(),
        cr.layers.Dense(len(DIRECTIONS), activation="softmax"),
    ])


def direct_conv4d(x, kernel, bias, strides=(1, 1, 1, 1)):
    """The formula, summed position by position: valid padding, channels last, no kernel flip."""
    n, *spatial, _ = x.shape
    ks = kernel.shape[:4]
    out_shape = [(spatial[d] - ks[d]) // strides[d] + 1 for d in range(4)]
    y = np.zeros((n, *out_shape, kernel.shape[-1]), dtype=np.float64)
    for pos in itertools.product(*[range(o) for o in out_shape]):
        window = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, ks))
        patch = x[(slice(None), *window)].astype(np.float64)        # (n, k_t, k_i, k_j, k_l, C_in)
        y[(slice(None), *pos)] = np.einsum("nabcde,abcdef->nf", patch, kernel) + bias
    return y


def check_against_direct_sum(trained_first_layer, x_sample) -> float:
    """max |layer output - direct summation| for a strided lopsided ConvND and for the trained first layer."""
    rng = np.random.default_rng(3)
    probe = cr.layers.ConvND(rank=4, filters=3, kernel_size=(2, 3, 3, 2), strides=(1, 2, 1, 2))
    x = rng.normal(size=(2, 4, 7, 5, 6, 2)).astype(np.float32)
    with cr.no_grad():
        y = probe(cr.tensor(x)).numpy()
    kernel, bias = (w.numpy() for w in probe.weights)
    print(f"probe ConvND: input {x.shape}, kernel {kernel.shape}, strides (1, 2, 1, 2) -> output {y.shape}")
    diff_probe = float(np.max(np.abs(y - direct_conv4d(x, kernel, bias, strides=(1, 2, 1, 2)))))
    print(f"  max |ConvND - direct summation| over all {y.size} outputs: {diff_probe:.2e}")

    with cr.no_grad():
        y = trained_first_layer(cr.tensor(x_sample)).numpy()
    kernel, bias = (w.numpy() for w in trained_first_layer.weights)
    direct = np.maximum(direct_conv4d(x_sample, kernel, bias), 0.0)  # the layer's relu
    diff_trained = float(np.max(np.abs(y - direct)))
    print(f"trained first layer on {len(x_sample)} test samples: output {y.shape}; "
          f"max |ConvND - relu(direct summation)|: {diff_trained:.2e}")
    one = (0, 1, 2, 3, 2)
    print(f"  one output position {one}: layer {np.round(y[one], 5).tolist()}")
    print(f"                               direct {np.round(direct[one], 5).tolist()}")
    return max(diff_probe, diff_trained)


def main(argv=None) -> None:
    parser = make_parser("ConvND(rank=4) on synthetic moving-blob volumes.",
                         quick_help="smoke test: 200 training samples, 1 epoch", epochs=EPOCHS, batch_size=32)
    args = parser.parse_args(argv)
    epochs = epochs_for(args, EPOCHS)
    cr.manual_seed(args.seed)

    n_train, n_test = (200, 100) if args.quick else (800, 400)
    x_train, y_train = make_videos(n_train, seed=1)
    x_test, y_test = make_videos(n_test, seed=2)
    print(f"data (synthetic): {n_train} training and {n_test} test samples of shape {x_train.shape[1:]} "
          f"(frames, x, y, z, channels); classes: blob moving {DIRECTIONS}")

    model = build_model()
    loss, acc, seconds = train_and_evaluate(model, ((x_train, y_train), (x_test, y_test)),
                                            epochs=epochs, batch_size=args.batch_size, eval_batch_size=128)

    print()
    worst = check_against_direct_sum(model.layers[0], x_test[:2])
    print(f"direct-summation check: {'passed' if worst < 1e-4 else 'FAILED'} (max difference {worst:.2e})")
    print()
    report(acc, seconds, loss=loss, accuracy_note=f"chance: {1 / len(DIRECTIONS):.4f}")


if __name__ == "__main__":
    main()
