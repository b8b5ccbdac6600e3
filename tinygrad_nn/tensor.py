"""Tensor: a numpy array that remembers the operation that made it.

Every operator and method is a one-line call into an op of ``ops.py``; sub, neg, div, mean
and softmax are composed from those primitives.
"""

from __future__ import annotations

import weakref
from numbers import Number
from typing import Any

import numpy as np

from . import autograd, ops

__all__ = ["Tensor", "get_default_dtype", "set_default_dtype", "softmax_cross_entropy"]

_default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype for Python numbers, lists and integer arrays (float32 at start)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a float dtype, got {dt}")
    _default_dtype = dt


def get_default_dtype() -> np.dtype:
    """The float dtype new tensors get from Python numbers, lists and integer arrays."""
    return _default_dtype


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"Tensor: dtype must be a float dtype, got {dt}")
        try:
            return np.asarray(data, dtype=dt)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"Tensor: cannot make a {dt} tensor from {type(data).__name__}: {err}"
            ) from None
    keeps_dtype = isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind == "f"
    arr = np.asarray(data)
    if keeps_dtype:
        return arr
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: cannot make a tensor from {type(data).__name__} (numpy dtype {arr.dtype}); "
            "give numbers, nested lists of numbers or a numeric array"
        )
    return arr.astype(_default_dtype)


def _is_operand(x: Any) -> bool:
    return isinstance(x, (Tensor, np.ndarray, np.generic, Number)) and not isinstance(x, bool)


def _lift(x: Any, like: Tensor) -> Any:
    """Python numbers take the other operand's dtype (numpy's weak scalars)."""
    if isinstance(x, Number) and not isinstance(x, (np.generic, bool)):
        return Tensor(np.asarray(x, dtype=like.dtype))
    return x


def _index_to_numpy(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index._data.astype(np.intp) if index.dtype.kind == "f" else index._data
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(_index_to_numpy(i) for i in index)
    return index


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    ``data`` is anything ``np.asarray`` takes. Python numbers, lists and integer or bool
    arrays become the default float dtype (float32, see :func:`set_default_dtype`); numpy
    float arrays keep theirs. ``requires_grad=True`` makes it a leaf whose ``.grad`` is
    filled by ``backward()``.
    """

    __slots__ = ("_data", "grad", "requires_grad", "name", "op", "_version", "__weakref__")
    __array_ufunc__ = None  # make numpy defer to our reflected operators: arr + t -> Tensor
    #: counts in-place modifications of all tensors; a tensor's ``_version`` is this count at
    #: its own last modification, so backward checks inputs only when the count moved
    _edit_count = 0

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self._data = _to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.op: autograd.Function | None = None
        self._version = 0

    @classmethod
    def _from_op(cls, data: np.ndarray, op: autograd.Function | None) -> Tensor:
        t = cls.__new__(cls)
        t._data = data
        t.grad = None
        t.requires_grad = op is not None
        t.name = None
        t.op = op
        t._version = 0
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def data(self) -> np.ndarray:
        """The values, a numpy array. Assigning (also ``t.data -= x``) bumps the version."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if autograd._state.tracer is not None:
            autograd.check_untraced_write(self)
        self._data = value if isinstance(value, np.ndarray) else np.asarray(value, self.dtype)
        Tensor._edit_count += 1
        self._version = Tensor._edit_count

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (inputs, parameters, constants)."""
        return self.op is None

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", threshold=20, precision=4)
        parts = [f"dtype={self.dtype}"]
        if self.requires_grad:
            parts.append("requires_grad=True")
        if self.name:
            parts.append(f"name={self.name!r}")
        if self.op is not None:
            parts.append(f"op={self.op.name}")
        if self._data.size > 20:
            parts.insert(0, f"shape={self.shape}")
        return f"Tensor({body}, {', '.join(parts)})"

    # ------------------------------------------------------------------ graph
    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied)."""
        return self._data

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self._data.size != 1:
            raise ValueError(f"item: tensor of shape {self.shape} has {self.size} elements, not 1")
        return self._data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this data, cut from the graph."""
        return Tensor(self._data, name=self.name)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if self.op is not None:
            self.op._retained = weakref.ref(self)
        return self

    @autograd.traced_call
    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor, accumulating into ``.grad`` of the leaves.

        ``grad`` defaults to 1 for a one-element tensor; otherwise pass d(loss)/d(self).
        Saved arrays are freed afterwards unless ``retain_graph=True``.
        """
        autograd.backward(self, grad, retain_graph)

    # ------------------------------------------------------------------ elementwise
    def add(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other if type(other) is Tensor else _lift(other, self))

    def mul(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other if type(other) is Tensor else _lift(other, self))

    def neg(self) -> Tensor:
        return ops.Mul.apply(self, Tensor(np.asarray(-1, dtype=self.dtype)))

    def sub(self, other: Any) -> Tensor:
        return self.add(-_as_tensor(other, self))

    def div(self, other: Any) -> Tensor:
        return self.mul(_as_tensor(other, self) ** -1)

    def pow(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("pow: the exponent must be a Python number, not a Tensor")
        if not isinstance(exponent, Number) or isinstance(exponent, bool):
            raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
        return ops.Pow.apply(self, exponent=exponent)

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        axes = ops._normalize_axes(axis, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axis, keepdims) * (1.0 / count)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, axes: Any = None) -> Tensor:
        return ops.Transpose.apply(self, axes=axes)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=_index_to_numpy(index))

    # ------------------------------------------------------------------ matmul, softmax, loss
    def matmul(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.LogSoftmax.apply(self, axis=axis)

    def softmax(self, axis: int = -1) -> Tensor:
        return self.log_softmax(axis).exp()

    def softmax_cross_entropy(self, targets: Any) -> Tensor:
        """Mean cross-entropy of logits (N, K) against integer classes (N,)."""
        return softmax_cross_entropy(self, targets)

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Tensor:
        if type(other) is Tensor:
            return ops.Add.apply(self, other)
        return self.add(other) if _is_operand(other) else NotImplemented

    def __radd__(self, other: Any) -> Tensor:
        return _as_tensor(other, self).add(self) if _is_operand(other) else NotImplemented

    def __sub__(self, other: Any) -> Tensor:
        return self.sub(other) if _is_operand(other) else NotImplemented

    def __rsub__(self, other: Any) -> Tensor:
        return _as_tensor(other, self).sub(self) if _is_operand(other) else NotImplemented

    def __mul__(self, other: Any) -> Tensor:
        if type(other) is Tensor:
            return ops.Mul.apply(self, other)
        return self.mul(other) if _is_operand(other) else NotImplemented

    def __rmul__(self, other: Any) -> Tensor:
        return _as_tensor(other, self).mul(self) if _is_operand(other) else NotImplemented

    def __truediv__(self, other: Any) -> Tensor:
        return self.div(other) if _is_operand(other) else NotImplemented

    def __rtruediv__(self, other: Any) -> Tensor:
        return _as_tensor(other, self).div(self) if _is_operand(other) else NotImplemented

    def __matmul__(self, other: Any) -> Tensor:
        if type(other) is Tensor:
            return ops.MatMul.apply(self, other)
        return self.matmul(other) if _is_operand(other) else NotImplemented

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self) if _is_operand(other) else NotImplemented

    def __neg__(self) -> Tensor:
        return self.neg()

    def __pow__(self, exponent: Any) -> Tensor:
        return self.pow(exponent)

    def __rpow__(self, base: Any) -> Tensor:
        # p ** t = exp(t log p), defined for a positive number p
        if not isinstance(base, Number) or isinstance(base, bool) or not base > 0:
            raise TypeError(
                f"pow: the base of number ** Tensor must be a positive number, got {base!r}"
            )
        return (self * float(np.log(base))).exp()


def _as_tensor(x: Any, like: Tensor) -> Tensor:
    x = _lift(x, like)
    return x if isinstance(x, Tensor) else Tensor(x)


def softmax_cross_entropy(logits: Tensor, targets: Any) -> Tensor:
    """Mean over N of ``-log softmax(logits)[n, targets[n]]``, one fused stable op.

    logits: (N, K); targets: (N,) integer class indices as a list, array or Tensor.
    The gradient with respect to logits is ``(softmax - onehot) / N``.
    """
    if isinstance(targets, Tensor):
        targets = targets._data
    return ops.SoftmaxCrossEntropy.apply(logits, targets=targets)


autograd.register_tensor_type(Tensor)
