"""Ops that pick between values: clip, maximum, minimum, where.

The gradient goes to whichever input was picked; at a tie between two tensors it is split
evenly, as ``max`` does. Each op: ``forward`` on numpy arrays saves what ``backward``
needs; ``backward`` returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..autograd import Function

__all__ = ["Clip", "Maximum", "Minimum", "Where"]


def _bound(name: str, value) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (Real, np.floating, np.integer)) or isinstance(value, bool):
        raise ValueError(f"clip: {name} must be a number or None, got {value!r}")
    return value


class Clip(Function):
    """x limited to [min, max] (either may be None), PyTorch's ``clamp``.

    Rule: dx = dy where min <= x <= max (the closed interval), 0 outside.
    """

    def forward(self, x, min=None, max=None):
        lo, hi = _bound("min", min), _bound("max", max)
        if lo is None and hi is None:
            raise ValueError("clip: give min, max or both")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"clip: min {lo} is greater than max {hi}")
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        self.inside = inside
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, grad):
        return grad * self.inside

    def tensor_backward(self, grad, out):
        return grad * self.inside


def _pick_gradients(fn: Function, grad: np.ndarray, first: np.ndarray, tie: np.ndarray):
    """Gradients for (a, b) when ``first`` marks where a was picked, ``tie`` where a == b."""
    share = np.where(tie, 0.5, first).astype(grad.dtype)
    need_a, need_b = fn.needs_input_grad
    return (grad * share if need_a else None, grad * (1 - share) if need_b else None)


class Maximum(Function):
    """Elementwise max(a, b) with broadcasting.

    Rule: da = dy where a > b, db = dy where b > a; each gets dy / 2 where a = b.
    """

    def forward(self, a, b):
        self.first, self.tie = a > b, a == b
        return np.maximum(a, b)

    def backward(self, grad):
        return _pick_gradients(self, grad, self.first, self.tie)

    def tensor_backward(self, grad, out):
        return _pick_gradients(self, grad, self.first, self.tie)


class Minimum(Function):
    """Elementwise min(a, b) with broadcasting.

    Rule: da = dy where a < b, db = dy where b < a; each gets dy / 2 where a = b.
    """

    def forward(self, a, b):
        self.first, self.tie = a < b, a == b
        return np.minimum(a, b)

    def backward(self, grad):
        return _pick_gradients(self, grad, self.first, self.tie)

    def tensor_backward(self, grad, out):
        return _pick_gradients(self, grad, self.first, self.tie)


class Where(Function):
    """a where the bool mask cond holds, else b (all three broadcast).

    Rule: da = dy where cond, db = dy where not cond (cond gets none).
    """

    def forward(self, cond, a, b):
        if cond.dtype != np.bool_:
            raise ValueError(
                f"where: the condition must be a bool tensor (a comparison's result), "
                f"got dtype {cond.dtype} of shape {cond.shape}"
            )
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, grad):
        _, need_a, need_b = self.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (
            None,
            np.where(self.cond, grad, zero) if need_a else None,
            np.where(self.cond, zero, grad) if need_b else None,
        )

    def tensor_backward(self, grad, out):
        _, need_a, need_b = self.needs_input_grad
        return (
            None,
            Where.apply(self.cond, grad, 0.0) if need_a else None,
            Where.apply(self.cond, 0.0, grad) if need_b else None,
        )
