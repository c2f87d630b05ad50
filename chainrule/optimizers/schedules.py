"""Learning-rate schedules: ``lr = schedule(step)``, as in ``keras.optimizers.schedules``.

A schedule is a callable from the optimizer's step counter (``optimizer.iterations``,
0 at the first update) to a learning rate (a Python float). Pass one as an
optimizer's ``learning_rate``; the optimizer evaluates it before every update,
so update ``t`` (0-based) uses ``schedule(t)``.

PyTorch's ``torch.optim.lr_scheduler`` classes are stateful objects stepped once
an epoch (or a batch); these are pure functions of the step. Where the formulas
coincide (stepping the PyTorch scheduler once after each ``optimizer.step()``):

- ``ExponentialDecay(lr, decay_steps=1, decay_rate=g)``            == ``ExponentialLR(gamma=g)``
- ``ExponentialDecay(lr, decay_steps=k, decay_rate=g, staircase=True)`` == ``StepLR(step_size=k, gamma=g)``
- ``CosineDecay(lr, T, alpha=eta_min/lr)``                          == ``CosineAnnealingLR(T_max=T, eta_min)``
  for steps ``<= T`` (Keras holds ``alpha*lr`` afterwards; PyTorch's cosine rises again)
- ``PiecewiseConstantDecay([m - 1 for m in milestones], values)``    == ``MultiStepLR(milestones, gamma)``
  (Keras switches to ``values[i+1]`` at ``step > boundaries[i]``; PyTorch at ``step >= milestone``)
"""
from __future__ import annotations

import math
import numbers


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step) -> float:
        raise NotImplementedError(f"learning rate schedule {type(self).__name__} must implement __call__(step)")

    def get_config(self) -> dict:
        raise NotImplementedError(f"learning rate schedule {type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config: dict) -> "LearningRateSchedule":
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


def _positive(name: str, schedule: str, value) -> None:
    if not value > 0:
        raise ValueError(f"{schedule}: {name} must be > 0, got {value!r}")


class ExponentialDecay(LearningRateSchedule):
    """``lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _positive("decay_steps", "ExponentialDecay", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate) * float(self.decay_rate) ** p

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    With ``staircase=True``, ``step / decay_steps`` is floored.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _positive("decay_steps", "InverseTimeDecay", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate) / (1.0 + float(self.decay_rate) * p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``lr(step) = (initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``.

    With ``cycle=True``, ``decay_steps`` is replaced by the first multiple of it
    that is ``>= step`` (and by ``decay_steps`` itself at step 0).
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _positive("decay_steps", "PolynomialDecay", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step) -> float:
        step = float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        lr0, lr1 = float(self.initial_learning_rate), float(self.end_learning_rate)
        return (lr0 - lr1) * (1.0 - p) ** float(self.power) + lr1

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` for ``step <= boundaries[0]``, ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` for ``step > boundaries[-1]``.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: need one more value than boundaries, got "
                f"boundaries={boundaries} (length {len(boundaries)}) and values={values} (length {len(values)})")
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must be strictly increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warmup (Keras 3 semantics).

    Without warmup (``warmup_target=None``)::

        s = min(step, decay_steps)
        lr(step) = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)

    With ``warmup_target`` set, ``s = min(step, warmup_steps + decay_steps)`` and::

        s <  warmup_steps:  lr = initial_learning_rate + (warmup_target - initial_learning_rate) * s / warmup_steps
        s >= warmup_steps:  lr = warmup_target * ((1 - alpha) * 0.5 * (1 + cos(pi * (s - warmup_steps) / decay_steps)) + alpha)

    so the learning rate rises linearly from ``initial_learning_rate`` to
    ``warmup_target``, then decays to ``alpha * warmup_target``.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _positive("decay_steps", "CosineDecay", decay_steps)
        if warmup_steps < 0:
            raise ValueError(f"CosineDecay: warmup_steps must be >= 0, got {warmup_steps!r}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        alpha = float(self.alpha)
        return decay_from * ((1.0 - alpha) * cosine + alpha)

    def __call__(self, step) -> float:
        step = float(step)
        lr0 = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), lr0)
        target = float(self.warmup_target)
        step = min(step, float(self.warmup_steps + self.decay_steps))
        if step < self.warmup_steps:
            return lr0 + (target - lr0) * step / self.warmup_steps
        return self._decay(step - self.warmup_steps, target)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class LinearWarmup(LearningRateSchedule):
    """Linear warmup in front of any schedule (or constant learning rate).

    ``target`` is ``schedule(0)`` (or the constant)::

        step <  warmup_steps:  lr = initial_learning_rate + (target - initial_learning_rate) * step / warmup_steps
        step >= warmup_steps:  lr = schedule(step - warmup_steps)

    so the wrapped schedule starts once warmup ends.
    ``LinearWarmup(CosineDecay(lr, T), W)`` equals
    ``CosineDecay(0.0, T, warmup_target=lr, warmup_steps=W)``.
    (PyTorch's nearest is ``SequentialLR([LinearLR(...), ...], milestones=[W])``;
    ``LinearLR`` starts at ``start_factor * lr`` rather than at an absolute value.)
    """

    def __init__(self, schedule, warmup_steps, initial_learning_rate=0.0, name="LinearWarmup"):
        if isinstance(schedule, dict):
            schedule = deserialize(schedule)
        if not (callable(schedule) or isinstance(schedule, numbers.Real)) or isinstance(schedule, bool):
            raise TypeError(f"LinearWarmup: expected a schedule or a number, got {schedule!r}")
        _positive("warmup_steps", "LinearWarmup", warmup_steps)
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.initial_learning_rate = initial_learning_rate
        self.name = name

    def _after(self, step) -> float:
        return float(self.schedule(step)) if callable(self.schedule) else float(self.schedule)

    def __call__(self, step) -> float:
        step = float(step)
        if step >= self.warmup_steps:
            return self._after(step - self.warmup_steps)
        lr0 = float(self.initial_learning_rate)
        return lr0 + (self._after(0) - lr0) * step / self.warmup_steps

    def get_config(self) -> dict:
        schedule = serialize(self.schedule) if isinstance(self.schedule, LearningRateSchedule) else self.schedule
        return {"schedule": schedule, "warmup_steps": self.warmup_steps,
                "initial_learning_rate": self.initial_learning_rate, "name": self.name}


def warmup(schedule, warmup_steps, initial_learning_rate=0.0) -> LinearWarmup:
    """``LinearWarmup(schedule, warmup_steps, initial_learning_rate)``: ramp up, then follow ``schedule``."""
    return LinearWarmup(schedule, warmup_steps, initial_learning_rate=initial_learning_rate)


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PolynomialDecay,
                                            PiecewiseConstantDecay, CosineDecay, LinearWarmup)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}``."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"schedules.serialize: expected a LearningRateSchedule, got {schedule!r}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """Rebuild a schedule from ``serialize``'s output."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"schedules.deserialize: expected {{'class_name': ..., 'config': ...}}, got {config!r}")
    known = dict(_SCHEDULES, **(custom_objects or {}))
    name = config["class_name"]
    if name not in known:
        raise ValueError(f"schedules.deserialize: unknown schedule {name!r}; known: {', '.join(sorted(known))}")
    return known[name].from_config(dict(config.get("config", {})))


__all__ = [
    "CosineDecay", "ExponentialDecay", "InverseTimeDecay", "LearningRateSchedule", "LinearWarmup",
    "PiecewiseConstantDecay", "PolynomialDecay", "deserialize", "serialize", "warmup",
]
