"""examples/vae_mnist.py follows PyTorch's examples/vae: its Adam takes torch.optim.Adam's steps.

The model averages the loss per image where PyTorch's example sums it over the batch of 128, so the
example passes epsilon 1e-8 / 128 to an Adam with PyTorch's epsilon form (added to the bias-corrected
root). Keras's form (``cr.optimizers.Adam``) differs by a factor sqrt(1 - beta_2^t) on epsilon, which
matters for the VAE's tiny first-layer gradients (rarely lit pixels) and cost ~0.1 nats per image.
"""
from __future__ import annotations


import numpy as np
import pytest

import chainrule as cr
from example_loader import load_example

torch = pytest.importorskip("torch")



@pytest.fixture(scope="module")
def example():
    return load_example("vae_mnist.py", "vae_mnist_example")


def _torch_steps(w0, grads, eps):
    w = torch.tensor(w0, requires_grad=True)
    opt = torch.optim.Adam([w], lr=1e-3, eps=eps)
    out = []
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
        out.append(w.detach().numpy().copy())
    return out


def _chainrule_steps(opt, w0, grads):
    w = cr.tensor(w0.copy(), requires_grad=True)
    assert w.numpy().dtype == np.float64
    out = []
    for g in grads:
        opt.apply([g], [w])
        out.append(np.array(w.numpy()))
    return out


def test_pytorch_adam_takes_torch_optim_adam_steps_on_the_per_image_mean(example):
    cr.set_floatx("float64")
    # Gradients of a summed loss over a batch of 128, some as small as eps (the VAE's border pixels).
    rng = np.random.default_rng(0)
    batch = 128
    w0 = rng.normal(size=(40,))
    scale = np.where(np.arange(40) < 20, 1e-8, 1e-2)          # half of them at eps's scale
    grads = [rng.normal(size=(40,)) * scale for _ in range(30)]
    expected = _torch_steps(w0, grads, eps=1e-8)
    mean_grads = [g / batch for g in grads]                   # the per-image mean the VAE differentiates
    got = _chainrule_steps(example.PyTorchAdam(learning_rate=1e-3, epsilon=1e-8 / batch), w0, mean_grads)
    for step, (a, b) in enumerate(zip(got, expected), 1):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=f"step {step}")
    # Keras's epsilon form takes visibly different steps on the small gradients (what the example had).
    keras = _chainrule_steps(cr.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8 / batch), w0, mean_grads)
    assert np.abs(keras[0] - expected[0]).max() > 1e-4


def test_pytorch_adam_keeps_its_epsilon_and_config(example):
    opt = example.PyTorchAdam(learning_rate=1e-3, epsilon=1e-8)
    w = cr.tensor(np.ones(3), requires_grad=True)
    opt.apply([np.full(3, 1e-9)], [w])
    assert opt.epsilon == 1e-8 and opt.get_config()["epsilon"] == 1e-8
