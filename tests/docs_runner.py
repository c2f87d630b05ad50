"""Run the Python code blocks of a Markdown page, in order, as one notebook.

Every fenced block whose language is ``python`` (or ``py``) runs; the blocks of one page
share one namespace, so a page reads as a session. Markers are HTML comments on the line
right before a block, invisible on the rendered page:

- ``<!-- docs-test: skip (why) -->``: the block is shown, not run (it needs a GPU, a
  download, an hour of training).
- ``<!-- docs-test: if EXPR -->``: the block runs only when ``EXPR`` is true, evaluated with
  ``cr`` (chainrule), ``has_module(name)`` and the page's namespace; for a feature that another issue brings,
  e.g. ``<!-- docs-test: if hasattr(cr.layers, "LSTM") -->``. Later blocks on the page that
  use its names should carry the same marker.
- ``<!-- docs-test: setup`` ... ``-->``: hidden code (a comment, so not rendered) run at that
  point, for a derivation fragment that needs names defined before it.

Other languages (``bash``, ``text``, ``pycon``, ``dot``) never run.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import pathlib
import re
import textwrap

_TOKEN = re.compile(
    r"(?P<setup><!--\s*docs-test:\s*setup\s*\n(?P<setup_body>.*?)-->)"
    r"|(?P<marker><!--\s*docs-test:\s*(?P<marker_body>(?:skip|if)\b.*?)\s*-->)"
    r"|(?P<fence>^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=ticks)[ \t]*$)",
    re.S | re.M,
)


@dataclasses.dataclass
class Block:
    code: str
    line: int  # 1-based line of the fence's first code line
    kind: str  # "run", "setup", "skip", "if"
    condition: str = ""


def blocks(text: str) -> list[Block]:
    """The page's runnable blocks with their markers, in page order."""
    out: list[Block] = []
    pending: tuple[str, str, int] | None = None  # (kind, condition, end offset of the marker)
    for m in _TOKEN.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group("setup"):
            out.append(Block(textwrap.dedent(m.group("setup_body")), line + 1, "setup"))
        elif m.group("marker"):
            body = m.group("marker_body")
            if body.startswith("skip"):
                pending = ("skip", "", m.end())
            else:
                pending = ("if", body[2:].strip(), m.end())
        else:
            lang = (m.group("info").split() or [""])[0].lstrip(".{").lower()
            marker = pending if pending and text[pending[2]:m.start()].strip() == "" else None
            pending = None
            if lang not in ("python", "py"):
                continue
            code = textwrap.dedent(m.group("body"))
            if m.group("indent"):
                code = "\n".join(ln[len(m.group("indent")):] if ln.startswith(m.group("indent")) else ln
                                 for ln in m.group("body").splitlines())
            kind, condition = (marker[0], marker[1]) if marker else ("run", "")
            out.append(Block(code, line + 1, kind, condition))
    return out


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def run_page(path: pathlib.Path) -> dict:
    """Run a page's blocks; returns ``{"ran": n, "skipped": [reasons]}``; raises on a failing block
    with the page and line in the traceback."""
    import chainrule as cr

    namespace: dict = {"__name__": "__docs__"}
    ran, skipped = 0, []
    for block in blocks(path.read_text(encoding="utf-8")):
        if block.kind == "skip":
            skipped.append(f"line {block.line}: marked skip")
            continue
        scope = {"cr": cr, "has_module": _has_module, **namespace}
        if block.kind == "if" and not eval(block.condition, scope):  # noqa: S307 - our own pages
            skipped.append(f"line {block.line}: {block.condition} is false")
            continue
        # Pad with newlines so tracebacks give the line number in the Markdown file.
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(path), "exec"), namespace)  # noqa: S102
        ran += 1
    return {"ran": ran, "skipped": skipped}
