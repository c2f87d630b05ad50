"""The computational graph behind a tensor, as a picture.

Every op applied to a tensor that requires grad records a ``Function`` node holding its
input tensors (see ``docs/autograd.md``). ``graph_to_dot(y)`` walks those nodes back from
``y`` and writes the graph in DOT: each Tensor an ellipse with its name, shape and dtype,
each Function a box with its op name, edges in the direction the forward pass ran (the
backward pass runs them in reverse). ``draw_graph(y, to_file=...)`` renders it with
Graphviz. These are the pictures DeZero's ``plot_dot_graph`` and micrograd's ``draw_dot``
give, for explaining backpropagation::

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    cr.utils.draw_graph(y, to_file="graph.svg", names={"x": x, "y": y})

Draw before ``backward()``: the backward pass frees each node once it has run (as
PyTorch does), and a freed node is drawn without its inputs.
"""
from __future__ import annotations

from ..autograd.tensor import Tensor
from . import _graphviz

_LEAF_PARAM = 'style=filled, fillcolor="#fde68a"'   # a leaf that requires grad: a parameter or an input
_LEAF_CONST = 'style=filled, fillcolor="#e5e7eb"'   # a leaf that does not: data, a constant
_INNER = 'style=filled, fillcolor="#fed7aa"'         # an intermediate result
_FUNCTION = 'shape=box, style="filled,rounded", fillcolor="#bfdbfe"'


def _as_list(outputs) -> list:
    items = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    for t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"graph_to_dot: expected a Tensor or a list of Tensors, got {type(t).__name__}")
    return items


def _names(names) -> dict:
    """``{id(tensor): name}`` from ``{"name": tensor}`` (or ``{tensor: "name"}``)."""
    out = {}
    for key, value in (names or {}).items():
        if isinstance(key, Tensor):
            key, value = value, key
        if not isinstance(value, Tensor):
            raise TypeError(f"graph_to_dot: names maps names to Tensors, got {key!r}: {type(value).__name__}")
        out[id(value)] = str(key)
    return out


def _tensor_label(t: Tensor, name, show_shapes: bool, show_dtype: bool, show_grad: bool) -> str:
    parts = [name] if name else []
    if show_shapes:
        parts.append(str(tuple(t.shape)))
    if show_dtype:
        parts.append(str(t.dtype))
    if show_grad and t.grad is not None:
        parts.append(f"grad {tuple(t.grad.shape)}")
    return "\n".join(parts) if parts else " "


def graph_to_dot(outputs, names=None, show_shapes: bool = True, show_dtype: bool = True, show_grad: bool = False,
                 rankdir: str = "TB", dpi: int | None = None) -> str:
    """The graph recorded behind ``outputs`` (a Tensor or a list of them) as DOT text.

    Args:
        outputs: the tensor(s) to draw the graph of, e.g. a loss.
        names: ``{"x": x, "W": W}`` to label tensors (a tensor's own ``.name`` is used otherwise).
        show_shapes: put each tensor's shape in its node.
        show_dtype: put each tensor's dtype in its node.
        show_grad: put the shape of ``.grad`` in the nodes of tensors that have one.
        rankdir: Graphviz's direction, ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        dpi: the resolution of raster pictures.

    Returns:
        The DOT text (a ``str``); nothing needs to be installed for it.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"graph_to_dot: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    label_of = _names(names)
    lines = ["digraph computational_graph {", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];', '  edge [color="#4b5563"];']
    if dpi is not None:
        lines.insert(2, f"  dpi={int(dpi)};")
    seen_t, seen_f = set(), set()
    numbers: dict = {}  # node ids numbered in the order met, so the same graph gives the same text

    def nid(prefix, obj):
        return prefix + str(numbers.setdefault(id(obj), len(numbers)))

    stack = _as_list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen_t:
            continue
        seen_t.add(id(t))
        fn = t._ctx
        style = _INNER if fn is not None else (_LEAF_PARAM if t.requires_grad else _LEAF_CONST)
        label = _tensor_label(t, label_of.get(id(t), t.name), show_shapes, show_dtype, show_grad)
        lines.append(f"  {nid('t', t)} [label={_graphviz.quote(label)}, {style}];")
        if fn is None:
            continue
        lines.append(f"  {nid('f', fn)} -> {nid('t', t)};")
        if id(fn) in seen_f:
            continue
        seen_f.add(id(fn))
        inputs = fn.inputs
        op = type(fn).__name__
        if inputs is None:  # the backward pass has run and freed this node
            lines.append(f"  {nid('f', fn)} [label={_graphviz.quote(op + chr(10) + '(freed by backward)')}, {_FUNCTION}];")
            continue
        lines.append(f"  {nid('f', fn)} [label={_graphviz.quote(op)}, {_FUNCTION}];")
        for x in inputs:
            if isinstance(x, Tensor):
                lines.append(f"  {nid('t', x)} -> {nid('f', fn)};")
                stack.append(x)
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(outputs, to_file=None, names=None, show_shapes: bool = True, show_dtype: bool = True,
               show_grad: bool = False, rankdir: str = "TB", dpi: int | None = 96):
    """Draw the graph recorded behind ``outputs`` (see ``graph_to_dot`` for the arguments).

    With ``to_file`` (``"graph.png"``, ``"graph.svg"``, ``"graph.pdf"``, ``"graph.dot"``) the
    picture is written there, in the format its extension names; a ``.dot`` file is the DOT
    text and needs nothing installed, the others need Graphviz (ImportError otherwise, saying
    what to install). Returns a ``graphviz.Source`` (shown as a picture in Jupyter) when the
    graphviz package is installed, else None.
    """
    dot = graph_to_dot(outputs, names=names, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_grad=show_grad, rankdir=rankdir, dpi=dpi)
    if to_file is not None:
        _graphviz.write(dot, to_file, "draw_graph")
    try:
        return _graphviz.source(dot, "draw_graph")
    except ImportError:
        if to_file is None:
            raise
        return None
