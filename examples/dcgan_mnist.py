"""DCGAN on MNIST (the recipe `chainrule train gan-mnist`): a generator and a discriminator trained by ``fit``.

    generator     z (64) -> Dense(7*7*128) -> BatchNorm -> LeakyReLU -> Conv2DTranspose(64, 4, stride 2) -> BatchNorm
                  -> LeakyReLU -> Conv2DTranspose(32, 4, stride 2) -> BatchNorm -> LeakyReLU -> Conv2D(1, 3, sigmoid):
                  a 28x28x1 image in [0, 1] (GAN(refine_filters=32))
    discriminator Conv2D(64, 4, stride 2, LeakyReLU) -> Conv2D(128, 4, stride 2, LeakyReLU) -> Dense(1): a logit
    losses        non-saturating, from logits: L_D = E softplus(-D(x)) + E softplus(D(G(z))),  L_G = E softplus(-D(G(z)))
    Adam(beta_1=0.5): 8e-4 for the generator, 4e-4 for the discriminator; batch 64; a moving average of the
                  generator's weights (decay 0.999) makes the samples; at most 30 minutes of training, both
                  learning rates falling linearly to 0 over the second half of that time (TimeLimit(anneal_from=0.5))
    target        classifier score >= 8.5 and Frechet classifier distance <= 10 (10,000 samples vs the test set)

``cr.generative.GAN`` overrides ``train_step``: a discriminator step then a generator step per batch.

Run:  python examples/dcgan_mnist.py [--minutes M] [--epochs N] [--grid PNG] [--save PATH]
      (the same as: chainrule train gan-mnist --minutes M --grid PNG --save PATH)
"""
from __future__ import annotations

from _common import gan_parser, gan_run_options

from chainrule.generative.mnist import train_gan


def main(argv=None) -> None:
    args = gan_parser(__doc__.splitlines()[0]).parse_args(argv)
    train_gan("gan-mnist", **gan_run_options(args))


if __name__ == "__main__":
    main()
