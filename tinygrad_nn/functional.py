"""Function forms of ops: ``where``, ``cat``/``concatenate``, ``stack``, ``maximum``,
``minimum`` and the activations (as ``torch`` and ``torch.nn.functional`` spell them).

Inputs may be Tensors, numpy arrays or numbers (numbers take the float dtype of a Tensor
beside them); each function is one call into an op of ``ops/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import ops

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = [
    "cat",
    "concatenate",
    "elu",
    "gelu",
    "leaky_relu",
    "maximum",
    "minimum",
    "silu",
    "softplus",
    "stack",
    "where",
]


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where the bool mask ``cond`` holds, else ``b``; all three broadcast together.
    ``cond`` gets no gradient (make it with a comparison: ``where(x > 0, x, 0.1 * x)``)."""
    return ops.Where.apply(cond, a, b)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Tensors joined along an existing ``axis``: (2, 3) and (4, 3) -> (6, 3) on axis 0."""
    return ops.Concatenate.apply(*tensors, axis=axis)


def cat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """The same as :func:`concatenate` (PyTorch's name)."""
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Tensors of one shape stacked on a new ``axis``: three (2, 3) -> (3, 2, 3) on axis 0."""
    return ops.Stack.apply(*tensors, axis=axis)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max(a, b) with broadcasting; ties split the gradient evenly."""
    return ops.Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min(a, b) with broadcasting; ties split the gradient evenly."""
    return ops.Minimum.apply(a, b)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, ``negative_slope`` * x otherwise; same shape."""
    return ops.LeakyRelu.apply(x, negative_slope=negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise; same shape."""
    return ops.Elu.apply(x, alpha=alpha)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal CDF; ``approximate="tanh"`` for the tanh form."""
    return ops.Gelu.apply(x, approximate=approximate)


def silu(x: Any) -> Tensor:
    """x * sigmoid(x) (swish); same shape."""
    return ops.Silu.apply(x)


def softplus(x: Any, beta: float = 1.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, without overflow; same shape."""
    return ops.Softplus.apply(x, beta=beta)
