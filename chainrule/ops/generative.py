"""The math of generative models: the VAE's sampling step and ELBO terms, the GAN losses.

Variational autoencoder (Kingma & Welling, 2014). The encoder gives a diagonal
Gaussian q(z|x) = N(mu, diag(sigma^2)) through ``z_mean`` = mu and ``z_log_var`` =
log sigma^2; the decoder gives Bernoulli pixel probabilities p(x|z). The loss per
image is the negative evidence lower bound

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
             ~ binary_crossentropy_sum(x, decoder(z)) + gaussian_kl(mu, log sigma^2),
    z = reparameterize(mu, log sigma^2)    (one sample of q per image)

Generative adversarial networks (Goodfellow et al., 2014; Arjovsky et al., 2017;
Gulrajani et al., 2017), all from the discriminator's *logits* l = D(x) (no sigmoid
on the last layer), using log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) =
-softplus(l) so that no probability is ever rounded to 0 or 1:

    discriminator_loss = E_real[softplus(-l)] + E_fake[softplus(l)]      (= -E log D(x) - E log(1 - D(G(z))))
    generator_loss     = E_fake[softplus(-l)]         non-saturating:  -E log D(G(z))
                       = -E_fake[softplus(l)]          minimax:          E log(1 - D(G(z)))
    wasserstein_critic_loss    = E_fake[f] - E_real[f]    (f: the critic's unbounded score)
    wasserstein_generator_loss = -E_fake[f]
    gradient_penalty           = E_xhat[(||grad_xhat f(xhat)||_2 - 1)^2],  xhat = a x + (1 - a) x~, a ~ U(0, 1)

The GAN losses return the batch mean (a 0-d Tensor): the real and the fake batches are
separate samples of two distributions, so there is no per-sample pairing to keep. The
VAE terms return one value per image (shape ``(batch,)``) like the other losses in ``F``.

Everything here is composed from differentiable ops, so each function is itself
differentiable to any order; ``gradient_penalty`` relies on that: it differentiates the
critic with ``grad(..., create_graph=True)`` and the optimizer then differentiates the
result again.
"""
from __future__ import annotations

from .. import backend
from ..autograd.engine import grad
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .activation import softplus
from .elementwise import Sigmoid, clip, exp, log, sqrt
from .loss import EPSILON, SigmoidCrossEntropy, _logits_of, _pred, _true_like
from .reduction import mean, sum as _sum
from .shape import reshape


def _float(op: str, x) -> Tensor:
    x = ensure_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float tensor, got dtype {x.data.dtype}")
    return x


def _check_pair(op: str, a: Tensor, b: Tensor, names=("z_mean", "z_log_var")) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{op}: {names[0]} of shape {a.shape} and {names[1]} of shape {b.shape} must have the "
                         "same shape")
    if a.ndim < 1 or a.shape[-1] < 1:
        raise ValueError(f"{op}: the latent size (last axis) must be positive, got {names[0]} of shape {a.shape}")


# ------------------------------------------------------------------------------------------ VAE
def reparameterize(z_mean, z_log_var, epsilon=None) -> Tensor:
    """One sample z ~ N(mu, diag(sigma^2)) as a differentiable function of mu and log sigma^2.

    z = mu + exp(log sigma^2 / 2) * eps,   eps ~ N(0, I) drawn from the library's generator
    (``cr.manual_seed``) unless ``epsilon`` is given. The noise carries no parameter, so

        dz/dmu = 1,   dz/d(log sigma^2) = exp(log sigma^2 / 2) eps / 2 = (z - mu) / 2,

    and a Monte-Carlo gradient of E_q[f(z)] is the plain gradient of f(z) for one sample:
    the reparameterization trick.
    """
    op = "reparameterize"
    mu, log_var = _float(op, z_mean), _float(op, z_log_var)
    _check_pair(op, mu, log_var)
    if epsilon is None:
        eps = backend.rng().standard_normal(mu.shape).astype(mu.data.dtype, copy=False)
        epsilon = Tensor._wrap(xp.asarray(eps))
    else:
        epsilon = _true_like(op, epsilon, mu)
        if epsilon.shape != mu.shape:
            raise ValueError(f"{op}: epsilon of shape {epsilon.shape} must have z_mean's shape {mu.shape}")
    return mu + exp(0.5 * log_var) * epsilon


def gaussian_kl(z_mean, z_log_var) -> Tensor:
    """KL(N(mu, diag(sigma^2)) || N(0, I)) per sample, in closed form (summed over the last axis).

    KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2),
    dKL/dmu_j = mu_j,   dKL/d(log sigma_j^2) = (sigma_j^2 - 1) / 2.

    Shape ``(batch, latent)`` gives ``(batch,)``.
    """
    op = "gaussian_kl"
    mu, log_var = _float(op, z_mean), _float(op, z_log_var)
    _check_pair(op, mu, log_var)
    return -0.5 * _sum(1.0 + log_var - mu * mu - exp(log_var), axis=-1)


def binary_crossentropy_sum(y_true, y_pred, from_logits: bool = False) -> Tensor:
    """The Bernoulli negative log-likelihood of an image: binary cross-entropy summed over all
    axes but the batch axis (pixels and channels), one value per image.

        -log p(x | z) = -sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)],   d/dl_i = p_i - x_i  (p = sigmoid(l))

    This is the reconstruction term of the VAE's ELBO, as PyTorch's ``binary_cross_entropy(...,
    reduction='sum')`` per image (PyTorch's example sums over the batch too) and Keras's VAE example
    (``sum(binary_crossentropy(data, reconstruction), axis=(1, 2))``). ``from_logits=True`` reads logits;
    a ``y_pred`` made by chainrule's ``sigmoid`` (e.g. ``Dense(784, activation="sigmoid")``) also takes the
    exact logits path; other probabilities are clipped to [1e-7, 1 - 1e-7] as Keras.
    """
    op = "binary_crossentropy_sum"
    y_pred = _pred(op, y_pred)
    logits = y_pred if from_logits else _logits_of(y_pred, Sigmoid)
    y_true = _true_like(op, y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{op}: y_true of shape {y_true.shape} and y_pred of shape {y_pred.shape} must have the "
                         "same shape")
    if y_pred.ndim < 2:
        raise ValueError(f"{op}: expected a batch of images (batch, ...), got y_pred of shape {y_pred.shape}")
    if logits is not None:
        per = SigmoidCrossEntropy.apply(reshape(logits, y_pred.shape), y_true)
    else:
        p = clip(y_pred, EPSILON, 1.0 - EPSILON)
        per = -(y_true * log(p) + (1.0 - y_true) * log(1.0 - p))
    return _sum(reshape(per, (per.shape[0], -1)), axis=-1)


# ------------------------------------------------------------------------------------------ GAN
def _scores(op: str, x, name: str) -> Tensor:
    x = _float(op, x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{op}: {name} must be a non-empty batch (batch,) or (batch, 1), got shape {x.shape}")
    return x


def discriminator_loss(real_logits, fake_logits) -> Tensor:
    """The minimax discriminator loss from logits (binary cross-entropy with labels 1 real, 0 fake).

    L_D = mean_real softplus(-l) + mean_fake softplus(l) = -E log D(x) - E log(1 - D(G(z))),
    dL_D/dl = -(1 - sigmoid(l)) / n_real for a real logit, sigmoid(l) / n_fake for a fake one.
    """
    op = "discriminator_loss"
    real, fake = _scores(op, real_logits, "real_logits"), _scores(op, fake_logits, "fake_logits")
    return mean(softplus(-real)) + mean(softplus(fake))


def generator_loss(fake_logits, non_saturating: bool = True) -> Tensor:
    """The generator's loss from the discriminator's logits on generated images.

    non-saturating (default, Goodfellow et al.'s practical form): L_G = E softplus(-l) = -E log D(G(z)),
        dL_G/dl = -(1 - sigmoid(l)) / n: large while the discriminator rejects the fakes (l << 0);
    minimax (``non_saturating=False``): L_G = -E softplus(l) = E log(1 - D(G(z))),
        dL_G/dl = -sigmoid(l) / n: vanishes exactly when the fakes are poor, hence "saturating".
    """
    fake = _scores("generator_loss", fake_logits, "fake_logits")
    return mean(softplus(-fake)) if non_saturating else -mean(softplus(fake))


def wasserstein_critic_loss(real_scores, fake_scores) -> Tensor:
    """L_C = E f(G(z)) - E f(x): the critic maximizes the score gap, the Kantorovich-Rubinstein
    estimate of the Wasserstein-1 distance (when f is 1-Lipschitz).  dL_C/df = 1/n_fake, -1/n_real."""
    op = "wasserstein_critic_loss"
    return mean(_scores(op, fake_scores, "fake_scores")) - mean(_scores(op, real_scores, "real_scores"))


def wasserstein_generator_loss(fake_scores) -> Tensor:
    """L_G = -E f(G(z)).  dL_G/df = -1/n."""
    return -mean(_scores("wasserstein_generator_loss", fake_scores, "fake_scores"))


def gradient_penalty(critic, real, fake, alpha=None, eps: float = 1e-12) -> Tensor:
    """WGAN-GP's penalty E[(||grad_xhat f(xhat)||_2 - 1)^2] on points between real and fake samples.

    xhat_i = a_i x_i + (1 - a_i) x~_i with a_i ~ U(0, 1) per sample (or ``alpha``, shape (batch,)).
    ``xhat`` is a new leaf (the penalty trains the critic only), the critic's input gradient

        g_i = d(sum_k f(xhat_k)) / d xhat_i = d f(xhat_i) / d xhat_i

    is taken with ``grad(..., create_graph=True)``, so the penalty stays a differentiable function of
    the critic's weights: its gradient d/dw (||g|| - 1)^2 = 2 (||g|| - 1) g^T (d g / d w) / ||g|| is a
    second-order derivative of f (through every layer of the critic). ||g|| is computed as
    sqrt(sum g^2 + eps) so that its derivative stays finite at g = 0. Returns the batch mean;
    Gulrajani et al. weight it by lambda = 10.
    """
    op = "gradient_penalty"
    real, fake = _float(op, real), _float(op, fake)
    if real.shape != fake.shape:
        raise ValueError(f"{op}: real of shape {real.shape} and fake of shape {fake.shape} must have the same shape")
    n = real.shape[0]
    if alpha is None:
        a = backend.rng().uniform(size=(n,))
    else:
        a = xp.asarray(alpha.data if isinstance(alpha, Tensor) else alpha, dtype=float)
        if a.shape != (n,):
            raise ValueError(f"{op}: alpha must have shape ({n},), got {a.shape}")
    a = a.reshape((n,) + (1,) * (real.ndim - 1)).astype(real.data.dtype)
    x_hat = Tensor._wrap((a * real.data + (1 - a) * fake.data).astype(real.data.dtype, copy=False))
    x_hat.requires_grad = True
    recording = is_grad_enabled()
    with enable_grad():  # the input gradient needs a graph even when evaluated under no_grad
        scores = critic(x_hat)
        if not isinstance(scores, Tensor) or scores.shape[:1] != (n,):
            raise ValueError(f"{op}: the critic must return a Tensor of scores with batch size {n}, got "
                             f"{getattr(scores, 'shape', type(scores).__name__)}")
        (g,) = grad(_sum(scores), [x_hat], create_graph=True) if scores.requires_grad else (None,)
        if g is None:
            raise ValueError(f"{op}: the critic's output does not depend on its input")
        norm = sqrt(_sum(reshape(g * g, (n, -1)), axis=-1) + eps)
        penalty = mean((norm - 1.0) * (norm - 1.0))
    return penalty if recording else penalty.detach()


__all__ = [
    "binary_crossentropy_sum", "discriminator_loss", "gaussian_kl", "generator_loss", "gradient_penalty",
    "reparameterize", "wasserstein_critic_loss", "wasserstein_generator_loss",
]
