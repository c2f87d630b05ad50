"""Figures that measure a generator of images through a trained classifier.

Classifier score (the Inception-score formula with an MNIST classifier; Salimans et al., 2016):

    CS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

high when each image is classified confidently (p(y|x) peaked) and the classes are balanced
(p(y) flat): it lies between 1 and the number of classes (10 for MNIST).

Fréchet distance (Heusel et al., 2017's FID, here on the classifier's penultimate-layer
features): fit a Gaussian N(mu, S) to the features of each set of images and take the
Wasserstein-2 distance between the two Gaussians,

    d^2 = ||mu_1 - mu_2||^2 + tr( S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2} ).

(S_1^{1/2} S_2 S_1^{1/2} is similar to S_1 S_2, so its square root has the trace of the usual
(S_1 S_2)^{1/2}; being symmetric positive semi-definite, its square root comes from a symmetric
eigendecomposition, with no SciPy.) Evaluation only: NumPy arrays, float64, no graph.
"""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor


def sqrtm_psd(matrix) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(l, 0))) V^T.

    Eigenvalues that rounding made slightly negative are set to 0.
    """
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"sqrtm_psd: expected a square matrix, got shape {a.shape}")
    a = (a + a.T) / 2
    values, vectors = np.linalg.eigh(a)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_stats(features):
    """(mean, covariance) of features (n, d): the Gaussian fitted to them (covariance with n - 1, as np.cov)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"gaussian_stats: expected features of shape (n >= 2, d), got {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^{1/2} S2 S1^{1/2})^{1/2}): the squared Wasserstein-2 distance
    between N(mu1, S1) and N(mu2, S2) (the FID formula)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance: expected means (d,) and covariances (d, d) of one size d, got "
                         f"{mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    root1 = sqrtm_psd(s1)
    cross = sqrtm_psd(root1 @ s2 @ root1)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(cross))


def classifier_score(probabilities, splits: int = 1, eps: float = 1e-12) -> float:
    """exp(mean_i KL(p(y|x_i) || p(y))) from class probabilities (n, classes), the mean over ``splits`` parts."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1:
        raise ValueError(f"classifier_score: expected probabilities of shape (n, classes), got {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("classifier_score: each row must be a probability distribution (non-negative, sum 1); "
                         "pass the softmax output, not logits")
    if not 1 <= splits <= p.shape[0]:
        raise ValueError(f"classifier_score: splits must be between 1 and n = {p.shape[0]}, got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + eps) - np.log(marginal + eps)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores))


def classifier_outputs(classifier, images, batch_size: int = 500):
    """(penultimate-layer features, class probabilities) of a Sequential classifier for ``images``.

    The features are the output of the layer before the last (for the texts' CNN, the 64 units of
    Dense(64, relu)); the probabilities the last layer's (softmax) output.
    """
    layers = list(getattr(classifier, "layers", []))
    if len(layers) < 2:
        raise ValueError("classifier_outputs: the classifier must be a Sequential of at least two layers "
                         "(features, then the softmax layer)")
    x = np.asarray(images)
    feats, probs = [], []
    with no_grad():
        for start in range(0, len(x), batch_size):
            h = Tensor._wrap(x[start:start + batch_size].astype(np.float32, copy=False))
            for layer in layers[:-1]:
                h = layer(h, training=False)
            feats.append(np.asarray(h.data, dtype=np.float64).reshape(len(h.data), -1))
            probs.append(np.asarray(layers[-1](h, training=False).data, dtype=np.float64))
    return np.concatenate(feats), np.concatenate(probs)


def generator_figures(classifier, images, reference_images) -> dict:
    """``{"classifier_score", "frechet_distance"}`` of ``images`` against ``reference_images`` (e.g. the test set)."""
    f_gen, p_gen = classifier_outputs(classifier, images)
    f_ref, _ = classifier_outputs(classifier, reference_images)
    return {"classifier_score": classifier_score(p_gen),
            "frechet_distance": frechet_distance(*gaussian_stats(f_gen), *gaussian_stats(f_ref))}


__all__ = ["classifier_outputs", "classifier_score", "frechet_distance", "gaussian_stats", "generator_figures",
           "sqrtm_psd"]
