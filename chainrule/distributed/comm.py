"""The process group: MPI's world communicator, or a group of one process without MPI.

``init()`` imports mpi4py (only then: ``import chainrule`` never does) and records the
world communicator. With one process, or where mpi4py is not installed, the group is
one process and every collective is the identity, so a script written for N processes
runs unchanged as one.

Failure handling: MPI has no timeouts, so a process that dies while the others wait in
a collective would leave them waiting for ever. ``init()`` therefore installs a
``sys.excepthook`` that prints the uncaught exception once, prefixed with the rank, and
calls ``MPI_Abort``, which ends every process of the job (mpiexec reports the abort and
exits non-zero). An error that every rank raises together (``CollectiveError``, e.g. a
model-structure mismatch found at the start) is printed by rank 0 only.
"""
from __future__ import annotations

import os
import sys
import time
import traceback

_comm = None          # mpi4py's COMM_WORLD once init() ran with mpi4py present
_MPI = None           # the mpi4py.MPI module
_rank, _size, _local_rank = 0, 1, 0
_initialized = False
# This rank's share m_r / m of the current global batch, set by fit before each step
# (None: an equal share, 1 / size()). DistributedOptimizer and sync_batch_norm read it.
gradient_share = None

# Environment variables the launchers set (Open MPI, PMI/PMIx: MPICH, Intel MPI, Slurm's srun,
# MVAPICH), to tell "started by mpiexec" from "started alone". CHAINRULE_MPI=1 forces MPI.
_LAUNCH_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE",
                "SLURM_STEP_NUM_TASKS", "CHAINRULE_MPI")


class CollectiveError(RuntimeError):
    """An error every rank detects at the same point (so only rank 0 prints it)."""


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpiexec, srun) started this process."""
    return any(os.environ.get(var) for var in _LAUNCH_VARS)


def init(abort_on_error: bool = True) -> None:
    """Join the process group (idempotent).

    Under ``mpiexec -n N`` (or ``srun``) this initializes MPI through mpi4py. Started alone
    (no launcher) it makes a group of one without importing mpi4py. Started by a launcher
    but without mpi4py, it raises ImportError with the install command rather than letting
    N copies train independently.

    ``abort_on_error``: install the excepthook that turns an uncaught exception on any rank
    into ``MPI_Abort`` for all (default; only when there is more than one process).
    """
    global _comm, _MPI, _rank, _size, _local_rank, _initialized
    if _initialized:
        return
    if not launched_by_mpi():
        _initialized = True
        return
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(
            "chainrule.distributed.init: this process was started by an MPI launcher, but mpi4py is not "
            "installed; install it with `pip install 'chainrule[mpi]'` (or `pip install mpi4py` built "
            "against your cluster's MPI)") from None
    _MPI = MPI
    _comm = MPI.COMM_WORLD
    _rank, _size = _comm.Get_rank(), _comm.Get_size()
    local = _comm.Split_type(MPI.COMM_TYPE_SHARED, key=_rank)
    _local_rank = local.Get_rank()
    local.Free()
    _initialized = True
    if abort_on_error and _size > 1:
        _install_excepthook()


def is_initialized() -> bool:
    return _initialized


def _require(where: str):
    if not _initialized:
        raise RuntimeError(f"chainrule.distributed.{where}: call chainrule.distributed.init() first")


def rank() -> int:
    """This process's index in the group, 0..size()-1 (0 without MPI)."""
    _require("rank")
    return _rank


def size() -> int:
    """The number of processes in the group (1 without MPI)."""
    _require("size")
    return _size


def local_rank() -> int:
    """This process's index among the processes on the same machine (for pinning, one GPU each)."""
    _require("local_rank")
    return _local_rank


def is_root() -> bool:
    """True on rank 0 and in a group of one (also before init: a lone process is the root)."""
    return _rank == 0


def active() -> bool:
    """True when init() ran and the group has more than one process."""
    return _initialized and _size > 1


def mpi_comm():
    """mpi4py's world communicator (None in a group of one without mpi4py)."""
    _require("mpi_comm")
    return _comm


# ------------------------------------------------------------------------------------------ collectives
def allreduce_(array, op: str = "sum"):
    """Reduce ``array`` over all ranks in place (``"sum"``, ``"max"`` or ``"min"``) and return it."""
    if _size > 1:
        mpi_op = {"sum": _MPI.SUM, "max": _MPI.MAX, "min": _MPI.MIN}[op]
        _comm.Allreduce(_MPI.IN_PLACE, array, op=mpi_op)
    return array


def broadcast_(array, root: int = 0):
    """Overwrite ``array`` on every rank with rank ``root``'s (contiguous arrays only)."""
    if _size > 1:
        _comm.Bcast(array, root=root)
    return array


def broadcast_object(obj, root: int = 0):
    """A picklable object from rank ``root`` on every rank (small things: configs, seeds, states)."""
    return _comm.bcast(obj, root=root) if _size > 1 else obj


def allgather_object(obj) -> list:
    """Every rank's ``obj``, as a list in rank order."""
    return _comm.allgather(obj) if _size > 1 else [obj]


def barrier() -> None:
    if _size > 1:
        _comm.Barrier()


def abort(code: int = 1) -> None:
    """End every process of the job now (MPI_Abort); a plain exit in a group of one."""
    sys.stdout.flush()
    sys.stderr.flush()
    if _size > 1:
        _comm.Abort(code)
    os._exit(code)


# ------------------------------------------------------------------------------------------ failure
def _install_excepthook() -> None:
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            abort(130)
        if issubclass(exc_type, CollectiveError) and _rank != 0:
            # Every rank raised this; rank 0 prints it and aborts. Wait for that abort so the
            # message is shown once; abort ourselves only if it never comes.
            time.sleep(30)
            abort(1)
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        who = "every rank" if issubclass(exc_type, CollectiveError) else f"rank {_rank} of {_size}"
        sys.stderr.write(f"chainrule.distributed: {who} failed; aborting all ranks.\n{text}")
        abort(1)

    sys.excepthook = hook
