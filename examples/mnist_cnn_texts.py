"""The texts' MNIST convolutional network: two conv/pool stages and a small dense head.

    Conv2D(32, 3x3, relu, input 28x28x1) -> MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2)
    -> Flatten -> Dense(64, relu) -> Dense(10, softmax)
    adam, sparse categorical cross-entropy, batch 64, 10 epochs; target: test accuracy >= 99.0%

Adam's learning rate falls from 1e-3 to 0 along a half cosine over the run (Keras's
``CosineDecay``): lr_t = 1e-3 * (1 + cos(pi t / T)) / 2 for step t of T. With a constant
1e-3 the last epochs bounce between about 98.9% and 99.1% from one epoch to the next (the
final noisy steps decide where the weights end); decayed, they settle near 99.2%.

A 2-D convolution (as in Keras and PyTorch, a cross-correlation: the kernel is not
flipped) slides a k x k x C_in kernel over the image; output channel f at (i, j) is

    y[i, j, f] = b[f] + sum_{u, v < k} sum_c x[i + u, j + v, c] K[u, v, c, f]

so the shapes go 28x28x1 -> 26x26x32 -> (pool 2) 13x13x32 -> 11x11x64 -> (pool 2) 5x5x64
-> 1600 -> 64 -> 10. Max pooling keeps the largest value of each 2x2 window; its gradient
flows only to that maximum.

The model is the recipe ``texts-cnn`` in ``chainrule/recipes.py`` (the command line's
``chainrule train texts-cnn`` defaults to 2 epochs for a quick run; the texts train 10).

Run:  python examples/mnist_cnn_texts.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

from _common import run_recipe


def main(argv=None) -> None:
    run_recipe("texts-cnn", "The texts' MNIST CNN: conv32-pool-conv64-pool-dense64-dense10.",
               target=">= 0.990", epochs=10, argv=argv)


if __name__ == "__main__":
    main()
