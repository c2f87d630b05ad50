"""Weight initializers, by Keras's names.

Each is a callable ``init(shape, dtype) -> ndarray``. Fans follow Keras: for a
kernel of shape (*receptive_field, fan_in_channels, fan_out_channels),
fan_in = prod(receptive_field) * shape[-2] and fan_out = prod(receptive_field) * shape[-1].

* Glorot (Xavier): Var(w) = 2 / (fan_in + fan_out) — keeps activations' and
  gradients' variance steady through tanh/sigmoid layers.
* He: Var(w) = 2 / fan_in — the same for ReLU, which zeroes half the signal.
* LeCun: Var(w) = 1 / fan_in — for SELU.
Uniform versions draw from [-limit, limit] with limit = sqrt(3 Var).
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from . import custom_objects as _custom
from .naming import snake_case


def compute_fans(shape):
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype or backend.floatx())


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype or backend.floatx())


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype or backend.floatx())

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _rng(self):
        return np.random.default_rng(self.seed) if self.seed is not None else backend.rng()

    def __call__(self, shape, dtype=None):
        return (self._rng().standard_normal(shape) * self.stddev + self.mean).astype(dtype or backend.floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else backend.rng()
        return rng.uniform(self.minval, self.maxval, shape).astype(dtype or backend.floatx())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal samples redrawn until within two standard deviations of the mean."""

    def __call__(self, shape, dtype=None):
        rng = self._rng()
        x = rng.standard_normal(shape)
        bad = np.abs(x) > 2
        while bad.any():
            x[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(x) > 2
        return (x * self.stddev + self.mean).astype(dtype or backend.floatx())


class VarianceScaling(Initializer):
    """Var(w) = scale / n with n = fan_in, fan_out or their mean (``mode``)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "normal", "uniform"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        rng = np.random.default_rng(self.seed) if self.seed is not None else backend.rng()
        dtype = dtype or backend.floatx()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        if self.distribution == "truncated_normal":
            # 0.8796... is the std of a unit normal truncated to [-2, 2].
            std = math.sqrt(var) / 0.87962566103423978
            return TruncatedNormal(0.0, std, self.seed)(shape, dtype) if self.seed is not None else _trunc(rng, shape, std, dtype)
        return (rng.standard_normal(shape) * math.sqrt(var)).astype(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _trunc(rng, shape, std, dtype):
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2
    return (x * std).astype(dtype)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class Orthogonal(Initializer):
    """A (scaled) orthogonal matrix from the QR decomposition of a normal sample."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of at least 2 dimensions, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        rng = np.random.default_rng(self.seed) if self.seed is not None else backend.rng()
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        # C order: q.T (and NumPy's QR itself) is Fortran-ordered, and a weight in the other order
        # than its gradient and optimizer slots makes every elementwise update strided (an LSTM's
        # recurrent kernel: Adam's update 1 ms instead of 0.09 ms).
        return np.ascontiguousarray(self.gain * q[:rows, :cols], dtype=dtype or backend.floatx()).reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity: needs a 2-D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(dtype or backend.floatx())

    def get_config(self):
        return {"gain": self.gain}


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "xavier_uniform": GlorotUniform,
    "xavier_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform, "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform, "orthogonal": Orthogonal, "identity": Identity,
    # Keras 3's short aliases (its Embedding's default initializer is "uniform")
    "uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros,
}
_CLASS_TO_NAME = {}
for _n, _c in _BY_NAME.items():
    _CLASS_TO_NAME.setdefault(_c, _n)


def get(identifier):
    """An initializer from a name (``"he_normal"``), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            found = _custom.lookup(identifier)
            if found is not None:
                return found() if isinstance(found, type) else found
            raise ValueError(f"initializers.get: unknown initializer {identifier!r}; known: {', '.join(sorted(_BY_NAME))}"
                             + _custom.hint(identifier))
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"initializers.get: cannot interpret {identifier!r} as an initializer")


def serialize(init) -> dict | str:
    if isinstance(init, Initializer) and type(init) in _CLASS_TO_NAME:
        return {"class_name": _CLASS_TO_NAME[type(init)], "config": init.get_config()}
    raise ValueError(f"initializers.serialize: cannot serialize {init!r} (a custom callable)")


def deserialize(config: dict):
    name = config.get("class_name", "")
    key = name.lower() if name.lower() in _BY_NAME else snake_case(name)
    if key not in _BY_NAME:
        found = _custom.lookup(name)
        if isinstance(found, type):
            return _custom.instantiate(found, config.get("config"))
        raise ValueError(f"initializers.deserialize: unknown initializer {name!r}" + _custom.hint(name))
    return _BY_NAME[key].from_config(config.get("config", {}))


glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
zeros = Zeros
ones = Ones
orthogonal = Orthogonal
