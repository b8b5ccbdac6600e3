"""Backward made visible: ``explain_backward(loss)`` runs backward and tells what it did.

The engine walks the ops in reverse topological order; at each op it hands the gradient
arriving at the op's output to the op's ``backward``, which applies the op's local rule
(the ``Rule:`` line of its docstring) and sends one gradient to each input. Where a tensor
already has a gradient, the new one is added to it (*accumulated*). An :class:`Explanation`
records each of these steps through a :class:`~tinygrad_nn.hooks.Hook` (the engine itself
runs the backward, unchanged) and shows them as a table in a terminal (``print``), as HTML
in Jupyter, and as SVG frames (``save_frames``) where the current op and the gradients
known so far are highlighted. Needs numpy only, except for drawing (``viz``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autograd import Function, unbroadcast
from ..hooks import Hook, installed
from ..tensor import Tensor, scope_name
from . import explain_render
from .steps import Contribution, GradSummary, Step, derivative_rule, shape_text

__all__ = [
    "Contribution",
    "Explanation",
    "GradSummary",
    "Step",
    "derivative_rule",
    "explain_backward",
    "shape_text",
]


def _label(t: Tensor, step_of: dict[Function, int]) -> str:
    shape = shape_text(t.shape)
    if t.name:
        return f"{t.name} {shape}"
    if t.op is not None:
        return f"{t.op.name} output {shape} [step {step_of[t.op]}]"
    return f"{'input' if t.size > 1 else 'constant'} {shape}"


class _Recorder(Hook):
    """Watches one backward pass: the order, and each op's gradients as the engine made them.

    It sums the gradients meeting at each tensor as the engine does (the same
    :func:`~tinygrad_nn.autograd.unbroadcast`, the same additions in the same order), to
    show the gradient arriving at each op and the total known for each tensor.
    """

    def __init__(self) -> None:
        self.order: list[Function] = []
        self.root: Any = None
        self.seed: GradSummary | None = None
        self.pending: dict[Any, np.ndarray] = {}  # op -> gradient of its output; leaf -> total
        self.earlier: set[Tensor] = set()
        self.calls: dict[Function, tuple[GradSummary, tuple]] = {}
        self.step_of: dict[Function, int] = {}

    def on_backward(self, order: list, root: Any, seed: np.ndarray) -> None:
        if self.root is not None:  # a backward started inside this one: not ours to explain
            return
        self.order, self.root = order, root
        self.seed = GradSummary.of(seed)
        self.pending[root.op] = seed
        self.step_of = {fn: i + 1 for i, fn in enumerate(reversed(order))}
        for fn in order:
            for t in fn.inputs:
                if t.op is None and t.grad is not None:
                    self.earlier.add(t)
                    self.pending[t] = t.grad

    def on_grads(self, fn: Function, grads: tuple, root: Any) -> None:
        if root is not self.root:
            return
        incoming = GradSummary.of(self.pending.pop(fn))
        sent = []
        for t, g in zip(fn.inputs, grads):
            label = _label(t, self.step_of)
            if g is None or not t.requires_grad:
                sent.append(Contribution(t, label, None, None))
                continue
            g = unbroadcast(np.asarray(g), t.shape, fn.name)
            key = t if t.op is None else t.op
            before = self.pending.get(key)
            total = g if before is None else before + g
            self.pending[key] = total
            grad, known = GradSummary.of(g), GradSummary.of(total)
            earlier = before is not None and t in self.earlier
            self.earlier.discard(t)
            sent.append(Contribution(t, label, grad, known, before is not None, earlier))
        self.calls[fn] = (incoming, tuple(sent))

    def steps(self) -> list[Step]:
        out = []
        for number, fn in enumerate(reversed(self.order), start=1):
            incoming, sent = self.calls.get(fn, (None, ()))
            where = scope_name(getattr(fn, "scope", ()))
            out.append(Step(number, fn, where, incoming, derivative_rule(fn), sent))
        return out


class Explanation:
    """The steps of one backward pass (``steps``, in the engine's order).

    ``print(explanation)`` shows them as a table; Jupyter shows HTML; :meth:`draw` gives
    one step's picture and :meth:`save_frames` writes them all as SVG files. ``max_steps``
    limits what the table and the frames show; ``collapse`` (as in ``viz.draw``) draws
    modules as boxes and merges their consecutive steps into one row.
    """

    def __init__(
        self,
        root: Tensor,
        seed: GradSummary | None,
        steps: list[Step],
        max_steps: int | None,
        collapse: bool | Iterable[str] | None,
    ) -> None:
        self.root, self.seed, self.steps = root, seed, steps
        self.max_steps = max_steps
        self.collapse = (
            collapse if collapse is None or isinstance(collapse, bool) else list(collapse)
        )

    def shown(self) -> list[Step]:
        """The steps the table and the frames show (the first ``max_steps``)."""
        return self.steps if self.max_steps is None else self.steps[: self.max_steps]

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        return explain_render.text_table(self)

    def __repr__(self) -> str:
        return f"<Explanation of backward: {len(self.steps)} steps>"

    def _repr_html_(self) -> str:
        return explain_render.html_table(self)

    def draw(self, step: int, **options: Any) -> Any:
        """A ``graphviz.Digraph`` of the graph during step ``step`` (1-based): its op in red,
        the gradients known after it in green (options go to ``viz.draw``)."""
        return explain_render.draw_step(self, step, **options)

    def save_frames(self, folder: Any, **options: Any) -> list:
        """Write one SVG per shown step (``step_001.svg``, ...) into ``folder`` (created if
        needed) and return their paths; needs Graphviz (options go to ``viz.draw``)."""
        return explain_render.save_frames(self, folder, **options)


def explain_backward(
    loss: Tensor,
    grad: Any = None,
    *,
    retain_graph: bool = False,
    max_steps: int | None = 100,
    collapse: bool | Iterable[str] | None = None,
) -> Explanation:
    """Run ``loss.backward(grad, retain_graph)`` and return what each step of it did.

    The gradients are exactly those of a plain ``backward()`` (the engine runs it; this
    only watches), and the steps are in the engine's order, the reverse of
    ``autograd.toposort(loss)``. ``max_steps`` (None: all) and ``collapse`` only change
    what is shown.
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"explain_backward: expected a Tensor, got {type(loss).__name__}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"explain_backward: max_steps must be at least 1, got {max_steps}")
    recorder = _Recorder()
    with installed(recorder):
        loss.backward(grad, retain_graph=retain_graph)
    steps = recorder.steps()
    recorder.pending.clear()
    return Explanation(loss, recorder.seed, steps, max_steps, collapse)
