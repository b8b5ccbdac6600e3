"""Reductions: sum, mean, max, min, prod, var, std, logsumexp (and the axis helpers other
ops share).

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = ["LogSumExp", "Max", "Mean", "Min", "Prod", "Std", "Sum", "Var"]


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
    Reducing an axis of length 0 raises (numpy's rule); other axes may be empty.

    Rule: dx = dy at the maximum (shared evenly at ties), 0 elsewhere.
    """

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


class Min(Function):
    """Values of the minimum over the axes.

    Rule: dx = dy at the minimum (shared evenly at ties), 0 elsewhere.
    """

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"min: cannot reduce an empty tensor of shape {x.shape}")
        self.axes = _normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.x = x
        self.lowest = np.min(x, axis=self.axes, keepdims=True)
        return self.lowest if keepdims else np.squeeze(self.lowest, axis=self.axes)

    def _shares(self, dtype: np.dtype) -> np.ndarray:
        """1 / (how many elements reached the minimum) at each of them, 0 elsewhere."""
        at_min = (self.x == self.lowest).astype(dtype)
        return at_min / at_min.sum(axis=self.axes, keepdims=True)

    def backward(self, grad):
        return _expand_reduced(grad, self.axes, self.keepdims) * self._shares(grad.dtype)

    def tensor_backward(self, grad, out):
        return grad.reshape(self.lowest.shape) * self._shares(grad.dtype)


def _exclusive_products(x: np.ndarray) -> np.ndarray:
    """For each element along the last axis, the product of all the others there.

    Prefix times suffix products, so zeros need no division (d prod / dx_i with x_i = 0
    is the product of the rest, not 0 / 0).
    """
    ones = np.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    before = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return before * after


class Prod(Function):
    """Product over the axes.

    Rule: dx_i = dy * the product of the other elements (exact where elements are 0).
    """

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.x = x
        return np.asarray(np.prod(x, axis=self.axes, keepdims=keepdims))

    def backward(self, grad):
        x, axes = self.x, self.axes
        n = len(axes)
        last = tuple(range(x.ndim - n, x.ndim))
        moved = np.moveaxis(x, axes, last)  # the reduced axes last, flattened into one
        if moved.size == 0:
            return np.zeros(x.shape, dtype=grad.dtype)
        flat = moved.reshape(moved.shape[: x.ndim - n] + (-1,))
        others = np.moveaxis(_exclusive_products(flat).reshape(moved.shape), last, axes)
        return _expand_reduced(grad, axes, self.keepdims) * others

    def tensor_backward(self, grad, out):
        # the product of the others as out / x: exact, but only where no element is 0
        if (self.x == 0).any():
            raise RuntimeError("prod: second-order gradients need every element non-zero")
        kept = _kept(self.x.shape, self.axes)
        return grad.reshape(kept) * (out.reshape(kept) / self.inputs[0])


def _kept(shape: tuple, axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced axes kept as 1s: a reduction's gradient broadcasts from it."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape: tuple, axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


class Var(Function):
    """Variance over the axes: sum((x - mean)^2) / (n - ddof), numpy's ``var`` (n - ddof
    below 1 gives inf or NaN, with numpy's warning).

    Rule: dx = dy * 2 (x - mean) / (n - ddof).
    """

    def forward(self, x, axis=None, ddof=0, keepdims=False):
        self.axes = _normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.centered = x - x.mean(axis=self.axes, keepdims=True)
        self.dof = max(_count(x.shape, self.axes) - ddof, 0)
        return np.asarray(np.var(x, axis=self.axes, ddof=ddof, keepdims=keepdims))

    def backward(self, grad):
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = grad.dtype.type(2.0) / grad.dtype.type(self.dof)
        return _expand_reduced(grad, self.axes, self.keepdims) * scale * self.centered

    def tensor_backward(self, grad, out):
        x = self.inputs[0]
        centered = x - x.mean(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = float(np.float64(2.0) / self.dof)
        return grad.reshape(_kept(x.shape, self.axes)) * scale * centered


class Std(Function):
    """Standard deviation over the axes, sqrt of :class:`Var`'s value.

    Rule: dx = dy * (x - mean) / ((n - ddof) y) (NaN where y = 0: sqrt's slope is infinite).
    """

    def forward(self, x, axis=None, ddof=0, keepdims=False):
        self.axes = _normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.centered = x - x.mean(axis=self.axes, keepdims=True)
        self.dof = max(_count(x.shape, self.axes) - ddof, 0)
        self.y = np.asarray(np.std(x, axis=self.axes, ddof=ddof, keepdims=True))
        return self.y if keepdims else np.squeeze(self.y, axis=self.axes)

    def backward(self, grad):
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = self.centered / (self.dof * self.y)
        return _expand_reduced(grad, self.axes, self.keepdims) * scale

    def tensor_backward(self, grad, out):
        x = self.inputs[0]
        kept = self.y.shape
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return grad.reshape(kept) * centered / (out.reshape(kept) * self.dof)


class LogSumExp(Function):
    """y = log(sum(exp(x))) over the axes, with the max taken out first so nothing
    overflows; -inf over no elements or all -inf.

    Rule: dx = dy * exp(x - y) (the softmax of x).
    """

    name = "logsumexp"

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        self.x = x
        m = np.max(x, axis=self.axes, keepdims=True, initial=-np.inf)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
        with np.errstate(divide="ignore"):
            self.y = np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True)) + m
        return self.y if keepdims else np.squeeze(self.y, axis=self.axes)

    def backward(self, grad):
        return _expand_reduced(grad, self.axes, self.keepdims) * np.exp(self.x - self.y)

    def tensor_backward(self, grad, out):
        kept = self.y.shape
        return grad.reshape(kept) * (self.inputs[0] - out.reshape(kept)).exp()


def _expand(grad, shape: tuple):
    """Tensor ``grad`` (the reduced axes kept as 1s) broadcast to ``shape``, as a recorded
    op: adding zeros of that shape broadcasts, and add's backward sums back."""
    return grad + np.zeros(shape, dtype=grad.dtype)
