"""The differentiable primitives, one module per family of math.

Importing this package also gives ``Tensor`` its operators and methods.
"""
from ..autograd.tensor import Tensor
from .creation import arange, eye, full, ones, ones_like, rand, randn, zeros, zeros_like
from .arithmetic import add, divide, multiply, negative, power, subtract
from .elementwise import (
    abs, clip, cos, equal, exp, greater, greater_equal, less, less_equal, log, maximum, minimum, not_equal, relu,
    sigmoid, sin, sqrt, tanh, where,
)
from .indexing import concatenate, getitem, pad, split, stack
from .linalg import dot, matmul
from .reduction import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import broadcast_to, cast, expand_dims, flatten, reshape, squeeze, sum_to, swapaxes, transpose


def _install_tensor_methods():
    T = Tensor
    # The op functions themselves are the dunder methods (no wrapper call on the hot path);
    # the reflected forms swap the operands.
    T.__add__ = add
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = subtract
    T.__rsub__ = lambda a, b: subtract(b, a)
    T.__mul__ = multiply
    T.__rmul__ = lambda a, b: multiply(b, a)
    T.__truediv__ = divide
    T.__rtruediv__ = lambda a, b: divide(b, a)
    T.__pow__ = power
    T.__rpow__ = _rpow
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.__neg__ = negative
    T.__pos__ = lambda a: a
    T.__abs__ = abs
    T.__eq__ = equal
    T.__ne__ = not_equal
    T.__lt__ = less
    T.__le__ = less_equal
    T.__gt__ = greater
    T.__ge__ = greater_equal
    T.__getitem__ = getitem
    T.__hash__ = object.__hash__

    for name, fn in dict(
        abs=abs, exp=exp, log=log, sqrt=sqrt, sin=sin, cos=cos, tanh=tanh, sigmoid=sigmoid, relu=relu,
        clip=clip, maximum=maximum, minimum=minimum, sum=sum, mean=mean, var=var, std=std, max=max, min=min,
        logsumexp=logsumexp, argmax=argmax, argmin=argmin, transpose=transpose, swapaxes=swapaxes,
        broadcast_to=broadcast_to, squeeze=squeeze, expand_dims=expand_dims, flatten=flatten, matmul=matmul,
        pad=pad, split=split, add=add, subtract=subtract, multiply=multiply, divide=divide, power=power,
        negative=negative, dot=dot,
    ).items():
        setattr(T, name, fn)
    T.reshape = lambda self, *shape: reshape(self, *shape)
    T.T = property(lambda self: transpose(self))
    T.where = _where_method


def _where_method(self, condition, other):
    """``x.where(condition, other)`` is ``cr.where(condition, x, other)`` (PyTorch's method form)."""
    return where(condition, self, other)


def _rpow(a: Tensor, b):
    from ..autograd.tensor import ensure_tensor

    return power(ensure_tensor(b, like=a), a)


_install_tensor_methods()

__all__ = [
    "abs", "add", "arange", "argmax", "argmin", "broadcast_to", "cast", "clip", "concatenate", "cos", "divide", "dot",
    "equal", "exp", "expand_dims", "eye", "flatten", "full", "getitem", "greater", "greater_equal", "less",
    "less_equal", "log", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply", "negative",
    "not_equal", "ones", "ones_like", "pad", "power", "rand", "randn", "relu", "reshape", "sigmoid", "sin", "split",
    "sqrt", "squeeze", "stack", "std", "subtract", "sum", "sum_to", "swapaxes", "tanh", "transpose", "var", "where",
    "zeros", "zeros_like",
]
