"""The VAE and GAN math of ops/generative.py: against PyTorch, Monte-Carlo estimates and gradient checks."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F

RTOL = {"float32": 1e-5, "float64": 1e-10}


def _torch():
    return pytest.importorskip("torch")


def _pair(rng, shape=(4, 3)):
    return rng.standard_normal(shape), 0.5 * rng.standard_normal(shape)


# ------------------------------------------------------------------------------ gradient checks
def test_reparameterize_and_kl_gradcheck():
    cr.set_floatx("float64")
    rng = np.random.default_rng(0)
    mu, lv = _pair(rng)
    eps = rng.standard_normal(mu.shape)
    a, b = cr.tensor(mu, requires_grad=True), cr.tensor(lv, requires_grad=True)
    assert cr.gradcheck(lambda m, v: F.reparameterize(m, v, epsilon=eps), [a, b])
    assert cr.gradgradcheck(lambda m, v: F.reparameterize(m, v, epsilon=eps), [a, b])
    assert cr.gradcheck(F.gaussian_kl, [a, b])
    assert cr.gradgradcheck(F.gaussian_kl, [a, b])


def test_bce_sum_and_gan_losses_gradcheck():
    cr.set_floatx("float64")
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3, 2, 4))
    logits = cr.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    assert cr.gradcheck(lambda l: F.binary_crossentropy_sum(x, l, from_logits=True), [logits])
    assert cr.gradgradcheck(lambda l: F.binary_crossentropy_sum(x, l, from_logits=True), [logits])
    probs = cr.tensor(rng.uniform(0.1, 0.9, size=(3, 8)), requires_grad=True)
    assert cr.gradcheck(lambda p: F.binary_crossentropy_sum(x.reshape(3, 8), p), [probs])
    real = cr.tensor(rng.standard_normal((5, 1)), requires_grad=True)
    fake = cr.tensor(rng.standard_normal((4, 1)), requires_grad=True)
    for fn in (F.discriminator_loss, F.wasserstein_critic_loss):
        assert cr.gradcheck(fn, [real, fake]) and cr.gradgradcheck(fn, [real, fake])
    for fn in (F.generator_loss, lambda f: F.generator_loss(f, non_saturating=False), F.wasserstein_generator_loss):
        assert cr.gradcheck(fn, [fake]) and cr.gradgradcheck(fn, [fake])


def test_gradient_penalty_gradcheck_through_a_functional_critic():
    cr.set_floatx("float64")
    rng = np.random.default_rng(2)
    real, fake = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    alpha = rng.uniform(size=3)
    w1 = cr.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    w2 = cr.tensor(rng.standard_normal((5, 1)), requires_grad=True)

    def penalty(a, b):  # f(x) = tanh(x W1) W2: smooth, so the finite differences are exact enough
        return F.gradient_penalty(lambda v: cr.tanh(v @ a) @ b, real, fake, alpha=alpha)

    assert cr.gradcheck(penalty, [w1, w2])


# ------------------------------------------------------------------------------ against PyTorch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reparameterize_and_kl_match_torch(dtype):
    torch = _torch()
    cr.set_floatx(dtype)
    rng = np.random.default_rng(3)
    mu, lv = (a.astype(dtype) for a in _pair(rng, (6, 5)))
    eps = rng.standard_normal(mu.shape).astype(dtype)
    g = rng.standard_normal(mu.shape).astype(dtype)
    a, b = cr.tensor(mu, requires_grad=True), cr.tensor(lv, requires_grad=True)
    ta, tb = torch.tensor(mu, requires_grad=True), torch.tensor(lv, requires_grad=True)
    z = F.reparameterize(a, b, epsilon=eps)
    tz = ta + torch.exp(0.5 * tb) * torch.tensor(eps)
    kl = F.gaussian_kl(a, b)
    tkl = torch.distributions.kl_divergence(torch.distributions.Normal(ta, torch.exp(0.5 * tb)),
                                            torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert z.dtype == np.dtype(dtype) and kl.shape == (6,)
    np.testing.assert_allclose(z.data, tz.detach().numpy(), rtol=RTOL[dtype])
    np.testing.assert_allclose(kl.data, tkl.detach().numpy(), rtol=RTOL[dtype] * 10, atol=1e-6)
    loss = (z * cr.tensor(g)).sum() + kl.sum()
    tloss = (tz * torch.tensor(g)).sum() + tkl.sum()
    grads = cr.grad(loss, [a, b])
    tgrads = torch.autograd.grad(tloss, [ta, tb])
    for mine, theirs in zip(grads, tgrads):
        np.testing.assert_allclose(mine.data, theirs.numpy(), rtol=RTOL[dtype] * 10, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_sum_matches_torch(dtype):
    torch = _torch()
    tF = torch.nn.functional
    cr.set_floatx(dtype)
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(4, 6, 6, 1)).astype(dtype)
    logits = rng.standard_normal(x.shape).astype(dtype)
    l = cr.tensor(logits, requires_grad=True)
    tl = torch.tensor(logits, requires_grad=True)
    for mine, theirs in [
        (F.binary_crossentropy_sum(x, l, from_logits=True),
         tF.binary_cross_entropy_with_logits(tl, torch.tensor(x), reduction="none").sum((1, 2, 3))),
        (F.binary_crossentropy_sum(x, cr.sigmoid(l)),  # the logits path of a sigmoid output
         tF.binary_cross_entropy(torch.sigmoid(tl), torch.tensor(x), reduction="none").sum((1, 2, 3))),
    ]:
        assert mine.shape == (4,)
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=RTOL[dtype] * 10)
        (g,) = cr.grad(mine.sum(), [l])
        (tg,) = torch.autograd.grad(theirs.sum(), [tl])
        np.testing.assert_allclose(g.data, tg.numpy(), rtol=RTOL[dtype] * 10, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gan_losses_match_torch(dtype):
    torch = _torch()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    cr.set_floatx(dtype)
    rng = np.random.default_rng(5)
    r, f = (3 * rng.standard_normal((7, 1))).astype(dtype), (3 * rng.standard_normal((5, 1))).astype(dtype)
    cases = [
        (F.discriminator_loss, lambda tr, tf: bce(tr, torch.ones_like(tr)) + bce(tf, torch.zeros_like(tf)), True),
        (lambda a, b: F.generator_loss(b), lambda tr, tf: bce(tf, torch.ones_like(tf)), True),
        (lambda a, b: F.generator_loss(b, non_saturating=False),
         lambda tr, tf: torch.log(1 - torch.sigmoid(tf)).mean(), True),
        (F.wasserstein_critic_loss, lambda tr, tf: tf.mean() - tr.mean(), True),
        (lambda a, b: F.wasserstein_generator_loss(b), lambda tr, tf: -tf.mean(), True),
    ]
    for mine_fn, torch_fn, _ in cases:
        a, b = cr.tensor(r, requires_grad=True), cr.tensor(f, requires_grad=True)
        ta, tb = torch.tensor(r, requires_grad=True), torch.tensor(f, requires_grad=True)
        mine, theirs = mine_fn(a, b), torch_fn(ta, tb)
        assert mine.shape == ()
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=RTOL[dtype] * 10)
        grads = cr.grad(mine, [a, b])
        tgrads = torch.autograd.grad(theirs, [ta, tb], allow_unused=True)
        for g, tg in zip(grads, tgrads):
            if tg is None:
                assert g is None
            else:
                np.testing.assert_allclose(g.data, tg.numpy(), rtol=RTOL[dtype] * 10, atol=1e-7)


def _small_critic():
    from chainrule import layers as L

    return cr.Sequential([
        L.Input((6, 6, 2)),
        L.Conv2D(3, 3, strides=2, padding="same", activation="leaky_relu"),
        L.Conv2D(4, 2, activation="leaky_relu"),
        L.Flatten(),
        L.Dense(3, activation="leaky_relu"),
        L.Dense(1),
    ])


def _torch_critic(torch, weights):
    tF = torch.nn.functional
    k1, b1, k2, b2, d1, c1, d2, c2 = [torch.tensor(w, requires_grad=True) for w in weights]

    def critic(x):  # x: NHWC, as chainrule's layers
        h = x.permute(0, 3, 1, 2)
        h = tF.leaky_relu(tF.conv2d(tF.pad(h, (0, 1, 0, 1)), k1.permute(3, 2, 0, 1), b1, stride=2), 0.2)
        h = tF.leaky_relu(tF.conv2d(h, k2.permute(3, 2, 0, 1), b2), 0.2)
        h = h.permute(0, 2, 3, 1).reshape(len(x), -1)  # Keras flattens channels last
        h = tF.leaky_relu(h @ d1 + c1, 0.2)
        return h @ d2 + c2

    return critic, [k1, b1, k2, b2, d1, c1, d2, c2]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_penalty_matches_torch_double_backward(dtype):
    """Second-order backprop through Conv2D, Dense and LeakyReLU: the penalty and its weight gradients."""
    torch = _torch()
    cr.set_floatx(dtype)
    cr.manual_seed(0)
    rng = np.random.default_rng(6)
    critic = _small_critic()
    real = rng.standard_normal((5, 6, 6, 2)).astype(dtype)
    fake = rng.standard_normal((5, 6, 6, 2)).astype(dtype)
    alpha = rng.uniform(size=5)
    gp = F.gradient_penalty(critic, real, fake, alpha=alpha, eps=0.0)
    grads = cr.grad(gp, critic.trainable_weights)

    tcritic, tweights = _torch_critic(torch, [w.data for w in critic.weights])
    a = torch.tensor(alpha.reshape(5, 1, 1, 1).astype(dtype))
    x_hat = (a * torch.tensor(real) + (1 - a) * torch.tensor(fake)).requires_grad_(True)
    (g,) = torch.autograd.grad(tcritic(x_hat).sum(), [x_hat], create_graph=True)
    tgp = ((g.reshape(5, -1).norm(2, dim=1) - 1) ** 2).mean()
    tgrads = torch.autograd.grad(tgp, tweights, allow_unused=True)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(gp.data, tgp.detach().numpy(), **tol)
    assert tgrads[-1] is None  # the last bias does not change the input gradient
    for mine, theirs in zip(grads, tgrads):
        if theirs is None or mine is None:  # unused in one graph (a bias acts through a LeakyReLU's mask only)
            assert (mine is None or not np.any(mine.data)) and (theirs is None or not np.any(theirs.numpy()))
        else:
            np.testing.assert_allclose(mine.data, theirs.numpy(), **tol)


# ------------------------------------------------------------------------------ Monte-Carlo
def test_reparameterize_samples_and_gradients_match_monte_carlo():
    cr.set_floatx("float64")
    cr.manual_seed(7)
    n = 40000
    mu = cr.tensor(np.tile([[0.5, -1.0]], (n, 1)), requires_grad=True)
    lv = cr.tensor(np.tile([[0.2, -0.6]], (n, 1)), requires_grad=True)
    z = F.reparameterize(mu, lv)
    np.testing.assert_allclose(z.data.mean(0), [0.5, -1.0], atol=0.02)
    np.testing.assert_allclose(z.data.var(0), np.exp([0.2, -0.6]), rtol=0.03)
    # d/dmu E[z^2] = 2 mu, d/dlogvar E[z^2] = sigma^2 (E[z^2] = mu^2 + sigma^2): the pathwise estimate
    gm, gv = cr.grad((z * z).mean(0).sum(), [mu, lv])
    np.testing.assert_allclose(gm.data.sum(0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(gv.data.sum(0), np.exp([0.2, -0.6]), rtol=0.03)


def test_gaussian_kl_matches_monte_carlo():
    rng = np.random.default_rng(8)
    mu, lv = np.array([[0.3, -0.7, 1.1]]), np.array([[0.4, -0.9, 0.1]])
    sigma = np.exp(0.5 * lv)
    z = mu + sigma * rng.standard_normal((400000, 3))
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + lv + np.log(2 * np.pi))
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    estimate = (log_q - log_p).sum(1).mean()
    cr.set_floatx("float64")
    np.testing.assert_allclose(F.gaussian_kl(mu, lv).data, [estimate], rtol=0.01)


# ------------------------------------------------------------------------------ bad input
def test_bad_input_errors():
    with pytest.raises(ValueError, match="latent size"):
        F.reparameterize(np.zeros((3, 0), np.float32), np.zeros((3, 0), np.float32))
    with pytest.raises(ValueError, match="same shape"):
        F.gaussian_kl(np.zeros((3, 2), np.float32), np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="epsilon"):
        F.reparameterize(np.zeros((3, 2), np.float32), np.zeros((3, 2), np.float32), epsilon=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="same shape"):
        F.binary_crossentropy_sum(np.zeros((2, 4)), np.full((2, 5), 0.5, np.float32))
    with pytest.raises(ValueError, match="non-empty batch"):
        F.discriminator_loss(np.zeros((0, 1), np.float32), np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match="same shape"):
        F.gradient_penalty(lambda v: v, np.zeros((2, 3), np.float32), np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="does not depend"):
        F.gradient_penalty(lambda v: cr.zeros(2, 1), np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32))
