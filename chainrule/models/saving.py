"""Saving and loading models: one safetensors file per model.

``model.save(path)`` writes a single `safetensors <https://github.com/huggingface/safetensors>`_
file. Its tensors are the weights, named ``"<index>:<layer path>/<weight>"`` (e.g.
``"0000:dense/kernel"``) so their order is exactly ``model.weights``, plus the optimizer
state (``"optimizer:<key>"``) when the model was compiled. Its metadata holds one JSON
document under ``"chainrule_config"``: the model's class (name, module and qualified
name), its config (for a Sequential, each layer's class and config), the input
signature used to build it, and the compile settings (optimizer, loss and metrics,
serialized). ``save_weights`` writes the same kind of file without the architecture.

``load_model(path, custom_objects=None, compile=True)`` rebuilds the model from the
config, builds it with zeros of the recorded input shape, loads the weights, and
compiles it again. A Sequential of built-in layers needs nothing else. A subclassed
model, or a custom layer, must be importable by its module and name (defined at the
top level of a module, not inside a function) or be passed in ``custom_objects``
(``{"MyModel": MyModel}``); its ``get_config`` must give the constructor arguments
(``Model`` records them automatically when they are JSON-able). A custom function
a layer holds (``activation=myact``, ``kernel_initializer=``, ``*_regularizer=``),
or a custom loss or metric function, is saved by its name, and an object with
``get_config`` as ``{"class_name", "config"}``; ``custom_objects`` maps those names
back, for the whole rebuild (Keras's custom-object scope, see
``chainrule.custom_objects``). A lambda has no name and cannot be saved.

Every write is atomic: the bytes go to a temporary file in the same directory, are
flushed to disk (fsync), and the file is renamed over the target (``os.replace``);
on any error the previous file is untouched and the temporary one removed. Saving
to a symbolic link replaces the file it points to and leaves the link in place.
The metadata also holds ``"chainrule_sha256"``, a SHA-256 of the tensors (names,
dtypes, shapes and bytes), checked at load, so a single flipped bit in the weights
is caught (files written before it existed load without the check). A file that
is truncated, corrupt or not a chainrule file gives a ``ValueError`` naming the
file and what is wrong.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import tempfile
import warnings

import numpy as np

from .. import custom_objects as _custom
# Layers as JSON live on the layer floor (wrappers and RNNs save their inner layers too).
from ..layers.serialization import deserialize_layer, serialize_layer  # noqa: F401
from ..layers.serialization import resolve_class as _resolve_class

FORMAT_VERSION = 1
_CONFIG_KEY = "chainrule_config"
_DIGEST_KEY = "chainrule_sha256"  # weights_digest of the tensors, checked at load (absent in older files)


# ------------------------------------------------------------------------------------------ writing
def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, tuple):
        return list(obj)
    # A custom callable a layer kept in its config (an activation, initializer, regularizer): saved by
    # name, found again at load through custom_objects.
    if callable(obj) and not inspect.isclass(obj):
        if inspect.isroutine(obj):
            name = getattr(obj, "__name__", None)
            if name and name != "<lambda>":
                return name
            raise TypeError(f"the lambda {obj!r} has no name to be found by at load; define it with def and pass "
                            "custom_objects={'its_name': it} to load_model")
        if callable(getattr(obj, "get_config", None)):
            return {"class_name": type(obj).__name__, "config": obj.get_config()}
    raise TypeError(f"{type(obj).__name__} {obj!r} is not JSON-serializable")


def _culprit(value, layer=None, path=()):
    """``(layer name, class, key path, error)`` of the first part of a config that JSON cannot hold
    (or that names a lambda, which nothing can find again at load)."""
    if isinstance(value, dict):
        cfg = value.get("config")
        if "class_name" in value and isinstance(cfg, dict) and "name" in cfg:
            layer, path = (cfg["name"], value["class_name"]), ()
        for key, item in value.items():
            found = _culprit(item, layer, path if key == "config" and layer and not path else path + (key,))
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _culprit(item, layer, path + (i,))
            if found:
                return found
        return None
    if value == "<lambda>":
        return layer, path, TypeError("it is a lambda, which has no name to be found by at load; define it with "
                                      "def and pass custom_objects={'its_name': it} to load_model")
    try:
        json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        return layer, path, exc
    return None


def _to_json(doc, who: str) -> str:
    try:
        text = json.dumps(doc, default=_json_default)
        if '"<lambda>"' in text and _culprit(doc.get("config")):
            raise TypeError("a lambda")
        return text
    except (TypeError, ValueError) as exc:
        found = _culprit(doc.get("config"))
        if found and found[0]:
            (name, cls), path, err = found
            key = ".".join(str(p) for p in path if p not in ("layers",)) or "config"
            raise ValueError(f"{who}: layer {name!r} ({cls}): its config entry {key!r} cannot be written as JSON: "
                             f"{err}") from None
        raise ValueError(f"{who}: the model's configuration cannot be written as JSON: {exc}. Give custom layers "
                         "a get_config() of plain values (numbers, strings, lists, dicts)") from None


def _named_weights(model) -> list:
    """``[(key, Tensor)]`` in ``model.weights`` order; key = ``"<index>:<layer path>/<weight name>"``."""
    out, seen = [], set()

    def walk(layer, path):
        yield layer, path
        for sub in layer._layers:
            yield from walk(sub, f"{path}/{sub.name}" if path else sub.name)

    for layer, path in walk(model, ""):
        for w in layer._own_weights:
            if id(w) in seen:
                continue
            seen.add(id(w))
            short = (w.name or "weight").rsplit("/", 1)[-1]
            out.append((f"{len(out):04d}:{path + '/' if path else ''}{short}", w))
    weights = model.weights
    if [id(w) for _, w in out] != [id(w) for w in weights]:  # a layer that overrides .weights
        out = [(f"{i:04d}:{w.name or 'weight'}", w) for i, w in enumerate(weights)]
    return out


def _contiguous(a) -> np.ndarray:
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one.)
    a = np.asarray(a)
    return a if a.flags.c_contiguous else a.copy(order="C")


def _weight_tensors(model) -> dict:
    return {key: _contiguous(w.data) for key, w in _named_weights(model)}


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, fsync, ``os.replace``.

    A ``path`` that is a symbolic link is written through: the file it points to is replaced and the
    link stays a link.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: the directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def weights_digest(tensors: dict) -> str:
    """``"sha256:<hex>"`` of a file's tensors: each one's name, dtype, shape and bytes, in name order.

    Independent of where the tensors lie in the file, so it is computed from the arrays on both sides.
    """
    h = hashlib.sha256()
    for key in sorted(tensors):
        a = np.asarray(tensors[key])
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False)).reshape(-1)
        h.update(f"{key}\0{a.dtype.str}\0{tuple(np.shape(tensors[key]))}\0".encode())
        h.update(a.view(np.uint8))
    return "sha256:" + h.hexdigest()


def _write(path, tensors: dict, doc: dict, overwrite: bool, who: str) -> None:
    from safetensors.numpy import save

    if not overwrite and os.path.exists(os.fspath(path)):
        raise FileExistsError(f"{who}: {os.fspath(path)!r} exists and overwrite=False")
    data = save(tensors, metadata={_CONFIG_KEY: _to_json(doc, who), _DIGEST_KEY: weights_digest(tensors)})
    atomic_write(path, data)


def _build_signature(model):
    sig = getattr(model, "_build_input", None)
    if sig is None:
        return None
    return {"inputs": [[list(shape), dtype] for shape, dtype in sig["inputs"]], "multi": bool(sig["multi"])}


def _compile_config(model):
    from .. import losses, metrics as metrics_mod, optimizers

    if not getattr(model, "_is_compiled", False):
        return None
    from .compile_utils import CompileLoss

    cfg = {"optimizer": optimizers.serialize(model.optimizer), "loss": None, "metrics": [], "weighted_metrics": []}

    def one_loss(loss):
        if loss is None:
            return None
        try:
            entry = losses.serialize(loss)
            json.dumps(entry, default=_json_default)
            return entry
        except (TypeError, ValueError):
            return getattr(loss, "name", None)

    compiled = model.compiled_loss
    if isinstance(compiled, CompileLoss):  # one loss per output (or one weighted loss): by output name
        names = compiled.output_names
        if len(names) == 1:
            cfg["loss"], cfg["loss_weights"] = one_loss(compiled.losses[0]), compiled.weights[0]
        else:
            cfg["loss"] = {n: one_loss(loss) for n, loss in zip(names, compiled.losses)}
            if any(w is not None for w in compiled.weights):
                cfg["loss_weights"] = {n: (1.0 if w is None else w) for n, w in zip(names, compiled.weights)}
    elif compiled is not None:
        cfg["loss"] = one_loss(compiled)
    outputs = list(getattr(model, "_metric_outputs", None) or [None] * len(model._metric_ids))
    names = model.__dict__.get("output_names") or []
    if any(i is not None for i in outputs):
        cfg["metrics"], cfg["weighted_metrics"] = {}, {}
    for ident, metric, weighted, index in zip(model._metric_ids, model.compiled_metrics, model._weighted_flags,
                                              outputs):
        if isinstance(ident, str):
            entry = ident
        elif inspect.isfunction(ident) and ident.__name__ != "<lambda>" and ident is not getattr(
                metrics_mod, ident.__name__, None):
            entry = ident.__name__  # a custom metric function: found again by name (custom_objects)
        else:
            try:
                entry = metrics_mod.serialize(metric)
                json.dumps(entry, default=_json_default)
            except (TypeError, ValueError):
                entry = metric.name
        group = cfg["weighted_metrics" if weighted else "metrics"]
        if index is None:
            group.append(entry)
        else:
            group.setdefault(names[index], []).append(entry)
    return cfg


def _worker_process() -> bool:
    """True on ranks other than 0 of a data-parallel run (chainrule.distributed on several processes),
    which leave writing to rank 0; found in sys.modules, never imported from here."""
    comm = sys.modules.get("chainrule.distributed.comm")
    return comm is not None and comm.active() and not comm.is_root()


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Write ``model`` (architecture, weights, compile settings, optimizer state) to one file.

    In a data-parallel run on several processes only rank 0 writes (the ranks hold the same weights).
    """
    who = "model.save"
    if _worker_process():
        return
    if hasattr(model, "_ensure_built"):
        model._ensure_built()
    try:
        config = model.get_config()
    except NotImplementedError as exc:
        raise ValueError(f"{who}: {exc}") from None
    cls = type(model)
    tensors = _weight_tensors(model)
    doc = {
        "format_version": FORMAT_VERSION, "kind": "model",
        "class_name": cls.__name__, "module": cls.__module__, "qualname": cls.__qualname__,
        "config": config, "build_input": _build_signature(model),
        "weight_names": list(tensors), "compile_config": None,
    }
    if getattr(model, "_is_compiled", False):
        doc["compile_config"] = _compile_config(model)
        if include_optimizer and model.optimizer is not None:
            for key, value in model.optimizer.get_state().items():
                tensors[f"optimizer:{key}"] = _contiguous(value)
    _write(filepath, tensors, doc, overwrite, who)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write the weights of ``model`` (in ``model.weights`` order) to a safetensors file."""
    if _worker_process():
        return  # rank 0 writes (see save_model)
    if hasattr(model, "_ensure_built"):
        model._ensure_built()
    tensors = _weight_tensors(model)
    doc = {"format_version": FORMAT_VERSION, "kind": "weights", "class_name": type(model).__name__,
           "build_input": _build_signature(model), "weight_names": list(tensors)}
    _write(filepath, tensors, doc, overwrite, "save_weights")


# ------------------------------------------------------------------------------------------ reading
def read_file(filepath, who: str):
    """``(doc, tensors)`` of a chainrule file; a clear ValueError for anything that is not one."""
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{who}: no such file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{who}: {path!r} is a directory, not a chainrule model file")
    with open(path, "rb") as f:
        data = f.read()
    bad = f"{who}: {path!r} is not a valid chainrule file"
    if len(data) < 8:
        raise ValueError(f"{bad}: it is only {len(data)} bytes long (empty or truncated)")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"{bad}: its header claims {n} bytes but only {len(data) - 8} follow "
                         "(truncated, or not a safetensors file)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{bad}: its header is not valid JSON (corrupt, or not a safetensors file)") from None
    meta = header.get("__metadata__") or {}
    if _CONFIG_KEY not in meta:
        raise ValueError(f"{bad}: it is a safetensors file without a {_CONFIG_KEY!r} entry in its metadata "
                         "(it was not written by model.save or model.save_weights)")
    try:
        doc = json.loads(meta[_CONFIG_KEY])
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except ValueError:
        raise ValueError(f"{bad}: its {_CONFIG_KEY!r} metadata is not valid JSON (corrupt file)") from None
    body = len(data) - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = int(info["data_offsets"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(f"{bad}: the header entry of tensor {name!r} is malformed (corrupt file)") from None
        if end > body:
            raise ValueError(f"{bad}: tensor {name!r} ends at byte {end} of the data but the file holds only "
                             f"{body} bytes of data (truncated)")
    try:
        from safetensors.numpy import load

        tensors = load(data)
    except Exception as exc:  # noqa: BLE001 - the library's own error types are not part of its API
        raise ValueError(f"{bad}: its tensor data cannot be read ({exc}); the file is corrupt or truncated") \
            from None
    recorded = meta.get(_DIGEST_KEY)
    if recorded is not None and weights_digest(tensors) != recorded:
        raise ValueError(f"{bad}: its tensor data does not match the SHA-256 checksum recorded when it was saved "
                         "(the file is corrupt, or was changed after saving)")
    return doc, tensors


def _file_weights(tensors: dict) -> list:
    """``[(key, array)]`` of the weights in a file, in index order."""
    items = []
    for key, value in tensors.items():
        index, sep, _ = key.partition(":")
        if sep and index.isdigit():
            items.append((int(index), key, value))
    items.sort()
    if [i for i, _, _ in items] != list(range(len(items))):
        raise ValueError("the weight indices in the file are not 0..N-1 (corrupt file)")
    return [(key, value) for _, key, value in items]


def assign_weights(model, tensors: dict, path, who: str) -> None:
    """Set ``model``'s weights from a file's tensors, after checking every count and shape."""
    try:
        file_weights = _file_weights(tensors)
    except ValueError as exc:
        raise ValueError(f"{who}: {os.fspath(path)!r}: {exc}") from None
    named = _named_weights(model)
    if len(file_weights) != len(named):
        raise ValueError(f"{who}: {os.fspath(path)!r} holds {len(file_weights)} weights but the model "
                         f"{model.name!r} has {len(named)}; the architectures differ")
    for (key, value), (mkey, w) in zip(file_weights, named):
        if tuple(value.shape) != tuple(w.shape):
            raise ValueError(f"{who}: weight {w.name or mkey!r} (#{int(key.partition(':')[0])}) has shape "
                             f"{tuple(w.shape)} in the model but {tuple(value.shape)} in {os.fspath(path)!r} "
                             f"(saved as {key.partition(':')[2]!r})")
    for (_, value), (_, w) in zip(file_weights, named):
        w.data[...] = value


def _build_for(model, doc, n_file_weights):
    if len(model.weights) == n_file_weights:
        return
    sig = doc.get("build_input")
    if sig and hasattr(model, "dry_run"):
        model.dry_run({"inputs": [(list(s), d) for s, d in sig["inputs"]], "multi": bool(sig.get("multi"))})


def load_weights(model, filepath) -> None:
    """Load weights saved by ``save_weights`` or ``save`` into ``model`` (built at need)."""
    who = "load_weights"
    doc, tensors = read_file(filepath, who)
    n = sum(1 for k in tensors if k.partition(":")[0].isdigit())
    _build_for(model, doc, n)
    assign_weights(model, tensors, filepath, who)


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True):
    """Rebuild the model saved by ``model.save(filepath)``: architecture, weights and compile state.

    ``custom_objects`` maps class (or function) names to custom model/layer classes, losses and
    metrics that are not importable by their module and name.
    """
    who = "load_model"
    doc, tensors = read_file(filepath, who)
    with _custom.custom_object_scope(custom_objects):
        return _load_model(filepath, doc, tensors, custom_objects, compile, who)


def _load_model(filepath, doc, tensors, custom_objects, compile, who):
    if doc.get("kind") != "model":
        raise ValueError(f"{who}: {os.fspath(filepath)!r} holds only weights (written by save_weights), not a "
                         "model; build the model in code and call model.load_weights on it")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{who}: {os.fspath(filepath)!r} uses format version {doc.get('format_version')}, "
                         f"newer than this chainrule reads ({FORMAT_VERSION})")
    try:
        cls = _resolve_class(doc["class_name"], doc.get("module"), doc.get("qualname"), custom_objects, "model")
    except KeyError:
        raise ValueError(f"{who}: {os.fspath(filepath)!r}: its config names no model class (corrupt file)") from None
    except ValueError as exc:
        raise ValueError(f"{who}: {os.fspath(filepath)!r}: {exc}") from None
    from .model import Model

    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"{who}: {os.fspath(filepath)!r}: its config names {doc['class_name']!r} ({cls!r}), which "
                         "is not a model class; a saved model can only name model classes")
    params = inspect.signature(cls.from_config).parameters
    config = dict(doc.get("config") or {})
    try:
        if "custom_objects" in params:
            model = cls.from_config(config, custom_objects=custom_objects)
        else:
            model = cls.from_config(config)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{who}: cannot rebuild {doc['class_name']} from the config in "
                         f"{os.fspath(filepath)!r}: {exc}") from None
    n = sum(1 for k in tensors if k.partition(":")[0].isdigit())
    _build_for(model, doc, n)
    assign_weights(model, tensors, filepath, who)
    if compile and doc.get("compile_config"):
        _compile_from(model, doc["compile_config"], tensors, custom_objects, filepath)
    return model


def _compile_from(model, cfg, tensors, custom_objects, filepath):
    from .. import losses, metrics as metrics_mod, optimizers

    try:
        optimizer = optimizers.deserialize(cfg["optimizer"], custom_objects=custom_objects)
        def one_loss(entry):
            return None if entry is None else losses.deserialize(entry, custom_objects=custom_objects)

        loss = cfg.get("loss")
        loss = {k: one_loss(v) for k, v in loss.items()} if isinstance(loss, dict) and "class_name" not in loss \
            else one_loss(loss)

        def rebuild(entries):
            if isinstance(entries, dict):  # by output name
                return {k: rebuild(v) for k, v in entries.items()}
            return [m if isinstance(m, str) else metrics_mod.deserialize(m, custom_objects=custom_objects)
                    for m in entries or []]

        model.compile(optimizer=optimizer, loss=loss, metrics=rebuild(cfg.get("metrics")),
                      weighted_metrics=rebuild(cfg.get("weighted_metrics")), loss_weights=cfg.get("loss_weights"))
    except (TypeError, ValueError, KeyError) as exc:
        warnings.warn(f"load_model: {os.fspath(filepath)!r}: the model was loaded but not compiled ({exc}); "
                      "pass custom_objects for custom losses/metrics, or compile it yourself", stacklevel=4)
        return
    state = {k.partition(":")[2]: v for k, v in tensors.items() if k.startswith("optimizer:")}
    if state:
        model.optimizer.build(model.trainable_weights)
        model.optimizer.set_state(state)
