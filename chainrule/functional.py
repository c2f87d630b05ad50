"""The user-facing functions, imported as ``F``: activations, losses, dropout,
normalization, convolution, pooling, attention, each composed from ``ops``.

This module only gathers names; the math lives in the ops modules it imports from.
Each family adds its own import block below.
"""
# --- activations and softmax (ops/activation.py)
# --- losses (ops/loss.py)
# --- dropout, normalization, linear, embedding (ops/nn.py)
# --- convolution and pooling (ops/conv.py, ops/pool.py)
