"""Shape ops: reshape, transpose, getitem. Gradients move values back to where they came from.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = ["GetItem", "Reshape", "Transpose"]


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


class GetItem(Function):
    """x[index]; for integer-array indices repeated elements get their gradients summed.

    Rule: dx = dy put back where it was taken from (repeats add up), 0 elsewhere.
    """

    name = "getitem"

    def forward(self, x, index):
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
