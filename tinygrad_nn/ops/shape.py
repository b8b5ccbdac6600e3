"""Shape ops: reshape, transpose, getitem, flatten, squeeze, unsqueeze, expand, flip, permute.

Gradients move values back to where they came from.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from .reduce import _normalize_axes

__all__ = [
    "Expand",
    "Flatten",
    "Flip",
    "GetItem",
    "Permute",
    "Reshape",
    "Squeeze",
    "Transpose",
    "Unsqueeze",
]


class Reshape(Function):
    """The same values in a new shape. Rule: dx = dy reshaped back to x's shape."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape tensor of shape {x.shape} ({x.size} elements) "
                f"into {tuple(shape)}"
            ) from None

    def backward(self, grad):
        return grad.reshape(self.in_shape)

    def tensor_backward(self, grad, out):
        return grad.reshape(self.in_shape)

    def forward_code(self, c, x, shape):
        return c.let(f"{x}.reshape({c.lit(tuple(shape))})", like=c.out, view_of=x)

    def backward_code(self, c, grad):
        expr = f"{grad}.reshape({self.in_shape})"
        return c.let(expr, shape=self.in_shape, dtype=c.dtype(grad), view_of=grad)


class Transpose(Function):
    """Axes permuted. Rule: dx = dy with the axes permuted back."""

    def forward(self, x, axes=None):
        if axes is None:
            axes = tuple(reversed(range(x.ndim)))
        if sorted(int(a) % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(
                f"transpose: axes {tuple(axes)} are not a permutation of the "
                f"{x.ndim} axes of shape {x.shape}"
            )
        self.inverse = tuple(np.argsort([int(a) % x.ndim for a in axes]))
        return np.transpose(x, axes)

    def backward(self, grad):
        return np.transpose(grad, self.inverse)

    def tensor_backward(self, grad, out):
        return grad.transpose(self.inverse)

    def forward_code(self, c, x, axes=None):
        return c.let(f"np.transpose({x}, {c.lit(axes)})", like=c.out, view_of=x)

    def backward_code(self, c, grad):
        shape = c.shape(grad)
        inverse = tuple(int(i) for i in self.inverse)
        return c.let(
            f"np.transpose({grad}, {inverse})",
            shape=tuple(shape[i] for i in inverse),
            dtype=c.dtype(grad),
            view_of=grad,
        )


def _is_basic_index(index) -> bool:
    """True for ints, slices, None and Ellipsis only (no repeated elements possible)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


def _copy_arrays(index):
    """The index with every array in it copied (the caller may change its own later)."""
    if isinstance(index, tuple):
        return tuple(_copy_arrays(i) for i in index)
    return np.array(index) if isinstance(index, np.ndarray) else index


class GetItem(Function):
    """x[index]; for integer-array indices repeated elements get their gradients summed.

    Rule: dx = dy put back where it was taken from (repeats add up), 0 elsewhere.
    """

    name = "getitem"

    def forward(self, x, index):
        if not _is_basic_index(index):  # backward needs these positions as they are now
            index = _copy_arrays(index)
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        try:
            return x[index]
        except IndexError as err:
            raise IndexError(f"getitem: {err} (tensor of shape {x.shape})") from None

    def backward(self, grad):
        full = np.zeros(self.shape, dtype=grad.dtype)
        if _is_basic_index(self.index):
            full[self.index] = grad
        else:
            np.add.at(full, self.index, grad)
        return full

    def forward_code(self, c, x, index):
        c.saved["index"] = index = c.lit(index)
        view = _is_basic_index(self.index)
        return c.let(f"{x}[{index}]", like=c.out, view_of=x if view else None)

    def backward_code(self, c, grad):
        dt = c.dtype(grad)
        full = c.let(f"np.zeros({self.shape}, dtype={dt.name!r})", shape=self.shape, dtype=dt)
        if _is_basic_index(self.index):
            c.line(f"{full}[{c.saved['index']}] = {grad}")
        else:
            c.line(f"np.add.at({full}, {c.saved['index']}, {grad})", writes=full)
        return full


class Flatten(Function):
    """Axes ``start_axis`` to ``end_axis`` (inclusive) merged into one; a 0-d tensor becomes
    shape (1,). Rule: dx = dy reshaped back to x's shape."""

    def forward(self, x, start_axis=0, end_axis=-1):
        self.in_shape = x.shape
        if x.ndim == 0:
            return x.reshape(1)
        start, end = (_normalize_axes(a, x.ndim)[0] for a in (start_axis, end_axis))
        if start > end:
            raise ValueError(
                f"flatten: start_axis {start_axis} comes after end_axis {end_axis} "
                f"for shape {x.shape}"
            )
        merged = int(np.prod(x.shape[start : end + 1], dtype=np.int64))
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1 :])

    def backward(self, grad):
        return grad.reshape(self.in_shape)

    def tensor_backward(self, grad, out):
        return grad.reshape(self.in_shape)


class Squeeze(Function):
    """Size-1 axes removed: all of them when ``axis`` is None, else the given ones (which
    must have size 1). Rule: dx = dy reshaped back to x's shape."""

    def forward(self, x, axis=None):
        self.in_shape = x.shape
        if axis is None:
            return np.squeeze(x)
        axes = _normalize_axes(axis, x.ndim)
        wide = [a for a in axes if x.shape[a] != 1]
        if wide:
            raise ValueError(
                f"squeeze: axis {wide[0]} of shape {x.shape} has size {x.shape[wide[0]]}, not 1"
            )
        return np.squeeze(x, axis=axes)

    def backward(self, grad):
        return grad.reshape(self.in_shape)

    def tensor_backward(self, grad, out):
        return grad.reshape(self.in_shape)


class Unsqueeze(Function):
    """A size-1 axis inserted at ``axis`` (an int or a tuple, positions in the result).

    Rule: dx = dy reshaped back to x's shape.
    """

    def forward(self, x, axis):
        self.in_shape = x.shape
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        _normalize_axes(axes, x.ndim + len(axes))  # range check against the result's ndim
        return np.expand_dims(x, axes)

    def backward(self, grad):
        return grad.reshape(self.in_shape)

    def tensor_backward(self, grad, out):
        return grad.reshape(self.in_shape)


class Expand(Function):
    """x broadcast to ``shape`` (a -1 keeps that axis; new axes go in front), a read-only
    view as ``np.broadcast_to``.

    Rule: dx = dy summed over the broadcast axes (the engine's unbroadcast does it).
    """

    def forward(self, x, shape):
        shape = tuple(int(n) for n in shape)
        lead = len(shape) - x.ndim
        target = shape
        if lead >= 0:
            target = tuple(
                x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape)
            )
        if lead < 0 or any(n < 0 for n in target):
            raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}")
        try:
            return np.broadcast_to(x, target)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}") from None

    def backward(self, grad):
        return grad

    def tensor_backward(self, grad, out):
        return grad


class Flip(Function):
    """The order of elements reversed along ``axis`` (all axes when None).

    Rule: dx = dy flipped back along the same axes.
    """

    def forward(self, x, axis=None):
        self.axes = _normalize_axes(axis, x.ndim)
        return np.flip(x, self.axes)

    def backward(self, grad):
        return np.flip(grad, self.axes)

    def tensor_backward(self, grad, out):
        return grad.flip(self.axes)


class Permute(Function):
    """Axes reordered: result axis i is input axis ``axes[i]`` (every axis exactly once).

    Rule: dx = dy with the inverse permutation.
    """

    def forward(self, x, axes):
        axes = tuple(axes)
        try:
            order = _normalize_axes(axes, x.ndim)
        except ValueError:
            order = ()
        if sorted(order) != list(range(x.ndim)) or len(order) != x.ndim:
            raise ValueError(
                f"permute: axes {axes} are not a permutation of the {x.ndim} axes of "
                f"shape {x.shape}"
            )
        self.inverse = tuple(np.argsort(order))
        return np.transpose(x, order)

    def backward(self, grad):
        return np.transpose(grad, self.inverse)

    def tensor_backward(self, grad, out):
        return grad.permute(self.inverse)
