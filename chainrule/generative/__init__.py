"""Generative models: variational autoencoders, GANs, and figures that measure a generator.

``MLPVAE``/``ConvVAE`` and ``GAN`` are subclassed ``cr.Model``s whose overridden
``train_step`` ``fit`` drives (see ``chainrule/models/custom_step.py``); their math is in
``chainrule.functional`` (``ops/generative.py``). ``measures`` has the classifier score and the
Fréchet distance; ``mnist`` the command-line flows (``chainrule train gan-mnist``,
``chainrule sample``). Derivations: docs/generative.md.
"""
from .gan import GAN, dcgan_discriminator, dcgan_generator
from .vae import VAE, ConvVAE, GaussianEncoder, MLPVAE

__all__ = ["GAN", "VAE", "ConvVAE", "GaussianEncoder", "MLPVAE", "dcgan_discriminator", "dcgan_generator"]
