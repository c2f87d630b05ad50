"""Reverse-mode differentiation: the walk over the recorded graph.

By the chain rule, for a loss L and a node y = f(x1, ..., xn),
dL/dxi = (dL/dy) . (dy/dxi), summed over every path from L to xi. The walk
visits the nodes (Functions) once each in reverse topological order, so that
when a node runs its backward, every contribution to dL/d(its outputs) has
already arrived. The order is found with an explicit stack, not recursion, so
a chain of any length (an RNN over 10,000 steps) backpropagates.
"""
from __future__ import annotations

from .. import backend
from .grad_mode import enable_grad, no_grad
from .tensor import Tensor


def _count_consumers(roots):
    """For each Function reachable from ``roots``, how many recorded uses its outputs have.

    A node may run its backward only when all of those uses have sent their
    gradient (Kahn's algorithm); the count is found with an explicit stack.
    """
    consumers = {}
    stack = []
    for r in roots:
        fn = r._ctx
        if fn is not None and id(fn) not in consumers:
            consumers[id(fn)] = 0
            stack.append(fn)
    while stack:
        fn = stack.pop()
        if fn._released:
            raise RuntimeError(
                f"backward: trying to backpropagate through {type(fn).__name__} a second time; "
                "its saved values were freed. Pass retain_graph=True to the first backward."
            )
        for t in fn.inputs:
            p = t._ctx
            if p is not None:
                n = consumers.get(id(p))
                if n is None:
                    consumers[id(p)] = 1
                    stack.append(p)
                else:
                    consumers[id(p)] = n + 1
    return consumers


def _release_consumers(fn, consumers, ready):
    """``fn`` has sent its gradients: each producer it used has one consumer fewer to wait for."""
    for t in fn.inputs:
        p = t._ctx
        if p is not None:
            n = consumers[id(p)] - 1
            consumers[id(p)] = n
            if n == 0:
                ready.append(p)


def _as_grad(g, t: Tensor, where: str) -> Tensor:
    if g is None:
        if t.data.size != 1:
            raise ValueError(
                f"{where}: grad can be implicitly created only for a one-element output, "
                f"got shape {t.shape}; pass the gradient of the loss with respect to it"
            )
        return Tensor._wrap(backend.xp.ones_like(t.data))
    if not isinstance(g, Tensor):
        g = Tensor._wrap(backend.xp.asarray(g, dtype=t.data.dtype))
    if g.shape != t.shape:
        raise ValueError(f"{where}: gradient shape {g.shape} does not match output shape {t.shape}")
    return g


def _accumulate(a, b):
    return b if a is None else a + b


def run_backward(roots, grad_roots, targets=None, create_graph=False, retain_graph=None, where="backward"):
    """Backpropagate from ``roots``.

    With ``targets=None``, gradients accumulate into ``.grad`` of the leaves
    (and of non-leaves that called ``retain_grad``). Otherwise the gradients
    with respect to ``targets`` are returned and no ``.grad`` is touched.
    """
    if retain_graph is None:
        retain_graph = create_graph
    roots = list(roots)
    if grad_roots is None:
        grad_roots = [None] * len(roots)
    if len(grad_roots) != len(roots):
        raise ValueError(f"{where}: got {len(grad_roots)} gradients for {len(roots)} outputs")
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"{where}: outputs must be Tensors, got {type(r).__name__}")
        if not r.requires_grad:
            raise ValueError(
                f"{where}: output of shape {r.shape} does not require grad and has no grad_fn; "
                "did you build it under no_grad(), or from tensors without requires_grad=True?"
            )

    # Gradients arriving at each Function's outputs, keyed by id(Function).
    pending: dict[int, list] = {}
    leaf_grads: dict[int, tuple] = {}
    target_ids = None
    found = {}
    if targets is not None:
        target_ids = {}
        for i, t in enumerate(targets):
            if not isinstance(t, Tensor):
                raise TypeError(f"{where}: inputs must be Tensors, got {type(t).__name__}")
            key = (id(t._ctx), t._out_idx) if t._ctx is not None else id(t)
            target_ids.setdefault(key, []).append(i)

    mode = enable_grad() if create_graph else no_grad()
    with mode:
        for r, g in zip(roots, grad_roots):
            g = _as_grad(g, r, where)
            if r._ctx is None:
                if target_ids is not None:
                    if id(r) in target_ids:
                        found[id(r)] = _accumulate(found.get(id(r)), g)
                else:
                    prev = leaf_grads.get(id(r))
                    leaf_grads[id(r)] = (r, _accumulate(prev[1] if prev else None, g))
                continue
            slot = pending.setdefault(id(r._ctx), [None] * r._ctx.n_outputs)
            slot[r._out_idx] = _accumulate(slot[r._out_idx], g)

        consumers = _count_consumers(roots)
        ready = []
        for r in roots:
            fn = r._ctx
            if fn is not None and consumers[id(fn)] == 0 and fn not in ready:
                ready.append(fn)
        retained = []
        keep_alive = []
        while ready:
            fn = ready.pop()
            grads_out = pending.pop(id(fn), None)
            if grads_out is None:  # nothing flowed here (e.g. a backward returned None)
                _release_consumers(fn, consumers, ready)
                continue
            if target_ids is not None:
                for i, g in enumerate(grads_out):
                    if (id(fn), i) in target_ids and g is not None:
                        found[(id(fn), i)] = g
            if fn.n_outputs > 1:
                grads_out = [
                    g if g is not None else Tensor._wrap(backend.xp.zeros(shape, dtype))
                    for g, (shape, dtype) in zip(grads_out, fn.out_meta)
                ]
            if targets is None and fn._retained is not None:
                for i, ref in fn._retained.items():
                    t = ref()
                    if t is not None and grads_out[i] is not None:
                        retained.append((t, grads_out[i]))
            grads_in = fn.backward(*grads_out)
            if not isinstance(grads_in, tuple):
                grads_in = (grads_in,)
            inputs = fn.inputs
            needs = fn.needs_input_grad
            if len(grads_in) != len(inputs):
                raise RuntimeError(
                    f"{type(fn).__name__}.backward returned {len(grads_in)} gradients for {len(inputs)} inputs"
                )
            _release_consumers(fn, consumers, ready)
            for t, g, need in zip(inputs, grads_in, needs):
                if not need or g is None:
                    continue
                if g.shape != t.shape:
                    raise RuntimeError(
                        f"{type(fn).__name__}.backward: gradient of shape {g.shape} for an input of shape {t.shape}"
                    )
                p = t._ctx
                if p is None:
                    if target_ids is not None:
                        if id(t) in target_ids:
                            found[id(t)] = _accumulate(found.get(id(t)), g)
                    else:
                        prev = leaf_grads.get(id(t))
                        leaf_grads[id(t)] = (t, g if prev is None else prev[1] + g)
                else:
                    slot = pending.get(id(p))
                    if slot is None:
                        slot = pending[id(p)] = [None] * p.n_outputs
                    slot[t._out_idx] = _accumulate(slot[t._out_idx], g)
            if not retain_graph:
                # A producer's backward may still read its output through a weak reference;
                # the consumer's inputs keep it alive until the walk ends.
                keep_alive.append(inputs)
                fn.release()

    if targets is not None:
        out = [None] * len(targets)
        for key, idxs in target_ids.items():
            for i in idxs:
                out[i] = found.get(key)
        return out

    for t, g in leaf_grads.values():
        if not create_graph:
            g = g.detach() if g._ctx is not None else g
        t.grad = g if t.grad is None else _sum_grads(t.grad, g, create_graph)
    for t, g in retained:
        g = g if create_graph else g.detach()
        t.grad = g if t.grad is None else _sum_grads(t.grad, g, create_graph)
    return None


def _sum_grads(a, b, create_graph):
    if create_graph:
        with enable_grad():
            return a + b
    return Tensor._wrap(a.data + b.data)


def backward(tensors, grad_tensors=None, create_graph=False, retain_graph=None) -> None:
    """Accumulate d(sum of tensors . grad_tensors)/d(leaf) into each leaf's ``.grad``."""
    run_backward(tensors, grad_tensors, None, create_graph, retain_graph, where="backward")


def grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None, allow_unused=True):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a list; ``.grad`` is left alone.

    An input that ``outputs`` does not depend on gets ``None`` (``allow_unused=False``
    raises instead). With ``create_graph=True`` the result is differentiable.
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    inputs = list(inputs)
    if grad_outputs is not None and isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    res = run_backward(outputs, grad_outputs, inputs, create_graph, retain_graph, where="grad")
    if not allow_unused:
        for i, g in enumerate(res):
            if g is None:
                raise ValueError(f"grad: input {i} (shape {inputs[i].shape}) is not used to compute the outputs")
    return res
