"""Keras's classic ``mnist_mlp.py``: two 512-unit layers with dropout, trained with RMSprop.

    784 -> Dense(512, relu) -> Dropout(0.2) -> Dense(512, relu) -> Dropout(0.2) -> Dense(10, softmax)
    RMSprop (lr 0.001), sparse categorical cross-entropy, batch 128, 20 epochs
    target: test accuracy >= 98.2%  (Keras's script reported 98.40%)

Dropout (inverted): during training each activation is kept with probability 1 - rate and
scaled by 1 / (1 - rate), so its expectation is unchanged and inference needs no rescaling:

    mask_i ~ Bernoulli(1 - rate),   y_i = x_i * mask_i / (1 - rate)     (training)
    y_i = x_i                                                           (inference)

RMSprop divides each step by a running root-mean-square of the gradient:

    v <- rho v + (1 - rho) g^2,     w <- w - lr g / sqrt(v + eps)       (rho 0.9, Keras's form)

The original used one-hot labels with categorical cross-entropy; integer labels with the
sparse loss give the same numbers. The original also scored the test set after every
epoch (``validation_data``); here it is scored once at the end, so the seconds per epoch
are training alone. The model is the recipe ``keras-mnist-mlp`` in
``chainrule/recipes.py``.

Run:  python examples/mnist_mlp_keras.py [--quick] [--epochs N] [--seed N]
"""
from __future__ import annotations

from _common import run_recipe


def main(argv=None) -> None:
    run_recipe("keras-mnist-mlp", "Keras's mnist_mlp: 512-512 relu with dropout 0.2, RMSprop.",
               target=">= 0.982", quick_sizes=(2000, 1000), argv=argv)


if __name__ == "__main__":
    main()
