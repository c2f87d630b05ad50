"""Layers as JSON: ``{"class_name", "module", "qualname", "config"}``, and back.

A saved model, a ``Bidirectional`` wrapper or an ``RNN`` of cells names its layers by class;
loading finds each class again without ever importing a module a file names (other than
chainrule's own), so a file cannot make chainrule run code. The model floor registers its
classes (``Sequential``, ``Model``, ``Functional``) with ``register_builtin`` at import, so
this floor never imports the one above it.
"""
from __future__ import annotations

import importlib
import inspect
import sys

from .. import custom_objects as _custom

#: chainrule's own non-layer-module classes a file may name (filled by the model floor).
_BUILTIN: dict = {}


def register_builtin(cls) -> None:
    """Make ``cls`` findable by its class name in saved files (the model classes)."""
    _BUILTIN[cls.__name__] = cls


def serialize_layer(layer) -> dict:
    """``{"class_name", "module", "config"}`` of a layer (or a nested model)."""
    cls = type(layer)
    return {"class_name": cls.__name__, "module": cls.__module__, "qualname": cls.__qualname__,
            "config": dict(layer.get_config())}


def resolve_class(class_name: str, module=None, qualname=None, custom_objects=None, what="layer"):
    found = _custom.lookup(class_name, custom_objects)
    if found is None and qualname:
        found = _custom.lookup(qualname, custom_objects)
    if found is not None:
        return found
    from .. import layers as layers_mod

    if class_name in _BUILTIN and (module is None or module.startswith("chainrule.")):
        return _BUILTIN[class_name]
    if (module is None or module.startswith("chainrule.")) and isinstance(getattr(layers_mod, class_name, None),
                                                                          type):
        return getattr(layers_mod, class_name)
    if module and qualname and "<locals>" not in qualname:
        # A module that is already imported is searched; a new import happens only for chainrule's
        # own modules (as Keras 3 imports only its own packages): importing a module named in a
        # file would run that module's code.
        mod = sys.modules.get(module)
        if mod is None and (module == "chainrule" or module.startswith("chainrule.")):
            try:
                mod = importlib.import_module(module)
            except ImportError:
                mod = None
        obj = mod
        for part in qualname.split("."):
            obj = getattr(obj, part, None) if obj is not None else None
        if isinstance(obj, type):
            return obj
    where = f" (from module {module!r})" if module else ""
    raise ValueError(
        f"unknown {what} class {class_name!r}{where}: it is not a chainrule class, and its module is "
        f"not imported (a saved file never makes chainrule import a module). Import the module that defines "
        f"it, or pass custom_objects={{{class_name!r}: {class_name}}} to load_model")


def deserialize_layer(entry: dict, custom_objects=None):
    """The layer that ``serialize_layer`` described."""
    if not isinstance(entry, dict) or "class_name" not in entry:
        raise ValueError(f"deserialize_layer: expected a dict with 'class_name' and 'config', got {entry!r}")
    with _custom.custom_object_scope(custom_objects):  # the names reach activations.get & co.
        cls = resolve_class(entry["class_name"], entry.get("module"), entry.get("qualname"), custom_objects)
        from .base import Layer

        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise ValueError(f"deserialize_layer: {entry['class_name']!r} names {cls!r}, which is not a layer class; "
                             "a saved model can only name layer classes")
        config = dict(entry.get("config") or {})
        params = inspect.signature(cls.from_config).parameters
        if "custom_objects" in params:
            return cls.from_config(config, custom_objects=custom_objects)
        return cls.from_config(config)
