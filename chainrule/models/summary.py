"""``model.summary()``: Keras's table of layers, output shapes and parameter counts.

    Model: "sequential"
    _________________________________________________________________
     Layer (type)                Output Shape              Param #
    =================================================================
     dense (Dense)               (None, 512)               401920
    ...
    =================================================================
    Total params: 669,706
    Trainable params: 669,706
    Non-trainable params: 0
    _________________________________________________________________

The counts are Keras's: a Dense layer has ``in * units + units`` parameters, a
BatchNormalization ``4 * channels`` of which ``2 * channels`` (the moving mean and
variance) are non-trainable. A Sequential model whose input shape is known is
built first and shows the shapes inferred from it, None where a size is not
fixed (``(None, None, None, 32)`` after ``Input((None, None, 3))``), as Keras;
layers that were never called show ``?`` and ``0 (unbuilt)``.
"""
from __future__ import annotations


def _shape_text(layer, static=None) -> str:
    if static is not None:
        return str(tuple(static))
    seen = getattr(layer, "output_shape_seen", None)
    if seen is None:
        return "?"
    return str((None,) + tuple(seen[1:]))


def _param_text(layer) -> str:
    if not layer.built and not layer.weights:
        return "0 (unbuilt)"
    return str(layer.count_params())


def _rows(model, expand_nested: bool, show_trainable: bool, depth: int = 0):
    shapes = getattr(model, "_shapes", None)  # a Sequential's inferred output shapes
    for i, layer in enumerate(model._layers):
        name = ("  " * depth) + f"{layer.name} ({type(layer).__name__})"
        static = shapes[i] if shapes is not None and i < len(shapes) else None
        row = [name, _shape_text(layer, static), _param_text(layer)]
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        yield row
        if expand_nested and getattr(layer, "_layers", None):
            yield from _rows(layer, expand_nested, show_trainable, depth + 1)


# ------------------------------------------------------------------------------------------ functional
def _model_nodes(model):
    """A functional model's nodes (its inputs' InputLayer nodes first), or None for other models."""
    nodes = model.__dict__.get("_nodes")
    if nodes is None:
        return None
    inputs = [t._keras_history.layer._inbound_nodes[t._keras_history.node_index]
              for t in model.inputs if t._keras_history is not None]
    return inputs + list(nodes)


def _sequential_like(model, nodes) -> bool:
    """Keras's rule: a chain (one input per node, each layer and each tensor used once) gets no "Connected to"."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    consumed, layers = set(), set()
    for node in nodes:
        if node.is_input:
            continue
        if len(node.input_tensors) != 1 or id(node.input_tensors[0]) in consumed or id(node.layer) in layers:
            return False
        consumed.add(id(node.input_tensors[0]))
        layers.add(id(node.layer))
    return True


def _node_shape_text(layer, nodes) -> str:
    """The output shape of the layer's last call in the model (several outputs: a list of shapes)."""
    mine = [n for n in nodes if n.layer is layer]
    if not mine:
        return _shape_text(layer)
    shapes = [t.shape for t in mine[-1].output_tensors]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _connections(layer, nodes) -> list:
    """``["dense[0][0]", ...]``: the layer, call and output index of each tensor the layer was called on."""
    out = []
    for node in nodes:
        if node.layer is not layer:
            continue
        for t in node.input_tensors:
            history = t._keras_history
            out.append(f"{history.layer.name}[{history.node_index}][{history.tensor_index}]")
    return out or ["-"]


def _functional_rows(model, nodes, connected: bool, show_trainable: bool):
    """One row per layer (InputLayers included); a layer called on several tensors gets a line for each."""
    for layer in model._layers:
        row = [f"{layer.name} ({type(layer).__name__})", _node_shape_text(layer, nodes), _param_text(layer)]
        links = _connections(layer, nodes) if connected else []
        if connected:
            row.append(links[0])
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        rows = [row]
        for link in links[1:]:
            rows.append(["", "", "", link] + ([""] if show_trainable else []))
        yield rows


def _format_row(fields, positions) -> list:
    """One table row laid out as Keras's: the first cell starts after one space, columns are
    separated by at least two spaces, and a cell too long for its column wraps onto more lines."""
    starts = [0] + list(positions[:-1])
    last = len(positions) - 1
    widths = [max(end - start - (0 if i == last else 3) - (1 if i == 0 and last == 0 else 0), 1)
              for i, (start, end) in enumerate(zip(starts, positions))]
    cells = [[text[i:i + w] for i in range(0, len(text), w)] or [""] if col < last else [text]
             for col, (text, w) in enumerate((str(f), w) for f, w in zip(fields, widths))]
    lines = []
    for row in range(max(len(c) for c in cells)):
        line = " "
        for cell, end in zip(cells, positions):
            line += cell[row] if row < len(cell) else ""
            line = line.ljust(end)
        lines.append(line)
    return lines


def summary_lines(model, line_length=None, positions=None, expand_nested=False, show_trainable=False) -> list:
    """The summary table as a list of lines."""
    ensure = getattr(model, "_ensure_built", None)
    if ensure is not None:
        ensure()
    nodes = _model_nodes(model)
    connected = nodes is not None and not _sequential_like(model, nodes)
    if connected:  # Keras's layout for a graph that is not a chain
        line_length = line_length or (108 if not show_trainable else 120)
        if positions is None:
            positions = [0.3, 0.56, 0.74, 1.0] if not show_trainable else [0.27, 0.504, 0.666, 0.9, 1.0]
    else:
        line_length = line_length or (65 if not show_trainable else 76)
        if positions is None:
            positions = [0.45, 0.85, 1.0] if not show_trainable else [0.38, 0.72, 0.9, 1.0]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else []) + (
        ["Trainable"] if show_trainable else [])
    lines = [f'Model: "{model.name}"', "_" * line_length]
    lines += _format_row(header, positions)
    lines.append("=" * line_length)
    if nodes is not None:
        rows = list(_functional_rows(model, nodes, connected, show_trainable))
    else:
        rows = [[row] for row in _rows(model, expand_nested, show_trainable)]
    for i, group in enumerate(rows):
        for row in group:
            lines += _format_row(row, positions)
        lines.append(" " * line_length if i < len(rows) - 1 else "=" * line_length)
    if not rows:
        lines.append("=" * line_length)
    weights = model.weights
    trainable_ids = {id(w) for w in model.trainable_weights}
    total = sum(int(w.size) for w in weights)
    trainable = sum(int(w.size) for w in weights if id(w) in trainable_ids)
    lines.append(f"Total params: {total:,}")
    lines.append(f"Trainable params: {trainable:,}")
    lines.append(f"Non-trainable params: {total - trainable:,}")
    lines.append("_" * line_length)
    return lines


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False) -> None:
    """Print the summary, line by line, with ``print_fn`` (default ``print``)."""
    print_fn = print_fn or print
    for line in summary_lines(model, line_length, positions, expand_nested, show_trainable):
        print_fn(line.rstrip())
