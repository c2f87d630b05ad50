"""The Keras "first example" network, on real data with 100 features.

Keras's guide opens with a three-layer network on 100 input features:

    Dense(64, relu, input 100) -> Dense(64, relu) -> Dense(10, softmax)
    optimizer adam, loss sparse categorical cross-entropy, 10 epochs

The guide feeds it random numbers. Here it gets real data with 100 features: the MNIST
digits shrunk from 28x28 to 10x10 pixels by exact area averaging.

Area resize. 28 -> 10 is not an integer factor: each output pixel covers s = 2.8 input
pixels along each axis, so it straddles pixel borders. Output pixel i covers the
interval [i*s, (i+1)*s); input pixel j covers [j, j+1). Its weight in the average is the
length of their overlap divided by s:

    R[i, j] = |[i*s, (i+1)*s) ∩ [j, j+1)| / s          (each row of R sums to 1)

Averaging over the rows and then over the columns is separable, so one 28x28 image
becomes

    img10 = R @ img @ R.T          (R is 10x28)

which is exactly the mean of the image over each output pixel's area (what PIL calls
BOX and OpenCV INTER_AREA).

Run:  python examples/keras_first_example.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

import numpy as np

import chainrule as cr

from _common import epochs_for, first, make_parser, report, train_and_evaluate


def area_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """R (n_out x n_in): R[i, j] = overlap of output cell i with input pixel j, divided by the cell width."""
    s = n_in / n_out
    R = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * s, (i + 1) * s
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
            R[i, j] = (min(hi, j + 1) - max(lo, j)) / s
    return R


def area_resize(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, H) -> (N, size, size) by exact area averaging: R @ img @ R.T for every image."""
    R = area_resize_matrix(images.shape[-1], size)
    return (R @ images.astype(np.float64) @ R.T).astype(np.float32)


def main(argv=None) -> None:
    parser = make_parser("Keras's first example (100 -> 64 -> 64 -> 10) on MNIST at 10x10.",
                         quick_help="smoke test: 2000 training images, 1 epoch", epochs=10, batch_size=32)
    args = parser.parse_args(argv)
    epochs = epochs_for(args, 10)
    cr.manual_seed(args.seed)

    # Sanity checks of the resize: rows sum to 1; an integer factor (28 -> 14) is the plain 2x2 block mean.
    R = area_resize_matrix(28, 10)
    assert np.allclose(R.sum(axis=1), 1.0)
    img = np.random.default_rng(0).random((28, 28))
    assert np.allclose(area_resize(img[None], 14)[0], img.reshape(14, 2, 14, 2).mean(axis=(1, 3)), atol=1e-6)
    print("area-resize matrix R (10x28), first two rows' non-zero weights:")
    for i in range(2):
        nz = np.nonzero(R[i])[0]
        print(f"  row {i}: columns {nz.tolist()} weights {np.round(R[i, nz], 4).tolist()}")

    data = cr.datasets.mnist.load_data()
    if args.quick:
        data = first(data, 2000, 1000)
    (x_train, y_train), (x_test, y_test) = data
    x_train = area_resize(x_train / 255.0, 10).reshape(-1, 100)
    x_test = area_resize(x_test / 255.0, 10).reshape(-1, 100)
    print(f"data: {x_train.shape[0]} training and {x_test.shape[0]} test images, 28x28 -> 10x10 = 100 features")

    model = cr.Sequential([
        cr.layers.Dense(64, activation="relu", input_shape=(100,)),
        cr.layers.Dense(64, activation="relu"),
        cr.layers.Dense(10, activation="softmax"),
    ])
    loss, acc, seconds = train_and_evaluate(model, ((x_train, y_train), (x_test, y_test)),
                                            epochs=epochs, batch_size=args.batch_size)
    report(acc, seconds, loss=loss)


if __name__ == "__main__":
    main()
