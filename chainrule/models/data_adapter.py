"""Data for the training loop: NumPy arrays, Tensors or iterables turned into batches.

Arrays (or Tensors, or a list of them for several inputs) are converted once: floats to
``floatx``, integer class labels kept, integer inputs kept only for models that read
token ids (an ``Embedding`` first), uint8 images and the like to ``floatx``. Each pass
over the data takes one permutation (one gather of each array) and a batch is a
contiguous slice of it. A ``chainrule.data.DataLoader``, a ``Dataset``, a list of
``(x, y)`` tuples or any iterable of ``(x, y)`` / ``(x, y, sample_weight)`` batches is
read batch by batch.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor

# Above this many bytes, a pass gathers each batch instead of copying the whole shuffled array.
_GATHER_BYTES = 1 << 30


def _leaf_array(a, where: str, what: str):
    if isinstance(a, Tensor):
        return a.data
    if isinstance(a, np.ndarray):
        return a
    detail = backend.ragged_detail(a)
    if detail is not None:
        raise ValueError(f"{where}: {what} is ragged: its nested lists hold {detail}; every sample must have the "
                         f"same shape (pad sequences with cr.utils.pad_sequences)")
    try:
        return np.asarray(a)
    except Exception as exc:  # noqa: BLE001 - objects NumPy cannot read
        raise TypeError(f"{where}: cannot turn {what} of type {type(a).__name__} into an array: {exc}") from None


def _as_input(a, keep_int: str, where: str, what: str = "x"):
    """An input array in the model's dtype: floats -> floatx; integers -> floatx unless their kind
    ('i' signed, 'u' unsigned) is in ``keep_int`` (token ids for an Embedding)."""
    a = _leaf_array(a, where, what)
    kind = a.dtype.kind
    fx = backend.floatx_dtype()
    if kind == "f":
        return a if a.dtype == fx else a.astype(fx)
    if kind in "iu" and kind in keep_int:
        return a
    if kind in "iub":
        return a.astype(fx)
    raise TypeError(f"{where}: {what} has unsupported dtype {a.dtype}; expected numbers")


def _as_target(a, where: str, what: str = "y"):
    """Targets: float -> floatx, bool -> floatx, integer labels unchanged."""
    a = _leaf_array(a, where, what)
    kind = a.dtype.kind
    if kind == "f":
        fx = backend.floatx_dtype()
        return a if a.dtype == fx else a.astype(fx)
    if kind == "b":
        return a.astype(backend.floatx_dtype())
    if kind in "iu":
        return a
    raise TypeError(f"{where}: {what} has unsupported dtype {a.dtype}; expected numbers")


def _is_multi(x) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(v, (np.ndarray, Tensor)) for v in x)


def _convert_x(x, keep_int: str, where: str):  # noqa: D103 - x: one array or a list of them
    if _is_multi(x):
        return [_as_input(v, keep_int, where, f"x[{i}]") for i, v in enumerate(x)], True
    return [_as_input(x, keep_int, where)], False


def _num_samples(arrays: list, names: list, where: str) -> int:
    sizes = []
    for a, name in zip(arrays, names):
        if a.ndim == 0:
            raise ValueError(f"{where}: {name} is a scalar; expected an array with a batch axis first")
        sizes.append(a.shape[0])
    if len(set(sizes)) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in zip(names, sizes))
        raise ValueError(f"{where}: the data must have the same number of samples (first axis), but {detail}")
    if not sizes or sizes[0] == 0:
        raise ValueError(f"{where}: the data is empty (0 samples)")
    return sizes[0]


class ArrayBatches:
    """Batches of in-memory arrays: each pass takes one permutation (one gather of each array),
    and a batch is a contiguous slice of it. ``steps`` batches make an epoch; a pass that ends
    mid-epoch (``steps_per_epoch``) is followed by a new one."""

    def __init__(self, xs, multi, y, sw, batch_size, shuffle, steps=None, y_multi=False):
        # y: one array (or None), or with y_multi a list of arrays, one per model output
        self.xs, self.multi, self.sw = xs, multi, sw
        self.ys, self.y_multi = (list(y) if y_multi else [y]), y_multi
        self.n = len(xs[0])
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.steps = steps if steps is not None else math.ceil(self.n / batch_size)
        self._pos = self.n
        self._arrays = None
        self._perm = None
        nbytes = sum(a.nbytes for a in self._all() if a is not None)
        self._gather = self.shuffle and nbytes > _GATHER_BYTES

    def _all(self):
        return [*self.xs, *self.ys, self.sw]

    def _new_pass(self):
        self._pos = 0
        if not self.shuffle:
            self._arrays = self._all()
            return
        perm = backend.rng().permutation(self.n)
        if self._gather:
            self._perm = perm
            self._arrays = self._all()
        else:
            self._arrays = [None if a is None else a[perm] for a in self._all()]

    def epoch(self):
        k, m = len(self.xs), len(self.ys)
        for _ in range(self.steps):
            if self._pos >= self.n:
                self._new_pass()
            i, j = self._pos, min(self._pos + self.batch_size, self.n)
            self._pos = j
            if self._gather:
                idx = self._perm[i:j]
                parts = [None if a is None else a[idx] for a in self._arrays]
            else:
                parts = [None if a is None else a[i:j] for a in self._arrays]
            xb = parts[:k] if self.multi else parts[0]
            yb = parts[k:k + m] if self.y_multi else parts[k]
            yield xb, yb, parts[k + m]


class IterBatches:
    """Batches from an iterable (a DataLoader, a list of batches, a generator).

    Without ``steps`` an epoch is one pass over ``iter(data)``; with ``steps`` an epoch takes
    that many batches, carrying on where the last epoch stopped and starting over when a
    re-iterable source runs out.
    """

    def __init__(self, data, keep_int, where, steps=None, model=None):
        self.model = model
        self.data = data
        self.keep_int = keep_int
        self.where = where
        self._explicit = steps is not None
        self.steps = steps if steps is not None else (len(data) if hasattr(data, "__len__") else None)
        self._it = None

    def _convert(self, batch):
        if isinstance(batch, (tuple, list)) and not _is_multi_input_only(batch):
            if not 1 <= len(batch) <= 3:
                raise ValueError(f"{self.where}: a batch must be x, (x,), (x, y) or (x, y, sample_weight); "
                                 f"got a {type(batch).__name__} of {len(batch)} items")
            x, y, sw = (list(batch) + [None, None])[:3]
        else:
            x, y, sw = batch, None, None
        x = standardize_x(self.model, x, self.where)
        y = standardize_y(self.model, y, self.where)
        xs, multi = _convert_x(x, self.keep_int, self.where)
        ys, y_multi = _convert_y(y, self.where, self.model)
        sw = None if sw is None else _as_target(sw, self.where, "sample_weight")
        names = [f"x[{i}]" for i in range(len(xs))] if multi else ["x"]
        extra = [(a, n) for a, n in zip(ys, _y_names(ys, y_multi)) if a is not None]
        extra += [(sw, "sample_weight")] if sw is not None else []
        _num_samples(xs + [a for a, _ in extra], names + [n for _, n in extra], self.where)
        return (xs if multi else xs[0]), (ys if y_multi else ys[0]), sw

    def epoch(self):
        if not self._explicit:
            for batch in self.data:
                yield self._convert(batch)
            return
        count, restarted_empty = 0, False
        while count < self.steps:
            if self._it is None:
                self._it = iter(self.data)
            try:
                batch = next(self._it)
            except StopIteration:
                self._it = None
                if iter(self.data) is self.data or restarted_empty:
                    return  # an exhausted iterator, or an empty iterable
                restarted_empty = True
                continue
            restarted_empty = False
            count += 1
            yield self._convert(batch)


def _is_multi_input_only(batch) -> bool:
    # A plain list of >3 arrays is taken as the inputs of a multi-input model (predict on a list).
    return isinstance(batch, list) and len(batch) > 3 and _is_multi(batch)


def keeps_int_inputs(model) -> str:
    """Which integer kinds of input reach the model unconverted: both ('iu') for a Sequential that
    starts with an Embedding or an integer Input, none for other Sequentials (uint8 images become
    floats), and signed ones ('i', token ids) for a subclassed model."""
    from .sequential import Sequential

    if not isinstance(model, Sequential):
        return "i"
    spec = getattr(model, "_input_spec", None)
    if spec is not None and np.dtype(spec[1]).kind in "iu":
        return "iu"
    first = model._layers[0] if model._layers else None
    if isinstance(first, Sequential):
        return keeps_int_inputs(first)
    return "iu" if first is not None and "Embedding" in type(first).__name__ else ""


def _is_iterable_source(x) -> bool:
    if isinstance(x, list) and x and all(isinstance(b, tuple) for b in x):
        return True  # a list of (x, y) batches
    if isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes)):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def make_batches(model, x, y=None, sample_weight=None, batch_size=32, shuffle=False, steps=None,
                 class_weight=None, where="fit", need_y=True):
    """``ArrayBatches`` or ``IterBatches`` for what ``fit``/``evaluate``/``predict`` received."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{where}: batch_size must be a positive integer, got {batch_size!r}")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1):
        raise ValueError(f"{where}: steps must be a positive integer or None, got {steps!r}")
    if x is None:
        raise ValueError(f"{where}: x is None; pass the input data")
    keep_int = keeps_int_inputs(model)
    x = _wrap_dataset(x, batch_size, shuffle)
    if _is_iterable_source(x):
        if y is not None or sample_weight is not None:
            raise ValueError(f"{where}: y and sample_weight must not be given when x is a DataLoader or an "
                             f"iterable of batches (it yields (x, y) itself); got y of type {type(y).__name__}")
        if class_weight:
            raise ValueError(f"{where}: class_weight is only supported with array inputs")
        return IterBatches(x, keep_int, where, steps, model)
    x = standardize_x(model, x, where)
    y = standardize_y(model, y, where)
    xs, multi = _convert_x(x, keep_int, where)
    if y is None and need_y:
        raise ValueError(f"{where}: y is None; pass the targets (labels) for x")
    ys, y_multi = _convert_y(y, where, model)
    sw = None if sample_weight is None else _as_target(sample_weight, where, "sample_weight")
    names = [f"x[{i}]" for i in range(len(xs))] if multi else ["x"]
    extra = [(a, n) for a, n in zip(ys, _y_names(ys, y_multi)) if a is not None]
    extra += [(sw, "sample_weight")] if sw is not None else []
    _num_samples(xs + [a for a, _ in extra], names + [n for _, n in extra], where)
    if class_weight:
        if y_multi:
            raise ValueError(f"{where}: class_weight is not supported for a model with several outputs; "
                             "pass sample_weight instead")
        sw = _class_weights(class_weight, ys[0], sw, where)
    return ArrayBatches(xs, multi, ys if y_multi else ys[0], sw, int(batch_size), shuffle, steps, y_multi)


# ------------------------------------------------------------------------------------------ structures
def _n_outputs(model) -> int:
    outputs = model.__dict__.get("outputs") if model is not None else None
    return len(outputs) if isinstance(outputs, list) else 1


def standardize_x(model, x, where):
    """A dict of inputs as the list (or the one array) in the model's input order; other x unchanged."""
    if not isinstance(x, dict):
        return x
    keys = model.__dict__.get("_input_keys") if model is not None else None
    return _by_name(x, keys, "x", "inputs", where)


def _by_name(values: dict, names, what: str, kind: str, where: str):
    """``values`` (a dict keyed by input or output name) as a list in the model's order, or the one value."""
    if names is None:
        raise ValueError(f"{where}: {what} is a dict; only a functional model (cr.Model(inputs, outputs)) takes "
                         f"its {kind} by name")
    missing = [k for k in names if k not in values]
    if missing:
        raise ValueError(f"{where}: {what} has no key {missing[0]!r} for the model {kind[:-1]} {missing[0]!r}; "
                         f"the model's {kind} are {names}, {what} has keys {sorted(values)}")
    out = [values[k] for k in names]
    return out if len(out) > 1 else out[0]


def standardize_y(model, y, where):
    """Targets of a model with several outputs as a list in output order (from a list or a dict by output name)."""
    n = _n_outputs(model)
    if isinstance(y, dict):
        names = model.__dict__.get("output_names") if model is not None else None
        return _by_name(y, names, "y", "outputs", where)
    if n > 1 and isinstance(y, (list, tuple)) and all(hasattr(v, "shape") for v in y):
        if len(y) != n:
            raise ValueError(f"{where}: the model has {n} outputs but y is a list of {len(y)} arrays")
        return list(y)
    if n > 1 and y is not None:
        raise ValueError(f"{where}: the model has {n} outputs {model.output_names}; pass y as a list or a dict of "
                         f"{n} arrays, got {type(y).__name__}")
    return y


def _convert_y(y, where, model):
    """``([targets], several)``: the converted target array(s), and whether there is one per output.

    A model whose outputs are known decides (``standardize_y`` has already checked a list against
    them); a subclassed model takes a list of two or more arrays as one target per output, and a
    list of numbers (NumPy scalars included) as one target.
    """
    several = isinstance(y, list) and len(y) > 1 and all(hasattr(v, "shape") for v in y)
    if several and model is not None and isinstance(model.__dict__.get("outputs"), list):
        several = _n_outputs(model) > 1
    elif several:
        several = all(np.ndim(v) >= 1 for v in y)
    if several:
        return [_as_target(v, where, f"y[{i}]") for i, v in enumerate(y)], True
    return [None if y is None else _as_target(y, where)], False


def _y_names(ys, several) -> list:
    return [f"y[{i}]" for i in range(len(ys))] if several else ["y"]


def _wrap_dataset(x, batch_size, shuffle):
    """A ``chainrule.data.Dataset`` (indexable samples) becomes a DataLoader of ``batch_size``."""
    try:
        from ..data import DataLoader, Dataset
    except ImportError:
        return x
    if isinstance(x, Dataset) and not isinstance(x, DataLoader):
        return DataLoader(x, batch_size=int(batch_size), shuffle=bool(shuffle))
    return x


def _class_weights(class_weight, y, sw, where):
    if y is None:
        raise ValueError(f"{where}: class_weight needs y")
    labels = y
    if y.ndim >= 2 and y.shape[-1] > 1:
        labels = y.argmax(axis=-1)
    labels = labels.reshape(len(y), -1)[:, 0] if labels.ndim > 1 else labels
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"{where}: class_weight needs non-negative integer class labels")
    table = np.ones(int(labels.max()) + 1, dtype=backend.floatx_dtype())
    for c, w in class_weight.items():
        if 0 <= int(c) < len(table):
            table[int(c)] = w
    cw = table[labels]
    return cw if sw is None else (sw * cw).astype(backend.floatx_dtype())


def split_validation(x, y, sample_weight, validation_split, where="fit", model=None):
    """Keras's ``validation_split``: the last fraction of the samples, taken before any shuffling."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"{where}: validation_split must be in [0, 1), got {validation_split!r}")
    if _is_iterable_source(x):
        raise ValueError(f"{where}: validation_split is only supported with array inputs; "
                         "pass validation_data for a DataLoader or iterable")
    x = standardize_x(model, x, where)
    y = standardize_y(model, y, where)
    multi = _is_multi(x)
    xs = [_leaf_array(v, where, "x") for v in (x if multi else [x])]
    names = [f"x[{i}]" for i in range(len(xs))] if multi else ["x"]
    several = isinstance(y, list) and _n_outputs(model) > 1
    targets = [(a, f"y[{i}]") for i, a in enumerate(y)] if several else [(y, "y")]
    extra = [(_leaf_array(a, where, n), n) for a, n in targets + [(sample_weight, "sample_weight")] if a is not None]
    n = _num_samples(xs + [a for a, _ in extra], names + [n for _, n in extra], where)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"{where}: {n} samples are too few to split into a training and a validation set "
                         f"with validation_split={validation_split}")

    def cut(a, lo, hi):
        return None if a is None else _leaf_array(a, where, "data")[lo:hi]

    train_x = [a[:split_at] for a in xs] if multi else xs[0][:split_at]
    val_x = [a[split_at:] for a in xs] if multi else xs[0][split_at:]
    def cut_y(lo, hi):
        return [cut(a, lo, hi) for a in y] if several else cut(y, lo, hi)

    train = (train_x, cut_y(0, split_at), cut(sample_weight, 0, split_at))
    val = (val_x, cut_y(split_at, None), cut(sample_weight, split_at, None))
    return train, val


def unpack_validation(validation_data, where="fit"):
    if isinstance(validation_data, tuple):
        if len(validation_data) == 2:
            return validation_data[0], validation_data[1], None
        if len(validation_data) == 3:
            return validation_data
        raise ValueError(f"{where}: validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val), "
                         f"got a tuple of {len(validation_data)} items")
    return validation_data, None, None
