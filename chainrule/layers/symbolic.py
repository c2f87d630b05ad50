"""Symbolic tensors and nodes: how the functional API records a graph of layers (Keras's KerasTensor).

    inputs = cr.Input(shape=(784,))                 # a KerasTensor of shape (None, 784), no data
    h = cr.layers.Dense(64, activation="relu")(inputs)
    outputs = cr.layers.Dense(10)(h)                # (None, 10), inferred, nothing computed
    model = cr.Model(inputs, outputs)               # the graph between them, replayed on real data

A ``KerasTensor`` holds a shape (``None`` where the size is unknown, the batch axis at
least), a dtype, a name, and its history ``(layer, node_index, tensor_index)``: which
layer made it, at which of that layer's calls, and which of that call's outputs it is.

Calling a layer on symbolic tensors (``Layer.__call__`` hands them to ``symbolic_call``)
runs no math on them. It

1. builds the layer, and checks the call, by a *dry run*: the layer is called once,
   with ``training=False`` and no graph, on ones of the symbolic shapes (size 1 where a
   size is ``None``). A layer that cannot take those shapes fails here, at the call,
   and the error names the layer and the shapes;
2. infers the output shape: when only the batch axis is unknown, the dry run's output
   shape with the batch axis put back to the input's (``None``); when other sizes are
   unknown, the layer's own ``compute_output_shape`` if its class defines one, else a
   second dry run with size 2 for each unknown size, where every output size that
   changed is unknown;
3. records a ``Node``: the layer, the arguments of the call (the symbolic tensors in
   their list/dict structure, and keyword arguments), and the new symbolic outputs,
   whose history points at this node.

The nodes link every symbolic tensor back to the ``Input`` tensors it was computed
from; ``chainrule.models.functional`` walks them from the outputs back to the inputs
and replays them, in that order, on real Tensors.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor

KerasHistory = namedtuple("KerasHistory", ["layer", "node_index", "tensor_index"])


class KerasTensor:
    """A placeholder for a tensor: shape (batch axis first, ``None`` = unknown size), dtype, name, history."""

    def __init__(self, shape, dtype=None, name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype or backend.floatx()).name
        self.name = name
        self._keras_history = history

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"the symbolic tensor {self.name!r} {self.shape} holds no data: it can only be passed to layers "
            "(and to cr.Model(inputs, outputs)); wrap math on it in a layer")

    def __len__(self):
        raise TypeError(f"the symbolic tensor {self.name!r} has no length (shape {self.shape})")

    def __iter__(self):
        raise TypeError(f"the symbolic tensor {self.name!r} {self.shape} cannot be iterated over")

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    # Arithmetic records a TensorOperation node (see chainrule.layers.tensor_ops); NumPy defers to it.
    __array_ufunc__ = None

    def _op(self, op, a, b=None):
        from .tensor_ops import symbolic_operation

        return symbolic_operation(op, a, b)

    def __add__(self, other):
        return self._op("add", self, other)

    def __radd__(self, other):
        return self._op("add", other, self)

    def __sub__(self, other):
        return self._op("subtract", self, other)

    def __rsub__(self, other):
        return self._op("subtract", other, self)

    def __mul__(self, other):
        return self._op("multiply", self, other)

    def __rmul__(self, other):
        return self._op("multiply", other, self)

    def __truediv__(self, other):
        return self._op("divide", self, other)

    def __rtruediv__(self, other):
        return self._op("divide", other, self)

    def __pow__(self, other):
        return self._op("power", self, other)

    def __rpow__(self, other):
        return self._op("power", other, self)

    def __matmul__(self, other):
        return self._op("matmul", self, other)

    def __rmatmul__(self, other):
        return self._op("matmul", other, self)

    def __neg__(self):
        return self._op("negative", self)


# ------------------------------------------------------------------------------------------ structures
def flatten(struct) -> list:
    """The leaves of nested lists/tuples/dicts, in order (dict keys sorted, as Keras's tree.flatten)."""
    if isinstance(struct, dict):
        return [leaf for key in sorted(struct) for leaf in flatten(struct[key])]
    if isinstance(struct, (list, tuple)):
        return [leaf for item in struct for leaf in flatten(item)]
    return [struct]


def map_structure(fn, struct):
    """``struct`` with every leaf replaced by ``fn(leaf)``."""
    if isinstance(struct, dict):
        return {key: map_structure(fn, value) for key, value in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(map_structure(fn, item) for item in struct)
    return fn(struct)


def pack_like(struct, flat: list):
    """The leaves of ``flat`` (in ``flatten`` order) put back into the shape of ``struct``."""
    it = iter(flat)

    def rebuild(s):
        if isinstance(s, dict):  # leaves are numbered in sorted-key order; the dict keeps its own order
            built = {key: rebuild(s[key]) for key in sorted(s)}
            return {key: built[key] for key in s}
        if isinstance(s, (list, tuple)):
            return type(s)(rebuild(item) for item in s)
        return next(it)

    return rebuild(struct)


def is_symbolic(inputs, kwargs=None) -> bool:
    """True when ``inputs`` (or a keyword argument) is, or holds, a KerasTensor."""
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, (list, tuple, dict)) and any(isinstance(t, KerasTensor) for t in flatten(inputs)):
        return True
    return bool(kwargs) and any(isinstance(t, KerasTensor) for t in flatten(list(kwargs.values())))


# ------------------------------------------------------------------------------------------ nodes
class Node:
    """One call of a layer on symbolic tensors: ``layer(call_args, **call_kwargs) -> outputs``."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = outputs
        self.input_tensors = [t for t in flatten([call_args, self.call_kwargs]) if isinstance(t, KerasTensor)]
        self.output_tensors = [t for t in flatten(outputs) if isinstance(t, KerasTensor)]
        nodes = inbound_nodes(layer)
        self.index = len(nodes)
        nodes.append(self)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = KerasHistory(layer, self.index, i)

    @property
    def is_input(self) -> bool:
        return not self.input_tensors

    @property
    def parent_nodes(self) -> list:
        return [node_of(t) for t in self.input_tensors]

    def __repr__(self) -> str:
        return f"<Node {self.layer.name}[{self.index}]>"


def inbound_nodes(layer) -> list:
    """The nodes of ``layer`` (its calls on symbolic tensors), in call order."""
    nodes = layer.__dict__.get("_inbound_nodes")
    if nodes is None:
        nodes = []
        object.__setattr__(layer, "_inbound_nodes", nodes)
    return nodes


def node_of(tensor: KerasTensor):
    """The node that made ``tensor``, or None for a symbolic tensor no layer made."""
    history = tensor._keras_history
    if history is None:
        return None
    return inbound_nodes(history.layer)[history.node_index]


def layer_io(layer, which: str):
    """``layer.input`` / ``layer.output``: the symbolic tensors of the layer's first call (Keras 3)."""
    nodes = layer.__dict__.get("_inbound_nodes") or []
    if not nodes:
        raise AttributeError(
            f"Layer {layer.name!r} ({type(layer).__name__}) has never been called on symbolic tensors, so it has "
            f"no defined {which}; call it on cr.Input(...) tensors first")
    node = nodes[0]
    if which == "output" or node.is_input:
        return node.outputs
    return node.call_args


# ------------------------------------------------------------------------------------------ the call
def _shape_text(struct) -> str:
    shapes = map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else tuple(np.shape(t)), struct)
    return str(shapes)


def _placeholders(struct, fill: int):
    """Ones in the shape of each symbolic tensor (``fill`` for unknown sizes); other leaves kept."""
    # Ones rather than zeros: a zero is the padding id of a mask_zero Embedding and Masking's default value,
    # so zeros would make a fully masked (degenerate) dry run.
    def ones(t):
        if not isinstance(t, KerasTensor):
            return t
        return Tensor._wrap(np.ones(tuple(fill if d is None else d for d in t.shape), dtype=t.dtype))

    return map_structure(ones, struct)


def _dry_run(layer, inputs, kwargs, fill: int):
    """Call ``layer`` on ones of the symbolic shapes (inference mode, no graph); output shapes and dtypes."""
    kw = _placeholders(kwargs, fill)
    kw.pop("training", None)
    saved = [(sub, sub._activity_losses) for sub in layer._flatten_layers()]
    try:
        with no_grad():
            out = layer(_placeholders(inputs, fill), training=False, **kw)
    finally:  # the dry run's activity penalties (on placeholders) are not the model's
        for sub, losses in saved:
            sub._activity_losses = losses
    return map_structure(lambda t: (tuple(t.shape), np.dtype(t.dtype).name), out)


def _undo_build(layer, n_weights: int, n_regs: int) -> None:
    """Forget a build that the failed first call made, so a corrected call can build the layer again."""
    for w in layer._own_weights[n_weights:]:
        layer._trainable_flags.pop(id(w), None)
    del layer._own_weights[n_weights:]
    del layer._weight_regularizers[n_regs:]
    layer.built = False


def _output_specs(layer, inputs, kwargs):
    """The structure of ``(shape, dtype)`` of the layer's outputs, found as the module docstring says."""
    flat_in = [t for t in flatten([inputs, kwargs]) if isinstance(t, KerasTensor)]
    unknown = any(d is None for t in flat_in for d in t.shape[1:])
    batch = flat_in[0].shape[0] if flat_in and flat_in[0].shape else None
    own = _overrides_output_shape(layer)
    was_built = layer.built
    n_weights, n_regs = len(layer._own_weights), len(layer._weight_regularizers)
    try:
        specs = _dry_run(layer, inputs, kwargs, 1)
    except Exception as exc:  # noqa: BLE001 - any failure is reported with the layer and the shapes
        if not was_built:
            _undo_build(layer, n_weights, n_regs)
        # Size 1 for an unknown size may be what failed (a kernel larger than 1): infer without data.
        specs = _from_output_shape(layer, inputs, flat_in) if unknown and own else None
        if specs is None:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) cannot be called on inputs of shape "
                f"{_shape_text(inputs)}: {type(exc).__name__}: {exc}") from exc
        return specs
    if not unknown:
        flat = [((None,) + shape[1:] if batch is None and shape and shape[0] == 1 else shape, dtype)
                for shape, dtype in _flat_specs(specs)]
        return _pack_specs(specs, flat)
    if own:
        inferred = _from_output_shape(layer, inputs, flat_in, like=specs)
        if inferred is not None:
            return inferred
    try:
        second = _flat_specs(_dry_run(layer, inputs, kwargs, 2))
    except Exception:  # noqa: BLE001 - size 2 does not fit: every size is taken as unknown
        second = None
    merged = []
    for i, (shape, dtype) in enumerate(_flat_specs(specs)):
        other = second[i][0] if second is not None and i < len(second) else None
        if other is None or len(other) != len(shape):
            merged.append(((None,) * len(shape), dtype))
        else:
            merged.append((tuple(a if a == b else None for a, b in zip(shape, other)), dtype))
    return _pack_specs(specs, merged)


def _from_output_shape(layer, inputs, flat_in, like=None):
    """Output specs from the layer's ``compute_output_shape`` (the layer built for the symbolic shapes if need be);
    None when that does not work. ``like``: the dry run's specs, whose structure and dtypes are kept."""
    shapes = map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else tuple(np.shape(t)), inputs)
    try:
        if not layer.built and flat_in:
            layer._maybe_build(flat_in[0])
        inferred = layer.compute_output_shape(shapes)
        flat_inferred = _flat_shapes(inferred)
    except Exception:  # noqa: BLE001 - the caller falls back to dry runs or reports the error
        return None
    if like is None:
        dtype = layer.dtype or (flat_in[0].dtype if flat_in else backend.floatx())
        if len(flat_inferred) == 1:
            return tuple(flat_inferred[0]), dtype
        return [(tuple(s), dtype) for s in flat_inferred]
    flat_like = _flat_specs(like)
    if len(flat_inferred) != len(flat_like) or any(len(a) != len(b[0]) for a, b in zip(flat_inferred, flat_like)):
        return None
    return _pack_specs(like, [(tuple(s), d) for s, (_, d) in zip(flat_inferred, flat_like)])


def _is_spec(x) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], tuple) and isinstance(x[1], str)


def _flat_specs(specs) -> list:
    if _is_spec(specs):
        return [specs]
    if isinstance(specs, dict):
        return [s for key in sorted(specs) for s in _flat_specs(specs[key])]
    return [s for item in specs for s in _flat_specs(item)]


def _pack_specs(specs, flat):
    it = iter(flat)

    def rebuild(s):
        if _is_spec(s):
            return next(it)
        if isinstance(s, dict):
            built = {key: rebuild(s[key]) for key in sorted(s)}
            return {key: built[key] for key in s}
        return type(s)(rebuild(item) for item in s)

    return rebuild(specs)


def _flat_shapes(shapes) -> list:
    """The shapes in a ``compute_output_shape`` result: one tuple, or a list/dict of them."""
    if isinstance(shapes, dict):
        return [s for key in sorted(shapes) for s in _flat_shapes(shapes[key])]
    if isinstance(shapes, (list, tuple)) and all(d is None or isinstance(d, (int, np.integer)) for d in shapes):
        return [tuple(shapes)]
    return [s for item in shapes for s in _flat_shapes(item)]


def _overrides_output_shape(layer) -> bool:
    from .base import Layer

    return type(layer).compute_output_shape is not Layer.compute_output_shape


def symbolic_call(layer, inputs, training=None, kwargs=None):
    """``layer(inputs)`` on symbolic tensors: build, infer the output shapes, record a Node, return KerasTensors."""
    kwargs = dict(kwargs or {})
    if training is not None:  # an explicit mode is part of the call, replayed as given
        kwargs["training"] = training
    specs = _output_specs(layer, inputs, kwargs)
    flat = _flat_specs(specs)
    names = [layer.name if len(flat) == 1 else f"{layer.name}_{i}" for i in range(len(flat))]
    outputs = _pack_specs(specs, [KerasTensor(shape, dtype, name=name) for (shape, dtype), name in zip(flat, names)])
    Node(layer, inputs, kwargs, outputs)
    return outputs
