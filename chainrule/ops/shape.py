"""Shape ops: reshape, transpose, broadcasting and its adjoint, squeeze, flatten.

None of these change values, only where they sit, so each backward is the
inverse rearrangement of the gradient (and the adjoint of broadcasting is
summation: if y = broadcast(x), then dL/dx = sum of dL/dy over the copies).
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Function):
    """y = x viewed with a new shape (same elements, row-major order).

    dL/dx = reshape(dL/dy, x.shape).
    """

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}") from None
        except TypeError:
            raise TypeError(f"reshape: the new shape must be ints, got {shape!r} (tensor of shape {x.shape})") from None

    def backward(self, g):
        return reshape(g, self.in_shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """y = x with a new shape (same elements in row-major order; ``-1`` infers one dimension).

    dL/dx = reshape(dL/dy, x.shape).
    """
    shape = _shape_arg(shape)
    if x.data.shape == shape:
        return x
    return Reshape.apply(x, shape=shape)


class Transpose(Function):
    """y = x with its axes permuted: y[i_p(0), ..., i_p(n-1)] = x[i_0, ..., i_{n-1}].

    dL/dx = transpose(dL/dy, inverse permutation).
    """

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g):
        inv = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inv[a] = i
        return transpose(g, tuple(inv))


def transpose(x: Tensor, *axes) -> Tensor:
    """y = x with its axes permuted (reversed when none are given), as ``np.transpose``.

    y[i_p(0), ..., i_p(n-1)] = x[i_0, ..., i_{n-1}];  dL/dx = transpose(dL/dy, inverse permutation).
    """
    axes = _shape_arg(axes)
    n = x.data.ndim
    if not axes:
        axes = tuple(range(n - 1, -1, -1))
    try:
        bad = len(axes) != n or any(not -n <= a < n for a in axes) or sorted(a % n for a in axes) != list(range(n))
    except TypeError:
        bad = True
    if bad:
        if not all(isinstance(a, (int, xp.integer)) and not isinstance(a, bool) for a in axes):
            raise TypeError(f"transpose: axes must be ints, got {axes!r} (tensor of shape {x.shape})")
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {n} axes of a tensor of shape {x.shape}")
    axes = tuple(a % n for a in axes)
    if axes == tuple(range(n)):
        return x
    return Transpose.apply(x, axes=axes)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """y = x with axes ``axis1`` and ``axis2`` exchanged (a transpose).  dL/dx = swapaxes(dL/dy, axis1, axis2).

    As PyTorch, a 0-d tensor accepts the axes 0 and -1 and is returned unchanged.
    """
    n = x.data.ndim
    for a in (axis1, axis2):
        if not isinstance(a, (int, xp.integer)) or isinstance(a, bool):
            raise TypeError(f"swapaxes: axes must be ints, got ({axis1!r}, {axis2!r})")
    if n == 0 and axis1 in (0, -1) and axis2 in (0, -1):
        return x
    try:
        a1, a2 = range(n)[axis1], range(n)[axis2]
    except IndexError:
        raise ValueError(f"swapaxes: axes ({axis1}, {axis2}) out of range for a tensor of shape {x.shape}") from None
    axes = list(range(n))
    axes[a1], axes[a2] = axes[a2], axes[a1]
    return transpose(x, tuple(axes))


class BroadcastTo(Function):
    """y = x repeated along broadcast axes to ``shape`` (NumPy rules).

    dL/dx = sum of dL/dy over the broadcast axes (``sum_to``).
    """

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return xp.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {x.shape} to {shape}") from None
        except TypeError:
            raise TypeError(f"broadcast_to: the shape must be ints, got {shape!r} (tensor of shape {x.shape})") from None

    def backward(self, g):
        return sum_to(g, self.in_shape)


def broadcast_to(x: Tensor, *shape) -> Tensor:
    """y = x repeated along new or length-one axes to ``shape`` (NumPy's broadcasting rules).

    dL/dx = dL/dy summed over the broadcast axes (``sum_to``, the adjoint of broadcasting).
    """
    shape = _shape_arg(shape)
    if x.data.shape == shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


#: From this many elements, ``SumTo`` over leading axes is done as a BLAS matrix-vector product.
_GEMV_MIN_SIZE = 1 << 15


class SumTo(Function):
    """y = x summed over the axes that broadcasting added or stretched, so y.shape == shape.

    The adjoint of broadcasting: dL/dx = broadcast_to(dL/dy, x.shape).
    """

    def forward(self, x, shape):
        self.in_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
        if not axes:
            return x.reshape(shape) if lead else x
        if (x.size >= _GEMV_MIN_SIZE and x.dtype.kind == "f" and axes[-1] == len(axes) - 1
                and x.flags.c_contiguous):
            # The summed axes lead (a bias gradient: (N, *spatial, C) -> (C,)): the sum is the
            # matrix-vector product ones(M) @ x.reshape(M, rest), which BLAS does ~4x faster
            # than NumPy's row-by-row reduction over a large array.
            m = 1
            for d in x.shape[: len(axes)]:
                m *= d
            return (xp.ones(m, dtype=x.dtype) @ x.reshape(m, -1)).reshape(shape)
        y = x.sum(axis=axes, keepdims=True)
        if lead:
            y = y.reshape(shape)
        return y

    def backward(self, g):
        return broadcast_to(g, self.in_shape)


def sum_to(x: Tensor, shape) -> Tensor:
    """y = x summed down to ``shape`` over broadcast axes (the gradient of a broadcast input).

    dL/dx = broadcast_to(dL/dy, x.shape).
    """
    if x.data.shape == shape:
        return x
    shape = tuple(shape)
    if x.data.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def _axes_arg(op, axis, shape):
    """``axis`` (an int or a sequence of ints) as a tuple of ints; repeated axes are checked by the caller."""
    if isinstance(axis, (int, xp.integer)) and not isinstance(axis, bool):
        return (int(axis),)
    try:
        axes = tuple(axis)
    except TypeError:
        axes = None
    if axes is None or not all(isinstance(a, (int, xp.integer)) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r} (tensor of shape {shape})")
    return tuple(int(a) for a in axes)


def squeeze(x: Tensor, axis=None) -> Tensor:
    """y = x without its axes of length one (all of them, or those in ``axis``).

    dL/dx = reshape(dL/dy, x.shape).
    """
    shp = x.data.shape
    if axis is None:
        new = tuple(s for s in shp if s != 1)
    else:
        axes = _axes_arg("squeeze", axis, shp)
        n = len(shp)
        norm = set()
        for a in axes:
            if not -n <= a < n:
                raise ValueError(f"squeeze: axis {a} out of range for a tensor of shape {shp}")
            if shp[a] != 1:
                raise ValueError(f"squeeze: axis {a} of a tensor of shape {shp} has length {shp[a]}, not 1")
            if a % n in norm:
                raise ValueError(f"squeeze: repeated axis in {axis!r} (tensor of shape {shp})")
            norm.add(a % n)
        new = tuple(s for i, s in enumerate(shp) if i not in norm)
    return reshape(x, new)


def expand_dims(x: Tensor, axis) -> Tensor:
    """y = x with axes of length one inserted at ``axis`` (an int or a tuple), as ``np.expand_dims``.

    dL/dx = reshape(dL/dy, x.shape).
    """
    axes = _axes_arg("expand_dims", axis, x.data.shape)
    n = x.data.ndim + len(axes)
    norm = sorted(a % n if -n <= a < n else _bad_axis("expand_dims", a, x.shape) for a in axes)
    if len(set(norm)) != len(norm):
        raise ValueError(f"expand_dims: repeated axis in {axis!r} (tensor of shape {x.shape})")
    shp = list(x.data.shape)
    for a in norm:
        shp.insert(a, 1)
    return reshape(x, tuple(shp))


def _bad_axis(op, axis, shape):
    raise ValueError(f"{op}: axis {axis} out of range for a tensor of shape {shape}")


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """y = x with the axes ``start_axis..end_axis`` merged into one (all of them by default, giving 1-D).

    A reshape: dL/dx = reshape(dL/dy, x.shape).
    """
    shp = x.data.shape
    n = len(shp)
    if n == 0:
        return reshape(x, (1,))
    for a in (start_axis, end_axis):
        if not -n <= a < n:
            _bad_axis("flatten", a, shp)
    s, e = start_axis % n, end_axis % n
    if s > e:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} for shape {shp}")
    size = 1
    for d in shp[s : e + 1]:
        size *= d
    return reshape(x, shp[:s] + (size,) + shp[e + 1 :])


class Cast(Function):
    """y = x converted to another dtype.  dL/dx = dL/dy converted back to x's dtype."""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return cast(g, self.in_dtype)


def cast(x: Tensor, dtype) -> Tensor:
    """y = x converted to ``dtype``.  dL/dx = dL/dy converted back to x's dtype (no gradient into an integer dtype)."""
    dtype = xp.dtype(dtype)
    if x.data.dtype == dtype:
        return x
    if x.requires_grad and dtype.kind != "f":
        return Tensor._wrap(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


def common_dtype(tensors):
    """Several operands brought to one dtype: integer and bool members take the float dtype of the
    float members, and floats are widened through the differentiable ``cast``, so each gradient
    comes back in its own input's dtype."""
    dtypes = {t.data.dtype for t in tensors}
    if len(dtypes) == 1:
        return tensors
    floats = [d for d in dtypes if d.kind == "f"]
    target = xp.result_type(*floats) if floats else xp.result_type(*dtypes)
    return [t if t.data.dtype == target else cast(t, target) for t in tensors]
