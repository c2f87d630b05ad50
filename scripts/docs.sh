#!/usr/bin/env bash
# Build the documentation site into site/ (mkdocs build --strict), or serve it with live reload.
#   bash scripts/docs.sh          build
#   bash scripts/docs.sh serve    serve on http://127.0.0.1:8000 (DOCS_ADDR=host:port to change)
# Sets up .venv with chainrule's docs extra (MkDocs, Material, mkdocstrings, MathJax from PyPI,
# the graphviz package) and, where apt-get can be used, the system's Graphviz (the model and
# graph pictures) and Chromium (tests/test_docs_browser.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q -e ".[docs]"
missing=""
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null \
            || echo "docs.sh: could not install$missing with apt-get; the pictures show DOT text instead" >&2
    else
        echo "docs.sh: install$missing with your system's packages (e.g. sudo apt-get install$missing)" >&2
    fi
fi
export NO_MKDOCS_2_WARNING=1
case "${1:-build}" in
    build) .venv/bin/python -m mkdocs build --strict ;;
    serve) .venv/bin/python -m mkdocs serve --strict -a "${DOCS_ADDR:-127.0.0.1:8000}" ;;
    *) echo "usage: bash scripts/docs.sh [build|serve]" >&2; exit 2 ;;
esac
