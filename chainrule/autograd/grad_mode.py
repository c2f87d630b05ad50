"""Whether ops record the graph: ``no_grad`` and ``enable_grad``."""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """True while ops record the graph for backward."""
    return _state.enabled


class _GradMode:
    _mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record no graph.

    Used for inference and for the optimizer's in-place updates.
    """

    _mode = False


class enable_grad(_GradMode):
    """Context manager and decorator: record the graph even inside ``no_grad``."""

    _mode = True
