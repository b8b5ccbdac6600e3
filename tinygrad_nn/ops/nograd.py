"""Ops without a gradient: comparisons, sign, argmax and argmin.

Their outputs are masks, signs or indices: piecewise constant in the inputs, so the
gradient is zero where it exists. They are never recorded for backward (as ``no_grad``),
and their results never require grad; hooks (``compile``'s tracer) still see them run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, no_grad
from .reduce import _normalize_axes

__all__ = [
    "Argmax",
    "Argmin",
    "Equal",
    "Greater",
    "GreaterEqual",
    "Less",
    "LessEqual",
    "NonDifferentiable",
    "NotEqual",
    "Sign",
]


class NonDifferentiable(Function):
    """Base of ops with no gradient: ``apply`` runs them without recording.

    Rule: dx = 0 (never recorded, so backward never reaches it).
    """

    @classmethod
    def apply(cls, *inputs: Any, **settings: Any) -> Any:
        with no_grad():
            return super().apply(*inputs, **settings)

    def backward(self, grad):
        raise RuntimeError(f"{self.name}: has no gradient")

    def tensor_backward(self, grad, out):
        raise RuntimeError(f"{self.name}: has no gradient")


class Sign(NonDifferentiable):
    """-1, 0 or 1 by the sign of x, in x's dtype (NaN stays NaN). Rule: dx = 0 (not recorded)."""

    def forward(self, x):
        return np.sign(x)


class Less(NonDifferentiable):
    """a < b elementwise, a bool mask (numpy broadcasting). Rule: da = db = 0 (not recorded)."""

    def forward(self, a, b):
        return np.less(a, b)


class LessEqual(NonDifferentiable):
    """a <= b elementwise, a bool mask. Rule: da = db = 0 (not recorded)."""

    def forward(self, a, b):
        return np.less_equal(a, b)


class Greater(NonDifferentiable):
    """a > b elementwise, a bool mask. Rule: da = db = 0 (not recorded)."""

    def forward(self, a, b):
        return np.greater(a, b)


class GreaterEqual(NonDifferentiable):
    """a >= b elementwise, a bool mask. Rule: da = db = 0 (not recorded)."""

    def forward(self, a, b):
        return np.greater_equal(a, b)


class Equal(NonDifferentiable):
    """a == b elementwise, a bool mask. Rule: da = db = 0 (not recorded)."""

    def forward(self, a, b):
        return np.equal(a, b)


class NotEqual(NonDifferentiable):
    """a != b elementwise, a bool mask. Rule: da = db = 0 (not recorded)."""

    def forward(self, a, b):
        return np.not_equal(a, b)


def _arg_axis(name: str, x: np.ndarray, axis: Any) -> int | None:
    if axis is not None:
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ValueError(f"{name}: axis must be an int or None, got {axis!r}")
        axis = _normalize_axes(axis, x.ndim)[0]
    if (x.size if axis is None else x.shape[axis]) == 0:
        raise ValueError(f"{name}: nothing to choose from along axis {axis} of shape {x.shape}")
    return axis


class Argmax(NonDifferentiable):
    """Index of the largest value along ``axis`` (of the flattened tensor when None), int64;
    the first one at ties. Rule: dx = 0 (not recorded)."""

    def forward(self, x, axis=None, keepdims=False):
        axis = _arg_axis(self.name, x, axis)
        return np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int64)


class Argmin(NonDifferentiable):
    """Index of the smallest value along ``axis`` (flattened when None), int64; the first at
    ties. Rule: dx = 0 (not recorded)."""

    def forward(self, x, axis=None, keepdims=False):
        axis = _arg_axis(self.name, x, axis)
        return np.argmin(x, axis=axis, keepdims=keepdims).astype(np.int64)
