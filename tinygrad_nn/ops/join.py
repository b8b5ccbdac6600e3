"""Ops that join and cut tensors: concatenate, stack, split, pad.

Each input gets back the part of the gradient that its values went to. Each op:
``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` returns one
gradient per positional input.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..autograd import Function
from .reduce import _normalize_axes
from .shape import Squeeze

__all__ = ["Concatenate", "Pad", "Split", "Stack", "split_bounds"]


def _shapes(arrays: tuple) -> str:
    return ", ".join(str(a.shape) for a in arrays)


class Concatenate(Function):
    """The inputs joined along an existing ``axis``; all other axes must match.

    Rule: d(input i) = the slice of dy where input i went.
    """

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise ValueError("concatenate: needs at least one tensor")
        first = arrays[0]
        if first.ndim == 0:
            raise ValueError(f"concatenate: cannot join 0-d tensors (shapes {_shapes(arrays)})")
        ax = _normalize_axes(axis, first.ndim)[0]
        rest = first.shape[:ax] + first.shape[ax + 1 :]
        for a in arrays:
            if a.ndim != first.ndim or a.shape[:ax] + a.shape[ax + 1 :] != rest:
                raise ValueError(
                    f"concatenate: shapes {_shapes(arrays)} differ outside axis {axis}"
                )
        self.axis = ax
        self.bounds = np.cumsum([a.shape[ax] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=ax)

    def backward(self, grad):
        return tuple(np.split(grad, self.bounds, axis=self.axis))

    def tensor_backward(self, grad, out):
        stops = [*self.bounds.tolist(), grad.shape[self.axis]]
        starts = [0, *self.bounds.tolist()]
        return tuple(
            Split.apply(grad, axis=self.axis, start=a, stop=b) for a, b in zip(starts, stops)
        )


class Stack(Function):
    """The inputs (all of one shape) stacked along a new ``axis`` of the result.

    Rule: d(input i) = dy at index i of the new axis.
    """

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise ValueError("stack: needs at least one tensor")
        if any(a.shape != arrays[0].shape for a in arrays):
            raise ValueError(f"stack: shapes {_shapes(arrays)} differ")
        self.axis = _normalize_axes(axis, arrays[0].ndim + 1)[0]
        return np.stack(arrays, axis=self.axis)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.axis, 0))

    def tensor_backward(self, grad, out):
        pieces = range(grad.shape[self.axis])
        return tuple(
            Squeeze.apply(Split.apply(grad, axis=self.axis, start=i, stop=i + 1), axis=self.axis)
            for i in pieces
        )


def split_bounds(shape: tuple, sections, axis: int) -> list[tuple[int, int]]:
    """(start, stop) of each piece of ``split``: ``sections`` is a piece length (the last
    piece may be shorter) or a list of lengths adding up to the axis' length."""
    if len(shape) == 0:
        raise ValueError("split: cannot split a 0-d tensor")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"split: axis {axis} is out of range for shape {tuple(shape)}")
    length = shape[axis]
    if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
        if sections < 1:
            raise ValueError(f"split: piece length must be at least 1, got {sections}")
        sizes = [min(sections, length - s) for s in range(0, length, int(sections))]
    else:
        try:
            sizes = [int(n) for n in sections]
        except (TypeError, ValueError):
            raise ValueError(
                f"split: sections must be a piece length or a list of lengths, got {sections!r}"
            ) from None
        if any(n < 0 for n in sizes) or sum(sizes) != length:
            raise ValueError(
                f"split: sizes {sizes} do not add up to {length}, the length of axis {axis} "
                f"of shape {tuple(shape)}"
            )
    stops = np.cumsum(sizes, dtype=np.int64)
    return [(int(stop - n), int(stop)) for n, stop in zip(sizes, stops)]


class Split(Function):
    """One piece of a split: x[start:stop] along ``axis``.

    Rule: dx = dy in the piece's place, 0 elsewhere.
    """

    def forward(self, x, axis, start, stop):
        self.shape, self.axis = x.shape, _normalize_axes(axis, x.ndim)[0]
        self.index = (slice(None),) * self.axis + (slice(start, stop),)
        return x[self.index]

    def backward(self, grad):
        full = np.zeros(self.shape, dtype=grad.dtype)
        full[self.index] = grad
        return full

    def tensor_backward(self, grad, out):
        piece = self.index[-1]
        widths = [(0, 0)] * len(self.shape)
        widths[self.axis] = (piece.start, self.shape[self.axis] - piece.stop)
        return Pad.apply(grad, pad_width=tuple(widths))


class Pad(Function):
    """x with ``value`` added around it; ``pad_width`` as numpy's: an int, (before, after)
    for every axis, or one (before, after) per axis.

    Rule: dx = the middle part of dy (where x went).
    """

    def forward(self, x, pad_width, value=0.0):
        widths = np.asarray(pad_width)
        if widths.size == 0:  # () for a 0-d tensor
            widths = np.zeros((0, 2), dtype=np.int64)
        if widths.dtype.kind not in "iu" or widths.ndim > 2:
            raise ValueError(f"pad: pad_width must be integers, got {pad_width!r}")
        try:
            widths = np.broadcast_to(widths, (x.ndim, 2))
        except ValueError:
            raise ValueError(
                f"pad: pad_width {pad_width!r} does not fit the {x.ndim} axes of shape {x.shape}"
            ) from None
        if (widths < 0).any():
            raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
        if not isinstance(value, (Real, np.number)) or isinstance(value, bool):
            raise ValueError(f"pad: value must be a number, got {value!r}")
        self.index = tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, x.shape))
        if x.ndim == 0:  # nothing to pad (np.pad refuses 0-d arrays)
            return x.copy()
        return np.pad(x, widths, constant_values=value)

    def backward(self, grad):
        return grad[self.index]

    def tensor_backward(self, grad, out):
        for axis, part in enumerate(self.index):  # the middle, one axis at a time
            if part.start or part.stop != grad.shape[axis]:
                grad = Split.apply(grad, axis=axis, start=part.start, stop=part.stop)
        return grad
