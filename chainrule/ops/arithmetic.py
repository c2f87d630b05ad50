"""Binary arithmetic: add, subtract, multiply, divide, power, and unary negative (the operators).

The operands broadcast by NumPy's rules; the gradient that reaches a broadcast
input is summed back to its shape (``sum_to``). ``_operands`` converts and
promotes a pair of operands (an integer meeting a float takes the float's dtype,
as in PyTorch); the other binary ops (maximum, minimum, where, the comparisons,
matmul) use it too. Where a derivative is not defined at a point (powers at 0),
the choice PyTorch makes is used and stated in the docstring.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Function
from ..autograd.tensor import Tensor, _short_repr, ensure_tensor
from ..backend import xp
from .shape import cast, sum_to


def _operands(op: str, a, b):
    if type(a) is not Tensor and not isinstance(a, Tensor):
        try:
            a = ensure_tensor(a, like=b if isinstance(b, Tensor) else None)
        except (TypeError, ValueError):
            raise _operand_error(op, a, b) from None
    if type(b) is not Tensor and not isinstance(b, Tensor):
        try:
            b = ensure_tensor(b, like=a)
        except (TypeError, ValueError):
            raise _operand_error(op, b, a) from None
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


def _operand_error(op, value, other):
    with_ = f" with a tensor of shape {other.shape} and dtype {other.dtype}" if isinstance(other, Tensor) else ""
    return TypeError(
        f"{op}: unsupported operand {_short_repr(value)}{with_}; expected a Tensor, a number or an array of numbers"
    )


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
        except TypeError:
            if a.dtype == bool and b.dtype == bool:  # NumPy has no bool - bool
                raise TypeError(
                    f"subtract: cannot subtract two bool tensors (shapes {a.shape} and {b.shape}); "
                    "use != (exclusive or), or convert them to numbers first"
                ) from None
            raise

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
    """y = a ** b.  dy/da = b a^(b-1), taken as 0 where b = 0;  dy/db = y ln(a), taken as 0 where a = 0 and b >= 0.

    Both choices are PyTorch's: a^0 = 1 is constant in a (even at a = 0, where b a^(b-1)
    would be 0 * inf), and at a = 0 with b >= 0 the limit of y ln(a) is used instead of
    0 * (-inf). The substitutions go through the differentiable ``where``, so second
    derivatives stay finite there.
    """

    def forward(self, a, b):
        try:
            return a**b
        except ValueError:
            raise _broadcast_error("power", a, b) from None

    def backward(self, g):
        from .elementwise import log, where

        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            b_zero = b.data == 0
            if b_zero.any():
                # Where b = 0 (and a = 0) the base is replaced by 1 before a^(b-1) is formed, so
                # neither this gradient nor its own derivative meets 0 * inf.
                both = b_zero & (a.data == 0)
                base = where(Tensor._wrap(both), Tensor._wrap(xp.ones((), a.dtype)), a) if both.any() else a
                d = where(Tensor._wrap(b_zero), Tensor._wrap(xp.zeros((), g.dtype)), b * base ** (b - 1.0))
            else:
                d = b * a ** (b - 1.0)
            ga = sum_to(g * d, a.shape)
        if nb:
            # ln(a) is replaced by ln(1) = 0 where a = 0 and b >= 0; the substitution goes through
            # the differentiable ``where``, so the second derivative in a (a^b / a) is kept.
            at_zero = (a.data == 0) & (b.data >= 0)
            safe = where(Tensor._wrap(at_zero), Tensor._wrap(xp.ones((), a.dtype)), a) if at_zero.any() else a
            gb = sum_to(g * a**b * log(safe), b.shape)
        return ga, gb


class PowScalar(Function):
    """y = x ** p for a constant p.  dy/dx = p x^(p-1), and 0 for p = 0 (x^0 = 1 is constant, even at x = 0)."""

    def forward(self, x, p):
        self.p = p
        return x**p

    def backward(self, g):
        (x,) = self.inputs
        p = self.p
        if p == 2:
            return g * (x * 2.0)
        if p == 0:
            return Tensor._wrap(xp.zeros(x.shape, g.dtype))
        return g * (p * x ** (p - 1))


class Neg(Function):
    """y = -x.  dy/dx = -1."""

    def forward(self, x):
        try:
            return -x
        except TypeError:
            if x.dtype == bool:  # NumPy has no -bool
                raise TypeError(
                    f"negative: cannot negate a bool tensor (shape {x.shape}); use x == False to invert a mask"
                ) from None
            raise

    def backward(self, g):
        return -g


# ---------------------------------------------------------------------------- public functions
def add(a, b) -> Tensor:
    r"""y = a + b elementwise, broadcasting by NumPy's rules (the ``+`` operator).

    dy/da = 1, dy/db = 1; the gradient of a broadcast operand is summed back to its shape.

    Math:
        $$y = a + b, \qquad \frac{\partial y}{\partial a} = 1, \quad \frac{\partial y}{\partial b} = 1 \ \ (\text{summed over broadcast axes})$$
    """
    return Add.apply(*_operands("add", a, b))


def subtract(a, b) -> Tensor:
    r"""y = a - b elementwise, broadcasting (the ``-`` operator).  dy/da = 1, dy/db = -1.

    Math:
        $$y = a - b, \qquad \frac{\partial y}{\partial a} = 1, \quad \frac{\partial y}{\partial b} = -1$$
    """
    return Sub.apply(*_operands("subtract", a, b))


def multiply(a, b) -> Tensor:
    r"""y = a * b elementwise, broadcasting (the ``*`` operator).  dy/da = b, dy/db = a.

    Math:
        $$y = a\,b, \qquad \frac{\partial y}{\partial a} = b, \quad \frac{\partial y}{\partial b} = a$$
    """
    return Mul.apply(*_operands("multiply", a, b))


def divide(a, b) -> Tensor:
    r"""y = a / b elementwise, broadcasting (the ``/`` operator).  dy/da = 1/b, dy/db = -a/b^2.

    True division: integer (or bool) operands give ``cr.floatx()`` (float32 by default), as PyTorch.

    Math:
        $$y = \frac{a}{b}, \qquad \frac{\partial y}{\partial a} = \frac{1}{b}, \quad \frac{\partial y}{\partial b} = -\frac{a}{b^{2}}$$
    """
    a, b = _operands("divide", a, b)
    if a.data.dtype.kind != "f":  # both integer or bool (a float operand would have converted the other)
        fx = backend.floatx_dtype()
        a, b = Tensor._wrap(a.data.astype(fx)), Tensor._wrap(b.data.astype(fx))
    return Div.apply(a, b)


def power(a, b) -> Tensor:
    r"""y = a ** b elementwise, broadcasting (the ``**`` operator).

    dy/da = b a^(b-1), taken as 0 where b = 0 (x**0 has gradient 0, even at x = 0);
    dy/db = y ln(a), taken as 0 where a = 0 and b >= 0 (PyTorch's choices).
    An integer tensor to a float power gives ``cr.floatx()``; to an integer power it stays
    integer, and a negative integer exponent is an error (as PyTorch).

    Math:
        $$y = a^{b}, \qquad \frac{\partial y}{\partial a} = b\,a^{b-1}, \quad \frac{\partial y}{\partial b} = a^{b} \ln a$$
    """
    if isinstance(a, Tensor) and not isinstance(b, Tensor) and isinstance(b, (int, float, xp.number)):
        # A NumPy scalar exponent becomes a Python number, so that float32 ** float64(2) stays float32.
        if isinstance(b, xp.number):
            b = int(b) if isinstance(b, xp.integer) else float(b)
        if a.data.dtype.kind != "f":
            if isinstance(b, float):
                a = Tensor._wrap(a.data.astype(backend.floatx_dtype()))
            elif b < 0:
                raise _negative_int_power(a, b)
        return PowScalar.apply(a, p=b)
    a, b = _operands("power", a, b)
    if a.data.dtype.kind != "f" and b.data.dtype.kind in "iu" and (b.data < 0).any():
        raise _negative_int_power(a, b)
    return Pow.apply(a, b)


def _negative_int_power(a, b):
    what = f"exponent {b}" if not isinstance(b, Tensor) else f"an exponent tensor of shape {b.shape} with negative entries"
    return ValueError(
        f"power: integers to negative integer powers are not allowed (base of shape {a.shape} and dtype "
        f"{a.dtype}, {what}); make the base a float tensor first, e.g. x.astype('float32')"
    )


def negative(x) -> Tensor:
    r"""y = -x (unary ``-``).  dy/dx = -1.

    Math:
        $$y = -x, \qquad \frac{dy}{dx} = -1$$
    """
    return Neg.apply(ensure_tensor(x, op="negative"))
