"""Data-parallel training over MPI processes, with Horovod's ergonomics.

Install: ``pip install 'chainrule[mpi]'`` (mpi4py and an Open MPI wheel); on a cluster, install
mpi4py built against the cluster's MPI instead. Launch: ``mpiexec -n 4 python train.py``,
``srun python train.py`` under Slurm, or ``chainrule train RECIPE --processes 4``.

A script::

    import chainrule as cr
    import chainrule.distributed as crd

    crd.init()                                   # MPI_Init under mpiexec; a group of one otherwise
    cr.manual_seed(0)                            # rank 0's seed decides the run
    model = build_model()
    model.compile(optimizer=crd.DistributedOptimizer(cr.optimizers.Adam(1e-3)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=5)     # per-rank batch 64: global batch 64 * crd.size()
    model.save("model.keras")                    # written by rank 0 only

Compiling with ``DistributedOptimizer`` is the one switch: ``fit`` then shards every epoch's
shuffled data (rank r takes its part of each global batch), broadcasts rank 0's weights and
optimizer state at the start, averages the gradients with one all-reduce per step, averages
the logged loss and metrics over the ranks, and shows progress and writes checkpoints on
rank 0 only; ``evaluate`` and ``predict`` shard the samples and combine the results. With one
process, or without MPI, everything runs exactly as without this module, and
``import chainrule`` never imports mpi4py.

``batch_size`` is per rank (as in Horovod): N ranks with batch B take the same steps as one
process with batch N*B. Scale the learning rate yourself if you change the global batch.

For custom training loops: ``DistributedOptimizer(opt).apply(grads, variables)`` averages the
gradients, and ``broadcast_variables(model.weights)`` / ``broadcast_optimizer_state(opt)`` (or
the ``BroadcastGlobalVariablesCallback``) start every rank from rank 0's values.

BatchNormalization computes its statistics per rank by default (as Horovod does: each rank
normalizes its own B samples); ``BatchNormalization(synchronized=True)`` (Keras's argument)
computes them over the global batch with an all-reduce in the forward and backward passes.

Failure: an uncaught exception on any rank is printed once and aborts every rank
(``MPI_Abort``), so no rank waits for ever in a collective. See docs/distributed.md.
"""
from __future__ import annotations

from ..callbacks import Callback
from .comm import (
    CollectiveError, abort, active, allgather_object, barrier, broadcast_object, init, is_initialized, is_root,
    launched_by_mpi, local_rank, mpi_comm, rank, size,
)
from .optimizer import DistributedOptimizer
from . import sync_batch_norm  # noqa: E402,F401 - found by BatchNormalization(synchronized=True) in sys.modules


def allreduce(array, op: str = "average"):
    """A copy of ``array`` reduced over all ranks: ``"average"``, ``"sum"``, ``"max"`` or ``"min"``."""
    import numpy as np

    out = np.array(array, dtype=np.result_type(np.asarray(array).dtype, np.float32) if op == "average" else None,
                   copy=True)
    from .comm import allreduce_

    allreduce_(out, "sum" if op == "average" else op)
    if op == "average":
        out /= size()
    return out


def broadcast_variables(variables, root_rank: int = 0) -> None:
    """Overwrite the variables (Tensors or arrays) on every rank with rank ``root_rank``'s values."""
    from .data_parallel import broadcast_variables as _bcast

    _bcast(variables, root_rank)


def broadcast_optimizer_state(optimizer, root_rank: int = 0) -> None:
    """Give every rank the optimizer state (iterations, slots) of rank ``root_rank``."""
    from .data_parallel import broadcast_optimizer_state as _bcast

    _bcast(optimizer, root_rank)


class BroadcastGlobalVariablesCallback(Callback):
    """Horovod's callback: at the start of training, broadcast the model's weights and the
    optimizer's state from ``root_rank``. ``fit`` with a ``DistributedOptimizer`` does this
    already; the callback is for models compiled with a plain optimizer whose gradients are
    averaged some other way, and for scripts ported from Horovod."""

    def __init__(self, root_rank: int = 0):
        super().__init__()
        self.root_rank = root_rank

    def on_train_begin(self, logs=None):
        if not active():
            return
        from .data_parallel import check_same_structure

        if self.model.built:
            check_same_structure(self.model)
            broadcast_variables(self.model.weights, self.root_rank)
        if getattr(self.model, "optimizer", None) is not None:
            broadcast_optimizer_state(self.model.optimizer, self.root_rank)


__all__ = [
    "BroadcastGlobalVariablesCallback", "CollectiveError", "DistributedOptimizer", "abort", "active",
    "allgather_object", "allreduce", "barrier", "broadcast_object", "broadcast_optimizer_state",
    "broadcast_variables", "init", "is_initialized", "is_root", "launched_by_mpi", "local_rank", "mpi_comm", "rank", "size",
]
