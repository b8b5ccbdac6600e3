"""Activation layers: elementwise nonlinearities as Modules (no parameters)."""

from __future__ import annotations

from ..tensor import Tensor
from .module import Module

__all__ = ["ReLU", "Sigmoid", "Tanh"]


class Sigmoid(Module):
    """Elementwise 1 / (1 + e^-x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class ReLU(Module):
    """Elementwise max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    """Elementwise tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()
