"""``detect_anomaly()``: stop at the first op whose forward or backward makes NaN or inf.

It installs a :class:`~tinygrad_nn.hooks.Hook` that checks every array an op makes. The
error names the op, its input shapes and the module it ran in, and ``err.graph`` draws the
graph with that op in red (with ``tinygrad_nn.viz``, imported only then).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .autograd import Function
from .hooks import Hook, hooks_state, installed
from .tensor import current_scope, scope_name

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled", "scope_name"]


class AnomalyError(FloatingPointError):
    """Raised inside :func:`detect_anomaly` when an op makes NaN or inf.

    ``op`` is the Function, ``tensor`` the graph's output at that point (the op's own
    output for a forward anomaly, the tensor ``backward`` started from for a backward one)
    and ``graph`` draws it with the op highlighted. After pickling (say, from a worker
    process) only the message is left: ``op`` and ``tensor`` are None.
    """

    def __init__(self, message: str, op: Function | None = None, tensor: Any = None) -> None:
        super().__init__(message)
        self.op = op
        self.tensor = tensor

    def __reduce__(self) -> tuple:
        return type(self), (str(self),)

    @property
    def graph(self) -> Any:
        """A ``graphviz.Digraph`` of the graph with the offending op in red."""
        if self.tensor is None:
            raise RuntimeError("this AnomalyError has no graph (it was pickled)")
        from .viz.drawing import draw

        return draw(self.tensor, highlight=self.op)


class _AnomalyHook(Hook):
    def on_forward(self, fn: Function, inputs: tuple, settings: dict, result: Any) -> None:
        if not np.isfinite(result._data).all():
            raise _error(fn, inputs, "forward", result._data, result)

    def on_grads(self, fn: Function, grads: tuple, root: Any) -> None:
        for g in grads:
            if g is not None and not np.isfinite(g).all():
                raise _error(fn, fn.inputs, "backward", g, root)


def _error(fn: Function, inputs: tuple, stage: str, array: Any, tensor: Any) -> AnomalyError:
    shapes = ", ".join(str(t.shape) for t in inputs)
    bad = "nan" if np.isnan(array).any() else "inf"
    where = scope_name(getattr(fn, "scope", None) or current_scope())
    if tensor.op is not fn and stage == "forward":  # not recorded: draw it as its own op
        fn.record(inputs, current_scope())
        tensor = type(tensor)._from_op(tensor._data, fn)
    return AnomalyError(
        f"{fn.name}: {stage} produced {bad} (input shapes {shapes}) in {where}", fn, tensor
    )


def is_anomaly_enabled() -> bool:
    """True inside :func:`detect_anomaly` (per thread)."""
    return any(isinstance(h, _AnomalyHook) for h in hooks_state.hooks)


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise :class:`AnomalyError` (a ``FloatingPointError``) as soon as an op's forward or
    backward makes NaN/inf.

    The message names the op, its input shapes and the module it ran in. Costs one
    ``isfinite`` check per array, so use it for debugging, not for training runs.
    """
    with installed(_AnomalyHook()):
        yield
