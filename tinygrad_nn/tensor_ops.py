"""Tensor methods beyond the core set: math, comparisons, reductions, shapes, activations.

``Tensor`` inherits them from :class:`TensorOps`; each is a one-line call into an op of
``ops/`` (the core methods such as ``add`` or ``sum`` are in ``tensor.py``). Function forms
(``where``, ``cat``, ``stack``, ``maximum``, ``gelu``...) are in ``tinygrad_nn.functional``.
"""

from __future__ import annotations

from numbers import Number
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ops
from .ops.join import split_bounds

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["TensorOps"]


def _comparable(x: Any) -> bool:
    return isinstance(x, (TensorOps, np.ndarray, np.generic, Number))


class TensorOps:
    """The extended op methods of :class:`~tinygrad_nn.tensor.Tensor` (a mixin)."""

    __slots__ = ()

    # ------------------------------------------------------------------ elementwise math
    def sqrt(self) -> Tensor:
        """Elementwise square root, same shape."""
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        """Elementwise |x|, same shape (gradient 0 at 0)."""
        return ops.Abs.apply(self)

    def __abs__(self) -> Tensor:
        return ops.Abs.apply(self)

    def sign(self) -> Tensor:
        """Elementwise -1, 0 or 1, same shape and dtype; no gradient."""
        return ops.Sign.apply(self)

    def log1p(self) -> Tensor:
        """Elementwise log(1 + x), accurate near 0."""
        return ops.Log1p.apply(self)

    def expm1(self) -> Tensor:
        """Elementwise e^x - 1, accurate near 0."""
        return ops.Expm1.apply(self)

    def sin(self) -> Tensor:
        """Elementwise sine."""
        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        """Elementwise cosine."""
        return ops.Cos.apply(self)

    def erf(self) -> Tensor:
        """Elementwise error function, 2 / sqrt(pi) * integral of e^(-t^2) from 0 to x."""
        return ops.Erf.apply(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Values limited to [min, max] (numbers; either may be None), same shape."""
        return ops.Clip.apply(self, min=min, max=max)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max(self, other) with broadcasting; ties split the gradient."""
        return ops.Maximum.apply(self, other)

    def minimum(self, other: Any) -> Tensor:
        """Elementwise min(self, other) with broadcasting; ties split the gradient."""
        return ops.Minimum.apply(self, other)

    # ------------------------------------------------------------------ comparisons
    # Bool masks of the broadcast shape, never requiring grad. Tensors stay hashable by
    # identity (dict keys in viz and compile), so ``==`` builds a mask, not a bool.
    __hash__ = object.__hash__

    def __lt__(self, other: Any) -> Tensor:
        return ops.Less.apply(self, other) if _comparable(other) else NotImplemented

    def __le__(self, other: Any) -> Tensor:
        return ops.LessEqual.apply(self, other) if _comparable(other) else NotImplemented

    def __gt__(self, other: Any) -> Tensor:
        return ops.Greater.apply(self, other) if _comparable(other) else NotImplemented

    def __ge__(self, other: Any) -> Tensor:
        return ops.GreaterEqual.apply(self, other) if _comparable(other) else NotImplemented

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return ops.Equal.apply(self, other) if _comparable(other) else NotImplemented

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return ops.NotEqual.apply(self, other) if _comparable(other) else NotImplemented

    # ------------------------------------------------------------------ reductions
    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis`` (an int, a tuple, or None for all); ties share the gradient."""
        return ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """int64 index of the maximum along ``axis`` (into the flattened tensor when None);
        the first at ties; no gradient."""
        return ops.Argmax.apply(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """int64 index of the minimum along ``axis`` (flattened when None); no gradient."""
        return ops.Argmin.apply(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Product over ``axis``; the gradient is exact where elements are 0."""
        return ops.Prod.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, ddof: float = 0, keepdims: bool = False) -> Tensor:
        """Variance over ``axis``, dividing by n - ddof (numpy's default ddof=0; ddof=1 is
        PyTorch's unbiased default)."""
        return ops.Var.apply(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, ddof: float = 0, keepdims: bool = False) -> Tensor:
        """Standard deviation over ``axis`` (sqrt of :meth:`var` with the same ddof)."""
        return ops.Std.apply(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """log(sum(exp(self))) over ``axis``, computed without overflow."""
        return ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------------ shape
    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Axes ``start_axis``..``end_axis`` merged into one: (2, 3, 4) -> (24,), or
        ``flatten(1)`` -> (2, 12)."""
        return ops.Flatten.apply(self, start_axis=start_axis, end_axis=end_axis)

    def squeeze(self, axis: Any = None) -> Tensor:
        """Size-1 axes removed (all, or those in ``axis``, which must have size 1)."""
        return ops.Squeeze.apply(self, axis=axis)

    def unsqueeze(self, axis: Any) -> Tensor:
        """A size-1 axis inserted at ``axis``: (2, 3).unsqueeze(1) -> (2, 1, 3)."""
        return ops.Unsqueeze.apply(self, axis=axis)

    def expand(self, *shape: int) -> Tensor:
        """Broadcast to ``shape`` (-1 keeps an axis; new axes in front): (3, 1) -> (2, 3, 4)."""
        return ops.Expand.apply(self, shape=_shape_args(shape))

    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        """``value`` added around the tensor; ``pad_width`` as numpy's (an int, (before,
        after), or one pair per axis): (2, 3).pad(1) -> (4, 5)."""
        return ops.Pad.apply(self, pad_width=pad_width, value=value)

    def flip(self, axis: Any = None) -> Tensor:
        """Elements in reverse order along ``axis`` (all axes when None)."""
        return ops.Flip.apply(self, axis=axis)

    def permute(self, *axes: int) -> Tensor:
        """Axes reordered, ``t.permute(2, 0, 1)`` or ``t.permute((2, 0, 1))``: result axis i
        is axis ``axes[i]`` of self."""
        return ops.Permute.apply(self, axes=_shape_args(axes))

    def split(self, sections: Any, axis: int = 0) -> list[Tensor]:
        """Pieces along ``axis``: ``sections`` is a piece length (the last may be shorter) or
        a list of lengths adding up to the axis' length (PyTorch's ``split``)."""
        bounds = split_bounds(self.shape, sections, axis)
        return [ops.Split.apply(self, axis=axis, start=a, stop=b) for a, b in bounds]

    # ------------------------------------------------------------------ activations
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """x for x > 0, ``negative_slope`` * x otherwise; same shape."""
        return ops.LeakyRelu.apply(self, negative_slope=negative_slope)

    def elu(self, alpha: float = 1.0) -> Tensor:
        """x for x > 0, alpha (e^x - 1) otherwise; same shape."""
        return ops.Elu.apply(self, alpha=alpha)

    def gelu(self, approximate: str = "none") -> Tensor:
        """x Phi(x) (Phi the normal CDF; ``approximate="tanh"`` for the tanh form)."""
        return ops.Gelu.apply(self, approximate=approximate)

    def silu(self) -> Tensor:
        """x * sigmoid(x) (swish); same shape."""
        return ops.Silu.apply(self)

    def softplus(self, beta: float = 1.0) -> Tensor:
        """log(1 + e^(beta x)) / beta, without overflow; same shape."""
        return ops.Softplus.apply(self, beta=beta)


def _shape_args(args: tuple) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both give (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return args
