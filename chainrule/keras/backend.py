"""``keras.backend``: the few backend helpers that Keras model code calls.

``floatx``/``set_floatx`` are chainrule's float policy; ``epsilon`` is Keras's fuzz factor
(1e-7, the epsilon of Adam, RMSprop and the clipped cross-entropies); ``clear_session`` resets
the automatic layer names (``dense``, ``dense_1``, ...) as Keras's does; chainrule's images
are channels-last unless a layer says otherwise.
"""
from __future__ import annotations

from ..backend import floatx, set_floatx

_EPSILON = 1e-7


def epsilon() -> float:
    """Keras's fuzz factor, 1e-7."""
    return _EPSILON


def image_data_format() -> str:
    """``"channels_last"``: conv and pooling layers take (batch, ..., channels) unless told otherwise."""
    return "channels_last"


def clear_session() -> None:
    """Start layer names afresh (the next Dense is ``dense`` again), as Keras's ``clear_session`` does."""
    from ..layers import base

    base._name_counts.clear()


__all__ = ["clear_session", "epsilon", "floatx", "image_data_format", "set_floatx"]
