"""``DistributedOptimizer``: average the gradients over the ranks, then take the wrapped step.

Data-parallel SGD. Rank ``r`` computes the gradient ``g_r`` of the mean loss over its
``m_r`` samples of the global batch (``m = sum_r m_r``). The gradient of the mean loss over
the whole global batch is the sample-weighted mean of the ranks' gradients,

    g = sum_r (m_r / m) g_r          (= (1/N) sum_r g_r when the shards are equal),

so every rank, after one all-reduce of ``(m_r / m) g_r``, holds the same ``g`` and takes the
same optimizer step: N processes with batch B follow exactly the path of one process with
batch N*B (up to float round-off in the order of the sums). Clipping, weight decay and the
optimizer's own update run after the average, as on one process.

All gradients travel in ONE ``MPI_Allreduce`` per step over a flat buffer (allocated once):
one call per tensor would pay the network latency once per tensor (8 tensors for the texts'
CNN, hundreds for a Transformer). The buffer also carries, per variable, a flag "this rank
has a gradient" (a variable no rank touched keeps a ``None`` gradient) and one "skip" count:
a rank whose step went bad (non-finite loss) joins the same all-reduce through
``skip_step`` and every rank then skips the update together, so no rank is ever left
waiting in a collective the others never enter.

The communication is not overlapped with the backward pass: on the measured loopback
figures (docs/distributed.md) the all-reduce is a few percent of a step, and overlap would
need a hook in the autograd walk for each bucket of gradients.

The wrapper is a subclass of the wrapped optimizer's class made on the fly (as Horovod
does), sharing its state: ``isinstance(opt, Adam)`` holds, and ``model.save`` records it
as the plain optimizer (a saved model loads without MPI).
"""
from __future__ import annotations

import time

import numpy as np

from ..autograd.tensor import Tensor
from ..optimizers import Optimizer
from . import comm


class _Distributed:
    """The methods mixed into the wrapped optimizer's class."""

    _is_distributed_optimizer = True

    def apply(self, grads, variables=None) -> None:
        if not comm.active():
            return super().apply(grads, variables)
        grads = list(grads)
        variables = list(variables) if variables is not None else list(self._variables)
        if len(grads) != len(variables):
            raise ValueError(f"DistributedOptimizer.apply: got {len(grads)} gradients for {len(variables)} variables")
        buf, views = self._layout(variables)
        k = len(variables)
        # This rank's share m_r / m of the global batch (set by fit each step; 1/N otherwise;
        # ``gradient_weight`` overrides it in a custom loop with uneven shards).
        weight = self.gradient_weight if self.gradient_weight is not None else (
            comm.gradient_share if comm.gradient_share is not None else 1.0 / comm.size())
        for i, (g, view) in enumerate(zip(grads, views)):
            if g is None:
                view[...] = 0
                buf[-1 - k + i] = 0
            else:
                g = g.data if isinstance(g, Tensor) else np.asarray(g)
                if g.shape != view.shape:
                    raise ValueError(f"DistributedOptimizer.apply: gradient of shape {g.shape} for variable {i} "
                                     f"of shape {view.shape}")
                np.multiply(g, weight, out=view, casting="unsafe")
                buf[-1 - k + i] = 1
        buf[-1] = 0
        self._allreduce(buf)
        if buf[-1] > 0:
            return  # some rank's step went bad: every rank skips it
        flags = buf[-1 - k:-1]
        super().apply([v if f > 0 else None for v, f in zip(views, flags)], variables)

    def skip_step(self, variables) -> None:
        """Join this step's all-reduce without a gradient: every rank then skips the update."""
        if not comm.active():
            return
        buf, _ = self._layout(list(variables))
        buf[:] = 0
        buf[-1] = 1
        self._allreduce(buf)

    def _layout(self, variables):
        """The flat buffer ``[g_0 ... g_{k-1} | k flags | skip]`` and the gradient views into it."""
        key = tuple(id(v) for v in variables)
        if getattr(self, "_flat_key", None) != key:
            arrays = [v.data if isinstance(v, Tensor) else v for v in variables]
            dtype = np.result_type(*[a.dtype for a in arrays]) if arrays else np.float32
            total = sum(a.size for a in arrays)
            buf = np.zeros(total + len(arrays) + 1, dtype=dtype)
            views, offset = [], 0
            for a in arrays:
                views.append(buf[offset:offset + a.size].reshape(a.shape))
                offset += a.size
            self._flat_key, self._flat_buf, self._flat_views = key, buf, views
        return self._flat_buf, self._flat_views

    def _allreduce(self, buf) -> None:
        start = time.perf_counter()
        comm.allreduce_(buf, "sum")
        self.allreduce_seconds += time.perf_counter() - start
        self.allreduce_calls += 1

    @property
    def data_parallel(self):
        """The plan ``fit``/``evaluate``/``predict`` follow on several processes (None on one)."""
        if not comm.active():
            return None
        from .data_parallel import DataParallel

        if getattr(self, "_plan", None) is None:
            self._plan = DataParallel(self)
        return self._plan


_CLASSES: dict = {}


def DistributedOptimizer(optimizer) -> Optimizer:  # noqa: N802 - a class-like factory, Horovod's name
    """Wrap ``optimizer`` (an instance or a name) so that its gradients are averaged over all ranks.

    ``model.compile(optimizer=crd.DistributedOptimizer(cr.optimizers.Adam(1e-3)), ...)`` is also
    the switch that makes ``fit``, ``evaluate`` and ``predict`` data-parallel (see
    ``chainrule.distributed``). With one process it behaves exactly as ``optimizer``. It calls
    ``init()`` if the script has not (so N processes never train N separate models by mistake).
    """
    from .. import optimizers

    comm.init()

    optimizer = optimizers.get(optimizer)
    if getattr(optimizer, "_is_distributed_optimizer", False):
        return optimizer
    base = type(optimizer)
    cls = _CLASSES.get(base)
    if cls is None:
        # Named like the wrapped class, so serialization records the plain optimizer.
        cls = type(base.__name__, (_Distributed, base), {"__module__": base.__module__,
                                                         "__qualname__": base.__qualname__})
        _CLASSES[base] = cls
    wrapped = cls.__new__(cls)
    wrapped.__dict__.update(optimizer.__dict__)
    wrapped.gradient_weight = None
    wrapped.allreduce_seconds = 0.0
    wrapped.allreduce_calls = 0
    return wrapped
