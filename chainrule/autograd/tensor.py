"""The ``Tensor``: one ndarray, plus what backpropagation needs to know about it.

A tensor made by an op while grad mode is on, from inputs that require grad,
remembers the ``Function`` that made it (``_ctx``); following those links
backward from a loss is the graph that ``backward()`` walks. Leaves (tensors
made by the user, e.g. parameters) have no ``_ctx`` and receive ``.grad``.

The arithmetic operators and methods (``+``, ``@``, ``.sum()``, ``.reshape()``
...) are attached by ``chainrule.ops``, which sits one floor above this one.
"""
from __future__ import annotations

from .. import backend
from .grad_mode import is_grad_enabled


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)``: floating data without an
    explicit dtype becomes ``cr.floatx()`` (float32 by default).
    """

    # _keras_logits (unset unless a softmax/sigmoid made this tensor): (op class, logits Tensor, axes), read by the losses
    # _keras_mask (unset unless a masking layer made this tensor): a boolean array (batch, timesteps), True = a real
    # step, read as getattr(t, "_keras_mask", None) by layers that honour masks (Keras's convention)
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_out_idx", "_retains_grad", "name", "_keras_logits",
                 "_keras_mask", "__weakref__")
    # Make ``ndarray + Tensor`` defer to Tensor.__radd__ instead of broadcasting elementwise.
    __array_priority__ = 1000.0
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        arr = backend.as_array(data, dtype)
        self.data = arr
        self.grad = None
        self._ctx = None
        self._out_idx = 0
        self._retains_grad = False
        self.name = name
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, arr, ctx=None, out_idx=0):
        """Fast internal constructor: no dtype policy, no checks."""
        t = object.__new__(cls)
        t.data = arr
        t.grad = None
        t._ctx = ctx
        t._out_idx = out_idx
        t._retains_grad = False
        t.name = None
        t.requires_grad = ctx is not None
        return t

    # ------------------------------------------------------------------ basic facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python scalar, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = backend.xp.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != backend.floatx_dtype():
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, flag: bool = True) -> "Tensor":
        """Mark a leaf as a variable whose gradient ``backward()`` computes."""
        if flag and not backend.is_float(self.data.dtype):
            raise TypeError(f"requires_grad: only floating tensors can require gradients, got dtype {self.data.dtype}")
        if not flag and self._ctx is not None:
            raise ValueError("requires_grad_: cannot turn off gradients of a non-leaf tensor; use detach()")
        self.requires_grad = bool(flag)
        return self

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self.data)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after ``backward()``."""
        if not self.requires_grad:
            raise ValueError("retain_grad: tensor does not require grad")
        self._retains_grad = True
        if self._ctx is not None:
            import weakref

            if self._ctx._retained is None:
                self._ctx._retained = {}
            self._ctx._retained[self._out_idx] = weakref.ref(self)

    def backward(self, grad=None, create_graph: bool = False, retain_graph: bool | None = None) -> None:
        """Backpropagate from this tensor; gradients accumulate into ``.grad`` of leaves.

        ``grad`` is dL/dself (defaults to 1 for a one-element tensor): a Tensor, an array
        or a list, converted to this tensor's dtype as PyTorch does. With
        ``create_graph=True`` the backward pass is itself recorded, so the
        gradients can be differentiated again.
        """
        from .engine import backward

        backward([self], None if grad is None else [grad], create_graph=create_graph, retain_graph=retain_graph)

    def zero_grad(self) -> None:
        self.grad = None

    def copy_(self, value) -> "Tensor":
        """Overwrite the data in place (no graph); shapes must match."""
        arr = value.data if isinstance(value, Tensor) else backend.xp.asarray(value)
        if arr.shape != self.data.shape:
            raise ValueError(f"copy_: shape {arr.shape} does not match tensor shape {self.data.shape}")
        self.data[...] = arr
        return self

    def astype(self, dtype) -> "Tensor":
        from ..ops import cast

        return cast(self, dtype)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a leaf tensor from array-like data (see ``Tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def ensure_tensor(value, like: Tensor | None = None, op: str | None = None) -> Tensor:
    """Turn a scalar or array-like into a Tensor; Python scalars and float arrays take ``like``'s float dtype.

    With ``op`` given, a value that is not numeric data raises a TypeError that names the op.
    """
    if isinstance(value, Tensor):
        return value
    if op is not None:
        try:
            return ensure_tensor(value, like)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: expected a Tensor, a number or an array of numbers, got {_short_repr(value)}") from None
    if like is not None:
        dt = like.data.dtype
        if dt.kind == "f":
            # A scalar adopts the tensor's dtype, as in NumPy's and PyTorch's weak-scalar rules.
            if type(value) is float or type(value) is int:
                return Tensor._wrap(backend.xp.array(value, dtype=dt))
            arr = backend.xp.asarray(value)
            if arr.ndim == 0 and arr.dtype.kind in "fiub":
                return Tensor._wrap(arr.astype(dt))
            if arr.dtype.kind == "f":
                # A float array meeting a float tensor takes the tensor's dtype: a float64 array
                # neither creeps into a float32 graph nor is rounded through floatx() in a float64 one.
                return Tensor._wrap(arr.astype(dt, copy=False))
    return Tensor._wrap(backend.as_array(value))


def _short_repr(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, with its type: for error messages."""
    r = repr(value)
    if len(r) > limit:
        r = r[: limit - 3] + "..."
    return f"{r} (of type {type(value).__name__})"


__all__ = ["Tensor", "tensor", "ensure_tensor", "is_grad_enabled"]
