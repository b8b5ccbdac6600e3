"""The layers' operations as plain functions on Tensors (``from tinygrad_nn.nn import
functional as F``), as in ``torch.nn.functional``.

Each function is one op of :mod:`tinygrad_nn.ops` (or a reshape/index), so its gradient is
that op's ``backward``. Images are NCHW: (batch, channels, height, width). Settings given
as one int apply to both spatial axes; a pair gives (height, width).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "dropout",
    "embedding",
    "flatten",
    "layer_norm",
    "max_pool2d",
]

IntPair = int | tuple[int, int]


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation: x (N, C, H, W), weight (O, C / groups, kh, kw), bias (O,) or
    None -> (N, O, OH, OW) with OH = (H + 2 padding - dilation (kh - 1) - 1) // stride + 1.

    ``groups`` splits the channels into that many independent convolutions. The result has
    the dtype numpy gives ``x @ weight``. See :class:`tinygrad_nn.ops.Conv2d`.
    """
    settings = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    if bias is None:
        return ops.Conv2d.apply(x, weight, **settings)
    return ops.Conv2d.apply(x, weight, bias, **settings)


def max_pool2d(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """Maximum over each window: x (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults to
    ``kernel_size``; padding (at most half the kernel) counts as -inf."""
    return ops.MaxPool2d.apply(
        x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )


def avg_pool2d(
    x: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> Tensor:
    """Mean over each window: x (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults to
    ``kernel_size``; padding counts as zeros in the mean."""
    return ops.AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Axes ``start_dim`` … ``end_dim`` merged into one: (N, C, H, W) -> (N, C H W)."""
    shape = x.shape
    start, end = _axis(start_dim, len(shape), "start_dim"), _axis(end_dim, len(shape), "end_dim")
    if start > end:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {shape}"
        )
    merged = int(np.prod(shape[start : end + 1], dtype=np.int64))
    return x.reshape(*shape[:start], merged, *shape[end + 1 :])


def _axis(axis: int, ndim: int, label: str) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"flatten: {label} {axis} is out of range for {ndim} axes")
    return axis % max(ndim, 1)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: Any = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) when
    ``training``; otherwise return ``x`` itself. ``rng``: a ``np.random.Generator`` (or a
    seed, or None for a fresh one)."""
    if not training or p == 0:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout: p must be in [0, 1], got {p!r} (input {x.shape})")
        return x
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return ops.Dropout.apply(x, p=float(p), rng=rng)


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Per-channel normalisation of x (N, C, ...): batch statistics when ``training`` (and
    the running ones, (C,) Tensors, updated in place by ``momentum``), the running statistics
    otherwise; then ``weight * x_hat + bias`` with (C,) weight and bias."""
    inputs = (x,) if weight is None else (x, weight, bias)
    return ops.BatchNorm.apply(
        *inputs,
        training=training,
        running_mean=running_mean,
        running_var=running_var,
        momentum=momentum,
        eps=eps,
    )


def layer_norm(
    x: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise x (..., *normalized_shape) over its last axes, then ``weight * x_hat + bias``
    (both of ``normalized_shape``, or None)."""
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    inputs = (x,) if weight is None else (x, weight, bias)
    return ops.LayerNorm.apply(*inputs, normalized_shape=tuple(normalized_shape), eps=eps)


def embedding(indices: Any, weight: Tensor) -> Tensor:
    """Rows of ``weight`` (V, D) picked by integer ``indices`` of any shape S -> (*S, D);
    the gradient of a row picked several times is the sum of its gradients."""
    idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    v = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= v):
        raise ValueError(
            f"embedding: indices of shape {idx.shape} must lie in [0, {v}) for weight of "
            f"shape {weight.shape}, got values from {idx.min()} to {idx.max()}"
        )
    return weight[idx]
