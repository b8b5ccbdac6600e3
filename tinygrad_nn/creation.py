"""Constructors: ``Tensor.zeros/ones/full/randn/rand/arange/eye`` and the ``*_like`` forms.

``Tensor`` inherits them from :class:`TensorCreation`. Each takes ``dtype`` (the default
float dtype when None, see ``set_default_dtype``; the other tensor's dtype for ``*_like``)
and ``requires_grad``; the random ones take ``rng``: a ``np.random.Generator``, an int
seed or None (fresh entropy), so ``Tensor.randn(3, rng=0)`` is the same on every run.
"""

from __future__ import annotations

from numbers import Number
from typing import TYPE_CHECKING, Any

import numpy as np

from .tensor_ops import _shape_args

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["TensorCreation", "make_rng"]


def _shape(name: str, args: tuple) -> tuple[int, ...]:
    shape = _shape_args(args)
    for n in shape:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"{name}: shape must be integers, got {shape!r}")
        if n < 0:
            raise ValueError(f"{name}: negative dimension in shape {tuple(shape)}")
    return tuple(int(n) for n in shape)


def make_rng(rng: Any) -> np.random.Generator:
    """A ``np.random.Generator`` from a Generator, an int seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _dtype(cls: Any, name: str, dtype: Any, like: Any = None, floating: bool = False) -> np.dtype:
    if dtype is None and like is not None:
        dt = np.asarray(like).dtype
    else:
        dt = cls._default_float_dtype() if dtype is None else np.dtype(dtype)
    if floating and dt.kind != "f":
        raise TypeError(f"{name}: dtype must be a float dtype, got {dt}")
    return dt


def _number(name: str, value: Any) -> Any:
    if not isinstance(value, (Number, np.generic)):
        raise TypeError(f"{name}: fill_value must be a number, got {value!r}")
    return value


class TensorCreation:
    """Constructors of :class:`~tinygrad_nn.tensor.Tensor` (a mixin of classmethods)."""

    __slots__ = ()

    @staticmethod
    def _default_float_dtype() -> np.dtype:
        """The dtype when none is given; ``Tensor`` answers with ``get_default_dtype()``
        (this module cannot import ``tensor.py``, which imports it)."""
        raise NotImplementedError

    @classmethod
    def zeros(cls, *shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of ``shape``: ``Tensor.zeros(2, 3)`` or ``Tensor.zeros((2, 3))``."""
        dt = _dtype(cls, "zeros", dtype)
        return cls(np.zeros(_shape("zeros", shape), dt), requires_grad=requires_grad, dtype=dt)

    @classmethod
    def ones(cls, *shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Ones of ``shape``: ``Tensor.ones(2, 3)`` or ``Tensor.ones((2, 3))``."""
        dt = _dtype(cls, "ones", dtype)
        return cls(np.ones(_shape("ones", shape), dt), requires_grad=requires_grad, dtype=dt)

    @classmethod
    def full(
        cls, shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """``fill_value`` everywhere in ``shape`` (an int or a tuple)."""
        dt = _dtype(cls, "full", dtype)
        data = np.full(_shape("full", (shape,)), _number("full", fill_value), dt)
        return cls(data, requires_grad=requires_grad, dtype=dt)

    @classmethod
    def randn(
        cls, *shape: Any, dtype: Any = None, requires_grad: bool = False, rng: Any = None
    ) -> Tensor:
        """Standard normal samples of ``shape`` (drawn in float64, then cast)."""
        dt = _dtype(cls, "randn", dtype, floating=True)
        data = make_rng(rng).standard_normal(_shape("randn", shape)).astype(dt)
        return cls(data, requires_grad=requires_grad, dtype=dt)

    @classmethod
    def rand(
        cls, *shape: Any, dtype: Any = None, requires_grad: bool = False, rng: Any = None
    ) -> Tensor:
        """Uniform samples in [0, 1) of ``shape`` (drawn in float64, then cast)."""
        dt = _dtype(cls, "rand", dtype, floating=True)
        data = make_rng(rng).random(_shape("rand", shape)).astype(dt)
        return cls(data, requires_grad=requires_grad, dtype=dt)

    @classmethod
    def arange(
        cls,
        start: float,
        stop: float | None = None,
        step: float = 1,
        dtype: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """start, start + step, ... below stop, 1-D (``arange(5)`` counts from 0), in the
        default float dtype unless ``dtype`` (``dtype=np.int64`` for integers)."""
        for label, v in (("start", start), ("stop", stop), ("step", step)):
            if v is not None and (not isinstance(v, (Number, np.generic)) or isinstance(v, bool)):
                raise TypeError(f"arange: {label} must be a number, got {v!r}")
        if step == 0:
            raise ValueError("arange: step must not be 0")
        dt = _dtype(cls, "arange", dtype)
        data = np.arange(0, start, step) if stop is None else np.arange(start, stop, step)
        return cls(data.astype(dt), requires_grad=requires_grad, dtype=dt)

    @classmethod
    def eye(
        cls, n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """The (n, m) identity matrix (m = n when None): ones on the diagonal."""
        rows, cols = _shape("eye", (n, n if m is None else m))
        dt = _dtype(cls, "eye", dtype)
        return cls(np.eye(rows, cols, dtype=dt), requires_grad=requires_grad, dtype=dt)

    @classmethod
    def zeros_like(cls, other: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of ``other``'s shape (a Tensor or array), in its dtype unless ``dtype``."""
        return cls.full_like(other, 0, dtype=dtype, requires_grad=requires_grad)

    @classmethod
    def ones_like(cls, other: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Ones of ``other``'s shape, in its dtype unless ``dtype``."""
        return cls.full_like(other, 1, dtype=dtype, requires_grad=requires_grad)

    @classmethod
    def full_like(
        cls, other: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """``fill_value`` everywhere in ``other``'s shape, in its dtype unless ``dtype``."""
        like = getattr(other, "_data", other)
        dt = _dtype(cls, "full_like", dtype, like)
        data = np.full(np.shape(like), _number("full_like", fill_value), dt)
        return cls(data, requires_grad=requires_grad, dtype=dt)

    @classmethod
    def randn_like(
        cls, other: Any, dtype: Any = None, requires_grad: bool = False, rng: Any = None
    ) -> Tensor:
        """Standard normal samples of ``other``'s shape, in its dtype unless ``dtype``."""
        like = getattr(other, "_data", other)
        dt = _dtype(cls, "randn_like", dtype, like, floating=True)
        data = make_rng(rng).standard_normal(np.shape(like)).astype(dt)
        return cls(data, requires_grad=requires_grad, dtype=dt)

    @classmethod
    def rand_like(
        cls, other: Any, dtype: Any = None, requires_grad: bool = False, rng: Any = None
    ) -> Tensor:
        """Uniform [0, 1) samples of ``other``'s shape, in its dtype unless ``dtype``."""
        like = getattr(other, "_data", other)
        dt = _dtype(cls, "rand_like", dtype, like, floating=True)
        data = make_rng(rng).random(np.shape(like)).astype(dt)
        return cls(data, requires_grad=requires_grad, dtype=dt)
