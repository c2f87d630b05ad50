"""``Optimizer``: the base of every optimizer (Keras 3's ``keras.optimizers.Optimizer``).

One call of ``optimizer.apply(grads, variables)`` is one step of training:

1. drop the pairs whose gradient is ``None``;
2. clip the gradients (``clipnorm``, ``global_clipnorm`` or ``clipvalue``);
3. evaluate the learning rate ``lr`` (a schedule is evaluated at ``iterations``);
4. decoupled weight decay, if ``weight_decay`` is set: ``w <- w * (1 - lr * weight_decay)``;
5. the optimizer's own update (``_update_step``), in place on ``variable.data``;
6. ``iterations += 1``;
7. every ``FLUSH_EVERY`` steps, slot values too small to be normal floats are set to 0
   (``_flush_subnormals``, below).

Updates are plain NumPy on the arrays, in place, in the variable's dtype (every
hyperparameter is cast to it first, so a float32 model stays float32); they
record no graph. Per-variable state ("slots": momentum, accumulators) is made
lazily the first time a variable is seen, keyed by ``id(variable)``, and also
kept in a list in the order the variables were first seen, which is the order
``get_state`` numbers them in.

Subnormal slots. A weight whose gradient stays exactly 0 (a ReLU unit that no input
activates any more) lets its momentum decay geometrically, ``m <- m + (0 - m)(1 - beta_1)``,
down into the subnormal floats (below ``2^-126``, about ``1.2e-38`` in float32), where rounding
stalls it: ``(1 - beta_1) m`` rounds to 0 once ``m`` is a few of the smallest subnormals,
so ``m`` never reaches 0 and every later step computes with subnormal operands. Many x86
CPUs take a microcode assist for each of those: on a 2.6 GHz Xeon a multiply over 100,000
subnormal float32 values took 472 us against 11 us for normal ones, and the texts' MLP's
Adam update (21% of its first layer's momenta subnormal after 2,000 steps) took most of
its 1.7 ms step, which took 0.79 ms once the subnormals were gone. PyTorch's Adam computes
the same recurrence (``exp_avg.lerp_(grad, 1 - beta1)``), so the same rounding stalls it
(``torch.set_flush_denormal`` is off by default, and it changes the whole process's arithmetic). chainrule sets such slot values to exactly
0 every ``FLUSH_EVERY`` steps: a change of at most ``2^-126`` in a slot, far below anything
its update can show in a weight (``docs/optimizers.md``).

Gradient clipping (Keras's rules):

- ``clipnorm=c``: each gradient ``g <- g * c / max(||g||, c)``;
- ``global_clipnorm=c``: all gradients ``g_i <- g_i * c / max(N, c)``, ``N = sqrt(sum_i ||g_i||^2)``
  (PyTorch's ``clip_grad_norm_`` uses ``c / (N + 1e-6)`` when ``N > c``);
- ``clipvalue=c``: each element ``g <- clip(g, -c, c)``.

Weight decay here is always *decoupled* (Loshchilov & Hutter), as in Keras 3:
it shrinks the weights directly and never enters the gradient, momentum or
second-moment estimates. PyTorch's ``weight_decay`` argument of ``SGD``,
``Adagrad``, ``RMSprop`` and ``Adam`` is instead L2 regularisation added to the
gradient (``g <- g + wd * w``); only ``torch.optim.AdamW`` decouples it, with
the same ``w <- w * (1 - lr * wd)`` as here.
"""
from __future__ import annotations

import math
import numbers
import re

from .. import backend
from ..autograd.tensor import Tensor
from . import schedules as _schedules


class _CallableList(list):
    """A list that returns itself when called, so ``opt.variables`` (Keras) and ``opt.variables()`` both work."""

    def __call__(self):
        return self


#: Every this many steps, slot values below the smallest normal float become 0 (see the module's text).
FLUSH_EVERY = 16


def _flush_subnormals(arrays) -> None:
    """Set the subnormal values of each floating-point array to 0, in place."""
    xp = backend.xp
    for a in arrays:
        if a.dtype.kind != "f" or not a.size:
            continue
        small = xp.abs(a) < xp.finfo(a.dtype).tiny        # the subnormals, and the zeros
        xp.putmask(a, small, 0)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_clip(name: str, value):
    if value is None:
        return None
    if not _is_number(value) or not value > 0:
        raise ValueError(f"Optimizer: {name} must be a positive number or None, got {value!r}")
    return value


class Optimizer:
    """Base class of the optimizers; subclasses implement ``_slot_specs`` and ``_update_step``.

    Args:
        learning_rate: a float, a ``schedules.LearningRateSchedule`` (called with
            the step, ``iterations``), or a callable of no arguments returning the
            learning rate.
        weight_decay: if set, decoupled weight decay ``w <- w * (1 - lr * weight_decay)``
            before each update.
        clipnorm, clipvalue, global_clipnorm: gradient clipping (at most one).
        name: the optimizer's name.
    """

    _default_name = "optimizer"

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown argument(s) {sorted(kwargs)}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{type(self).__name__}: set only one of clipnorm, clipvalue and global_clipnorm; got "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.clipnorm = _check_clip("clipnorm", clipnorm)
        self.clipvalue = _check_clip("clipvalue", clipvalue)
        self.global_clipnorm = _check_clip("global_clipnorm", global_clipnorm)
        if weight_decay is not None and (not _is_number(weight_decay) or not weight_decay >= 0):
            raise ValueError(f"{type(self).__name__}: weight_decay must be a number >= 0 or None, got {weight_decay!r}")
        self.weight_decay = weight_decay
        self.name = name if name is not None else self._default_name
        self.learning_rate = learning_rate
        self.iterations = 0
        self._variables: list = []          # the model variables, in the order first seen
        self._index: dict[int, int] = {}    # id(variable) -> position in _variables
        self._slots: list[dict] = []        # per variable: slot name -> ndarray
        self._pending_slots: dict[int, dict] = {}  # set_state() before the variables were seen
        self._exclude_ids: set[int] = set()
        self._exclude_pattern = None

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, dict):
            value = _schedules.deserialize(value)
        if not callable(value):
            if not _is_number(value) or not value >= 0 or not math.isfinite(value):
                raise ValueError(
                    f"{type(self).__name__}: learning_rate must be a finite number >= 0, a LearningRateSchedule "
                    f"or a callable, got {value!r}")
            value = float(value)
        self._learning_rate = value

    # ------------------------------------------------------------------ variables and slots
    def _slot_specs(self) -> list[tuple[str, float]]:
        """``[(slot_name, initial_value), ...]`` for each variable; none by default."""
        return []

    def build(self, variables) -> None:
        """Create the slots of ``variables`` now (``apply`` does it lazily otherwise)."""
        for variable in variables:
            self._track(variable)

    def _track(self, variable) -> dict:
        key = id(variable)
        i = self._index.get(key)
        if i is not None:
            return self._slots[i]
        arr = _array_of(variable, type(self).__name__)
        i = len(self._variables)
        pending = self._pending_slots.pop(i, {})
        slots = {}
        for slot, init in self._slot_specs():
            if slot in pending:
                value = pending[slot]
                if value.shape != arr.shape:
                    raise ValueError(
                        f"{type(self).__name__}.set_state: slot '{i}/{slot}' has shape {value.shape}, but variable "
                        f"{i} ({_describe(variable)}) has shape {arr.shape}")
                slots[slot] = value.astype(arr.dtype, copy=True)
            else:
                slots[slot] = backend.xp.full(arr.shape, init, dtype=arr.dtype)
        # Keeping the variable itself alive also keeps its id from being reused by another object.
        self._variables.append(variable)
        self._index[key] = i
        self._slots.append(slots)
        return slots

    @property
    def variables(self) -> list:
        """The slot arrays (momentum, accumulators, ...), variable by variable, in order."""
        return _CallableList(arr for slots in self._slots for arr in slots.values())

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exempt some variables from ``weight_decay``: those in ``var_list``, and
        those whose ``.name`` contains any of the strings in ``var_names`` (e.g. ``["bias"]``).
        """
        self._exclude_ids = {id(v) for v in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(map(re.escape, var_names))) if var_names else None

    def _decays(self, variable) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        name = getattr(variable, "name", None)
        return not (self._exclude_pattern is not None and name and self._exclude_pattern.search(name))

    # ------------------------------------------------------------------ the update
    def apply(self, grads, variables=None) -> None:
        """One update step, in place on each ``variable.data``.

        ``grads`` are Tensors or ndarrays, one per variable; a ``None`` gradient
        leaves its variable and its slots untouched (no decay either). Without ``variables``, the
        variables seen before (or given to ``build``) are used, in order.
        """
        grads = list(grads)
        if variables is None:
            if not self._variables:
                raise ValueError(f"{type(self).__name__}.apply: no variables given, and none seen before "
                                 "(pass variables, or call build(variables) first)")
            variables = self._variables
        variables = list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for {len(variables)} variables")
        # Slots are made for every variable passed, gradient or not (as Keras builds on all of
        # them), so they are numbered in the caller's order, e.g. the model's weights order.
        self.build(variables)
        pairs = []
        for g, v in zip(grads, variables):
            if g is None:
                continue
            w = _array_of(v, type(self).__name__)
            g = g.data if isinstance(g, Tensor) else backend.xp.asarray(g)
            if g.shape != w.shape:
                raise ValueError(f"{type(self).__name__}.apply: gradient of shape {g.shape} for variable "
                                 f"{_describe(v)} of shape {w.shape}")
            pairs.append((g.astype(w.dtype, copy=False), v, w))
        if not pairs:
            if grads:
                raise ValueError(f"{type(self).__name__}.apply: every gradient is None; nothing to update")
            return
        gs = self._clip([p[0] for p in pairs])
        lr = self.learning_rate
        for g, (_, v, w) in zip(gs, pairs):
            slots = self._slots[self._index[id(v)]]
            if self.weight_decay and self._decays(v):
                w *= w.dtype.type(1.0 - lr * self.weight_decay)
            self._update_step(g, w, lr, slots)
        self.iterations += 1
        if self.iterations % FLUSH_EVERY == 0:
            _flush_subnormals(a for slots in self._slots for a in slots.values())

    def apply_gradients(self, grads_and_vars) -> int:
        """``apply`` from ``(gradient, variable)`` pairs; returns ``iterations``."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs)
        self.apply(grads, variables)
        return self.iterations

    def _update_step(self, g, w, lr: float, slots: dict) -> None:
        """Update ``w`` (ndarray) in place from gradient ``g`` (same dtype; never modify it)."""
        raise NotImplementedError

    def _clip(self, gs: list) -> list:
        xp = backend.xp
        if self.clipnorm is not None:
            out = []
            for g in gs:
                norm = float(xp.sqrt(xp.vdot(g, g).real)) if g.size else 0.0
                scale = self.clipnorm / max(norm, self.clipnorm)
                out.append(g if scale == 1.0 else g * g.dtype.type(scale))
            return out
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(xp.vdot(g, g).real) for g in gs))
            # A non-finite global norm makes every gradient NaN, as in Keras, rather than
            # silently rescaling by 0.
            scale = self.global_clipnorm / max(norm, self.global_clipnorm) if math.isfinite(norm) else math.nan
            return [g if scale == 1.0 else g * g.dtype.type(scale) for g in gs]
        if self.clipvalue is not None:
            c = self.clipvalue
            return [xp.clip(g, -c, c) for g in gs]
        return gs

    # ------------------------------------------------------------------ config and state
    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Optimizer":
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def get_state(self) -> dict:
        """The optimizer's state as ``{name: ndarray}`` (copies): ``"iterations"``,
        ``"learning_rate"`` (when it is a number), and ``"<i>/<slot>"`` for the slots of
        the ``i``-th variable seen (e.g. ``"0/momentum"``).
        """
        xp = backend.xp
        state = {"iterations": xp.asarray(self.iterations, dtype=xp.int64)}
        if not callable(self._learning_rate):
            state["learning_rate"] = xp.asarray(self._learning_rate, dtype=xp.float64)
        for i, slots in enumerate(self._slots):
            for slot, arr in slots.items():
                state[f"{i}/{slot}"] = arr.copy()
        return state

    def set_state(self, state: dict) -> None:
        """Restore ``get_state()``'s output. Slots of variables not seen yet are kept
        and used when the ``i``-th variable arrives, so a fresh optimizer can be
        restored before its first ``apply`` (or call ``build(variables)`` first).
        """
        xp = backend.xp
        known = {slot for slot, _ in self._slot_specs()}
        parsed: dict[int, dict] = {}
        for key, value in state.items():
            if key in ("iterations", "learning_rate"):
                continue
            index, _, slot = key.partition("/")
            if not index.isdigit() or slot not in known:
                raise ValueError(
                    f"{type(self).__name__}.set_state: unexpected entry {key!r}; this optimizer's slots are "
                    f"{sorted(known) or 'none'} (entries look like '0/{next(iter(sorted(known)), 'slot')}')")
            parsed.setdefault(int(index), {})[slot] = xp.asarray(value)
        for i, slots in parsed.items():
            if i < len(self._slots):
                for slot, value in slots.items():
                    target = self._slots[i][slot]
                    if value.shape != target.shape:
                        raise ValueError(
                            f"{type(self).__name__}.set_state: slot '{i}/{slot}' has shape {value.shape}, but "
                            f"variable {i} ({_describe(self._variables[i])}) has shape {target.shape}")
                    target[...] = value
        self._pending_slots = {i: s for i, s in parsed.items() if i >= len(self._slots)}
        if "iterations" in state:
            self.iterations = int(state["iterations"])
        if "learning_rate" in state and not callable(self._learning_rate):
            self.learning_rate = float(state["learning_rate"])

    def __repr__(self) -> str:
        cfg = self.get_config()
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if v is not None and k != "name")
        return f"{type(self).__name__}({args})"


def _array_of(variable, who: str):
    arr = variable.data if isinstance(variable, Tensor) else variable
    if not isinstance(arr, backend.xp.ndarray):
        raise TypeError(f"{who}: variables must be Tensors or arrays, got {type(variable).__name__}")
    if not backend.is_float(arr.dtype):
        raise TypeError(f"{who}: can only update floating variables, got dtype {arr.dtype} for {_describe(variable)}")
    return arr


def _describe(variable) -> str:
    name = getattr(variable, "name", None)
    return repr(name) if name else type(variable).__name__
