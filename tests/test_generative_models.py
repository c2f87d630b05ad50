"""The generative models: a few fit steps, saving and loading, `chainrule sample`, bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.generative import GAN, ConvVAE, MLPVAE
from chainrule.generative.mnist import sample


def _images(n=8, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)).astype(np.float32)


def test_mlp_vae_trains_and_logs_the_elbo_terms():
    cr.manual_seed(0)
    vae = MLPVAE(input_dim=16, hidden=8, latent_dim=3)
    vae.compile(optimizer=cr.optimizers.Adam(1e-2))
    x = (np.random.default_rng(1).uniform(size=(64, 16)) > 0.5).astype(np.float32)
    history = vae.fit(x, batch_size=16, epochs=4, verbose=0, validation_data=x)
    logs = history.history
    assert set(logs) == {"loss", "reconstruction_loss", "kl_loss", "val_loss", "val_reconstruction_loss",
                         "val_kl_loss"}
    np.testing.assert_allclose(np.add(logs["reconstruction_loss"], logs["kl_loss"]), logs["loss"], rtol=1e-6)
    assert logs["loss"][-1] < logs["loss"][0]
    test = vae.evaluate(x, verbose=0, return_dict=True)
    assert test["loss"] == pytest.approx(test["reconstruction_loss"] + test["kl_loss"])


def _roundtrip(model, path):
    model.save(path)
    loaded = cr.models.load_model(path, compile=False)
    assert type(loaded) is type(model)
    assert len(loaded.weights) == len(model.weights)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.data, b.data)
    return loaded


@pytest.mark.parametrize("make", [lambda: MLPVAE(input_dim=784, hidden=16, latent_dim=4), lambda: ConvVAE(2)])
def test_vae_save_and_load(tmp_path, make):
    cr.manual_seed(0)
    vae = make()
    vae.compile(optimizer="adam")
    shape = (-1,) + vae.input_shape_
    vae.fit(_images(8).reshape(shape), batch_size=4, verbose=0)
    loaded = _roundtrip(vae, tmp_path / "vae.safetensors")
    z = np.random.default_rng(0).standard_normal((3, vae.latent_dim))
    np.testing.assert_allclose(loaded.decode(z), vae.decode(z), rtol=1e-6)
    means, log_vars = loaded.encode(_images(3).reshape(shape))
    assert means.shape == log_vars.shape == (3, vae.latent_dim)


@pytest.mark.parametrize("loss", ["non_saturating", "wasserstein_gp"])
def test_gan_save_and_load(tmp_path, loss):
    cr.manual_seed(0)
    gan = GAN(latent_dim=8, loss=loss)
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    gan.fit(_images(4), batch_size=4, verbose=0)
    loaded = _roundtrip(gan, tmp_path / "gan.safetensors")
    assert loaded.gan_loss == loss and loaded.latent_dim == 8
    z = cr.tensor(np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32))
    np.testing.assert_allclose(loaded(z).data, gan(z).data, rtol=1e-6)


def test_sample_writes_a_grid_from_a_gan_a_vae_and_a_decoder(tmp_path):
    cr.manual_seed(0)
    gan = GAN(latent_dim=8)
    gan.save(tmp_path / "gan.safetensors")
    vae = MLPVAE(input_dim=784, hidden=16, latent_dim=4)
    vae.save(tmp_path / "vae.safetensors")
    vae.decoder.save(tmp_path / "decoder.safetensors")
    for name in ("gan", "vae", "decoder"):
        out = tmp_path / f"{name}.png"
        images = sample(tmp_path / f"{name}.safetensors", n=6, out=str(out), seed=1)
        assert images.shape[:3] == (6, 28, 28) and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from chainrule import cli

    assert cli.main(["sample", str(tmp_path / "gan.safetensors"), "--n", "4", "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").exists()
    classifier = cr.Sequential([cr.layers.Input((28, 28, 1)), cr.layers.Flatten(), cr.layers.Dense(10)])
    classifier.save(tmp_path / "clf.safetensors")
    with pytest.raises(ValueError, match="latent vector"):
        sample(tmp_path / "clf.safetensors", n=4, out=str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="positive"):
        sample(tmp_path / "gan.safetensors", n=0, out=str(tmp_path / "x.png"))


@pytest.mark.parametrize("make, match", [
    (lambda: MLPVAE(latent_dim=0), "latent_dim must be a positive integer"),
    (lambda: ConvVAE(latent_dim=-2), "latent_dim must be a positive integer"),
    (lambda: GAN(latent_dim=0), "latent_dim must be a positive integer"),
    (lambda: GAN(loss="hinge"), "unknown loss 'hinge'"),
    (lambda: GAN(image_shape=(30, 30, 1)), "divisible by 4"),
    (lambda: GAN(refine_filters=0), "refine_filters must be a positive integer"),
])
def test_bad_model_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_gan_moving_average_generator(tmp_path):
    cr.manual_seed(0)
    gan = GAN(latent_dim=4, image_shape=(8, 8, 1), ema=0.5)
    gan.compile(d_optimizer=cr.optimizers.Adam(1e-2), g_optimizer=cr.optimizers.Adam(1e-2))
    assert gan.sampler is gan.generator_ema
    before = [w.data.copy() for w in gan.generator.weights]
    gan.generator_step(4)
    for b, w, a in zip(before, gan.generator.weights, gan.generator_ema.weights):
        np.testing.assert_allclose(a.data, 0.5 * b + 0.5 * w.data, rtol=1e-6, atol=1e-7)
    z = cr.tensor(np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(gan(z).data, gan.generator_ema(z).data)
    loaded = _roundtrip(gan, tmp_path / "ema.safetensors")
    np.testing.assert_allclose(loaded(z).data, gan(z).data, rtol=1e-6)
    with pytest.raises(ValueError, match="ema"):
        GAN(ema=1.0)


def test_gan_refining_generator_trains_saves_and_loads(tmp_path):
    """refine_filters adds a full-resolution Conv2DTranspose(k) -> BN -> LeakyReLU -> Conv2D(c, 3) ending."""
    cr.manual_seed(0)
    gan = GAN(latent_dim=4, image_shape=(8, 8, 1), ema=0.9, refine_filters=3)
    names = [type(layer).__name__ for layer in gan.generator.layers]
    assert names[-4:] == ["Conv2DTranspose", "BatchNormalization", "Activation", "Conv2D"]
    assert gan.generator.layers[-4].filters == 3 and gan.generator.output_shape == (None, 8, 8, 1)
    gan.compile(d_optimizer=cr.optimizers.Adam(1e-2), g_optimizer=cr.optimizers.Adam(1e-2))
    gan.fit(np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype(np.float32), batch_size=4, epochs=1,
            verbose=0)
    z = cr.tensor(np.ones((2, 4), np.float32))
    loaded = _roundtrip(gan, tmp_path / "refine.safetensors")
    assert loaded.refine_filters == 3
    np.testing.assert_allclose(loaded(z).data, gan(z).data, rtol=1e-6)


def test_time_limit_anneals_the_learning_rates_to_the_budget(monkeypatch):
    from chainrule.generative import mnist

    clock = [100.0]
    monkeypatch.setattr(mnist.time, "perf_counter", lambda: clock[0])
    d_opt, g_opt = cr.optimizers.Adam(4e-4), cr.optimizers.Adam(8e-4)
    limit = mnist.TimeLimit(10, anneal_from=0.5, optimizers=[d_opt, g_opt])
    limit.on_train_begin()
    seen = []
    for minutes in (0, 4, 5, 7.5, 9, 10, 11):   # passed of the 10 minutes
        clock[0] = 100.0 + 60 * minutes
        limit.on_train_batch_begin(0)
        seen.append((d_opt.learning_rate, g_opt.learning_rate))
    expected = [1, 1, 1, 0.5, 0.2, 0, 0]           # (1 - t) / (1 - 0.5) after half the time, never below 0
    np.testing.assert_allclose(seen, [(4e-4 * s, 8e-4 * s) for s in expected], atol=1e-12)
    with pytest.raises(ValueError, match="anneal_from"):
        mnist.TimeLimit(10, anneal_from=1.0)
    plain = mnist.TimeLimit(10)                     # without anneal_from the rates are left alone
    plain.on_train_begin()
    clock[0] += 60 * 9
    plain.on_train_batch_begin(0)
