#!/usr/bin/env bash
# Set up a virtual environment (chainrule, its test extra, and PyTorch 2.13.0 CPU as the
# test oracle) and run the test suite. Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,plot]"
# PyTorch is the oracle of the differential tests, never a dependency of the library.
.venv/bin/python -m pip install -q torch==2.13.0
if [ -z "${CHAINRULE_DATA:-}" ] && [ -d ../shared/datasets ]; then
    export CHAINRULE_DATA="$(cd ../shared/datasets && pwd)"
fi
.venv/bin/python -m pytest "$@"
