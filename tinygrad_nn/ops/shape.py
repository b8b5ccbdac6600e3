"""Shape ops: reshape, transpose, getitem. Gradients move values back to where they came from.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = ["GetItem", "Reshape", "Transpose"]


class Reshape(Function):
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


class Transpose(Function):
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
    """x[index]; for integer-array indices repeated elements get their gradients summed."""

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
