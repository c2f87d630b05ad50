"""A variational autoencoder on MNIST, as PyTorch's examples/vae, trained by ``fit`` with a custom train_step.

    encoder 784 -> 400 (relu) -> z_mean (20), z_log_var (20);  z = z_mean + exp(z_log_var / 2) * eps
    decoder 20 -> 400 (relu) -> 784 (sigmoid)
    loss per image = binary cross-entropy summed over the 784 pixels + KL(q(z|x) || N(0, I))
    Adam(1e-3) with PyTorch's epsilon (1e-8 on the batch sum, added after the bias correction), batch 128,
    10 epochs; target: test loss <= 105.6 nats per image (PyTorch's example's log)

``cr.generative.MLPVAE`` overrides ``train_step`` (one ELBO step) and ``test_step``; ``fit`` prints
the per-image loss and its two terms each epoch. The twin ``vae_mnist_torch.py`` runs PyTorch's
example on the same data. At the end this script writes 64 samples decoded from z ~ N(0, I) and the
test loss (z still sampled, as in PyTorch's example).

Run:  python examples/vae_mnist.py [--quick] [--epochs N] [--seed N] [--grid vae_samples.png] [--save vae.safetensors]
"""
from __future__ import annotations

import math
import time

import chainrule as cr
from chainrule import recipes
from chainrule.generative import MLPVAE

from _common import EpochTimer, epochs_for, make_parser


class PyTorchAdam(cr.optimizers.Adam):
    """Adam with torch.optim.Adam's epsilon: w <- w - lr * m_hat / (sqrt(v_hat) + epsilon).

    ``cr.optimizers.Adam`` is Keras's: it adds epsilon to sqrt(v) *before* the bias correction,
    which is PyTorch's rule with a step-dependent eps / sqrt(1 - beta_2^t) (31.6 eps at the first
    step, still 1.6 eps after one epoch of 469 steps). Here the VAE's gradients of the first layer's
    weights for pixels that are rarely lit are as small as that epsilon, so Keras's form damps their
    first steps, and in lockstep runs against PyTorch's example (same initial weights, batches and
    noise) the training loss stayed ~0.1 nats per image higher. Passing epsilon * sqrt(1 - beta_2^t)
    to Keras's rule gives PyTorch's exactly:

        alpha m / (sqrt(v) + eps sqrt(1 - b2^t)) = lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)
    """

    def _update_step(self, g, w, lr, slots):
        epsilon, t = self.epsilon, self.iterations + 1
        self.epsilon = epsilon * math.sqrt(1.0 - self.beta_2 ** t)
        try:
            super()._update_step(g, w, lr, slots)
        finally:
            self.epsilon = epsilon


def main(argv=None) -> None:
    parser = make_parser(__doc__.splitlines()[0], quick_help="2,000 training images, 1 epoch", epochs=10,
                         batch_size=128)
    parser.add_argument("--grid", default=None, help="write 64 generated digits to this PNG")
    parser.add_argument("--save", default=None, help="save the trained VAE to this file")
    parser.add_argument("--epsilon", type=float, default=None,
                        help="Adam's epsilon, PyTorch's form (default 1e-8 / batch size: PyTorch's example's steps)")
    args = parser.parse_args(argv)
    cr.manual_seed(args.seed)
    (x_train, _), (x_test, _) = recipes.load_images("mnist", "flat")
    if args.quick:
        x_train, x_test = x_train[:2000], x_test[:1000]
    epochs = epochs_for(args, 10)
    vae = MLPVAE(input_dim=784, hidden=400, latent_dim=20)
    # PyTorch's example sums the loss over the batch and uses Adam's eps = 1e-8; MLPVAE averages it per
    # image (gradient / batch size). Adam's update m_hat / (sqrt(v_hat) + eps) is unchanged by scaling
    # the gradient by c when eps is scaled by c too, so eps = 1e-8 / batch size, in PyTorch's form
    # (PyTorchAdam above), gives PyTorch's steps (Keras's default eps = 1e-7 in Keras's form would be
    # ~1,300 times larger here at the end of training and ~40,000 times at the first step).
    epsilon = 1e-8 / args.batch_size if args.epsilon is None else args.epsilon
    vae.compile(optimizer=PyTorchAdam(learning_rate=1e-3, epsilon=epsilon))
    timer = EpochTimer()
    start = time.perf_counter()
    vae.fit(x_train, epochs=epochs, batch_size=args.batch_size, validation_data=x_test, verbose=2,
            callbacks=[timer])
    seconds = time.perf_counter() - start
    test = vae.evaluate(x_test, batch_size=args.batch_size, verbose=0, return_dict=True)
    print(f"trained in {seconds:.1f} s ({sum(timer.seconds) / len(timer.seconds):.1f} s/epoch, validation included)")
    print(f"test reconstruction (BCE sum): {test['reconstruction_loss']:.2f}, KL: {test['kl_loss']:.2f}")
    print(f"test loss: {test['loss']:.2f} nats per image (target <= 105.6)")
    if args.grid:
        cr.utils.save_image_grid(vae.generate(64).reshape(-1, 28, 28), args.grid, nrow=8)
        print(f"wrote {args.grid}")
    if args.save:
        vae.save(args.save)
        print(f"saved to {args.save} (load it with custom_objects={{'PyTorchAdam': PyTorchAdam}})")


if __name__ == "__main__":
    main()
