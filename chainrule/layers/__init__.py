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
]
