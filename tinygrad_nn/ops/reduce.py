"""Reductions: sum, mean, max (and the axis helpers other ops share).

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = ["Max", "Mean", "Sum"]


def _normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for {ndim} dimensions")
        out.append(int(a) % ndim)
    return tuple(out)


def _expand_reduced(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Put back the reduced axes as size-1 axes so ``grad`` broadcasts against the input."""
    return grad if keepdims else np.expand_dims(grad, axes)


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, x.ndim)
        self.shape = x.shape
        # the output's shape with the summed axes kept as 1s: grad broadcasts from it
        self.kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return x.sum(axis=axes, keepdims=keepdims)

    def backward(self, grad):
        return np.broadcast_to(grad.reshape(self.kept), self.shape)


class Mean(Function):
    """Sum over the axes divided by their element count; NaN over no elements (as numpy)."""

    def forward(self, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, x.ndim)
        self.shape = x.shape
        self.kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        self.count = int(np.prod([x.shape[a] for a in axes]))
        return np.asarray(x.mean(axis=axes, keepdims=keepdims))

    def backward(self, grad):
        scale = grad.dtype.type(1.0 / self.count) if self.count else grad.dtype.type(np.nan)
        return np.broadcast_to(grad.reshape(self.kept) * scale, self.shape)


class Max(Function):
    """Values of the maximum; at ties the gradient is split evenly among the maxima.

    Reducing an axis of length 0 raises (numpy's rule); other axes may be empty."""

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes(axis, x.ndim)
        for a in self.axes:  # as numpy: a maximum over no elements does not exist
            if x.shape[a] == 0:
                raise ValueError(
                    f"max: cannot reduce an empty tensor of shape {x.shape} over axis {a}"
                )
        self.keepdims = keepdims
        self.x = x
        self.m = np.max(x, axis=self.axes, keepdims=True)
        return self.m if keepdims else np.squeeze(self.m, axis=self.axes)

    def backward(self, grad):
        mask = (self.x == self.m).astype(grad.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return _expand_reduced(grad, self.axes, self.keepdims) * mask
