"""Tensor: a numpy array that remembers the operation that made it.

Every operator and method is a one-line call into an op of ``ops.py``. ``Tensor._apply``
is where an op runs: inputs become Tensors, ``forward`` runs on their arrays, and when
grad is recorded the result points at the op (``result.op``) and the op at its inputs.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from numbers import Number
from typing import Any

import numpy as np

from . import autograd, higher_order, holding, ops
from .autograd import Function
from .creation import TensorCreation
from .gradmode import _state
from .holding import ArrayHold, HeldArray
from .hooks import VersionClock, hooks_state, stateful
from .tensor_ops import TensorOps

__all__ = [
    "Tensor",
    "Composite",
    "composite",
    "current_scope",
    "get_default_dtype",
    "pop_scope",
    "push_scope",
    "scope",
    "scope_name",
    "set_default_dtype",
    "softmax_cross_entropy",
]

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
    """Tensor data: float arrays keep their dtype, bool data stays a bool mask, other
    numbers become the default float dtype; ``dtype`` (float, integer or bool) forces one."""
    if isinstance(data, Tensor):
        data._escape()
        data = data._data
    elif isinstance(data, HeldArray):  # t.data of a held tensor: share t's own array
        data = data.source if data.source is not None else np.array(data)
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind not in "fiub":
            raise TypeError(f"Tensor: dtype must be a float, integer or bool dtype, got {dt}")
        try:
            return np.asarray(data, dtype=dt)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"Tensor: cannot make a {dt} tensor from {type(data).__name__}: {err}"
            ) from None
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind in "fb":
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"Tensor: cannot make a tensor from {type(data).__name__} (numpy dtype {arr.dtype}); "
            "give numbers, nested lists of numbers or a numeric array"
        )
    return arr.astype(_default_dtype)


def _is_operand(x: Any) -> bool:
    return isinstance(x, (Tensor, np.ndarray, np.generic, Number)) and not isinstance(x, bool)


def _operand(x: Any, like: Tensor | None) -> Tensor:
    """A Tensor for the non-Tensor side of an op. Python numbers take the float dtype of
    the other operand (numpy's weak scalars), so ``t * 0.5`` keeps ``t``'s float32."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, Number) and not isinstance(x, (np.generic, bool)):
        kind = like._data.dtype
        return Tensor(x, dtype=kind if kind.kind == "f" else _default_dtype)
    return Tensor(x)


def _index_array(index: Any) -> Any:
    """One index item as numpy takes it; a float Tensor must hold whole numbers."""
    if isinstance(index, Tensor):
        data = index._data
        if data.dtype.kind == "f":
            if not (np.all(np.isfinite(data)) and np.all(data == np.round(data))):
                bad = data[~(np.isfinite(data) & (data == np.round(data)))].ravel()[0]
                raise IndexError(
                    f"getitem: index tensor holds the non-integer value {bad!r}; "
                    "index with integers or a boolean mask"
                )
            return data.astype(np.intp)
        return data
    if isinstance(index, list):
        arr = np.asarray(index)
        # numpy reads an empty list as no positions, but asarray makes it float
        return arr.astype(np.intp) if arr.size == 0 and arr.dtype.kind == "f" else arr
    if isinstance(index, tuple):
        return tuple(_index_array(i) for i in index)
    return index


# ----------------------------------------------------------------------------- scopes


class _Scopes(threading.local):
    def __init__(self) -> None:
        self.stack: tuple = ()


_scopes = _Scopes()


def current_scope() -> tuple:
    """The modules and composites the current op runs in, outermost first (per thread)."""
    return _scopes.stack


def scope_name(scope: tuple) -> str:
    """The dotted path of the innermost module (or composite) in ``scope``, or ``"top level"``."""
    if not scope:
        return "top level"
    inner = scope[-1]
    return getattr(inner, "scope_name", type(inner).__name__)


def push_scope(entry: Any) -> tuple:
    """Enter ``entry`` (as :func:`scope` does); returns what :func:`pop_scope` restores."""
    saved = _scopes.stack
    _scopes.stack = saved + (entry,)
    return saved


def pop_scope(saved: tuple) -> None:
    """Leave the scope entered by the :func:`push_scope` that returned ``saved``."""
    _scopes.stack = saved


@contextlib.contextmanager
def scope(entry: Any) -> Iterator[None]:
    """Ops made inside record that they ran in ``entry`` (a Module, or a :class:`Composite`).

    Drawings group them by it; anomaly messages name the innermost one.
    """
    saved = _scopes.stack
    _scopes.stack = saved + (entry,)
    try:
        yield
    finally:
        _scopes.stack = saved


class Composite:
    """A scope entry for an operation written with other ops (``var``, a loss): drawings
    show it as one node named ``name`` and its errors are reported under that name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def scope_name(self) -> str:
        """The name errors and drawings use for this scope."""
        return self.name

    def extra_repr(self) -> str:
        """The name, so a drawing labels the composite's cluster ``Composite(name)``."""
        return self.name

    def __repr__(self) -> str:
        return f"Composite({self.name!r})"


def composite(fn: Callable | None = None, *, name: str | None = None) -> Callable:
    """Decorate a function built from Tensor ops so that it reads as one op.

    Its ops are recorded inside a :class:`Composite` scope named after the function (or
    ``name``), and a ``ValueError`` raised by one of them names the composite instead::

        @composite
        def mse(pred, target):
            return ((pred - target) ** 2).mean()
    """

    def wrap(f: Callable) -> Callable:
        label = name or f.__name__

        @functools.wraps(f)
        def run(*args: Any, **kwargs: Any) -> Any:
            saved = _scopes.stack
            _scopes.stack = saved + (Composite(label),)
            try:
                return f(*args, **kwargs)
            except ValueError as err:
                head, sep, rest = str(err).partition(": ")
                if head == label:
                    raise
                inner = rest if sep and " " not in head else str(err)  # drop "sub: "
                raise ValueError(f"{label}: {inner}") from None
            finally:
                _scopes.stack = saved

        return run

    return wrap(fn) if fn is not None else wrap


# ----------------------------------------------------------------------------- Tensor


class Tensor(TensorOps, TensorCreation):
    """An n-dimensional array with reverse-mode automatic differentiation.

    ``data`` is anything ``np.asarray`` takes. Python numbers, lists and integer arrays
    become the default float dtype (float32, see :func:`set_default_dtype`); numpy float
    arrays keep theirs (and share memory); bool data stays a bool mask. ``dtype`` forces a
    float, integer or bool dtype. ``requires_grad=True`` (float tensors only) makes it a
    leaf whose ``.grad`` is filled by ``backward()``.

    The core methods are here; math, comparisons, more reductions, shapes and activations
    come from :class:`~tinygrad_nn.tensor_ops.TensorOps`, the constructors (``zeros``,
    ``randn``, ...) from :class:`~tinygrad_nn.creation.TensorCreation`. Comparisons give
    bool masks, so ``a == b`` is elementwise; Tensors still hash by identity.
    """

    __slots__ = (
        "_data",
        "grad",
        "requires_grad",
        "name",
        "op",
        "_version",
        "_holds",
        "_holder",
        "_locked",
        "__weakref__",
    )
    __array_ufunc__ = None  # make numpy defer to our reflected operators: arr + t -> Tensor

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self._data = _to_array(data, dtype)
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only float tensors can require grad, got dtype {self._data.dtype}"
            )
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.op: Function | None = None
        self._version = 0
        self._holds = 0
        self._locked: np.ndarray | None = None
        if hooks_state.hooks:
            for hook in hooks_state.hooks:
                hook.on_tensor(self, data)

    @staticmethod
    def _default_float_dtype() -> np.dtype:
        """The dtype of constructors called without one (``Tensor.zeros(3)``)."""
        return _default_dtype

    @classmethod
    def _from_op(cls, data: np.ndarray, op: Function | None) -> Tensor:
        t = cls.__new__(cls)
        t._data = data
        t.grad = None
        t.requires_grad = op is not None
        t.name = None
        t.op = op
        t._version = 0
        t._holds = 0
        t._locked = None
        return t

    @classmethod
    def _apply(cls, fn_cls: type[Function], inputs: tuple, settings: dict) -> Tensor:
        """Run ``fn_cls`` on ``inputs`` (Tensors, arrays or numbers) and wrap its result;
        record it when grad is enabled and some input requires grad."""
        tensors = inputs
        for x in inputs:
            if type(x) is not Tensor:
                like = next((t for t in inputs if isinstance(t, Tensor)), None)
                tensors = tuple([_operand(t, like) for t in inputs])
                break
        fn = fn_cls()
        record = False
        if _state.grad_enabled:
            for t in tensors:
                if t.requires_grad:
                    record = True
                    break
        if record:
            fn.needs_input_grad = tuple([t.requires_grad for t in tensors])
        try:
            out = fn.forward(*[t._data for t in tensors], **settings)
        except ValueError as err:
            raise _shape_error(fn_cls.name, tensors, err) from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if record:
            fn.record(tensors, _scopes.stack)
            result = cls._from_op(out, fn)
        else:
            result = cls._from_op(out, None)
            if out.base is not None:  # a view (under no_grad): of an array a graph holds?
                _hold_views(tensors, out)
        for hook in hooks_state.hooks:
            hook.on_forward(fn, tensors, settings, result)
        return result

    # ------------------------------------------------------------------ holding
    def _escape(self) -> None:
        """This tensor's array is about to be shared outside the graph (``detach()``,
        ``Tensor(t)``): while the op that made it can still run backward, lock it."""
        op = self.op
        if op is None or op._released or type(op._held) is not list:
            return
        data = self._data
        if not any(type(h) is ArrayHold and h.array is data for h in op._held):  # once is enough
            op._held.append(ArrayHold(data, op.name))

    def _label(self) -> str:
        return f"tensor '{self.name}'" if self.name else f"a tensor of shape {self.shape}"

    def _held_view(self) -> np.ndarray:
        view = self._data.view(HeldArray)
        view.setflags(write=False)
        view.source = self._data
        if self._holds:
            holder = getattr(self, "_holder", None)
        elif self.op is not None and not self.op._released:
            holder = self.op.name
        else:  # its array is shared with a tensor that is held
            holder = holding.holder(self._data)
        view.message = (
            f"{self._label()} is held for backward by '{holder}': writing into it now would "
            "make the gradients wrong. Call backward() first, or write into a copy."
        )
        return view

    def _begin_update(self) -> np.ndarray:
        """The array, writable, for an in-place update by its owner (an optimizer,
        ``load_state_dict``); :meth:`_end_update` follows. Held by this tensor's own graph
        is fine (that graph's backward then refuses, by the version check); held through
        another tensor sharing the array raises before anything is written, since that
        graph's gradients would silently change."""
        data = self._data
        locked = self._locked
        if locked is not None and not holding.shared(locked):
            locked.setflags(write=True)  # held by our own graph only: its backward will refuse
            if locked is data:
                return data
        if id(data) in holding.locks:
            raise RuntimeError(
                f"{self._label()} cannot be updated in place: its array is held for backward "
                f"by '{holding.holder(data)}' through a tensor sharing it; run that backward() "
                "or drop that graph first"
            )
        return data

    def _end_update(self, version: int) -> None:
        """Lock again if held, and record the edit: backward through an older graph raises."""
        if self._locked is not None:
            self._locked.setflags(write=False)
        self._version = version

    def _is_held(self) -> bool:
        if self._holds > 0 or (self.op is not None and not self.op._released):
            return True
        return id(self._data) in holding.locks

    # ------------------------------------------------------------------ attributes
    @property
    def data(self) -> np.ndarray:
        """The values, a numpy array, shared with the tensor.

        While a recorded op holds the tensor for backward the array is read-only, and a
        write raises an error naming the tensor and the op. Assigning ``t.data = x``
        casts ``x`` to the tensor's dtype and counts as an in-place change: backward
        through a graph made before it raises. A read-only ``x`` is copied, so that the
        tensor's owner (an optimizer) can still update it in place.
        """
        return self._held_view() if self._is_held() else self._data

    @data.setter
    def data(self, value: Any) -> None:
        for hook in hooks_state.hooks:
            hook.on_write(self)
        if isinstance(value, HeldArray):  # u.data = t.data while t is held: share t's array
            value = value.source if value.source is not None else np.array(value)
        arr = np.asarray(value)
        if arr.dtype != self._data.dtype:
            if arr.dtype.kind not in "biuf":
                raise TypeError(
                    f"data: cannot store {arr.dtype} values in a {self._data.dtype} tensor"
                )
            arr = arr.astype(self._data.dtype)
        elif not arr.flags.writeable and id(arr) not in holding.locks:
            arr = arr.copy()
        self._data = arr
        self._version = VersionClock.tick()

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype."""
        return self._data.dtype

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self._data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self._data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (inputs, parameters, constants)."""
        return self.op is None

    @property
    def T(self) -> Tensor:
        """The transpose (all axes reversed)."""
        return self.transpose()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.size} elements is ambiguous; "
                "use .any() or .all() on .numpy()"
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """numpy sees the values (``np.asarray(t)``); the result is outside the graph.
        While the op that made this tensor can still run backward it is a read-only view."""
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        data = self._data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            return data.astype(dtype)
        if self.op is not None and not self.op._released:
            data = data.view()
            data.flags.writeable = False
        return data

    def __reduce__(self) -> tuple:
        """Pickled and copied as a leaf: values, dtype, ``requires_grad``, name and grad.
        The graph is not kept (nor whether a graph holds the tensor)."""
        return _rebuild, (self._data, self.requires_grad, self.name, self.grad)

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
        """The data as a numpy array (shared, not copied; read-only while held, as ``.data``)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: tensor of shape {self.shape} has {self.size} elements, not 1")
        return self._data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this data, cut from the graph (read-only while this tensor's
        graph can still run backward through it)."""
        self._escape()
        return Tensor(self._data, name=self.name)

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if self.op is not None:
            self.op._retained = weakref.ref(self)
        return self

    @stateful
    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    def backward(
        self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Backpropagate from this tensor, accumulating into ``.grad`` of the leaves.

        ``grad`` defaults to 1 for a one-element tensor; otherwise pass d(loss)/d(self).
        Saved arrays are freed afterwards unless ``retain_graph=True``. With
        ``create_graph=True`` the gradients are recorded too (``.grad_tensor``), so they can
        be differentiated again, and the graph is kept (see ``higher_order``).
        """
        if create_graph:
            higher_order.backward(self, grad)
            return
        autograd.backward(self, grad, retain_graph)

    @property
    def grad_tensor(self) -> Tensor | None:
        """The gradient as a Tensor with a graph, after ``backward(create_graph=True)``;
        None otherwise, or once ``.grad`` has changed since."""
        return higher_order.grad_tensor(self)

    # ------------------------------------------------------------------ elementwise
    def add(self, other: Any) -> Tensor:
        """self + other, with numpy broadcasting."""
        return ops.Add.apply(self, other)

    def sub(self, other: Any) -> Tensor:
        """self - other, with numpy broadcasting."""
        return ops.Sub.apply(self, other)

    def mul(self, other: Any) -> Tensor:
        """self * other, with numpy broadcasting."""
        return ops.Mul.apply(self, other)

    def div(self, other: Any) -> Tensor:
        """self / other, with numpy broadcasting."""
        return ops.Div.apply(self, other)

    def neg(self) -> Tensor:
        """-self."""
        return ops.Neg.apply(self)

    def pow(self, exponent: Any) -> Tensor:
        """self ** exponent: a number (one op, d/dself only) or a Tensor or array that
        broadcasts with self (numpy's values for negative bases; see ``ops.Power``)."""
        if isinstance(exponent, (Tensor, np.ndarray)):
            return ops.Power.apply(self, exponent)
        if not isinstance(exponent, Number) or isinstance(exponent, bool):
            raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
        return ops.Pow.apply(self, exponent=exponent)

    def exp(self) -> Tensor:
        """e ** self."""
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        """Natural logarithm."""
        return ops.Log.apply(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + e ** -self)."""
        return ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return ops.Tanh.apply(self)

    def relu(self) -> Tensor:
        """max(self, 0)."""
        return ops.Relu.apply(self)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (an int, a tuple, or None for all)."""
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis``; NaN (with numpy's warning) over no elements."""
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; ties share the gradient evenly."""
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        """The same values in ``shape`` (one -1 allowed): ``t.reshape(2, 3)`` or ``((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, axes: Any = None) -> Tensor:
        """Axes permuted by ``axes`` (reversed when None)."""
        return ops.Transpose.apply(self, axes=axes)

    def __getitem__(self, index: Any) -> Tensor:
        """numpy indexing: ints, slices, None, ``...``, integer arrays and boolean masks
        (arrays, lists or Tensors). Repeated integer indices sum their gradients."""
        return ops.GetItem.apply(self, index=_index_array(index))

    # ------------------------------------------------------------------ matmul, softmax, loss
    def matmul(self, other: Any) -> Tensor:
        """self @ other with numpy's rules (1-D, 2-D and batched)."""
        return ops.MatMul.apply(self, other)

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(self) / sum(exp(self)) along ``axis``, computed stably."""
        return ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """self - logsumexp(self) along ``axis``, computed stably."""
        return ops.LogSoftmax.apply(self, axis=axis)

    def softmax_cross_entropy(self, targets: Any) -> Tensor:
        """Mean cross-entropy of logits (N, K) against integer classes (N,)."""
        return softmax_cross_entropy(self, targets)

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other) if _is_operand(other) else NotImplemented

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(other, self) if _is_operand(other) else NotImplemented

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, other) if _is_operand(other) else NotImplemented

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(other, self) if _is_operand(other) else NotImplemented

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other) if _is_operand(other) else NotImplemented

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(other, self) if _is_operand(other) else NotImplemented

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, other) if _is_operand(other) else NotImplemented

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(other, self) if _is_operand(other) else NotImplemented

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other) if _is_operand(other) else NotImplemented

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self) if _is_operand(other) else NotImplemented

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pow__(self, exponent: Any) -> Tensor:
        return self.pow(exponent)

    def __rpow__(self, base: Any) -> Tensor:
        if isinstance(base, Number) and not isinstance(base, (bool, np.generic)):
            return ops.NumberPow.apply(self, base=base)  # a Python number: x's dtype
        return ops.Power.apply(base, self) if _is_operand(base) else NotImplemented


def _hold_views(tensors: tuple, view: np.ndarray) -> None:
    """``view`` (an unrecorded op's result) shares memory with the array of an input that a
    live graph made: lock it until that graph's op lets go, as ``detach()`` does."""
    base = view.base
    for t in tensors:
        op = t.op
        live = op is not None and not op._released and type(op._held) is list
        if live and (t._data is base or t._data.base is base):
            op._held.append(ArrayHold(view, op.name))


def _rebuild(data: np.ndarray, requires_grad: bool, name: str | None, grad: Any) -> Tensor:
    """Unpickle a Tensor (see ``Tensor.__reduce__``)."""
    t = Tensor(data, requires_grad=requires_grad, dtype=data.dtype, name=name)
    t.grad = grad
    return t


def _shape_error(name: str, tensors: tuple, err: ValueError) -> ValueError:
    """Reword a numpy ValueError so it names the op and the input shapes."""
    msg = str(err)
    if msg.startswith(f"{name}:"):
        return err
    shapes = " and ".join(str(t.shape) for t in tensors)
    if "broadcast" in msg:
        return ValueError(f"{name}: shapes {shapes} cannot be broadcast together")
    return ValueError(f"{name}: invalid inputs of shapes {shapes}: {msg}")


def softmax_cross_entropy(logits: Tensor, targets: Any) -> Tensor:
    """Mean over N of ``-log softmax(logits)[n, targets[n]]``, one fused stable op.

    logits: (N, K) float; targets: (N,) integer class indices as a list, array or Tensor.
    The gradient with respect to logits is ``(softmax - onehot) / N``.
    """
    if isinstance(targets, Tensor):
        targets = targets._data
    return ops.SoftmaxCrossEntropy.apply(logits, targets=targets)


Function.result_type = Tensor
