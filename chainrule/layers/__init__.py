"""Layers: stateful blocks with Keras's names and arguments."""
from .base import Layer
from .conv import (
    Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose, Convolution1D, Convolution2D,
    Convolution3D, ConvND, ConvNDTranspose,
)
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape
from .embedding import Embedding
from .masking import Masking
from .recurrent import GRU, LSTM, SimpleRNN
from .rnn import RNN
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .wrappers import Bidirectional, TimeDistributed
from .normalization import BatchNormalization, LayerNormalization
from .activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .lambda_layer import Identity, Lambda
from .merge import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .merge import add, average, concatenate, dot, maximum, minimum, multiply, subtract
from .normalization import GroupNormalization, UnitNormalization
from .preprocessing import Normalization, Rescaling
from .regularization import (
    ActivityRegularization, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
)
from .reshaping import (
    Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector, UpSampling1D, UpSampling2D, UpSampling3D,
    ZeroPadding1D, ZeroPadding2D, ZeroPadding3D,
)
from .pooling import (
    AveragePooling1D, AveragePooling2D, AveragePooling3D, AveragePoolingND, AvgPool1D, AvgPool2D, AvgPool3D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    GlobalMaxPooling3D, MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D, MaxPoolingND,
)

__all__ = [
    "Layer",
    "Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Reshape",
    "Embedding",
    "Masking", "SimpleRNN", "LSTM", "GRU", "RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells",
    "Bidirectional", "TimeDistributed",
    "BatchNormalization", "LayerNormalization",
    "Conv1D", "Conv2D", "Conv3D", "ConvND", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "ConvNDTranspose", "Convolution1D", "Convolution2D", "Convolution3D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "MaxPoolingND", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "AveragePoolingND", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
    "AvgPool3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
    "Lambda", "Identity", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Cropping1D", "Cropping2D", "Cropping3D", "RepeatVector", "Permute",
    "GaussianNoise", "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "ActivityRegularization", "GroupNormalization", "UnitNormalization", "Rescaling", "Normalization",
]
from .attention import AdditiveAttention, Attention  # noqa: E402
from .multi_head_attention import MultiHeadAttention  # noqa: E402
from .position import PositionEmbedding, SinePositionEncoding, TokenAndPositionEmbedding  # noqa: E402
from .transformer import TransformerDecoder, TransformerEncoder  # noqa: E402

__all__ += [
    "AdditiveAttention", "Attention", "MultiHeadAttention", "PositionEmbedding", "SinePositionEncoding",
    "TokenAndPositionEmbedding", "TransformerDecoder", "TransformerEncoder",
]
