"""``compile(fn, backend="numba")``: the generated numpy step, with elementwise chains fused.

The numpy backend's source is rewritten line by line: a chain of numpy calls that one loop
can do in a single pass (bias + the affine halves of sigmoid, bias + relu, the sigmoid
derivative times the gradient (with the next bias gradient's column sums taken in the same
loop), the row shift and the normalisation of softmax cross-entropy,
the momentum update) becomes one call of a Numba kernel from ``_numba_kernels``; matrix
products stay BLAS and ``tanh``/``exp`` stay numpy's vectorised loops. The kernels compile
on first use and are cached on disk, so a second process loads them. Results match eager
mode within float32 round-off (the fused loops round differently), not bit for bit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from ._optional import require

__all__ = ["fuse", "warm_kernels"]

_N = r"[A-Za-z_]\w*"


def _rules() -> list[tuple[list[str], Callable[[dict, dict], str | None]]]:
    """(line patterns, builder of the fused line from the named groups) pairs."""
    return [
        (
            [
                rf"np\.add\((?P<y>{_N}), (?P<b>{_N}), out=(?P=y)\)",
                r"np\.multiply\((?P=y), 0\.5, out=(?P=y)\)",
                r"np\.tanh\((?P=y), out=(?P=y)\)",
                r"np\.multiply\((?P=y), 0\.5, out=(?P=y)\)",
                r"np\.add\((?P=y), 0\.5, out=(?P=y)\)",
            ],
            lambda g, ns: (
                _ok(ns, g["y"], 2)
                and _ok(ns, g["b"], 1)
                and f"nb.half_bias({g['y']}, {g['b']})\nnp.tanh({g['y']}, out={g['y']})\n"
                f"nb.half_shift({g['y']})"
            ),
        ),
        (
            [
                rf"np\.add\((?P<y>{_N}), (?P<b>{_N}), out=(?P=y)\)",
                rf"np\.greater\((?P=y), 0, out=(?P<p>{_N})\)",
                r"np\.maximum\((?P=y), 0, out=(?P=y)\)",
            ],
            lambda g, ns: (
                _ok(ns, g["y"], 2)
                and _ok(ns, g["b"], 1)
                and f"nb.bias_relu({g['y']}, {g['b']}, {g['p']})"
            ),
        ),
        *_colsum_rules(),
        (
            [
                rf"np\.subtract\(1, (?P<y>{_N}), out=(?P<t>{_N})\)",
                rf"np\.multiply\((?P<g>{_N}), (?P=y), out=(?P<o>{_N})\)",
                r"np\.multiply\((?P=o), (?P=t), out=(?P=o)\)",
            ],
            lambda g, ns: (
                _ok(ns, g["o"])
                and _ok(ns, g["y"])
                and f"nb.sigmoid_grad({g['g']}, {g['y']}, {g['o']})"
            ),
        ),
        (
            [
                rf"np\.multiply\((?P<v>{_N}), momentum, out=(?P=v)\)",
                rf"np\.multiply\((?P<g>{_N}), lr, out=(?P<t>{_N})\)",
                r"np\.subtract\((?P=v), (?P=t), out=(?P=v)\)",
                rf"np\.add\((?P<p>{_N}), (?P=v), out=(?P=p)\)",
            ],
            lambda g, ns: (
                _ok(ns, g["v"])
                and _ok(ns, g["p"])
                and f"nb.momentum_step({g['p']}, {g['v']}, {g['g']}, lr, momentum)"
            ),
        ),
        (
            [
                rf"np\.subtract\((?P<l>{_N}), np\.maximum\.reduce\((?P=l), axis=1, "
                + rf"keepdims=True\), out=(?P<z>{_N})\)"
            ],
            lambda g, ns: _ok(ns, g["z"], 2) and f"nb.shift_rows({g['l']}, {g['z']})",
        ),
        (
            [
                rf"(?P<t>{_N}) = np\.add\.reduce\((?P<z>{_N}), axis=1, keepdims=True\)",
                rf"(?P<loss>{_N}) = np\.add\.reduce\(np\.log\((?P=t)\[:, 0\]\) - "
                + rf"(?P<picked>{_N})\) / (?P<n>\d+)",
                r"np\.divide\((?P=z), (?P=t), out=(?P=z)\)",
                rf"(?P=z)\.reshape\(-1\)\[(?P<picks>{_N})\] -= 1",
                r"np\.divide\((?P=z), (?P=n), out=(?P=z)\)",
            ],
            lambda g, ns: (
                _ok(ns, g["z"], 2)
                and f"{g['loss']} = nb.xent_finish({g['z']}, {g['picks']}, {g['picked']}, {g['n']})"
            ),
        ),
    ]


#: the largest activation (elements) whose backward and bias sum are fused: below it one
#: call beats three or four numpy calls; above it numpy's vectorised loops are faster
#: (measured: on 721 x 48 fused is 15-20% faster, on 256 x 1024 1.5-2x slower)
_COLSUM_MAX = 50_000

_MATMUL = r"np\.matmul\([^\n]*\)"


def _colsum_rules() -> list[tuple[list[str], Callable[[dict, dict], str | None]]]:
    """An activation's backward, then the next layer's one or two products, then the bias
    gradient ``np.add.reduce(o, axis=0)``: the sum is taken in the activation's loop."""
    sigmoid = [
        rf"np\.subtract\(1, (?P<y>{_N}), out=(?P<t>{_N})\)",
        rf"np\.multiply\((?P<g>{_N}), (?P=y), out=(?P<o>{_N})\)",
        r"np\.multiply\((?P=o), (?P=t), out=(?P=o)\)",
    ]
    relu = [rf"np\.multiply\((?P<g>{_N}), (?P<y>{_N}), out=(?P<o>{_N})\)"]
    rules = []
    for head, kernel in ((sigmoid, "sigmoid_grad_colsum"), (relu, "mask_grad_colsum")):
        for products in (2, 1):
            middle = [f"(?P<m{k}>{_MATMUL})" for k in range(products)]
            tail = [rf"np\.add\.reduce\((?P=o), axis=0, out=(?P<b>{_N})\)"]
            rules.append((head + middle + tail, _colsum_builder(kernel, products)))
    return rules


def _colsum_builder(kernel: str, products: int) -> Callable[[dict, dict], str | None]:
    def build(g: dict, ns: dict) -> str | None:
        o, b = ns.get(g["o"]), ns.get(g["b"])
        if not (_ok(ns, g["o"], 2) and _ok(ns, g["b"], 1) and _ok(ns, g["g"], 2)):
            return None
        if o.size > _COLSUM_MAX:  # numpy's vectorised loops win on big arrays
            return None
        if b.shape != o.shape[1:] or ns[g["g"]].shape != o.shape or ns[g["y"]].shape != o.shape:
            return None
        if kernel == "mask_grad_colsum" and ns[g["y"]].dtype != bool:
            return None
        lines = [g[f"m{k}"] for k in range(products)]
        # the products run after the sum now: they must not write o, or touch b at all
        if any(f"out={g['o']})" in m or re.search(rf"\b{g['b']}\b", m) for m in lines):
            return None
        return "\n".join([f"nb.{kernel}({g['g']}, {g['y']}, {g['o']}, {g['b']})", *lines])

    return build


def _ok(ns: dict, name: str, ndim: int | None = None) -> bool:
    """A preallocated (contiguous) array of the namespace, of ``ndim`` axes if given."""
    arr = ns.get(name)
    good = isinstance(arr, np.ndarray) and arr.flags.c_contiguous
    return good and (ndim is None or arr.ndim == ndim)


def fuse(source: str, namespace: dict) -> str:
    """Rewrite the generated numpy source with fused kernels where a rule matches."""
    require("numba", "fast", 'compile(fn, backend="numba")')
    from . import _numba_kernels

    namespace["nb"] = _numba_kernels
    lines = source.split("\n")
    rules = [(len(pats), re.compile("\n".join(pats)), build) for pats, build in _rules()]
    out: list[str] = []
    i = 0
    while i < len(lines):
        for count, pattern, build in rules:
            found = _match(lines, i, count, pattern)
            if found is not None:
                groups, end, comments = found
                fused = build(groups, namespace)
                if fused:
                    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                    out.extend(comments)
                    out.extend(indent + f for f in fused.split("\n"))
                    i = end
                    break
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def _match(lines: list[str], i: int, count: int, pattern: re.Pattern) -> tuple | None:
    """(named groups, index after, comments passed) when ``pattern`` matches the ``count``
    code lines from ``i`` on (comment lines between them are skipped)."""
    if lines[i].lstrip().startswith("#"):
        return None
    code, comments, j = [], [], i
    while len(code) < count and j < len(lines):
        if lines[j].lstrip().startswith("#"):
            comments.append(lines[j])
        else:
            code.append(lines[j].strip())
        j += 1
    m = pattern.fullmatch("\n".join(code)) if len(code) == count else None
    return (m.groupdict(), j, comments) if m else None


def warm_kernels(namespace: dict) -> None:
    """Compile (or load from the disk cache) every kernel for the float dtypes of a plan's
    arrays now, so that the first replay does not pay for it."""
    require("numba", "fast", 'compile(fn, backend="numba")')
    kinds = {v.dtype for v in namespace.values() if isinstance(v, np.ndarray)}
    for dtype in kinds & {np.dtype(np.float32), np.dtype(np.float64)}:
        _warm(dtype)


_warmed: set = set()


def _warm(dtype: np.dtype) -> None:
    """Compile (or load from the disk cache) every kernel for ``dtype`` now, so that the
    first replay does not pay for it."""
    if dtype in _warmed:
        return
    from . import _numba_kernels as nb

    a, b = np.ones((2, 2), dtype), np.ones(2, dtype)
    nb.half_bias(a.copy(), b)
    nb.half_shift(a.copy())
    nb.bias_relu(a.copy(), b, np.empty((2, 2), bool))
    nb.sigmoid_grad(a, a, a.copy())
    nb.sigmoid_grad_colsum(a, a, a.copy(), b.copy())
    nb.mask_grad_colsum(a, a > 0, a.copy(), b.copy())
    nb.momentum_step(a.copy(), a.copy(), a, 0.1, 0.9)
    nb.shift_rows(a, a.copy())
    nb.xent_finish(a.copy(), np.array([0, 3], np.intp), b, 2)
    _warmed.add(dtype)
