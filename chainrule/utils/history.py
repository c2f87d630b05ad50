"""Training curves: ``plot_history(history, to_file="history.png")`` with matplotlib (the ``plot`` extra)."""
from __future__ import annotations

import os


def _matplotlib_pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plot_history needs matplotlib: pip install 'chainrule[plot]' (or pip install "
                          "matplotlib)") from None
    matplotlib.use("Agg", force=False)  # files only, no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_history(history, to_file=None, keys=None, title: str | None = None, dpi: int = 100, figsize=(6.4, 4.0),
                 xlabel: str = "epoch"):
    """Draw the curves of a ``History`` (or its ``.history`` dict of lists) against the epoch.

    One panel per metric name; ``val_<name>`` is drawn in the panel of ``<name>``. ``keys`` picks the
    names (default: all but the ``val_`` ones); ``xlabel`` names the x axis (any dict of lists can be drawn,
    e.g. losses logged every few batches). Writes ``to_file`` (PNG by its extension) when given and
    returns the matplotlib Figure.
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(f"plot_history: expected a History or a non-empty dict of lists, got {type(logs).__name__}")
    names = list(keys) if keys is not None else [k for k in logs if not k.startswith("val_")] or list(logs)
    missing = [k for k in names if k not in logs]
    if missing:
        raise ValueError(f"plot_history: no metric {missing} in the history; it has {sorted(logs)}")
    plt = _matplotlib_pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(figsize[0] * max(1, len(names)) / 1.6, figsize[1]),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(logs[name]) + 1)
        marker = "o" if len(logs[name]) <= 50 else None
        ax.plot(epochs, logs[name], marker=marker, markersize=3, label=name)
        if "val_" + name in logs:
            ax.plot(range(1, len(logs["val_" + name]) + 1), logs["val_" + name], marker=marker, markersize=3,
                    label="val_" + name)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if to_file is not None:
        fig.savefig(os.fspath(to_file), dpi=dpi)
        plt.close(fig)
    return fig


__all__ = ["plot_history"]
