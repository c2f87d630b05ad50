"""Callbacks: each fires at the right points and does what Keras's does."""
import csv

import numpy as np
import pytest

import chainrule as cr
from chainrule import callbacks, layers


def data(n=64, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def model(features=6, lr=0.05):
    m = cr.Sequential([layers.Input(shape=(features,)), layers.Dense(8, activation="relu"),
                       layers.Dense(2, activation="softmax")])
    m.compile(optimizer=cr.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            calls = object.__getattribute__(self, "calls")
            return lambda *args: calls.append((name,) + tuple(a for a in args if not isinstance(a, dict)))
        return object.__getattribute__(self, name)


class ScriptedLogs(callbacks.Callback):
    """Overwrites logs[key] at each epoch end with a scripted value (placed before the callback under test)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class WeightSnapshots(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs, self.batches = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(self.model.get_weights())


def test_every_hook_fires_in_order():
    x, y = data()
    rec = Recorder()
    m = model()
    m.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(x[:16], y[:16]), callbacks=[rec])
    names = [c[0] for c in rec.calls]
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    assert names.count("on_epoch_begin") == 2 and names.count("on_epoch_end") == 2
    assert names.count("on_train_batch_begin") == 4 and names.count("on_train_batch_end") == 4
    assert names.count("on_test_begin") == 2 and names.count("on_test_batch_end") == 2
    first_epoch = names[1:names.index("on_epoch_end") + 1]
    assert first_epoch == ["on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_train_batch_begin",
                           "on_train_batch_end", "on_test_begin", "on_test_batch_begin", "on_test_batch_end",
                           "on_test_end", "on_epoch_end"]
    assert ("on_train_batch_end", 1) in rec.calls
    assert rec.params == {"verbose": 0, "epochs": 2, "steps": 2} and rec.model is m
    rec.calls.clear()
    m.predict(x, callbacks=[rec])
    assert [c[0] for c in rec.calls] == ["on_predict_begin"] + ["on_predict_batch_begin", "on_predict_batch_end"] * 2 \
        + ["on_predict_end"]


def test_batch_logs_hold_running_means():
    x, y = data()
    seen = []
    cb = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(dict(logs)))
    m = model()
    h = m.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb], shuffle=False)
    assert len(seen) == 4 and set(seen[0]) == {"loss", "accuracy"}
    assert seen[-1]["loss"] == h.history["loss"][0]


def test_stop_training_flag():
    x, y = data()

    class StopAfterTwo(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    m = model()
    h = m.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[StopAfterTwo()])
    assert len(h.history["loss"]) == 1 and m.optimizer.iterations == 2


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y = data()
    snaps = WeightSnapshots()
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    m = model()
    h = m.fit(x, y, epochs=20, verbose=0, validation_split=0.25,
              callbacks=[ScriptedLogs("val_loss", [1.0, 0.5, 0.7, 0.6, 0.9] + [1.0] * 15), snaps, stopper])
    # best at epoch 1; epochs 2 and 3 do not improve; stop at the end of epoch 3
    assert len(h.history["loss"]) == 4 and stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert h.history["val_loss"] == [1.0, 0.5, 0.7, 0.6]
    for now, best in zip(m.get_weights(), snaps.epochs[1]):
        np.testing.assert_array_equal(now, best)
    assert not all(np.array_equal(a, b) for a, b in zip(snaps.epochs[3], snaps.epochs[1]))


@pytest.mark.parametrize("values, patience, epochs_run", [
    ([1.0, 0.9, 0.8, 0.7, 0.4], 1, 5),   # improves every epoch without beating 0.5: Keras 3 never stops
    ([1.0, 0.9, 0.8, 0.85, 0.84, 0.83], 3, 4),  # improvements short of the baseline do not reset the wait
    ([1.0, 0.4, 0.45, 0.46, 0.47, 0.48], 2, 4),  # beating the baseline does: stop two epochs after 0.4
])
def test_early_stopping_baseline_follows_keras_3(values, patience, epochs_run):
    x, y = data()
    stopper = callbacks.EarlyStopping(patience=patience, baseline=0.5)
    h = model().fit(x, y, epochs=len(values), verbose=0, validation_split=0.25,
                    callbacks=[ScriptedLogs("val_loss", values), stopper])
    assert len(h.history["loss"]) == epochs_run
    assert stopper.stopped_epoch == (0 if epochs_run == len(values) else epochs_run - 1)


def test_early_stopping_a_nan_never_becomes_the_best():
    x, y = data()
    stopper = callbacks.EarlyStopping(patience=1)
    h = model().fit(x, y, epochs=5, verbose=0, validation_split=0.25,
                    callbacks=[ScriptedLogs("val_loss", [float("nan"), 1.0, 0.9, 0.95, 0.8]), stopper])
    assert len(h.history["loss"]) == 4 and stopper.best == 0.9 and stopper.best_epoch == 2


def test_early_stopping_modes_min_delta_and_baseline():
    x, y = data()
    stopper = callbacks.EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    assert stopper.mode == "max"
    model().fit(x, y, epochs=10, verbose=0, validation_split=0.25,
                callbacks=[ScriptedLogs("val_accuracy", [0.5, 0.53, 0.54, 0.9] + [1.0] * 6), stopper])
    assert stopper.stopped_epoch == 1  # 0.53 is not better than 0.5 by more than 0.05
    base = callbacks.EarlyStopping(monitor="loss", patience=2, baseline=0.1)
    h = model().fit(x, y, epochs=10, verbose=0, callbacks=[ScriptedLogs("loss", [1.0, 1.1, 1.2] + [2.0] * 7), base])
    assert len(h.history["loss"]) == 2  # never beats the baseline: the wait counts from the first epoch
    with pytest.warns(UserWarning, match="val_loss"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.EarlyStopping()])
    with pytest.raises(ValueError, match="mode"):
        callbacks.EarlyStopping(mode="up")


def test_model_checkpoint_writes_formatted_files(tmp_path):
    x, y = data()
    m = model()
    path = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.cr")
    m.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
          callbacks=[ScriptedLogs("val_loss", [0.9, 0.5, 0.7]), callbacks.ModelCheckpoint(path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-01-0.90.cr", "ckpt-02-0.50.cr", "ckpt-03-0.70.cr"]
    loaded = cr.models.load_model(tmp_path / "ckpt-03-0.70.cr")
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))


def test_model_checkpoint_save_best_only_and_weights_only(tmp_path):
    x, y = data()
    m = model()
    snaps = WeightSnapshots()
    best = str(tmp_path / "sub" / "best.weights")
    cb = callbacks.ModelCheckpoint(best, monitor="val_loss", save_best_only=True, save_weights_only=True)
    writes = []
    m.save_weights = (lambda orig: (lambda p, **k: (writes.append(p), orig(p, **k))))(m.save_weights)
    m.fit(x, y, epochs=4, verbose=0, validation_split=0.25,
          callbacks=[ScriptedLogs("val_loss", [0.9, 0.5, 0.7, 0.6]), snaps, cb])
    assert len(writes) == 2 and cb.best == 0.5
    fresh = model()
    fresh.load_weights(best)
    for a, b in zip(fresh.get_weights(), snaps.epochs[1]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="format"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{nope}.cr"))])


def test_learning_rate_scheduler_changes_the_optimizer_rate():
    x, y = data()
    m = model(lr=0.1)
    seen = []
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[
        callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
        callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(m.optimizer.learning_rate))])
    assert seen == pytest.approx([0.05, 0.025, 0.0125])
    assert h.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    assert m.optimizer.learning_rate == pytest.approx(0.0125)
    m.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.3 / (epoch + 1))])
    assert m.optimizer.learning_rate == pytest.approx(0.15)


def test_learning_rate_scheduler_really_changes_the_step():
    """With lr = 0 from the second epoch on, the weights stop moving."""
    x, y = data()
    m = model(lr=0.1)
    snaps = WeightSnapshots()
    m.fit(x, y, epochs=3, verbose=0, callbacks=[
        callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 if epoch == 0 else 0.0), snaps])
    for a, b in zip(snaps.epochs[0], snaps.epochs[2]):
        np.testing.assert_array_equal(a, b)


def test_reduce_lr_on_plateau():
    x, y = data()
    m = model(lr=0.1)
    cb = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.0)
    m.fit(x, y, epochs=4, verbose=0, validation_split=0.25,
          callbacks=[ScriptedLogs("val_loss", [1.0, 1.0, 1.0, 0.5]), cb])
    assert m.optimizer.learning_rate == pytest.approx(0.025)


def test_csv_logger_writes_rows(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    m = model()
    h = m.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(str(path))])
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [float(r["loss"]) for r in rows] == pytest.approx(h.history["loss"])
    m.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
          callbacks=[callbacks.CSVLogger(str(path), append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 3 + 2 and lines.count(lines[0]) == 1
    m.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(str(path), separator=";")])
    assert path.read_text().splitlines()[0] == "epoch;accuracy;loss"


def test_terminate_on_nan_stops_with_the_last_good_weights(capsys):
    x, y = data(n=64)
    x[40, 2] = np.nan  # batch 5 of 8 (batch size 8, no shuffling) gives a NaN loss
    m = model()
    snaps = WeightSnapshots()
    h = m.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False,
              callbacks=[callbacks.TerminateOnNaN(), snaps])
    assert "Batch 5: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(snaps.batches) == 6 and len(h.history["loss"]) == 1
    assert np.isnan(h.history["loss"][0])
    assert m.optimizer.iterations == 5  # the NaN step applied no update
    for now, before in zip(m.get_weights(), snaps.batches[4]):
        np.testing.assert_array_equal(now, before)
        assert np.isfinite(now).all()


def test_terminate_on_nan_keeps_batch_norm_statistics_finite(capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = rng.normal(size=(32, 1)).astype(np.float32)
    x[13, 1] = np.nan  # batch 3 (batch size 4, no shuffling)
    m = cr.Sequential([layers.Input((3,)), layers.BatchNormalization(), layers.Dense(1)])
    m.compile(optimizer=cr.optimizers.SGD(0.1), loss="mse")
    snaps = WeightSnapshots()
    m.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False, callbacks=[callbacks.TerminateOnNaN(), snaps])
    assert "Batch 3: Invalid loss, terminating training" in capsys.readouterr().out
    for now, before in zip(m.get_weights(), snaps.batches[2]):  # moving statistics included
        np.testing.assert_array_equal(now, before)
    assert all(np.isfinite(w).all() for w in m.get_weights())
    assert np.isfinite(m.predict(np.nan_to_num(x))).all()


def test_terminate_on_nan_catches_nan_gradients_of_a_finite_loss(capsys):
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    m = cr.Sequential([layers.Input((3,)), layers.Dense(1, kernel_initializer="zeros")])
    # d sqrt(s)/ds at s = 0 is inf; times ds/dw = 0 it is NaN, while the loss, sqrt(0), is 0
    m.compile(optimizer=cr.optimizers.SGD(0.1), loss=lambda yt, yp: ((yp - yt) ** 2).sum().sqrt())
    with np.errstate(all="ignore"):
        h = m.fit(x, np.zeros((16, 1), np.float32), batch_size=8, epochs=3, verbose=0,
                  callbacks=[callbacks.TerminateOnNaN()])
    assert "Batch 0: Invalid gradients (NaN or inf), terminating training" in capsys.readouterr().out
    assert h.history["loss"] == [0.0] and m.optimizer.iterations == 0
    for w in m.get_weights():
        np.testing.assert_array_equal(w, 0.0)


def test_history_is_returned_and_fresh_per_fit():
    x, y = data()
    m = model()
    h1 = m.fit(x, y, epochs=2, verbose=0)
    h2 = m.fit(x, y, epochs=1, verbose=0)
    assert h1 is not h2 and len(h1.history["loss"]) == 2 and len(h2.history["loss"]) == 1
    assert isinstance(h2, callbacks.History) and m.history is h2


def test_initial_epoch():
    x, y = data()
    seen = []
    model().fit(x, y, epochs=4, initial_epoch=2, verbose=0,
                callbacks=[callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [2, 3]


def test_callbacks_must_be_callbacks():
    x, y = data()
    with pytest.raises(TypeError, match="Callback"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[lambda: None])
