"""The engine: the Function base class, graph walks and the backward driver.

A Tensor made by an operation points at the Function that made it (``tensor.op``); the
Function points at its input Tensors (``op.inputs``, a tuple in call order). Backward walks
this graph in reverse topological order, calling each Function's ``backward`` once.

This module imports nothing else from the package: ``tensor.py`` registers the Tensor class
with :func:`register_tensor_type` so that :meth:`Function.apply` can wrap its results.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "AnomalyError",
    "Function",
    "TraceError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "module_scope",
    "no_grad",
    "scope_name",
    "toposort",
    "unbroadcast",
]


class _ThreadState(threading.local):
    """Per-thread switches: grad recording, anomaly detection and the module scope stack."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.scope: tuple = ()
        self.tracer: Any = None  # set while tinygrad_nn.compile traces a function


_state = _ThreadState()
_tensor_type: Any = None


def register_tensor_type(cls: type) -> None:
    """Tell the engine which class wraps results (called once by ``tensor.py``)."""
    global _tensor_type
    _tensor_type = cls


# ----------------------------------------------------------------------------- switches


def is_grad_enabled() -> bool:
    """True unless inside :func:`no_grad` (per thread)."""
    return _state.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad recording, restoring it on exit."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self) -> _GradMode:
        self._saved.append(_state.grad_enabled)
        _state.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._saved.pop()

    def _recreate_cm(self) -> _GradMode:
        # a fresh manager per decorated call, so threads and recursion never share state
        return _GradMode(self.enabled)


def no_grad() -> _GradMode:
    """Nothing computed inside is recorded for backward.

    Use as ``with no_grad(): ...`` or as a decorator ``@no_grad()``. The switch is per
    thread and always restored, even when the body raises.
    """
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Turn recording back on inside a :func:`no_grad` block."""
    return _GradMode(True)


def is_anomaly_enabled() -> bool:
    """True inside :func:`detect_anomaly` (per thread)."""
    return _state.anomaly


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise :class:`AnomalyError` (a ``FloatingPointError``) as soon as an op's forward or
    backward makes NaN/inf.

    The message names the op, its input shapes and the module it ran in. Costs one
    ``isfinite`` check per array, so use it for debugging, not for training runs.
    """
    saved = _state.anomaly
    _state.anomaly = True
    try:
        yield
    finally:
        _state.anomaly = saved


def enter_scope(module: object) -> tuple:
    """Push ``module`` on this thread's scope stack; returns what :func:`exit_scope` restores."""
    saved = _state.scope
    _state.scope = saved + (module,)
    return saved


def exit_scope(saved: tuple) -> None:
    """Restore the scope stack saved by :func:`enter_scope`."""
    _state.scope = saved


@contextlib.contextmanager
def module_scope(module: object) -> Iterator[None]:
    """Record that ops run inside ``module``, as ``nn.Module.__call__`` does."""
    saved = enter_scope(module)
    try:
        yield
    finally:
        exit_scope(saved)


def scope_name(scope: tuple) -> str:
    """The dotted path of the innermost module in ``scope``, or ``"top level"``."""
    if not scope:
        return "top level"
    inner = scope[-1]
    return getattr(inner, "scope_name", type(inner).__name__)


class TraceError(RuntimeError):
    """Something in a function given to ``tinygrad_nn.compile`` cannot be traced."""


def traced_call(method: Callable) -> Callable:
    """Mark a method (an optimizer's ``step``, a ``zero_grad``) as a step of a compiled plan.

    While ``compile`` traces, calling it records the call, so replays repeat it; any other
    in-place change of a tensor during the trace is a :class:`TraceError`.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = _state.tracer
        if tracer is None:
            return method(self, *args, **kwargs)
        tracer.on_call(functools.partial(method, self, *args, **kwargs))
        _state.tracer = None  # the call's own tensor updates are part of the recorded step
        try:
            return method(self, *args, **kwargs)
        finally:
            _state.tracer = tracer

    return wrapper


def check_untraced_write(tensor: Any) -> None:
    """Refuse in-place writes to a tensor while ``compile`` traces (they would not replay)."""
    if _state.tracer is not None:
        raise TraceError(
            f"compile: a tensor{f' ({tensor.name})' if tensor.name else ''} of shape "
            f"{tensor.shape} was modified in place while tracing; such updates are not "
            "replayed. Update parameters with a tinygrad_nn.optim optimizer instead."
        )


# ----------------------------------------------------------------------------- Function


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Function:
    """One operation: ``forward`` on numpy arrays, ``backward`` on the output gradient.

    Subclass it and write::

        class Softplus(Function):
            def forward(self, x):            # numpy in, numpy out
                self.x = x                   # save what backward needs on self
                return np.logaddexp(0, x)
            def backward(self, grad):        # one gradient (or None) per input
                return grad / (1 + np.exp(-self.x))

    and call it as ``Softplus.apply(tensor, **settings)``. The engine sums broadcast
    gradients back to each input's shape; ``self.needs_input_grad`` tells ``backward``
    which gradients are wanted. ``name`` (snake case of the class name unless set) is what
    errors and drawings show.
    """

    __slots__ = (
        "inputs",
        "needs_input_grad",
        "scope",
        "_edits",
        "_grad_out",
        "_released",
        "_retained",
        "__weakref__",
    )
    name: str = "function"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = _snake_case(cls.__name__)

    def forward(self, *arrays: np.ndarray, **settings: Any) -> np.ndarray:
        """Compute the output from numpy arrays, saving on ``self`` what backward needs."""
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, grad: np.ndarray) -> tuple | np.ndarray:
        """Given d(out), return d(input) for each positional input (None where not needed)."""
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    @classmethod
    def apply(cls, *inputs: Any, **settings: Any) -> Any:
        """Run the op on Tensors, arrays or numbers; record it if any input requires grad."""
        T = _tensor_type
        tensors = tuple([x if type(x) is T else _as_tensor(x) for x in inputs])
        fn = cls()
        state = _state
        record = False
        if state.grad_enabled:
            for t in tensors:
                if t.requires_grad:
                    record = True
                    break
        if record:
            fn.needs_input_grad = tuple([t.requires_grad for t in tensors])
        try:
            out = fn.forward(*[t._data for t in tensors], **settings)
        except ValueError as err:
            raise _shape_error(cls.name, tensors, err) from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        anomaly = state.anomaly
        tracer = state.tracer
        if not (record or anomaly or tracer):
            return T._from_op(out, None)
        fn.inputs = tensors
        fn.scope = state.scope
        fn._edits = T._edit_count
        fn._grad_out = None
        fn._released = False
        fn._retained = None
        result = T._from_op(out, fn if record else None)
        if anomaly:
            _check_finite(fn, out, "forward", None)
        if tracer is not None:
            tracer.on_apply(fn, settings, result)
        return result

    def release(self) -> None:
        """Drop the arrays saved for backward; the graph's structure stays for drawing."""
        d = getattr(self, "__dict__", None)
        if d is not None:
            d.clear()
        self._released = True

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in getattr(self, "inputs", ()))
        return f"<{self.name} ({shapes})>"


def _as_tensor(x: Any) -> Any:
    return x if isinstance(x, _tensor_type) else _tensor_type(x)


def _shape_error(name: str, tensors: tuple, err: ValueError) -> ValueError:
    """Reword a numpy ValueError so it names the op and the input shapes."""
    msg = str(err)
    if msg.startswith(f"{name}:"):
        return err
    shapes = " and ".join(str(t.shape) for t in tensors)
    if "broadcast" in msg:
        return ValueError(f"{name}: shapes {shapes} cannot be broadcast together")
    return ValueError(f"{name}: invalid inputs of shapes {shapes}: {msg}")


class AnomalyError(FloatingPointError):
    """Raised inside :func:`detect_anomaly` when an op makes NaN or inf.

    ``op`` is the Function, ``tensor`` the graph's output at that point (the op's own
    output for a forward anomaly, the tensor ``backward`` started from for a backward one)
    and ``graph`` draws it with the op highlighted, ready for ``graph.render`` or
    ``viz.save_svg``.
    """

    def __init__(self, message: str, op: Function, tensor: Any) -> None:
        super().__init__(message)
        self.op = op
        self.tensor = tensor

    @property
    def graph(self) -> Any:
        """A ``graphviz.Digraph`` of the graph with the offending op in red."""
        if _anomaly_drawer is None:
            raise RuntimeError("drawing needs tinygrad_nn.viz; import tinygrad_nn first")
        return _anomaly_drawer(self)


_anomaly_drawer: Any = None


def register_anomaly_drawer(draw: Any) -> None:
    """Tell the engine how to draw an :class:`AnomalyError` (called once by ``viz.py``)."""
    global _anomaly_drawer
    _anomaly_drawer = draw


def _check_finite(fn: Function, array: np.ndarray, stage: str, tensor: Any) -> None:
    """Raise AnomalyError for NaN/inf in ``array``; ``tensor`` None means the op's output."""
    if np.isfinite(array).all():
        return
    if tensor is None:
        tensor = _tensor_type._from_op(array, fn)
    shapes = ", ".join(str(t.shape) for t in fn.inputs)
    bad = "nan" if np.isnan(array).any() else "inf"
    raise AnomalyError(
        f"{fn.name}: {stage} produced {bad} (input shapes {shapes}) in {scope_name(fn.scope)}",
        fn,
        tensor,
    )


# ----------------------------------------------------------------------------- graph walks


def toposort(root: Any) -> list[Function]:
    """Functions reachable from tensor ``root``, each after all Functions feeding it.

    Iterative depth-first search with an explicit stack (no recursion, so any depth works);
    inputs are visited in call order, so the result is the same on every run.
    """
    if root.op is None:
        return []
    order: list[Function] = []
    expanded: set[Function] = set()
    done: set[Function] = set()
    stack: list[Function] = [root.op]
    while stack:
        fn = stack[-1]
        if fn in expanded:
            stack.pop()
            if fn not in done:  # a second entry for a node already finished is skipped
                done.add(fn)
                order.append(fn)
            continue
        # mark on expansion, not on push: a node pushed early but reached again deeper
        # must still finish after everything that feeds it (a diamond)
        expanded.add(fn)
        for t in reversed(fn.inputs):
            parent = t.op
            if parent is not None and parent not in expanded:
                stack.append(parent)
    return order


def unbroadcast(grad: np.ndarray, shape: tuple, op_name: str = "op") -> np.ndarray:
    """Sum ``grad`` over the axes numpy broadcasting added or stretched to reach ``shape``.

    The one place broadcasting is undone: if ``x`` of ``shape`` was broadcast to
    ``grad.shape`` in the forward pass, d(loss)/dx is the sum of ``grad`` over those axes.
    """
    if grad.shape == shape:
        return grad
    returned = grad.shape
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise RuntimeError(
            f"{op_name}: backward returned a gradient of shape {returned} "
            f"for an input of shape {shape}"
        )
    return grad


def _as_grad_tuple(fn: Function, grads: Any) -> tuple:
    if isinstance(grads, tuple):
        if len(grads) != len(fn.inputs):
            raise RuntimeError(
                f"{fn.name}: backward returned {len(grads)} gradients for {len(fn.inputs)} inputs"
            )
        return grads
    if len(fn.inputs) != 1:
        raise RuntimeError(f"{fn.name}: backward must return a tuple of {len(fn.inputs)} gradients")
    return (grads,)


def _check_versions(fn: Function) -> None:
    # a tensor's _version is the edit count at its last in-place change
    for t in fn.inputs:
        if t._version > fn._edits:
            label = f"'{t.name}'" if t.name else f"of shape {t.shape}"
            raise RuntimeError(
                f"{fn.name}: input tensor {label} was modified in place after the forward "
                "pass; its gradient would be wrong. Modify a copy, or run forward again."
            )


def backward(root: Any, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``.grad`` of every leaf that requires grad.

    ``grad`` is d(loss)/d(root); it defaults to 1 for a one-element ``root``. Saved arrays
    are released afterwards unless ``retain_graph`` is true.
    """
    if not root.requires_grad:
        raise RuntimeError("backward: tensor does not require grad and has no graph")
    if grad is None:
        if root.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicit only for one-element tensors, got shape "
                f"{root.shape}; pass grad= of that shape"
            )
        seed = np.ones(root.shape, dtype=root.dtype)
    else:
        seed = np.asarray(grad.data if isinstance(grad, _tensor_type) else grad)
        if seed.shape != root.shape:
            raise ValueError(
                f"backward: grad of shape {seed.shape} does not match tensor of shape {root.shape}"
            )
        seed = seed.astype(root.dtype, copy=False)
    if root.op is None:
        _store_grad(root, seed, copy=True)
        return
    order = toposort(root)
    tracer = _state.tracer
    if tracer is not None:  # compile replays this backward: keep the graph for it
        tracer.on_backward(order, root, seed)
        retain_graph = True
    run_backward(order, root, seed, retain_graph)


def run_backward(
    order: list[Function], root: Any, seed: np.ndarray, retain_graph: bool, check: bool = True
) -> None:
    """Backpropagate ``seed`` from ``root`` through ``order`` (as :func:`toposort` made it).

    ``check=False`` skips the in-place-modification check (compile's replays, where no user
    code runs between the forward and the backward pass).
    """
    root.op._grad_out = seed
    anomaly = _state.anomaly
    edits = _tensor_type._edit_count if check else None
    for fn in reversed(order):
        g = fn._grad_out
        if fn._released:
            raise RuntimeError(
                f"backward: the graph through '{fn.name}' was freed by an earlier backward(); "
                "pass retain_graph=True to the first call to go through it again"
            )
        if g is None:
            continue
        fn._grad_out = None
        if fn._retained is not None:
            out = fn._retained()
            if out is not None:
                _store_grad(out, g, copy=True)
        if check and fn._edits != edits:  # a tensor was modified in place since forward
            _check_versions(fn)
        grads = fn.backward(g)
        if type(grads) is not tuple or len(grads) != len(fn.inputs):
            grads = _as_grad_tuple(fn, grads)
        previous = None
        for t, gi in zip(fn.inputs, grads):
            if gi is None or not t.requires_grad:
                continue
            if type(gi) is not np.ndarray:
                gi = np.asarray(gi)
            if anomaly:
                _check_finite(fn, gi, "backward", root)
            if gi.shape != t._data.shape:
                gi = unbroadcast(gi, t._data.shape, fn.name)
            parent = t.op
            if parent is None:
                # a gradient passed straight through (add's) or shared must not become a
                # leaf's .grad uncopied: later accumulation would change the other holder
                _store_grad(t, gi, copy=gi is g or gi is previous)
            else:
                prev = parent._grad_out
                parent._grad_out = gi if prev is None else prev + gi
            previous = gi
        if not retain_graph:
            fn.release()


def _store_grad(t: Any, g: np.ndarray, copy: bool) -> None:
    """Add ``g`` into ``t.grad``, keeping the tensor's dtype; never writes into ``g``.

    The first gradient is stored as it is when it is a fresh, writeable array of the right
    dtype (ops return new arrays), and copied otherwise; later ones are added out of place.
    """
    prev = t.grad
    if prev is None:
        if copy or g.base is not None or not g.flags.writeable or g.dtype != t._data.dtype:
            g = np.array(g, dtype=t._data.dtype)
        t.grad = g
    else:
        total = prev + g
        t.grad = total if total.dtype == t._data.dtype else total.astype(t._data.dtype)
