"""``plot_model`` and ``model_to_dot``: a model's layers and how data flows between them, as
Keras's ``keras.utils.plot_model`` draws it.

The picture comes from running the model once: every layer call is recorded (which layer,
which tensors in, which out), and an edge joins layer A to layer B when a tensor that B
receives was computed from A's output (directly, or through ops such as ``x + y`` in a
subclassed model's ``call``, found by walking the autograd graph back). So Sequential,
subclassed and functional models are drawn alike, from what their code does. The sample
run uses zeros of the model's known input shape (batch 1); a size the model leaves open
(``None``) is tried with two values, and an output size that changes with it is shown
as None, as Keras shows it.

``model_to_dot`` gives DOT text and needs nothing installed; ``plot_model`` writes PNG,
SVG or PDF with Graphviz (the ``graphviz`` package and the system's ``dot``).
"""
from __future__ import annotations

from ..autograd.tensor import Tensor
from . import _graphviz


# ------------------------------------------------------------------------------ tracing
def _flat(value) -> list:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    return [value] if isinstance(value, Tensor) else []


def _input_specs(model):
    """``([(shape with None, dtype, name or None)] for each model input, whether the model takes a list)``;
    ``(None, False)`` when nothing says what the inputs are."""
    try:
        inputs = getattr(model, "inputs", None)  # a functional model's symbolic inputs
    except Exception:  # noqa: BLE001 - a property that cannot answer yet (an unbuilt model)
        inputs = None
    if isinstance(inputs, (list, tuple)) and inputs and all(hasattr(i, "shape") for i in inputs):
        return [(tuple(i.shape), getattr(i, "dtype", None), getattr(i, "name", None)) for i in inputs], len(inputs) > 1
    recorded = model.__dict__.get("_build_input")  # a Model's first call: {"inputs": [...], "multi": ...}
    if recorded:
        return [(tuple(s), d, None) for s, d in recorded["inputs"]], recorded["multi"]
    declared = getattr(model, "_batch_input_shape", None)  # Sequential with Input/input_shape
    if declared is not None:
        return [(tuple(declared), None, None)], False
    return None, False


def _zeros(specs, fill: int) -> list:
    from .. import backend

    arrays = []
    for i, (shape, dtype, _name) in enumerate(specs):
        dims = tuple(1 if (d is None and k == 0) else (fill if d is None else int(d)) for k, d in enumerate(shape))
        dtype = backend.floatx_dtype() if dtype is None else dtype
        arrays.append(backend.xp.zeros(dims, dtype=str(dtype)))
    return arrays


def _shown(layer, chain, root, expand_nested: bool) -> bool:
    """Whether a call of ``layer``, made inside the layers ``chain`` (outermost first), is a node."""
    from ..models.model import Model

    inner = chain[1:] if chain and chain[0] is root else None
    if inner is None or layer is root:
        return False
    if not expand_nested:
        return not inner
    return all(isinstance(c, Model) for c in inner) and not (isinstance(layer, Model) and layer.layers)


def _trace(model, arrays, multi: bool, expand_nested: bool):
    """Run ``model`` on ``arrays``; returns (calls, input tensors) with calls as
    ``[layer, enclosing models, input tensors, output tensors]`` for the layers drawn."""
    from ..autograd.tensor import tensor
    from ..layers.base import Layer

    inputs = [tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    calls, active = [], []
    patched = {}
    classes = {cls for layer in [model, *_all_layers(model)] for cls in type(layer).__mro__
               if "__call__" in cls.__dict__ and issubclass(cls, Layer)}

    def wrap(orig):
        def __call__(self, x, *args, **kwargs):
            if active and active[-1] is self:  # a subclass's __call__ calling super().__call__
                return orig(self, x, *args, **kwargs)
            record = [self, list(active), _flat(x), None] if _shown(self, active, model, expand_nested) else None
            if record is not None:
                calls.append(record)
            active.append(self)
            try:
                out = orig(self, x, *args, **kwargs)
            finally:
                active.pop()
            if record is not None:
                record[3] = _flat(out)
            return out
        return __call__

    for cls in classes:
        patched[cls] = cls.__dict__["__call__"]
        cls.__call__ = wrap(patched[cls])
    try:
        model(inputs if multi else inputs[0], training=False)
    finally:
        for cls, orig in patched.items():
            cls.__call__ = orig
    return calls, inputs


def _all_layers(model) -> list:
    out = []
    for layer in getattr(model, "layers", []) or []:
        out.append(layer)
        out += _all_layers(layer)
    return out


def _sources(t: Tensor, produced_by: dict, input_ids: dict) -> list:
    """The drawn layers (or model inputs) whose outputs ``t`` was computed from."""
    found, stack, seen = [], [t], set()
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if id(x) in produced_by:
            found.append(produced_by[id(x)])
            continue
        if id(x) in input_ids:
            found.append(input_ids[id(x)])
            continue
        ctx = x._ctx
        if ctx is not None and ctx.inputs is not None:
            stack.extend(i for i in ctx.inputs if isinstance(i, Tensor))
    return found


def _graph(model, expand_nested: bool):
    """Nodes and edges of the model: ``(nodes, edges)``, nodes as a list of
    ``(key, (layer or an input's name, enclosing models, input shapes, output shapes, dtype))``
    in the order first met, edges as ``(key, key)`` pairs."""
    specs, multi = _input_specs(model)
    if specs is None:
        raise ValueError(
            f"plot_model: model {model.name!r} has not been built, so its layers' shapes are unknown. "
            "Call it on a batch once, or give it an input shape (cr.Input(shape) first, or input_shape=).")
    open_dims = any(d is None for shape, _, _ in specs for d in shape[1:])
    runs = [_trace(model, _zeros(specs, fill), multi, expand_nested) for fill in ((3, 5) if open_dims else (3,))]

    def shapes(tensors_by_run):
        # A size that differs between the two runs depends on an open input size: None.
        out = []
        for ts in zip(*tensors_by_run):
            dims = [tuple(t.shape) for t in ts]
            out.append((None,) + tuple(d if all(s[k] == d for s in dims) else None
                                        for k, d in enumerate(dims[0]) if k > 0) if dims[0] else ())
        return out

    (calls, inputs), others = runs[0], runs[1:]
    nodes, order = {}, []
    # Keras draws no InputLayer box for a Sequential model; the others get one per input.
    from ..models.sequential import Sequential

    draw_inputs = not isinstance(model, Sequential)
    for j, spec in enumerate(specs):
        if draw_inputs:
            key = ("input", j)
            order.append(key)
            nodes[key] = (spec[2] or f"input_{j}", [], [], [(None,) + tuple(spec[0][1:])], str(inputs[j].dtype))
    produced_by = {}
    input_ids = {id(t): ("input", j) for j, t in enumerate(inputs)}
    edges = []
    for i, (layer, chain, ins, outs) in enumerate(calls):
        key = ("layer", id(layer))
        if key not in nodes:
            order.append(key)
            in_shapes = shapes([ins] + [o[0][i][2] for o in others])
            out_shapes = shapes([outs] + [o[0][i][3] for o in others])
            nodes[key] = (layer, chain[1:], in_shapes, out_shapes, str(outs[0].dtype) if outs else "?")
        for t in ins:
            for src in _sources(t, produced_by, input_ids):
                if src in nodes and (src, key) not in edges:
                    edges.append((src, key))
        for t in outs:
            produced_by[id(t)] = key
    return [(k, nodes[k]) for k in order], edges


# ------------------------------------------------------------------------------ DOT
def _shape_text(shapes) -> str:
    if not shapes:
        return "?"
    texts = [str(tuple(s)) if s is not None else "?" for s in shapes]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    name = getattr(act, "__name__", None) or type(act).__name__
    return None if name in ("linear", "identity") else name


def _label(key, node, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable) -> str:
    layer, _chain, in_shapes, out_shapes, dtype = node
    esc = _graphviz.html_escape
    if isinstance(layer, str):  # a model input, by its name
        title = f"<b>{esc(layer)}</b> (InputLayer)" if show_layer_names else "InputLayer"
    else:
        title = (f"<b>{esc(layer.name)}</b> ({esc(type(layer).__name__)})" if show_layer_names
                 else esc(type(layer).__name__))
    rows = [f'<tr><td colspan="2" bgcolor="#dbeafe">{title}</td></tr>']
    if show_shapes:
        if isinstance(layer, str):
            rows.append(f'<tr><td colspan="2">Output shape: {esc(_shape_text(out_shapes))}</td></tr>')
        else:
            rows.append(f"<tr><td>Input shape: {esc(_shape_text(in_shapes))}</td>"
                        f"<td>Output shape: {esc(_shape_text(out_shapes))}</td></tr>")
    if show_dtype:
        rows.append(f'<tr><td colspan="2">dtype: {esc(dtype)}</td></tr>')
    if show_layer_activations and not isinstance(layer, str) and _activation_name(layer):
        rows.append(f'<tr><td colspan="2">Activation: {esc(_activation_name(layer))}</td></tr>')
    if show_trainable and not isinstance(layer, str):
        rows.append(f'<tr><td colspan="2">Trainable: {"True" if layer.trainable else "False"}</td></tr>')
    return '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">' + "".join(rows) + "</table>>"


def _check_args(rankdir) -> None:
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: rankdir must be 'TB' (vertical) or 'LR' (horizontal), got {rankdir!r}")


def model_to_dot(model, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                 rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200, subgraph: bool = False,
                 show_layer_activations: bool = False, show_trainable: bool = False, splines: str = "ortho") -> str:
    """The model's layer graph as DOT text (Keras's ``model_to_dot``; Keras returns a
    ``pydot.Dot``, this returns the DOT ``str``, which needs nothing installed).

    The arguments are ``plot_model``'s (``show_layer_names`` defaults to True here, False in
    ``plot_model``, as in Keras). ``subgraph`` is accepted for Keras's signature.
    """
    from ..models.model import Model

    if not isinstance(model, Model):
        raise TypeError(f"plot_model: expected a Model or Sequential, got {type(model).__name__}")
    _check_args(rankdir)
    nodes, edges = _graph(model, expand_nested)
    lines = [f"digraph {_graphviz.quote(model.name)} {{", f"  rankdir={rankdir};", f"  splines={splines};",
             f"  dpi={int(dpi)};", '  node [shape=plaintext, fontname="Helvetica", fontsize=11];']
    ids = {key: f"n{i}" for i, (key, _) in enumerate(nodes)}
    clusters: dict = {}
    for key, node in nodes:
        label = _label(key, node, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
        line = f"  {ids[key]} [label={label}];"
        chain = node[1]
        clusters.setdefault(tuple(id(c) for c in chain), (chain, []))[1].append(line)
    for path, (chain, node_lines) in clusters.items():
        if not path:
            lines += node_lines
            continue
        # A nested model drawn expanded: its layers inside a box named after it.
        inner = chain[-1]
        lines.append(f"  subgraph cluster_{path[-1]} {{")
        lines.append(f"    label={_graphviz.quote(f'{inner.name} ({type(inner).__name__})')}; style=dashed;")
        lines += ["  " + ln for ln in node_lines]
        lines.append("  }")
    for a, b in edges:
        lines.append(f"  {ids[a]} -> {ids[b]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model, to_file: str = "model.png", show_shapes: bool = False, show_dtype: bool = False,
               show_layer_names: bool = False, rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200,
               show_layer_activations: bool = False, show_trainable: bool = False, splines: str = "ortho",
               **kwargs):
    """Draw a model's layers and the flow of data between them (Keras's ``plot_model``).

    Args:
        model: a ``Sequential``, subclassed or functional model that has been built
            (called once, or given its input shape).
        to_file: where to write the picture; the extension names the format (``.png``, ``.svg``,
            ``.pdf``, ``.jpg``; ``.dot`` writes the DOT text, with nothing installed).
        show_shapes: show each layer's input and output shapes (None for the batch axis and any
            size the model leaves open).
        show_dtype: show each layer's output dtype.
        show_layer_names: show layer names beside their class names.
        rankdir: ``"TB"`` draws top to bottom, ``"LR"`` left to right.
        expand_nested: draw the layers of nested models inside a box, rather than one node.
        dpi: resolution of raster pictures.
        show_layer_activations: show the activation of layers that have one.
        show_trainable: show whether each layer is trainable.
        splines: how Graphviz draws edges: ``"ortho"`` (right angles), ``"curved"``, ``"polyline"``,
            ``"spline"`` or ``"line"``.

    Returns:
        A ``graphviz.Source`` of the picture (shown inline in Jupyter), or None when the
        graphviz package is not installed and the file was DOT text.

    Raises:
        ImportError: Graphviz (the ``graphviz`` package or the ``dot`` program) is missing for a
            picture format; the message says what to install.
        ValueError: the model has not been built.
    """
    if kwargs:
        raise ValueError(f"plot_model: unrecognized keyword arguments: {kwargs}")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                       splines=splines)
    _graphviz.write(dot, to_file, "plot_model")
    try:
        return _graphviz.source(dot, "plot_model")
    except ImportError:
        return None
