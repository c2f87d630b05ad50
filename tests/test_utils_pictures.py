"""cr.utils.plot_model / model_to_dot (Keras's) and draw_graph / graph_to_dot (the autograd graph)."""
import re
import sys

import pytest

import chainrule as cr
from chainrule.utils import _graphviz, draw_graph, graph_to_dot, model_to_dot, plot_model

needs_dot = pytest.mark.skipif(not _graphviz.has_dot(), reason="Graphviz (package and dot program) not installed")


def _edges(dot):
    """Edges as (label of source, label of destination) using each node's bold name or text."""
    names = {}
    for node, label in re.findall(r"^\s*(\w+) \[label=(.*)\];$", dot, flags=re.M):
        m = re.search(r"<b>(.*?)</b>", label)
        names[node] = m.group(1) if m else re.match(r'"((?:[^"\\]|\\.)*)"', label).group(1).split("\\n")[0]
    return {(names[a], names[b]) for a, b in re.findall(r"^\s*(\w+) -> (\w+);$", dot, flags=re.M)}


# ------------------------------------------------------------------------------ graph_to_dot
def test_graph_to_dot_has_every_function_and_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    W = cr.randn(2, 2, requires_grad=True)
    y = ((W @ x).tanh() ** 2).sum()
    dot = graph_to_dot(y, names={"x": x, "W": W, "y": y})
    for op in ("MatMul", "Tanh", "PowScalar", "Sum"):
        assert f'label="{op}"' in dot
    assert 'label="x\\n(2,)\\nfloat32"' in dot and 'label="W\\n(2, 2)\\nfloat32"' in dot
    assert 'label="y\\n()\\nfloat32"' in dot
    edges = _edges(dot)
    assert ("x", "Reshape") in edges or ("x", "MatMul") in edges
    assert ("W", "MatMul") in edges and ("Sum", "y") in edges
    # Same graph, same text: node ids are numbered, not memory addresses.
    assert graph_to_dot(y, names={"x": x, "W": W, "y": y}) == dot


def test_graph_to_dot_shared_input_drawn_once_and_options():
    a = cr.tensor(3.0, requires_grad=True, dtype="float64")
    b = a * a + a
    dot = graph_to_dot(b, names={"a": a}, show_shapes=False, show_dtype=False, rankdir="LR")
    assert dot.count('label="a"') == 1 and "rankdir=LR" in dot
    assert ("a", "Mul") in _edges(dot) and ("a", "Add") in _edges(dot)
    assert "float64" not in dot


def test_graph_to_dot_after_backward_marks_freed_nodes():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    assert "freed by backward" in graph_to_dot(y)


def test_graph_to_dot_bad_input():
    with pytest.raises(TypeError, match="graph_to_dot"):
        graph_to_dot([1, 2])
    with pytest.raises(ValueError, match="rankdir"):
        graph_to_dot(cr.ones(2), rankdir="XY")


def test_draw_graph_writes_dot_text_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # as if the package were not installed
    x = cr.tensor([1.0], requires_grad=True)
    y = x * 3
    draw_graph(y, to_file=tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    with pytest.raises(ImportError, match="apt-get install graphviz"):
        draw_graph(y, to_file=tmp_path / "g.png")


@needs_dot
def test_draw_graph_png_and_svg(tmp_path):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.sigmoid() * x).sum()
    draw_graph(y, to_file=tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    src = draw_graph(y, to_file=tmp_path / "g.svg")
    assert "<svg" in (tmp_path / "g.svg").read_text() and "Sigmoid" in src.source


# ------------------------------------------------------------------------------ model_to_dot
def test_sequential_chain_with_shapes_and_activations():
    m = cr.Sequential([cr.layers.Input((8,)), cr.layers.Dense(4, activation="relu", name="hidden"),
                       cr.layers.Dense(2, name="out")])
    dot = model_to_dot(m, show_shapes=True, show_layer_activations=True, show_trainable=True, show_dtype=True)
    assert _edges(dot) == {("hidden", "out")}
    assert "Input shape: (None, 8)" in dot and "Output shape: (None, 4)" in dot
    assert "Output shape: (None, 2)" in dot and "Activation: relu" in dot
    assert "Trainable: True" in dot and "dtype: float32" in dot
    assert "InputLayer" not in dot  # Keras draws no input box for Sequential


def test_subclassed_model_edges_follow_the_code():
    class Residual(cr.Model):
        def __init__(self):
            super().__init__()
            self.a = cr.layers.Dense(8, name="a")
            self.b = cr.layers.Dense(8, name="b")
            self.out = cr.layers.Dense(3, name="out")

        def call(self, x, training=False):
            h = self.a(x)
            return self.out(h + self.b(h).relu())   # a skip connection through a Tensor op

    m = Residual()
    m(cr.randn(2, 5))
    dot = model_to_dot(m, show_shapes=True)
    assert _edges(dot) == {("input_0", "a"), ("a", "b"), ("a", "out"), ("b", "out")}


def test_open_sizes_shown_as_none():
    m = cr.Sequential([cr.layers.Input((None, 3)), cr.layers.Conv1D(4, 2, name="c")])
    dot = model_to_dot(m, show_shapes=True)
    assert "Input shape: (None, None, 3)" in dot and "Output shape: (None, None, 4)" in dot


def test_nested_model_collapsed_or_expanded():
    inner = cr.Sequential([cr.layers.Dense(4, name="i1"), cr.layers.Dense(4, name="i2")], name="block")
    m = cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(4, name="first"), inner, cr.layers.Dense(1, name="last")])
    collapsed = model_to_dot(m)
    assert _edges(collapsed) == {("first", "block"), ("block", "last")}
    expanded = model_to_dot(m, expand_nested=True)
    assert _edges(expanded) == {("first", "i1"), ("i1", "i2"), ("i2", "last")}
    assert "subgraph cluster_" in expanded and "block (Sequential)" in expanded


def test_model_errors():
    with pytest.raises(ValueError, match="has not been built"):
        model_to_dot(cr.Sequential([cr.layers.Dense(2)]))
    with pytest.raises(TypeError, match="expected a Model"):
        model_to_dot(cr.layers.Dense(2))
    m = cr.Sequential([cr.layers.Input((2,)), cr.layers.Dense(2)])
    with pytest.raises(ValueError, match="rankdir"):
        model_to_dot(m, rankdir="XY")
    with pytest.raises(ValueError, match="unrecognized keyword"):
        plot_model(m, to_file="x.dot", layer_range=None)


def test_plot_model_leaves_the_model_unchanged(tmp_path):
    m = cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(2)])
    x = cr.randn(4, 3)
    before = m.predict(x.numpy())
    plot_model(m, to_file=tmp_path / "m.dot", show_shapes=True)
    assert (tmp_path / "m.dot").read_text().startswith('digraph "')
    assert (m.predict(x.numpy()) == before).all()
    assert cr.layers.Layer.__call__.__name__ == "__call__" and "plot" not in cr.layers.Layer.__call__.__qualname__


@needs_dot
def test_plot_model_png(tmp_path):
    m = cr.Sequential([cr.layers.Input((28, 28, 1)), cr.layers.Conv2D(4, 3, activation="relu"),
                       cr.layers.Flatten(), cr.layers.Dense(10, activation="softmax")])
    plot_model(m, to_file=tmp_path / "m.png", show_shapes=True, dpi=72)
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_functional_model_drawn_from_its_graph():
    if not hasattr(cr, "Input"):
        pytest.skip("the functional API (cr.Input, cr.Model(inputs, outputs)) arrives with issue 11")
    inp = cr.Input((8,), name="features")
    a = cr.layers.Dense(4, name="a")(inp)
    b = cr.layers.Dense(4, name="b")(inp)
    out = cr.layers.Dense(2, name="out")(a + b)
    dot = model_to_dot(cr.Model(inp, out), show_shapes=True)
    edges = _edges(dot)
    assert {("features", "a"), ("features", "b")} <= edges
    (merge,) = {dst for src, dst in edges if src == "a"}
    assert ("b", merge) in edges and (merge, "out") in edges
    assert "Output shape: (None, 2)" in dot
