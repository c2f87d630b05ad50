"""Elementwise ops: the classic unary functions, maximum and minimum, where, clip and the comparisons.

The arithmetic operators are in ``arithmetic``. Binary ops broadcast by NumPy's
rules; the gradient that reaches a broadcast input is summed back to its shape
(``sum_to``). Where a derivative is not defined at a point (relu and abs at 0,
ties in maximum/minimum, the edges of clip), the choice PyTorch makes is used
and stated in the docstring.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Function
from ..autograd.tensor import Tensor, _short_repr, ensure_tensor
from ..backend import xp
from .arithmetic import _broadcast_error, _operands
from .shape import common_dtype, sum_to


class Abs(Function):
    r"""y = |x|.  dy/dx = sign(x), with sign(0) = 0 (as PyTorch).

    Math:
        $$y = \lvert x \rvert, \qquad \frac{dy}{dx} = \operatorname{sign}(x) \ \ (0 \text{ at } x = 0)$$
    """

    def forward(self, x):
        self.sign = xp.sign(x)
        return xp.abs(x)

    def backward(self, g):
        return g * Tensor._wrap(self.sign)


class Exp(Function):
    r"""y = e^x.  dy/dx = e^x = y.

    Math:
        $$y = e^{x}, \qquad \frac{dy}{dx} = e^{x} = y$$
    """

    def forward(self, x):
        self.save_output()
        return xp.exp(x)

    def backward(self, g):
        return g * self.output


class Log(Function):
    r"""y = ln x.  dy/dx = 1/x.

    Math:
        $$y = \ln x, \qquad \frac{dy}{dx} = \frac{1}{x}$$
    """

    def forward(self, x):
        return xp.log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Sqrt(Function):
    r"""y = sqrt(x).  dy/dx = 1 / (2 sqrt(x)) = 1 / (2y).

    Math:
        $$y = \sqrt{x}, \qquad \frac{dy}{dx} = \frac{1}{2\sqrt{x}} = \frac{1}{2y}$$
    """

    def forward(self, x):
        self.save_output()
        return xp.sqrt(x)

    def backward(self, g):
        return g / (self.output * 2.0)


class Sin(Function):
    r"""y = sin x.  dy/dx = cos x.

    Math:
        $$y = \sin x, \qquad \frac{dy}{dx} = \cos x$$
    """

    def forward(self, x):
        return xp.sin(x)

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(Function):
    r"""y = cos x.  dy/dx = -sin x.

    Math:
        $$y = \cos x, \qquad \frac{dy}{dx} = -\sin x$$
    """

    def forward(self, x):
        return xp.cos(x)

    def backward(self, g):
        return -(g * sin(self.inputs[0]))


class Tanh(Function):
    r"""y = tanh x = (e^x - e^-x)/(e^x + e^-x).  dy/dx = 1 - y^2.

    Math:
        $$y = \tanh x = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}, \qquad \frac{dy}{dx} = 1 - y^{2}$$
    """

    def forward(self, x):
        self.save_output()
        return xp.tanh(x)

    def backward(self, g):
        y = self.output
        return g * (1.0 - y * y)


class Sigmoid(Function):
    r"""y = 1 / (1 + e^-x).  dy/dx = y (1 - y).

    Computed as e^x/(1+e^x) for x < 0 so that neither branch overflows.

    Math:
        $$\sigma(x) = \frac{1}{1 + e^{-x}}, \qquad \frac{d\sigma}{dx} = \sigma(x)\,\bigl(1 - \sigma(x)\bigr)$$
    """

    def forward(self, x):
        self.save_output()
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, g):
        y = self.output
        return g * (y * (1.0 - y))


class Relu(Function):
    r"""y = max(x, 0).  dy/dx = 1 if x > 0 else 0 (0 at x = 0, as PyTorch).

    Math:
        $$y = \max(x, 0), \qquad \frac{dy}{dx} = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}$$
    """

    def forward(self, x):
        self.mask = x > 0
        return xp.maximum(x, 0, dtype=x.dtype) if x.dtype.kind == "f" else xp.maximum(x, 0)

    def backward(self, g):
        return g * Tensor._wrap(self.mask.astype(g.dtype))


class Maximum(Function):
    """y = max(a, b) elementwise.

    dy/da = 1 where a > b, 1/2 where a = b, 0 where a < b; dy/db likewise with a and b swapped.
    Where a or b is NaN (y is NaN) both get 1: PyTorch's rule, dy/da = 0 only where a < b.
    """

    def forward(self, a, b):
        try:
            return xp.maximum(a, b)
        except ValueError:
            raise _broadcast_error("maximum", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        return _split_grad(self, g, a, b, xp.less, xp.greater)


class Minimum(Function):
    """y = min(a, b) elementwise.

    dy/da = 1 where a < b, 1/2 where a = b, 0 where a > b; dy/db likewise with a and b swapped.
    Where a or b is NaN (y is NaN) both get 1: PyTorch's rule, dy/da = 0 only where a > b.
    """

    def forward(self, a, b):
        try:
            return xp.minimum(a, b)
        except ValueError:
            raise _broadcast_error("minimum", a, b) from None

    def backward(self, g):
        a, b = self.inputs
        return _split_grad(self, g, a, b, xp.greater, xp.less)


def _split_grad(fn, g, a, b, a_loses, b_loses):
    """The gradient of max/min: 1 to an operand except where it loses, 1/2 to each on a tie."""
    na, nb = fn.needs_input_grad
    ad, bd = a.data, b.data
    tie = ad == bd
    any_tie = tie.any()

    def weight(loses):
        w = xp.asarray(~loses, dtype=g.dtype)
        if any_tie:
            w[tie] = 0.5
        return Tensor._wrap(w)

    ga = sum_to(g * weight(a_loses(ad, bd)), a.shape) if na else None
    gb = sum_to(g * weight(b_loses(ad, bd)), b.shape) if nb else None
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
    """y = min(max(x, lo), hi) for constant bounds lo <= hi (either may be absent).

    dy/dx = 1 where lo <= x <= hi, else 0: on the boundary itself the gradient is 1,
    as PyTorch's clamp.
    """

    def forward(self, x, lo, hi):
        self.mask = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            self.mask &= x >= lo
        if hi is not None:
            self.mask &= x <= hi
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * Tensor._wrap(self.mask.astype(g.dtype))


class ClipTensor(Function):
    """y = min(max(x, lo), hi) with tensor bounds, broadcast against x (as torch.clamp with tensors).

    dy/dx  = 1 where lo <= x <= hi (the boundary included), else 0;
    dy/dlo = 1 where x < lo and lo < hi, else 0;
    dy/dhi = 1 where x > hi or hi < lo, else 0
    (where lo > hi the result is hi, whatever x is). With one bound only, dy/dx = 1 on
    its side of it (boundary included) and the bound gets the rest.
    """

    def forward(self, x, *bounds, has_lo, has_hi):
        lo = bounds[0] if has_lo else None
        hi = bounds[-1] if has_hi else None
        try:
            y = x if lo is None else xp.maximum(x, lo)
            y = y if hi is None else xp.minimum(y, hi)
        except ValueError:
            shapes = ", ".join(str(t.shape) for t in (x, *bounds))
            raise ValueError(f"clip: x and the bounds of shapes {shapes} cannot be broadcast together") from None
        if lo is not None and hi is not None:
            self.masks = ((x >= lo) & (x <= hi), (x < lo) & (lo < hi), (x > hi) | (hi < lo))
        elif lo is not None:
            self.masks = (x >= lo, x < lo)
        else:
            self.masks = (x <= hi, x > hi)
        return y

    def backward(self, g):
        return tuple(
            sum_to(g * Tensor._wrap(m.astype(g.dtype)), t.shape) if need else None
            for t, m, need in zip(self.inputs, self.masks, self.needs_input_grad)
        )


# ---------------------------------------------------------------------------- public functions
def _unary_input(name, x) -> Tensor:
    """x as a Tensor; integers and bools become ``floatx()`` (abs and relu keep them)."""
    x = ensure_tensor(x, op=name)
    if x.data.dtype.kind != "f" and name not in ("abs", "relu"):
        x = Tensor._wrap(x.data.astype(backend.floatx_dtype()))
    return x


def _unary(cls, name):
    def op(x) -> Tensor:
        return cls.apply(_unary_input(name, x))

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
relu = _unary(Relu, "relu")


def sigmoid(x) -> Tensor:
    x = _unary_input("sigmoid", x)
    y = Sigmoid.apply(x)
    # The output records its input as its logits (as Keras's ``_keras_logits``), in every mode,
    # so that binary cross-entropy computes the loss from the logits (see ``ops.loss``).
    y._keras_logits = (Sigmoid, x, None)
    return y


sigmoid.__doc__ = Sigmoid.__doc__ + "\n    The output records x as its logits (``_keras_logits``) for binary cross-entropy.\n"


def maximum(a, b) -> Tensor:
    """y = max(a, b) elementwise, broadcasting.

    dy/da = 1 where a > b, 0 where a < b, and 1/2 where a = b (a tie splits the gradient
    0.5/0.5 between a and b); dy/db likewise. Where either is NaN, y is NaN and both get
    the gradient (PyTorch's rule: an operand gets 0 only where it is strictly smaller).
    """
    return Maximum.apply(*_operands("maximum", a, b))


def minimum(a, b) -> Tensor:
    """y = min(a, b) elementwise, broadcasting.

    dy/da = 1 where a < b, 0 where a > b, and 1/2 where a = b (a tie splits the gradient
    0.5/0.5 between a and b); dy/db likewise. Where either is NaN, y is NaN and both get
    the gradient (PyTorch's rule: an operand gets 0 only where it is strictly larger).
    """
    return Minimum.apply(*_operands("minimum", a, b))


def where(condition, a, b) -> Tensor:
    """Elementwise choice: y = a where ``condition`` is true, else b (all three broadcast).

    dy/da = 1 where condition, else 0; dy/db = 1 where not condition, else 0. The condition
    must be boolean (e.g. ``x > 0``), as in PyTorch; it carries no gradient.
    """
    cond = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(
            f"where: condition must be a bool tensor (e.g. x > 0), got dtype {cond.dtype} and shape {cond.shape}"
        )
    a, b = _operands("where", a, b)
    return Where.apply(a, b, cond=cond)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, xp.number))


def clip(x, min=None, max=None) -> Tensor:  # noqa: A002 - NumPy's and PyTorch's names
    """y = min(max(x, min), max): values limited to [min, max] (either bound may be None).

    dy/dx = 1 where min <= x <= max, else 0 -- on the boundary itself the gradient is 1, as
    PyTorch's clamp. The bounds may be numbers or arrays/Tensors broadcast against x; Tensor
    bounds that require grad get dy/dmin = 1 where x < min (and min < max) and dy/dmax = 1
    where x > max (or max < min), as torch.clamp. An integer x with a float bound gives
    ``cr.floatx()``.
    """
    x = ensure_tensor(x, op="clip")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if (min is None or _is_number(min)) and (max is None or _is_number(max)):
        if min is not None and max is not None and min > max:
            raise ValueError(f"clip: min {min} is greater than max {max}")
        if x.data.dtype.kind != "f" and any(isinstance(v, (float, xp.floating)) for v in (min, max)):
            x = Tensor._wrap(x.data.astype(backend.floatx_dtype()))
        return Clip.apply(x, lo=min, hi=max)
    bounds = []
    for label, v in (("min", min), ("max", max)):
        if v is None:
            continue
        try:
            bounds.append(ensure_tensor(v, like=x))
        except (TypeError, ValueError):
            raise TypeError(f"clip: {label} must be a number, an array or a Tensor, got {_short_repr(v)}") from None
    x, *bounds = common_dtype([x, *bounds])
    return ClipTensor.apply(x, *bounds, has_lo=min is not None, has_hi=max is not None)


def _compare(ufunc, name, symbol):
    def op(a, b) -> Tensor:
        a, b = _operands(name, a, b)
        try:
            return Tensor._wrap(ufunc(a.data, b.data))
        except ValueError:
            raise _broadcast_error(name, a, b) from None

    op.__name__ = name
    op.__doc__ = (
        f"y = (a {symbol} b) elementwise, broadcasting (the ``{symbol}`` operator); a bool tensor.\n\n"
        "A step function of its operands: no gradient flows through it (the result never requires grad)."
    )
    return op


equal = _compare(xp.equal, "equal", "==")
not_equal = _compare(xp.not_equal, "not_equal", "!=")
less = _compare(xp.less, "less", "<")
less_equal = _compare(xp.less_equal, "less_equal", "<=")
greater = _compare(xp.greater, "greater", ">")
greater_equal = _compare(xp.greater_equal, "greater_equal", ">=")
