"""``Function``: one differentiable operation, the unit of the graph.

A subclass writes two methods:

* ``forward(self, *arrays, **params)`` computes the output ndarray(s) from the
  input ndarrays; it may keep on ``self`` whatever backward needs.
* ``backward(self, *grad_outputs)`` receives dL/d(output) as Tensors and
  returns dL/d(input) for each input (a Tensor, or None where an input needs
  no gradient). It is written with Tensor ops, so that when the engine runs
  it with ``create_graph=True`` the gradient is itself differentiable.

``self.inputs`` holds the input Tensors during backward; ``self.output``
(after ``save_output()`` in forward) the output Tensor, e.g. for
``d sigmoid = y (1 - y)`` -- for a Function with several outputs, the tuple of
them (``self.outputs`` is always a tuple).

``Cls.apply(*tensors, **params)`` runs forward and, when grad mode is on and
an input requires grad, records the node. The docstring of every subclass
states its forward formula and the derivative its backward implements.
"""
from __future__ import annotations

import weakref

from .grad_mode import _state
from .tensor import Tensor

_wrap = Tensor._wrap
_new = object.__new__


class Function:
    inputs: tuple | None = None
    needs_input_grad: tuple = ()
    _out_ref = None
    _save_out = False
    _released = False
    _retained = None
    n_outputs = 1

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} is not differentiable")

    def save_output(self) -> None:
        """Ask ``apply`` to keep a (weak) reference to the output Tensor for backward."""
        self._save_out = True

    @property
    def output(self):
        """The output Tensor saved by ``save_output()``; for a multi-output Function, the tuple of them."""
        ref = self._out_ref
        if type(ref) is list:
            return self.outputs
        out = ref() if ref is not None else None
        if out is None:
            raise RuntimeError(f"{type(self).__name__}.backward: the saved output is gone")
        return out

    @property
    def outputs(self) -> tuple:
        """The saved outputs as a tuple (one Tensor for a single-output Function).

        A multi-output Function keeps its output arrays (not the Tensors, which would make a
        reference cycle); an output Tensor the caller has already dropped is rebuilt from its
        array as a handle on the same node, so gradients through it still reach this Function.
        """
        ref = self._out_ref
        if type(ref) is not list:
            return (self.output,)
        res = []
        for i, (r, arr) in enumerate(zip(ref, self._out_arrays)):
            t = r()
            res.append(_wrap(arr, self, i) if t is None else t)
        return tuple(res)

    def release(self) -> None:
        """Drop what backward needed (inputs, saved arrays) once it has run."""
        self.__dict__.clear()
        self._released = True

    @classmethod
    def apply(cls, *inputs: Tensor, **params):
        # The hot path of every op: kept flat (no helper calls) for the common one- and two-input cases.
        fn = cls()
        n = len(inputs)
        if n == 2:
            a, b = inputs
            out = fn.forward(a.data, b.data, **params)
            record = (a.requires_grad or b.requires_grad) and _state.enabled
            if record:
                fn.needs_input_grad = (a.requires_grad, b.requires_grad)
        elif n == 1:
            a = inputs[0]
            out = fn.forward(a.data, **params)
            record = a.requires_grad and _state.enabled
            if record:
                fn.needs_input_grad = (True,)
        else:
            out = fn.forward(*[t.data for t in inputs], **params)
            record = _state.enabled and any(t.requires_grad for t in inputs)
            if record:
                fn.needs_input_grad = tuple(t.requires_grad for t in inputs)
        if type(out) is tuple:
            if not record:
                return tuple(_wrap(o) for o in out)
            fn.inputs = inputs
            fn.n_outputs = len(out)
            fn.out_meta = [(o.shape, o.dtype) for o in out]
            res = tuple(_wrap(o, fn, i) for i, o in enumerate(out))
            if fn._save_out:
                fn._out_ref = [weakref.ref(r) for r in res]
                fn._out_arrays = out
            return res
        res = _new(Tensor)
        res.data = out
        res.grad = None
        res._out_idx = 0
        res._retains_grad = False
        res.name = None
        if not record:
            res._ctx = None
            res.requires_grad = False
            return res
        fn.inputs = inputs
        res._ctx = fn
        res.requires_grad = True
        if fn._save_out:
            fn._out_ref = weakref.ref(res)
        return res

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
