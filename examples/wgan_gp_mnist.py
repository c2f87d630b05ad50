"""WGAN-GP on MNIST: the Wasserstein loss with a gradient penalty computed by second-order backpropagation.

    critic loss    L_C = E f(G(z)) - E f(x) + 10 E (||grad_xhat f(xhat)||_2 - 1)^2,  xhat between x and G(z)
    generator loss L_G = -E f(G(z))
    the DCGAN networks of `chainrule train gan-mnist` (no batch normalization in the critic), 3 critic steps
    per generator step on each real batch (Keras's wgan_gp example), Adam(2e-4, beta_1=0.5, beta_2=0.9)

The penalty differentiates the critic with respect to its input inside the loss
(``cr.grad(..., create_graph=True)`` in ``F.gradient_penalty``); the critic's update then
differentiates that gradient again, through Conv2D, Dense and LeakyReLU. Training runs for
``--minutes`` (default 30) or ``--epochs``, logs the running losses every 20 batches and draws them
(``--curves``), writes 64 samples (``--grid``), and prints the classifier score and Fréchet
classifier distance of 10,000 samples (the texts' CNN, trained once and cached; see
chainrule/generative/mnist.py).

Run:  python examples/wgan_gp_mnist.py [--quick] [--minutes M] [--epochs N] [--grid PNG] [--curves PNG]
"""
from __future__ import annotations

from _common import gan_parser, gan_run_options

import chainrule as cr
from chainrule.generative.mnist import train_gan


class EveryBatches(cr.callbacks.Callback):
    """Keeps the logs of every ``every``-th training batch (the running means of the epoch so far)."""

    def __init__(self, every: int = 20):
        super().__init__()
        self.every = every
        self.logs = {}
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen % self.every == 0:
            for k, v in (logs or {}).items():
                self.logs.setdefault(k, []).append(float(v))


def main(argv=None) -> None:
    p = gan_parser(__doc__.splitlines()[0])
    p.add_argument("--curves", default=None, help="draw the losses every 20 batches to this PNG (matplotlib)")
    args = p.parse_args(argv)
    every = EveryBatches(20)
    train_gan("wgan-gp-mnist", callbacks=[every], **gan_run_options(args))
    if args.curves and every.logs:
        cr.utils.plot_history(every.logs, to_file=args.curves, xlabel="batch / 20 (running mean of the epoch)",
                              title="WGAN-GP on MNIST", dpi=70)
        print(f"wrote {args.curves}")


if __name__ == "__main__":
    main()
