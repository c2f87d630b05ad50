"""Reverse-mode differentiation: the walk over the recorded graph.

By the chain rule, for a loss L and a node y = f(x1, ..., xn),
dL/dxi = (dL/dy) . (dy/dxi), summed over every path from L to xi. The walk
visits the nodes (Functions) once each in reverse topological order, so that
when a node runs its backward, every contribution to dL/d(its outputs) has
already arrived. The order is found with an explicit stack, not recursion, so
a chain of any length (an RNN over 10,000 steps) backpropagates.
"""
from __future__ import annotations

from .. import backend, threads
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .tensor import Tensor

_base_release = Function.release
_wrap = Tensor._wrap


def _count_consumers(roots):
    """For each Function reachable from ``roots``, how many recorded uses its outputs have.

    A node may run its backward only when all of those uses have sent their
    gradient (Kahn's algorithm); the count is found with an explicit stack.
    Functions are the keys (hashed by identity).
    """
    consumers = {}
    stack = []
    for r in roots:
        fn = r._ctx
        if fn is not None and fn not in consumers:
            consumers[fn] = 0
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
                n = consumers.get(p)
                if n is None:
                    consumers[p] = 1
                    stack.append(p)
                else:
                    consumers[p] = n + 1
    return consumers


def _key(t: Tensor):
    """How a target is recognised: a leaf by its identity, a non-leaf as output i of its Function."""
    return id(t) if t._ctx is None else (id(t._ctx), t._out_idx)


def _prune_to_targets(functions, target_ids) -> dict:
    """For ``grad(outputs, inputs)``: which Functions lead to an input, and which of their inputs do.

    Returns ``{fn: needs}`` for each Function from which some target can be reached, ``needs``
    telling, per input, whether a gradient must flow there (it requires grad and is a target or
    leads to one). Functions absent from the result are skipped by the walk, and an op consulting
    ``needs_input_grad`` computes only what leads to a target: ``grad(g_loss, generator_weights)``
    through a discriminator computes no gradient of the discriminator's weights (as PyTorch).
    """
    users: dict = {}              # Function -> the Functions that take one of its outputs as input
    reaching = set()
    frontier = []
    for fn in functions:
        for t in fn.inputs:
            if t._ctx is not None:
                users.setdefault(t._ctx, []).append(fn)
            if _key(t) in target_ids:
                frontier.append(fn)
    while frontier:               # walk from the targets' users toward the outputs
        fn = frontier.pop()
        if fn not in reaching:
            reaching.add(fn)
            frontier.extend(users.get(fn, ()))
    return {fn: tuple(need and (_key(t) in target_ids or t._ctx in reaching)
                      for t, need in zip(fn.inputs, fn.needs_input_grad))
            for fn in reaching}


def _call_backward(fn, grads_out, needs=None) -> tuple:
    """``fn.backward(*grads_out)`` as a tuple of one gradient (or None) per input; with ``needs``,
    the op sees that per-input mask as its ``needs_input_grad`` while it runs."""
    static = fn.needs_input_grad
    if needs is not None:
        fn.needs_input_grad = needs
    try:
        grads_in = fn.backward(*grads_out)
    finally:
        fn.needs_input_grad = static
    if type(grads_in) is not tuple:
        grads_in = (grads_in,)
    if len(grads_in) != len(fn.inputs):
        raise RuntimeError(f"{type(fn).__name__}.backward returned {len(grads_in)} gradients for "
                           f"{len(fn.inputs)} inputs")
    return grads_in


def _as_grad(g, t: Tensor, where: str) -> Tensor:
    if g is None:
        if t.data.size != 1:
            raise ValueError(
                f"{where}: grad can be implicitly created only for a one-element output, "
                f"got shape {t.shape}; pass the gradient of the loss with respect to it"
            )
        return Tensor._wrap(backend.xp.ones_like(t.data))
    if not isinstance(g, Tensor):
        # A plain array or list is data for the gradient: it takes the output's dtype.
        try:
            g = Tensor._wrap(backend.xp.asarray(g, dtype=t.data.dtype))
        except (TypeError, ValueError):
            raise TypeError(
                f"{where}: the gradient for an output of shape {t.shape} must be a Tensor or an array of numbers, "
                f"got {type(g).__name__}"
            ) from None
    elif g.data.dtype != t.data.dtype:
        # As PyTorch: the gradient takes the output's dtype, so a float64 gradient never makes a
        # float32 leaf's .grad float64. Cast through the graph only where it is recorded.
        if g.requires_grad and is_grad_enabled():
            g = g.astype(t.data.dtype)
        else:
            g = Tensor._wrap(g.data.astype(t.data.dtype))
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

    # Gradients arriving at each Function's outputs, keyed by the Function.
    pending: dict = {}
    leaf_grads: dict[int, list] = {}
    target_ids = None
    found = {}
    given = []  # arrays the caller passed in: a leaf's .grad must not alias them
    if targets is not None:
        target_ids = {}
        for i, t in enumerate(targets):
            if not isinstance(t, Tensor):
                raise TypeError(f"{where}: inputs must be Tensors, got {type(t).__name__}")
            target_ids.setdefault(_key(t), []).append(i)

    mode = enable_grad() if create_graph else no_grad()
    with mode:
        for r, g0 in zip(roots, grad_roots):
            g = _as_grad(g0, r, where)
            if g0 is not None:
                given.append(g.data)
            if r._ctx is None:
                if target_ids is not None:
                    if id(r) in target_ids:
                        found[id(r)] = _accumulate(found.get(id(r)), g)
                else:
                    prev = leaf_grads.get(id(r))
                    leaf_grads[id(r)] = [r, _accumulate(prev[1] if prev else None, g)]
                continue
            slot = pending.get(r._ctx)
            if slot is None:
                slot = pending[r._ctx] = [None] * r._ctx.n_outputs
            slot[r._out_idx] = _accumulate(slot[r._out_idx], g)

        consumers = _count_consumers(roots)
        # With targets, only the Functions that lead to one run their backward (and only for the
        # inputs that lead to one); without, every Function does.
        plan = None if target_ids is None else _prune_to_targets(consumers, target_ids)
        ready = []
        for r in roots:
            fn = r._ctx
            if fn is not None and consumers[fn] == 0 and fn not in ready:
                ready.append(fn)
        retained = []
        # A Function that saved its output (weakly) reads it in backward; when the consumers that
        # held that output are released first, ``hold`` keeps it alive until the producer has run.
        hold = {}
        release = not retain_graph
        collect_leaves = target_ids is None
        while ready:
            fn = ready.pop()
            inputs = fn.inputs
            grads_out = pending.pop(fn, None)
            if grads_out is not None and target_ids is not None:
                for i, g in enumerate(grads_out):
                    if g is not None and (id(fn), i) in target_ids:
                        found[(id(fn), i)] = g
            needs = None if plan is None else plan.get(fn)
            if grads_out is None or (plan is not None and needs is None):
                # nothing flowed here (e.g. a backward returned None), or nothing here leads to a target
                grads_in = (None,) * len(inputs)
            else:
                if fn.n_outputs > 1:
                    grads_out = [
                        g if g is not None else Tensor._wrap(backend.xp.zeros(shape, dtype))
                        for g, (shape, dtype) in zip(grads_out, fn.out_meta)
                    ]
                if fn._retained is not None and collect_leaves:
                    for i, ref in fn._retained.items():
                        t = ref()
                        if t is not None and grads_out[i] is not None:
                            retained.append((t, grads_out[i]))
                grads_in = _call_backward(fn, grads_out, needs)
            for t, g, need in zip(inputs, grads_in, needs or fn.needs_input_grad):
                p = t._ctx
                if p is not None:
                    n = consumers[p] - 1
                    consumers[p] = n
                    if n == 0:
                        ready.append(p)
                    if release and p._out_ref is not None:
                        h = hold.get(p)
                        if h is None:
                            hold[p] = [t]
                        else:
                            h.append(t)
                if g is None or not need:
                    continue
                if g.data.shape != t.data.shape:
                    raise RuntimeError(
                        f"{type(fn).__name__}.backward: gradient of shape {g.shape} for an input of shape {t.shape}"
                    )
                if p is None:
                    if collect_leaves:
                        prev = leaf_grads.get(id(t))
                        if prev is None:
                            leaf_grads[id(t)] = [t, g]
                        else:
                            prev[1] = prev[1] + g if create_graph else _wrap(prev[1].data + g.data)
                    elif id(t) in target_ids:
                        found[id(t)] = _accumulate(found.get(id(t)), g)
                else:
                    slot = pending.get(p)
                    if slot is None:
                        slot = pending[p] = [None] * p.n_outputs
                        slot[t._out_idx] = g
                    else:
                        prev = slot[t._out_idx]
                        if prev is None:
                            slot[t._out_idx] = g
                        else:  # without create_graph no graph is recorded: add the arrays directly
                            slot[t._out_idx] = prev + g if create_graph else _wrap(prev.data + g.data)
            if release:
                if hold:
                    hold.pop(fn, None)
                if type(fn).release is _base_release:  # inlined Function.release
                    d = fn.__dict__
                    d.clear()
                    d["_released"] = True
                else:
                    fn.release()

    if targets is not None:
        out = [None] * len(targets)
        seen = {id(a) for a in given}
        for key, idxs in target_ids.items():
            g = found.get(key)
            if g is not None and not create_graph:
                g = _owned(g, seen)
            for i in idxs:
                out[i] = g
        return out

    if create_graph:
        for t, g in leaf_grads.values():
            t.grad = g if t.grad is None else _sum_grads(t.grad, g, True)
        for t, g in retained:
            t.grad = g if t.grad is None else _sum_grads(t.grad, g, True)
        return None
    # Each .grad gets an array of its own, writable, that nothing else refers to: an optimizer
    # may update or clip it in place. The walk's arrays are used as they are where that already
    # holds (a fresh product from a backward); views, broadcasts, arrays handed to two tensors
    # (the two inputs of an add), and arrays the caller passed in are copied.
    seen = {id(a) for a in given}
    for t, g in [*leaf_grads.values(), *retained]:
        if t.grad is not None:
            t.grad = Tensor._wrap(t.grad.data + g.data)  # a new array: accumulation never writes into the old one
        else:
            t.grad = _owned(g, seen)
    return None


def _owned(g: Tensor, seen: set) -> Tensor:
    """``g``, or a copy of it, whose array is writable and referred to by nothing else in this result."""
    arr = g.data
    if id(arr) in seen or not (arr.flags.owndata and arr.flags.writeable):
        g = Tensor._wrap(arr.copy())
    seen.add(id(g.data))
    return g


def _sum_grads(a, b, create_graph):
    if create_graph:
        with enable_grad():
            return a + b
    return Tensor._wrap(a.data + b.data)


def backward(tensors, grad_tensors=None, create_graph=False, retain_graph=None) -> None:
    """Accumulate d(sum of tensors . grad_tensors)/d(leaf) into each leaf's ``.grad``."""
    run_backward(tensors, grad_tensors, None, create_graph, retain_graph, where="backward")
    threads.work_done()  # the gradients are done: outside a loop (fit, ...), the BLAS gets its threads back


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
    threads.work_done()  # the gradients are done: outside a loop (fit, ...), the BLAS gets its threads back
    if not allow_unused:
        for i, g in enumerate(res):
            if g is None:
                raise ValueError(f"grad: input {i} (shape {inputs[i].shape}) is not used to compute the outputs")
    return res
