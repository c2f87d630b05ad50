#!/usr/bin/env bash
# The main job: set up a virtual environment with chainrule, then train a CNN on MNIST
# and print its test accuracy. Usage: bash scripts/train.sh [recipe] [chainrule train options]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
if [ -z "${CHAINRULE_DATA:-}" ] && [ -d ../shared/datasets ]; then
    export CHAINRULE_DATA="$(cd ../shared/datasets && pwd)"
fi
recipe=${1:-texts-cnn}
shift || true
exec .venv/bin/chainrule train "$recipe" "$@"
