"""The texts' first MNIST network: a one-hidden-layer perceptron, 784 -> 128 -> 10.

    Dense(128, relu, input 784) -> Dense(10, softmax)
    adam, sparse categorical cross-entropy, batch 32, 5 epochs; target: test accuracy >= 97.5%

Each 28x28 image is flattened to a vector x of 784 pixel values in [0, 1]. The network
computes

    h     = relu(x W1 + b1)             W1: 784x128
    p     = softmax(h W2 + b2)          W2: 128x10,  p_k = e^{z_k} / sum_j e^{z_j}
    loss  = -log p_y                    (cross-entropy with the integer label y)

and Adam follows the gradient that backpropagation derives from these formulas. The model
is the recipe ``texts-mlp`` in ``chainrule/recipes.py`` (the one ``chainrule train texts-mlp``
trains), so this script and the command line share one definition.

Run:  python examples/mnist_mlp_texts.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

from _common import run_recipe


def main(argv=None) -> None:
    run_recipe("texts-mlp", "The texts' MNIST MLP: 784 -> 128 relu -> 10 softmax, adam.",
               target=">= 0.975", quick_sizes=(2000, 1000), argv=argv)


if __name__ == "__main__":
    main()
