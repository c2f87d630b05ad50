"""Keras's progress bar, as ``fit(verbose=1)`` prints it (used by ``callbacks.ProgbarLogger``).

    Epoch 1/5
    1875/1875 [==============================] - 2s 1ms/step - loss: 0.2606 - accuracy: 0.9252
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np


def is_interactive(stream=None) -> bool:
    """True when ``stream`` (default: stdout) is a terminal or a notebook: where a line can be
    rewritten in place. ``verbose="auto"`` shows the live bar there and one line per epoch elsewhere."""
    out = stream if stream is not None else sys.stdout
    isatty = getattr(out, "isatty", None)
    try:
        tty = bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):       # a closed or detached stream
        tty = False
    return tty or "ipykernel" in sys.modules


def _format_value(v) -> str:
    if isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, bool):
        v = float(v)
        return f"{v:.4f}" if abs(v) > 1e-3 or v == 0 or not math.isfinite(v) else f"{v:.4e}"
    return str(v)


def _format_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def _per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """Keras's progress bar: ``469/469 [==============================] - 3s 6ms/step - loss: 0.2000``.

    On a terminal the line is rewritten in place (``\\r``) at most every ``interval`` seconds,
    with the estimated time left (``ETA: 12s``) until the last step; elsewhere (a file, a CI
    log) only the final line is written. ``verbose=2`` writes one
    line at the end: ``469/469 - 3s - 6ms/step - loss: 0.2000``.
    """

    def __init__(self, target, width=30, verbose=1, interval=0.05, stream=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stream = stream
        self._dynamic = is_interactive(stream)
        self._start = time.perf_counter()
        self._last = 0.0
        self._prev_len = 0
        self._done = False

    def update(self, current, values=None, finalize=None):
        if self._done:
            return
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.perf_counter()
        if self.verbose == 1 and not finalize and (not self._dynamic or now - self._last < self.interval):
            return
        if self.verbose == 2 and not finalize:
            return
        self._last = now
        target = current if (finalize and self.target is None) else self.target
        elapsed = now - self._start
        per_step = elapsed / current if current else 0.0
        metrics = "".join(f" - {k}: {_format_value(v)}" for k, v in (values or {}).items())
        digits = len(str(target)) if target is not None else 1
        count = f"{current:>{digits}}/{target if target is not None else 'Unknown'}"
        if self.verbose == 2:
            line = f"{count} - {_format_time(elapsed)} - {_per_step(per_step)}{metrics}"
        else:
            bar = ""
            if target:
                filled = int(self.width * min(current / target, 1.0))
                if filled:
                    bar = "=" * (filled - 1) + (">" if current < target else "=")
                bar = "[" + bar + "." * (self.width - filled) + "]"
            if finalize:
                timing = f" - {_format_time(elapsed)} {_per_step(per_step)}"
            elif target:
                timing = f" - ETA: {_format_time(per_step * (target - current))}"
            else:
                timing = f" - {_format_time(elapsed)}"
            line = f"{count} {bar}{timing}{metrics}" if bar else f"{count}{timing}{metrics}"
        out = self.stream or sys.stdout
        if self._dynamic and self.verbose == 1:
            pad = max(self._prev_len - len(line), 0)
            out.write("\r" + line + " " * pad)
            self._prev_len = len(line)
        else:
            out.write(line)
        if finalize:
            out.write("\n")
            self._done = True
        out.flush()
