"""Import paths for modules that live under another name.

``cr.datasets`` is ``chainrule.data.datasets`` and ``chainrule.keras.layers`` is
``chainrule.layers``. An attribute makes ``cr.datasets.mnist`` work, but ``from
chainrule.datasets import mnist`` goes through the import system, which looks the dotted
name up in ``sys.modules``; ``register`` puts the module (and its loaded submodules) there
under the other name, so both spellings give the same module object.
"""
from __future__ import annotations

import sys


def register(alias: str, module) -> None:
    """Make ``import alias`` (and ``import alias.sub`` for each loaded submodule) find ``module``."""
    sys.modules.setdefault(alias, module)
    inner = module.__name__ + "."
    for name, sub in list(sys.modules.items()):
        rest = name[len(inner):]
        if name.startswith(inner) and sub is not None and "." not in rest:
            register(f"{alias}.{rest}", sub)


__all__ = ["register"]
