"""PyTorch twin of ``examples/vae_mnist_conv.py`` (Keras's VAE example with a 2-D latent space).

The same networks as ``cr.generative.ConvVAE`` in PyTorch's layout: Conv2d(32, 3, stride 2)
and Conv2d(64, 3, stride 2) with TensorFlow's "same" padding (one row and column of zeros on
the high side), Dense(16, relu), the two heads z_mean and z_log_var; a decoder Dense(7*7*64,
relu) -> ConvTranspose2d(64, 3, stride 2) -> ConvTranspose2d(32, 3, stride 2) ->
ConvTranspose2d(1, 3), cropped as Keras's "same" transposed convolutions place their output.
Keras's initializers (Glorot-uniform kernels, zero biases), Adam 1e-3 with Keras's epsilon
1e-7, batch 128, the per-image loss BCE summed over the pixels + KL, on the 60,000 training
images. After each epoch it prints the losses and how far the test images' z_mean spread
along each latent axis (a standard deviation near 0 is an unused axis: posterior collapse).

Run:  python examples/torch_twins/vae_mnist_conv_torch.py [--epochs N] [--seed S] [--threads T]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as tF

from chainrule import recipes


def _glorot(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class ConvVAE(nn.Module):
    def __init__(self, latent_dim: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, stride=2)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2)
        self.hidden = nn.Linear(7 * 7 * 64, 16)
        self.z_mean = nn.Linear(16, latent_dim)
        self.z_log_var = nn.Linear(16, latent_dim)
        self.expand = nn.Linear(latent_dim, 7 * 7 * 64)
        self.deconv1 = nn.ConvTranspose2d(64, 64, 3, stride=2)
        self.deconv2 = nn.ConvTranspose2d(64, 32, 3, stride=2)
        self.deconv3 = nn.ConvTranspose2d(32, 1, 3, stride=1)
        self.apply(_glorot)

    def encode(self, x):
        h = tF.relu(self.conv1(tF.pad(x, (0, 1, 0, 1))))          # TF "same", stride 2: pad the high side
        h = tF.relu(self.conv2(tF.pad(h, (0, 1, 0, 1))))
        # Keras flattens channels-last: (N, 7, 7, 64) -> 3136
        h = tF.relu(self.hidden(h.permute(0, 2, 3, 1).reshape(len(h), -1)))
        return self.z_mean(h), self.z_log_var(h)

    def decode(self, z):
        h = tF.relu(self.expand(z)).reshape(len(z), 7, 7, 64).permute(0, 3, 1, 2)
        # Keras's "same" transposed conv, stride 2, kernel 3: the full output (2n + 1) from position 0, 2n long
        h = tF.relu(self.deconv1(h)[:, :, :14, :14])
        h = tF.relu(self.deconv2(h)[:, :, :28, :28])
        return torch.sigmoid(self.deconv3(h)[:, :, 1:29, 1:29])  # stride 1: one position cropped each side

    def forward(self, x):
        z_mean, z_log_var = self.encode(x)
        z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
        return self.decode(z), z_mean, z_log_var


def losses(model, x):
    recon, z_mean, z_log_var = model(x)
    bce = tF.binary_cross_entropy(recon.clamp(1e-7, 1 - 1e-7), x, reduction="none").sum(dim=(1, 2, 3))
    kl = -0.5 * (1 + z_log_var - z_mean ** 2 - z_log_var.exp()).sum(dim=1)
    return bce, kl


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    (x_train, _), (x_test, _) = recipes.load_images("mnist", "image")
    x_train = torch.from_numpy(np.ascontiguousarray(x_train.transpose(0, 3, 1, 2)))
    x_test = torch.from_numpy(np.ascontiguousarray(x_test.transpose(0, 3, 1, 2)))
    model = ConvVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        start, totals, n = time.perf_counter(), np.zeros(2), 0
        for idx in np.array_split(rng.permutation(len(x_train)), -(-len(x_train) // 128)):
            bce, kl = losses(model, x_train[idx])
            loss = (bce + kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            totals += [bce.sum().item(), kl.sum().item()]
            n += len(idx)
        with torch.no_grad():
            z_mean, _ = model.encode(x_test)
        spread = z_mean.std(dim=0).numpy()
        print(f"epoch {epoch}: loss {totals.sum() / n:.2f} (reconstruction {totals[0] / n:.2f}, KL {totals[1] / n:.2f}); "
              f"test z_mean std per axis {np.round(spread, 3).tolist()}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
