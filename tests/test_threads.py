"""The thread policy: who decides the BLAS threads, and how it reads the machine's load."""
import pytest

import chainrule as cr
from chainrule import threads

pytest.importorskip("threadpoolctl")


@pytest.fixture
def policy(monkeypatch):
    """A fresh policy on a pretend 2-core machine, whose load readings the test feeds."""
    p = threads._Policy()
    p.env_fixed = False
    p.cores = 2
    readings = {"busy": 0.0, "own": 0.0}
    monkeypatch.setattr(threads, "_machine_busy_seconds", lambda: readings["busy"])
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: readings["own"])
    counts = []
    monkeypatch.setattr(p, "set_blas_threads", lambda n: counts.append(n) or True)
    monkeypatch.setattr(threads, "_policy", p)
    return p, readings, counts


def _advance(p, readings, now, others, own=1.0, wall=1.0):
    readings["busy"] += (others + own) * wall
    readings["own"] += own * wall
    p.look(now)


def test_policy_leaves_a_core_to_a_busy_neighbour_and_takes_it_back(policy):
    p, readings, counts = policy
    p.look(0.0)                                     # the first look only records
    _advance(p, readings, 1.0, others=0.05)
    assert counts == [] and p.current is None       # idle: the BLAS keeps its threads
    _advance(p, readings, 2.0, others=1.0)
    assert counts == [1] and p.current == 1         # a neighbour holds a core: one thread
    _advance(p, readings, 3.0, others=0.45)
    assert counts == [1]                            # hysteresis: not yet below RESTORE
    _advance(p, readings, 4.0, others=0.1)
    assert counts == [1, 2] and p.current == 2      # the neighbour left: both cores again


def test_own_threads_do_not_count_as_load(policy):
    p, readings, counts = policy
    p.look(0.0)
    _advance(p, readings, 1.0, others=0.0, own=2.0)  # our own two busy threads
    assert counts == [] and p.others == pytest.approx(0.0)


def test_a_long_window_we_mostly_waited_in_changes_nothing(policy):
    p, readings, counts = policy
    p.look(0.0)
    _advance(p, readings, 1.0, others=1.5, own=0.1)     # a neighbour ran while we waited
    assert counts == [] and p.current is None           # not acted on: it may have stopped
    _advance(p, readings, 1.25, others=1.0, own=1.0, wall=0.25)
    assert counts == [1] and p.current == 1             # a window we worked in: acted on
    _advance(p, readings, 2.25, others=0.0, own=0.1)    # waited again: still no change
    assert counts == [1]


def test_update_looks_at_most_every_interval(policy, monkeypatch):
    p, readings, counts = policy
    looks = []
    monkeypatch.setattr(p, "look", lambda now: looks.append(now))
    clock = iter([10.0, 10.1, 10.2, 10.3])
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    for _ in range(4):
        threads.update()
    assert looks == [10.0, 10.3]


def test_the_user_wins(policy):
    p, readings, counts = policy
    p.user_threads = 1
    assert not p.active
    p.user_threads = None
    p.env_fixed = True
    assert not p.active


def test_set_num_threads_public_api():
    before = cr.get_num_threads()
    try:
        cr.set_num_threads(1)
        assert cr.get_num_threads() == 1
        assert threads.policy_state()["mode"] == "user"
    finally:
        cr.set_num_threads(None)
    assert threads.policy_state()["mode"] in ("auto", "environment", "single core")
    assert cr.get_num_threads() >= 1 and before >= 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads"):
            cr.set_num_threads(bad)
