"""The texts' code blocks, run with only their import line changed.

Each block below is written as the texts write it, against TensorFlow's Keras or NumPy.
The test changes the import line (``import tensorflow as tf`` -> ``import chainrule as tf``,
``import numpy as np`` -> ``import chainrule as np``) and, for the training blocks, the
number of epochs to 1, checks that nothing else changed, and runs the block. The MNIST data
is a few hundred synthetic digits with MNIST's shapes and dtypes (``load_data`` is
monkeypatched), so each block trains in well under a second.

The NumPy blocks then go one step further than NumPy can: the same formulas, with the
weights marked ``requires_grad``, give ``backward()`` gradients equal to the ones the blocks
derive by hand.
"""
from __future__ import annotations

import re
import textwrap

import numpy
import pytest

import chainrule as cr

TF_IMPORT = ("import tensorflow as tf", "import chainrule as tf")
NP_IMPORT = ("import numpy as np", "import chainrule as np")


def _port(block: str, import_change, epochs_to_one: bool = False) -> str:
    """The block with its import line changed (and ``epochs=N`` set to 1); asserts that is all."""
    source = textwrap.dedent(block)
    old, new = import_change
    assert old in source.splitlines(), f"the block does not start with {old!r}"
    ported = source.replace(old, new)
    if epochs_to_one:
        ported = re.sub(r"epochs=\d+", "epochs=1", ported)
    changed = [(a, b) for a, b in zip(source.splitlines(), ported.splitlines()) if a != b]
    assert len(source.splitlines()) == len(ported.splitlines()), "changed more than the import: lines added"
    for a, b in changed:
        assert a == old or re.sub(r"epochs=\d+", "epochs=1", a) == b, f"changed more than the import: {a!r}"
    return ported


def _run(source: str) -> dict:
    namespace: dict = {"__name__": "texts_block"}
    exec(compile(source, "<texts block>", "exec"), namespace)
    return namespace


@pytest.fixture
def small_mnist(monkeypatch):
    """``mnist.load_data()`` gives 300 training and 100 test images: uint8 28x28, labels 0-9 (learnable)."""
    rng = numpy.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 10, n).astype(numpy.uint8)
        x = rng.integers(0, 40, (n, 28, 28)).astype(numpy.uint8)
        for i, label in enumerate(y):
            r, c = divmod(int(label), 5)
            x[i, 4 + 10 * r: 10 + 10 * r, 1 + 5 * c: 5 + 5 * c] = 255
        return x, y

    data = (make(300), make(100))
    monkeypatch.setattr(cr.datasets.mnist, "load_data", lambda *a, **k: data)
    cr.manual_seed(0)
    return data


# ----------------------------------------------------------------------------------- Keras blocks
KERAS_MLP = """
import tensorflow as tf

mnist = tf.keras.datasets.mnist
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])

model.fit(x_train, y_train, epochs=5)
test_loss, test_acc = model.evaluate(x_test, y_test)
print('Test accuracy:', test_acc)
"""

KERAS_FIRST_EXAMPLE = """
import numpy as np
import tensorflow as tf

model = tf.keras.Sequential([
    tf.keras.layers.Dense(64, activation='relu', input_shape=(100,)),
    tf.keras.layers.Dense(64, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])

data = np.random.random((1000, 100))
labels = np.random.randint(10, size=(1000,))
model.fit(data, labels, epochs=10, batch_size=32)
"""

KERAS_L2 = """
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784) / 255.0
x_test = x_test.reshape(-1, 784) / 255.0

model = tf.keras.Sequential([
    tf.keras.layers.Dense(64, activation='relu', input_shape=(784,),
                          kernel_regularizer=tf.keras.regularizers.l2(0.01)),
    tf.keras.layers.Dense(64, activation='relu',
                          kernel_regularizer=tf.keras.regularizers.l2(0.01)),
    tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.fit(x_train, y_train, epochs=10, validation_data=(x_test, y_test))
"""

KERAS_DROPOUT = """
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(512, activation='relu'),
    tf.keras.layers.Dropout(0.5),
    tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.fit(x_train, y_train, epochs=5, batch_size=128)
model.evaluate(x_test, y_test)
"""

KERAS_BATCH_NORM = """
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128),
    tf.keras.layers.BatchNormalization(),
    tf.keras.layers.Activation('relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.fit(x_train, y_train, epochs=5, batch_size=64)
model.evaluate(x_test, y_test)
"""

KERAS_CNN = """
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 28, 28, 1).astype('float32') / 255
x_test = x_test.reshape(-1, 28, 28, 1).astype('float32') / 255

model = tf.keras.models.Sequential([
    tf.keras.layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)),
    tf.keras.layers.MaxPooling2D((2, 2)),
    tf.keras.layers.Conv2D(64, (3, 3), activation='relu'),
    tf.keras.layers.MaxPooling2D((2, 2)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(64, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])

model.fit(x_train, y_train, epochs=10, batch_size=64, validation_data=(x_test, y_test))
test_loss, test_acc = model.evaluate(x_test, y_test)
"""

KERAS_STACKED_LSTM = """
import numpy as np
import tensorflow as tf

timesteps = 8
model = tf.keras.Sequential([
    tf.keras.layers.LSTM(64, return_sequences=True, input_shape=(timesteps, 64)),
    tf.keras.layers.LSTM(64),
    tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])

x_train = np.random.random((200, timesteps, 64))
y_train = np.random.randint(10, size=(200,))
model.fit(x_train, y_train, epochs=5, batch_size=32)
"""


def _trained(ns, n_layers):
    model = ns["model"]
    assert len(model.layers) == n_layers
    history = model.history.history if getattr(model, "history", None) is not None else None
    if history is not None:
        assert len(history["loss"]) == 1 and numpy.isfinite(history["loss"][0])
    return model


def test_mlp_block(small_mnist, capsys):
    ns = _run(_port(KERAS_MLP, TF_IMPORT, epochs_to_one=True))
    _trained(ns, 3)
    assert 0.0 <= ns["test_acc"] <= 1.0
    assert "Test accuracy:" in capsys.readouterr().out
    assert ns["model"].predict(ns["x_test"][:4]).shape == (4, 10)


def test_first_example_block():
    cr.manual_seed(0)
    ns = _run(_port(KERAS_FIRST_EXAMPLE, TF_IMPORT, epochs_to_one=True))
    model = _trained(ns, 3)
    assert [w.shape for w in model.weights] == [(100, 64), (64,), (64, 64), (64,), (64, 10), (10,)]


def test_l2_regularization_block(small_mnist):
    ns = _run(_port(KERAS_L2, TF_IMPORT, epochs_to_one=True))
    model = _trained(ns, 3)
    assert "val_loss" in model.history.history
    assert isinstance(model.layers[0].kernel_regularizer, cr.regularizers.L2)


def test_dropout_block(small_mnist):
    ns = _run(_port(KERAS_DROPOUT, TF_IMPORT, epochs_to_one=True))
    assert isinstance(_trained(ns, 4).layers[2], cr.layers.Dropout)


def test_batch_norm_block(small_mnist):
    ns = _run(_port(KERAS_BATCH_NORM, TF_IMPORT, epochs_to_one=True))
    bn = _trained(ns, 5).layers[2]
    assert isinstance(bn, cr.layers.BatchNormalization)
    assert not numpy.allclose(bn.moving_mean.numpy(), 0.0)     # training updated the running statistics


def test_cnn_block(small_mnist):
    ns = _run(_port(KERAS_CNN, TF_IMPORT, epochs_to_one=True))
    model = _trained(ns, 7)
    assert model.output_shape == (None, 10)
    assert 0.0 <= ns["test_acc"] <= 1.0


@pytest.mark.skipif(not hasattr(cr.layers, "LSTM"), reason="recurrent layers (issue 12) not landed")
def test_stacked_lstm_block():
    cr.manual_seed(0)
    ns = _run(_port(KERAS_STACKED_LSTM, TF_IMPORT, epochs_to_one=True))
    model = _trained(ns, 3)
    assert model.output_shape == (None, 10)
    assert model.predict(ns["x_train"][:3]).shape == (3, 10)


def test_port_refuses_a_block_changed_beyond_its_import():
    with pytest.raises(AssertionError, match="changed more than the import"):
        _port("import tensorflow as tf\nname = 'import tensorflow as tf'\n", TF_IMPORT)


# ------------------------------------------------------------------------ the other import spellings
def test_keras_import_spellings():
    from chainrule import keras
    from chainrule.keras import layers
    from chainrule.keras.layers import Dense
    from chainrule.keras.models import Sequential
    import chainrule.keras.datasets.mnist as mnist_module
    import chainrule.keras.optimizers.schedules as schedules

    assert keras is cr.keras and layers is cr.layers and Dense is cr.layers.Dense and Sequential is cr.Sequential
    assert mnist_module is cr.datasets.mnist and schedules is cr.optimizers.schedules
    for name in ("layers", "models", "optimizers", "losses", "metrics", "callbacks", "datasets", "regularizers",
                 "initializers", "activations", "utils"):
        assert getattr(keras, name) is getattr(cr, name), name
    assert keras.Sequential is cr.Sequential and keras.Model is cr.Model and keras.Input is cr.layers.Input
    assert keras.utils.to_categorical is cr.utils.to_categorical
    assert keras.backend.floatx() == "float32" and keras.backend.epsilon() == 1e-7
    assert keras.backend.image_data_format() == "channels_last"


def test_keras_backend_clear_session_restarts_layer_names():
    cr.keras.backend.clear_session()
    assert cr.layers.Dense(2).name == "dense"
    assert cr.layers.Dense(2).name == "dense_1"
    cr.keras.backend.clear_session()
    assert cr.layers.Dense(2).name == "dense"


def test_library_import_paths():
    from chainrule.datasets import mnist
    import chainrule.datasets.fashion_mnist
    from chainrule.layers import Dense
    from chainrule.models import Sequential
    from chainrule.optimizers import Adam
    from chainrule.utils import to_categorical

    assert mnist is cr.data.datasets.mnist and chainrule.datasets.fashion_mnist is cr.data.datasets.fashion_mnist
    assert (Dense, Sequential, Adam, to_categorical) == (cr.layers.Dense, cr.Sequential, cr.optimizers.Adam,
                                                          cr.utils.to_categorical)


def test_chainrule_random_leaves_stdlib_random_alone():
    import random

    assert random.__name__ == "random" and hasattr(random, "getrandbits")
    assert cr.random.__name__ == "chainrule.random"


def test_layers_added_later_appear_under_keras(monkeypatch):
    class Twice(cr.layers.Layer):
        def call(self, x):
            return x * 2

    monkeypatch.setattr(cr.layers, "Twice", Twice, raising=False)
    import chainrule as tf

    assert tf.keras.layers.Twice is Twice


# ----------------------------------------------------------------------------------- NumPy blocks
NUMPY_NEURON = """
import numpy as np

def sigmoid(x):
    return 1 / (1 + np.exp(-x))

inputs = np.array([0.5, -1.2, 3.0])
weights = np.random.randn(3)
bias = np.random.randn()

output = sigmoid(np.dot(inputs, weights) + bias)
print(output)
"""

NUMPY_ACTIVATIONS_AND_LOSSES = """
import numpy as np

def relu(x):
    return np.maximum(0, x)

def softmax(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)

def mse(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2)

def cross_entropy(y_true, y_pred):
    return -np.mean(np.sum(y_true * np.log(y_pred), axis=1))

z = np.random.randn(4, 3)
y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
probs = softmax(z)
print(relu(z), mse(y_true, probs), cross_entropy(y_true, probs))
"""

NUMPY_GRADIENT_DESCENT = """
import numpy as np

np.random.seed(42)
X = 2 * np.random.rand(100, 1)
y = 4 + 3 * X + np.random.randn(100, 1)

w = np.random.randn(1, 1)
b = np.zeros((1, 1))
learning_rate = 0.1

for iteration in range(200):
    y_pred = np.dot(X, w) + b
    error = y_pred - y
    dw = 2 / len(X) * np.dot(X.T, error)
    db = 2 * np.mean(error)
    w = w - learning_rate * dw
    b = b - learning_rate * db

print(w, b)
"""

NUMPY_BACKPROP = """
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

np.random.seed(0)
X = np.random.randn(200, 2)
y = (X[:, 0] * X[:, 1] > 0).astype(float).reshape(-1, 1)

W1 = np.random.randn(2, 8) * 0.5
b1 = np.zeros((1, 8))
W2 = np.random.randn(8, 1) * 0.5
b2 = np.zeros((1, 1))
lr = 0.5

for epoch in range(50):
    z1 = np.dot(X, W1) + b1
    a1 = np.maximum(0, z1)
    z2 = np.dot(a1, W2) + b2
    a2 = sigmoid(z2)
    loss = -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))

    dz2 = (a2 - y) / len(X)
    dW2 = np.dot(a1.T, dz2)
    db2 = np.sum(dz2, axis=0, keepdims=True)
    da1 = np.dot(dz2, W2.T)
    dz1 = da1 * (z1 > 0)
    dW1 = np.dot(X.T, dz1)
    db1 = np.sum(dz1, axis=0, keepdims=True)

    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2

print('loss:', loss)
"""

NUMPY_REGULARIZATION = """
import numpy as np

W = np.random.randn(20, 10)
a = np.maximum(0, np.random.randn(32, 20))

lambda_ = 0.01
l2_penalty = lambda_ * np.sum(W ** 2)
l1_penalty = lambda_ * np.sum(np.abs(W))

keep_prob = 0.8
mask = np.random.rand(*a.shape) < keep_prob
a_dropped = a * mask / keep_prob
out = np.dot(a_dropped, W)
"""


def _close(a, b, tol=1e-5):
    numpy.testing.assert_allclose(numpy.asarray(a.numpy() if isinstance(a, cr.Tensor) else a, dtype=float),
                                  numpy.asarray(b.numpy() if isinstance(b, cr.Tensor) else b, dtype=float),
                                  rtol=tol, atol=tol)


def test_neuron_block_then_backward(capsys):
    ns = _run(_port(NUMPY_NEURON, NP_IMPORT))
    assert isinstance(ns["output"], cr.Tensor) and ns["output"].shape == ()
    assert "tensor(" in capsys.readouterr().out
    # The same formula, differentiable: d sigmoid(x.w + b)/dw = a (1 - a) x.
    w = ns["weights"].requires_grad_()
    a = ns["sigmoid"](cr.dot(ns["inputs"], w) + ns["bias"])
    a.backward()
    _close(w.grad, a.item() * (1 - a.item()) * ns["inputs"].numpy())


def test_activation_and_loss_block_then_backward():
    ns = _run(_port(NUMPY_ACTIVATIONS_AND_LOSSES, NP_IMPORT))
    probs = ns["probs"]
    _close(probs.sum(axis=1), numpy.ones(4))
    z = ns["z"].requires_grad_()
    loss = ns["cross_entropy"](ns["y_true"], ns["softmax"](z))
    loss.backward()
    # d CE / dz = (softmax(z) - y) / N for one-hot y.
    _close(z.grad, (probs.numpy() - ns["y_true"].numpy()) / 4)


def test_gradient_descent_block_then_backward():
    ns = _run(_port(NUMPY_GRADIENT_DESCENT, NP_IMPORT))
    X, y = ns["X"].numpy().astype(float), ns["y"].numpy().astype(float)
    A = numpy.hstack([X, numpy.ones_like(X)])
    (w_ls, b_ls), *_ = numpy.linalg.lstsq(A, y[:, 0], rcond=None)
    _close(ns["w"].item(), w_ls, tol=0.05)
    _close(ns["b"].item(), b_ls, tol=0.05)
    # backward() gives the gradient the loop writes by hand: dL/dw = 2/N X^T (Xw + b - y).
    w, b = ns["w"].detach().requires_grad_(), ns["b"].detach().requires_grad_()
    loss = cr.mean((cr.dot(ns["X"], w) + b - ns["y"]) ** 2)
    loss.backward()
    error = ns["X"].numpy() @ w.numpy() + b.numpy() - ns["y"].numpy()
    _close(w.grad, 2 / 100 * ns["X"].numpy().T @ error, tol=1e-4)
    _close(b.grad, [[2 * error.mean()]], tol=1e-4)


def test_backprop_block_then_backward():
    ns = _run(_port(NUMPY_BACKPROP, NP_IMPORT))
    assert float(ns["loss"].item()) < 0.69       # below chance: the loop learned something
    # Run the forward pass once more on leaves that require grad: backward() reproduces the
    # hand-derived dW1, db1, dW2, db2 of the block's last iteration.
    params = {k: ns[k].detach().requires_grad_() for k in ("W1", "b1", "W2", "b2")}
    X, y, sigmoid = ns["X"], ns["y"], ns["sigmoid"]
    z1 = cr.dot(X, params["W1"]) + params["b1"]
    a1 = cr.maximum(0, z1)
    a2 = sigmoid(cr.dot(a1, params["W2"]) + params["b2"])
    loss = -cr.mean(y * cr.log(a2) + (1 - y) * cr.log(1 - a2))
    loss.backward()
    dz2 = (a2.numpy() - y.numpy()) / 200
    dW2 = a1.numpy().T @ dz2
    dz1 = (dz2 @ params["W2"].numpy().T) * (z1.numpy() > 0)
    _close(params["W2"].grad, dW2)
    _close(params["b2"].grad, dz2.sum(axis=0, keepdims=True))
    _close(params["W1"].grad, X.numpy().T @ dz1)
    _close(params["b1"].grad, dz1.sum(axis=0, keepdims=True))


def test_regularization_block_then_backward():
    cr.manual_seed(0)
    ns = _run(_port(NUMPY_REGULARIZATION, NP_IMPORT))
    mask = ns["mask"].numpy()
    assert mask.dtype == bool and 0.6 < mask.mean() < 0.95
    W = ns["W"].requires_grad_()
    (ns["lambda_"] * cr.sum(W ** 2) + ns["lambda_"] * cr.sum(cr.abs(W))).backward()
    _close(W.grad, 0.01 * (2 * W.numpy() + numpy.sign(W.numpy())))
