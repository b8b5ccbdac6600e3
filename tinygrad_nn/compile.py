"""``compile(fn)``: trace a training step once, then replay it as a flat plan.

The first call with given argument shapes and dtypes runs ``fn`` eagerly while recording
every op (the Function object, its input tensors and settings), every ``backward`` (its
topological order) and every optimizer ``step`` / ``zero_grad``. Later calls skip ``fn``'s
Python code, the Tensor operators, graph building and the topological sort: they put the
new arguments in place and call the *same* Function objects' ``forward`` and the engine's
own backward runner in the recorded order. Nothing is reimplemented, so a replay computes
exactly what eager mode computes, bit for bit.

What cannot be traced (as with ``jax.jit`` or ``torch.jit.trace``):

- Python control flow that depends on tensor values: the branch taken while tracing is
  the one replayed.
- Python numbers used in ops are baked into the plan (a learning rate passed as a number
  into a Tensor expression stays at its traced value; an optimizer's ``lr`` attribute is
  read at each replay because its ``step`` is replayed).
- Data must come in through the arguments: an array made inside ``fn`` or captured from
  outside (other than parameters and one-element constants) would be frozen, so tracing
  raises :class:`~tinygrad_nn.autograd.TraceError` for it. In-place writes to tensors
  other than by an optimizer are refused too.
- Other side effects of ``fn`` (printing, appending to lists) happen during the trace only.
- A compiled function reuses its recorded ops and buffers, so it must not run in two
  threads at once (processes, as joblib uses, are fine).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from .autograd import Function, run_backward
from .hooks import Hook, hooks_state, installed
from .tensor import Tensor

__all__ = ["Compiled", "TraceError", "compile"]


class TraceError(RuntimeError):
    """Something in a function given to :func:`compile` cannot be traced."""


class _ArgRef:
    """A setting that must take the value of argument ``index`` at each replay."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _signature(arg: Any) -> tuple:
    if isinstance(arg, Tensor):
        return ("tensor", arg.shape, arg.dtype.str, arg.requires_grad)
    if isinstance(arg, np.ndarray):
        return ("array", arg.shape, arg.dtype.str)
    if isinstance(arg, (int, float, bool, str, type(None))):
        return ("value", type(arg).__name__, arg)
    raise TypeError(
        f"compile: arguments must be Tensors, numpy arrays or plain numbers, "
        f"got {type(arg).__name__}"
    )


class _Tracer(Hook):
    """Collects the plan while ``fn`` runs eagerly for the first time."""

    def __init__(self, args: tuple) -> None:
        self.args = args
        self.steps: list[tuple] = []
        self.produced: set[Tensor] = set()
        self.bindings: list[tuple[Tensor, int]] = []
        self.bound: set[Tensor] = set()

    def _arg_index(self, array: np.ndarray) -> int | None:
        for i, arg in enumerate(self.args):
            data = arg._data if isinstance(arg, Tensor) else arg
            if data is array:
                return i
        return None

    def _bind_input(self, fn: Function, t: Tensor) -> None:
        if t in self.produced or t in self.bound:
            return
        index = self._arg_index(t._data)
        if index is not None:
            self.bindings.append((t, index))
            self.bound.add(t)
        elif not (t.requires_grad or t.size == 1):
            raise TraceError(
                f"compile: {fn.name} used a {t.shape} array that is not an argument of the "
                "compiled function; it would be frozen into the plan. Pass data as "
                "arguments (and compute with Tensor ops inside)."
            )

    def on_forward(self, fn: Function, inputs: tuple, settings: dict, result: Tensor) -> None:
        for t in inputs:
            self._bind_input(fn, t)
        template = {}
        for key, value in settings.items():
            if isinstance(value, np.ndarray):
                index = self._arg_index(value)
                if index is not None:
                    value = _ArgRef(index)
                elif value.size > 1:
                    raise TraceError(
                        f"compile: {fn.name} got a {value.shape} array for {key!r} that is "
                        "not an argument of the compiled function; pass it as an argument"
                    )
            template[key] = value
        self.produced.add(result)
        dynamic = any(type(v) is _ArgRef for v in template.values())
        self.steps.append(("op", fn, inputs, template, dynamic, result))

    def on_backward(self, order: list[Function], root: Tensor, seed: np.ndarray) -> None:
        self.steps.append(("backward", order, root, seed))
        for fn in order:  # the plan keeps these ops: their inputs may be written again
            fn.let_go()

    def on_call(self, call: Callable) -> None:
        self.steps.append(("call", call))

    def on_write(self, tensor: Tensor) -> None:
        raise TraceError(
            f"compile: a tensor{f' ({tensor.name})' if tensor.name else ''} of shape "
            f"{tensor.shape} was modified in place while tracing; such updates are not "
            "replayed. Update parameters with a tinygrad_nn.optim optimizer instead."
        )

    def keeps_graph(self) -> bool:
        return True


class _Plan:
    """One trace: argument bindings and the recorded steps, replayed in order."""

    def __init__(self, tracer: _Tracer, output: Any) -> None:
        self.bindings = tracer.bindings
        self.steps = tracer.steps
        self.output = output
        produced = tracer.produced
        for t in _tensors_in(output):
            if t not in produced and t not in tracer.bound:
                raise TraceError("compile: fn returned a tensor that no traced op made")
        for step in self.steps:  # the plan keeps its ops: let their inputs be written again
            if step[0] == "op" and step[5].op is step[1]:
                step[1].let_go()

    def run(self, args: tuple) -> Any:
        for t, index in self.bindings:
            arg = args[index]
            t._data = arg._data if isinstance(arg, Tensor) else arg
        for step in self.steps:
            kind = step[0]
            if kind == "op":
                _, fn, inputs, settings, dynamic, result = step
                if dynamic:
                    settings = {
                        k: (_value_of(args[v.index]) if type(v) is _ArgRef else v)
                        for k, v in settings.items()
                    }
                out = fn.forward(*[t._data for t in inputs], **settings)
                result._data = out if type(out) is np.ndarray else np.asarray(out)
            elif kind == "backward":
                _, order, root, seed = step
                run_backward(order, root, seed, retain_graph=True, check=False)
            else:
                step[1]()
        return _detached(self.output)


def _value_of(arg: Any) -> Any:
    return arg._data if isinstance(arg, Tensor) else arg


def _tensors_in(output: Any) -> list[Tensor]:
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in _tensors_in(item)]
    if output is None:
        return []
    raise TraceError(
        f"compile: fn must return Tensors (or a tuple of them), got {type(output).__name__}"
    )


def _detached(output: Any) -> Any:
    """The outputs as new graph-free Tensors (the plan's own tensors are reused)."""
    if isinstance(output, Tensor):
        return Tensor._from_op(output._data, None)
    if isinstance(output, (tuple, list)):
        return type(output)(_detached(item) for item in output)
    return output


class Compiled:
    """A traced-and-replayed version of ``fn``; see :func:`compile`."""

    def __init__(self, fn: Callable, max_plans: int = 16) -> None:
        self.fn = fn
        self.max_plans = max_plans
        self._plans: OrderedDict[tuple, _Plan] = OrderedDict()
        functools.update_wrapper(self, fn)

    @property
    def traces(self) -> int:
        """How many argument signatures have been traced and are kept."""
        return len(self._plans)

    def __call__(self, *args: Any) -> Any:
        key = tuple(_signature(a) for a in args)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
            return plan.run(args)
        result, plan = self._trace(args)
        self._plans[key] = plan
        if len(self._plans) > self.max_plans:
            self._plans.popitem(last=False)
        return result

    def _trace(self, args: tuple) -> tuple[Any, _Plan]:
        if any(isinstance(h, _Tracer) for h in hooks_state.hooks):
            raise TraceError("compile: a compiled function cannot run inside another's trace")
        with installed(_Tracer(args)) as tracer:
            output = self.fn(*args)
        return _detached(output), _Plan(tracer, output)


def compile(fn: Callable) -> Compiled:
    """Trace ``fn`` on its first call and replay it afterwards (see the module docstring).

    ``fn`` takes Tensors, numpy arrays or plain numbers and returns a Tensor (or a tuple of
    them), typically a whole training step::

        @tinygrad_nn.compile
        def step(x, y):
            loss = softmax_cross_entropy(model(Tensor(x)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

    New argument shapes or dtypes trigger a new trace (the last 16 are kept). Results equal
    eager mode exactly.
    """
    return Compiled(fn)
