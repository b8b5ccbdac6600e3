"""Reductions: sum, mean, max (and the axis helpers other ops share).

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
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
    """Sum over the axes. Rule: dx = dy copied back to every summed element."""

    def forward(self, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, x.ndim)
        self.shape = x.shape
        # the output's shape with the summed axes kept as 1s: grad broadcasts from it
        self.kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return x.sum(axis=axes, keepdims=keepdims)

    def backward(self, grad):
        return np.broadcast_to(grad.reshape(self.kept), self.shape)

    def tensor_backward(self, grad, out):
        return _expand(grad.reshape(self.kept), self.shape)

    def forward_code(self, c, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, len(c.shape(x)))
        return c.let(f"np.asarray({x}.sum(axis={axes}, keepdims={keepdims}))", like=c.out)

    def backward_code(self, c, grad):
        expr = f"np.broadcast_to({grad}.reshape({self.kept}), {self.shape})"
        return c.let(expr, shape=self.shape, dtype=c.dtype(grad), foreign=True)


class Mean(Function):
    """Sum over the axes divided by their element count; NaN over no elements (as numpy).

    Rule: dx = dy / n copied back to each of the n averaged elements.
    """

    def forward(self, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, x.ndim)
        self.shape = x.shape
        self.kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        self.count = int(np.prod([x.shape[a] for a in axes]))
        return np.asarray(x.mean(axis=axes, keepdims=keepdims))

    def backward(self, grad):
        scale = grad.dtype.type(1.0 / self.count) if self.count else grad.dtype.type(np.nan)
        return np.broadcast_to(grad.reshape(self.kept) * scale, self.shape)

    def tensor_backward(self, grad, out):
        scale = 1.0 / self.count if self.count else float("nan")
        return _expand(grad.reshape(self.kept) * scale, self.shape)

    def forward_code(self, c, x, axis=None, keepdims=False):
        axes = _normalize_axes(axis, len(c.shape(x)))
        return c.let(f"np.asarray({x}.mean(axis={axes}, keepdims={keepdims}))", like=c.out)

    def backward_code(self, c, grad):
        kind = c.dtype(grad).type
        scale = c.const(kind(1.0 / self.count) if self.count else kind(np.nan), "inv_count")
        expr = f"np.broadcast_to({grad}.reshape({self.kept}) * {scale}, {self.shape})"
        return c.let(expr, shape=self.shape, dtype=c.dtype(grad), foreign=True)


class Max(Function):
    """Values of the maximum; at ties the gradient is split evenly among the maxima.

    Rule: dx = dy at the maximum (shared evenly at ties), 0 elsewhere.
    """

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {x.shape}")
        self.axes = _normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.x = x
        self.m = np.max(x, axis=self.axes, keepdims=True)
        return self.m if keepdims else np.squeeze(self.m, axis=self.axes)

    def backward(self, grad):
        mask = (self.x == self.m).astype(grad.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return _expand_reduced(grad, self.axes, self.keepdims) * mask

    def tensor_backward(self, grad, out):
        mask = (self.x == self.m).astype(grad.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        return grad.reshape(self.m.shape) * mask

    def forward_code(self, c, x, axis=None, keepdims=False):
        m = c.saved["m"] = c.let(f"np.max({x}, axis={self.axes}, keepdims=True)", like=self.m)
        c.saved["x"] = x
        if keepdims:
            return m
        return c.let(f"np.squeeze({m}, axis={self.axes})", like=c.out, view_of=m)

    def backward_code(self, c, grad):
        x, m, dt = c.saved["x"], c.saved["m"], c.dtype(grad)
        mask = c.let(f"({x} == {m}).astype({dt.name!r})", x, m, dtype=dt)
        c.line(f"{mask} /= {mask}.sum(axis={self.axes}, keepdims=True)")
        g = grad if self.keepdims else f"np.expand_dims({grad}, {self.axes})"
        return c.let(f"{g} * {mask}", mask, dtype=dt)


def _expand(grad, shape: tuple):
    """Tensor ``grad`` (the reduced axes kept as 1s) broadcast to ``shape``, as a recorded
    op: adding zeros of that shape broadcasts, and add's backward sums back."""
    return grad + np.zeros(shape, dtype=grad.dtype)
