"""How many threads the BLAS (matrix products, convolutions) uses: the thread policy.

NumPy hands every matrix product to its BLAS (OpenBLAS), which by default starts one
thread per core and, after each product, lets its worker threads spin for a while
waiting for the next one. On an idle machine that is what we want. On a busy one it is
a disaster: when another program holds one of two cores, every product must wait until
the worker scheduled behind that program gets a turn, and a training step that took
1.5 s an epoch takes a minute (measured in ``benchmarks/README.md``, "busy machine").

So chainrule decides. While a model runs (at each outermost layer call and each
backward pass, at most every ``INTERVAL`` seconds) it reads how much CPU time the rest
of the machine used since the last look, from ``/proc/stat`` minus this process's own
share (``os.times``):

    others = (busy jiffies of all cores / HZ - CPU seconds of this process) / wall seconds

and gives the BLAS the cores the others leave free, ``max(1, cores - others)`` rounded,
with some hysteresis so that it does not flip back and forth (it drops a thread when
the others use more than ``DROP`` of a core, and takes it back when they use less than
``RESTORE``). Changing the count is one call into the BLAS, made only when it changes.
A window in which this process itself mostly waited (longer than ``STALE`` seconds, less
than ``IDLE_SHARE`` of a core of its own) changes nothing: a program that ran while we
waited may have stopped since, and acting on it would run the next quarter second on one
thread of an idle machine (seen in the benchmark, where PyTorch's process runs between two
of chainrule's timings: the texts' CNN's inference measured 12 ms a step instead of 8.3).

The user wins: when ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``
or ``BLIS_NUM_THREADS`` is set in the environment at import, or after
``cr.set_num_threads(n)``, chainrule leaves the count alone (``set_num_threads(None)``
hands it back to the policy). ``CHAINRULE_THREADS=fixed`` turns the policy off.

Holding the BLAS at one thread. chainrule's own thread pool (``chainrule.parallel``) runs
the blocks of a convolution on all the cores, each block making its own BLAS call, so the
BLAS must then run on one thread (``hold_single``). Once held, the BLAS stays at one thread
until the model's step is over: the next outermost layer call, or the end of a backward
pass, gives the count back (``release_hold``). Giving it back right after each block (as
before 2026-12-05) cost more than the second core gave: the dense layers between two
convolutions then ran their small products on two BLAS threads, and OpenBLAS's worker thread
spins for a while after each product, waiting for the next one, while the pool's two threads
wanted both cores (measured on the texts' CNN, batch 64: 40-44 ms a training step against
28.5-30 ms with the BLAS held, ``benchmarks/README.md``). A model without convolutions never
takes the hold, and its products run on all the BLAS's threads as before.

A loop's steps are another matter. Giving the count back after each of them lets the next
step's first dense product run on two BLAS threads, and OpenBLAS's worker, which spins for a
while after it, then takes a core from the pool's convolution blocks. A GAN's step is worst:
it starts with the generator's Dense layer and has several outermost calls (the generator,
the discriminator on real and fake images, two gradient computations), each of which gave
the count back; its step measured 200-215 ms, no faster on two threads than on one. So
``fit``, ``evaluate``, ``predict``, ``train_on_batch`` and ``test_on_batch`` run inside
``loop()``: a hold taken in one step lasts until the loop ends (the DCGAN: 131 ms a step). A
custom loop can do the same with ``with chainrule.threads.loop(): ...`` around its steps.

The BLAS is reached through threadpoolctl (a small, well-kept library for exactly
this). Without it, or on a system without ``/proc/stat``, the policy does nothing.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

#: Seconds between two looks at the machine's load.
INTERVAL = 0.25
#: Leave one core to the others when they use more than this much of a core...
DROP = 0.6
#: ...and take it back when they use less than this.
RESTORE = 0.3
#: A window longer than this many seconds in which this process used less than ``IDLE_SHARE``
#: of a core is not acted on (see ``_Policy.look``).
STALE = 2 * INTERVAL
IDLE_SHARE = 0.5

_USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _machine_busy_seconds():
    """CPU seconds all cores have spent busy since boot (``/proc/stat``), or None."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu":
        return None
    ticks = [int(v) for v in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)           # idle + iowait
    busy = sum(ticks[:8]) - idle                                      # guest time is inside user time
    return busy / _HZ


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


try:
    _HZ = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    _HZ = 100


class _Policy:
    """The state of the policy: who decides, the BLAS controller, the last look at the load."""

    def __init__(self):
        env = os.environ
        self.user_threads = None          # set by set_num_threads(n)
        self.env_fixed = any(env.get(v) for v in _USER_VARS) or (
            env.get("CHAINRULE_THREADS", "auto").strip().lower() in ("fixed", "off", "0", "no"))
        self.cores = _cores()
        self._controller = None           # threadpoolctl's controller of the BLAS, found on first use
        self._controller_tried = False
        self.current = None               # the count the policy set last
        self.next_look = 0.0
        self.last = None                  # (wall, machine busy seconds, own cpu seconds)
        self.others = 0.0                 # the others' load at the last look, in cores
        self.changes = 0
        self.held_from = None             # while the BLAS is held at one thread: the count to give back
        self.holders = 0                  # hold_single sections open now (ops may run on several user threads)
        self.loops = 0                    # loop() sections open now: a hold lasts to the end of the last one
        self.hold_lock = threading.Lock()

    # ------------------------------------------------------------------ the BLAS
    def controller(self):
        if not self._controller_tried:
            self._controller_tried = True
            try:
                from threadpoolctl import ThreadpoolController

                ctl = ThreadpoolController()
                blas = ctl.select(user_api="blas")
                self._controller = blas if blas.lib_controllers else None
            except Exception:             # threadpoolctl missing or unable to load the library
                self._controller = None
        return self._controller

    def blas_threads(self):
        ctl = self.controller()
        if ctl is None:
            return None
        return max(c.num_threads for c in ctl.lib_controllers)

    def set_blas_threads(self, n: int) -> bool:
        ctl = self.controller()
        if ctl is None:
            return False
        for c in ctl.lib_controllers:
            c.set_num_threads(int(n))
        return True

    def planned_threads(self):
        """The threads chainrule's work may use now: the BLAS's count, or the one it gets back after a hold."""
        held = self.held_from
        return held if held is not None else self.blas_threads()

    def set_planned_threads(self, n: int) -> bool:
        """Set the count: on the BLAS now, or (while it is held at one) when the hold ends."""
        with self.hold_lock:
            if self.held_from is not None:
                self.held_from = int(n)
                return True
        return self.set_blas_threads(n)

    # ------------------------------------------------------------------ the policy
    @property
    def active(self) -> bool:
        return self.user_threads is None and not self.env_fixed and self.cores > 1

    def look(self, now: float) -> None:
        """Measure the others' load since the last look and set the BLAS threads from it."""
        busy = _machine_busy_seconds()
        if busy is None:
            self.env_fixed = True         # no /proc/stat: nothing to measure, leave the BLAS alone
            return
        own = _own_cpu_seconds()
        last = self.last
        self.last = (now, busy, own)
        if last is None:
            return
        wall = now - last[0]
        if wall <= 0:
            return
        if wall > STALE and (own - last[2]) / wall < IDLE_SHARE:
            # A long window in which this process mostly waited (a pause between two runs, a
            # notebook cell): what the others did then says little about the cores now, e.g.
            # a program that has just stopped. Keep the count; the next look, one INTERVAL
            # from here, measures a window of its own.
            return
        self.others = max(0.0, ((busy - last[1]) - (own - last[2])) / wall)
        current = self.current or self.cores
        if current >= self.cores and self.others > DROP:
            target = max(1, int(round(self.cores - self.others)))
            target = min(target, self.cores - 1)
        elif current < self.cores and self.others < RESTORE:
            target = self.cores
        elif current < self.cores:
            target = max(1, min(self.cores - 1, int(round(self.cores - self.others))))
        else:
            target = self.current          # nothing to change (None: the BLAS's own count, all cores)
        if target is not None and target != self.current and self.set_planned_threads(target):
            self.current = target
            self.changes += 1


_policy = _Policy()


def _first_look() -> None:
    """Start the first window at import, so that the first layer call after ``INTERVAL`` can act
    (a training run that starts on a busy machine does not spend its first quarter second on
    threads it cannot have)."""
    p = _policy
    if p.active:
        now = time.monotonic()
        p.look(now)
        p.next_look = now + INTERVAL


_first_look()


def _after_fork_in_child():
    """A forked child (a data-loading worker) has one thread: no section of the parent's is open in it."""
    _policy.hold_lock = threading.Lock()
    _policy.holders = 0
    _policy.loops = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def update() -> None:
    """Look at the machine's load if ``INTERVAL`` has passed, and adjust the BLAS threads.

    Called by chainrule at each outermost layer call; cheap (a clock read) between looks.
    A model's step starts there, so a hold of the BLAS at one thread from the last step
    ends there too, unless a ``loop()`` is open (then it lasts to the loop's end).
    """
    p = _policy
    if p.held_from is not None and not p.loops:
        release_hold()
    now = time.monotonic()
    if now < p.next_look:
        return
    p.next_look = now + INTERVAL
    if p.active:
        p.look(now)


def set_num_threads(n: int | None) -> None:
    """Use ``n`` BLAS threads from now on (the policy stops deciding); ``None`` hands the count back to it.

    Like ``torch.set_num_threads``. Needs threadpoolctl (``pip install threadpoolctl``).
    """
    p = _policy
    with p.hold_lock:
        p.held_from = None                # the user's count replaces whatever a hold would give back
    if n is None:
        p.user_threads = None
        p.current = None
        p.last = None
        if not p.env_fixed:
            p.set_blas_threads(p.cores)
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expects a positive int (or None for the automatic policy), got {n!r}")
    if not p.set_blas_threads(n):
        raise RuntimeError("set_num_threads: no BLAS thread pool found (is threadpoolctl installed?)")
    p.user_threads = n


@contextmanager
def hold_single(n: int):
    """Hold the BLAS at one thread while ``n > 1`` threads of chainrule's pool make their own BLAS calls.

    The hold outlasts the section: it ends at ``release_hold`` (the next outermost layer
    call, the end of a backward pass), not when the section closes (see the module's text).
    Sections may overlap (ops called from several user threads).
    """
    if n <= 1:
        yield
        return
    p = _policy
    with p.hold_lock:
        if p.held_from is None:
            before = p.blas_threads()
            if before is not None and before > 1 and p.set_blas_threads(1):
                p.held_from = before
        p.holders += 1
    try:
        yield
    finally:
        with p.hold_lock:
            p.holders -= 1


@contextmanager
def loop():
    """A training or inference loop (``fit``, ``predict``, a custom loop): a hold lasts to its end.

    Inside, neither an outermost layer call nor the end of a backward pass gives the BLAS its
    threads back (``work_done``); leaving the last open loop does. Loops may nest and may run on
    several user threads at once. Usable as a decorator: ``@loop()``.
    """
    p = _policy
    with p.hold_lock:
        p.loops += 1
    try:
        yield
    finally:
        with p.hold_lock:
            p.loops -= 1
            last = p.loops == 0
        if last:
            release_hold()


def work_done() -> None:
    """A backward pass is over: outside a ``loop()``, the BLAS gets its threads back."""
    if not _policy.loops:
        release_hold()


def release_hold() -> None:
    """Give the BLAS back the threads it had before ``hold_single`` (unless a section is still open)."""
    p = _policy
    if p.held_from is None:
        return
    with p.hold_lock:
        if p.held_from is not None and p.holders == 0:
            p.set_blas_threads(p.held_from)
            p.held_from = None


def get_num_threads() -> int:
    """The number of threads chainrule's work uses (the BLAS's, and the pool's; the cores' count when unknown).

    While the BLAS is held at one thread for the pool's blocks (``hold_single``), this is the
    count it gets back.
    """
    n = _policy.planned_threads()
    return _policy.cores if n is None else int(n)


def policy_state() -> dict:
    """What the policy sees and did: for benchmarks and curious users."""
    p = _policy
    if p.user_threads is not None:
        mode = "user"
    elif p.env_fixed:
        mode = "environment"
    elif p.cores <= 1:
        mode = "single core"
    else:
        mode = "auto"
    return {"mode": mode, "cores": p.cores, "blas_threads": get_num_threads(), "others_load": round(p.others, 2),
            "changes": p.changes, "held": p.held_from is not None}
