"""Metrics against hand-computed values: the per-sample functions, the stateful classes
(accumulation over batches, sample weights, reset), and ``cr.metrics.get``'s resolution of
'accuracy' as Keras does it."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import losses, metrics


def test_functional_accuracies():
    np.testing.assert_array_equal(metrics.accuracy([1, 2, 3, 4], [0, 2, 3, 4]), [0, 1, 1, 1])
    np.testing.assert_array_equal(metrics.binary_accuracy([[1], [1], [0], [0]], [[0.98], [0.3], [0.2], [0.6]]),
                                  [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.binary_accuracy([[1, 0], [0, 0]], [[0.7, 0.6], [0.1, 0.2]]), [0.5, 1.0])
    np.testing.assert_array_equal(metrics.binary_accuracy([1, 0], [0.3, 0.2], threshold=0.25), [1, 1])
    y_pred = np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([2, 1], y_pred), [0, 1])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([[2], [1]], y_pred), [0, 1])
    np.testing.assert_array_equal(metrics.categorical_accuracy([[0, 0, 1], [0, 1, 0]], y_pred), [0, 1])
    p3 = np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy([2, 1], p3, k=2), [1, 1])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy([0, 2], p3, k=1), [0, 0])
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], p3, k=1), [0, 1])


def test_per_sample_regression_and_crossentropy_metrics():
    np.testing.assert_allclose(metrics.mean_squared_error([[0, 1], [0, 0]], [[1, 1], [1, 0]]), [0.5, 0.5])
    np.testing.assert_allclose(metrics.mean_absolute_error([[0, 1], [0, 0]], [[1, 1], [1, 0]]), [0.5, 0.5])
    out = metrics.sparse_categorical_crossentropy([1, 2], np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
    np.testing.assert_allclose(out, [-np.log(0.95), -np.log(0.1)], rtol=1e-6)


def test_tensors_are_accepted():
    t = cr.tensor([[0.1, 0.9], [0.8, 0.2]], requires_grad=True)
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(cr.tensor([1, 1]), t), [1, 0])
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(cr.tensor([1, 1]), t)
    assert m.result() == 0.5


def test_accumulates_over_batches_with_weights_and_resets():
    m = metrics.SparseCategoricalAccuracy()
    assert m.name == "sparse_categorical_accuracy" and m.result() == 0.0
    m.update_state([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]))  # 1 of 2
    m.update_state([1, 1, 0], np.array([[0.1, 0.9], [0.3, 0.7], [0.4, 0.6]]))  # 2 of 3
    assert m.result() == pytest.approx(3 / 5)
    m.update_state([0], np.array([[0.9, 0.1]]), sample_weight=[3.0])
    assert m.result() == pytest.approx(6 / 8)
    assert isinstance(m.result(), float)
    m.reset_state()
    assert m.result() == 0.0
    assert m([1], np.array([[0.2, 0.8]])) == 1.0


def test_binary_accuracy_metric_and_mean():
    m = metrics.BinaryAccuracy(threshold=0.7)
    m.update_state([[1], [1], [0], [0]], [[0.98], [0.6], [0.2], [0.8]])
    assert m.result() == pytest.approx(0.5)
    mean = metrics.Mean(name="loss")
    mean.update_state(2.0)
    mean.update_state([4.0, 6.0])
    assert mean.result() == pytest.approx(4.0) and mean.name == "loss"
    mean.update_state([10.0], sample_weight=[0.0])
    assert mean.result() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="sample_weight"):
        mean.update_state([1.0, 2.0], sample_weight=[1.0, 2.0, 3.0])
    s = metrics.Sum()
    s.update_state([1.0, 2.0], sample_weight=[2.0, 0.5])
    assert s.result() == pytest.approx(3.0)


def test_regression_and_loss_metrics():
    m = metrics.MeanSquaredError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [1, 0]])
    assert m.result() == pytest.approx(0.5)
    m = metrics.MeanAbsoluteError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [1, 0]], sample_weight=[1, 0])
    assert m.result() == pytest.approx(0.5)
    m = metrics.SparseCategoricalCrossentropy()
    m.update_state([1, 2], np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]], dtype=np.float32))
    assert m.result() == pytest.approx(1.177, abs=1e-3)
    m = metrics.BinaryCrossentropy(from_logits=True)
    m.update_state([[1.0]], [[0.0]])
    assert m.result() == pytest.approx(np.log(2))
    m = metrics.KLDivergence()
    m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    assert m.result() == pytest.approx(0.458, abs=1e-3)


def test_top_k_metrics():
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state([2, 1], np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]]))
    assert m.result() == 0.5
    m = metrics.TopKCategoricalAccuracy(k=2)
    m.update_state([[0, 0, 1], [0, 1, 0]], np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]]))
    assert m.result() == 1.0


def test_precision_recall_auc():
    y = np.array([0, 1, 1, 1, 0])
    p = np.array([0.6, 0.9, 0.2, 0.7, 0.1])
    pr, rc = metrics.Precision(), metrics.Recall()
    pr.update_state(y, p)
    rc.update_state(y, p)
    assert pr.result() == pytest.approx(2 / 3) and rc.result() == pytest.approx(2 / 3)
    auc = metrics.AUC()
    auc.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert auc.result() == pytest.approx(0.75, abs=1e-6)  # the exact ROC AUC of these four points
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    scores = np.clip(labels * 0.3 + rng.uniform(0, 0.7, 2000), 0, 1)
    auc = metrics.AUC()
    auc.update_state(labels, scores)
    pos, neg = scores[labels == 1], scores[labels == 0]
    exact = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auc.result() == pytest.approx(exact, abs=5e-3)


@pytest.mark.parametrize("loss,output_shape,y_true_shape,expected", [
    ("sparse_categorical_crossentropy", (None, 10), None, metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), (None, 10), None, metrics.SparseCategoricalAccuracy),
    ("binary_crossentropy", (None, 1), None, metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(), (None, 4), None, metrics.BinaryAccuracy),
    ("categorical_crossentropy", (None, 10), None, metrics.CategoricalAccuracy),
    ("mse", (None, 1), None, metrics.BinaryAccuracy),
    (None, (None, 10), (None,), metrics.SparseCategoricalAccuracy),
    (None, (None, 10), (None, 1), metrics.SparseCategoricalAccuracy),
    (None, (None, 10), (None, 10), metrics.CategoricalAccuracy),
    (None, None, None, metrics.CategoricalAccuracy),
])
def test_get_accuracy_resolves_as_keras(loss, output_shape, y_true_shape, expected):
    for ident in ("accuracy", "acc"):
        m = metrics.get(ident, loss=loss, output_shape=output_shape, y_true_shape=y_true_shape)
        assert type(m) is expected and m.name == ident


def test_get_other_identifiers():
    assert type(metrics.get("sparse_categorical_accuracy")) is metrics.SparseCategoricalAccuracy
    m = metrics.get("mse")
    assert type(m) is metrics.MeanSquaredError and m.name == "mse"
    assert type(metrics.get("mae")) is metrics.MeanAbsoluteError
    inst = metrics.BinaryAccuracy()
    assert metrics.get(inst) is inst
    assert type(metrics.get(metrics.AUC)) is metrics.AUC

    def max_error(y_true, y_pred):
        return np.max(np.abs(np.asarray(y_pred) - np.asarray(y_true)), axis=-1)

    m = metrics.get(max_error)
    assert m.name == "max_error"
    m.update_state([[0, 1], [0, 0]], [[0.5, 1], [2, 0]])
    assert m.result() == pytest.approx(1.25)
    with pytest.raises(ValueError, match=r"unknown metric 'accuarcy'.*accuracy.*mse.*sparse_categorical_accuracy"):
        metrics.get("accuarcy")


def test_serialize_round_trip():
    for m in (metrics.BinaryAccuracy(threshold=0.3), metrics.SparseTopKCategoricalAccuracy(k=3), metrics.AUC(),
              metrics.Mean(name="loss"), metrics.Precision(thresholds=0.4)):
        back = metrics.deserialize(metrics.serialize(m))
        assert type(back) is type(m) and back.get_config() == m.get_config()
