"""SimpleRNN, LSTM and GRU layers (Keras 3's names, arguments, defaults and weight layouts).

Each is ``RNN(cell)`` with its cell built from the same arguments, and runs the whole
sequence through one fused Function (``ops/recurrent.py``, ``ops/lstm.py``, ``ops/gru.py``:
one input product for all steps, the recurrence on arrays, a hand-written backward through
time) whenever it can: activations with a fused form (tanh, sigmoid, relu, linear,
hard_sigmoid) and no recurrent dropout while training. Otherwise it steps the cell with
recorded ops (the same numbers, slower).

Weights, ``layer.weights`` = [kernel, recurrent_kernel, bias]:

========  ===================  =======================  ======================================
layer     kernel               recurrent_kernel         bias
========  ===================  =======================  ======================================
SimpleRNN (input_dim, units)   (units, units)           (units,)
LSTM      (input_dim, 4 units) (units, 4 units)         (4 units,)         blocks i, f, c, o
GRU       (input_dim, 3 units) (units, 3 units)         (2, 3 units) reset_after, else (3 units,)
========  ===================  =======================  ======================================

To and from PyTorch (``torch.nn.LSTM``/``GRU``/``RNN``, batch_first): weight_ih_l0 = kernel.T,
weight_hh_l0 = recurrent_kernel.T; LSTM: bias_ih_l0 + bias_hh_l0 = bias (same gate order
i, f, g, o); GRU (reset_after=True): PyTorch's gate order is r, z, n, so the blocks are
swapped: weight_ih = [W_r; W_z; W_h] with W_z = kernel[:, :u].T ..., bias_ih = bias[0] and
bias_hh = bias[1] in that order too.
"""
from __future__ import annotations

from ..autograd.tensor import Tensor
from ..ops.gru import GRUSequence
from ..ops.lstm import LSTMSequence
from ..ops.recurrent import SimpleRNNSequence
from .core import positive_int
from .rnn import RNN, _flat
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell

_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask")
_BASE_ARGS = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape", "activity_regularizer")


def _split_kwargs(kwargs):
    """The RNN/Layer arguments, and the rest (for the cell)."""
    layer = {k: kwargs.pop(k) for k in list(kwargs) if k in _RNN_ARGS or k in _BASE_ARGS}
    kwargs.pop("use_cudnn", None)  # Keras 3 accepts it; there is no cuDNN here
    return layer, kwargs


class _FusedRNN(RNN):
    """What SimpleRNN, LSTM and GRU share: the cell from the arguments, the fused path, the config."""

    cell_class = None
    op = None

    def __init__(self, units, **kwargs):
        units = positive_int(type(self).__name__, "units", units)
        layer_kwargs, cell_kwargs = _split_kwargs(dict(kwargs))
        dtype = layer_kwargs.get("dtype")
        cell_name = type(self).__name__.lower().replace("simplernn", "simple_rnn") + "_cell"
        cell = self.cell_class(units, name=cell_name, dtype=dtype, **cell_kwargs)
        super().__init__(cell, **layer_kwargs)

    @property
    def units(self):
        return self.cell.units

    def __getattr__(self, name):
        # Keras exposes the cell's arguments and weights on the layer (layer.kernel, layer.dropout, ...)
        cell = self.__dict__.get("cell")
        if cell is not None and name in ("kernel", "recurrent_kernel", "bias", "activation", "recurrent_activation",
                                         "use_bias", "dropout", "recurrent_dropout", "unit_forget_bias",
                                         "reset_after", "kernel_initializer", "recurrent_initializer",
                                         "bias_initializer"):
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _activation_names(self):
        cell = self.cell
        names = [cell.activation_name(cell.activation)]
        if hasattr(cell, "recurrent_activation"):
            names.append(cell.activation_name(cell.recurrent_activation))
        return names

    def _fused_call(self, x, states, mask, training):
        cell = self.cell
        names = self._activation_names()
        if any(n is None for n in names):
            return None
        if training and cell.recurrent_dropout > 0:
            return None  # Keras's per-gate recurrent masks: step the cell
        if training and 0 < cell.dropout < 1:
            # one mask per sequence, the same at every step (Keras): applied to all steps at once
            dp = cell.get_dropout_mask(x[:, 0])
            cell.reset_dropout_mask()
            x = x * Tensor._wrap(dp.data[:, None, :])
        params = dict(mask=mask, go_backwards=self.go_backwards, zero_output_for_mask=self.zero_output_for_mask,
                      **self._op_params(names))
        outs = self.op.apply(x, cell.kernel, cell.recurrent_kernel, cell.bias_or_zeros(), *_flat(states), **params)
        seq, final = outs[0], list(outs[1:])
        if self.return_sequences or (mask is not None and self.zero_output_for_mask):
            last = seq[:, -1]
        else:
            last = final[0]  # the output at the last step is the final h
        return seq, last, final

    def _op_params(self, names):
        return dict(activation=names[0])

    def get_config(self):
        cfg = super().get_config()
        cell_cfg = self.cell.get_config()
        for k in ("name", "trainable", "dtype"):
            cell_cfg.pop(k, None)
        cfg.update(cell_cfg)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**dict(config))


class SimpleRNN(_FusedRNN):
    """Keras's SimpleRNN: h_t = activation(x_t W + h_{t-1} U + b), activation tanh by default.

    ``SimpleRNN(units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
    recurrent_initializer="orthogonal", bias_initializer="zeros", ..., dropout=0.0,
    recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
    stateful=False)``. Parameters: (input_dim + units + 1) * units.
    """

    cell_class = SimpleRNNCell
    op = SimpleRNNSequence


class LSTM(_FusedRNN):
    """Keras's LSTM (see ``LSTMCell`` for the gates), activation tanh, recurrent_activation sigmoid.

    ``LSTM(units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
    kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
    unit_forget_bias=True, ..., dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
    return_state=False, go_backwards=False, stateful=False)``. States [h, c].
    Parameters: 4 * ((input_dim + units + 1) * units): LSTM(64) on 64 features has 33,024.
    """

    cell_class = LSTMCell
    op = LSTMSequence

    def _op_params(self, names):
        return dict(activation=names[0], recurrent_activation=names[1])


class GRU(_FusedRNN):
    """Keras's GRU (see ``GRUCell``): reset_after=True by default (Keras 3, PyTorch's formula).

    ``GRU(units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, ..., reset_after=True,
    dropout=0.0, recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
    stateful=False)``. Parameters: 3 * units * (input_dim + units + 2) with reset_after, else
    3 * units * (input_dim + units + 1).
    """

    cell_class = GRUCell
    op = GRUSequence

    def _op_params(self, names):
        return dict(activation=names[0], recurrent_activation=names[1], reset_after=self.cell.reset_after)
