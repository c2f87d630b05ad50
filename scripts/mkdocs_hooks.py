"""MkDocs hooks: the API reference, the navigation, the math engine and the pictures, all
made at build time from the code (see ``scripts/docsgen.py``).

- ``on_config``: the navigation from the pages that exist (``docsgen.build_nav``).
- ``on_files``: the API pages (one per public module), MathJax's files copied from the
  installed ``django-static-mathjax`` package (so the site renders math offline, with no
  CDN), and the pictures the library draws of its own models and graphs.
"""
from __future__ import annotations

import importlib.util
import logging
import pathlib
import sys

from mkdocs.structure.files import File

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # the chainrule next to mkdocs.yml, not another installed one

import docs_pictures  # noqa: E402
import docsgen  # noqa: E402

log = logging.getLogger("mkdocs.hooks.chainrule")
MATHJAX_DEST = "assets/mathjax"
# What MathJax's tex-chtml component loads at run time: fonts, the menu, the TeX extensions.
MATHJAX_PARTS = ["tex-chtml.js", "output/chtml/fonts/woff-v2", "ui", "a11y", "input/tex/extensions"]

_api_pages: dict[str, str] = {}


def _mathjax_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise SystemExit("The docs need MathJax from the 'django-static-mathjax' package: "
                         "pip install -e '.[docs]'")
    es5 = pathlib.Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").exists():
        raise SystemExit(f"MathJax's tex-chtml.js is not in {es5}: reinstall django-static-mathjax")
    return es5


def on_config(config):
    global _api_pages
    _api_pages = docsgen.api_pages()
    config["nav"] = docsgen.build_nav(config["docs_dir"], list(_api_pages))
    return config


def on_files(files, config):
    for path, text in _api_pages.items():
        files.append(File.generated(config, path, content=text))
    es5 = _mathjax_dir()
    for part in MATHJAX_PARTS:
        src = es5 / part
        paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for p in paths:
            rel = p.relative_to(es5).as_posix()
            files.append(File.generated(config, f"{MATHJAX_DEST}/{rel}", abs_src_path=str(p)))
    for path, svg in docs_pictures.pictures().items():
        files.append(File.generated(config, path, content=svg))
    return files
