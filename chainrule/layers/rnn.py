"""``RNN(cell)``: run a recurrent cell over the time axis (Keras's RNN layer).

Inputs (batch, timesteps, features). At each step the cell maps (x_t, states) to
(output_t, new states); the layer returns the last output, or all of them with
``return_sequences=True`` (batch, timesteps, output_size), followed by the final states
with ``return_state=True``. ``go_backwards`` reads the sequence from its end (the output
sequence is then in that reversed processing order, as Keras returns it). ``stateful``
keeps the final states of one call as the initial states of the next (``reset_states()``
sets them back to zero); ``initial_state=`` at call sets them explicitly.

Masks (boolean (batch, timesteps), True = a real step, from ``Embedding(mask_zero=True)``,
``Masking`` or ``mask=``): at a masked step the states are carried through unchanged and
the output is the previous output (zeros with ``zero_output_for_mask=True``), so the final
state of a right-padded sequence equals that of the sequence run alone.

A cell may be a built-in cell, a list of cells (stacked, as ``StackedRNNCells``), or a
user's own layer with ``state_size`` and ``call(inputs, states, training)`` written with
chainrule ops: its steps are recorded as ordinary ops and differentiated by the engine.
"""
from __future__ import annotations

from .. import backend
from ..autograd.tensor import Tensor
from ..ops import elementwise as ew
from ..ops.creation import zeros_like
from ..ops.indexing import stack
from .base import Layer
from .core import _as_float
from .rnn_cells import StackedRNNCells, _first


def _flat(states):
    out = []
    for s in states:
        if isinstance(s, (list, tuple)):
            out.extend(_flat(s))
        else:
            out.append(s)
    return out


def _pack(flat, like):
    """``flat`` in the nesting of ``like`` (a list of tensors or of lists of tensors)."""
    it = iter(flat)

    def rebuild(x):
        if isinstance(x, (list, tuple)):
            return [rebuild(v) for v in x]
        return next(it)

    return rebuild(list(like))


def check_mask(layer_name, mask, batch, timesteps):
    """The mask as a boolean array (batch, timesteps), or a ValueError naming the layer."""
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else mask
    m = backend.xp.asarray(m)
    if m.shape != (batch, timesteps):
        raise ValueError(
            f"{layer_name}: mask of shape {tuple(m.shape)} does not match the inputs' (batch, timesteps) = "
            f"{(batch, timesteps)}")
    return m.astype(bool, copy=False)


class RNN(Layer):
    """Keras's ``RNN(cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
    unroll=False, zero_output_for_mask=False)``."""

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "state_size") or not callable(getattr(cell, "call", None)):
            raise ValueError(f"{type(self).__name__}: the cell {cell!r} needs a call(inputs, states) method "
                             "and a state_size attribute")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras compatibility; the loop is the same either way
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states = None  # stateful: the arrays carried from one call to the next
        self.input_dim = None

    # ------------------------------------------------------------------ shapes
    def _state_sizes(self):
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    def _output_size(self):
        return getattr(self.cell, "output_size", None) or _first(self._state_sizes()[0])

    def _check_rank(self, shape):
        if len(shape) != 3:
            raise ValueError(f"{self.name}: expects inputs of rank 3 (batch, timesteps, features), "
                             f"got shape {tuple(shape)}")

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.input_dim = input_shape[-1]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((input_shape[0], input_shape[-1]))
            self.cell.built = True
        self.built = True

    def compute_output_shape(self, input_shape, initial_state_shape=None):
        self._check_rank(input_shape)
        batch, steps = input_shape[0], input_shape[1]
        u = self._output_size()
        out = (batch, steps, u) if self.return_sequences else (batch, u)
        if not self.return_state:
            return out
        return [out] + [(batch, _first(s)) for s in _flat(self._state_sizes())]

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(_flat(self._state_sizes()))
        return out_mask

    # ------------------------------------------------------------------ states
    def get_initial_state(self, batch_size):
        dtype = self.cell.kernel.dtype if getattr(self.cell, "kernel", None) is not None else backend.floatx()
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            return fn(batch_size)
        if isinstance(self.cell, StackedRNNCells):
            return [c.get_initial_state(batch_size) if hasattr(c, "get_initial_state")
                    else [Tensor._wrap(backend.xp.zeros((batch_size, _first(s)), dtype=dtype))
                          for s in (c.state_size if isinstance(c.state_size, (list, tuple)) else [c.state_size])]
                    for c in self.cell.cells]
        return [Tensor._wrap(backend.xp.zeros((batch_size, _first(s)), dtype=dtype)) for s in self._state_sizes()]

    def reset_states(self, states=None):
        """Stateful layers: set the carried states back to zero (or to ``states``, a list of arrays)."""
        if self.states is None:
            return
        if states is None:
            for s in self.states:
                s[...] = 0
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(self.states):
            raise ValueError(f"{self.name}: reset_states expects {len(self.states)} arrays, got {len(states)}")
        for s, v in zip(self.states, states):
            v = backend.xp.asarray(v.data if isinstance(v, Tensor) else v)
            if v.shape != s.shape:
                raise ValueError(f"{self.name}: reset_states got a state of shape {v.shape}, expected {s.shape}")
            s[...] = v

    reset_state = reset_states

    def _initial_states(self, x, initial_state):
        batch = x.shape[0]
        template = self.get_initial_state(batch)
        if initial_state is not None:
            given = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            given = [_as_float(self, s if isinstance(s, Tensor) else Tensor(s), x.dtype) for s in _flat(given)]
            want = _flat(template)
            if len(given) != len(want):
                raise ValueError(f"{self.name}: initial_state needs {len(want)} tensors, got {len(given)}")
            for g, w in zip(given, want):
                if g.shape != w.shape:
                    raise ValueError(f"{self.name}: initial_state of shape {g.shape}, expected {w.shape}")
            return _pack(given, template)
        if self.stateful:
            if self.states is None:
                self.states = [t.data.copy() for t in _flat(template)]
            elif self.states[0].shape[0] != batch:
                raise ValueError(f"{self.name}: a stateful RNN was built for batch size {self.states[0].shape[0]}, "
                                 f"got inputs with batch size {batch}")
            return _pack([Tensor._wrap(s.copy()) for s in self.states], template)
        return template

    # ------------------------------------------------------------------ the loop
    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        self._check_rank(x.shape)
        if self.input_dim is not None and x.shape[-1] != self.input_dim:
            raise ValueError(f"{self.name}: was built for {self.input_dim} features per step, "
                             f"got inputs of shape {tuple(x.shape)}")
        dtype = self.cell.kernel.dtype if getattr(self.cell, "kernel", None) is not None else None
        if dtype is not None:
            x = _as_float(self, x, dtype)
        batch, steps = x.shape[0], x.shape[1]
        mask = check_mask(self.name, mask, batch, steps)
        states = self._initial_states(x, initial_state)
        fused = self._fused_call(x, states, mask, training)
        if fused is not None:
            seq, last, final = fused
        else:
            seq, last, final = self._loop(x, states, mask, training)
        if self.stateful:
            self.states = [s.data.copy() for s in _flat(final)]
        out = seq if self.return_sequences else last
        if self.return_state:
            return [out, *_flat(final)]
        return out

    def _fused_call(self, x, states, mask, training):
        """Subclasses with a fused whole-sequence op return (sequence, last output, final states), else None."""
        return None

    def _loop(self, x, states, mask, training):
        cell = self.cell
        steps = x.shape[1]
        kwargs = {"training": training}
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        prev = _flat(states[-1])[0] if isinstance(cell, StackedRNNCells) else _flat(states)[0]
        outputs = []
        try:
            for t in order:
                out, new = cell.call(x[:, t], states, **kwargs)
                new = list(new) if isinstance(new, (list, tuple)) else [new]
                if mask is not None:
                    m = Tensor._wrap(mask[:, t:t + 1])
                    out = ew.where(m, out, zeros_like(out) if self.zero_output_for_mask else prev)
                    new = _pack([ew.where(m, n, s) for n, s in zip(_flat(new), _flat(states))], states)
                states = new
                prev = out
                if self.return_sequences:
                    outputs.append(out)
        finally:
            for c in ([cell] + list(getattr(cell, "cells", []))):
                if hasattr(c, "reset_dropout_mask"):
                    c.reset_dropout_mask()
                    c.reset_recurrent_dropout_mask()
        seq = stack(outputs, axis=1) if self.return_sequences else None
        return seq, prev, states

    # ------------------------------------------------------------------ config
    def get_config(self):
        cfg = super().get_config()
        cfg.update(return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
                   zero_output_for_mask=self.zero_output_for_mask)
        if type(self) is RNN:
            from .serialization import serialize_layer  # the cell is a layer, saved by class name

            cfg["cell"] = serialize_layer(self.cell)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if cls is RNN:
            from .serialization import deserialize_layer

            config["cell"] = deserialize_layer(config["cell"], custom_objects)
        return cls(**config)
