"""The documentation cannot drift: every page's code runs, every public name is in the API
reference, every page is in the navigation, and ``mkdocs build --strict`` passes."""
import importlib
import os
import pathlib
import subprocess
import sys
import types

import pytest

import chainrule as cr
from docs_runner import blocks, run_page

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md"))
sys.path.insert(0, str(ROOT / "scripts"))
import docsgen  # noqa: E402


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # pictures and saved models land in a scratch folder
    cr.manual_seed(0)
    result = run_page(page)
    if result["ran"] == 0 and result["skipped"]:
        pytest.skip("; ".join(result["skipped"]))


def test_runner_honours_markers(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        "<!-- docs-test: setup\nx = 2\n-->\n"
        "```python\ny = x + 1\n```\n"
        "<!-- docs-test: skip (slow) -->\n```python\nraise RuntimeError('must not run')\n```\n"
        "<!-- docs-test: if hasattr(cr.layers, 'NoSuchLayer') -->\n```python\nraise RuntimeError('no')\n```\n"
        "```bash\nexit 1\n```\n"
        "!!! note\n    ```python\n    assert y == 3\n    ```\n"
    )
    kinds = [b.kind for b in blocks(page.read_text())]
    assert kinds == ["setup", "run", "skip", "if", "run"]
    result = run_page(page)
    assert result["ran"] == 3 and len(result["skipped"]) == 2
    page.write_text("```python\nassert 1 == 2\n```\n")
    with pytest.raises(AssertionError):
        run_page(page)


def _public_names_from_all():
    """The public names, walked here independently of docsgen: every module reachable from
    chainrule through ``__all__`` entries that are modules, and the non-module names in each
    ``__all__`` (functional has none yet: its public functions are those chainrule defines)."""
    names, todo, seen = set(), [cr], set()
    for sub in ("utils", "keras", "random"):
        if hasattr(cr, sub):
            todo.append(getattr(cr, sub))
    while todo:
        module = todo.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [n for n, v in vars(module).items() if not n.startswith("_")
                        and (getattr(v, "__module__", "") or getattr(v, "__name__", "")).startswith("chainrule")]
        for name in exported:
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                todo.append(value)
            else:
                names.add(f"{module.__name__}.{name}")
    return names


def test_every_public_name_is_in_the_api_reference():
    public = _public_names_from_all()
    assert "chainrule.functional.sigmoid" in public and "chainrule.layers.Dense" in public
    listed = docsgen.documented_identifiers(docsgen.api_pages())
    missing = sorted(public - listed)
    assert not missing, f"public names missing from the API reference: {missing}"


def test_api_entries_resolve_to_the_objects():
    # Each ':::' identifier names a live object (mkdocstrings would fail the strict build otherwise).
    for ident in docsgen.documented_identifiers(docsgen.api_pages()):
        modname, _, attr = ident.rpartition(".")
        try:
            module = importlib.import_module(ident)
            continue
        except ImportError:
            pass
        assert hasattr(importlib.import_module(modname), attr), ident


def test_every_page_is_in_the_navigation():
    api = list(docsgen.api_pages())
    nav = docsgen.build_nav(DOCS, api)
    in_nav = docsgen.nav_paths(nav)
    pages = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert pages - in_nav == set()
    assert set(api) <= in_nav


def test_nav_takes_pages_added_later(tmp_path):
    (tmp_path / "tutorials").mkdir()
    (tmp_path / "index.md").write_text("# Home\n")
    (tmp_path / "recurrent.md").write_text("# Recurrent layers\n")
    (tmp_path / "tutorials" / "new_chapter.md").write_text("# A new chapter\n")
    (tmp_path / "odd" / "deep").mkdir(parents=True)
    (tmp_path / "odd" / "deep" / "x.md").write_text("no heading\n")
    nav = docsgen.build_nav(tmp_path, ["api/index.md"])
    assert {"index.md", "recurrent.md", "tutorials/new_chapter.md", "odd/deep/x.md"} <= docsgen.nav_paths(nav)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The site built once by ``mkdocs build --strict`` (skipped without the docs extra)."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    site = tmp_path_factory.mktemp("docs") / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return site


def test_mkdocs_build_strict(built_site):
    html = (built_site / "api" / "functional" / "index.html").read_text()
    assert 'id="chainrule.functional.sigmoid"' in html
    # MathJax is served from the site itself: no page loads a script or a font from another host.
    assert (built_site / "assets" / "mathjax" / "tex-chtml.js").exists()
    assert (built_site / "assets" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    for page in built_site.rglob("*.html"):
        text = page.read_text()
        for host in ("fonts.googleapis", "cdn.jsdelivr", "polyfill.io", "unpkg.com", "cdnjs"):
            assert host not in text, (page, host)
    # The pictures were drawn by the library at build time.
    for name in ("model_mlp", "model_cnn", "model_residual", "graph_neuron"):
        assert (built_site / "assets" / "generated" / f"{name}.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def _chromium():
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _serve(directory):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _rendered_dom(url):
    """The page's DOM after its scripts ran (MathJax typesets on load), from headless Chromium."""
    proc = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (bash scripts/docs.sh installs it)")
def test_math_is_typeset_in_a_browser(built_site):
    import re

    server = _serve(built_site)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        pages = {path: _rendered_dom(base + path) for path in
                 ("/tutorials/attention/", "/batch_normalization/", "/api/functional/", "/api/chainrule/",
                  "/api/optimizers/")}
    finally:
        server.shutdown()
    for path, page in pages.items():
        # Every formula on the page became MathJax output; no TeX is left as text.
        formulas = re.findall(r'<(?:span|div) class="arithmatex">(.*?)</(?:span|div)>', page, flags=re.S)
        assert len(formulas) >= 5, (path, len(formulas))
        untypeset = [f[:80] for f in formulas if "<mjx-container" not in f]
        assert not untypeset, (path, untypeset[:3])
        text = re.sub(r"<mjx-assistive-mml.*?</mjx-assistive-mml>|<[^>]+>", "", page, flags=re.S)
        assert "$$" not in text and "\\frac" not in text, path
    api = pages["/api/functional/"]
    # The sigmoid entry shows its derivative: the summary line, and d sigma / dx typeset from the Math section.
    start = api.index('id="chainrule.functional.sigmoid"')
    entry = api[start:api.index('id="chainrule.functional.silu"')]
    assert "dy/dx = y (1 - y)" in entry
    assert "<mjx-container" in entry
    assert re.search(r"<mfrac><mrow><mi>d</mi><mi>σ</mi></mrow><mrow><mi>d</mi><mi>x</mi></mrow></mfrac>", entry)
