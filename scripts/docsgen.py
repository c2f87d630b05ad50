"""What the documentation site is made of, computed from the code at build time.

The MkDocs hooks (``scripts/mkdocs_hooks.py``) call this module; so do the tests. Nothing
here imports MkDocs, so the tests run without the ``docs`` extra.

- ``public_modules()`` walks chainrule from the top: a module is public when a public
  module lists it in ``__all__`` (or, lacking ``__all__``, holds it under a public name).
- ``public_names(module)`` is what a module exports: its ``__all__``, or else its public
  attributes that chainrule defines.
- ``api_pages()`` writes one Markdown page per public module, with a mkdocstrings
  ``::: identifier`` entry per public name, so a name added to any ``__all__`` is in the
  reference at the next build, with no list to keep by hand.
- ``build_nav(docs_dir)`` lays out the site: the pages it knows in the order of a course,
  then every other Markdown page under ``docs/`` (pages that other work adds later), so no
  page is left out of the navigation.
"""
from __future__ import annotations

import importlib
import inspect
import pathlib
import types

ROOT_MODULE = "chainrule"

# Derivation pages (docs/*.md) that explain a module or a name: the API pages link them.
DERIVATIONS = {
    "chainrule": [("How chainrule computes gradients", "autograd.md")],
    "chainrule.functional": [
        ("Softmax and cross-entropy", "softmax_cross_entropy.md"),
        ("Batch normalization", "batch_normalization.md"),
        ("Convolution", "convolution.md"),
    ],
    "chainrule.losses": [("Softmax and cross-entropy", "softmax_cross_entropy.md")],
    "chainrule.layers": [("Convolution", "convolution.md"), ("Batch normalization", "batch_normalization.md")],
    "chainrule.optimizers": [("Optimizers", "optimizers.md")],
    "chainrule.optimizers.schedules": [("Optimizers", "optimizers.md")],
    "chainrule.regularizers": [("Regularization", "regularization.md")],
}
NAME_DERIVATIONS = {
    "softmax": "softmax_cross_entropy.md", "log_softmax": "softmax_cross_entropy.md",
    "categorical_crossentropy": "softmax_cross_entropy.md",
    "sparse_categorical_crossentropy": "softmax_cross_entropy.md",
    "batch_norm": "batch_normalization.md", "BatchNormalization": "batch_normalization.md",
    "conv": "convolution.md", "conv_transpose": "convolution.md", "Conv1D": "convolution.md",
    "Conv2D": "convolution.md", "Conv3D": "convolution.md", "ConvND": "convolution.md",
    "backward": "autograd.md", "grad": "autograd.md", "Function": "autograd.md", "Tensor": "autograd.md",
    "SGD": "optimizers.md", "Adam": "optimizers.md", "AdamW": "optimizers.md", "RMSprop": "optimizers.md",
    "Adagrad": "optimizers.md", "L1": "regularization.md", "L2": "regularization.md",
    "L1L2": "regularization.md", "dropout": "regularization.md", "Dropout": "regularization.md",
}

# The site's order. Pages not listed here are added after them, so new pages always appear.
TUTORIALS = [
    "tutorials/index.md",
    "tutorials/neuron_and_layer.md",
    "tutorials/activations.md",
    "tutorials/losses.md",
    "tutorials/gradient_descent.md",
    "tutorials/backpropagation.md",
    "tutorials/regularization.md",
    "tutorials/convolution.md",
    "tutorials/recurrent.md",
    "tutorials/attention.md",
    "tutorials/generative.md",
]
GUIDES = ["guides/pictures.md"]
DERIVATION_ORDER = [
    "autograd.md", "softmax_cross_entropy.md", "batch_normalization.md", "convolution.md", "optimizers.md",
    "regularization.md",
]
CONTRIBUTING = ["contributing/docstrings.md"]


# ------------------------------------------------------------------------------ public names
def _is_ours(value) -> bool:
    if isinstance(value, types.ModuleType):
        return value.__name__.startswith(ROOT_MODULE + ".")
    return getattr(value, "__module__", None) is not None and str(value.__module__).startswith(ROOT_MODULE)


def public_names(module: types.ModuleType) -> list[str]:
    """The names a module exports: ``__all__`` when it has one, else its public attributes
    that chainrule defines (functions, classes, submodules), in alphabetical order."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(dict.fromkeys(names))
    return sorted(n for n, v in vars(module).items() if not n.startswith("_") and _is_ours(v))


def public_modules() -> list[str]:
    """Every public module, top first then depth-first in ``__all__`` order."""
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.append(name)
        module = importlib.import_module(name)
        for attr in public_names(module):
            value = getattr(module, attr, None)
            if isinstance(value, types.ModuleType) and value.__name__.startswith(ROOT_MODULE + "."):
                visit(value.__name__)

    visit(ROOT_MODULE)
    # chainrule.utils and the like, imported lazily or not yet listed in chainrule.__all__:
    # a top-level subpackage that is importable is public unless its name starts with "_".
    package = importlib.import_module(ROOT_MODULE)
    for sub in ("utils", "keras", "random"):
        name = f"{ROOT_MODULE}.{sub}"
        if name not in seen and importlib.util.find_spec(name) is not None:
            if hasattr(package, sub):
                visit(name)
    return seen


def public_api() -> dict[str, list[str]]:
    """``{module: [public name, ...]}`` over every public module (submodules excluded)."""
    out = {}
    for modname in public_modules():
        module = importlib.import_module(modname)
        out[modname] = [n for n in public_names(module) if not isinstance(getattr(module, n, None), types.ModuleType)]
    return out


# ------------------------------------------------------------------------------ API pages
def page_path(modname: str) -> str:
    """``chainrule.layers`` -> ``api/layers.md``; ``chainrule`` -> ``api/chainrule.md``."""
    if modname == ROOT_MODULE:
        return "api/chainrule.md"
    return "api/" + modname[len(ROOT_MODULE) + 1:] + ".md"


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n")[0] if doc.strip() else ""


def api_page(modname: str) -> str:
    """The Markdown of one module's reference page."""
    module = importlib.import_module(modname)
    lines = [f"# `{modname}`", ""]
    summary = inspect.getdoc(module)
    if summary:
        lines += ["::: " + modname, "    options:", "      members: false", "      show_root_heading: false",
                  "      show_root_toc_entry: false", ""]
    links = DERIVATIONS.get(modname)
    if links:
        lines += ["Derivations: " + ", ".join(f"[{t}](../{p})" for t, p in links) + ".", ""]
    submodules, rendered = [], {}
    names = public_names(module)
    for name in names:
        value = getattr(module, name, None)
        if isinstance(value, types.ModuleType):
            submodules.append(value.__name__)
    if submodules:
        lines += ["Submodules: " + ", ".join(f"[`{m}`]({pathlib.PurePosixPath(page_path(m)).name})"
                                               for m in submodules) + ".", ""]
    for name in names:
        value = getattr(module, name, None)
        if isinstance(value, types.ModuleType) or value is None:
            continue
        if not (callable(value) or inspect.isclass(value)):
            lines += [f"## `{modname}.{name}`", "", f"A constant: `{value!r}`." if len(repr(value)) < 80
                      else "A constant.", ""]
            continue
        key = id(value)
        if key in rendered:
            # An alias on the same page (Convolution2D for Conv2D): one entry, one pointer.
            first = rendered[key]
            lines += [f"## `{modname}.{name}`", "",
                      f"The same object as [`{first}`](#{modname}.{first}).", ""]
            continue
        rendered[key] = name
        if "<locals>" in getattr(value, "__qualname__", ""):
            # Made by a factory (the comparisons, argmax): no source location for mkdocstrings
            # to resolve, so the entry is written here from the live object.
            lines += _manual_entry(modname, name, value)
        else:
            lines += [f"::: {modname}.{name}", ""]
        page = NAME_DERIVATIONS.get(name)
        if page:
            lines += [f"Derivation: [{page[:-3].replace('_', ' ')}](../{page}).", ""]
    return "\n".join(lines)


def _manual_entry(modname: str, name: str, value) -> list[str]:
    try:
        signature = f"{name}{inspect.signature(value)}"
    except (TypeError, ValueError):
        signature = f"{name}(...)"
    doc = inspect.getdoc(value) or ""
    return [f"## `{modname}.{name}`", "", "```python", signature, "```", "", doc, ""]


def api_index(modules: list[str]) -> str:
    lines = [
        "# API reference", "",
        "Generated from chainrule's docstrings at every build: each public module has a page, and every name",
        "in a module's `__all__` has an entry with its signature, its formula and, for differentiable ops,",
        "the derivative its backward pass uses. The convention the docstrings follow is in",
        "[Docstring math](../contributing/docstrings.md).", "",
        "| module | what it holds |", "| --- | --- |",
    ]
    for m in modules:
        summary = _first_line(importlib.import_module(m)).replace("|", "\\|")
        lines.append(f"| [`{m}`]({pathlib.PurePosixPath(page_path(m)).name}) | {summary} |")
    return "\n".join(lines) + "\n"


def api_pages() -> dict[str, str]:
    """``{path under docs/: markdown}`` for the whole API reference."""
    modules = public_modules()
    pages = {"api/index.md": api_index(modules)}
    for m in modules:
        pages[page_path(m)] = api_page(m)
    return pages


def documented_identifiers(pages: dict[str, str]) -> set[str]:
    """Every ``::: identifier`` and alias heading the pages hold (what the reference lists)."""
    found = set()
    for text in pages.values():
        for line in text.splitlines():
            if line.startswith("::: "):
                found.add(line[4:].strip())
            elif line.startswith("## `") and line.endswith("`"):
                found.add(line[4:-1])
    return found


# ------------------------------------------------------------------------------ navigation
def _title(path: pathlib.Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip().strip("`")
    return path.stem.replace("_", " ").capitalize()


def build_nav(docs_dir, api_paths: list[str]) -> list:
    """The navigation: known pages in course order, then any other page that exists."""
    docs_dir = pathlib.Path(docs_dir)
    existing = sorted(p.relative_to(docs_dir).as_posix() for p in docs_dir.rglob("*.md"))
    placed: set[str] = set()

    def section(order: list[str], prefix: str | None) -> list:
        chosen = [p for p in order if p in existing]
        if prefix is not None:
            chosen += [p for p in existing if p.startswith(prefix) and p not in order]
        placed.update(chosen)
        return [{_title(docs_dir / p): p} for p in chosen]

    nav: list = []
    if "index.md" in existing:
        nav.append({"Home": "index.md"})
        placed.add("index.md")
    nav.append({"Tutorials": section(TUTORIALS, "tutorials/")})
    nav.append({"Guides": section(GUIDES, "guides/")})
    top_level = [p for p in existing if "/" not in p and p not in placed]
    derivations = section(DERIVATION_ORDER, None)
    # Top-level pages other work adds (functional.md, recurrent.md, ...) join the derivations.
    rest = [p for p in top_level if p not in placed]
    placed.update(rest)
    derivations += [{_title(docs_dir / p): p} for p in rest]
    nav.append({"Derivations": derivations})
    api = [p for p in api_paths if p != "api/index.md"]
    nav.append({"API reference": [{"Overview": "api/index.md"}]
                + [{pathlib.PurePosixPath(p).stem if p != "api/chainrule.md" else "chainrule": p} for p in api]})
    nav.append({"Contributing": section(CONTRIBUTING, "contributing/")})
    others = [p for p in existing if p not in placed and not p.startswith("api/")]
    if others:
        nav.append({"More": [{_title(docs_dir / p): p} for p in others]})
    return nav


def nav_paths(nav) -> set[str]:
    """Every page path a navigation holds."""
    out: set[str] = set()
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            out |= nav_paths(value)
        else:
            out.add(value)
    return out
