"""PyTorch's examples/vae (main.py), the twin of vae_mnist.py: the same model, loss and settings in PyTorch.

784-400-(20, 20) / 20-400-784, Adam(1e-3), batch 128, 10 epochs, loss = BCE summed + KL summed,
reported per image (sum over the set / number of images) as PyTorch's example prints it. The
images come from chainrule's MNIST loader (the same bytes as torchvision's), scaled to [0, 1].
PyTorch is a test/benchmark dependency, never the library's.

Run:  python examples/vae_mnist_torch.py [--epochs N] [--seed N] [--quick]
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from chainrule import recipes


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)  # PyTorch's example's default
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    (x_train, _), (x_test, _) = recipes.load_images("mnist", "flat")
    if args.quick:
        x_train, x_test, args.epochs = x_train[:2000], x_test[:1000], 1
    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(x_train)).split(128):
            x = x_train[idx]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            total += loss.item()
            opt.step()
        model.eval()
        with torch.no_grad():
            test = 0.0
            for i in range(0, len(x_test), 128):
                x = x_test[i:i + 128]
                recon, mu, logvar = model(x)
                test += loss_function(recon, x, mu, logvar).item()
        print(f"====> Epoch: {epoch} Average loss: {total / len(x_train):.4f}  Test set loss: {test / len(x_test):.4f}",
              flush=True)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    print(f"test loss: {test / len(x_test):.2f} nats per image")


if __name__ == "__main__":
    main()
