"""A custom layer, written as in Keras: build, add_weight, call, get_config; trained, saved, loaded.

The layer is a gated linear unit (Dauphin et al., 2017): two Dense-like maps of the same
input, one passed through a sigmoid and used as a gate on the other,

    y = (x W + b) * sigmoid(x V + c)          W, V: (in, units),  b, c: (units,)

so every output unit decides, from the input, how much of its linear value to let through.
Its gradients come from the chain rule through the product and the sigmoid,

    dL/dW = x^T (g * s),   dL/dV = x^T (g * a * s (1 - s)),   with a = x W + b, s = sigmoid(x V + c),
    g = dL/dy,

and nothing here writes them: ``backward()`` derives them from the ops used in ``call``.

The script trains ``Input(784) -> GatedDense(128) -> Dense(10, softmax)`` on MNIST, saves it,
loads it back with ``custom_objects={"GatedDense": GatedDense}``, and checks that the loaded
model predicts exactly what the trained one does. The guide is docs/custom_layers.md.

Run:  python examples/custom_layer.py [--quick] [--epochs N] [--seed N] [--batch-size N]
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

import chainrule as cr

from _common import epochs_for, first, make_parser, report, train_and_evaluate


class GatedDense(cr.layers.Layer):
    """y = (x W + b) * sigmoid(x V + c): a linear map gated, unit by unit, by a second one."""

    def __init__(self, units, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)            # name, trainable, dtype, input_shape, ...
        self.units = int(units)
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape):
        # Called once, at the first call (or when a Sequential with a declared input is made),
        # with the input's shape: the weights' sizes depend on it.
        n_in = input_shape[-1]
        self.kernel = self.add_weight(shape=(n_in, self.units), initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.gate_kernel = self.add_weight(shape=(n_in, self.units), initializer=self.kernel_initializer,
                                           name="gate_kernel")
        self.gate_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="gate_bias")

    def call(self, inputs):
        linear = inputs @ self.kernel + self.bias
        gate = cr.sigmoid(inputs @ self.gate_kernel + self.gate_bias)
        return linear * gate

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        # The constructor's arguments: load_model calls GatedDense(**config).
        config = super().get_config()
        config.update(units=self.units, kernel_initializer=self.kernel_initializer)
        return config


def build_model(units: int = 128) -> cr.Sequential:
    return cr.Sequential([
        cr.layers.Input(shape=(784,)),
        GatedDense(units),
        cr.layers.Dense(10, activation="softmax"),
    ])


def save_and_load(model, x):
    """Save ``model``, load it with custom_objects, return the loaded model and the largest difference of
    their predictions on ``x``."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "gated.safetensors")
        model.save(path)
        loaded = cr.models.load_model(path, custom_objects={"GatedDense": GatedDense})
    difference = float(np.max(np.abs(loaded.predict(x, verbose=0) - model.predict(x, verbose=0))))
    return loaded, difference


def main(argv=None) -> None:
    parser = make_parser("A custom layer (a gated linear unit) trained on MNIST, saved and loaded.",
                         quick_help="smoke test: 2000 training images, 1 epoch", epochs=3, batch_size=32)
    args = parser.parse_args(argv)
    epochs = epochs_for(args, 3)
    cr.manual_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = cr.datasets.mnist.load_data()
    x_train = (x_train.reshape(-1, 784) / 255.0).astype(np.float32)
    x_test = (x_test.reshape(-1, 784) / 255.0).astype(np.float32)
    data = ((x_train, y_train), (x_test, y_test))
    if args.quick:
        data = first(data, 2000, 1000)
    print(f"data: {len(data[0][0])} training and {len(data[1][0])} test images, flattened to 784")

    model = build_model()
    loss, acc, seconds = train_and_evaluate(model, data, epochs=epochs, batch_size=args.batch_size)

    loaded, difference = save_and_load(model, data[1][0][:256])
    print(f"saved and loaded with custom_objects: layers {[type(l).__name__ for l in loaded.layers]}, "
          f"largest difference of the predictions: {difference:.1e}")
    assert difference == 0.0, "the loaded model must predict exactly what the trained one does"
    report(acc, seconds, loss=loss)


if __name__ == "__main__":
    main()
