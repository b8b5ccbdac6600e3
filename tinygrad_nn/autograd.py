"""The engine: the Function base class, the graph walk and the backward driver.

A Tensor made by a recorded operation points at the Function that made it (``tensor.op``);
the Function points at its input Tensors (``fn.inputs``, a tuple in call order). Backward
walks this graph in reverse topological order, calling each Function's ``backward`` once
and summing the gradients that meet at a tensor.

This module imports only the small modules under it (``gradmode``, ``holding``, ``hooks``):
Tensors are whatever objects have ``_data``, ``grad``, ``requires_grad`` and ``op``.
``Function.apply`` hands running and recording an op to the Tensor class (``Tensor._apply``
in ``tensor.py``, which sets ``Function.result_type``).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import numpy as np

from .gradmode import enable_grad, is_grad_enabled, no_grad
from .holding import hold_leaves, let_go
from .hooks import VersionClock, hooks_state

__all__ = [
    "Function",
    "backward",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "toposort",
    "unbroadcast",
]


# ----------------------------------------------------------------------------- Function


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
    errors and drawings show. While a recorded op can still run backward its inputs are
    *held*: their arrays are read-only, so what ``forward`` saved cannot change under it.
    """

    __slots__ = (
        "inputs",
        "needs_input_grad",
        "scope",
        "_edits",
        "_grad_out",
        "_released",
        "_retained",
        "_held",
        "__weakref__",
    )
    name: str = "function"
    #: the Tensor class ``apply`` runs ops through (``tensor.py`` sets it to ``Tensor``)
    result_type: type

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()  # snake case

    def forward(self, *arrays: np.ndarray, **settings: Any) -> np.ndarray:
        """Compute the output from numpy arrays, saving on ``self`` what backward needs."""
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, grad: np.ndarray) -> tuple | np.ndarray:
        """Given d(out), return d(input) for each positional input (None where not needed)."""
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    # Optional, for the layers above (an op without them still runs and backpropagates):
    # ``tensor_backward`` is backward in Tensor ops, for second order (``higher_order.py``);
    # ``forward_code``/``backward_code`` write the same bits as numpy source (``compile``).
    def tensor_backward(self, grad: Any, out: Any) -> tuple | Any:
        """``backward`` with Tensor ops on ``grad`` and the output ``out``, so it is recorded."""
        raise NotImplementedError(f"{self.name} has no second-order rule (tensor_backward)")

    def forward_code(self, c: Any, *inputs: Any, **settings: Any) -> str:
        """Write ``forward`` through ``c`` (a ``codegen.Code``); return the output's name."""
        raise NotImplementedError

    def backward_code(self, c: Any, grad: str) -> tuple | str:
        """Write ``backward`` through ``c``; return the input gradients' names (or None)."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **settings: Any) -> Any:
        """Run the op on Tensors, arrays or numbers and return a Tensor; it is recorded for
        backward when grad is enabled and an input requires grad (``Tensor._apply``)."""
        return cls.result_type._apply(cls, inputs, settings)

    def record(self, inputs: tuple, scope: tuple) -> None:
        """Link this op into the graph (called by ``Tensor._apply``) and hold its leaf inputs:
        their arrays stay read-only until backward has run through this op."""
        self.inputs = inputs
        self.scope = scope
        self._edits = VersionClock.now
        self._grad_out = None
        self._released = False
        self._retained = None
        self._held = hold_leaves(inputs, self.name)

    def release(self) -> None:
        """Drop the arrays saved for backward and free the inputs for writing; the graph's
        structure (ops, inputs, names) stays, so it can still be drawn."""
        self._released = True
        d = getattr(self, "__dict__", None)
        if d is not None:
            d.clear()
        held, self._held = self._held, ()
        let_go(held)  # (the version check at backward still catches a later edit)

    def __del__(self) -> None:
        # a graph dropped without backward frees its inputs for writing too
        if getattr(self, "_held", None):
            with contextlib.suppress(Exception):  # at interpreter shutdown: nothing to free
                held, self._held = self._held, ()
                let_go(held)

    def __reduce__(self) -> tuple:
        raise TypeError(
            f"cannot pickle or copy the op '{self.name}': graphs are not saved; pickle "
            "the tensors (each becomes a leaf) or their arrays"
        )

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in getattr(self, "inputs", ()))
        return f"<{self.name} ({shapes})>"


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
    ``grad`` may be a Tensor too (second order): then the sums are recorded ops.
    """
    if grad.shape == shape:
        return grad
    returned = grad.shape
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    if grad.ndim == len(shape):
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise RuntimeError(
            f"{op_name}: backward returned a gradient of shape {returned} "
            f"for an input of shape {shape}"
        )
    return grad


# ----------------------------------------------------------------------------- backward


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
        seed = np.asarray(getattr(grad, "_data", grad))
        if seed.shape != root.shape:
            raise ValueError(
                f"backward: grad of shape {seed.shape} does not match tensor of shape {root.shape}"
            )
        seed = seed.astype(root.dtype, copy=False)
    if root.op is None:
        _store_grad(root, seed, copy=True)
        return
    order = toposort(root)
    for hook in hooks_state.hooks:
        hook.on_backward(order, root, seed)
        retain_graph = retain_graph or hook.keeps_graph()
    root.op._grad_out = seed
    try:
        _walk(order, root, retain_graph)
    except BaseException:
        for fn in order:  # a failed pass leaves no half-summed gradients for the next one
            fn._grad_out = None
        raise


def _walk(order: list[Function], root: Any, retain_graph: bool) -> None:
    """Run each op's backward, latest first: its output gradient is the sum of what its
    consumers sent back; each input's gradient is summed back to its shape."""
    hooks = hooks_state.hooks
    edits = VersionClock.now
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
        if fn._edits != edits:  # some tensor was edited in place since forward
            _check_versions(fn)
        grads = fn.backward(g)
        if type(grads) is not tuple:  # one bare gradient: allowed for one input
            grads = (grads,) if len(fn.inputs) == 1 else _as_grad_tuple(fn, grads)
        elif len(grads) != len(fn.inputs):
            grads = _as_grad_tuple(fn, grads)
        for hook in hooks:
            hook.on_grads(fn, grads, root)
        previous = None
        for t, gi in zip(fn.inputs, grads):
            if gi is None or not t.requires_grad:
                continue
            if type(gi) is not np.ndarray:
                gi = np.asarray(gi)
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


def _as_grad_tuple(fn: Function, grads: Any) -> tuple:
    if isinstance(grads, tuple):
        raise RuntimeError(
            f"{fn.name}: backward returned {len(grads)} gradients for {len(fn.inputs)} inputs"
        )
    if len(fn.inputs) != 1:
        raise RuntimeError(f"{fn.name}: backward must return a tuple of {len(fn.inputs)} gradients")
    return (grads,)


def _check_versions(fn: Function) -> None:
    for t in fn.inputs:
        if t._version > fn._edits:
            label = f"'{t.name}'" if t.name else f"of shape {t.shape}"
            raise RuntimeError(
                f"{fn.name}: input tensor {label} was modified in place after the forward "
                "pass; its gradient would be wrong. Modify a copy, or run forward again."
            )


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
