"""Classifier score and Fréchet distance (generative/measures.py) against closed forms and a reference."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.generative.measures import (
    classifier_outputs, classifier_score, frechet_distance, gaussian_stats, generator_figures, sqrtm_psd,
)


def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def _reference_frechet(mu1, s1, mu2, s2):
    """The usual formula with the square root of the non-symmetric product S1 S2 (eigendecomposition),
    as scipy.linalg.sqrtm would give it: ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2})."""
    values, vectors = np.linalg.eig(s1 @ s2)
    root = (vectors * np.sqrt(values.astype(complex))) @ np.linalg.inv(vectors)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(root).real)


def test_sqrtm_psd_squares_back():
    rng = np.random.default_rng(0)
    a = _spd(rng, 5)
    r = sqrtm_psd(a)
    np.testing.assert_allclose(r @ r, a, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(r, r.T)
    np.testing.assert_allclose(sqrtm_psd(np.diag([4.0, 9.0, 0.0])), np.diag([2.0, 3.0, 0.0]))
    with pytest.raises(ValueError, match="square"):
        sqrtm_psd(np.ones((2, 3)))


def test_frechet_distance_closed_forms():
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [-2.0], [[1.0]]) == pytest.approx(9.0 + 1.0)
    # commuting (diagonal) covariances: ||dmu||^2 + sum (sqrt a - sqrt b)^2
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 1 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)
    # the same Gaussian: 0
    rng = np.random.default_rng(1)
    s = _spd(rng, 4)
    assert frechet_distance(np.zeros(4), s, np.zeros(4), s) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_matches_the_reference_on_non_commuting_covariances():
    rng = np.random.default_rng(2)
    for d in (2, 5, 8):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = _spd(rng, d), _spd(rng, d)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_reference_frechet(mu1, s1, mu2, s2), rel=1e-8)


def test_gaussian_stats_and_sample_frechet():
    rng = np.random.default_rng(3)
    s = _spd(rng, 3)
    f1 = rng.multivariate_normal(np.zeros(3), s, size=20000)
    f2 = rng.multivariate_normal(np.zeros(3), s, size=20000)
    mu, cov = gaussian_stats(f1)
    np.testing.assert_allclose(cov, np.cov(f1, rowvar=False))
    assert frechet_distance(*gaussian_stats(f1), *gaussian_stats(f2)) < 0.01 * np.trace(s)
    shifted = f2 + np.array([1.0, 0.0, 0.0])
    assert frechet_distance(*gaussian_stats(f1), *gaussian_stats(shifted)) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="features"):
        gaussian_stats(np.ones(5))


def test_classifier_score_known_values():
    assert classifier_score(np.full((50, 10), 0.1)) == pytest.approx(1.0)  # undecided: 1
    assert classifier_score(np.eye(10)[np.arange(100) % 10]) == pytest.approx(10.0, rel=1e-9)  # sure, balanced
    assert classifier_score(np.eye(10)[np.zeros(30, int)]) == pytest.approx(1.0)  # one class only
    # two kinds of images, p(y|x) = (a, 1 - a) or (1 - a, a): p(y) = (1/2, 1/2), KL = log 2 - H(a)
    a = 0.8
    p = np.array([[a, 1 - a], [1 - a, a]] * 10)
    expected = np.exp(np.log(2) + a * np.log(a) + (1 - a) * np.log(1 - a))
    assert classifier_score(p) == pytest.approx(expected)
    assert classifier_score(np.eye(4)[np.arange(80) % 4], splits=4) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="probability"):
        classifier_score(np.random.default_rng(0).standard_normal((5, 3)))


def test_classifier_outputs_and_figures():
    cr.manual_seed(0)
    clf = cr.Sequential([cr.layers.Input((4, 4, 1)), cr.layers.Flatten(), cr.layers.Dense(5, activation="relu"),
                         cr.layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(0).uniform(size=(30, 4, 4, 1)).astype(np.float32)
    feats, probs = classifier_outputs(clf, x, batch_size=7)
    assert feats.shape == (30, 5) and probs.shape == (30, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs, clf.predict(x), rtol=1e-6)
    figures = generator_figures(clf, x, x)
    assert figures["frechet_distance"] == pytest.approx(0.0, abs=1e-6)
    assert 1.0 <= figures["classifier_score"] <= 3.0
    with pytest.raises(ValueError, match="at least two layers"):
        classifier_outputs(cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(2)]), np.ones((2, 3)))
