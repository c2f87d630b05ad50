"""fit/evaluate driving a model's own train_step/test_step (models/custom_step.py), and the GAN's steps."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L
from chainrule.generative import GAN


class Recorder(cr.Model):
    """Records what its steps receive; returns a constant, a Tensor, an array and a Mean tracker."""

    def __init__(self):
        super().__init__()
        self.dense = L.Dense(1)
        self.seen = []
        self.steps = cr.metrics.Mean(name="steps")
        self.count = 0

    def call(self, x, training=False):
        return self.dense(x)

    def train_step(self, data):
        self.seen.append(data)
        self.count += 1
        self.steps.update_state(self.count)
        return {"loss": 0.5, "tensor": cr.tensor(2.0), "array": np.array([3.0]), "steps": self.steps}

    def test_step(self, data):
        self.seen.append(("test", data))
        return {"loss": np.float32(1.5)}


def _x(n=10, d=3):
    return np.arange(n * d, dtype=np.float32).reshape(n, d)


def test_fit_passes_the_batch_and_logs_the_returned_metrics():
    m = Recorder()
    m.compile(optimizer="sgd")
    history = m.fit(_x(), batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert len(m.seen) == 6  # 3 batches (4, 4, 2) per epoch
    first = m.seen[0]
    assert isinstance(first, cr.Tensor) and first.shape == (4, 3)
    np.testing.assert_array_equal(first.data, _x()[:4])
    assert m.seen[2].shape == (2, 3)
    assert set(history.history) == {"loss", "tensor", "array", "steps"}
    assert history.history["loss"] == [0.5, 0.5] and history.history["tensor"] == [2.0, 2.0]
    # The tracker is reset at every epoch: epoch 2 saw steps 4, 5, 6 only.
    assert history.history["steps"] == [2.0, 5.0]


def test_batches_are_packed_as_keras_does():
    m = Recorder()
    m.compile(optimizer="sgd")
    y = np.arange(10)
    m.fit(_x(), y, batch_size=10, verbose=0)
    x_b, y_b = m.seen[-1]
    assert x_b.shape == (10, 3) and y_b.shape == (10,)
    m.fit(_x(), y, sample_weight=np.ones(10), batch_size=10, verbose=0)
    assert len(m.seen[-1]) == 3
    m.fit([_x(), _x()], batch_size=10, verbose=0)
    (xs,) = m.seen[-1]
    assert isinstance(xs, list) and len(xs) == 2
    assert cr.utils.unpack_x_y_sample_weight(m.seen[-1])[1] is None


def test_evaluate_and_validation_use_test_step():
    m = Recorder()
    m.compile(optimizer="sgd")
    history = m.fit(_x(), batch_size=5, validation_data=_x(4), verbose=0)
    assert history.history["val_loss"] == [1.5]
    assert m.evaluate(_x(), verbose=0) == 1.5
    assert m.evaluate(_x(), verbose=0, return_dict=True) == {"loss": 1.5}
    assert m.train_on_batch(_x(), return_dict=True)["loss"] == 0.5
    assert m.test_on_batch(_x()) == 1.5


class Bad(cr.Model):
    def __init__(self, result):
        super().__init__()
        self.result = result

    def call(self, x, training=False):
        return x

    def train_step(self, data):
        return self.result


@pytest.mark.parametrize("result, match", [
    (0.5, "must return a dict"),
    ([("loss", 1.0)], "must return a dict"),
    ({"loss": np.ones(3)}, "must be a scalar"),
    ({"loss": "low"}, "must be a scalar"),
    ({"loss": None}, "must be a scalar"),
    ({1: 0.5}, "names"),
])
def test_a_train_step_that_returns_no_dict_of_scalars_is_a_clear_error(result, match):
    m = Bad(result)
    m.compile(optimizer="sgd")
    with pytest.raises(TypeError, match=match) as info:
        m.fit(_x(), verbose=0)
    assert "Bad.train_step" in str(info.value)


class Doubled(cr.Model):
    """An override that calls the default (compiled) step through super() and adds a figure."""

    def __init__(self):
        super().__init__()
        self.dense = L.Dense(1)

    def call(self, x, training=False):
        return self.dense(x)

    def train_step(self, data):
        logs = super().train_step(data)
        return {**logs, "twice": 2 * logs["loss"]}


def test_super_train_step_runs_the_compiled_step():
    cr.manual_seed(0)
    m = Doubled()
    m.compile(optimizer=cr.optimizers.SGD(0.01), loss="mse")
    x, y = _x() / 30, np.ones((10, 1), np.float32)
    before = [w.copy() for w in m.get_weights()] if m.built else None
    history = m.fit(x, y, batch_size=10, epochs=3, verbose=0)
    assert history.history["twice"] == pytest.approx([2 * v for v in history.history["loss"]])
    assert history.history["loss"][2] < history.history["loss"][0]
    assert before is None or not np.allclose(before[0], m.get_weights()[0])


def test_the_default_step_still_needs_a_loss():
    m = cr.Sequential([L.Input((3,)), L.Dense(1)])
    m.compile(optimizer="sgd")
    with pytest.raises(RuntimeError, match="without a loss"):
        m.fit(_x(), np.ones(10), verbose=0)
    with pytest.raises(RuntimeError, match="compiled first"):
        Recorder().fit(_x(), verbose=0)


# ----------------------------------------------------------------------------------------- GAN
def _small_gan(loss="non_saturating"):
    cr.manual_seed(0)
    gan = GAN(latent_dim=4, image_shape=(8, 8, 1), loss=loss)
    gan.compile(d_optimizer=cr.optimizers.Adam(1e-3), g_optimizer=cr.optimizers.Adam(1e-3))
    return gan


def _trainable(model):
    return [w.data.copy() for w in model.trainable_weights]


def _same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("loss", ["non_saturating", "wasserstein_gp"])
def test_each_gan_step_updates_only_its_own_network(loss):
    gan = _small_gan(loss)
    real = cr.tensor(np.random.default_rng(0).uniform(size=(6, 8, 8, 1)).astype(np.float32))
    g0, d0 = _trainable(gan.generator), _trainable(gan.discriminator)
    gan.discriminator_step(real)
    g1, d1 = _trainable(gan.generator), _trainable(gan.discriminator)
    assert _same(g0, g1), "the discriminator's step changed the generator"
    kernels = [i for i, w in enumerate(gan.discriminator.trainable_weights) if w.name.endswith("kernel")]
    assert not any(np.array_equal(d0[i], d1[i]) for i in kernels), "every discriminator kernel should move"
    d_all = [w.data.copy() for w in gan.discriminator.weights]
    gan.generator_step(6)
    assert _same(d_all, [w.data for w in gan.discriminator.weights]), "the generator's step changed the discriminator"
    assert not _same(g1, _trainable(gan.generator))


def test_gan_fit_logs_its_losses():
    gan = _small_gan("wasserstein_gp")
    x = np.random.default_rng(1).uniform(size=(12, 8, 8, 1)).astype(np.float32)
    history = gan.fit(x, batch_size=6, epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "gp"}
    assert all(len(v) == 2 and np.all(np.isfinite(v)) for v in history.history.values())
    assert gan.generate(3).shape == (3, 8, 8, 1)


@pytest.mark.parametrize("loss, critic_steps", [("non_saturating", 1), ("wasserstein_gp", 3)])
def test_gan_train_step_shares_the_last_critic_steps_fakes_with_the_generator(loss, critic_steps):
    # One latent batch a critic step: the generator's step goes back through the fakes the last
    # critic step was shown (as PyTorch's DCGAN example), and both networks still move.
    gan = _small_gan(loss)
    gan.critic_steps = critic_steps
    drawn = []
    sample_latent = gan.sample_latent
    gan.sample_latent = lambda n: drawn.append(n) or sample_latent(n)
    real = cr.tensor(np.random.default_rng(0).uniform(size=(6, 8, 8, 1)).astype(np.float32))
    g0, d0 = _trainable(gan.generator), _trainable(gan.discriminator)
    logs = gan.train_step(real)
    assert drawn == [6] * critic_steps
    assert not _same(g0, _trainable(gan.generator)) and not _same(d0, _trainable(gan.discriminator))
    assert np.isfinite(logs["g_loss"].result()) and np.isfinite(logs["d_loss"].result())
