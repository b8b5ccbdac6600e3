"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` (running statistics as buffers)
and ``LayerNorm``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, get_default_dtype
from . import functional as F
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: weight (gamma) and bias (beta) of shape (C,), and the
    buffers ``running_mean`` (zeros) and ``running_var`` (ones), saved in ``state_dict``."""

    dims: tuple[int, ...] = ()
    expects: str = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        dtype: Any = None,
    ) -> None:
        name = type(self).__name__
        self.state_shapes({"num_features": num_features})  # checks it
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum!r}")
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        c = self.num_features
        self.weight = Tensor(np.ones(c, dtype=dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(c, dtype=dtype), requires_grad=True) if affine else None
        self.register_buffer("running_mean", Tensor(np.zeros(c, dtype=dtype)))
        self.register_buffer("running_var", Tensor(np.ones(c, dtype=dtype)))

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """weight and bias (when ``affine``), running_mean and running_var: all (C,)."""
        c = config["num_features"]
        if not isinstance(c, (int, np.integer)) or isinstance(c, bool) or c < 1:
            raise ValueError(f"{cls.__name__}: num_features must be a positive integer, got {c!r}")
        names = ["weight", "bias"] if config.get("affine", True) else []
        return {key: (int(c),) for key in [*names, "running_mean", "running_var"]}

    def forward(self, x: Tensor) -> Tensor:
        """Batch statistics in training mode (updating the running ones), running statistics
        after ``eval()``; one ``batch_norm`` op."""
        if x.ndim not in self.dims:
            raise ValueError(f"{type(self).__name__}: expects {self.expects}, got shape {x.shape}")
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer (used by ``save``)."""
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.weight is not None,
            "dtype": str(self.running_mean.dtype),
        }

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per feature C (Ioffe & Szegedy).

    Training: y = weight (x - mean) / sqrt(var + eps) + bias with the batch's mean and
    biased variance; running_mean/var <- (1 - momentum) running + momentum batch (the
    unbiased variance). Evaluation (``eval()``): the running statistics instead.
    """

    dims = (2, 3)
    expects = "an input (N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images (N, C, H, W), per channel over N, H and W; see
    :class:`BatchNorm1d` for the formulas."""

    dims = (4,)
    expects = "an input (N, C, H, W)"


class LayerNorm(Module):
    """Normalise over the last axes ``normalized_shape`` of each example, then
    ``weight * x_hat + bias`` (ones and zeros at start, of ``normalized_shape``)."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        dtype: Any = None,
    ) -> None:
        shape = self._shape(normalized_shape)
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps!r}")
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.normalized_shape, self.eps = shape, float(eps)
        affine = elementwise_affine
        self.weight = Tensor(np.ones(shape, dtype=dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(shape, dtype=dtype), requires_grad=True) if affine else None
        self._dtype = dtype

    @staticmethod
    def _shape(normalized_shape: Any) -> tuple[int, ...]:
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)) or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in normalized_shape
        ):
            raise ValueError(f"LayerNorm: normalized_shape must be sizes, got {normalized_shape!r}")
        shape = tuple(int(n) for n in normalized_shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {shape}")
        return shape

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """weight and bias of ``normalized_shape`` (when ``elementwise_affine``)."""
        shape = cls._shape(config["normalized_shape"])
        return {"weight": shape, "bias": shape} if config.get("elementwise_affine", True) else {}

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., *normalized_shape) -> the same shape, one ``layer_norm`` op."""
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer."""
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.weight is not None,
            "dtype": str(self._dtype),
        }

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
