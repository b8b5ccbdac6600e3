"""``compile(fn)``: trace a training step once and turn it into plain numpy source.

The first call with given argument shapes and dtypes runs ``fn`` eagerly while a tracer
writes the program: each op's code template (``forward_code`` / ``backward_code``, next to
its ``forward`` and ``backward``) adds its numpy lines as the op runs, each ``backward``
is written in the engine's own order, and optimizer steps from their ``step_code``. The
program becomes the source of one Python function (``compiled.source``): every temporary
preallocated once and reused, ``out=`` and in-place operations where an input dies, dead
values dropped, constants folded, and no Tensor, Function or graph objects left. Later
calls run that function. It computes what eager mode computes, bit for bit. An op without
a template runs its Function inside the generated code instead (still exact).

What the trace records, and what it checks at every call:

- Arguments are bound by position: Tensors, numpy arrays (any dtype, integer images and
  labels included) and plain numbers; new shapes, dtypes or numbers trace again.
- Tensors that existed before the call (parameters, captured constants) are read by
  identity; modules and optimizers it used are watched, so replacing a layer, a parameter
  or its array (``p.data = ...``) traces again. In-place edits are seen as they are.
- Data that is neither an argument, nor made by the traced ops, nor a Python number
  written in the code (say a numpy array computed inside ``fn``) would be frozen, so the
  trace refuses it with a :class:`TraceError` naming it. So are in-place writes to tensors
  other than by an optimizer, and ops on tensors made before the call.

What cannot be traced (as with ``jax.jit``): Python control flow on tensor values (the
branch taken while tracing is replayed), Python numbers computed from tensor values
(``.item()``), side effects such as printing (traced once). After a replay each
parameter's ``.grad`` is the compiled function's buffer, overwritten by the next call.
A compiled function must not run in two threads at once (processes are fine).
"""

from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import linecache
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ._optional import require
from ._trace import TraceError, Tracer
from .autograd import _store_grad
from .hooks import hooks_state, installed
from .tensor import Tensor

__all__ = ["Compiled", "TraceError", "compile"]

_MISS = object()
_counter = itertools.count(1)


def _signature(arg: Any) -> tuple:
    if isinstance(arg, Tensor):
        if arg.op is not None:
            raise TypeError(
                "compile: Tensor arguments must be leaves, not results of ops; pass "
                "t.detach() or its data"
            )
        return ("tensor", arg.shape, arg.dtype.str, arg.requires_grad)
    if isinstance(arg, np.ndarray):
        return ("array", arg.shape, arg.dtype.str)
    if isinstance(arg, (int, float, bool, str, type(None), np.generic)):
        return ("value", type(arg).__name__, arg)
    raise TypeError(
        f"compile: arguments must be Tensors, numpy arrays or plain numbers, "
        f"got {type(arg).__name__}"
    )


def _arg_names(fn: Callable, n: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) < n or len(set(names[:n])) < n:
        names = [f"arg{i}" for i in range(n)]
    return names[:n]


def _proxies(args: tuple) -> tuple[tuple, list[tuple[Tensor, Tensor]]]:
    """The arguments as ``fn`` sees them while tracing: every array a distinct object, so
    each is bound to its position even when the caller passed one array twice."""
    out, merged, seen = [], [], set()
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(a.view())
        elif isinstance(a, Tensor) and id(a) in seen:
            p = Tensor._from_op(a._data.view(), None)
            p.requires_grad, p.name = a.requires_grad, a.name
            merged.append((a, p))
            out.append(p)
        else:
            if isinstance(a, Tensor):
                seen.add(id(a))
            out.append(a)
    return tuple(out), merged


def _watch_expr(objs: list[Any], keep: list) -> list[str]:
    """Guard terms: every attribute of each watched object (and every item of its lists)
    is still the very object it was."""
    terms = []
    for i, obj in enumerate(objs):
        d = vars(obj)
        keep.append(d)
        terms.append(f"len(W[{i}]) == {len(d)}")
        for key, value in d.items():
            keep.append(value)
            terms.append(f"W[{i}][{key!r}] is K[{len(keep) - 1}]")
            if isinstance(value, list):
                for j, item in enumerate(value):
                    keep.append(item)
                    terms.append(f"W[{i}][{key!r}][{j}] is K[{len(keep) - 1}]")
    return terms


class Plan:
    """One trace: the generated function, its source and its guard."""

    def __init__(
        self, tracer: Tracer, outputs: list[str], name: str, fn: Callable, rewrite: Any = None
    ) -> None:
        source, namespace = tracer.prog.build(name, tracer.params, outputs)
        if rewrite is not None:  # another backend's version of the same source
            source = rewrite(source, namespace)
        self.source = source
        self.namespace = namespace
        watched = list(tracer.watched)
        for obj in _captured(fn):
            if not any(obj is w for w in watched) and not isinstance(obj, Tensor):
                watched.append(obj)
        for obj in list(watched):
            for _, m in obj.named_modules() if hasattr(obj, "named_modules") else ():
                if not any(m is w for w in watched):
                    watched.append(m)
        keep: list[Any] = []
        terms = [f"L[{i}][0]._data is L[{i}][1]" for i in range(len(tracer.live))]
        terms += _watch_expr(watched, keep)
        guard_src = "def guard():\n    return " + (" and ".join(terms) or "True") + "\n"
        env = {"L": list(tracer.live), "W": [vars(o) for o in watched], "K": keep}
        exec(builtins.compile(guard_src, "<tinygrad_nn.compile guard>", "exec"), env)  # noqa: S102
        self.guard = env["guard"]
        filename = f"<tinygrad_nn.compile {name} #{next(_counter)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(builtins.compile(source, filename, "exec"), namespace)  # noqa: S102
        self.run = namespace[tracer.prog.fname]


def _captured(fn: Callable) -> list[Any]:
    """Modules and optimizers ``fn`` refers to directly (closure cells, globals it names)."""
    from .nn.module import Module
    from .optim import Optimizer

    fn = inspect.unwrap(fn)
    found: list[Any] = []
    cells = getattr(fn, "__closure__", None) or ()
    values = [c.cell_contents for c in cells if _filled(c)]
    code = getattr(fn, "__code__", None)
    if code is not None:
        g = getattr(fn, "__globals__", {})
        values += [g[n] for n in code.co_names if n in g]
    for v in values:
        if isinstance(v, (Module, Optimizer)) or (isinstance(v, Tensor) and v.requires_grad):
            found.append(v)
    return found


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


class Compiled:
    """A traced-and-generated version of ``fn``; see :func:`compile`."""

    def __init__(self, fn: Callable, max_plans: int = 16, backend: str = "numpy") -> None:
        if backend not in ("numpy", "numba"):
            raise ValueError(f"compile: unknown backend {backend!r}; choose 'numpy' or 'numba'")
        self.fn = fn
        self.max_plans = max_plans
        self.backend = backend
        self._plans: OrderedDict[tuple, Plan] = OrderedDict()
        self._last: Plan | None = None
        self._rewrite: Callable | None = None
        self._warm: Callable | None = None
        if backend == "numba":  # the generated source, its elementwise chains fused
            require("numba", "fast", 'compile(fn, backend="numba")')
            from ._numba import fuse, warm_kernels

            self._rewrite, self._warm = fuse, warm_kernels
        #: seconds the last trace took: the eager run, writing the source, compiling it
        self.trace_seconds: float | None = None
        #: seconds the first call took to trace, generate and compile (numba kernels cached
        #: on disk load in milliseconds in later processes)
        self.compile_seconds: float | None = None
        functools.update_wrapper(self, fn)

    @property
    def traces(self) -> int:
        """How many argument signatures have been traced and are kept."""
        return len(self._plans)

    @property
    def source(self) -> str:
        """The generated source of the most recent trace (empty before the first call)."""
        return self._last.source if self._last is not None else ""

    def __call__(self, *args: Any) -> Any:
        key = tuple([_signature(a) for a in args])
        plan = self._plans.get(key)
        if plan is not None and plan.guard():
            if plan is not self._last:
                self._plans.move_to_end(key)
                self._last = plan
            return _wrap(plan.run(*args), plan.structure)
        began = time.perf_counter()
        result, plan = self._trace(args)
        if self._warm is not None:
            self._warm(plan.namespace)
        self.trace_seconds = time.perf_counter() - began
        if self.compile_seconds is None:
            self.compile_seconds = self.trace_seconds
        self._plans[key] = plan
        self._plans.move_to_end(key)
        self._last = plan
        if len(self._plans) > self.max_plans:
            self._plans.popitem(last=False)
        return result

    def _trace(self, args: tuple) -> tuple[Any, Plan]:
        if any(isinstance(h, Tracer) for h in hooks_state.hooks):
            raise TraceError("compile: a compiled function cannot run inside another's trace")
        proxies, merged = _proxies(args)
        names = _arg_names(self.fn, len(args))
        with installed(Tracer(proxies, names, _captured(self.fn))) as tracer:
            output = self.fn(*proxies)
        for real, proxy in merged:  # an argument passed twice gets both gradients
            if proxy.grad is not None:
                _store_grad(real, proxy.grad, copy=True)
        outputs = [self._output_token(tracer, t) for t in _tensors_in(output)]
        name = getattr(self.fn, "__name__", "step")
        name = name if name.isidentifier() and name != "<lambda>" else "step"
        plan = Plan(tracer, outputs, name, self.fn, self._rewrite)
        plan.structure = _structure(output)
        return _detached(output), plan

    @staticmethod
    def _output_token(tracer: Tracer, t: Tensor) -> str:
        token = tracer.tensor_val.get(t)
        if token is None or tracer.prog.vals[token].kind == "unknown":
            raise TraceError("compile: fn returned a tensor that no traced op made")
        val = tracer.prog.vals[token]
        if val.kind != "local":  # a buffer is reused by the next call: hand out a copy
            return f"{token}.copy()"
        return token


def _structure(output: Any) -> Any:
    """Where each returned tensor goes: 0 for a tensor, a (type, items) pair for a sequence."""
    if isinstance(output, (tuple, list)):
        return (type(output), [_structure(o) for o in output])
    return 0 if isinstance(output, Tensor) else None


def _wrap(arrays: tuple, structure: Any) -> Any:
    if structure == 0:
        a = arrays[0]
        return Tensor._from_op(a if type(a) is np.ndarray else np.asarray(a), None)
    items = iter(arrays)

    def build(s: Any) -> Any:
        if s == 0:
            a = next(items)
            return Tensor._from_op(a if type(a) is np.ndarray else np.asarray(a), None)
        if s is None:
            return None
        return s[0](build(i) for i in s[1])

    return build(structure)


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
    """The outputs as new graph-free Tensors."""
    if isinstance(output, Tensor):
        return Tensor._from_op(output._data, None)
    if isinstance(output, (tuple, list)):
        return type(output)(_detached(item) for item in output)
    return output


def compile(fn: Callable, backend: str = "numpy") -> Compiled:
    """Trace ``fn`` on its first call and run generated numpy source afterwards.

    ``fn`` takes Tensors, numpy arrays or plain numbers and returns a Tensor (or a tuple
    of them), typically a whole training step::

        @tinygrad_nn.compile
        def step(x, y):
            loss = softmax_cross_entropy(model(Tensor(x)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

        step.source  # the generated function, after the first call

    New argument shapes, dtypes or numbers trace again (the last 16 traces are kept).
    Results equal eager mode exactly. ``backend="numba"`` (extra ``[fast]``) compiles the
    step with Numba, fusing elementwise chains into loops (results within float32
    round-off of eager mode).
    """
    return Compiled(fn, backend=backend)
