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


def _compare(op, inputs, wrt, scalar_fn, analytic, eps, atol, rtol, seed_note):
    for k, i in enumerate(wrt):
        x = inputs[i]
        a = np.zeros(x.shape) if analytic[k] is None else np.asarray(analytic[k].data, dtype=np.float64)
        numeric = np.zeros(x.shape)
        flat = x.data.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            plus = scalar_fn()
            flat[j] = old - eps
            minus = scalar_fn()
            flat[j] = old
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        bad = ~np.isclose(a, numeric, atol=atol, rtol=rtol)
        if bad.any():
            idx = np.unravel_index(int(np.argmax(bad)), x.shape) if x.ndim else ()
            raise GradcheckError(
                f"{op}: {seed_note}gradient of input {i} (shape {x.shape}) is wrong at index {idx}: "
                f"analytic {a[idx]!r}, numeric {numeric[idx]!r}; {int(bad.sum())} of {bad.size} elements differ "
                f"(max abs diff {float(np.max(np.abs(a - numeric))):.3g}, atol={atol}, rtol={rtol})"
            )
    return True


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check ``fn``'s backward against central differences; True, or raises ``GradcheckError``.

    ``fn(*inputs)`` returns a Tensor (or a tuple of them); every input with
    ``requires_grad`` is checked, element by element.
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
    return _compare("gradcheck", inputs, wrt, scalar, analytic, eps, atol, rtol, "")


def gradgradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check second derivatives: the gradient of ``u . grad(sum(fn(x) v), x)`` against central differences."""
    inputs, wrt = _check_inputs("gradgradcheck", inputs)
    rng = np.random.default_rng(seed + 1)
    outs = _outputs(fn, inputs)
    vs = [Tensor._wrap(rng.standard_normal(o.shape)) for o in outs]
    us = [rng.standard_normal(inputs[i].shape) for i in wrt]

    def first_grads():
        outs = _outputs(fn, inputs)
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        return grad([o for o, _ in pairs], [inputs[i] for i in wrt], [v for _, v in pairs], create_graph=True)

    def scalar():
        gs = first_grads()
        return float(sum((g.data * u).sum() for g, u in zip(gs, us) if g is not None))

    gs = first_grads()
    terms = [(g * Tensor._wrap(u)).sum() for g, u in zip(gs, us) if g is not None and g.requires_grad]
    if not terms:
        analytic = [None] * len(wrt)
    else:
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        analytic = grad(total, [inputs[i] for i in wrt])
    return _compare("gradgradcheck", inputs, wrt, scalar, analytic, eps, atol, rtol, "second-order ")
