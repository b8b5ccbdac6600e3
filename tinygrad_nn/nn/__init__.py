"""Neural-network building blocks: Module, layers, activations and the tutorial's MLP.

A :class:`Module` holds parameters (Tensor attributes with ``requires_grad=True``) and child
modules; its ``forward`` only describes the computation and the engine derives backward.
"""

from .activations import ELU, GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from .layers import MLP, Linear, Sequential, l2_penalty
from .module import Module

__all__ = [
    "ELU",
    "GELU",
    "LeakyReLU",
    "MLP",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "l2_penalty",
]
