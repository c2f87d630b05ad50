"""``Functional``: a model made of the graph of layers between symbolic inputs and outputs (Keras's API).

    inputs = cr.Input(shape=(32,))
    h = cr.layers.Dense(64, activation="relu")(inputs)
    outputs = cr.layers.Dense(10)(h)
    model = cr.Model(inputs, outputs)           # cr.Model(...) with inputs/outputs builds a Functional

Each layer call on symbolic tensors recorded a ``Node`` (see ``chainrule.layers.symbolic``).
The model finds its graph by walking the nodes from the outputs back to the inputs
(a depth-first search that emits a node after the nodes it depends on: a topological
order), and runs by replaying those nodes in that order on real Tensors: each node's
layer is called on the Tensors its symbolic inputs stand for, and its outputs stand for
its symbolic outputs. A layer called at two nodes runs twice with the same weights
(shared layer); a model called on symbolic tensors is one node of the outer graph.

``inputs`` and ``outputs`` may be one tensor, a list or a dict; the model takes and returns
the same structure (a dict of inputs is matched by key). ``model.layers`` lists the graph's
layers in that order, the ``InputLayer`` s included, as Keras.
"""
from __future__ import annotations

from ..autograd.tensor import Tensor
from ..layers.base import Layer, to_tensor
from ..layers.core import InputLayer
from ..layers.symbolic import KerasTensor, flatten, inbound_nodes, node_of, pack_like, is_symbolic
from .model import Model


def _graph(inputs: list, outputs: list, who: str):
    """The nodes between ``inputs`` and ``outputs`` in a topological order (each after the nodes it reads).

    Raises a ValueError naming the output and the input it needs when an output depends on a symbolic
    input that is not among ``inputs`` (a disconnected graph).
    """
    input_ids = {id(t) for t in inputs}
    done, order = set(), []
    for out in outputs:
        if id(out) in input_ids:
            continue
        stack = [(out, node_of(out), False)]
        while stack:
            tensor, node, expanded = stack.pop()
            if node is None:
                raise ValueError(f"{who}: the symbolic tensor {tensor.name!r} was not made by a layer; build the "
                                 "graph from cr.Input(...) tensors")
            if expanded:
                if id(node) not in done:
                    done.add(id(node))
                    order.append(node)
                continue
            if id(node) in done:
                continue
            if node.is_input:
                raise ValueError(
                    f"{who}: graph disconnected: the output {out.name!r} {out.shape} depends on the input "
                    f"{node.layer.name!r} {tensor.shape}, which is not among the model's inputs "
                    f"{[t.name for t in inputs]}; add it to inputs=")
            stack.append((tensor, node, True))  # emitted once the nodes it reads are
            for t in reversed(node.input_tensors):
                if id(t) not in input_ids:
                    stack.append((t, node_of(t), False))
    return order


class Functional(Model):
    """A model defined by symbolic ``inputs`` and ``outputs``; build it as ``cr.Model(inputs, outputs)``."""

    def __init__(self, inputs, outputs, name: str | None = None, trainable: bool = True, **kwargs):
        who = "Model(inputs, outputs) (the functional API)"
        for what, struct in (("inputs", inputs), ("outputs", outputs)):
            flat = flatten(struct)
            if not flat:
                raise ValueError(f"{who}: {what} is empty")
            for t in flat:
                if not isinstance(t, KerasTensor):
                    raise TypeError(f"{who}: every one of {what} must be a symbolic tensor (from cr.Input(...) "
                                    f"and layer calls on it), got {type(t).__name__} {t!r}")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._inputs_struct = _plain(inputs)
        self._outputs_struct = _plain(outputs)
        self.inputs = flatten(self._inputs_struct)
        self.outputs = flatten(self._outputs_struct)
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError(f"{who}: the same input tensor appears twice in inputs")
        self._nodes = _graph(self.inputs, self.outputs, who)
        self._node_ids = {id(n) for n in self._nodes}
        order = []
        for t in self.inputs:
            producer = t._keras_history.layer if t._keras_history else None
            if isinstance(producer, InputLayer):
                order.append(producer)
        for node in self._nodes:
            order.append(node.layer)
        layers = []
        for layer in order:
            if all(layer is not seen for seen in layers):
                layers.append(layer)
        names = [layer.name for layer in layers]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"{who}: the layer name {duplicate!r} is used by {names.count(duplicate)} different "
                             "layers of the model; every layer of a model needs a unique name")
        self._layers[:] = layers
        # Input keys: a dict of inputs is matched by its own keys, a list by the inputs' names.
        if isinstance(self._inputs_struct, dict):
            self._input_keys = sorted(self._inputs_struct)
        else:
            self._input_keys = [t.name for t in self.inputs]
        if isinstance(self._outputs_struct, dict):
            self.output_names = sorted(self._outputs_struct)
        else:
            self.output_names = [t._keras_history.layer.name for t in self.outputs]
        self._batch_input_shape = self.inputs[0].shape if len(self.inputs) == 1 else None
        self._build_input = {"inputs": [(list(t.shape), t.dtype) for t in self.inputs],
                             "multi": len(self.inputs) > 1}
        self.built = True

    # ------------------------------------------------------------------ calling
    def __call__(self, inputs, training=None, **kwargs):
        if is_symbolic(inputs, kwargs):  # one node of an outer graph
            return Layer.__call__(self, inputs, training, **kwargs)
        flat = self._flatten_inputs(inputs)
        out = super().__call__(flat if len(flat) > 1 else flat[0], training=training, **kwargs)
        if isinstance(self._outputs_struct, list) and len(self.outputs) == 1:
            return out  # a list of one output gives the tensor itself, as Keras 3's unpack_singleton
        return pack_like(self._outputs_struct, out if isinstance(out, list) else [out])

    def _flatten_inputs(self, inputs) -> list:
        """The call's inputs as a list in ``self.inputs`` order (a dict is matched by key)."""
        n = len(self.inputs)
        if isinstance(inputs, dict):
            missing = [k for k in self._input_keys if k not in inputs]
            if missing:
                raise ValueError(f"{self.name}: the inputs dict has no key {missing[0]!r}; the model's inputs are "
                                 f"{self._input_keys}, the dict has keys {sorted(inputs)}")
            return [inputs[k] for k in self._input_keys]
        if isinstance(inputs, (list, tuple)) and not (n == 1 and _is_batch_list(inputs)):
            flat = flatten(list(inputs))
            if len(flat) != n:
                raise ValueError(f"{self.name}: the model has {n} input(s) {self._input_keys}, but was called on "
                                 f"{len(flat)} arrays")
            return flat
        if n != 1:
            raise ValueError(f"{self.name}: the model has {n} inputs {self._input_keys}; pass a list or a dict of "
                             f"{n} arrays, got one {type(inputs).__name__}")
        return [inputs]

    def call(self, inputs, training: bool = False):
        """Replay the graph: each node's layer on the Tensors its symbolic inputs stand for."""
        flat = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        values = {}
        for kt, x in zip(self.inputs, flat):
            x = to_tensor(x)
            producer = kt._keras_history.layer if kt._keras_history else None
            if isinstance(producer, InputLayer):
                x = producer.call(x)  # check the shape against the declared one, cast to a declared dtype
            values[id(kt)] = x

        def value(t):
            return values[id(t)] if isinstance(t, KerasTensor) else t

        for node in self._nodes:
            args = _map(value, node.call_args)
            kwargs = {k: _map(value, v) for k, v in node.call_kwargs.items()}
            out = node.layer(args, **kwargs)
            for kt, t in zip(node.output_tensors, flatten(out)):
                values[id(kt)] = t
        outs = [values[id(kt)] for kt in self.outputs]
        return outs if len(outs) > 1 else outs[0]

    def compute_output_shape(self, input_shape):
        """The outputs' shapes (from the graph) for inputs of the model's own shapes; else a dry run."""
        shapes = _flat_shapes(input_shape)
        if len(shapes) == len(self.inputs) and all(
                tuple(s[1:]) == tuple(t.shape[1:]) for s, t in zip(shapes, self.inputs)):
            out = [(shapes[0][0],) + tuple(t.shape[1:]) for t in self.outputs]
            return pack_like(self._outputs_struct, out) if len(out) > 1 else out[0]
        return super().compute_output_shape(input_shape)

    # ------------------------------------------------------------------ structure
    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _known_output_shape(self):
        return self.outputs[0].shape if len(self.outputs) == 1 else None

    def _ensure_built(self) -> bool:
        return True

    def get_config(self) -> dict:
        from .functional_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from .functional_config import functional_from_config

        return functional_from_config(cls, config, custom_objects)


def _plain(struct):
    """``struct`` with tuples turned into lists (Keras keeps inputs/outputs as lists)."""
    if isinstance(struct, dict):
        return {k: _plain(v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return [_plain(v) for v in struct]
    return struct


def _map(fn, struct):
    if isinstance(struct, dict):
        return {k: _map(fn, v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_map(fn, v) for v in struct)
    return fn(struct)


def _is_batch_list(x) -> bool:
    """A plain list of numbers (one sample batch as nested lists) rather than a list of arrays."""
    return not any(isinstance(v, (Tensor, KerasTensor)) or hasattr(v, "shape") for v in x)


def _flat_shapes(shapes) -> list:
    if isinstance(shapes, dict):
        return [s for k in sorted(shapes) for s in _flat_shapes(shapes[k])]
    if isinstance(shapes, (list, tuple)) and all(d is None or isinstance(d, int) for d in shapes):
        return [tuple(shapes)]
    return [s for item in shapes for s in _flat_shapes(item)]


__all__ = ["Functional", "inbound_nodes"]
