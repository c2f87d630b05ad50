"""The exact GELU's float32 path (normal_cdf_float32) against PyTorch's erf and GELU."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule.ops.activation import normal_cdf_float32

torch = pytest.importorskip("torch")


def test_normal_cdf_float32_is_accurate_to_float32_precision():
    x = np.concatenate([np.linspace(-9, 9, 100001), np.random.default_rng(0).normal(size=20000) * 3])
    x = x.astype(np.float32)
    ref = 0.5 * (1 + torch.erf(torch.tensor(x, dtype=torch.float64) / np.sqrt(2))).numpy()
    got = normal_cdf_float32(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=3e-7)


def test_gelu_float32_matches_torch_values_and_gradients():
    x = np.random.default_rng(1).normal(size=(64, 33)).astype(np.float32) * 4
    xc = cr.tensor(x, requires_grad=True)
    y = F.gelu(xc)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=2e-5, atol=1e-6)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=2e-5, atol=1e-6)
