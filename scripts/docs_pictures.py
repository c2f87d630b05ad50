"""The pictures on the site, drawn at build time by chainrule itself (``plot_model`` and
``draw_graph``), so they always show what the code does today.

``pictures()`` returns ``{path under docs/: SVG text}``. Where Graphviz's ``dot`` is not
installed the picture is an SVG that says so and lists the DOT text, so the build still
passes; ``bash scripts/docs.sh`` installs Graphviz where it can.
"""
from __future__ import annotations

import html
import logging
import os
import tempfile

log = logging.getLogger("mkdocs.hooks.chainrule")
OUT = "assets/generated"


def _models():
    import chainrule as cr

    cr.manual_seed(0)
    mlp = cr.Sequential([
        cr.layers.Input((784,)),
        cr.layers.Dense(128, activation="relu", name="hidden"),
        cr.layers.Dropout(0.2),
        cr.layers.Dense(10, activation="softmax", name="probabilities"),
    ], name="mlp")
    cnn = cr.Sequential([
        cr.layers.Input((28, 28, 1)),
        cr.layers.Conv2D(32, 3, activation="relu"),
        cr.layers.MaxPooling2D(2),
        cr.layers.Conv2D(64, 3, activation="relu"),
        cr.layers.MaxPooling2D(2),
        cr.layers.Flatten(),
        cr.layers.Dense(10, activation="softmax"),
    ], name="cnn")

    class ResidualMLP(cr.Model):
        def __init__(self):
            super().__init__(name="residual_mlp")
            self.embed = cr.layers.Dense(32, activation="relu", name="embed")
            self.block = cr.layers.Dense(32, activation="relu", name="block")
            self.head = cr.layers.Dense(10, name="head")

        def call(self, x, training=False):
            h = self.embed(x)
            return self.head(h + self.block(h))  # the skip connection is a Tensor op, not a layer

    residual = ResidualMLP()
    residual(cr.zeros((1, 20)))
    return {"model_mlp": mlp, "model_cnn": cnn, "model_residual": residual}


def _graph():
    import chainrule as cr

    x = cr.tensor([[0.5, -1.0, 2.0]], requires_grad=False)
    W = cr.randn(3, 2, requires_grad=True)
    b = cr.zeros(2, requires_grad=True)
    t = cr.tensor([[1.0, 0.0]])
    y = (x @ W + b).sigmoid()
    loss = ((y - t) ** 2).mean()
    return loss, {"x": x, "W": W, "b": b, "t": t, "y": y, "loss": loss}


def _fallback_svg(dot: str, why: str) -> str:
    lines = [why, ""] + dot.splitlines()
    height = 16 * len(lines) + 20
    texts = "".join(f'<text x="8" y="{20 + 16 * i}">{html.escape(line)}</text>' for i, line in enumerate(lines))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{height}" '
            f'font-family="monospace" font-size="12">{texts}</svg>')


def pictures() -> dict[str, str]:
    from chainrule.utils import _graphviz, draw_graph, graph_to_dot, model_to_dot, plot_model

    loss, names = _graph()
    out = {}
    if not _graphviz.has_dot():
        dots = {name: model_to_dot(m, show_shapes=True, show_layer_names=True, show_layer_activations=True)
                for name, m in _models().items()}
        dots["graph_neuron"] = graph_to_dot(loss, names=names)
        log.info("Graphviz's dot is not installed: the pictures show their DOT text (bash scripts/docs.sh installs it)")
        for name, dot in dots.items():
            out[f"{OUT}/{name}.svg"] = _fallback_svg(dot, "Graphviz was not installed when this site was built.")
        return out
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in _models().items():
            path = os.path.join(tmp, name + ".svg")
            plot_model(model, to_file=path, show_shapes=True, show_layer_names=True, show_layer_activations=True,
                       dpi=72)
            out[f"{OUT}/{name}.svg"] = open(path, encoding="utf-8").read()
        path = os.path.join(tmp, "graph.svg")
        draw_graph(loss, to_file=path, names=names)
        out[f"{OUT}/graph_neuron.svg"] = open(path, encoding="utf-8").read()
    return out
