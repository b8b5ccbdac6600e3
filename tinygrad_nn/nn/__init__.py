"""Neural-network building blocks: Module, layers, activations and the tutorial's MLP.

A :class:`Module` holds parameters (Tensor attributes with ``requires_grad=True``), buffers
and child modules; its ``forward`` only describes the computation and the engine derives
backward. :mod:`tinygrad_nn.nn.functional` has the layers' operations as plain functions.
"""

from . import functional
from .activations import ReLU, Sigmoid, Tanh
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from .dropout import Dropout
from .embedding import Embedding
from .layers import MLP, Linear, Sequential, l2_penalty
from .module import Module
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "MLP",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "LayerNorm",
    "Linear",
    "MaxPool2d",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
    "l2_penalty",
]
