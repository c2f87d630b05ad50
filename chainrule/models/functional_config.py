"""A functional model's config: its graph of layers as JSON (Keras 3's functional config), and back.

    {"name": "functional", "trainable": true,
     "layers": [
        {"class_name": "InputLayer", "module": ..., "config": {"name": "x", "batch_shape": [null, 4]},
         "name": "x", "inbound_nodes": []},
        {"class_name": "Dense", "module": ..., "config": {...}, "name": "h",
         "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                      "config": {"shape": [null, 4], "dtype": "float32",
                                                 "keras_history": ["x", 0, 0]}}],
                            "kwargs": {}}]},
        ...],
     "input_layers": ["x", 0, 0],
     "output_layers": ["out", 0, 0]}

Each layer appears once, with its constructor config and one entry per call in this
model (``inbound_nodes``): the arguments, where each symbolic tensor is written as the
``[layer name, node index, tensor index]`` of the call that made it. Node indices
count only the calls that belong to this model (a layer also used in another model
keeps its numbering here). ``input_layers``/``output_layers`` use the same triples, in
the structure (one, list or dict) of the model's inputs and outputs.

``from_config`` creates each layer from its class and config (only layer classes:
built-in ones, or those named in ``custom_objects`` / importable by module and name), then
replays the calls: each node is called once the tensors it reads exist, in each layer's
call order, which rebuilds the same graph (and the same weight order). Nothing in the
config is evaluated: class names are looked up, never imported as code, and values
are plain JSON.
"""
from __future__ import annotations

from ..layers.symbolic import KerasTensor, flatten, inbound_nodes, map_structure

_TENSOR = "__keras_tensor__"


def _own_nodes(model) -> list:
    inputs = [t._keras_history.layer._inbound_nodes[t._keras_history.node_index] for t in model.inputs
              if t._keras_history is not None]
    return inputs + list(model._nodes)


def functional_config(model) -> dict:
    """The JSON-able config of ``model`` (a ``Functional``), in Keras 3's layout."""
    from .saving import serialize_layer

    own = {id(n) for n in _own_nodes(model)}

    def ref(t: KerasTensor) -> list:
        layer, node_index, tensor_index = t._keras_history
        kept = sum(1 for n in inbound_nodes(layer)[:node_index] if id(n) in own)
        return [layer.name, kept, tensor_index]

    def arg(value):
        if isinstance(value, KerasTensor):
            return {"class_name": _TENSOR, "config": {"shape": list(value.shape), "dtype": value.dtype,
                                                      "keras_history": ref(value)}}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ValueError(f"{model.name}.get_config: a layer call has the argument {value!r} "
                         f"({type(value).__name__}), which cannot be saved; pass only symbolic tensors and plain "
                         "values (numbers, strings, booleans) to layers of a functional model")

    layers = []
    for layer in model._layers:
        entry = serialize_layer(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": [map_structure(arg, node.call_args)],
             "kwargs": {k: map_structure(arg, v) for k, v in node.call_kwargs.items()}}
            for node in inbound_nodes(layer) if id(node) in own and not node.is_input]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": map_structure(ref, model._inputs_struct),
            "output_layers": map_structure(ref, model._outputs_struct)}


def _is_ref(x) -> bool:
    return (isinstance(x, list) and len(x) == 3 and isinstance(x[0], str)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in x[1:]))


def _map_refs(fn, struct):
    """``struct`` (nested lists/dicts of ``[name, node, tensor]`` triples) with each triple replaced by fn(triple)."""
    if _is_ref(struct):
        return fn(struct)
    if isinstance(struct, dict):
        return {k: _map_refs(fn, v) for k, v in struct.items()}
    if isinstance(struct, list):
        return [_map_refs(fn, v) for v in struct]
    raise ValueError(f"functional config: expected [layer name, node index, tensor index] triples, got {struct!r}")


def functional_from_config(cls, config: dict, custom_objects=None):
    """The model that ``functional_config`` described (new layers, the same graph)."""
    from .saving import deserialize_layer

    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("functional config: expected a dict with 'layers', 'input_layers' and 'output_layers'")
    created, order, pending = {}, [], {}
    for entry in config["layers"]:
        if not isinstance(entry, dict):
            raise ValueError(f"functional config: a layer entry must be a dict, got {entry!r}")
        layer = deserialize_layer(entry, custom_objects)
        name = entry.get("name", layer.name)
        if name in created:
            raise ValueError(f"functional config: two layers are named {name!r}")
        created[name] = layer
        order.append(name)
        pending[name] = list(entry.get("inbound_nodes") or [])

    def tensor(triple) -> KerasTensor:
        name, node_index, tensor_index = triple
        if name not in created:
            raise ValueError(f"functional config: a tensor refers to the unknown layer {name!r}")
        nodes = inbound_nodes(created[name])
        if node_index >= len(nodes):
            raise LookupError(name)  # not made yet
        outputs = nodes[node_index].output_tensors
        if tensor_index >= len(outputs):
            raise ValueError(f"functional config: layer {name!r} call {node_index} has no output {tensor_index}")
        return outputs[tensor_index]

    def value(v):
        if isinstance(v, dict) and v.get("class_name") == _TENSOR:
            history = (v.get("config") or {}).get("keras_history")
            if not _is_ref(history):
                raise ValueError(f"functional config: malformed symbolic tensor {v!r}")
            return tensor(history)
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [value(x) for x in v]
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise ValueError(f"functional config: unexpected value {v!r} in a layer call")

    while any(pending.values()):
        progress = False
        for name in order:
            while pending[name]:
                node = pending[name][0]
                if not isinstance(node, dict) or not isinstance(node.get("args"), list) or len(node["args"]) != 1:
                    raise ValueError(f"functional config: malformed call of layer {name!r}: {node!r}")
                try:
                    args = value(node["args"][0])
                    kwargs = {str(k): value(v) for k, v in (node.get("kwargs") or {}).items()}
                except LookupError:
                    break  # an input it reads is made by a call not replayed yet
                created[name](args, **kwargs)
                pending[name].pop(0)
                progress = True
        if not progress:
            stuck = next(n for n in order if pending[n])
            raise ValueError(f"functional config: the calls of layer {stuck!r} read tensors that no call makes "
                             "(a corrupt or cyclic graph)")
    try:
        inputs = _map_refs(tensor, config.get("input_layers"))
        outputs = _map_refs(tensor, config.get("output_layers"))
    except LookupError as exc:
        raise ValueError(f"functional config: the model's inputs/outputs refer to a call of {exc} that does not "
                         "exist") from None
    if any(not isinstance(t, KerasTensor) for t in flatten(inputs) + flatten(outputs)):
        raise ValueError("functional config: input_layers/output_layers must name symbolic tensors")
    return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))
