"""The table of op cases: each op's computation written once, with its inputs and edge cases.

Every ``Case`` is run three ways by the tests:

* ``test_ops_differential.py``: against PyTorch (values and gradients), float32 and float64;
* ``test_ops_gradcheck.py``: ``cr.gradcheck`` (and ``cr.gradgradcheck``) in float64,
  unless the case sits on a kink on purpose (relu at 0, ties in max, clip edges), where
  central differences are meaningless and only the differential test applies;
* ``test_ops_coverage.py``: every op named in DESIGN.md section 3 has cases here.

``fn(L, *xs)`` uses the shared names of ``differential.CR`` / ``differential.TH``.
Inputs are kept tiny so that element-by-element gradient checks stay fast.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import chainrule as cr
from differential import const, strided

_rng = np.random.default_rng(20240607)


def rn(*shape, scale=1.0):
    """Standard normal float64 array."""
    return np.asarray(_rng.standard_normal(shape) * scale)


def pos(*shape, lo=0.5, hi=2.0):
    """Uniform positive float64 array (for log, sqrt, division, fractional powers)."""
    return np.asarray(_rng.uniform(lo, hi, shape))


def away(*shape, gap=0.2):
    """Normal values kept at least ``gap`` away from 0 (for relu/abs gradient checks)."""
    x = _rng.standard_normal(shape)
    return np.asarray(np.where(x >= 0, x + gap, x - gap))


def T(x):
    """A transposed (F-ordered, non-C-contiguous) copy of ``x.T``'s values: ``T(a).T`` equals ``a``."""
    return np.asarray(x).T


@dataclass
class Case:
    op: str  # the op's name as in DESIGN.md section 3 (operators by their symbol)
    id: str
    fn: object
    inputs: tuple
    differentiable: bool = True
    gradcheck: bool = True  # False: the inputs sit on a kink on purpose
    tol32: dict = field(default_factory=dict)
    tol64: dict = field(default_factory=dict)

    @property
    def name(self):
        return f"{self.op}:{self.id}"


CASES: list[Case] = []


def case(op, id, fn, *inputs, **kw):
    CASES.append(Case(op, id, fn, tuple(inputs), **kw))


# ------------------------------------------------------------------------ arithmetic operators
_BIN = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}
for sym, f in _BIN.items():
    den = pos if sym == "/" else rn  # keep divisors away from 0
    case(sym, "same_shape", lambda L, a, b, f=f: f(a, b), rn(3, 4), den(3, 4))
    case(sym, "bcast_314_54", lambda L, a, b, f=f: f(a, b), rn(3, 1, 4), den(5, 4))
    case(sym, "bcast_4_234", lambda L, a, b, f=f: f(a, b), rn(4), den(2, 3, 4))
    case(sym, "bcast_234_4", lambda L, a, b, f=f: f(a, b), rn(2, 3, 4), den(4))
    case(sym, "bcast_both_31_14", lambda L, a, b, f=f: f(a, b), rn(3, 1), den(1, 4))
    case(sym, "0d_with_matrix", lambda L, a, b, f=f: f(a, b), rn(), den(2, 3))
    case(sym, "matrix_with_0d", lambda L, a, b, f=f: f(a, b), rn(2, 3), den())
    case(sym, "0d_0d", lambda L, a, b, f=f: f(a, b), rn(), den())
    case(sym, "python_scalar_right", lambda L, a, f=f: f(a, 2.5), rn(2, 3))
    case(sym, "python_scalar_left", lambda L, b, f=f: f(1.5, b), den(2, 3))
    case(sym, "python_int_right", lambda L, a, f=f: f(a, 3), rn(2, 3))
    case(sym, "strided", lambda L, a, b, f=f: f(a, b), strided(rn(3, 4)), strided(den(3, 4)))
    case(sym, "transposed", lambda L, a, b, f=f: f(L.transpose(a), b), rn(4, 3), den(3, 4))
    case(sym, "const_operand", lambda L, a, b, f=f: f(a, b), rn(3, 4), const(den(4)))
    case(sym, "same_tensor_twice", lambda L, a, f=f: f(a, a) * a, pos(2, 3))

case("-", "python_int_left", lambda L, b: 3 - b, rn(2, 3))
case("/", "python_scalar_left_int", lambda L, b: 2 / b, pos(4))

# ** : tensor ** scalar (PowScalar) and tensor ** tensor (Pow), and scalar ** tensor.
case("**", "square", lambda L, x: x**2, rn(3, 4))
case("**", "cube", lambda L, x: x**3, rn(3, 4))
case("**", "fractional", lambda L, x: x**3.5, pos(3, 4))
case("**", "sqrt_power", lambda L, x: x**0.5, pos(2, 3))
case("**", "negative_power", lambda L, x: x**-1.5, pos(2, 3))
case("**", "zero_power", lambda L, x: x**0, rn(2, 3))
case("**", "0d", lambda L, x: x**2, rn())
case("**", "tensor_tensor", lambda L, a, b: a**b, pos(3, 4), rn(3, 4))
case("**", "tensor_tensor_bcast", lambda L, a, b: a**b, pos(3, 1), rn(4))
case("**", "tensor_0d_exponent", lambda L, a, b: a**b, pos(2, 3), rn())
case("**", "scalar_base", lambda L, b: 2.0**b, rn(2, 3))
case("**", "strided", lambda L, a, b: a**b, strided(pos(2, 3)), strided(rn(2, 3)))
case(
    "**", "zero_base",
    lambda L, a, b: a**b, np.array([0.0, 0.0, 0.5, 1.5]), np.array([1.0, 2.5, 2.0, 3.0]),
    gradcheck=False,  # d/db at a = 0 is taken as 0, as PyTorch; central differences leave the domain
)

case("unary -", "matrix", lambda L, x: -x, rn(3, 4))
case("unary -", "0d", lambda L, x: -x, rn())
case("unary -", "strided", lambda L, x: -(x * 2.0), strided(rn(3, 4)))

# ------------------------------------------------------------------------ comparisons (no grad)
_CMP = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
_ties_a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 2.0]])
_ties_b = np.array([[1.0, 0.0, 4.0], [0.0, 2.0, 2.0]])
for sym, f in _CMP.items():
    case(sym, "ties", lambda L, a, b, f=f: f(a, b), _ties_a, _ties_b, differentiable=False)
    case(sym, "bcast", lambda L, a, b, f=f: f(a, b), rn(3, 1), rn(4), differentiable=False)
    case(sym, "scalar", lambda L, a, f=f: f(a, 0.5), np.array([0.0, 0.5, 1.0]), differentiable=False)

# ------------------------------------------------------------------------ unary functions
_domain = {"log": pos, "sqrt": pos}
for name in ("abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu"):
    gen = _domain.get(name, away if name in ("abs", "relu") else rn)
    case(name, "matrix", lambda L, x, n=name: getattr(L, n)(x), gen(3, 4))
    case(name, "0d", lambda L, x, n=name: getattr(L, n)(x), gen())
    case(name, "strided", lambda L, x, n=name: getattr(L, n)(x), strided(gen(2, 5)))
    case(name, "transposed", lambda L, x, n=name: getattr(L, n)(L.transpose(x)), gen(4, 3))
    case(name, "3d", lambda L, x, n=name: getattr(L, n)(x), gen(2, 3, 2))
    case(name, "chained", lambda L, x, n=name: getattr(L, n)(x * 0.5 + 1.5) * x, pos(2, 3))

case("abs", "at_zero", lambda L, x: L.abs(x), np.array([-1.0, 0.0, 2.0, 0.0]), gradcheck=False)
case("relu", "at_zero", lambda L, x: L.relu(x), np.array([-1.0, 0.0, 2.0, 0.0]), gradcheck=False)
case("sigmoid", "saturated", lambda L, x: L.sigmoid(x), np.array([-100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0]))
case("exp", "large_negative", lambda L, x: L.exp(x), np.array([-50.0, -10.0, 0.0, 10.0]))
case("tanh", "saturated", lambda L, x: L.tanh(x), np.array([-20.0, -3.0, 0.0, 3.0, 20.0]))

# maximum / minimum: broadcasting both ways, 0-d, and ties (PyTorch gives half to each side).
for name in ("maximum", "minimum"):
    f = lambda L, a, b, n=name: getattr(L, n)(a, b)  # noqa: E731
    case(name, "same_shape", f, rn(3, 4), rn(3, 4))
    case(name, "bcast_31_4", f, rn(3, 1), rn(4))
    case(name, "bcast_4_234", f, rn(4), rn(2, 3, 4))
    case(name, "0d", f, rn(2, 3), rn())
    case(name, "strided", f, strided(rn(2, 3)), rn(2, 3))
    case(name, "ties", f, np.array([1.0, 2.0, 3.0, -1.0]), np.array([1.0, 0.0, 3.0, 2.0]), gradcheck=False)
    case(name, "ties_bcast", f, np.array([[0.0], [1.0]]), np.array([0.0, 1.0, 2.0]), gradcheck=False)
    case(name, "same_tensor", lambda L, a, n=name: getattr(L, n)(a, a), rn(2, 3), gradcheck=False)
    case(name, "const_operand", f, rn(3, 4), const(rn(4)))

# clip: both bounds, one bound, values exactly on the bounds (gradient 1 there, as clamp).
_edges = np.array([-2.0, -0.5, -0.25, 0.0, 0.5, 1.0])
case("clip", "both", lambda L, x: L.clip(x, -0.5, 0.5), rn(3, 4))
case("clip", "lower_only", lambda L, x: L.clip(x, -0.3, None), rn(3, 4))
case("clip", "upper_only", lambda L, x: L.clip(x, None, 0.3), rn(3, 4))
case("clip", "edges", lambda L, x: L.clip(x, -0.5, 0.5), _edges, gradcheck=False)
case("clip", "0d", lambda L, x: L.clip(x, -0.5, 0.5), np.array(0.25))
case("clip", "strided", lambda L, x: L.clip(x, -0.5, 0.5), strided(rn(2, 3)))

# where: the condition is a constant bool tensor; it and both branches broadcast.
_c34 = _rng.random((3, 4)) > 0.5
case("where", "same_shape", lambda L, c, a, b: L.where(c, a, b), _c34, rn(3, 4), rn(3, 4))
case("where", "bcast_cond", lambda L, c, a, b: L.where(c, a, b), np.array([[True], [False], [True]]), rn(3, 4), rn(4))
case("where", "bcast_branches", lambda L, c, a, b: L.where(c, a, b), _c34, rn(3, 1), rn(1, 4))
case("where", "0d_branch", lambda L, c, a, b: L.where(c, a, b), _c34, rn(3, 4), rn())
case("where", "from_comparison", lambda L, a, b: L.where(a > b, a * 2.0, b * 3.0), rn(3, 4), rn(4))

# ------------------------------------------------------------------------ reductions
_red_axes = [
    ("all", None, False), ("all_keep", None, True), ("axis0", 0, False), ("axis1_keep", 1, True),
    ("neg_axis", -1, False), ("neg_axis_keep", -2, True), ("tuple", (0, 2), False), ("tuple_neg_keep", (-1, 0), True),
]
for name in ("sum", "mean", "var", "std", "max", "min", "logsumexp"):
    for tag, axis, keep in _red_axes:
        case(name, tag, lambda L, x, n=name, a=axis, k=keep: getattr(L, n)(x, axis=a, keepdims=k), rn(2, 3, 4))
    case(name, "0d", lambda L, x, n=name: getattr(L, n)(x), rn())
    case(name, "0d_keep", lambda L, x, n=name: getattr(L, n)(x, keepdims=True), rn())
    case(name, "0d_axis0", lambda L, x, n=name: getattr(L, n)(x, axis=0), rn())
    case(name, "0d_neg_axis_keep", lambda L, x, n=name: getattr(L, n)(x, axis=-1, keepdims=True), rn())
    case(name, "1d", lambda L, x, n=name: getattr(L, n)(x, axis=0), rn(5))
    case(name, "strided", lambda L, x, n=name: getattr(L, n)(x, axis=1), strided(rn(3, 4)))
    case(name, "transposed", lambda L, x, n=name: getattr(L, n)(L.transpose(x), axis=-1), rn(4, 3))
    case(name, "all_axes_tuple", lambda L, x, n=name: getattr(L, n)(x, axis=(0, 1)), rn(2, 3))

for name in ("var", "std"):
    case(name, "ddof1", lambda L, x, n=name: getattr(L, n)(x, axis=1, ddof=1), rn(3, 4))
    case(name, "ddof1_all_keep", lambda L, x, n=name: getattr(L, n)(x, keepdims=True, ddof=1), rn(2, 3))

# ties in max/min: the gradient is split evenly among the tied elements (torch.amax/amin).
_ties = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 0.0, -1.0, -1.0]])
for name in ("max", "min"):
    case(name, "ties_axis1", lambda L, x, n=name: getattr(L, n)(x, axis=1), _ties, gradcheck=False)
    case(name, "ties_axis0_keep", lambda L, x, n=name: getattr(L, n)(x, axis=0, keepdims=True), _ties, gradcheck=False)
    case(name, "ties_all", lambda L, x, n=name: getattr(L, n)(x), _ties, gradcheck=False)
    case(name, "all_equal", lambda L, x, n=name: getattr(L, n)(x), np.full((2, 3), 0.5), gradcheck=False)

case("std", "zero_variance", lambda L, x: L.std(x, axis=1), np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0]]), gradcheck=False)
case("logsumexp", "large_values", lambda L, x: L.logsumexp(x, axis=1), np.array([[1000.0, 1000.0, 999.0], [-1000.0, -999.0, -1001.0]]))

for name in ("argmax", "argmin"):
    for tag, axis, keep in [("all", None, False), ("axis0", 0, False), ("neg_axis_keep", -1, True), ("axis1", 1, False)]:
        case(name, tag, lambda L, x, n=name, a=axis, k=keep: getattr(L, n)(x, axis=a, keepdims=k), rn(3, 4), differentiable=False)
    case(name, "ties_first", lambda L, x, n=name: getattr(L, n)(x, axis=1), _ties, differentiable=False)
    case(name, "0d_axis0", lambda L, x, n=name: getattr(L, n)(x, axis=0), rn(), differentiable=False)
    case(name, "strided", lambda L, x, n=name: getattr(L, n)(x, axis=0), strided(rn(3, 4)), differentiable=False)

# ------------------------------------------------------------------------ shape
case("reshape", "2d", lambda L, x: L.reshape(x, (2, 6)), rn(3, 4))
case("reshape", "infer", lambda L, x: L.reshape(x, (-1, 2)), rn(3, 4))
case("reshape", "varargs", lambda L, x: L.reshape(x, 4, 3) * 2.0, rn(3, 4))
case("reshape", "to_0d", lambda L, x: L.reshape(x, ()), rn(1, 1))
case("reshape", "from_0d", lambda L, x: L.reshape(x, (1, 1, 1)), rn())
case("reshape", "strided", lambda L, x: L.reshape(x, (12,)), strided(rn(3, 4)))
case("reshape", "transposed", lambda L, x: L.reshape(L.transpose(x), (6, 2)), rn(4, 3))

case("transpose", "2d", lambda L, x: L.transpose(x), rn(3, 4))
case("transpose", "3d_reverse", lambda L, x: L.transpose(x), rn(2, 3, 4))
case("transpose", "3d_axes", lambda L, x: L.transpose(x, (1, 2, 0)), rn(2, 3, 4))
case("transpose", "neg_axes", lambda L, x: L.transpose(x, (-1, 0, 1)), rn(2, 3, 4))
case("transpose", "0d", lambda L, x: L.transpose(x), rn())
case("transpose", "strided", lambda L, x: L.transpose(x) * 2.0, strided(rn(3, 4)))

case("swapaxes", "2d", lambda L, x: L.swapaxes(x, 0, 1), rn(3, 4))
case("swapaxes", "3d_neg", lambda L, x: L.swapaxes(x, 0, -1), rn(2, 3, 4))
case("swapaxes", "same_axis", lambda L, x: L.swapaxes(x, 1, 1) * 1.0, rn(2, 3))

case("broadcast_to", "new_and_stretched", lambda L, x: L.broadcast_to(x, (2, 3, 4)), rn(3, 1))
case("broadcast_to", "0d", lambda L, x: L.broadcast_to(x, (2, 2)), rn())
case("broadcast_to", "same", lambda L, x: L.broadcast_to(x, (3, 4)) * 1.0, rn(3, 4))
case("broadcast_to", "strided", lambda L, x: L.broadcast_to(x, (2, 2, 3)), strided(rn(2, 3)))

case("squeeze", "all", lambda L, x: L.squeeze(x), rn(1, 3, 1, 2))
case("squeeze", "axis", lambda L, x: L.squeeze(x, 2), rn(1, 3, 1, 2))
case("squeeze", "neg_axis", lambda L, x: L.squeeze(x, -4), rn(1, 3, 1, 2))
case("squeeze", "tuple", lambda L, x: L.squeeze(x, (0, 2)), rn(1, 3, 1, 2))
case("squeeze", "to_0d", lambda L, x: L.squeeze(x), rn(1, 1))

case("expand_dims", "front", lambda L, x: L.expand_dims(x, 0), rn(3, 4))
case("expand_dims", "neg", lambda L, x: L.expand_dims(x, -1), rn(3, 4))
case("expand_dims", "middle", lambda L, x: L.expand_dims(x, 1), rn(3, 4))
case("expand_dims", "tuple", lambda L, x: L.expand_dims(x, (0, 3)), rn(3, 4))
case("expand_dims", "0d", lambda L, x: L.expand_dims(x, 0), rn())

case("flatten", "all", lambda L, x: L.flatten(x), rn(2, 3, 4))
case("flatten", "start1", lambda L, x: L.flatten(x, 1), rn(2, 3, 4))
case("flatten", "range", lambda L, x: L.flatten(x, 0, 1), rn(2, 3, 4))
case("flatten", "neg", lambda L, x: L.flatten(x, -2, -1), rn(2, 3, 4))
case("flatten", "0d", lambda L, x: L.flatten(x), rn())
case("flatten", "transposed", lambda L, x: L.flatten(L.transpose(x)), rn(3, 4))

# ------------------------------------------------------------------------ indexing
_ix = lambda idx: (lambda L, x: L.index(x, idx))  # noqa: E731
case("t[index]", "int", _ix(1), rn(3, 4))
case("t[index]", "neg_int", _ix(-1), rn(3, 4))
case("t[index]", "int_pair_to_0d", _ix((1, 2)), rn(3, 4))
case("t[index]", "slice", _ix(slice(1, None)), rn(3, 4))
case("t[index]", "slice_step", _ix((slice(None), slice(0, 4, 2))), rn(3, 4))
case("t[index]", "ellipsis", _ix((Ellipsis, 1)), rn(2, 3, 4))
case("t[index]", "newaxis", _ix((None, slice(None), 0)), rn(3, 4))
case("t[index]", "int_array_repeated", _ix(np.array([0, 2, 0, 0])), rn(3, 4))
case("t[index]", "list_repeated", _ix([1, 1, 0]), rn(3, 4))
case("t[index]", "int_array_2d", _ix(np.array([[0, 1], [1, 1]])), rn(3, 4))
case("t[index]", "int_array_neg", _ix(np.array([-1, 0, -1])), rn(3, 4))
case("t[index]", "two_arrays_repeated", _ix((np.array([0, 0, 2, 0]), np.array([1, 1, 3, 1]))), rn(3, 4))
case("t[index]", "array_and_slice", _ix((slice(None), np.array([3, 0, 3]))), rn(3, 4))
case("t[index]", "bool_mask", _ix(np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])), rn(3, 4))
case("t[index]", "bool_rows", _ix(np.array([True, False, True])), rn(3, 4))
case("t[index]", "strided", _ix((np.array([0, 0]), slice(1, 3))), strided(rn(3, 4)))
case("t[index]", "index_tensor", lambda L, x, i: L.index(x, i), rn(4, 2), np.array([3, 3, 1]))
case("t[index]", "mask_from_comparison", lambda L, x: L.index(x, x > 0.0) * 2.0, away(3, 4))

# ------------------------------------------------------------------------ joining and padding
case("concatenate", "axis0", lambda L, a, b: L.concatenate([a, b]), rn(2, 3), rn(4, 3))
case("concatenate", "neg_axis", lambda L, a, b, c: L.concatenate([a, b, c], axis=-1), rn(2, 1), rn(2, 3), rn(2, 2))
case("concatenate", "const_member", lambda L, a, b: L.concatenate([a, b], axis=1), rn(2, 2), const(rn(2, 3)))
case("concatenate", "same_tensor", lambda L, a: L.concatenate([a, a * 2.0, a]), rn(2, 3))
case("concatenate", "strided", lambda L, a, b: L.concatenate([a, b], axis=1), strided(rn(2, 3)), rn(2, 2))

case("stack", "axis0", lambda L, a, b: L.stack([a, b]), rn(2, 3), rn(2, 3))
case("stack", "neg_axis", lambda L, a, b, c: L.stack([a, b, c], axis=-1), rn(2, 3), rn(2, 3), rn(2, 3))
case("stack", "middle", lambda L, a, b: L.stack([a, b], axis=1), rn(2, 3), rn(2, 3))
case("stack", "0d", lambda L, a, b: L.stack([a, b]), rn(), rn())

case("split", "sections", lambda L, x: L.split(x, 3), rn(6, 2))
case("split", "indices_neg_axis", lambda L, x: L.split(x, [1, 3], axis=-1), rn(2, 5))
case("split", "one_piece_used", lambda L, x: L.split(x, 2, axis=1)[1] * 2.0, rn(3, 4))

case("pad", "int", lambda L, x: L.pad(x, 1), rn(2, 3))
case("pad", "per_axis", lambda L, x: L.pad(x, ((0, 1), (2, 0))), rn(2, 3))
case("pad", "value", lambda L, x: L.pad(x, ((1, 1), (0, 0), (1, 2)), constant_values=0.5), rn(2, 2, 2))
case("pad", "pair", lambda L, x: L.pad(x, (1, 2)), rn(3))

# ------------------------------------------------------------------------ matmul (function and @)
_MM = [
    ("2d_2d", (2, 3), (3, 4)), ("1d_1d", (3,), (3,)), ("1d_2d", (3,), (3, 4)), ("2d_1d", (2, 3), (3,)),
    ("1d_3d", (3,), (2, 3, 4)), ("3d_1d", (2, 4, 3), (3,)), ("batched", (2, 2, 3), (2, 3, 4)),
    ("bcast_batch", (2, 1, 2, 3), (3, 3, 2)), ("bcast_2d_3d", (2, 3), (2, 3, 4)), ("bcast_3d_2d", (2, 4, 3), (3, 2)),
]
for tag, sa, sb in _MM:
    case("matmul", tag, lambda L, a, b: L.matmul(a, b), rn(*sa), rn(*sb))
    case("@", tag, lambda L, a, b: a @ b, rn(*sa), rn(*sb))
case("matmul", "transposed", lambda L, a, b: L.matmul(L.transpose(a), b), rn(3, 2), rn(3, 4))
case("matmul", "strided", lambda L, a, b: L.matmul(a, b), strided(rn(2, 3)), strided(rn(3, 2)))
case("matmul", "const_operand", lambda L, a, b: L.matmul(a, b), rn(2, 3), const(rn(3, 2)))
case("@", "chain", lambda L, a, b, c: (a @ b) @ c, rn(2, 3), rn(3, 4), rn(4, 2))
case("@", "same_tensor", lambda L, a: a @ a, rn(3, 3))


# ------------------------------------------------------------------------ x ** 0 and 0 ** b (PyTorch's masks)
# d/dx x^0 = 0 even at x = 0 (not 0 * 0^-1 = nan); d/da a^b = 0 where b = 0; d/db a^b = 0 where a = 0, b >= 0.
case("**", "zero_power_at_zero", lambda L, x: x**0, np.array([0.0, 1.5, -2.0, 0.0]))
case("**", "zero_float_power_at_zero", lambda L, x: x**0.0, np.array([0.0, -1.0]))
case(
    "**", "tensor_zero_exponent_at_zero",
    lambda L, a, b: a**b, np.array([0.0, 0.0, 0.5, 2.0]), np.array([0.0, 1.0, 0.0, 0.0]),
    gradcheck=False,  # central differences in b at a = 0 leave the domain (0^-eps)
)
case("**", "const_zero_exponent_at_zero", lambda L, a, b: a**b, np.array([0.0, 1.5, 0.0]), const(np.array([0.0, 0.0, 2.0])))

# ------------------------------------------------------------------------ integer arithmetic: dtypes as PyTorch
# int op int stays int, except true division (and a float power), which give the default float (float32).
_i34 = np.array([[1, 2, 3, 4], [-2, 5, 7, 1], [3, 3, -1, 6]])
_j34 = np.array([[2, 1, 3, 5], [1, 4, 2, 2], [5, 3, 1, 2]])  # positive: divisors, exponents, square roots
for sym, f in _BIN.items():
    case(sym, "int_int", lambda L, a, b, f=f: f(a, b), _i34, _j34, differentiable=False)
    case(sym, "int_python_int", lambda L, a, f=f: f(a, 2), _i34, differentiable=False)
    case(sym, "python_int_int", lambda L, b, f=f: f(3, b), _j34, differentiable=False)
    case(sym, "int_python_float", lambda L, a, f=f: f(a, 2.5), _i34, differentiable=False)
    case(sym, "int_with_float", lambda L, a, x, f=f: f(a, x), _i34, pos(3, 4))
    case(sym, "float_with_int", lambda L, x, a, f=f: f(x, a), rn(3, 4), _j34)
case("/", "int_0d_int", lambda L, a, b: a / b, np.array(7), np.array(2), differentiable=False)
case("**", "int_int", lambda L, a, b: a**b, _i34, _j34, differentiable=False)
case("**", "int_python_int", lambda L, a: a**2, _i34, differentiable=False)
case("**", "int_sqrt", lambda L, a: a**0.5, _j34, differentiable=False)
case("**", "int_float_power", lambda L, a: a**2.0, _i34, differentiable=False)
case("**", "python_int_base", lambda L, b: 2**b, _j34, differentiable=False)
case("**", "python_float_base_int", lambda L, b: 1.5**b, _j34, differentiable=False)
case("**", "float_base_int_exponent", lambda L, x, b: x**b, rn(3, 4), _j34)
case("unary -", "int", lambda L, a: -a, _i34, differentiable=False)

# ------------------------------------------------------------------------ empty tensors
for sym in ("+", "*"):
    case(sym, "empty", lambda L, a, b, f=_BIN[sym]: f(a, b), rn(0, 3), rn(3))
    case(sym, "empty_bcast", lambda L, a, b, f=_BIN[sym]: f(a, b), rn(0, 1), rn(2, 1, 3))
case("exp", "empty", lambda L, x: L.exp(x), rn(0, 3))
case("unary -", "empty", lambda L, x: -x, rn(2, 0))
for name in ("sum", "mean", "var", "std", "max", "min", "logsumexp"):
    case(name, "empty_other_axis", lambda L, x, n=name: getattr(L, n)(x, axis=1), rn(0, 3))
    case(name, "empty_other_axis_keep", lambda L, x, n=name: getattr(L, n)(x, axis=-1, keepdims=True), rn(0, 3))
case("sum", "empty_axis", lambda L, x: L.sum(x, axis=0), rn(0, 3))
case("sum", "empty_all", lambda L, x: L.sum(x), rn(0, 3))
for name in ("mean", "var", "std"):  # NaN (0/0), as NumPy and PyTorch; the NaN factor spoils second order
    case(name, "empty_axis", lambda L, x, n=name: getattr(L, n)(x, axis=0), rn(0, 3), gradcheck=False)
case("logsumexp", "empty_axis", lambda L, x: L.logsumexp(x, axis=0), rn(0, 3))  # log of an empty sum: -inf
case("logsumexp", "empty_axis_keep", lambda L, x: L.logsumexp(x, axis=(0, 1), keepdims=True), rn(2, 0))
case("argmax", "empty_other_axis", lambda L, x: L.argmax(x, axis=1), rn(0, 3), differentiable=False)
case("argmin", "empty_other_axis", lambda L, x: L.argmin(x, axis=-1), rn(0, 3), differentiable=False)
case("reshape", "empty", lambda L, x: L.reshape(x, (3, 0)), rn(0, 3))
case("transpose", "empty", lambda L, x: L.transpose(x), rn(0, 3))
case("flatten", "empty", lambda L, x: L.flatten(x), rn(2, 0, 3))
case("t[index]", "empty_slice", _ix(slice(2, 2)), rn(3, 4))
case("t[index]", "empty_int_array", _ix(np.array([], dtype=np.int64)), rn(3, 4))
case("concatenate", "empty_member", lambda L, a, b: L.concatenate([a, b]), rn(0, 3), rn(2, 3))
case("stack", "empty", lambda L, a, b: L.stack([a, b], axis=1), rn(0, 2), rn(0, 2))
case("split", "empty", lambda L, x: L.split(x, 2, axis=1), rn(0, 4))
case("pad", "empty", lambda L, x: L.pad(x, 1), rn(0, 3))
case("matmul", "empty_rows", lambda L, a, b: L.matmul(a, b), rn(0, 3), rn(3, 2))
case("@", "empty_inner", lambda L, a, b: a @ b, rn(2, 0), rn(0, 3))
case("where", "empty", lambda L, c, a, b: L.where(c, a, b), np.zeros((0, 3), dtype=bool), rn(0, 3), rn(3))
case("clip", "empty", lambda L, x: L.clip(x, -0.5, 0.5), rn(0, 3))
case("maximum", "empty", lambda L, a, b: L.maximum(a, b), rn(0, 3), rn(3))
case("==", "empty", lambda L, a, b: a == b, rn(0, 3), rn(3), differentiable=False)

# ------------------------------------------------------------------------ non-contiguous (transposed) and 0-d inputs
for sym, f in _CMP.items():
    case(sym, "transposed", lambda L, a, b, f=f: f(L.transpose(a), b), rn(4, 3), rn(3, 4), differentiable=False)
    case(sym, "0d", lambda L, a, b, f=f: f(a, b), rn(), rn(), differentiable=False)
    case(sym, "0d_with_matrix", lambda L, a, b, f=f: f(a, b), rn(), rn(2, 3), differentiable=False)
case("where", "transposed", lambda L, c, a, b: L.where(L.transpose(c), L.transpose(a), b), _c34.T.copy(), rn(4, 3), rn(3, 4))
case("where", "0d", lambda L, c, a, b: L.where(c, a, b), np.array(True), rn(), rn())
case("swapaxes", "transposed", lambda L, x: L.swapaxes(L.transpose(x), 0, 2), rn(4, 3, 2))
case("swapaxes", "0d", lambda L, x: L.swapaxes(x, 0, -1) * 1.0, rn())
case("squeeze", "transposed", lambda L, x: L.squeeze(L.transpose(x), 1), rn(2, 1, 3))
case("expand_dims", "transposed", lambda L, x: L.expand_dims(L.transpose(x), 1), rn(4, 3))
case("stack", "transposed", lambda L, a, b: L.stack([L.transpose(a), b], axis=1), rn(3, 2), rn(2, 3))
case("split", "transposed", lambda L, x: L.split(L.transpose(x), [1, 3], axis=1), rn(4, 2))
case("pad", "transposed", lambda L, x: L.pad(L.transpose(x), ((1, 0), (0, 2))), rn(3, 2))
case("pad", "0d", lambda L, x: L.pad(x, 1) * 1.0, rn())
case("@", "transposed", lambda L, a, b: L.transpose(a) @ L.transpose(b), rn(3, 2), rn(4, 3))
case("@", "transposed_batched", lambda L, a, b: L.swapaxes(a, 1, 2) @ b, rn(2, 3, 2), rn(2, 3, 4))

# ------------------------------------------------------------------------ clip with tensor bounds, integer clip
case("clip", "tensor_bounds", lambda L, x, lo, hi: L.clip(x, lo, hi), rn(3, 4), rn(3, 4, scale=0.3) - 0.6, rn(4, scale=0.3) + 0.6)
case("clip", "tensor_lower_only", lambda L, x, lo: L.clip(x, lo, None), rn(3, 4), rn(4))
case("clip", "tensor_upper_only", lambda L, x, hi: L.clip(x, None, hi), rn(3, 4), rn(3, 1))
case("clip", "tensor_bound_broadcasts_x", lambda L, x, lo: L.clip(x, lo, None), rn(3), rn(2, 3))
case("clip", "const_tensor_bounds", lambda L, x, lo, hi: L.clip(x, lo, hi), rn(3, 4), const(rn(4) - 1.0), const(rn(3, 1) + 1.0))
case(
    "clip", "tensor_bounds_edges",  # on the bounds (gradient to x), and min > max (the result is max)
    lambda L, x, lo, hi: L.clip(x, lo, hi),
    np.array([0.0, 0.8, 1.0, 2.0, -1.0, 0.5]), np.array([0.0, 0.8, 0.0, 3.0, -2.0, 1.0]),
    np.array([1.0, 1.0, 1.0, 2.5, -1.5, 0.0]), gradcheck=False,
)
case("clip", "int_float_bounds", lambda L, a: L.clip(a, 2.5, 6), np.array([1, 5, 9]), differentiable=False)
case("clip", "int_int_bounds", lambda L, a: L.clip(a, 2, 6), np.array([1, 5, 9]), differentiable=False)
case("clip", "int_tensor_bounds", lambda L, a, lo: L.clip(a, lo, None), np.array([1, 5, 9]), np.array([2, 2, 10]), differentiable=False)

# ------------------------------------------------------------------------ maximum / minimum with NaN (PyTorch: both get it)
for name in ("maximum", "minimum"):
    case(
        name, "nan", lambda L, a, b, n=name: getattr(L, n)(a, b),
        np.array([np.nan, 1.0, np.nan, 2.0, 3.0]), np.array([1.0, np.nan, np.nan, 2.0, -1.0]), gradcheck=False,
    )


# ------------------------------------------------------------------------ method forms
# Each op of DESIGN.md's list that NumPy or PyTorch also offers as a method: (function form, method
# form: one call, or a list of equivalent calls) on the same inputs; test_ops_methods.py checks that
# both give the same values and gradients.
# concatenate and stack are functions only (as in NumPy and PyTorch).
_UNARY = ("abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu")
METHODS = {name: (lambda x, y, n=name: getattr(cr, n)(x), lambda x, y, n=name: getattr(x, n)()) for name in _UNARY}
METHODS.update({
    "maximum": (lambda x, y: cr.maximum(x, y), lambda x, y: x.maximum(y)),
    "minimum": (lambda x, y: cr.minimum(x, y), lambda x, y: x.minimum(y)),
    "clip": (lambda x, y: cr.clip(x, 0.7, 1.5), lambda x, y: x.clip(0.7, 1.5)),
    "where": (lambda x, y: cr.where(x > 1.0, x, y), lambda x, y: x.where(x > 1.0, y)),
    "argmax": (lambda x, y: cr.argmax(x, axis=1), lambda x, y: x.argmax(axis=1)),
    "argmin": (lambda x, y: cr.argmin(x, 0, True), lambda x, y: x.argmin(0, True)),
    "reshape": (lambda x, y: cr.reshape(x, (4, 3)), lambda x, y: [x.reshape(4, 3), x.reshape((4, 3))]),
    "transpose": (lambda x, y: cr.transpose(x), lambda x, y: [x.transpose(), x.T, x.transpose(1, 0)]),
    "swapaxes": (lambda x, y: cr.swapaxes(x, 0, 1), lambda x, y: x.swapaxes(0, 1)),
    "broadcast_to": (lambda x, y: cr.broadcast_to(x, (2, 3, 4)), lambda x, y: [x.broadcast_to((2, 3, 4)), x.broadcast_to(2, 3, 4)]),
    "expand_dims": (lambda x, y: cr.expand_dims(x, (0, 2)), lambda x, y: x.expand_dims((0, 2))),
    "squeeze": (lambda x, y: cr.squeeze(cr.expand_dims(x, 1), 1), lambda x, y: x.expand_dims(1).squeeze(1)),
    "flatten": (lambda x, y: cr.flatten(x), lambda x, y: x.flatten()),
    "t[index]": (lambda x, y: cr.getitem(x, (slice(1, None), [0, 2])), lambda x, y: x[1:, [0, 2]]),
    "pad": (lambda x, y: cr.pad(x, ((1, 0), (0, 2))), lambda x, y: x.pad(((1, 0), (0, 2)))),
    "split": (lambda x, y: cr.split(x, 2, axis=1), lambda x, y: [x.split(2, axis=1)]),  # one form (a list of pieces)
    "matmul": (lambda x, y: cr.matmul(x, y.T), lambda x, y: x.matmul(y.T)),
    # the arithmetic functions, as PyTorch's methods of the same names
    "add": (lambda x, y: cr.add(x, y), lambda x, y: x.add(y)),
    "subtract": (lambda x, y: cr.subtract(x, y), lambda x, y: x.subtract(y)),
    "multiply": (lambda x, y: cr.multiply(x, y), lambda x, y: x.multiply(y)),
    "divide": (lambda x, y: cr.divide(x, y), lambda x, y: x.divide(y)),
    "power": (lambda x, y: cr.power(x, y), lambda x, y: x.power(y)),
    "negative": (lambda x, y: cr.negative(x), lambda x, y: x.negative()),
})
for _name in ("sum", "mean", "var", "std", "max", "min", "logsumexp"):
    METHODS[_name] = (
        lambda x, y, n=_name: getattr(cr, n)(x, axis=1, keepdims=True),
        lambda x, y, n=_name: [getattr(x, n)(axis=1, keepdims=True), getattr(x, n)(1, True)],
    )
METHODLESS = {"concatenate", "stack"}


def ids(cases):
    return [c.name for c in cases]


assert len({c.name for c in CASES}) == len(CASES), "duplicate case names"
