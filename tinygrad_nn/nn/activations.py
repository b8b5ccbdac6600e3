"""Activation layers: elementwise nonlinearities as Modules (no parameters)."""

from __future__ import annotations

from numbers import Real
from typing import Any

from ..tensor import Tensor
from .module import Module

__all__ = ["ELU", "GELU", "LeakyReLU", "ReLU", "SiLU", "Sigmoid", "Softplus", "Tanh"]


class Sigmoid(Module):
    """Elementwise 1 / (1 + e^-x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()

    def config(self) -> dict[str, Any]:
        """No arguments (used by ``save``)."""
        return {}


class ReLU(Module):
    """Elementwise max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()

    def config(self) -> dict[str, Any]:
        """No arguments (used by ``save``)."""
        return {}


class Tanh(Module):
    """Elementwise tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()

    def config(self) -> dict[str, Any]:
        """No arguments (used by ``save``)."""
        return {}


class LeakyReLU(Module):
    """Elementwise x for x > 0, ``negative_slope`` * x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return x.leaky_relu(self.negative_slope)

    def config(self) -> dict[str, Any]:
        """The constructor arguments (used by ``save``)."""
        return {"negative_slope": self.negative_slope}

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """Elementwise x for x > 0, alpha (e^x - 1) otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return x.elu(self.alpha)

    def config(self) -> dict[str, Any]:
        """The constructor arguments (used by ``save``)."""
        return {"alpha": self.alpha}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """Elementwise x Phi(x) (Phi the normal CDF); ``approximate="tanh"`` for the tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return x.gelu(self.approximate)

    def config(self) -> dict[str, Any]:
        """The constructor arguments (used by ``save``)."""
        return {"approximate": self.approximate}

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Elementwise x * sigmoid(x) (swish)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.silu()

    def config(self) -> dict[str, Any]:
        """No arguments (used by ``save``)."""
        return {}


class Softplus(Module):
    """Elementwise log(1 + e^(beta x)) / beta, without overflow."""

    def __init__(self, beta: float = 1.0) -> None:
        if isinstance(beta, bool) or not isinstance(beta, Real) or not beta > 0:
            raise ValueError(f"Softplus: beta must be a positive number, got {beta!r}")
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        return x.softplus(self.beta)

    def config(self) -> dict[str, Any]:
        """The constructor arguments (used by ``save``)."""
        return {"beta": self.beta}

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
