"""Load a script of examples/ as a module (its ``from _common import ...`` included), for the tests."""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_example(filename: str, module_name: str):
    """``examples/<filename>`` imported as ``module_name`` (its ``main`` is not run)."""
    sys.path.insert(0, os.path.join(ROOT, "examples"))      # for its `from _common import ...`
    try:
        spec = importlib.util.spec_from_file_location(module_name, os.path.join(ROOT, "examples", filename))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module
