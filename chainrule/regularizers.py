"""Weight and activity regularizers: penalties added to the training loss.

* L1(l1):        R(w) = l1 * sum |w|             dR/dw = l1 * sign(w)      (drives weights to exactly 0: sparsity)
* L2(l2):        R(w) = l2 * sum w^2             dR/dw = 2 l2 w            (weight decay)
* L1L2(l1, l2):  R(w) = l1 * sum |w| + l2 * sum w^2   (Elastic Net)

Used as ``kernel_regularizer=``/``bias_regularizer=`` (a penalty on the weight) or
``activity_regularizer=`` (a penalty on the layer's output, e.g. L1 for sparse
activations). Keras's convention: no factor 1/2 in L2.
"""
from __future__ import annotations

from . import custom_objects as _custom


class Regularizer:
    def __call__(self, x):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check(name, value):
    value = float(value)
    if value < 0 or value != value:
        raise ValueError(f"{name}: the factor must be a non-negative number, got {value}")
    return value


class L1L2(Regularizer):
    r"""R(w) = l1 * sum|w| + l2 * sum w^2 (Elastic Net).

    Math:
        $$R(w) = \lambda_1 \sum_j \lvert w_j \rvert + \lambda_2 \sum_j w_j^{2}, \qquad \frac{\partial R}{\partial w_j} = \lambda_1 \operatorname{sign}(w_j) + 2\lambda_2 w_j$$
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check("L1L2", l1)
        self.l2 = _check("L1L2", l2)

    def __call__(self, x):
        penalty = None
        if self.l1:
            penalty = x.abs().sum() * self.l1
        if self.l2:
            p2 = (x * x).sum() * self.l2
            penalty = p2 if penalty is None else penalty + p2
        if penalty is None:
            penalty = (x * 0.0).sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    r"""R(w) = l1 * sum |w|.

    Math:
        $$R(w) = \lambda_1 \sum_j \lvert w_j \rvert, \qquad \frac{\partial R}{\partial w_j} = \lambda_1 \operatorname{sign}(w_j)$$
    """

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    r"""R(w) = l2 * sum w^2.

    Math:
        $$R(w) = \lambda_2 \sum_j w_j^{2}, \qquad \frac{\partial R}{\partial w_j} = 2\lambda_2 w_j$$
    """

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
_NAME_OF = {L1: "L1", L2: "L2", L1L2: "L1L2"}


def get(identifier):
    """A regularizer from a name (``"l2"``), a config dict, an instance, a callable, or None."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            found = _custom.lookup(identifier)
            if found is not None:
                return found() if isinstance(found, type) else found
            raise ValueError(f"regularizers.get: unknown regularizer {identifier!r}; known: l1, l2, l1_l2"
                             + _custom.hint(identifier))
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"regularizers.get: cannot interpret {identifier!r} as a regularizer")


def serialize(reg):
    if type(reg) in _NAME_OF:
        return {"class_name": _NAME_OF[type(reg)], "config": reg.get_config()}
    raise ValueError(f"regularizers.serialize: cannot serialize {reg!r} (a custom callable)")


def deserialize(config, custom_objects=None):
    class_name = config.get("class_name", "")
    name = str(class_name).lower()
    if name not in _BY_NAME:
        found = _custom.lookup(class_name, custom_objects)
        if isinstance(found, type):
            return _custom.instantiate(found, config.get("config"))
        raise ValueError(f"regularizers.deserialize: unknown regularizer {class_name!r}" + _custom.hint(class_name))
    return _BY_NAME[name].from_config(config.get("config", {}))
