"""The program ``compile`` writes: numpy lines over named values, turned into one function.

Each op's code template (``forward_code`` / ``backward_code`` beside its ``forward`` and
``backward``) writes lines through a :class:`Code`, naming the values it makes with
:meth:`Code.new` (a buffer preallocated once and reused every call) or :meth:`Code.let` (an
array made by the expression each call). Names are placeholders (``_v12_``) until
:meth:`Program.build`: it folds lines whose inputs are all constants, drops lines whose
results nobody uses, gives every buffer value a preallocated array (taking over an input's
array in place where the template allows it and the input dies there), names everything
readably and returns the source of one plain Python function.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Code", "Program", "Val", "np_dtype"]

TOKEN = re.compile(r"_v\d+_")
_WRITE = re.compile(r"^\s*(_v\d+_)(?:\[[^=]*\])?\s*(?:[-+*/]?=)(?!=)")
_OUT = re.compile(r"out=(_v\d+_)")
_AUGMENTED = re.compile(r"^(\w+) ([-+*/])= (.+)$")
_UFUNCS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}


@dataclass
class Val:
    """What the program knows about one value.

    ``kind``: "buffer" (preallocated, ours), "local" (a fresh array each call), "view" (shares
    the memory of ``base``), "foreign" (made by a Function or user code: never written),
    "arg" (an argument), "live" (an array bound by identity: a parameter, optimizer state),
    "const" (known while tracing; ``value``).
    """

    shape: tuple
    dtype: np.dtype
    kind: str
    hint: str = "t"
    base: str | None = None
    value: Any = None
    reuse: tuple = ()
    scratch: bool = False
    escapes: bool = False


@dataclass
class Line:
    text: str
    effect: bool = False
    extra_reads: tuple = ()
    comment: str = ""
    extra_writes: tuple = ()


def _scalar(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return float(text)


class Program:
    """Values and lines of one traced function, and :meth:`build` to turn them into source."""

    def __init__(self, params: list[str] | None = None) -> None:
        self.params = list(params or [])
        self.vals: dict[str, Val] = {}
        self.lines: list[Line] = []
        self.names: dict[str, Any] = {"np": np}
        self._comment = ""

    # ------------------------------------------------------------------ building
    def value(self, val: Val) -> str:
        """A new placeholder name for ``val``."""
        token = f"_v{len(self.vals)}_"
        self.vals[token] = val
        return token

    def line(
        self, text: str, effect: bool = False, extra_reads: tuple = (), writes: tuple = ()
    ) -> None:
        """Append one line; ``effect``: kept even when nothing reads what it writes."""
        self.lines.append(Line(text, effect, tuple(extra_reads), self._comment, tuple(writes)))
        self._comment = ""

    def comment(self, text: str) -> None:
        """A comment shown above the next line."""
        self._comment = text

    def bind(self, hint: str, obj: Any, taken: set | frozenset = frozenset()) -> str:
        """A global name for ``obj`` in the generated function's namespace."""
        name = _identifier(hint)
        base, i = name, 1
        while (
            (name in self.names and self.names[name] is not obj)
            or name in self.params
            or name in taken
        ):
            i += 1
            name = f"{base}_{i}"
        self.names[name] = obj
        return name

    def meta(self, name: str) -> tuple[tuple, np.dtype | None]:
        """(shape, dtype) of a value name, or ((), None) for a Python number literal."""
        val = self.vals.get(name)
        if val is not None:
            return val.shape, val.dtype
        return (), None

    # ------------------------------------------------------------------ build
    def build(self, fname: str, params: list[str], outputs: list[str]) -> tuple[str, dict]:
        """The source of ``def fname(params): ...`` returning ``outputs``, and its globals."""
        while fname in self.names:
            fname += "_"
        self.fname = fname
        ret = ", ".join(outputs) + ("," if len(outputs) == 1 else "")
        self.line(f"return ({ret})" if outputs else "return ()", effect=True)
        lines = self._fold(self.lines)
        lines = self._dead(lines)
        names = self._allocate(lines)
        body = []
        for line in lines:
            if line.comment:
                body.append(f"    # {line.comment}")
            text = TOKEN.sub(lambda m: names[m.group(0)], line.text)
            m = _AUGMENTED.match(text)
            if m and m.group(1) in self.names:  # a global: `a += b` would make it local
                ufunc = _UFUNCS[m.group(2)]
                text = f"np.{ufunc}({m.group(1)}, {m.group(3)}, out={m.group(1)})"
            body.append("    " + text)
        head = f"def {fname}({', '.join(params)}):"
        return "\n".join([head, *body]) + "\n", self.names

    def _reads(self, line: Line) -> set[str]:
        return set(TOKEN.findall(line.text)) | set(line.extra_reads)

    def _writes(self, line: Line) -> set[str]:
        found = set(_OUT.findall(line.text)) | set(line.extra_writes)
        m = _WRITE.match(line.text)
        if m:
            found.add(m.group(1))
        return found

    def _fold(self, lines: list[Line]) -> list[Line]:
        """Run lines that read only constants now; their results become constants."""
        kept: list[Line] = []
        seen: set[str] = set()
        for line in lines:
            tokens = TOKEN.findall(line.text)
            writes = self._writes(line)
            fresh = {
                t
                for t in writes
                if t not in seen and tokens.count(t) == 1 and not _updates(line.text, t)
            }
            seen.update(tokens)
            inputs = set(tokens) - fresh
            fold = not line.effect and writes and inputs and not line.extra_reads
            fold = fold and all(self.vals[t].kind == "const" for t in inputs)
            if not fold:
                kept.append(line)
                continue
            _carry_comment(line, lines)
            env = dict(self.names)
            for t in set(tokens):
                val = self.vals[t]
                if t in fresh:
                    env[t] = np.empty(val.shape, val.dtype) if val.kind == "buffer" else None
                else:
                    env[t] = np.array(val.value, copy=True)
            try:
                exec(line.text.strip(), env)  # noqa: S102 (our own template line, on constants)
            except NameError:  # it reads an argument or a global after all
                kept.append(line)
                continue
            for t in writes:
                value = np.asarray(env[t])
                value.flags.writeable = False
                val = self.vals[t]
                self.vals[t] = Val(value.shape, value.dtype, "const", val.hint, value=value)
        return kept

    def _dead(self, lines: list[Line]) -> list[Line]:
        """Drop lines none of whose writes are read later (and that have no effect)."""
        needed: set[str] = set()
        kept: list[Line] = []
        for line in reversed(lines):
            writes = self._writes(line)
            live_write = any(self.vals[t].kind in ("live", "arg") for t in writes)
            if line.effect or live_write or writes & needed:
                reads = self._reads(line)
                needed |= {self._root(t) for t in reads} | reads
                kept.append(line)
            elif line.comment and kept and not kept[-1].comment:
                kept[-1].comment = line.comment
        kept.reverse()
        return kept

    def _root(self, token: str) -> str:
        val = self.vals[token]
        while val.kind == "view" and val.base is not None:
            token = val.base
            val = self.vals[token]
        return token

    def _allocate(self, lines: list[Line]) -> dict[str, str]:
        """Give every value a name; buffer values get a preallocated array each."""
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        end = len(lines)
        for i, line in enumerate(lines):
            for t in self._reads(line):
                root = self._root(t)
                for name in {t, root}:
                    first.setdefault(name, i)
                    last[name] = i if not self.vals[name].escapes else end
        names: dict[str, str] = {}
        holder: dict[str, str] = {}  # buffer name -> the value in it now
        free: dict[tuple, list[str]] = {}
        order = sorted(first, key=lambda t: (first[t], int(t[2:-1])))
        for t in order:
            val = self.vals[t]
            if val.kind != "buffer":
                continue
            key = (val.shape, val.dtype.str)
            chosen = None
            for r in val.reuse:
                r = self._root(r) if r in self.vals else None
                if r is None or r not in names or self.vals[r].kind != "buffer":
                    continue
                rv = self.vals[r]
                same = (rv.shape, rv.dtype.str) == key and not rv.escapes
                if same and last[r] == first[t] and holder.get(names[r]) == r:
                    chosen = names[r]
                    break
            if chosen is None and val.scratch:
                pool = free.get(key, [])
                for name in pool:
                    if last[holder[name]] < first[t]:
                        chosen = name
                        pool.remove(name)
                        break
            if chosen is None:
                chosen = self.bind(val.hint, np.empty(val.shape, val.dtype))
            names[t] = chosen
            holder[chosen] = t
            if val.scratch:
                free.setdefault(key, []).append(chosen)
        used = set(self.names) | set(names.values()) | set(self.params)
        for t in first:
            if t in names:
                continue
            val = self.vals[t]
            if val.kind == "arg" and val.hint in self.params:
                names[t] = val.hint
            elif val.kind in ("const", "live"):
                names[t] = self.bind(val.hint, val.value, used)
                used.add(names[t])
            else:
                name, i = _identifier(val.hint), 1
                base = name
                while name in used:
                    i += 1
                    name = f"{base}_{i}"
                used.add(name)
                names[t] = name
        return names


def _carry_comment(line: Line, lines: list[Line]) -> None:
    """A dropped line's comment moves to the next line."""
    i = lines.index(line)
    if line.comment and i + 1 < len(lines) and not lines[i + 1].comment:
        lines[i + 1].comment = line.comment


def _updates(text: str, token: str) -> bool:
    """True when the line changes ``token`` in place (``t *= 2``, ``t[i] = 0``)."""
    m = _WRITE.match(text)
    return bool(m) and m.group(1) == token and not re.match(r"^\s*_v\d+_\s*=(?!=)", text)


def _like(like: Any, shape: Any, dtype: Any) -> tuple:
    if like is None:
        return shape, dtype
    arr = np.asarray(like)
    return (arr.shape if shape is None else shape), (arr.dtype if dtype is None else dtype)


def _identifier(hint: str) -> str:
    name = re.sub(r"\W+", "_", hint).strip("_") or "t"
    if keyword.iskeyword(name) or hasattr(builtins, name):
        name += "_"
    return name if not name[0].isdigit() else f"t{name}"


def np_dtype(dtype: np.dtype) -> str:
    """Source for a dtype: ``np.float32``."""
    return f"np.{np.dtype(dtype).name}"


class Code:
    """What one op's code template writes with (one per traced op).

    ``fn`` is the traced Function after its forward ran (its settings and saved arrays
    give shapes and axes); ``saved`` carries value names from ``forward_code`` to
    ``backward_code``, as ``forward`` saves arrays on ``self`` for ``backward``.
    """

    def __init__(self, prog: Program, fn: Any, hint: str, out: Any = None) -> None:
        self.prog = prog
        self.fn = fn
        self.hint = hint
        #: the traced forward's result (its shape and dtype are the output's)
        self.out = out
        self.saved: dict[str, Any] = {}
        self.fallback = False

    def _operands(self, operands: tuple) -> tuple[list[tuple], list[Any]]:
        shapes, kinds = [], []
        for o in operands:
            if isinstance(o, str) and o in self.prog.vals:
                val = self.prog.vals[o]
                shapes.append(val.shape)
                kinds.append(val.dtype)
            elif isinstance(o, str):
                kinds.append(_scalar(o))
            elif isinstance(o, np.ndarray):
                shapes.append(o.shape)
                kinds.append(o.dtype)
            else:
                kinds.append(o)
        return shapes, kinds

    def new(
        self,
        *operands: Any,
        shape: tuple | None = None,
        dtype: Any = None,
        like: Any = None,
        reuse: tuple | str = (),
        hint: str | None = None,
        scratch: bool = False,
    ) -> str:
        """A preallocated buffer for a value: by default shaped and typed as numpy broadcasts
        and promotes ``operands`` (names, arrays or Python numbers). ``reuse``: inputs whose
        buffer it may take over when they die at its first line (safe for elementwise
        ``out=``); ``scratch``: a temporary that may share a buffer with earlier ones;
        ``like``: an array whose shape and dtype it takes."""
        shape, dtype = _like(like, shape, dtype)
        shapes, kinds = self._operands(operands)
        if shape is None:
            shape = np.broadcast_shapes(*shapes) if shapes else ()
        dt = np.dtype(dtype) if dtype is not None else np.result_type(*kinds)
        reuse = (reuse,) if isinstance(reuse, str) else tuple(reuse)
        val = Val(tuple(shape), dt, "buffer", hint or self.hint, reuse=reuse, scratch=scratch)
        return self.prog.value(val)

    def let(
        self,
        expr: str,
        *operands: Any,
        shape: tuple | None = None,
        dtype: Any = None,
        like: Any = None,
        view_of: str | None = None,
        foreign: bool = False,
        hint: str | None = None,
    ) -> str:
        """``name = expr``, a value made by the expression on every call; ``view_of``: the
        value whose memory it shares (a reshape, a transpose); ``foreign``: an array never
        to be written or handed out uncopied (a broadcast view)."""
        shape, dtype = _like(like, shape, dtype)
        shapes, kinds = self._operands(operands)
        if shape is None:
            shape = np.broadcast_shapes(*shapes) if shapes else ()
        dt = np.dtype(dtype) if dtype is not None else np.result_type(*kinds)
        kind = "view" if view_of is not None else "foreign" if foreign else "local"
        name = self.prog.value(Val(tuple(shape), dt, kind, hint or self.hint, base=view_of))
        self.prog.line(f"{name} = {expr}")
        return name

    def line(self, text: str, writes: str | None = None) -> None:
        """One line of numpy; value names in it are read (and written when after ``out=``
        or before ``=``, or named in ``writes``)."""
        self.prog.line(text, writes=(writes,) if writes else ())

    def const(self, value: Any, hint: str = "k") -> str:
        """A constant array (or numpy scalar), computed now."""
        arr = np.asarray(value)
        return self.prog.value(Val(arr.shape, arr.dtype, "const", hint, value=value))

    def bind(self, hint: str, obj: Any) -> str:
        """A global name for a helper object (a function, a class)."""
        return self.prog.bind(hint, obj)

    def shape(self, name: str) -> tuple:
        """The shape of a value."""
        return self.prog.meta(name)[0]

    def dtype(self, name: str) -> np.dtype:
        """The dtype of a value."""
        return self.prog.meta(name)[1]

    def is_one(self, name: str) -> bool:
        """True when ``name`` is a constant whose every element is 1."""
        val = self.prog.vals.get(name)
        if val is None:
            return isinstance(name, str) and _scalar(name) == 1
        return val.kind == "const" and bool(np.all(np.asarray(val.value) == 1))

    def lit(self, value: Any) -> str:
        """Source for a setting: numbers, tuples, slices, None, ``...`` or value names."""
        if isinstance(value, str):
            return value
        if isinstance(value, tuple):
            inner = ", ".join(self.lit(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if isinstance(value, list):
            return "[" + ", ".join(self.lit(v) for v in value) + "]"
        if isinstance(value, slice):
            return f"slice({self.lit(value.start)}, {self.lit(value.stop)}, {self.lit(value.step)})"
        if value is Ellipsis:
            return "..."
        if isinstance(value, np.integer):
            return repr(int(value))
        if isinstance(value, np.floating):
            return repr(float(value))
        return repr(value)
