"""Layer wrappers: ``Bidirectional`` (an RNN run both ways) and ``TimeDistributed`` (a layer at every step)."""
from __future__ import annotations

from ..ops.indexing import concatenate
from ..ops.shape import reshape
from .base import Layer
from .rnn import RNN, _flat

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _serialize(layer):
    from .serialization import serialize_layer  # wrapped layers are saved by class name, as in a model

    return serialize_layer(layer)


def _deserialize(entry, custom_objects=None):
    from .serialization import deserialize_layer

    return deserialize_layer(entry, custom_objects)


class Bidirectional(Layer):
    """Keras's ``Bidirectional(layer, merge_mode="concat", backward_layer=None)``.

    Runs a copy of ``layer`` forward in time and another (``go_backwards`` flipped) backward,
    turns the backward outputs back to the input's time order, and merges the two:
    ``concat`` on the last axis (2 units), ``sum``, ``mul``, ``ave``, or ``None`` (a list of both).
    Weights: the forward layer's, then the backward layer's. With ``return_state`` the outputs
    are [merged, *forward states, *backward states]. At masked steps both directions output
    zeros when returning sequences (Keras forces ``zero_output_for_mask`` there).
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional: layer must be a recurrent layer (RNN, LSTM, GRU, ...), got {layer!r}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: unknown merge_mode {merge_mode!r}; "
                             f"known: 'concat', 'sum', 'mul', 'ave', None")
        config = layer.get_config()
        config["name"] = "forward_" + layer.name
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = layer.get_config()
            config["name"] = "backward_" + layer.name
            config["go_backwards"] = not layer.go_backwards
            backward_layer = type(layer).from_config(config)
        elif backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("Bidirectional: backward_layer.go_backwards must be the opposite of layer.go_backwards")
        self.backward_layer = backward_layer
        for lyr in (self.forward_layer, self.backward_layer):
            lyr.zero_output_for_mask = lyr.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._initial_weights = weights

    def build(self, input_shape):
        self.forward_layer.build(input_shape)
        self.forward_layer.built = True
        self.backward_layer.build(input_shape)
        self.backward_layer.built = True
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _merge(self, y, y_rev):
        mode = self.merge_mode
        if mode == "concat":
            return concatenate([y, y_rev], axis=-1)
        if mode == "sum":
            return y + y_rev
        if mode == "ave":
            return (y + y_rev) * 0.5
        if mode == "mul":
            return y * y_rev
        return [y, y_rev]

    def call(self, inputs, initial_state=None, mask=None, training=False):
        fw_state = bw_state = None
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            fw_state, bw_state = states[:half], states[half:]
        y = self.forward_layer.call(inputs, initial_state=fw_state, mask=mask, training=training)
        y_rev = self.backward_layer.call(inputs, initial_state=bw_state, mask=mask, training=training)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]  # back to the input's time order
        out = self._merge(y, y_rev)
        if self.return_state:
            return (list(out) if self.merge_mode is None else [out]) + states
        return out

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], list(shape[1:])
            states = states + states
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] * 2,)
        out = [shape, shape] if self.merge_mode is None else [shape]
        if self.return_state:
            return out + states
        return out if self.merge_mode is None else shape

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        n_out = 2 if self.merge_mode is None else 1
        if self.return_state:
            n_states = 2 * len(_flat(self.forward_layer._state_sizes()))
            return [out_mask] * n_out + [None] * n_states
        return [out_mask] * 2 if self.merge_mode is None else out_mask

    def reset_states(self):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def get_config(self):
        cfg = super().get_config()
        cfg["layer"] = _serialize(self.forward_layer)
        cfg["layer"]["config"]["name"] = self.forward_layer.name[len("forward_"):]
        cfg["merge_mode"] = self.merge_mode
        cfg["backward_layer"] = _serialize(self.backward_layer)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = _deserialize(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deserialize(config["backward_layer"], custom_objects)
        return cls(**config)


class TimeDistributed(Layer):
    """Keras's ``TimeDistributed(layer)``: the same layer (the same weights) applied to every timestep.

    Inputs (batch, timesteps, ...): the batch and time axes are merged, ``layer`` runs on
    (batch * timesteps, ...), and the result is split back to (batch, timesteps, ...).
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expects a Layer, got {layer!r}")
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"{self.name}: expects inputs of rank >= 3 (batch, timesteps, ...), "
                             f"got shape {tuple(input_shape)}")
        self.built = True

    def call(self, inputs, training=False):
        if inputs.ndim < 3:
            raise ValueError(f"{self.name}: expects inputs of rank >= 3 (batch, timesteps, ...), "
                             f"got shape {tuple(inputs.shape)}")
        b, t = inputs.shape[:2]
        y = self.layer(reshape(inputs, (b * t,) + tuple(inputs.shape[2:])), training=training)
        return reshape(y, (b, t) + tuple(y.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def get_config(self):
        cfg = super().get_config()
        cfg["layer"] = _serialize(self.layer)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = _deserialize(config["layer"], custom_objects)
        return cls(**config)
