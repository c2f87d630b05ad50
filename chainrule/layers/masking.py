"""``Masking``: mark the timesteps that are padding (Keras's Masking layer)."""
from __future__ import annotations

from .. import backend
from ..autograd.tensor import Tensor
from .base import Layer


class Masking(Layer):
    """Keras's ``Masking(mask_value=0.0)``: a timestep whose features all equal ``mask_value`` is padding.

    Inputs (batch, timesteps, features). The mask is m[b, t] = any_f(x[b, t, f] != mask_value)
    (True = a real step); the output is x * m (padding steps become exactly zero) and carries
    the mask (``_keras_mask``) to the layers that follow, e.g. an LSTM, which then carries its
    state through the padding steps.
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _mask(self, inputs):
        data = inputs.data if isinstance(inputs, Tensor) else backend.xp.asarray(inputs)
        if data.ndim < 2:
            raise ValueError(f"{self.name}: expects inputs of rank >= 2 (batch, timesteps, ...), got shape {data.shape}")
        return backend.xp.any(data != self.mask_value, axis=-1)

    def call(self, inputs, training=False):
        keep = self._mask(inputs)
        return inputs * Tensor._wrap(keep[..., None].astype(inputs.dtype))

    def compute_mask(self, inputs, mask=None):
        return self._mask(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["mask_value"] = self.mask_value
        return cfg
