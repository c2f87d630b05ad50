"""The data-parallel plan that ``fit``, ``evaluate`` and ``predict`` follow on several processes.

``Model.fit`` consults it at a few points when the model was compiled with a
``DistributedOptimizer`` and more than one process runs:

- the training batches: every epoch, every rank draws the same permutation of the samples
  (from a generator that copies rank 0's random state when ``fit`` starts), cuts it into
  global batches of ``size() * batch_size`` samples, exactly as one process with that batch
  size would, and takes its own contiguous part of each global batch (parts differ by at
  most one sample when a batch does not divide evenly). A last global batch with fewer
  samples than ranks is left out. The first batch triggers the start-up: build the model
  if needed, check that every rank built the same structure, broadcast rank 0's weights
  and optimizer state;
- the random streams: each rank's own stream (dropout masks, noise layers) is reseeded to
  ``cr.manual_seed(s + rank)``, ``s`` drawn from rank 0's stream, so masks differ between
  ranks and a run is reproducible from rank 0's seed;
- the logs: after each step, the loss and metrics are averaged over the ranks (weighted by
  the samples each rank has seen this epoch), so every rank logs and every callback sees
  the global figures; only rank 0 shows progress and runs the callbacks that write files
  (ModelCheckpoint, CSVLogger, ...);
- evaluation and prediction: each rank takes a contiguous block of the samples; the logs are
  averaged (weighted by samples) and ``predict`` gathers the blocks in order, so every rank
  returns all the predictions.

DataLoaders and iterables of batches are shared batch by batch: rank ``r`` takes batches
``r, r + N, ...`` of a source that every rank iterates identically (its shuffling draws from
the shared generator); a last group of fewer than N batches is left out.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import backend
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..models.data_adapter import ArrayBatches, IterBatches
from . import comm


class ModelMismatchError(comm.CollectiveError, ValueError):
    """The ranks built models of different structure."""


def _split(m: int, parts: int, index: int) -> tuple[int, int]:
    """The ``index``-th of ``parts`` contiguous near-equal pieces of ``range(m)``."""
    base, extra = divmod(m, parts)
    lo = index * base + min(index, extra)
    return lo, lo + base + (1 if index < extra else 0)


def _batch_len(x) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


class _ShardedArrays:
    """Training batches of in-memory arrays: this rank's part of each global batch."""

    def __init__(self, plan, inner: ArrayBatches, model, rng, steps_per_epoch):
        self.plan, self.inner, self.model, self.rng = plan, inner, model, rng
        n, N = inner.n, plan.size
        if n < N:
            raise comm.CollectiveError(f"fit: {n} samples cannot be shared among {N} processes")
        self.global_batch = inner.batch_size * N
        full, rest = divmod(n, self.global_batch)
        self.steps = steps_per_epoch if steps_per_epoch is not None else full + (1 if rest >= N else 0)
        self._pos, self._perm = n, None
        self.seen = 0

    def _new_pass(self):
        self._pos = 0
        self._perm = self.rng.permutation(self.inner.n) if self.inner.shuffle else None

    def epoch(self):
        try:
            yield from self._epoch()
        finally:
            comm.gradient_share = None  # custom loops after fit: equal shares again

    def _epoch(self):
        inner, N, r = self.inner, self.plan.size, self.plan.rank
        k, m = len(inner.xs), len(inner.ys)
        self.seen = 0
        for _ in range(self.steps):
            if inner.n - self._pos < N:
                self._new_pass()
            i = self._pos
            j = min(i + self.global_batch, inner.n)
            self._pos = j
            lo, hi = _split(j - i, N, r)
            idx = self._perm[i + lo:i + hi] if self._perm is not None else slice(i + lo, i + hi)
            parts = [None if a is None else a[idx] for a in inner._all()]
            xb = parts[:k] if inner.multi else parts[0]
            self.plan.begin_step(self.model, xb, (hi - lo) / (j - i))
            self.seen += hi - lo
            yield xb, (parts[k:k + m] if inner.y_multi else parts[k]), parts[k + m]


class _ShardedIterable:
    """Batches of an iterable: rank r takes batches r, r + N, r + 2N, ... of each group of N."""

    def __init__(self, plan, inner: IterBatches, model, rng, steps_per_epoch=None):
        self.plan, self.inner, self.model, self.rng = plan, inner, model, rng
        N = plan.size
        if steps_per_epoch is not None:
            inner.steps = steps_per_epoch * N
            self.steps = steps_per_epoch
        else:
            self.steps = inner.steps // N if inner.steps is not None else None
        self.seen = 0

    def epoch(self):
        try:
            yield from self._epoch()
        finally:
            comm.gradient_share = None

    def _epoch(self):
        N, r = self.plan.size, self.plan.rank
        self.seen = 0
        source = self.inner.epoch()
        group = []
        while True:
            with self.plan.shared_stream(self.rng):  # a DataLoader's shuffle: the same on every rank
                batch = next(source, None)
            if batch is None:
                return
            group.append(batch)
            if len(group) < N:
                continue
            sizes = [_batch_len(b[0]) for b in group]
            mine = group[r]
            group = []
            if self.model is not None:
                self.plan.begin_step(self.model, mine[0], sizes[r] / sum(sizes))
            self.seen += sizes[r]
            yield mine


class _Counted:
    """Evaluation batches, counting the samples this rank evaluated; ``replicated``: every rank
    has all the data (too few samples to share, or a fixed number of steps)."""

    def __init__(self, inner, replicated=False):
        self.inner, self.replicated = inner, replicated
        self.steps = inner.steps
        self.seen = 0

    def epoch(self):
        self.seen = 0
        for batch in self.inner.epoch():
            self.seen += _batch_len(batch[0])
            yield batch


def _root_only_callbacks():
    from .. import callbacks as cbks

    classes = [cbks.ProgbarLogger, cbks.ModelCheckpoint, cbks.CSVLogger]
    for name in ("TensorBoard", "BackupAndRestore"):
        if hasattr(cbks, name):
            classes.append(getattr(cbks, name))
    return tuple(classes)


def _weight_signature(model) -> list:
    out = []
    for w in model.weights:
        name = getattr(w, "name", None) or ""
        out.append((name.rsplit("/", 1)[-1], tuple(w.shape), str(w.dtype)))
    return out


class DataParallel:
    """The plan of one DistributedOptimizer: sharding, start-up broadcast, log averaging."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.rank, self.size = comm.rank(), comm.size()
        self._synced_model = None

    # ------------------------------------------------------------------ fit
    def fit_options(self, verbose, callbacks):
        """Rank 0 keeps everything; the others show no progress and write no files."""
        if self.rank == 0:
            return verbose, callbacks
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        root_only = _root_only_callbacks()
        return 0, [c for c in (callbacks or []) if not isinstance(c, root_only)]

    def shard_train(self, batches, model, steps_per_epoch=None):
        rng = self._seed_streams()
        self._synced_model = None  # broadcast again at the first step of every fit
        if isinstance(batches, ArrayBatches):
            return _ShardedArrays(self, batches, model, rng, steps_per_epoch)
        return _ShardedIterable(self, batches, model, rng, steps_per_epoch)

    def _seed_streams(self):
        """The shared shuffling generator (rank 0's state) and each rank's own reseeded stream."""
        if self.rank == 0:
            state = backend.rng().bit_generator.state
            seed = int(backend.rng().integers(2 ** 62))
        else:
            state = seed = None
        state, seed = comm.broadcast_object((state, seed))
        shared = np.random.default_rng()
        shared.bit_generator.state = state
        backend.manual_seed(seed + self.rank)
        return shared

    @contextlib.contextmanager
    def shared_stream(self, rng):
        saved = backend._rng
        backend._rng = rng
        try:
            yield
        finally:
            backend._rng = saved

    def begin_step(self, model, xb, share: float) -> None:
        """Before a training step: this rank's share of the global batch; the start-up at the first."""
        comm.gradient_share = share
        if self._synced_model is not model:
            self.start(model, xb)

    def start(self, model, xb=None) -> None:
        """Build the model if needed, check that all ranks agree on its structure, then broadcast
        rank 0's weights and optimizer state to every rank."""
        if not model.built and xb is not None:
            with no_grad():
                model([Tensor._wrap(v) for v in xb] if isinstance(xb, list) else Tensor._wrap(xb), training=False)
        check_same_structure(model)
        broadcast_variables(model.weights)
        broadcast_optimizer_state(self.optimizer)
        self._synced_model = model

    def average_logs(self, logs: dict, batches) -> dict:
        """The logs of all ranks, averaged with weights = samples seen this epoch (one small all-reduce)."""
        seen = getattr(batches, "seen", None)
        if seen is None or not logs:
            return logs
        keys = list(logs)
        vec = np.array([seen] + [seen * float(logs[k]) for k in keys], dtype=np.float64)
        comm.allreduce_(vec, "sum")
        return {k: float(v / vec[0]) for k, v in zip(keys, vec[1:])} if vec[0] else logs

    def agree_to_stop(self, stop: bool) -> bool:
        """Stop when any rank's callbacks asked to (checked once per epoch)."""
        flag = np.array([1.0 if stop else 0.0])
        return bool(comm.allreduce_(flag, "max")[0])

    # ------------------------------------------------------------------ evaluate / predict
    def shard_eval(self, batches):
        N, r = self.size, self.rank
        if isinstance(batches, ArrayBatches):
            n = batches.n
            fixed_steps = batches.steps != math.ceil(n / batches.batch_size)
            if n < N or fixed_steps:
                return _Counted(batches, replicated=True)
            lo, hi = _split(n, N, r)
            ys = [None if a is None else a[lo:hi] for a in batches.ys]
            sw = None if batches.sw is None else batches.sw[lo:hi]
            part = ArrayBatches([a[lo:hi] for a in batches.xs], batches.multi, ys if batches.y_multi else ys[0], sw,
                                batches.batch_size, False, y_multi=batches.y_multi)
            return _Counted(part)
        return _Counted(_ShardedIterable(self, batches, None, np.random.default_rng(0)))

    def average_eval_logs(self, logs: dict, batches) -> dict:
        if not isinstance(batches, _Counted) or batches.replicated:
            return logs
        entries = [(c, lg) for c, lg in comm.allgather_object((batches.seen, dict(logs))) if c and lg]
        if not entries:
            return logs
        total = sum(c for c, _ in entries)
        return {k: sum(c * lg[k] for c, lg in entries) / total for k in entries[0][1]}

    def gather(self, result, batches):
        """Every rank's block of predictions, concatenated in rank order (the samples' order)."""
        if not isinstance(batches, _Counted) or batches.replicated:
            return result
        blocks = [b for b in comm.allgather_object(result) if b is not None]
        if isinstance(blocks[0], list):
            return [np.concatenate([b[i] for b in blocks]) for i in range(len(blocks[0]))]
        return np.concatenate(blocks)


# ---------------------------------------------------------------------------------------- start-up
def check_same_structure(model) -> None:
    """Raise ModelMismatchError on every rank when any rank's model differs from rank 0's."""
    mine = (type(model).__name__, _weight_signature(model))
    everyone = comm.allgather_object(mine)
    ref_cls, ref = everyone[0]
    for r, (cls, sig) in enumerate(everyone[1:], start=1):
        problem = None
        if cls != ref_cls:
            problem = f"rank 0 built a {ref_cls}, rank {r} a {cls}"
        elif len(sig) != len(ref):
            problem = f"rank 0's model has {len(ref)} weights, rank {r}'s has {len(sig)}"
        else:
            for i, (a, b) in enumerate(zip(ref, sig)):
                if a != b:
                    problem = (f"weight {i} is {a[0]!r} of shape {a[1]} ({a[2]}) on rank 0 but {b[0]!r} of shape "
                               f"{b[1]} ({b[2]}) on rank {r}")
                    break
        if problem:
            raise ModelMismatchError(
                f"chainrule.distributed: the model differs between ranks: {problem}. Every process must build "
                "the same model (same layers, sizes and input shape) before training.")


def broadcast_variables(variables, root: int = 0) -> None:
    """Overwrite each variable (Tensor or ndarray) on every rank with rank ``root``'s values."""
    for v in variables:
        arr = v.data if isinstance(v, Tensor) else v
        if arr.flags.c_contiguous:
            comm.broadcast_(arr, root)
        else:
            tmp = np.ascontiguousarray(arr)
            comm.broadcast_(tmp, root)
            arr[...] = tmp


def broadcast_optimizer_state(optimizer, root: int = 0) -> None:
    """Give every rank rank ``root``'s optimizer state (iterations, learning rate, slots)."""
    if not comm.active():
        return
    state = comm.broadcast_object(optimizer.get_state() if comm.rank() == root else None, root)
    if comm.rank() != root:
        optimizer.set_state(state)
