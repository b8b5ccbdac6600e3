"""Numerical gradient check: the engine's gradients against float64 central differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .autograd import no_grad
from .tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "numerical_grad"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients disagree."""


def _as_scalar_objective(out: Tensor, weights: np.ndarray) -> float:
    return float(np.sum(out.data.astype(np.float64) * weights))


def numerical_grad(
    fn: Callable[..., Tensor], inputs: list[Tensor], index: int, weights: np.ndarray, eps: float
) -> np.ndarray:
    """d/dx sum(weights * fn(...)) for ``inputs[index]`` by central differences.

    (f(x + eps) - f(x - eps)) / (2 eps), one element at a time, under ``no_grad``.
    """
    x = inputs[index].data
    grad = np.zeros(x.shape, dtype=np.float64)
    with no_grad():
        for i in np.ndindex(*x.shape):
            orig = x[i]
            x[i] = orig + eps
            plus = _as_scalar_objective(fn(*inputs), weights)
            x[i] = orig - eps
            minus = _as_scalar_objective(fn(*inputs), weights)
            x[i] = orig
            grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check ``fn``'s gradients for every input with ``requires_grad`` in float64.

    ``fn`` maps Tensors to a Tensor of any shape; its output is reduced to a scalar with
    fixed random weights, so every output element is checked. Inputs are copied to float64
    (arrays and numbers become constant tensors). Returns True, or raises
    :class:`GradcheckError` naming the worst element, its input index and both values.
    An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
    """
    tensors = [
        Tensor(
            np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64, copy=True),
            requires_grad=isinstance(x, Tensor) and x.requires_grad,
        )
        for x in inputs
    ]
    if not any(t.requires_grad for t in tensors):
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    if out.requires_grad:
        out.backward(weights.astype(out.dtype))
    for k, t in enumerate(tensors):
        if not t.requires_grad:
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad
        numeric = numerical_grad(fn, tensors, k, weights, eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and excess.max() > 0:
            worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
            raise GradcheckError(
                f"gradcheck: input {k} element {tuple(int(i) for i in worst)}: "
                f"analytic {float(analytic[worst])!r} vs numerical {float(numeric[worst])!r} "
                f"(atol={atol}, rtol={rtol})"
            )
    return True
