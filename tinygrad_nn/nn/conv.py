"""Image layers on NCHW tensors: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops.windows import pair
from ..tensor import Tensor, get_default_dtype
from . import functional as F
from .module import Module, make_rng

__all__ = ["AvgPool2d", "Conv2d", "Flatten", "MaxPool2d"]


def _positive(value: Any, label: str, layer: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {label} must be a positive integer, got {value!r}")
    return int(value)


class Conv2d(Module):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, OH, OW).

    weight: (out_channels, in_channels / groups, kh, kw); bias: (out_channels,). He-uniform
    init for ReLU networks: W ~ U(-e, e) with e = sqrt(6 / fan_in), fan_in =
    in_channels / groups * kh * kw; zero bias. ``rng``: a Generator, an int seed or None.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        settings = {"in_channels": in_channels, "out_channels": out_channels, "groups": groups}
        shape = self.state_shapes({**settings, "kernel_size": kernel_size})["weight"]
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.groups, self.kernel_size = int(groups), shape[2:]
        self.stride = pair(stride, "stride", "Conv2d", 1)
        self.padding = pair(padding, "padding", "Conv2d", 0)
        self.dilation = pair(dilation, "dilation", "Conv2d", 1)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        bound = np.sqrt(6.0 / (shape[1] * shape[2] * shape[3]))
        w = make_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)
        self.weight = Tensor(w, requires_grad=True)
        self.bias = Tensor(np.zeros(shape[0], dtype=dtype), requires_grad=True) if bias else None

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """weight (out_channels, in_channels / groups, kh, kw) and bias (out_channels,), from
        ``config`` alone (the constructor checks its arguments here too)."""
        c_in = _positive(config["in_channels"], "in_channels", "Conv2d")
        c_out = _positive(config["out_channels"], "out_channels", "Conv2d")
        g = _positive(config.get("groups", 1), "groups", "Conv2d")
        if c_in % g or c_out % g:
            raise ValueError(
                f"Conv2d: in_channels {c_in} and out_channels {c_out} must be divisible by "
                f"groups {g}"
            )
        kh, kw = pair(config["kernel_size"], "kernel_size", "Conv2d", 1)
        shapes = {"weight": (c_out, c_in // g, kh, kw)}
        if config.get("bias", True):
            shapes["bias"] = (c_out,)
        return shapes

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, out_channels, OH, OW), one ``conv2d`` op."""
        return F.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer (used by ``save``)."""
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}→{self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )


class MaxPool2d(Module):
    """Maximum over windows: (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults to the
    kernel size; the gradient goes to each window's first maximum."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
    ) -> None:
        self.kernel_size = pair(kernel_size, "kernel_size", "MaxPool2d", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "MaxPool2d", 1)
        self.padding = pair(padding, "padding", "MaxPool2d", 0)
        self.dilation = pair(dilation, "dilation", "MaxPool2d", 1)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> (N, C, OH, OW), one ``max_pool2d`` op."""
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer."""
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
        }

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(Module):
    """Mean over windows: (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults to the kernel
    size; padding counts as zeros in the mean."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        self.kernel_size = pair(kernel_size, "kernel_size", "AvgPool2d", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "AvgPool2d", 1)
        self.padding = pair(padding, "padding", "AvgPool2d", 0)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> (N, C, OH, OW), one ``avg_pool2d`` op."""
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer."""
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
        }

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """Axes ``start_dim`` … ``end_dim`` merged into one: (N, C, H, W) -> (N, C H W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        """One ``reshape`` op."""
        return F.flatten(x, self.start_dim, self.end_dim)

    def config(self) -> dict[str, Any]:
        """The constructor arguments needed to rebuild this layer."""
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
