"""Neural-network building blocks: Module, layers, activations and the tutorial's MLP.

A :class:`Module` holds parameters (Tensor attributes with ``requires_grad=True``) and child
modules; its ``forward`` only describes the computation and the engine derives backward.
"""

from .activations import ReLU, Sigmoid, Tanh
from .layers import MLP, Linear, Sequential, l2_penalty
from .module import Module

__all__ = [
    "MLP",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "l2_penalty",
]
