"""A GAN trained by a plain loop: no fit, just cr.grad / backward() and optimizer.apply(grads, variables).

The DCGAN networks of `chainrule train gan-mnist`, each batch:

    discriminator:  L_D = E softplus(-D(x)) + E softplus(D(G(z)))   -> grads by cr.grad(L_D, D's weights)
    generator:      L_G = E softplus(-D(G(z)))                      -> grads by L_G.backward(), read from w.grad

``cr.grad`` returns the gradients and leaves ``.grad`` alone; ``backward()`` accumulates into
``.grad`` of every leaf that requires grad (so the generator's step zeroes them first, and
the discriminator's ``.grad`` it also fills is simply ignored). The loop is the same as
``GAN.train_step``; it prints the losses every 50 steps and writes a grid at the end. It runs
inside ``chainrule.threads.loop()``, as ``fit`` does: the convolutions keep the BLAS at one
thread (their blocks run on chainrule's own threads) until the loop ends, instead of giving the
threads back after every network call and gradient (the hold made ``fit``'s DCGAN step 1.5x
faster on two cores).

Run:  python examples/gan_custom_loop.py [--steps N] [--batch-size B] [--grid PNG] [--seed S]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import functional as F
from chainrule import recipes, threads
from chainrule.generative import dcgan_discriminator, dcgan_generator


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", default=None, help="write 64 generated digits to this PNG")
    args = p.parse_args(argv)
    cr.manual_seed(args.seed)
    (x_train, _), _ = recipes.load_images("mnist", "image")
    generator, discriminator = dcgan_generator(args.latent_dim), dcgan_discriminator()
    g_opt = cr.optimizers.Adam(2e-4, beta_1=0.5)
    d_opt = cr.optimizers.Adam(2e-4, beta_1=0.5)
    g_weights, d_weights = generator.trainable_weights, discriminator.trainable_weights
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    with threads.loop():  # the hold of the BLAS at one thread lasts the whole loop (chainrule.threads)
        for step in range(1, args.steps + 1):
            real = cr.tensor(x_train[rng.integers(0, len(x_train), args.batch_size)])

            # Discriminator: the fakes are detached, and only D's weights get gradients and updates.
            fake = generator(cr.randn(args.batch_size, args.latent_dim), training=True).detach()
            d_loss = F.discriminator_loss(discriminator(real, training=True), discriminator(fake, training=True))
            d_opt.apply(cr.grad(d_loss, d_weights), d_weights)

            # Generator: backward() through D into G; only G's gradients are applied.
            for w in g_weights:
                w.grad = None
            g_loss = F.generator_loss(discriminator(generator(cr.randn(args.batch_size, args.latent_dim),
                                                              training=True), training=True))
            g_loss.backward()
            g_opt.apply([w.grad for w in g_weights], g_weights)

            if step % 50 == 0 or step == args.steps:
                print(f"step {step}: d_loss {d_loss.item():.4f}, g_loss {g_loss.item():.4f} "
                      f"({(time.perf_counter() - start) / step:.2f} s/step)", flush=True)
    if args.grid:
        with cr.no_grad():
            images = generator(cr.randn(64, args.latent_dim), training=False).numpy()
        cr.utils.save_image_grid(images, args.grid, nrow=8)
        print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
