"""Tracing for ``compile``: run the function once, eagerly, and write its program meanwhile.

A :class:`Tracer` is a :class:`~tinygrad_nn.hooks.Hook`. It knows where every array comes
from: an argument (by position), an op of this trace, a Python number (a constant), or a
tensor that existed before the trace (a parameter: bound by identity and checked at every
call). Each op's ``forward_code`` writes its lines as the op runs; each ``backward`` is
written as the engine runs it (same order, same sums); optimizer steps and ``zero_grad``
are written from their own templates. Arrays of any other origin are refused with a
:class:`TraceError` naming them.
"""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np

from .autograd import Function, _store_grad
from .codegen import Code, Program, Val
from .hooks import Hook, VersionClock
from .nn.module import Module
from .optim import Optimizer
from .tensor import Tensor

__all__ = ["TraceError", "Tracer"]

UNKNOWN = "unknown"  # a leaf's grad state when the program cannot know it


class TraceError(RuntimeError):
    """Something in a function given to :func:`~tinygrad_nn.compile` cannot be traced."""


def _label(t: Tensor) -> str:
    return f"'{t.name}'" if t.name else f"of shape {t.shape} ({t.dtype})"


def _is_literal(x: Any) -> bool:
    """Python numbers (or nested lists of them): values written in the code, constants."""
    if isinstance(x, (list, tuple)):
        return all(_is_literal(i) for i in x)
    return isinstance(x, (Number, np.generic)) and not isinstance(x, np.ndarray)


class Tracer(Hook):
    """Writes the program of one call of a function while it runs eagerly."""

    def __init__(self, args: tuple, names: list[str], watched: tuple = ()) -> None:
        self.prog = Program(names)
        # each known tensor's .grad at the start: a change the trace did not see is refused
        self.entry_grads: dict[Tensor, Any] = {}
        for obj in watched:
            params = obj.parameters() if hasattr(obj, "parameters") else [obj]
            for p in getattr(obj, "params", params):
                self.entry_grads[p] = p.grad
        self.tensor_val: dict[Tensor, str] = {}
        self.array_val: dict[int, tuple[np.ndarray, str]] = {}
        self.codes: dict[Function, Code] = {}
        self.grad_out: dict[Function, str] = {}
        self.grad_state: dict[Tensor, Any] = {}
        self.stores: dict[Tensor, Any] = {}  # the line that last stored each leaf's .grad
        self.leaf_names: dict[Tensor, str] = {}
        self.live: list[tuple[Tensor, np.ndarray]] = []
        self.watched: list[Any] = []  # modules and optimizers whose structure is guarded
        self.arg_tensors: dict[int, Tensor] = {}
        self.params: list[str] = []
        self.counts: dict[str, int] = {}
        for i, (arg, name) in enumerate(zip(args, names)):
            self.params.append(name)
            if isinstance(arg, Tensor):
                token = self.prog.value(Val(arg.shape, arg.dtype, "arg", f"{name}_data"))
                self.prog.line(f"{token} = {name}._data", effect=True)
                self.tensor_val[arg] = token
                self.array_val[id(arg._data)] = (arg._data, token)
                self.arg_tensors[i] = arg
                self.leaf_names[arg] = name
            elif isinstance(arg, np.ndarray):
                token = self.prog.value(Val(arg.shape, arg.dtype, "arg", name))
                self.array_val[id(arg)] = (arg, token)

    # ------------------------------------------------------------------ values
    def _hint(self, base: str) -> str:
        n = self.counts.get(base, 0) + 1
        self.counts[base] = n
        return base if n == 1 else f"{base}{n}"

    def _array_token(self, arr: np.ndarray) -> str | None:
        """The value an array is (or is a whole view of), when the trace knows it."""
        seen = self.array_val.get(id(arr))
        if seen is not None and seen[0] is arr:
            return seen[1]
        base = arr.base
        whole = isinstance(base, np.ndarray) and base.shape == arr.shape
        if whole and base.dtype == arr.dtype and base.strides == arr.strides:
            return self._array_token(base)
        return None

    def _constant(self, arr: np.ndarray, hint: str) -> str:
        arr = np.array(arr, copy=True)
        arr.flags.writeable = False
        return self.prog.value(Val(arr.shape, arr.dtype, "const", hint, value=arr))

    def on_tensor(self, tensor: Tensor, source: Any) -> None:
        data = tensor._data
        token = self._array_token(data)
        if token is None and isinstance(source, (Tensor, np.ndarray)):
            src = source._data if isinstance(source, Tensor) else source
            known = self._array_token(src)
            if known is not None and src.shape == data.shape and data.base is None:
                val = self.prog.vals[known]
                hint = f"{val.hint}_{data.dtype.name}"
                token = self.prog.value(Val(data.shape, data.dtype, "buffer", hint))
                self.prog.line(f"{token}[...] = {known}")  # the dtype conversion Tensor made
        if token is None and _is_literal(source):
            token = self._constant(data, "k")
        if token is None:
            token = self.prog.value(Val(data.shape, data.dtype, "unknown", "?"))
        self.tensor_val[tensor] = token
        self.array_val.setdefault(id(data), (data, token))

    def _input(self, fn: Function, t: Tensor) -> str:
        token = self.tensor_val.get(t)
        if token is None:  # a tensor from before the trace: bound by identity, guarded
            if t.op is not None:
                raise TraceError(
                    f"compile: {fn.name} used a tensor {_label(t)} made by ops outside the "
                    "compiled function; pass its data as an argument (or detach it)"
                )
            name = (t.name or self._hint("leaf")).replace(".", "_")
            token = self.prog.value(Val(t.shape, t.dtype, "live", name, value=t._data))
            self.tensor_val[t] = token
            self.array_val.setdefault(id(t._data), (t._data, token))
            self.live.append((t, t._data))
            self.leaf_names[t] = self.prog.bind(f"{name}_tensor", t)
        elif self.prog.vals[token].kind == "unknown":
            raise TraceError(
                f"compile: {fn.name} used a tensor {_label(t)} whose data is neither an "
                "argument of the compiled function, nor made by its ops, nor a constant "
                "written in the code, so it would be frozen at its traced value. Pass the "
                "array as an argument and compute with Tensor ops inside."
            )
        return token

    def _setting(self, fn: Function, key: str, value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(self._setting(fn, key, v) for v in value)
        if isinstance(value, list):
            return [self._setting(fn, key, v) for v in value]
        if isinstance(value, np.ndarray):
            token = self._array_token(value)
            if token is None or self.prog.vals[token].kind == "unknown":
                raise TraceError(
                    f"compile: {fn.name} got a {value.shape} {value.dtype} array for {key!r} "
                    "that is not an argument of the compiled function nor made by its ops; "
                    "it would be frozen at its traced value. Pass it as an argument."
                )
            return token
        plain = (bool, int, float, np.number, slice, type(None), type(Ellipsis))
        if isinstance(value, plain):
            return value
        # any other object (a random generator, a string) is passed to the op by name
        return self.prog.bind(f"{fn.name}_{key}", value)

    # ------------------------------------------------------------------ forward
    def on_forward(self, fn: Function, inputs: tuple, settings: dict, result: Tensor) -> None:
        tokens = [self._input(fn, t) for t in inputs]
        for entry in getattr(fn, "scope", ()):
            if not any(entry is w for w in self.watched) and hasattr(entry, "named_modules"):
                self.watched.append(entry)
        kw = {k: self._setting(fn, k, v) for k, v in settings.items()}
        vals = self.prog.vals
        recorded = result.op is fn
        if all(vals[t].kind == "const" for t in tokens) and not recorded:
            token = self._constant(result._data, "k")  # folded: it is the same every call
        else:
            token = self._emit_forward(fn, tokens, kw, result, recorded)
        self.tensor_val[result] = token
        self.array_val[id(result._data)] = (result._data, token)

    def _emit_forward(self, fn, tokens, kw, result, recorded) -> str:
        scope = getattr(fn, "scope", ())
        inner = scope[-1].scope_name if len(scope) > 1 else ""
        hint = self._hint(inner.replace(".", "_") if inner else fn.name)
        self.prog.comment(f"{inner + ': ' if inner else ''}{fn.name}")
        out = result._data
        code = Code(self.prog, fn, hint, out)
        self.codes[fn] = code
        template = getattr(fn, "forward_code", None)
        mark = len(self.prog.lines), len(self.prog.vals)
        if template is not None:
            try:
                token = template(code, *tokens, **kw)
                val = self.prog.vals[token]
                if val.shape == out.shape and val.dtype == out.dtype:
                    return token
            except NotImplementedError:
                pass
            del self.prog.lines[mark[0] :]  # the template does not cover this case
        code.fallback = True
        cls = self.prog.bind(type(fn).__name__, type(fn))
        obj = self.prog.value(Val((), np.dtype(object), "local", f"{fn.name}_op"))
        self.prog.line(f"{obj} = {cls}()")
        if recorded:
            self.prog.line(f"{obj}.needs_input_grad = {fn.needs_input_grad!r}", writes=(obj,))
        args = ", ".join(tokens + [f"{k}={code.lit(v)}" for k, v in kw.items()])
        token = self.prog.value(Val(out.shape, out.dtype, "foreign", hint))
        self.prog.line(f"{token} = np.asarray({obj}.forward({args}))")
        code.saved.update(obj=obj, inputs=tuple(tokens))
        return token

    # ------------------------------------------------------------------ backward
    def on_backward(self, order: list, root: Tensor, seed: np.ndarray) -> None:
        token = self._array_token(seed)
        if token is None or self.prog.vals[token].kind == "unknown":
            if not np.all(seed == 1):
                raise TraceError(
                    "compile: backward got a gradient that is not an argument of the compiled "
                    "function nor made by its ops; pass it as an argument"
                )
            token = self._constant(seed, "one")
        self.grad_out = {root.op: token}
        for fn in order:
            if fn not in self.codes:
                raise TraceError(
                    f"compile: backward goes through '{fn.name}', an op made before the "
                    "compiled function was called; build the whole graph inside it"
                )

    def on_grads(self, fn: Function, grads: tuple, root: Tensor) -> None:
        g = self.grad_out.pop(fn)
        code = self.codes[fn]
        self.prog.comment(f"backward of {code.hint}")
        if getattr(code, "fallback", False):
            tokens = self._fallback_backward(fn, code, g, grads)
        else:
            tokens = fn.backward_code(code, g)
            if not isinstance(tokens, tuple):
                tokens = (tokens,)
        previous = None
        for t, gi, actual in zip(fn.inputs, tokens, grads):
            if actual is None or not t.requires_grad:
                continue
            actual = np.asarray(actual)
            shape, dtype = self.prog.meta(gi)
            if shape != actual.shape or dtype != actual.dtype:
                raise RuntimeError(
                    f"compile: the code template of {fn.name} made a gradient {shape} {dtype}"
                    f", its backward {actual.shape} {actual.dtype}"
                )
            gi = self._unbroadcast(gi, t.shape)
            if t.op is None:
                self._store_leaf(t, gi, copy=gi in (g, previous))
            else:
                prev = self.grad_out.get(t.op)
                if prev is None:
                    self.grad_out[t.op] = gi
                else:
                    total = Code(self.prog, None, f"g_{self.codes[t.op].hint}").new(
                        prev, gi, reuse=(prev, gi)
                    )
                    self.prog.line(f"np.add({prev}, {gi}, out={total})")
                    self.grad_out[t.op] = total
            previous = gi

    def _fallback_backward(self, fn, code, g, grads) -> tuple:
        obj = code.saved["obj"]
        helper = self.prog.bind("grads_of", _grads_of)
        tokens = []
        for actual in grads:
            a = np.asarray(actual) if actual is not None else np.zeros(0)
            tokens.append(self.prog.value(Val(a.shape, a.dtype, "foreign", f"g_{code.hint}")))
        names = ", ".join(tokens) + ("," if len(tokens) == 1 else "")
        self.prog.line(
            f"{names} = {helper}({obj}, {obj}.backward({g}))",
            extra_reads=code.saved["inputs"],
            writes=tuple(tokens),
        )
        return tuple(tokens)

    def _unbroadcast(self, g: str, shape: tuple) -> str:
        gshape, dtype = self.prog.meta(g)
        if gshape == shape:
            return g
        extra = len(gshape) - len(shape)
        code = Code(self.prog, None, self.prog.vals[g].hint)
        if extra > 0:
            gshape = gshape[extra:]
            g = code.let(f"{g}.sum(axis={tuple(range(extra))})", shape=gshape, dtype=dtype)
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and gshape[i] != 1)
        if stretched:
            g = code.let(f"{g}.sum(axis={stretched}, keepdims=True)", shape=shape, dtype=dtype)
        return g

    def _store_leaf(self, t: Tensor, g: str, copy: bool) -> None:
        """``_store_grad`` of the engine, written out: the first gradient is stored, later
        ones added; a leaf made inside the function keeps no gradient anyone could read."""
        target = self.leaf_names.get(t)
        if target is None:
            return
        state = self.grad_state.get(t, UNKNOWN)
        vals = self.prog.vals
        code = Code(self.prog, None, f"g_{target.removesuffix('_tensor')}")
        if state is UNKNOWN:
            if t in self.entry_grads and t.grad is not self.entry_grads[t]:
                raise TraceError(
                    f"compile: the gradient of tensor {_label(t)} was changed inside the "
                    "function other than by zero_grad(); such changes are not replayed. Use "
                    "optimizer.zero_grad() or tensor.zero_grad()."
                )
            helper = self.prog.bind("store_grad", _store_grad)
            self.prog.line(f"{helper}({target}, {g}, copy=True)", effect=True)
            return
        if state is None:
            val = vals[g]
            if copy or val.kind not in ("buffer", "local") or val.dtype != t.dtype:
                new = code.new(shape=t.shape, dtype=t.dtype)
                self.prog.line(f"{new}[...] = {g}")
                g = new
        else:
            total = code.new(state, g)
            self.prog.line(f"np.add({state}, {g}, out={total})")
            g = total
            if vals[g].dtype != t.dtype:
                g = code.let(f"{g}.astype({t.dtype.name!r})", shape=t.shape, dtype=t.dtype)
        vals[g].escapes = True
        stale = self.stores.pop(t, None)
        if stale is not None:  # nothing read the gradient stored before this one
            self.prog.lines.remove(stale)
        self.prog.line(f"{target}.grad = {g}", effect=True)
        self.stores[t] = self.prog.lines[-1]
        self.grad_state[t] = g

    # ------------------------------------------------------------------ stateful calls
    def on_call(self, call: Any) -> None:
        obj, name = call.args[0] if call.args else None, call.func.__name__
        simple = len(call.args) == 1 and not call.keywords
        if simple and call.func in _zero_grads():
            params = getattr(obj, "params", None)
            if params is None and hasattr(obj, "parameters"):
                params = obj.parameters()
            if params is None and isinstance(obj, Tensor):
                params = [obj]
            if params is not None:
                if not isinstance(obj, Tensor):
                    self._watch(obj)
                for p in params:
                    target = self.leaf_names.get(p) or self._leaf_target(p)
                    stale = self.stores.pop(p, None)
                    if stale is not None:
                        self.prog.lines.remove(stale)
                    self.prog.line(f"{target}.grad = None", effect=True)
                    self.stores[p] = self.prog.lines[-1]
                    self.grad_state[p] = None
                return
        if simple and call.func is Optimizer.step.__wrapped__ and _has_step_code(obj):
            grads = [self.grad_state.get(p, UNKNOWN) for p in obj.params]
            if all(g is not UNKNOWN for g in grads):
                self._watch(obj)
                self.prog.comment(f"{type(obj).__name__}.step")
                targets = [self.leaf_names.get(p) or self._leaf_target(p) for p in obj.params]
                tokens = [self._param_token(p) for p in obj.params]
                opt = self.prog.bind(type(obj).__name__.lower(), obj)
                clock = self.prog.bind("VersionClock", VersionClock)
                obj.step_code(OptimizerCode(self.prog, opt, clock), tokens, grads, targets)
                return
        # anything else runs as it is; gradients may change under it
        owner = type(obj).__name__.lower() if obj is not None else "call"
        self.prog.line(f"{self.prog.bind(f'{owner}_{name}', call)}()", effect=True)
        self.stores.clear()
        for t in list(self.grad_state):
            self.grad_state[t] = UNKNOWN
        self.grad_state.clear()

    def _watch(self, obj: Any) -> None:
        if not any(obj is w for w in self.watched):
            self.watched.append(obj)

    def _leaf_target(self, p: Tensor) -> str:
        name = (p.name or self._hint("leaf")).replace(".", "_")
        self.leaf_names[p] = self.prog.bind(f"{name}_tensor", p)
        return self.leaf_names[p]

    def _param_token(self, p: Tensor) -> str:
        token = self.tensor_val.get(p)
        if token is None:
            name = (p.name or self._hint("leaf")).replace(".", "_")
            token = self.prog.value(Val(p.shape, p.dtype, "live", name, value=p._data))
            self.tensor_val[p] = token
            self.live.append((p, p._data))
        return token

    def on_write(self, tensor: Tensor) -> None:
        raise TraceError(
            f"compile: a tensor{f' ({tensor.name})' if tensor.name else ''} of shape "
            f"{tensor.shape} was modified in place while tracing; such updates are not "
            "replayed. Update parameters with a tinygrad_nn.optim optimizer instead."
        )


class OptimizerCode:
    """What an optimizer's ``step_code`` writes with: ``opt`` and ``clock`` are the names
    of the optimizer and of ``VersionClock`` in the generated code."""

    def __init__(self, prog: Program, opt: str, clock: str) -> None:
        self.prog, self.opt, self.clock = prog, opt, clock

    def line(self, text: str) -> None:
        """One line with effects (it updates parameters and state in place)."""
        self.prog.line(text, effect=True)

    def state(self, array: np.ndarray, hint: str) -> str:
        """The name of one of the optimizer's own arrays (bound by identity)."""
        return self.prog.value(Val(array.shape, array.dtype, "live", hint, value=array))

    def scratch(self, like: str) -> str:
        """A preallocated temporary shaped like value ``like``."""
        shape, dtype = self.prog.meta(like)
        return self.prog.value(Val(shape, dtype, "buffer", "tmp", scratch=True))


def _zero_grads() -> tuple:
    """The library's own ``zero_grad`` methods (a replaced one runs as it is)."""
    return (
        Optimizer.zero_grad.__wrapped__,
        Module.zero_grad.__wrapped__,
        Tensor.zero_grad.__wrapped__,
    )


def _has_step_code(opt: Any) -> bool:
    """True when the class that defines the optimizer's update also wrote its template."""
    for cls in type(opt).__mro__:
        if "_update" in vars(cls) or "_begin_step" in vars(cls):
            return "step_code" in vars(cls)
    return False


def _grads_of(fn: Function, grads: Any) -> tuple:
    """A fallback op's backward result as the engine reads it: one array (or None) each."""
    if type(grads) is not tuple:
        grads = (grads,)
    return tuple(g if g is None or type(g) is np.ndarray else np.asarray(g) for g in grads)
