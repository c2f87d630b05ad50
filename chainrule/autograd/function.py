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
``d sigmoid = y (1 - y)``.

``Cls.apply(*tensors, **params)`` runs forward and, when grad mode is on and
an input requires grad, records the node. The docstring of every subclass
states its forward formula and the derivative its backward implements.
"""
from __future__ import annotations

import weakref

from .grad_mode import _state
from .tensor import Tensor


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
    def output(self) -> Tensor:
        out = self._out_ref() if self._out_ref is not None else None
        if out is None:
            raise RuntimeError(f"{type(self).__name__}.backward: the saved output is gone")
        return out

    def release(self) -> None:
        """Drop what backward needed (inputs, saved arrays) once it has run."""
        self.__dict__.clear()
        self._released = True

    @classmethod
    def apply(cls, *inputs: Tensor, **params):
        fn = cls()
        out = fn.forward(*[t.data for t in inputs], **params)
        if _state.enabled:
            for t in inputs:
                if t.requires_grad:
                    fn.inputs = inputs
                    fn.needs_input_grad = tuple(t.requires_grad for t in inputs)
                    break
        if fn.inputs is None:
            if type(out) is tuple:
                return tuple(Tensor._wrap(o) for o in out)
            return Tensor._wrap(out)
        if type(out) is tuple:
            fn.n_outputs = len(out)
            fn.out_meta = [(o.shape, o.dtype) for o in out]
            res = tuple(Tensor._wrap(o, fn, i) for i, o in enumerate(out))
            if fn._save_out:
                fn._out_ref = [weakref.ref(r) for r in res]
            return res
        res = Tensor._wrap(out, fn)
        if fn._save_out:
            fn._out_ref = weakref.ref(res)
        return res

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
