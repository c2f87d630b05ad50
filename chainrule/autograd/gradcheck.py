"""Gradient checks by central differences, in float64.

For a function f of tensors, backward's dL/dx (with L = sum(f(x) * v) for a
fixed random v) is compared, element by element, with
(L(x + eps e_i) - L(x - eps e_i)) / (2 eps). ``gradgradcheck`` does the same
for the gradient itself, computed with ``create_graph=True``: it checks the
backward of every backward.
"""
from __future__ import annotations

import numpy as np

from .engine import grad
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient check found an analytic gradient that disagrees with the numeric one."""


def _check_inputs(op, inputs):
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.data.dtype != np.float64:
            raise TypeError(
                f"{op}: input {i} has dtype {t.data.dtype}; central differences need float64 "
                "(create it with dtype='float64' or call cr.set_floatx('float64'))"
            )
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError(f"{op}: no input requires grad; nothing to check")
    return inputs, wrt


def _outputs(fn, inputs):
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _writable(t: Tensor) -> Tensor:
    """Central differences write into ``t.data`` element by element; a read-only view gets its own copy."""
    if not t.data.flags.writeable:
        t.data = t.data.copy()
    return t


def _compare(op, variables, scalar_fn, analytic, eps, atol, rtol, order):
    """Compare each analytic gradient with central differences of ``scalar_fn``.

    ``variables`` is a list of (label, Tensor); the Tensor's data is perturbed in
    place, one element at a time (through its own index, so non-contiguous data works).
    """
    for (label, x), ga in zip(variables, analytic):
        a = np.zeros(x.shape) if ga is None else np.asarray(ga.data, dtype=np.float64)
        numeric = np.zeros(x.shape)
        data = _writable(x).data
        for idx in np.ndindex(*x.shape):
            old = data[idx]
            data[idx] = old + eps
            plus = scalar_fn()
            data[idx] = old - eps
            minus = scalar_fn()
            data[idx] = old
            numeric[idx] = (plus - minus) / (2 * eps)
        bad = ~np.isclose(a, numeric, atol=atol, rtol=rtol)
        if bad.any():
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), x.shape))
            raise GradcheckError(
                f"{op}: {order}gradient with respect to {label} (shape {x.shape}) is wrong at index {idx}: "
                f"analytic {float(a[idx])!r}, numeric {float(numeric[idx])!r}; "
                f"{int(bad.sum())} of {bad.size} elements differ "
                f"(max abs diff {float(np.max(np.abs(a - numeric))):.3g}, atol={atol}, rtol={rtol})"
            )
    return True


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check ``fn``'s backward against central differences; True, or raises ``GradcheckError``.

    ``fn(*inputs)`` returns a Tensor (or a tuple/list of them); every input with
    ``requires_grad`` is checked, element by element, and the report names the
    input, the index, and the analytic and numeric values of the first mismatch.
    """
    inputs, wrt = _check_inputs("gradcheck", inputs)
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    vs = [Tensor._wrap(rng.standard_normal(o.shape)) for o in outs]

    def scalar():
        with no_grad():
            return float(sum((o.data * v.data).sum() for o, v in zip(_outputs(fn, inputs), vs)))

    diff_outs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    if not diff_outs:
        analytic = [None] * len(wrt)
    else:
        analytic = grad([o for o, _ in diff_outs], [inputs[i] for i in wrt], [v for _, v in diff_outs])
    variables = [(f"input {i}", inputs[i]) for i in wrt]
    return _compare("gradcheck", variables, scalar, analytic, eps, atol, rtol, "")


def gradgradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check second derivatives: the backward of every backward.

    With L = sum(fn(x) * v) and its gradient g(x, v) = dL/dx computed with
    ``create_graph=True``, the scalar u . g(x, v) (u fixed and random) is
    differentiated with respect to x *and* to v, and compared with central
    differences in both. The derivative in v catches a backward that cuts the
    graph from the incoming gradient; the one in x, a wrong second derivative.
    """
    inputs, wrt = _check_inputs("gradgradcheck", inputs)
    rng = np.random.default_rng(seed + 1)
    outs = _outputs(fn, inputs)
    diff = [k for k, o in enumerate(outs) if o.requires_grad]
    vs = [Tensor._wrap(rng.standard_normal(outs[k].shape)) for k in diff]
    for v in vs:
        v.requires_grad = True
    us = [rng.standard_normal(inputs[i].shape) for i in wrt]
    if not vs:
        raise ValueError("gradgradcheck: no output of fn requires grad; nothing to check")

    def first_grads(create_graph):
        outs = _outputs(fn, inputs)
        return grad([outs[k] for k in diff], [inputs[i] for i in wrt], vs, create_graph=create_graph)

    def scalar():
        gs = first_grads(False)  # the same values; no graph needed for central differences
        return float(sum((g.data * u).sum() for g, u in zip(gs, us) if g is not None))

    variables = [(f"input {i}", inputs[i]) for i in wrt] + [(f"grad_output {k}", v) for k, v in zip(diff, vs)]
    gs = first_grads(True)
    terms = [(g * Tensor._wrap(u)).sum() for g, u in zip(gs, us) if g is not None and g.requires_grad]
    if not terms:
        analytic = [None] * len(variables)
    else:
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        analytic = grad(total, [t for _, t in variables])
    return _compare("gradgradcheck", variables, scalar, analytic, eps, atol, rtol, "second-order ")
