"""Bad input fails early, with a ValueError/TypeError that names the op and the offending shapes."""
import re

import numpy as np
import pytest

import chainrule as cr

A, B = (3, 4), (5, 4)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("add", lambda a, b: a + b),
        ("subtract", lambda a, b: a - b),
        ("multiply", lambda a, b: a * b),
        ("divide", lambda a, b: a / b),
        ("power", lambda a, b: a**b),
        ("maximum", cr.maximum),
        ("minimum", cr.minimum),
        ("less", lambda a, b: a < b),
        ("equal", lambda a, b: a == b),
    ],
)
def test_elementwise_shape_mismatch(name, fn):
    with pytest.raises(ValueError) as info:
        fn(cr.ones(*A), cr.ones(*B))
    msg = str(info.value)
    assert msg.startswith(name + ":") and str(A) in msg and str(B) in msg


def test_where_shape_mismatch():
    with pytest.raises(ValueError, match=re.escape("where: condition of shape (2,)")):
        cr.where(cr.ones(2, dtype=bool), cr.ones(*A), cr.ones(*A))


@pytest.mark.parametrize(
    "sa, sb, expect",
    [
        ((2, 3), (4, 5), "not aligned"),
        ((3,), (4,), "different lengths"),
        ((3,), (4, 5), "not aligned"),
        ((2, 3), (4,), "not aligned"),
        ((2, 2, 3), (3, 3, 4), "batch axes"),
        ((), (3,), "at least one dimension"),
    ],
)
def test_matmul_shape_mismatch(sa, sb, expect):
    for f in (lambda a, b: a @ b, cr.matmul):
        with pytest.raises(ValueError) as info:
            f(cr.ones(*sa), cr.ones(*sb))
        msg = str(info.value)
        assert msg.startswith("matmul:") and str(sa) in msg and str(sb) in msg and expect in msg


@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "max", "min", "logsumexp", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [2, -3, (0, 5)])
def test_reduction_axis_out_of_range(op, axis):
    if op in ("argmax", "argmin") and isinstance(axis, tuple):
        with pytest.raises(TypeError, match=op):
            getattr(cr, op)(cr.ones(*A), axis)
        return
    bad = axis if isinstance(axis, int) else 5
    with pytest.raises(ValueError, match=rf"^{op}: axis {bad} is out of range for a tensor with 2 dimensions"):
        getattr(cr, op)(cr.ones(*A), axis)


def test_reduction_repeated_and_non_int_axis():
    with pytest.raises(ValueError, match="sum: repeated axis"):
        cr.sum(cr.ones(*A), (0, -2))
    with pytest.raises(TypeError, match="mean: axis must be an int"):
        cr.mean(cr.ones(*A), 0.5)


@pytest.mark.parametrize(
    "fn, pattern",
    [
        (lambda x: cr.squeeze(x, 3), r"squeeze: axis 3 out of range.*\(3, 4\)"),
        (lambda x: cr.squeeze(x, 0), r"squeeze: axis 0 of a tensor of shape \(3, 4\) has length 3"),
        (lambda x: cr.expand_dims(x, 4), r"expand_dims: axis 4 out of range.*\(3, 4\)"),
        (lambda x: cr.flatten(x, 5), r"flatten: axis 5 out of range.*\(3, 4\)"),
        (lambda x: cr.flatten(x, 1, 0), r"flatten: start_axis 1 comes after end_axis 0"),
        (lambda x: cr.swapaxes(x, 0, 2), r"swapaxes: axes \(0, 2\) out of range.*\(3, 4\)"),
        (lambda x: cr.transpose(x, (0, 0)), r"transpose: axes \(0, 0\) are not a permutation.*\(3, 4\)"),
        (lambda x: cr.transpose(x, (0, 1, 2)), r"transpose:.*\(3, 4\)"),
        (lambda x: x.reshape(5, 3), r"reshape: cannot reshape a tensor of shape \(3, 4\).*\(5, 3\)"),
        (lambda x: cr.broadcast_to(x, (2, 5, 4)), r"broadcast_to: cannot broadcast a tensor of shape \(3, 4\) to \(2, 5, 4\)"),
        (lambda x: cr.concatenate([x, cr.ones(5, 4)], axis=1), r"concatenate: shapes \[\(3, 4\), \(5, 4\)\]"),
        (lambda x: cr.concatenate([x, x], axis=2), r"concatenate: axis 2 out of range"),
        (lambda x: cr.concatenate([x, cr.ones(4)]), r"concatenate: .*\(3, 4\), \(4,\)"),
        (lambda x: cr.stack([x, cr.ones(5, 4)]), r"stack: all tensors must have the same shape.*\(3, 4\), \(5, 4\)"),
        (lambda x: cr.stack([x], axis=3), r"stack: axis 3 out of range"),
        (lambda x: cr.split(x, 3, axis=1), r"split: axis 1 of length 4 cannot be split into 3"),
        (lambda x: cr.split(x, 2, axis=2), r"split: axis 2 out of range"),
        (lambda x: cr.pad(x, -1), r"pad: pad widths must be >= 0"),
        (lambda x: cr.pad(x, ((1, 1), (1, 1), (1, 1))), r"pad: .*3 pairs for a tensor of shape \(3, 4\)"),
        (lambda x: cr.pad(x, 1.5), r"pad: pad_width must be"),
        (lambda x: cr.clip(x), r"clip: at least one of min and max"),
        (lambda x: cr.clip(x, 1.0, 0.0), r"clip: min 1.0 is greater than max 0.0"),
        (lambda x: cr.var(cr.ones(1), ddof=1), r"var: 1 elements with ddof=1"),
        (lambda x: cr.max(cr.ones(0)), r"max: reduction over an empty axis \(0\) of a tensor of shape \(0,\)"),
        (lambda x: cr.min(cr.ones(2, 0), axis=1), r"min: reduction over an empty axis \(1\) of a tensor of shape \(2, 0\)"),
        (lambda x: cr.argmax(cr.ones(0)), r"argmax: no max over an empty tensor of shape \(0,\)"),
        (lambda x: cr.argmin(cr.ones(0, 3), axis=0), r"argmin: no min over the empty axis 0 of a tensor of shape \(0, 3\)"),
    ],
)
def test_shape_ops_bad_arguments(fn, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn(cr.ones(*A))


@pytest.mark.parametrize(
    "index",
    [1.0, (0, 1.5), np.array([0.0, 1.0]), [0.5], np.float64(1.0), cr.tensor([0.0, 1.0])],
    ids=["float", "float_in_tuple", "float_array", "float_list", "np_float", "float_tensor"],
)
def test_float_index_is_a_type_error(index):
    with pytest.raises(TypeError, match="getitem"):
        cr.ones(*A)[index]


def test_index_out_of_range():
    with pytest.raises(IndexError, match=r"getitem: .*5.*\(3, 4\)"):
        cr.ones(*A)[5]
    with pytest.raises(IndexError, match=r"getitem"):
        cr.ones(*A)[np.array([0, 7])]
    with pytest.raises(IndexError, match=r"getitem"):
        cr.ones(*A)[0, 0, 0]


def test_requires_grad_on_int_tensor():
    with pytest.raises(TypeError, match="requires_grad: only floating tensors.*int64"):
        cr.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="bool"):
        cr.tensor([True, False]).requires_grad_(True)
    with pytest.raises(TypeError, match="int"):
        cr.arange(3, requires_grad=True)


def test_unsupported_data():
    with pytest.raises(TypeError, match="tensor: unsupported data"):
        cr.tensor(["a", "b"])


def test_backward_errors_name_the_shapes():
    x = cr.tensor(np.ones(A), requires_grad=True)
    with pytest.raises(ValueError, match=r"^backward: grad can be implicitly created only for a one-element output, got shape \(3, 4\)"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match=r"^backward: gradient shape \(5, 4\) does not match output shape \(3, 4\)"):
        (x * 2.0).backward(np.ones(B))
    with pytest.raises(ValueError, match=r"^backward: output of shape \(3, 4\) does not require grad"):
        cr.ones(*A).backward(np.ones(A))
    with pytest.raises(ValueError, match=r"^grad: output of shape \(\) does not require grad"):
        cr.grad(cr.ones(*A).sum(), [x])


def test_item_and_bool_of_non_scalar():
    with pytest.raises(ValueError, match=r"item: .*\(3, 4\)"):
        cr.ones(*A).item()
    with pytest.raises(ValueError, match=r"ambiguous"):
        bool(cr.ones(*A))


def test_creation_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        cr.zeros(-1)
    with pytest.raises(ValueError, match="shape"):
        cr.ones(2.5)
    with pytest.raises(ValueError, match="arange: step must not be zero"):
        cr.arange(0, 3, 0)
    with pytest.raises(ValueError, match="set_floatx: unknown float dtype"):
        cr.set_floatx("float8")


# ------------------------------------------------------------------------------ bad operands name the op
_X = cr.ones(3)
_BOOL = cr.tensor([True, False])


@pytest.mark.parametrize(
    "fn, error, pattern",
    [
        (lambda: _X + "a", TypeError, r"^add: unsupported operand 'a' \(of type str\) with a tensor of shape \(3,\)"),
        (lambda: "a" * _X, TypeError, r"^multiply: unsupported operand 'a'.*shape \(3,\)"),
        (lambda: _X @ "a", TypeError, r"^matmul: unsupported operand 'a'.*shape \(3,\)"),
        (lambda: _X < "a", TypeError, r"^less: unsupported operand 'a'"),
        (lambda: _X + [[1.0], [2.0, 3.0]], TypeError, r"^add: unsupported operand \[\[1.0\], \[2.0, 3.0\]\]"),
        (lambda: cr.exp("a"), TypeError, r"^exp: expected a Tensor, a number or an array of numbers, got 'a'"),
        (lambda: cr.sum("a"), TypeError, r"^sum: expected a Tensor"),
        (lambda: cr.negative({}), TypeError, r"^negative: expected a Tensor.*dict"),
        (lambda: _BOOL - _BOOL, TypeError, r"^subtract: cannot subtract two bool tensors \(shapes \(2,\) and \(2,\)\)"),
        (lambda: -_BOOL, TypeError, r"^negative: cannot negate a bool tensor \(shape \(2,\)\)"),
        (lambda: cr.tensor([1, 2]) ** -1, ValueError,
         r"^power: integers to negative integer powers are not allowed \(base of shape \(2,\) and dtype int64, exponent -1\)"),
        (lambda: cr.tensor([1, 2]) ** cr.tensor([1, -2]), ValueError,
         r"^power: integers to negative integer powers.*exponent tensor of shape \(2,\)"),
        (lambda: cr.ones(2, 3).reshape(2.5), TypeError, r"^reshape: the new shape must be ints, got \(2.5,\) \(tensor of shape \(2, 3\)\)"),
        (lambda: cr.broadcast_to(_X, ("a", 3)), TypeError, r"^broadcast_to: the shape must be ints"),
        (lambda: cr.split(cr.ones(4), 2.5), TypeError, r"^split: indices_or_sections must be an int or a sequence of ints, got 2.5"),
        (lambda: cr.split(cr.ones(4), [1.5]), TypeError, r"^split: indices_or_sections must be.*\[1.5\]"),
        (lambda: cr.split(cr.tensor(1.0), 1), ValueError, r"^split: a 0-d tensor cannot be split"),
        (lambda: cr.transpose(cr.ones(2, 3), ("a", "b")), TypeError, r"^transpose: axes must be ints, got \('a', 'b'\) \(tensor of shape \(2, 3\)\)"),
        (lambda: cr.swapaxes(cr.ones(2, 3), "a", 0), TypeError, r"^swapaxes: axes must be ints"),
        (lambda: cr.swapaxes(cr.tensor(1.0), 0, 1), ValueError, r"^swapaxes: axes \(0, 1\) out of range.*\(\)"),
        (lambda: cr.squeeze(cr.ones(1, 3), "a"), TypeError, r"^squeeze: axis must be an int or a tuple of ints, got 'a'"),
        (lambda: cr.squeeze(cr.ones(1, 3), (0, -2)), ValueError, r"^squeeze: repeated axis in \(0, -2\)"),
        (lambda: cr.expand_dims(_X, 1.0), TypeError, r"^expand_dims: axis must be an int or a tuple of ints, got 1.0"),
        (lambda: cr.expand_dims(_X, (0, 0)), ValueError, r"^expand_dims: repeated axis in \(0, 0\) \(tensor of shape \(3,\)\)"),
        (lambda: cr.expand_dims(_X, (0, -3)), ValueError, r"^expand_dims: repeated axis in \(0, -3\)"),
        (lambda: cr.clip(_X, "a"), TypeError, r"^clip: min must be a number, an array or a Tensor, got 'a'"),
        (lambda: cr.clip(_X, None, "b"), TypeError, r"^clip: max must be a number, an array or a Tensor, got 'b'"),
        (lambda: cr.clip(_X, cr.zeros(2)), ValueError, r"^clip: x and the bounds of shapes \(3,\), \(2,\) cannot be broadcast"),
        (lambda: cr.clip("a", 0.0), TypeError, r"^clip: expected a Tensor"),
        (lambda: cr.where(cr.ones(3), _X, _X), TypeError, r"^where: condition must be a bool tensor.*float32 and shape \(3,\)"),
        (lambda: cr.where([1, 0, 1], _X, _X), TypeError, r"^where: condition must be a bool tensor.*int64"),
        (lambda: cr.sum(cr.tensor(1.0), axis=(0, 0)), ValueError, r"^sum: repeated axis in \(0, 0\)"),
        (lambda: cr.mean(cr.tensor(1.0), axis=(0, -1)), ValueError, r"^mean: repeated axis in \(0, -1\)"),
        (lambda: cr.max(cr.ones(0, 3), axis=0), ValueError, r"^max: reduction over an empty axis \(0\) of a tensor of shape \(0, 3\)"),
        (lambda: cr.concatenate([_X, "a"]), TypeError, r"^concatenate: expected a Tensor"),
    ],
)
def test_bad_operands_and_arguments_name_the_op(fn, error, pattern):
    with pytest.raises(error, match=pattern):
        fn()


def test_numpy_integers_are_accepted_as_axes_and_sections():
    t = cr.ones(1, 3)
    assert cr.squeeze(t, np.int64(0)).shape == (3,)
    assert cr.squeeze(t, (np.int32(0),)).shape == (3,)
    assert cr.expand_dims(t, np.int64(0)).shape == (1, 1, 3)
    assert cr.expand_dims(t, (np.int64(0), np.int64(-1))).shape == (1, 1, 3, 1)
    assert [p.shape for p in cr.split(cr.ones(4), np.int64(2))] == [(2,), (2,)]
    assert [p.shape for p in cr.split(cr.ones(5), np.array([1, 3]))] == [(1,), (2,), (2,)]
    assert cr.swapaxes(cr.ones(2, 3), np.int64(0), np.int64(1)).shape == (3, 2)


def test_backward_gradient_of_another_dtype():
    """As in PyTorch, a gradient of another dtype (Tensor, array or list) takes the output's dtype,
    so a float32 leaf's .grad stays float32; a non-numeric gradient is a TypeError."""
    x = cr.tensor(np.ones(A), requires_grad=True)
    g64 = cr.tensor(np.ones(A), dtype="float64")
    with pytest.raises(TypeError, match=r"^backward: the gradient for an output of shape \(3, 4\) must be a Tensor or an array"):
        (x * 2.0).backward("a")
    assert x.grad is None
    (g,) = cr.grad(x * 2.0, [x], g64)
    assert g.dtype == np.float32
    (g,) = cr.grad([x * 2.0], [x], [cr.tensor(np.ones(A, dtype=np.int64))])
    assert g.dtype == np.float32
    (x * 2.0).backward(g64)                   # float64 Tensor: cast to the output's dtype
    (x * 2.0).backward(np.ones(A))            # float64 array: cast to the output's dtype
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.full(A, 4.0))
    # a differentiable gradient of another dtype stays differentiable through the cast
    v = cr.tensor(np.full(A, 3.0), dtype="float64", requires_grad=True)
    (g,) = cr.grad(x * x, [x], v, create_graph=True)
    assert g.dtype == np.float32
    (gv,) = cr.grad(g.sum(), [v])
    assert gv.dtype == np.float64
    np.testing.assert_allclose(gv.numpy(), np.full(A, 2.0))
