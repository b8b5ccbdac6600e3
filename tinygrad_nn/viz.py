"""Computation graphs as pictures: ``draw`` gives a ``graphviz.Digraph``, ``save_svg`` an SVG.

Legend (fill colours):

- gold boxes: parameters (leaves with ``requires_grad``), named by module path (``fc1.weight``)
- light blue boxes: inputs (other leaves); grey boxes: constants (unnamed one-element leaves)
- white boxes: intermediate tensors; red box: the tensor ``draw`` started from (the loss)
- grey ellipses: operations (``matmul``, ``sigmoid``, ...); a red ellipse: the op an
  anomaly was raised in
- dashed frames: the module an op ran in (``fc1: Linear(64→48)``); with ``collapse`` a
  module is one double-bordered box with its input and output shapes

Gradient health (``health=True``, after ``backward``): a tensor's border is blue when its
gradient is *vanishing* (rms(grad) / rms(data) < 1e-4), red when *exploding* (> 10), green
otherwise; all-zero tensors (fresh biases) are judged by rms(grad) alone and one-element
tensors not at all. Sigmoid and tanh outputs are
filled orange and marked *saturated* when more than 25% of their units have a derivative
below 0.01 (sigmoid: y (1 - y) < 0.01; tanh: 1 - y^2 < 0.01): such units pass almost no
gradient back. The thresholds are the fields of :class:`HealthThresholds`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import require
from .autograd import Function, toposort
from .tensor import Tensor

graphviz = require("graphviz", "viz", "drawing graphs")

__all__ = [
    "GraphvizNotFoundError",
    "HealthThresholds",
    "draw",
    "gradient_health",
    "retain_all_grads",
    "saturation",
    "save_svg",
]

FILL = {
    "parameter": "#fde68a",
    "input": "#dbeafe",
    "constant": "#e5e7eb",
    "intermediate": "#ffffff",
    "loss": "#fecaca",
    "op": "#e5e7eb",
    "anomaly": "#ef4444",
    "saturated": "#fdba74",
    "module": "#f5f3ff",
}
HEALTH_BORDER = {"vanishing": "#2563eb", "healthy": "#16a34a", "exploding": "#dc2626"}


@dataclass(frozen=True)
class HealthThresholds:
    """Where gradients count as vanishing or exploding, and units as saturated."""

    vanishing: float = 1e-4  # rms(grad) / rms(data) below this: vanishing
    exploding: float = 10.0  # rms(grad) / rms(data) above this: exploding
    derivative: float = 0.01  # an activation unit whose derivative is below this is saturated
    saturated_fraction: float = 0.25  # flag an activation when more units than this saturate
    data_floor: float = 0.01  # data with a smaller rms (fresh zero biases) is judged against 1


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is missing, so no SVG could be rendered."""


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) if a.size else 0.0


def gradient_health(t: Tensor, thresholds: HealthThresholds = HealthThresholds()) -> str | None:
    """``"vanishing"``, ``"healthy"`` or ``"exploding"`` for a tensor with a grad, else None.

    Judged by rms(grad) / rms(data): how far one unit step along the gradient moves the
    tensor relative to its own size. Tensors that are (nearly) all zero, such as fresh
    biases, have no size to compare with and are judged by rms(grad) alone. One-element
    tensors (the loss and its terms) are not judged.
    """
    if t.grad is None or t.size == 1:
        return None
    scale = _rms(t.data)
    ratio = _rms(t.grad) / (scale if scale >= thresholds.data_floor else 1.0)
    if ratio < thresholds.vanishing:
        return "vanishing"
    if ratio > thresholds.exploding:
        return "exploding"
    return "healthy"


def saturation(t: Tensor, thresholds: HealthThresholds = HealthThresholds()) -> float | None:
    """Fraction of a sigmoid or tanh output's units whose derivative is below the threshold.

    None for tensors not made by sigmoid or tanh.
    """
    kind = t.op.name if t.op is not None else None
    y = t.data
    if kind == "sigmoid":
        derivative = y * (1 - y)
    elif kind == "tanh":
        derivative = 1 - y * y
    else:
        return None
    return float(np.mean(derivative < thresholds.derivative)) if y.size else 0.0


def retain_all_grads(root: Tensor) -> None:
    """Ask every intermediate tensor behind ``root`` to keep its grad after backward."""
    root.retain_grad()
    for fn in toposort(root):
        for t in fn.inputs:
            t.retain_grad()


# characters Graphviz's XML parser rejects or that would not show: control characters,
# surrogates and noncharacters (U+FDD0..U+FDEF and the last two of every plane)
_INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
    + "]"
)


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape(text: Any) -> str:
    """Text for a Graphviz HTML-like label: markup characters become entities, and control
    characters, surrogates and noncharacters are shown as Python escapes (``\\x1b``)."""
    s = _INVISIBLE.sub(_visible, str(text))
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        s = s.replace(char, entity)
    return s.replace("'", "&#39;")


def _html(lines: list[str], bold_first: bool = True) -> str:
    parts = [f"<b>{lines[0]}</b>" if bold_first else lines[0], *lines[1:]]
    return "<" + "<br/>".join(parts) + ">"


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _titled(t: Tensor) -> str:
    return f"{t.name} {_shape(t.shape)}" if t.name else _shape(t.shape)


def _summary(a: np.ndarray) -> str:
    if a.size == 1:
        return f"value {a.item():.4g}"
    if a.size == 0:
        return "empty"
    return f"mean {a.mean():.3g}  min {a.min():.3g}  max {a.max():.3g}"


def _module_label(module: Any) -> str:
    kind = type(module).__name__
    extra = module.extra_repr() if hasattr(module, "extra_repr") else ""
    path = getattr(module, "_path", "")
    return f"{path}: {kind}({extra})" if path else f"{kind}({extra})"


class _Walk:
    """The graph behind ``root`` in a fixed order: ops topologically, tensors as first met."""

    def __init__(self, root: Tensor) -> None:
        self.root = root
        self.ops: list[Function] = toposort(root)
        self.tensors: list[Tensor] = []
        self.output: dict[Function, Tensor] = {}
        self.consumers: dict[Tensor, list[Function]] = {}
        seen: set[Tensor] = set()
        for fn in self.ops:
            for t in fn.inputs:
                if t not in seen:
                    seen.add(t)
                    self.tensors.append(t)
                    self.consumers[t] = []
                self.consumers[t].append(fn)
                if t.op is not None:
                    self.output[t.op] = t
        if root not in seen:
            self.tensors.append(root)
            self.consumers[root] = []
        if root.op is not None:
            self.output[root.op] = root


def _role(t: Tensor, root: Tensor) -> str:
    if t is root:
        return "loss"
    if t.op is not None:
        return "intermediate"
    if t.requires_grad:
        return "parameter"
    return "constant" if t.size == 1 and not t.name else "input"


def _collapse_target(fn: Function, collapse: Any) -> Any:
    scope = getattr(fn, "scope", ())
    if not collapse or not scope:
        return None
    if collapse is True:
        return scope[1] if len(scope) > 1 else None
    names = set(collapse)
    return next((m for m in scope if getattr(m, "scope_name", None) in names), None)


def draw(
    tensor: Tensor,
    *,
    show_grads: bool = True,
    show_values: bool = False,
    group_modules: bool = True,
    collapse: bool | Iterable[str] | None = None,
    rankdir: str = "LR",
    health: bool = True,
    thresholds: HealthThresholds = HealthThresholds(),
    highlight: Function | None = None,
) -> graphviz.Digraph:
    """Draw the graph that produced ``tensor`` (see the module docstring for the legend).

    ``collapse=True`` draws each child of the outermost module as one box; a list of module
    paths (``["fc1", "fc2"]``) collapses just those. ``highlight`` marks one op in red.
    Node ids are numbered in traversal order, so the same graph gives the same DOT text.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(tensor).__name__}")
    if collapse is not None and not isinstance(collapse, bool):
        collapse = list(collapse)
    walk = _Walk(tensor)
    dot = graphviz.Digraph(
        "tinygrad_nn",
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11"},
        node_attr={"fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"arrowsize": "0.6"},
    )
    op_ids = {fn: f"op{i}" for i, fn in enumerate(walk.ops)}
    tensor_ids = {t: f"t{i}" for i, t in enumerate(walk.tensors)}

    # where each op is drawn: its own node, or the box of a collapsed module
    targets = {fn: _collapse_target(fn, collapse) for fn in walk.ops}
    box_ids: dict[Any, str] = {}
    for fn in walk.ops:
        module = targets[fn]
        if module is not None and module not in box_ids:
            box_ids[module] = f"m{len(box_ids)}"
    place = {fn: box_ids[targets[fn]] if targets[fn] is not None else op_ids[fn] for fn in walk.ops}

    def hidden(t: Tensor) -> bool:
        """Tensors that live wholly inside one collapsed module are not drawn."""
        if t is tensor:
            return False
        users = {place[fn] for fn in walk.consumers[t]}
        if len(users) != 1 or next(iter(users)) not in box_ids.values():
            return False
        box = next(iter(users))
        return place.get(t.op) == box if t.op is not None else t.requires_grad or t.size == 1

    clusters: dict[tuple, list[tuple[str, dict]]] = {(): []}

    def add_node(scope: tuple, node_id: str, attrs: dict) -> None:
        key = scope if group_modules else ()
        for depth in range(1, len(key) + 1):
            clusters.setdefault(key[:depth], [])
        clusters[key].append((node_id, attrs))

    for fn in walk.ops:
        if targets[fn] is not None:
            continue
        attrs = {"label": _escape(fn.name), "shape": "ellipse", "style": "filled"}
        attrs["fillcolor"] = FILL["anomaly"] if fn is highlight else FILL["op"]
        if fn is highlight:
            attrs.update(penwidth="3", color="#7f1d1d", fontcolor="white")
        add_node(fn.scope, op_ids[fn], attrs)

    for module, box in box_ids.items():
        ops_in = [fn for fn in walk.ops if targets[fn] is module]
        ins = [t for fn in ops_in for t in fn.inputs if place.get(t.op) != box and not hidden(t)]
        outs = [walk.output[fn] for fn in ops_in if not hidden(walk.output[fn])]
        params = [t for fn in ops_in for t in fn.inputs if t.op is None and t.requires_grad]
        lines = [_escape(_module_label(module))]
        lines += [_escape(f"in {_titled(t)}") for t in dict.fromkeys(ins)]
        lines += [f"out {_shape(t.shape)}" for t in dict.fromkeys(outs)]
        n_params = sum(p.size for p in dict.fromkeys(params))
        lines += [f"{len(ops_in)} op{'s' if len(ops_in) != 1 else ''}, {n_params} parameters"]
        attrs = {"label": _html(lines), "shape": "box", "style": "filled", "peripheries": "2"}
        attrs["fillcolor"] = FILL["module"]
        scope = ops_in[0].scope
        add_node(scope[: scope.index(module)], box, attrs)

    for t in walk.tensors:
        if hidden(t):
            continue
        role = _role(t, tensor)
        title = t.name or {"intermediate": t.op.name if t.op else ""}.get(role, role)
        if role == "intermediate" and not t.name and targets[t.op] is not None:
            title = f"{getattr(targets[t.op], 'scope_name', 'module')} output"
        if role == "loss" and not t.name:
            title = "loss" if t.size == 1 else "output"
        lines = [_escape(title), _escape(f"{_shape(t.shape)} {t.dtype}")]
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": FILL[role]}
        if show_grads and t.requires_grad:
            norm = None if t.grad is None else float(np.linalg.norm(t.grad))
            if norm is not None:
                lines.append(f"‖grad‖ {norm:.3g}")
            else:  # leaves get a grad from backward; intermediates only with retain_grad
                lines.append("grad: not computed" if t.op is None else "grad: not retained")
        if show_values:
            lines.append(_escape(_summary(t.data)))
        if health:
            state = gradient_health(t, thresholds)
            if state is not None:
                attrs.update(color=HEALTH_BORDER[state], penwidth="2.5")
                if state != "healthy":
                    lines.append(state)
            frac = saturation(t, thresholds)
            if frac is not None and frac > thresholds.saturated_fraction:
                attrs["fillcolor"] = FILL["saturated"]
                lines.append(f"saturated {frac:.0%}")
        attrs["label"] = _html(lines)
        if t.op is not None and targets[t.op] is None:
            scope = t.op.scope
        elif t.op is not None:
            scope = t.op.scope[: t.op.scope.index(targets[t.op])]
        elif t.op is None and role in ("parameter", "constant") and walk.consumers[t]:
            first = walk.consumers[t][0]
            scope = first.scope if targets[first] is None else ()
        else:
            scope = ()
        add_node(scope, tensor_ids[t], attrs)

    _emit_clusters(dot, clusters)

    box_edges: set[tuple[str, str]] = set()
    for fn in walk.ops:
        dst = place[fn]
        for t in fn.inputs:
            if hidden(t) or (t.op is not None and place[t.op] == dst and dst in box_ids.values()):
                continue
            edge = (tensor_ids[t], dst)
            if dst in box_ids.values():
                if edge in box_edges:
                    continue
                box_edges.add(edge)
            dot.edge(*edge)
        out = walk.output.get(fn)
        if out is not None and not hidden(out):
            dot.edge(dst, tensor_ids[out])
    return dot


def _emit_clusters(dot: graphviz.Digraph, clusters: dict[tuple, list]) -> None:
    """Nested ``cluster_`` subgraphs, built deepest first so each is complete when attached."""
    keys = list(clusters)
    number = {key: i for i, key in enumerate(keys)}
    graphs: dict[tuple, graphviz.Digraph] = {(): dot}
    for key in keys[1:]:
        graphs[key] = graphviz.Digraph(name=f"cluster_{number[key]}")
        graphs[key].attr(
            label=_html([_escape(_module_label(key[-1]))], bold_first=False),
            style="dashed,rounded",
            color="#7c3aed",
            fontcolor="#5b21b6",
        )
    for key in keys:
        for node_id, attrs in clusters[key]:
            graphs[key].node(node_id, **attrs)
    for key in sorted(keys[1:], key=len, reverse=True):
        graphs[key[:-1]].subgraph(graphs[key])


_INSTALL_HELP = (
    "Graphviz's 'dot' program was not found, so no SVG was rendered; the DOT source was "
    "written to {dot_path}. Install Graphviz: Debian/Ubuntu 'sudo apt-get install graphviz', "
    "macOS 'brew install graphviz', conda 'conda install -c conda-forge graphviz'."
)


def save_svg(tensor: Tensor, path: str | os.PathLike, **options: Any) -> Path:
    """Render ``draw(tensor, **options)`` to an SVG file at ``path`` and return the path.

    Without Graphviz's ``dot`` program it writes the DOT source to ``path`` with the suffix
    ``.dot`` and raises :class:`GraphvizNotFoundError` saying how to install Graphviz.
    """
    path = Path(path)
    dot = draw(tensor, **options)
    try:
        svg = dot.pipe(format="svg")
    except graphviz.CalledProcessError as err:
        raise RuntimeError(f"save_svg: Graphviz's dot failed on the graph: {err}") from None
    except graphviz.ExecutableNotFound:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(dot.source)
        raise GraphvizNotFoundError(_INSTALL_HELP.format(dot_path=dot_path)) from None
    path.write_bytes(svg)
    return path
