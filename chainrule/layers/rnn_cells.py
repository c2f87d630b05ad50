"""Recurrent cells: one timestep of SimpleRNN, LSTM and GRU (Keras's cells), and stacked cells.

A cell is a layer with ``state_size`` (an int, or a list of ints, one per state tensor),
``output_size``, and ``call(inputs, states, training) -> (output, new_states)`` for one step:
inputs (batch, features), states a list of (batch, state_size) tensors. ``RNN(cell)`` runs it
over time. The cells here are written with differentiable Tensor ops, one step at a time;
``SimpleRNN``/``LSTM``/``GRU`` run the same math through the fused whole-sequence Functions
of ``ops/recurrent.py`` when they can (the cells are their reference).

Weights (Keras's layouts): kernel (input_dim, G*units), recurrent_kernel (units, G*units),
bias (G*units,) -- G = 1 (SimpleRNN), 4 (LSTM, gate blocks i, f, c, o), 3 (GRU, blocks z, r, h;
bias (2, 3*units) with reset_after=True: input bias, recurrent bias).

Dropout (Keras's semantics): ``dropout`` on the inputs and ``recurrent_dropout`` on h_{t-1},
training only, with masks drawn once per sequence (the same mask at every step) and scaled by
1/(1 - rate). With ``recurrent_dropout`` the LSTM (GRU) draws 4 (3) separate masks, one per
gate, as Keras's ``implementation=1``.
"""
from __future__ import annotations

from .. import backend
from ..autograd.tensor import Tensor
from ..ops import recurrent as rec_ops
from ..ops.linalg import matmul
from .base import Layer
from .core import _activations, ignored_constraint, positive_int, serialize_or_keep


def _rate(layer, name, value) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{layer}: {name} must be in [0, 1], got {value}")
    return value


class DropoutRNNCell:
    """Dropout masks drawn once per sequence and reused at every step (Keras's DropoutRNNCell)."""

    dropout_mask_count = None
    _dropout_mask = None
    _recurrent_dropout_mask = None

    def _draw(self, shape, rate, dtype):
        def one():
            keep = backend.rng().random(shape) >= rate
            return Tensor._wrap((keep / (1.0 - rate)).astype(dtype))

        return one() if self.dropout_mask_count is None else [one() for _ in range(self.dropout_mask_count)]

    def get_dropout_mask(self, step_input: Tensor):
        if self._dropout_mask is None and 0.0 < self.dropout < 1.0:
            self._dropout_mask = self._draw(step_input.shape, self.dropout, step_input.dtype)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state: Tensor):
        if self._recurrent_dropout_mask is None and 0.0 < self.recurrent_dropout < 1.0:
            self._recurrent_dropout_mask = self._draw(state.shape, self.recurrent_dropout, state.dtype)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None


class _Cell(DropoutRNNCell, Layer):
    """What the three cells share: arguments, weights, config."""

    gates = 1
    _defaults = dict(activation="tanh")

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        from .. import initializers, regularizers

        kind = type(self).__name__
        self.units = positive_int(kind, "units", units)
        self.activation = _activations().get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        for name, value in (("kernel_constraint", kernel_constraint), ("recurrent_constraint", recurrent_constraint),
                            ("bias_constraint", bias_constraint)):
            ignored_constraint(kind, name, value)
        self.dropout = _rate(kind, "dropout", dropout)
        self.recurrent_dropout = _rate(kind, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.input_dim = None
        self.kernel = self.recurrent_kernel = self.bias = None

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        self.input_dim = int(input_shape[-1])
        n = self.gates * self.units
        self.kernel = self.add_weight("kernel", (self.input_dim, n), self.kernel_initializer, self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, n), self.recurrent_initializer,
                                                self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_initializer(), self.bias_regularizer)
        self.built = True

    def bias_or_zeros(self) -> Tensor:
        """The bias, or a constant zero array when ``use_bias=False`` (the fused ops always take one)."""
        if self.bias is not None:
            return self.bias
        return Tensor._wrap(backend.xp.zeros(self._bias_shape(), dtype=self.kernel.dtype))

    def get_initial_state(self, batch_size):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        dtype = self.kernel.dtype if self.kernel is not None else backend.floatx()
        return [Tensor._wrap(backend.xp.zeros((batch_size, s), dtype=dtype)) for s in sizes]

    def activation_name(self, fn):
        """The fused op's name for an activation function, or None when it has no fused form."""
        acts = _activations()
        for name in rec_ops.ACTIVATIONS:
            if acts.get(name) is fn:
                return name
        return None

    def _inputs(self, inputs, training):
        """Per-gate inputs after dropout (one shared tensor, or one per gate)."""
        mask = self.get_dropout_mask(inputs) if training else None
        if mask is None:
            return [inputs] * self.gates
        if isinstance(mask, list):
            return [inputs * m for m in mask]
        return [inputs * mask] * self.gates

    def _recurrent(self, h, training):
        mask = self.get_recurrent_dropout_mask(h) if training else None
        if mask is None:
            return [h] * self.gates
        return [h * m for m in mask] if isinstance(mask, list) else [h * mask] * self.gates

    def get_config(self):
        from .. import initializers, regularizers

        cfg = super().get_config()
        cfg.update(
            units=self.units,
            activation=serialize_or_keep(self.activation, _activations()),
            use_bias=self.use_bias,
            kernel_initializer=serialize_or_keep(self.kernel_initializer, initializers),
            recurrent_initializer=serialize_or_keep(self.recurrent_initializer, initializers),
            bias_initializer=serialize_or_keep(self.bias_initializer, initializers),
            kernel_regularizer=serialize_or_keep(self.kernel_regularizer, regularizers),
            recurrent_regularizer=serialize_or_keep(self.recurrent_regularizer, regularizers),
            bias_regularizer=serialize_or_keep(self.bias_regularizer, regularizers),
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            seed=self.seed,
        )
        return cfg


class SimpleRNNCell(_Cell):
    """h_t = activation(x_t W + h_{t-1} U + b); output = h_t (Keras's SimpleRNNCell)."""

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        (x,) = self._inputs(inputs, training)[:1]
        (hr,) = self._recurrent(h, training)[:1]
        z = matmul(x, self.kernel) + matmul(hr, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        out = self.activation(z)
        return out, [out]


class LSTMCell(_Cell):
    """One LSTM step (Keras's LSTMCell; gate blocks i, f, c, o in the kernels and bias):

        i = s(x W_i + h U_i + b_i),  f = s(x W_f + h U_f + b_f),  o = s(x W_o + h U_o + b_o)
        c_t = f * c_{t-1} + i * a(x W_c + h U_c + b_c),   h_t = o * a(c_t)

    with a = ``activation`` (tanh) and s = ``recurrent_activation`` (sigmoid). States [h, c].
    ``unit_forget_bias=True`` starts the forget-gate bias at 1 (Jozefowicz et al., 2015).
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 unit_forget_bias=True, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = _activations().get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        if self.recurrent_dropout > 0:
            self.dropout_mask_count = 4  # Keras's implementation=1: one mask per gate

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, u = self.bias_initializer, self.units

        def init(shape, dtype=None):
            xp = backend.xp
            return xp.concatenate([xp.asarray(base((u,), dtype=dtype)), xp.ones(u, dtype=dtype),
                                   xp.asarray(base((2 * u,), dtype=dtype))])

        return init

    def call(self, inputs, states, training=False):
        h, c = states
        u = self.units
        xs = self._inputs(inputs, training)
        hs = self._recurrent(h, training)
        if xs[0] is xs[3] and hs[0] is hs[3]:  # no per-gate masks: one product each
            z = matmul(xs[0], self.kernel) + matmul(hs[0], self.recurrent_kernel)
            parts = [z[:, k * u:(k + 1) * u] for k in range(4)]
        else:
            parts = [matmul(xs[k], self.kernel[:, k * u:(k + 1) * u])
                     + matmul(hs[k], self.recurrent_kernel[:, k * u:(k + 1) * u]) for k in range(4)]
        if self.bias is not None:
            parts = [p + self.bias[k * u:(k + 1) * u] for k, p in enumerate(parts)]
        i = self.recurrent_activation(parts[0])
        f = self.recurrent_activation(parts[1])
        c_new = f * c + i * self.activation(parts[2])
        o = self.recurrent_activation(parts[3])
        h_new = o * self.activation(c_new)
        return h_new, [h_new, c_new]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(recurrent_activation=serialize_or_keep(self.recurrent_activation, _activations()),
                   unit_forget_bias=self.unit_forget_bias)
        return cfg


class GRUCell(_Cell):
    """One GRU step (Keras's GRUCell; blocks z, r, h):

        z = s(x W_z + h U_z + b_z),  r = s(x W_r + h U_r + b_r)
        reset_after=True:  hh = a(x W_h + b_h + r * (h U_h + b'_h))      (PyTorch's formula)
        reset_after=False: hh = a(x W_h + (r * h) U_h + b_h)
        h_t = z * h_{t-1} + (1 - z) * hh
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True,
                 **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = _activations().get(recurrent_activation)
        self.reset_after = bool(reset_after)
        if self.recurrent_dropout > 0:
            self.dropout_mask_count = 3

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        xs = self._inputs(inputs, training)
        hs = self._recurrent(h, training)
        b_in = b_rec = None
        if self.bias is not None:
            b_in, b_rec = (self.bias[0], self.bias[1]) if self.reset_after else (self.bias, None)
        x_parts = [matmul(xs[k], self.kernel[:, k * u:(k + 1) * u]) for k in range(3)]
        if b_in is not None:
            x_parts = [p + b_in[k * u:(k + 1) * u] for k, p in enumerate(x_parts)]
        rk = [self.recurrent_kernel[:, k * u:(k + 1) * u] for k in range(3)]
        q_z, q_r = matmul(hs[0], rk[0]), matmul(hs[1], rk[1])
        if b_rec is not None:
            q_z, q_r = q_z + b_rec[:u], q_r + b_rec[u:2 * u]
        z = self.recurrent_activation(x_parts[0] + q_z)
        r = self.recurrent_activation(x_parts[1] + q_r)
        if self.reset_after:
            q_h = matmul(hs[2], rk[2])
            if b_rec is not None:
                q_h = q_h + b_rec[2 * u:]
            hh = self.activation(x_parts[2] + r * q_h)
        else:
            hh = self.activation(x_parts[2] + matmul(r * hs[2], rk[2]))
        h_new = z * h + (1 - z) * hh
        return h_new, [h_new]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(recurrent_activation=serialize_or_keep(self.recurrent_activation, _activations()),
                   reset_after=self.reset_after)
        return cfg


class StackedRNNCells(Layer):
    """Several cells run as one: the output of each is the input of the next (Keras's StackedRNNCells).

    Its state is the list of the cells' states, in order.
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells: needs at least one cell")
        for c in cells:
            if not hasattr(c, "state_size") or not callable(getattr(c, "call", None)):
                raise ValueError(f"StackedRNNCells: {c!r} is not an RNN cell (it needs call() and state_size)")
        self.cells = cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        return getattr(last, "output_size", None) or _first(last.state_size)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for c in self.cells:
            if isinstance(c, Layer) and not c.built:
                c.build(shape)
                c.built = True
            shape = (shape[0], getattr(c, "output_size", None) or _first(c.state_size))
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        x = inputs
        for c, s in zip(self.cells, states):
            s = list(s) if isinstance(s, (list, tuple)) else [s]
            x, ns = c.call(x, s, training=training)
            new_states.append(list(ns) if isinstance(ns, (list, tuple)) else [ns])
        return x, new_states

    def get_config(self):
        from .serialization import serialize_layer  # the cells are layers saved by class name

        cfg = super().get_config()
        cfg["cells"] = [serialize_layer(c) for c in self.cells]
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .serialization import deserialize_layer

        config = dict(config)
        config["cells"] = [deserialize_layer(c, custom_objects) for c in config["cells"]]
        return cls(**config)


def _first(size):
    return size[0] if isinstance(size, (list, tuple)) else size
