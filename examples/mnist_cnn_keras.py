"""Keras's classic ``mnist_cnn.py``: two convolutions, one pooling, dropout, a 128-unit head.

    Conv2D(32, 3x3, relu, input 28x28x1) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2) -> Dropout(0.25)
    -> Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(10, softmax)
    batch 128, 12 epochs; target: test accuracy >= 99.1%  (Keras's script reported 99.25%)

Shapes: 28x28x1 -> 26x26x32 -> 24x24x64 -> (pool 2) 12x12x64 -> 9216 -> 128 -> 10; about
1.2 million parameters, most of them in the 9216x128 Dense kernel.

One change from the original: Keras's script trained with Adadelta (lr 1.0 in Keras 2);
this one uses Adam (lr 0.001), as the recipe ``keras-mnist-cnn`` in ``chainrule/recipes.py`` does,
because chainrule has no Adadelta. Adam keeps running means of the gradient and of its
square and steps by their bias-corrected ratio:

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
    w <- w - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)      (Keras's form of the bias correction)

Run:  python examples/mnist_cnn_keras.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

from _common import run_recipe


def main(argv=None) -> None:
    run_recipe("keras-mnist-cnn", "Keras's mnist_cnn (with Adam instead of Adadelta).",
               target=">= 0.991", argv=argv)


if __name__ == "__main__":
    main()
