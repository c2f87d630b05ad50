"""chainrule.parallel: blocks of array work on several threads give the serial results, bit for bit.

The kernels are run twice on the same inputs: serially (``parallel.ENABLED = False``) and
with two threads forced (whatever the machine and the thread policy say), over inputs big
enough for several row blocks (a small ``CHUNK_BYTES``). The BLAS runs on one thread in
both (the threaded run holds it there itself; a product on two BLAS threads may round
differently), so every number must be identical.
"""
import numpy as np
import pytest

from threadpoolctl import threadpool_limits

import chainrule as cr
from chainrule import parallel, threads
from chainrule.ops import conv_geometry as cg
from chainrule.ops import conv_kernels as ck
from chainrule.ops import pool_kernels as pk


@pytest.fixture
def two_threads(monkeypatch):
    """A function running fn() serially and on two forced threads; returns both results."""
    monkeypatch.setattr(cg, "CHUNK_BYTES", 16 << 10)          # several blocks even for small arrays

    def both(fn):
        monkeypatch.setattr(parallel, "ENABLED", False)
        with threadpool_limits(limits=1, user_api="blas"):
            serial = fn()
        monkeypatch.setattr(parallel, "ENABLED", True)
        monkeypatch.setattr(parallel, "num_workers", lambda nbytes=0: 2)
        calls = []
        real_run = parallel.run
        monkeypatch.setattr(parallel, "run", lambda f, parts: calls.append(len(parts)) or real_run(f, parts))
        threaded = fn()
        monkeypatch.undo()
        monkeypatch.setattr(cg, "CHUNK_BYTES", 16 << 10)
        assert calls and max(calls) == 2, "the threaded run never split its work"
        return serial, threaded

    return both


def _same(a, b):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


CONV_CASES = [   # x shape, kernel shape, strides, padding: the kernel paths the CNNs take, and others
    ((6, 28, 28, 1), (3, 3, 1, 32), 1, "valid"),       # few input channels: im2col by kernel offset
    ((6, 13, 13, 32), (3, 3, 32, 16), 1, "valid"),     # im2col GEMM; stride-1 flat input gradient
    ((5, 12, 12, 8), (3, 3, 8, 8), 1, "same"),         # padded
    ((5, 12, 12, 8), (3, 3, 8, 8), 2, "same"),         # strided: col2im input gradient
    ((1, 40, 40, 8), (3, 3, 8, 8), 1, "valid"),        # one sample: row blocks within it
]


@pytest.mark.parametrize("x_shape, w_shape, strides, padding", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_kernels_on_two_threads_equal_serial(two_threads, x_shape, w_shape, strides, padding, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[-1]).astype(dtype)
    y = ck.conv_forward(x, w, strides, padding, bias=b, relu=True)
    gy = rng.standard_normal(y.shape).astype(dtype)

    def run():
        return (ck.conv_forward(x, w, strides, padding, bias=b, relu=True),
                ck.conv_forward(x, w, strides, padding),
                ck.conv_input_grad(gy, w, x.shape, strides, padding),
                ck.conv_weight_grad(x, gy, w.shape, strides, padding),
                ck.relu_grad(gy, y))

    _same(*two_threads(run))


@pytest.mark.parametrize("pool, strides, padding", [(2, None, "valid"), (2, None, "same"), (3, 2, "valid"),
                                                    ((2, 3), (3, 3), "valid")])
def test_max_pool_on_two_threads_equal_serial(two_threads, pool, strides, padding):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 11, 13, 5)).astype(np.float32)
    x[0, :4, :4] = 1.0                                    # ties: the first maximum wins on both paths
    y, argmax = pk.max_pool_forward(x, pool, strides, padding)
    gy = rng.standard_normal(y.shape).astype(np.float32)

    def run():
        return (*pk.max_pool_forward(x, pool, strides, padding), pk.max_pool_values(x, pool, strides, padding),
                pk.max_pool_backward(gy, argmax, x.shape, pool, strides, padding))

    _same(*two_threads(run))


def test_max_pool_in_pieces_equals_whole_array_passes(monkeypatch):
    """Max pooling over pieces of samples (kept in cache across the window offsets) gives the
    numbers of whole-array passes, on one thread and on two."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((9, 12, 10, 4)).astype(np.float32)
    y, argmax = pk.max_pool_forward(x, 2)
    gy = rng.standard_normal(y.shape).astype(np.float32)

    def run():
        return (*pk.max_pool_forward(x, 2), pk.max_pool_values(x, 2), pk.max_pool_backward(gy, argmax, x.shape, 2))

    monkeypatch.setattr(pk, "CHUNK_BYTES", 1 << 40)
    whole = run()
    pieces = []
    real = parallel.over_samples
    monkeypatch.setattr(parallel, "over_samples",
                        lambda fn, n, nbytes, chunk_bytes=None: real(lambda a, b: pieces.append(b - a) or fn(a, b),
                                                                     n, nbytes, chunk_bytes))
    monkeypatch.setattr(pk, "CHUNK_BYTES", 512)                 # a piece of one or two samples
    _same(whole, run())
    assert pieces and max(pieces) <= 2
    monkeypatch.setattr(parallel, "num_workers", lambda nbytes=0: 2)
    _same(whole, run())


def test_max_pool_backward_zeroes_what_no_window_covers():
    """Windows that tile the input leave the positions past the last window to be zeroed alone."""
    x = np.random.default_rng(2).standard_normal((2, 11, 10, 3)).astype(np.float32)
    y, argmax = pk.max_pool_forward(x, 2)
    gx = pk.max_pool_backward(np.ones_like(y), argmax, x.shape, 2)
    assert np.all(gx[:, 10:] == 0)                        # the 11th row is in no window
    assert gx.sum() == y.size and np.all(gx[:, :10].reshape(2, 5, 2, 5, 2, 3).sum(axis=(2, 4)) == 1)


def test_relu_grad_is_the_product_with_the_mask():
    rng = np.random.default_rng(3)
    y = np.maximum(rng.standard_normal((4, 5, 6)), 0).astype(np.float32)
    y[0, 0, 0] = np.nan
    g = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(ck.relu_grad(g, y), g * (y > 0).astype(np.float32))


def test_run_returns_in_order_and_raises_after_all_parts_finish():
    assert parallel.run(lambda p: p * 10, [1, 2, 3]) == [10, 20, 30]
    done = []

    def part(p):
        if p == 0:
            raise ValueError("part 0 failed")
        done.append(p)

    with pytest.raises(ValueError, match="part 0 failed"):
        parallel.run(part, [0, 1, 2])
    assert sorted(done) == [1, 2]


def test_split_covers_every_item_once():
    for n_items in (1, 2, 7, 128):
        for n in (1, 2, 3, 16):
            ranges = parallel.split(n_items, n)
            assert ranges[0][0] == 0 and ranges[-1][1] == n_items and len(ranges) <= min(n, n_items)
            assert all(a < b and b == c for (a, b), (c, _) in zip(ranges, ranges[1:] + [(n_items, None)]))


def test_one_thread_when_the_policy_gives_the_blas_one(monkeypatch):
    """The pool follows chainrule.threads: one BLAS thread (busy machine, user's choice) -> serial."""
    monkeypatch.setattr(threads._policy, "held_from", None)
    monkeypatch.setattr(threads._policy, "blas_threads", lambda: 1)
    assert parallel.num_workers(1 << 30) == 1
    monkeypatch.setattr(threads._policy, "blas_threads", lambda: 2)
    monkeypatch.setattr(threads._policy, "cores", 2)
    if threads._policy.controller() is not None:
        assert parallel.num_workers(1 << 30) == 2
        assert parallel.num_workers(parallel.MIN_BYTES - 1) == 1      # small work stays on the caller
    monkeypatch.setattr(parallel, "ENABLED", False)
    assert parallel.num_workers(1 << 30) == 1


def test_single_blas_holds_the_blas_until_the_step_ends(monkeypatch):
    """The BLAS is lowered to one thread by the first section and given back by release_hold, once."""
    p = threads._policy
    count = [2]
    seen = []

    def set_threads(n):
        seen.append(n)
        count[0] = n
        return True

    monkeypatch.setattr(p, "blas_threads", lambda: count[0])
    monkeypatch.setattr(p, "set_blas_threads", set_threads)
    monkeypatch.setattr(p, "held_from", None)
    with pytest.raises(RuntimeError):
        with parallel.single_blas(2):
            raise RuntimeError("inside")
    assert seen == [1] and p.held_from == 2
    assert threads.get_num_threads() == 2 and parallel.num_workers(1 << 30) in (1, 2)
    with parallel.single_blas(2):            # already held: nothing to lower
        with parallel.single_blas(2):
            threads.release_hold()           # a section is open: the hold stays
        assert seen == [1]
    threads.release_hold()
    assert seen == [1, 2] and p.held_from is None
    threads.release_hold()                   # nothing held: nothing to do
    assert seen == [1, 2]


def _counting_blas(monkeypatch):
    p = threads._policy
    count = [2]
    monkeypatch.setattr(p, "blas_threads", lambda: count[0])
    monkeypatch.setattr(p, "set_blas_threads", lambda n: count.__setitem__(0, n) or True)
    monkeypatch.setattr(p, "held_from", None)
    return count


def test_policy_changes_during_a_hold_wait_for_its_end(monkeypatch):
    p = threads._policy
    count = _counting_blas(monkeypatch)
    with parallel.single_blas(2):
        pass
    assert count[0] == 1
    assert p.set_planned_threads(3) and count[0] == 1 and p.held_from == 3
    threads.release_hold()
    assert count[0] == 3


def test_a_layer_call_and_a_backward_pass_end_the_hold(monkeypatch):
    count = _counting_blas(monkeypatch)
    layer = cr.layers.Dense(3)
    x = cr.tensor(np.ones((2, 4), np.float32))
    with parallel.single_blas(2):
        pass
    assert count[0] == 1
    out = layer(x)
    assert count[0] == 2
    with parallel.single_blas(2):
        pass
    assert count[0] == 1
    cr.grad(out.sum(), layer.trainable_weights)
    assert count[0] == 2


def test_inside_a_loop_the_hold_lasts_to_the_loop_end(monkeypatch):
    """Outermost layer calls and backward passes inside loop() keep the hold; leaving the last loop ends it."""
    count = _counting_blas(monkeypatch)
    layer = cr.layers.Dense(3)
    x = cr.tensor(np.ones((2, 4), np.float32))
    with threads.loop():
        with parallel.single_blas(2):
            pass
        assert count[0] == 1
        with threads.loop():                 # nested: the outer one still holds
            out = layer(x)
            cr.grad(out.sum(), layer.trainable_weights)
            layer(x).sum().backward()
        assert count[0] == 1 and threads._policy.held_from == 2
    assert count[0] == 2 and threads._policy.held_from is None and threads._policy.loops == 0
    with pytest.raises(RuntimeError):        # an error inside still ends the loop and the hold
        with threads.loop():
            with parallel.single_blas(2):
                raise RuntimeError("inside")
    assert count[0] == 2 and threads._policy.loops == 0


def test_fit_holds_through_a_custom_step_with_several_calls(monkeypatch):
    """A GAN-like train_step (two outermost calls, two gradient computations) keeps the hold of its
    first convolution to the end of fit, and fit gives the threads back when it returns."""
    count = _counting_blas(monkeypatch)
    seen = []

    class TwoCalls(cr.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = cr.layers.Dense(4), cr.layers.Dense(1)

        def call(self, x):
            return self.b(self.a(x))

        def train_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            with parallel.single_blas(2):    # as a convolution's blocks do
                pass
            h = self.a(x)
            cr.grad(h.sum(), self.a.trainable_weights)
            out = self.b(h.detach())
            cr.grad(out.sum(), self.b.trainable_weights)
            seen.append(count[0])
            return {"loss": float(out.data.mean())}

    model = TwoCalls()
    model.compile(optimizer="sgd")
    model.fit(np.ones((8, 3), np.float32), epochs=2, batch_size=4, verbose=0)
    assert seen == [1, 1, 1, 1]
    assert count[0] == 2 and threads._policy.held_from is None and threads._policy.loops == 0
    model.predict(np.ones((4, 3), np.float32), verbose=0)
    assert count[0] == 2 and threads._policy.loops == 0


def test_work_started_inside_a_parallel_part_runs_serially(monkeypatch):
    """A part that starts parallel work of its own runs it on its thread (the pool is not waited on from inside)."""
    monkeypatch.setattr(threads._policy, "planned_threads", lambda: 2)
    monkeypatch.setattr(threads._policy, "cores", 2)
    monkeypatch.setattr(threads._policy, "controller", lambda: object())
    assert parallel.num_workers(1 << 30) == 2
    seen = []
    parallel.run(lambda i: seen.append(parallel.num_workers(1 << 30)), [0, 1])
    assert seen == [1, 1]


def test_training_step_on_two_threads_equals_serial(two_threads):
    """A conv-pool-dense model's gradients: the same arrays whether the pool splits the work or not."""
    rng = np.random.default_rng(4)
    x = rng.random((6, 14, 14, 1)).astype(np.float32)
    y = rng.integers(0, 10, 6)

    def grads():
        cr.manual_seed(0)
        model = cr.Sequential([cr.layers.Input(shape=(14, 14, 1)), cr.layers.Conv2D(8, 3, activation="relu"),
                               cr.layers.MaxPooling2D(2), cr.layers.Conv2D(8, 3, activation="relu"),
                               cr.layers.Flatten(), cr.layers.Dense(10, activation="softmax")])
        loss = cr.losses.get("sparse_categorical_crossentropy")(cr.tensor(y), model(cr.tensor(x), training=True))
        return tuple(g.data for g in cr.grad(loss, model.trainable_weights))

    _same(*two_threads(grads))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_pool_of_its_own():
    """The parent's pool threads do not exist in a forked child: its first split must not hang."""
    import os

    parallel.run(lambda p: p, [0, 1])                 # the parent's pool exists now
    pid = os.fork()
    if pid == 0:                                      # the child: exit 0 only if the split ran
        ok = False
        try:
            ok = parallel.run(lambda p: p + 1, [0, 1]) == [1, 2]
        finally:
            os._exit(0 if ok else 1)
    for _ in range(200):                              # wait up to 10 s
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        __import__("time").sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's parallel.run hung")


@pytest.mark.parametrize("n, per_block", [(64, 20), (128, 20), (7, 2), (5, 1), (64, 64), (3, 100)])
def test_conv_blocks_of_whole_samples_are_even_and_a_multiple_of_four(monkeypatch, n, per_block):
    """64 samples at most 20 a block: 16 x 4, not 20, 20, 20, 4 (one of two threads idle 40% of the time)."""
    geo = cg._Geometry("conv", (n, 6, 6, 2), (3, 3, 2, 4), 1, "valid", 1, 1)
    row_bytes = 8
    per_sample = 4 * 4 * row_bytes                                   # out_spatial (4, 4)
    monkeypatch.setattr(cg, "CHUNK_BYTES", per_block * per_sample)
    blocks = list(geo.blocks(row_bytes))
    sizes = [b[0].stop - b[0].start for b in blocks]
    assert all(osl == slice(None) for _, osl in blocks)
    assert sum(sizes) == n and blocks[0][0].start == 0
    assert all(a[0].stop == b[0].start for a, b in zip(blocks, blocks[1:]))   # contiguous, in order
    assert max(sizes) <= per_block and max(sizes) - min(sizes) <= 1
    if len(blocks) > 1:
        assert len(blocks) % cg.BLOCK_MULTIPLE == 0 or len(blocks) == n
