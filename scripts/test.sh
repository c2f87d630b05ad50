#!/usr/bin/env bash
# Set up a virtual environment (chainrule, its test and docs extras, and PyTorch 2.13.0 CPU as
# the test oracle) and run the test suite. Usage: bash scripts/test.sh [pytest args]
# The docs extra lets tests/test_docs.py run `mkdocs build --strict` (about 20 s); Graphviz's
# `dot` (for the pictures) is installed with apt-get where that works, and its tests skip otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,docs]"
if ! command -v dot >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz; } >/dev/null 2>&1 \
        || echo "test.sh: could not install graphviz; the picture tests that need dot will skip" >&2
fi
# PyTorch is the oracle of the differential tests, never a dependency of the library.
.venv/bin/python -m pip install -q torch==2.13.0
if [ -z "${CHAINRULE_DATA:-}" ] && [ -d ../shared/datasets ]; then
    export CHAINRULE_DATA="$(cd ../shared/datasets && pwd)"
fi
.venv/bin/python -m pytest "$@"
