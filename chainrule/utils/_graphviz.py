"""DOT text in, pictures out: the one place that talks to Graphviz.

``plot_model`` and ``draw_graph`` write DOT (Graphviz's graph language) themselves, so the
text needs nothing installed. Turning it into PNG, SVG or PDF needs the ``graphviz`` Python
package (the ``docs`` extra) and Graphviz's ``dot`` program (the system's package:
``apt-get install graphviz``, ``brew install graphviz``, ``conda install graphviz``); both are
imported or run only here, when a picture is asked for.
"""
from __future__ import annotations

import os

TEXT_FORMATS = ("dot", "gv")


def quote(text) -> str:
    """A DOT string literal."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def html_escape(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _missing(what: str, who: str, detail: str) -> ImportError:
    return ImportError(
        f"{who}: writing {what} needs Graphviz ({detail}). Install the Python package with "
        "pip install 'chainrule[docs]' (or pip install graphviz) and the dot program with your "
        "system's packages (apt-get install graphviz, brew install graphviz or conda install graphviz). "
        "Without them, the DOT text is available: pass to_file='graph.dot', or call "
        "model_to_dot(...) / graph_to_dot(...).")


def source(dot: str, who: str):
    """A ``graphviz.Source`` (shown as a picture in Jupyter); ImportError when the package is missing."""
    try:
        import graphviz
    except ImportError:
        raise _missing("a picture", who, "the 'graphviz' Python package is not installed") from None
    return graphviz.Source(dot)


def write(dot: str, to_file, who: str) -> None:
    """Write ``dot`` to ``to_file`` in the format its extension names (png, svg, pdf, jpg, dot, ...)."""
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1].lstrip(".").lower() or "png"
    if ext in TEXT_FORMATS:
        tmp = to_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(dot)
        os.replace(tmp, to_file)
        return
    src = source(dot, who)
    import graphviz

    try:
        data = src.pipe(format=ext)
    except graphviz.ExecutableNotFound:
        raise _missing(f"{to_file}", who, "Graphviz's 'dot' program is not on the PATH") from None
    except graphviz.CalledProcessError as e:
        raise ValueError(f"{who}: Graphviz could not write format {ext!r} ({e.stderr!r})") from None
    tmp = to_file + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, to_file)


def has_dot() -> bool:
    """Whether pictures can be made here (the graphviz package and the dot program)."""
    try:
        import graphviz
    except ImportError:
        return False
    try:
        graphviz.version()
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, OSError):
        return False
    return True
