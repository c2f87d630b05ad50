"""Custom objects: how a saved name finds the user's class or function again (Keras's custom-object scope).

A saved model names everything in it: layer classes, activations, initializers,
regularizers, losses and metrics. Built-in names resolve by themselves; any
other name is looked up, in this order, in

* the ``custom_objects`` dict given to the call (``load_model(path, custom_objects=...)``),
* the dicts of the enclosing ``custom_object_scope(...)`` blocks, innermost first
  (``load_model`` opens one around the whole rebuild, so a name reaches every
  ``activations.get``, ``initializers.get``, ... that the layers' constructors call),
* ``get_custom_objects()``, a global registry the user may fill.

    with cr.models.custom_object_scope({"myact": myact}):
        layer = cr.layers.Dense.from_config(config)
"""
from __future__ import annotations

import contextlib
import threading

_GLOBAL: dict = {}


class _Scopes(threading.local):
    stack: tuple = ()


_scopes = _Scopes()


def get_custom_objects() -> dict:
    """The global registry of custom objects (a dict the caller may update)."""
    return _GLOBAL


@contextlib.contextmanager
def custom_object_scope(*dicts):
    """Within the block, the names in ``dicts`` resolve to their objects during deserialization."""
    merged = {}
    for d in dicts:
        if d:
            if not isinstance(d, dict):
                raise TypeError(f"custom_object_scope: expected dicts of name -> object, got {type(d).__name__}")
            merged.update(d)
    previous = _scopes.stack
    _scopes.stack = previous + (merged,) if merged else previous
    try:
        yield merged
    finally:
        _scopes.stack = previous


def lookup(name, custom_objects=None):
    """The custom object called ``name`` (see the module docstring for the order), or None."""
    if not isinstance(name, str):
        return None
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for scope in reversed(_scopes.stack):
        if name in scope:
            return scope[name]
    return _GLOBAL.get(name)


def instantiate(cls, config=None):
    """An instance of the custom class ``cls`` from its saved ``config`` (``from_config`` if it has one)."""
    cfg = dict(config or {})
    return cls.from_config(cfg) if hasattr(cls, "from_config") else cls(**cfg)


def hint(name) -> str:
    """The advice to append to an "unknown name" error."""
    return f"; for a custom one pass custom_objects={{{name!r}: ...}} to load_model (or use custom_object_scope)"


__all__ = ["custom_object_scope", "get_custom_objects", "instantiate", "lookup"]
