"""Independent blocks of array work on the cores the thread policy gives: a small thread pool.

NumPy's BLAS runs matrix products on several threads, but everything else NumPy does
(copies, ufuncs such as ``maximum`` and ``multiply``) runs on one. In a convolutional
network that other work -- the im2col copies, the bias and relu epilogue, pooling and its
arg-max, gradient masks -- is about half of a training step on one core
(``benchmarks/README.md``), so with two cores the second one sits idle for that half.
NumPy releases the GIL inside its ufuncs, copies and BLAS calls, so plain Python threads
that each take a disjoint part of the arrays (a range of samples, a list of row blocks)
run truly in parallel.

The count follows ``chainrule.threads``: as many threads as the BLAS is given now, so
one when the policy saw a busy machine, when the user called ``cr.set_num_threads(1)``
or set ``OPENBLAS_NUM_THREADS=1``, or when threadpoolctl is missing (the BLAS threads
then cannot be lowered while the pool runs). Work below ``MIN_BYTES`` is never split:
waking a thread costs tens of microseconds.

Each block is computed exactly as in a serial loop and written to its own part of the
output; sums over blocks (weight gradients) are formed per block and added in block order
by the caller, and the blocks themselves never depend on the thread count. While blocks run
in parallel each makes its own BLAS calls, so ``single_blas`` holds the BLAS at one thread
meanwhile. So the results are, bit for bit, those of the serial code with one BLAS thread
(``tests/test_parallel.py``). They may differ in the last bits from the serial code with two
BLAS threads, as they always could: OpenBLAS rounds some products differently on one thread
and on two (measured: up to ~1e-6 relative for the GEMMs of a convolution).
"""
from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import threads

#: Arrays (or block lists) smaller than this many bytes run on the calling thread alone.
MIN_BYTES = 1 << 20
#: False: run everything serially (for tests and side-by-side timings).
ENABLED = True

_pool = None
_pool_lock = threading.Lock()
_pool_size = 0


def num_workers(nbytes: int = MIN_BYTES) -> int:
    """How many threads (the caller's included) a piece of work touching ``nbytes`` should use."""
    if not ENABLED or nbytes < MIN_BYTES or getattr(_inside, "part", False):
        return 1                        # small work, or already one part of a parallel section
    p = threads._policy
    if p.controller() is None:          # cannot lower the BLAS threads while the pool runs: stay serial
        return 1
    n = p.planned_threads() or 1
    return max(1, min(int(n), p.cores))


def _executor(n_helpers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n_helpers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=n_helpers, thread_name_prefix="chainrule")
            _pool_size = n_helpers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


_inside = threading.local()    # .part is True on a thread running one part of a run()


def _after_fork_in_child():
    """A forked child (a data-loading worker) has none of the parent's pool threads: start afresh."""
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def single_blas(n: int):
    """Hold the BLAS at one thread while ``n > 1`` pool threads make their own BLAS calls.

    The hold lasts until the model's step ends (``threads.hold_single``): the dense
    layers between two convolutions run their products on one thread too.
    """
    return threads.hold_single(n)


def split(n_items: int, n: int) -> list:
    """``n`` contiguous ``(start, stop)`` ranges covering ``range(n_items)`` as evenly as possible."""
    n = max(1, min(n, n_items))
    edges = [round(i * n_items / n) for i in range(n + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def run(fn, parts: list) -> list:
    """``[fn(part) for part in parts]``, the first part on the calling thread, the rest on the pool.

    Exceptions are re-raised in the caller (the first one, after every part has finished).
    """
    if len(parts) <= 1:
        return [fn(p) for p in parts]
    fn = _as_part(fn)
    pool = _executor(len(parts) - 1)
    futures = [pool.submit(fn, p) for p in parts[1:]]
    results, error = [None] * len(parts), None
    try:
        results[0] = fn(parts[0])
    except BaseException as e:            # wait for the others before raising: they use shared arrays
        error = e
    for i, f in enumerate(futures, 1):
        try:
            results[i] = f.result()
        except BaseException as e:
            error = error or e
    if error is not None:
        raise error
    return results


def _as_part(fn):
    """``fn`` marked as one part of a parallel section: work it starts runs serially on its thread."""
    def part(arg):
        was = getattr(_inside, "part", False)
        _inside.part = True
        try:
            return fn(arg)
        finally:
            _inside.part = was
    return part


def over_samples(fn, n_samples: int, nbytes: int, chunk_bytes: int | None = None) -> None:
    """``fn(start, stop)`` over contiguous ranges of the first axis (samples), one per thread.

    For elementwise work whose output for samples ``start:stop`` depends only on the same
    samples of its inputs (pooling, masks): bit-identical to ``fn(0, n_samples)``.
    ``chunk_bytes``: when ``nbytes`` is over four times that, each thread's range is further
    cut into pieces of about that many of ``nbytes``, for work that makes several passes over
    the same data (max pooling): a piece stays in cache from one pass to the next, where the
    whole array would not (smaller arrays run whole: a piece costs a few Python calls).
    """
    n = num_workers(nbytes)
    if chunk_bytes and nbytes > 4 * chunk_bytes and n_samples > 1:
        per = max(1, n_samples * chunk_bytes // nbytes)
        inner = fn

        def fn(a, b):
            for c in range(a, b, per):
                inner(c, min(b, c + per))
    if n <= 1 or n_samples < 2:
        fn(0, n_samples)
        return
    run(lambda r: fn(*r), split(n_samples, n))


def run_blocks(fn, blocks: list, n: int) -> None:
    """``fn(state, i, block)`` for each ``block = blocks[i]``, on ``n`` threads (the caller's included).

    Each thread takes the next block as it finishes one (blocks differ in size: the last is
    often short), and keeps its own ``state`` dict for its buffers. ``fn`` must write only to
    its own block's part of the outputs. While more than one thread runs, the BLAS is held
    at one thread (``single_blas``): each block's matrix product runs on the thread that
    asked for it.
    """
    n = max(1, min(n, len(blocks)))
    if n == 1:
        state = {}
        for i, block in enumerate(blocks):
            fn(state, i, block)
        return
    counter = itertools.count()       # next() on it is atomic under the GIL

    def worker(_):
        state = {}
        while True:
            i = next(counter)
            if i >= len(blocks):
                return
            fn(state, i, blocks[i])

    with single_blas(n):
        run(worker, list(range(n)))
