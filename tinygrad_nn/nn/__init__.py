"""Neural-network building blocks: Module, layers, activations and the tutorial's MLP.

A :class:`Module` holds parameters (Tensor attributes with ``requires_grad=True``), buffers
and child modules; its ``forward`` only describes the computation and the engine derives
backward. :mod:`tinygrad_nn.nn.functional` has the layers' operations as plain functions.
"""

from . import functional
from .activations import ELU, GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from .dropout import Dropout
from .embedding import Embedding
from .layers import MLP, Linear, Sequential, l2_penalty
from .module import Module
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MLP",
    "MaxPool2d",
    "Module",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "functional",
    "l2_penalty",
]
