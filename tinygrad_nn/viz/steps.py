"""The records of a backward pass made visible: each step, its gradients and rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..autograd import Function
from ..tensor import Tensor

__all__ = ["Contribution", "GradSummary", "Step", "derivative_rule", "shape_text"]


def shape_text(shape: tuple) -> str:
    """``(4, 10)``, ``(3,)`` or ``()``."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def derivative_rule(fn: Function | type) -> str:
    """The op's local derivative rule in words: the ``Rule:`` line of its class docstring
    (``"dx = dy * y (1 - y), from the saved output y"`` for sigmoid)."""
    cls = fn if isinstance(fn, type) else type(fn)
    for line in (cls.__doc__ or "").splitlines():
        if "Rule:" in line:
            return line.split("Rule:", 1)[1].strip().removesuffix(".")
    return "(no 'Rule:' line in its docstring)"


@dataclass(frozen=True)
class GradSummary:
    """A gradient in a few numbers: shape, dtype, L2 norm and its first values."""

    shape: tuple[int, ...]
    dtype: str
    norm: float
    head: tuple[float, ...]

    @classmethod
    def of(cls, g: np.ndarray, count: int = 3) -> GradSummary:
        """Summarise array ``g`` (any shape) with its first ``count`` values."""
        flat = g.reshape(-1)
        head = tuple(float(v) for v in flat[:count])
        norm = float(np.linalg.norm(flat.astype(np.float64))) if g.size else 0.0
        return cls(tuple(g.shape), str(g.dtype), norm, head)

    def values(self) -> str:
        """The first values as text, ``[0.1, -0.2, 0.3, …]``."""
        more = ", …" if len(self.head) < int(np.prod(self.shape, dtype=np.int64)) else ""
        return "[" + ", ".join(f"{v:.3g}" for v in self.head) + more + "]"

    def __str__(self) -> str:
        return f"{shape_text(self.shape)} ‖g‖ {self.norm:.3g} {self.values()}"

    def brief(self) -> str:
        """Without the shape: ``‖g‖ 0.42 [0.1, -0.2, 0.3, …]``."""
        return f"‖g‖ {self.norm:.3g} {self.values()}"


@dataclass(frozen=True)
class Contribution:
    """What one op's backward sent to one of its inputs.

    ``grad`` is None when the input needs no gradient (it does not require grad). ``total``
    is the input's gradient known after adding this one; ``accumulated`` is true when it
    was added to a gradient already there, ``earlier`` when that gradient is a leaf's
    ``.grad`` left from an earlier ``backward()`` (``zero_grad()`` was not called).
    """

    tensor: Tensor
    label: str
    grad: GradSummary | None
    total: GradSummary | None
    accumulated: bool = False
    earlier: bool = False

    def note(self) -> str:
        """``new``, ``accumulated`` or why nothing was sent, in words."""
        if self.grad is None:
            return "no gradient (does not require grad)"
        if self.earlier:
            return "accumulated onto .grad from an earlier backward (zero_grad() not called)"
        return "accumulated" if self.accumulated else "new"


@dataclass(frozen=True)
class Step:
    """One op's backward: its place in the walk, the gradient arriving at its output, its
    rule and what it sent to each input. ``incoming`` is None when no gradient reached the
    op (the engine skips it)."""

    number: int
    op: Function
    where: str
    incoming: GradSummary | None
    rule: str
    contributions: tuple[Contribution, ...]
