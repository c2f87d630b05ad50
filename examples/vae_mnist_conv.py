"""A convolutional VAE with a 2-D latent space on MNIST (Keras's VAE example): pictures of the latent space.

    encoder 28x28x1 -> Conv2D(32, 3, stride 2, relu) -> Conv2D(64, 3, stride 2, relu) -> Flatten -> Dense(16, relu)
            -> z_mean (2), z_log_var (2);  z = z_mean + exp(z_log_var / 2) * eps
    decoder 2 -> Dense(7*7*64, relu) -> Conv2DTranspose(64, 3, stride 2, relu) -> Conv2DTranspose(32, 3, stride 2,
            relu) -> Conv2DTranspose(1, 3, sigmoid)
    loss per image = BCE summed over the pixels + KL;  Adam (1e-3), batch 128

Keras's example trains 30 epochs on the 70,000 train and test images; here, for a 2-core CPU, the
60,000 training images for 2 epochs by default (the test images stay for the test loss and the
scatter plot). Writes two pictures: the decoder's images on a regular grid of z over [-2, 2]^2
(``--grid``), and the test images' z_mean coloured by their label (``--scatter``, matplotlib).

Run:  python examples/vae_mnist_conv.py [--quick] [--epochs N] [--grid PNG] [--scatter PNG] [--save PATH]
"""
from __future__ import annotations

import time

import numpy as np

import chainrule as cr
from chainrule import recipes
from chainrule.generative import ConvVAE

from _common import EpochTimer, epochs_for, make_parser


def latent_grid(vae, path, n: int = 15, scale: float = 2.0) -> None:
    """Decode z on an n x n grid over [-scale, scale]^2 (z_1 to the right, z_2 upwards) into one picture."""
    z1 = np.linspace(-scale, scale, n)
    z2 = np.linspace(scale, -scale, n)
    z = np.array([[a, b] for b in z2 for a in z1])
    cr.utils.save_image_grid(vae.decode(z), path, nrow=n, padding=0)


def latent_scatter(vae, x, labels, path) -> None:
    from chainrule.utils.history import _matplotlib_pyplot

    plt = _matplotlib_pyplot()
    z_mean, _ = vae.encode(x)
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(z_mean[:, 0], z_mean[:, 1], c=labels, cmap="tab10", s=2, alpha=0.6)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title("test images' z_mean")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None) -> None:
    parser = make_parser(__doc__.splitlines()[0], quick_help="2,000 training images, 1 epoch", epochs=2,
                         batch_size=128)
    parser.add_argument("--grid", default=None, help="write the decoded latent grid to this PNG")
    parser.add_argument("--scatter", default=None, help="write the scatter plot of test codes to this PNG")
    parser.add_argument("--save", default=None, help="save the trained VAE to this file")
    args = parser.parse_args(argv)
    cr.manual_seed(args.seed)
    (x_train, _), (x_test, y_test) = recipes.load_images("mnist", "image")
    if args.quick:
        x_train, x_test, y_test = x_train[:2000], x_test[:1000], y_test[:1000]
    epochs = epochs_for(args, 2)
    vae = ConvVAE(latent_dim=2)
    vae.compile(optimizer=cr.optimizers.Adam(learning_rate=1e-3))
    timer = EpochTimer()
    start = time.perf_counter()
    vae.fit(x_train, epochs=epochs, batch_size=args.batch_size, verbose=2, callbacks=[timer])
    seconds = time.perf_counter() - start
    test = vae.evaluate(x_test, batch_size=500, verbose=0, return_dict=True)
    print(f"trained in {seconds:.1f} s ({seconds / max(epochs, 1):.1f} s/epoch)")
    print(f"test loss: {test['loss']:.2f} nats per image (reconstruction {test['reconstruction_loss']:.2f}, "
          f"KL {test['kl_loss']:.2f})")
    if args.grid:
        latent_grid(vae, args.grid)
        print(f"wrote {args.grid}")
    if args.scatter:
        latent_scatter(vae, x_test, y_test, args.scatter)
        print(f"wrote {args.scatter}")
    if args.save:
        vae.save(args.save)
        print(f"saved to {args.save}")


if __name__ == "__main__":
    main()
