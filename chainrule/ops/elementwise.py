"""Elementwise ops: arithmetic, the classic unary functions, comparisons, where and clip.

Binary ops broadcast by NumPy's rules; the gradient that reaches a broadcast
input is summed back to its shape (``sum_to``). Where a derivative is not
defined at a point (relu and abs at 0, ties in maximum/minimum, the edges of
clip), the choice PyTorch makes is used and stated in the docstring.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Function
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import xp
from .shape import cast, sum_to


def _operands(op: str, a, b):
    if type(a) is not Tensor and not isinstance(a, Tensor):
        a = ensure_tensor(a, like=b if isinstance(b, Tensor) else None)
    if type(b) is not Tensor and not isinstance(b, Tensor):
        b = ensure_tensor(b, like=a)
    da, db = a.data.dtype, b.data.dtype
    if da is db or da == db:
        return a, b
    ka, kb = da.kind, db.kind
    # An integer or bool operand meeting a float tensor takes the float's dtype (as in PyTorch),
    # instead of NumPy's promotion of int64 + float32 to float64.
    if ka == "f" and kb != "f":
        b = Tensor._wrap(b.data.astype(da))
    elif kb == "f" and ka != "f":
        a = Tensor._wrap(a.data.astype(db))
    elif ka == "f" and kb == "f":
        # Two float dtypes: the narrower operand is cast up through the differentiable ``cast``,
        # so its gradient comes back in its own dtype (a float32 leaf never gets a float64 .grad).
        wide = xp.promote_types(da, db)
        if da != wide:
            a = cast(a, wide)
        if db != wide:
            b = cast(b, wide)
    return a, b


def _broadcast_error(op, a, b):
    return ValueError(f"{op}: operands of shapes {a.shape} and {b.shape} cannot be broadcast together")


class Add(Function):
    """y = a + b.  dy/da = 1, dy/db = 1 (summed over broadcast axes)."""

    def forward(self, a, b):
        try:
            return a + b
        except ValueError:
            raise _broadcast_error("add", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        return sum_to(g, a.shape), sum_to(g, b.shape)


class Sub(Function):
    """y = a - b.  dy/da = 1, dy/db = -1."""

    def forward(self, a, b):
        try:
            return a - b
        except ValueError:
            raise _broadcast_error("subtract", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        return sum_to(g, a.shape), (sum_to(-g, b.shape) if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b.  dy/da = b, dy/db = a."""

    def forward(self, a, b):
        try:
            return a * b
        except ValueError:
            raise _broadcast_error("multiply", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(g * b, a.shape) if na else None), (sum_to(g * a, b.shape) if nb else None)


class Div(Function):
    """y = a / b.  dy/da = 1/b, dy/db = -a/b^2 = -y/b."""

    def forward(self, a, b):
        try:
            return a / b
        except ValueError:
            raise _broadcast_error("divide", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = sum_to(g / b, a.shape) if na else None
        gb = sum_to(-g * a / (b * b), b.shape) if nb else None
        return ga, gb


class Pow(Function):
    """y = a ** b.  dy/da = b a^(b-1);  dy/db = y ln(a), taken as 0 where a = 0 and b >= 0 (as PyTorch)."""

    def forward(self, a, b):
        try:
            return a**b
        except ValueError:
            raise _broadcast_error("power", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = sum_to(g * b * a ** (b - 1.0), a.shape) if na else None
        gb = None
        if nb:
            # ln(a) is replaced by ln(1) = 0 where a = 0 and b >= 0; the substitution goes through
            # the differentiable ``where``, so the second derivative in a (a^b / a) is kept.
            at_zero = (a.data == 0) & (b.data >= 0)
            safe = where(Tensor._wrap(at_zero), Tensor._wrap(xp.ones((), a.dtype)), a) if at_zero.any() else a
            gb = sum_to(g * a**b * log(safe), b.shape)
        return ga, gb


class PowScalar(Function):
    """y = x ** p for a constant p.  dy/dx = p x^(p-1)."""

    def forward(self, x, p):
        self.p = p
        return x**p

    def backward(self, g):
        (x,) = self.inputs
        p = self.p
        if p == 2:
            return g * (x * 2.0)
        return g * (p * x ** (p - 1))


class Neg(Function):
    """y = -x.  dy/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Abs(Function):
    """y = |x|.  dy/dx = sign(x), with sign(0) = 0 (as PyTorch)."""

    def forward(self, x):
        self.sign = xp.sign(x)
        return xp.abs(x)

    def backward(self, g):
        return g * Tensor._wrap(self.sign)


class Exp(Function):
    """y = e^x.  dy/dx = e^x = y."""

    def forward(self, x):
        self.save_output()
        return xp.exp(x)

    def backward(self, g):
        return g * self.output


class Log(Function):
    """y = ln x.  dy/dx = 1/x."""

    def forward(self, x):
        return xp.log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Sqrt(Function):
    """y = sqrt(x).  dy/dx = 1 / (2 sqrt(x)) = 1 / (2y)."""

    def forward(self, x):
        self.save_output()
        return xp.sqrt(x)

    def backward(self, g):
        return g / (self.output * 2.0)


class Sin(Function):
    """y = sin x.  dy/dx = cos x."""

    def forward(self, x):
        return xp.sin(x)

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(Function):
    """y = cos x.  dy/dx = -sin x."""

    def forward(self, x):
        return xp.cos(x)

    def backward(self, g):
        return -(g * sin(self.inputs[0]))


class Tanh(Function):
    """y = tanh x = (e^x - e^-x)/(e^x + e^-x).  dy/dx = 1 - y^2."""

    def forward(self, x):
        self.save_output()
        return xp.tanh(x)

    def backward(self, g):
        y = self.output
        return g * (1.0 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).  dy/dx = y (1 - y).

    Computed as e^x/(1+e^x) for x < 0 so that neither branch overflows.
    """

    def forward(self, x):
        self.save_output()
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, g):
        y = self.output
        return g * (y * (1.0 - y))


class Relu(Function):
    """y = max(x, 0).  dy/dx = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)."""

    def forward(self, x):
        self.mask = x > 0
        return xp.maximum(x, 0, dtype=x.dtype) if x.dtype.kind == "f" else xp.maximum(x, 0)

    def backward(self, g):
        return g * Tensor._wrap(self.mask.astype(g.dtype))


class Maximum(Function):
    """y = max(a, b) elementwise.  dy/da = 1 where a > b, 1/2 where a = b, else 0 (as PyTorch)."""

    def forward(self, a, b):
        try:
            return xp.maximum(a, b)
        except ValueError:
            raise _broadcast_error("maximum", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        wa = (a.data > b.data) + 0.5 * (a.data == b.data)
        wa = wa.astype(g.dtype)
        return _split_grad(self, g, a, b, wa)


class Minimum(Function):
    """y = min(a, b) elementwise.  dy/da = 1 where a < b, 1/2 where a = b, else 0 (as PyTorch)."""

    def forward(self, a, b):
        try:
            return xp.minimum(a, b)
        except ValueError:
            raise _broadcast_error("minimum", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        wa = (a.data < b.data) + 0.5 * (a.data == b.data)
        wa = wa.astype(g.dtype)
        return _split_grad(self, g, a, b, wa)


def _split_grad(fn, g, a, b, wa):
    na, nb = fn.needs_input_grad
    ga = sum_to(g * Tensor._wrap(wa), a.shape) if na else None
    gb = sum_to(g * Tensor._wrap(1 - wa), b.shape) if nb else None
    return ga, gb


class Where(Function):
    """y = a where cond else b.  dy/da = cond, dy/db = not cond (cond carries no gradient)."""

    def forward(self, a, b, cond):
        self.cond = cond
        try:
            return xp.where(cond, a, b)
        except ValueError:
            raise ValueError(
                f"where: condition of shape {cond.shape} and operands of shapes {a.shape} and {b.shape} "
                "cannot be broadcast together"
            ) from None

    def backward(self, g):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        c = Tensor._wrap(self.cond)
        zero = Tensor._wrap(xp.zeros((), g.dtype))
        ga = sum_to(where(c, g, zero), a.shape) if na else None
        gb = sum_to(where(c, zero, g), b.shape) if nb else None
        return ga, gb


class Clip(Function):
    """y = min(max(x, lo), hi).  dy/dx = 1 where lo <= x <= hi, else 0 (edges included, as PyTorch's clamp)."""

    def forward(self, x, lo, hi):
        self.mask = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            self.mask &= x >= lo
        if hi is not None:
            self.mask &= x <= hi
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * Tensor._wrap(self.mask.astype(g.dtype))


# ---------------------------------------------------------------------------- public functions
def add(a, b) -> Tensor:
    return Add.apply(*_operands("add", a, b))


def subtract(a, b) -> Tensor:
    return Sub.apply(*_operands("subtract", a, b))


def multiply(a, b) -> Tensor:
    return Mul.apply(*_operands("multiply", a, b))


def divide(a, b) -> Tensor:
    return Div.apply(*_operands("divide", a, b))


def power(a, b) -> Tensor:
    if isinstance(a, Tensor) and not isinstance(b, Tensor) and isinstance(b, (int, float, xp.number)):
        # A NumPy scalar exponent becomes a Python number, so that float32 ** float64(2) stays float32.
        if isinstance(b, xp.number):
            b = int(b) if isinstance(b, xp.integer) else float(b)
        return PowScalar.apply(a, p=b)
    return Pow.apply(*_operands("power", a, b))


def negative(x) -> Tensor:
    return Neg.apply(ensure_tensor(x))


def _unary(cls, name):
    def op(x) -> Tensor:
        x = ensure_tensor(x)
        if x.data.dtype.kind != "f" and name not in ("abs", "relu"):
            x = Tensor._wrap(x.data.astype(backend.floatx_dtype()))
        return cls.apply(x)

    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = cls.__doc__
    return op


abs = _unary(Abs, "abs")  # noqa: A001 - the field's name for it
exp = _unary(Exp, "exp")
log = _unary(Log, "log")
sqrt = _unary(Sqrt, "sqrt")
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tanh = _unary(Tanh, "tanh")
sigmoid = _unary(Sigmoid, "sigmoid")
relu = _unary(Relu, "relu")


def maximum(a, b) -> Tensor:
    return Maximum.apply(*_operands("maximum", a, b))


def minimum(a, b) -> Tensor:
    return Minimum.apply(*_operands("minimum", a, b))


def where(condition, a, b) -> Tensor:
    """Elementwise choice: ``a`` where ``condition`` is true, else ``b``."""
    cond = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype != bool:
        cond = cond.astype(bool)
    a, b = _operands("where", a, b)
    return Where.apply(a, b, cond=cond)


def clip(x, min=None, max=None) -> Tensor:  # noqa: A002 - NumPy's and PyTorch's names
    """Limit values to [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min {min} is greater than max {max}")
    x = ensure_tensor(x)
    return Clip.apply(x, lo=min, hi=max)


def _compare(ufunc, name):
    def op(a, b) -> Tensor:
        a, b = _operands(name, a, b)
        try:
            return Tensor._wrap(ufunc(a.data, b.data))
        except ValueError:
            raise _broadcast_error(name, a, b) from None

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` comparison; returns a bool tensor (no gradient)."
    return op


equal = _compare(xp.equal, "equal")
not_equal = _compare(xp.not_equal, "not_equal")
less = _compare(xp.less, "less")
less_equal = _compare(xp.less_equal, "less_equal")
greater = _compare(xp.greater, "greater")
greater_equal = _compare(xp.greater_equal, "greater_equal")
