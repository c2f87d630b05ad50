"""The user-facing functions, imported as ``F``: activations, losses, dropout,
normalization, convolution, pooling, attention, each composed from ``ops``.

This module only gathers names; the math lives in the ops modules it imports from.
Each family adds its own import block below.
"""
# --- activations and softmax (ops/activation.py)
from .ops.activation import (  # noqa: F401
    elu, gelu, hard_sigmoid, hard_silu, leaky_relu, log_softmax, mish, relu6, selu, sigmoid, silu, softmax,
    softplus, softsign, swish,
)
from .ops.elementwise import relu, tanh  # noqa: F401
# --- losses (ops/loss.py)
from .ops.loss import (  # noqa: F401
    binary_crossentropy, categorical_crossentropy, huber, kl_divergence, mean_absolute_error, mean_squared_error,
    sparse_categorical_crossentropy,
)
# --- dropout, linear, embedding (ops/nn.py) and normalization (ops/normalization.py)
from .ops.nn import dropout, embedding, linear  # noqa: F401
from .ops.normalization import batch_norm, layer_norm  # noqa: F401
# --- convolution and pooling (ops/conv.py, ops/pool.py)
from .ops.conv import conv, conv_max_pool, conv_transpose  # noqa: F401
from .ops.pool import avg_pool, global_avg_pool, global_max_pool, max_pool  # noqa: F401
# --- group normalization (ops/group_norm.py) and resizing (ops/interpolation.py)
from .ops.group_norm import group_norm  # noqa: F401
from .ops.interpolation import interpolate  # noqa: F401
# --- attention (ops/attention.py)
from .ops.attention import scaled_dot_product_attention  # noqa: F401
# --- generative models: the VAE's sampling and ELBO terms, the GAN losses (ops/generative.py)
from .ops.generative import (  # noqa: F401
    binary_crossentropy_sum, discriminator_loss, gaussian_kl, generator_loss, gradient_penalty, reparameterize,
    wasserstein_critic_loss, wasserstein_generator_loss,
)
