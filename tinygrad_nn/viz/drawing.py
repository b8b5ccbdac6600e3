"""Computation graphs as pictures: ``draw`` gives a ``graphviz.Digraph``, ``save_svg`` an SVG.

The legend is in the docstring of :mod:`tinygrad_nn.viz`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import require
from ..autograd import Function
from ..tensor import Composite, Tensor
from .health import HealthThresholds, gradient_health, saturation
from .layout import Frame, Groups, Nodes, Walk, choose_rankdir

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "FILL",
    "HEALTH_BORDER",
    "Frame",
    "GraphvizNotFoundError",
    "draw",
    "render_svg",
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
    "known": "#dcfce7",
}
FRESH_BORDER = "#15803d"
_THRESHOLDS = HealthThresholds()
HEALTH_BORDER = {"vanishing": "#2563eb", "healthy": "#16a34a", "exploding": "#dc2626"}


def _graphviz() -> Any:
    """The graphviz package (extra ``viz``), imported when a graph is first drawn."""
    return require("graphviz", "viz", "drawing graphs")


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is missing, so no SVG could be rendered."""


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
    if isinstance(module, Composite):
        return module.name
    kind = type(module).__name__
    extra = module.extra_repr() if hasattr(module, "extra_repr") else ""
    path = getattr(module, "_path", "")
    return f"{path}: {kind}({extra})" if path else f"{kind}({extra})"


def _role(t: Tensor, root: Tensor) -> str:
    if t is root:
        return "loss"
    if t.op is not None:
        return "intermediate"
    if t.requires_grad:
        return "parameter"
    return "constant" if t.size == 1 and not t.name else "input"


def _op_attrs(label: str, lit: bool, parts: list[str] | None = None, done: bool = False) -> dict:
    """An op's ellipse; ``parts`` (a composite's primitives) give it a bold rim and tooltip."""
    attrs = {"label": _escape(label), "shape": "ellipse", "style": "filled"}
    attrs["fillcolor"] = FILL["anomaly"] if lit else FILL["known"] if done else FILL["op"]
    if parts is not None:
        attrs.update(penwidth="2", tooltip=_escape(f"{label}: {', '.join(parts)}"))
    if lit:
        attrs.update(penwidth="3", color="#7f1d1d", fontcolor="white")
    return attrs


def draw(
    tensor: Tensor,
    *,
    show_grads: bool = True,
    show_values: bool = False,
    group_modules: bool = True,
    collapse: bool | Iterable[str] | None = None,
    expand_composites: bool = False,
    rankdir: str = "auto",
    health: bool = True,
    thresholds: HealthThresholds = _THRESHOLDS,
    highlight: Function | None = None,
    frame: Frame | None = None,
) -> graphviz.Digraph:
    """Draw the graph that produced ``tensor`` (see the module docstring for the legend).

    ``collapse=True`` draws each child of the outermost module as one box; a list of module
    paths (``["fc1", "fc2"]``) collapses just those. Ops made inside a composite
    (``@composite``) are drawn as one op named as written; ``expand_composites=True`` shows
    its primitives in a small dotted cluster instead. ``rankdir="auto"`` lays the graph out
    left to right when that fits a page and top to bottom otherwise (deep chains such as a
    network's layers); ``"LR"`` or ``"TB"`` force one. ``highlight`` marks one op in red;
    ``frame`` draws one step of a backward pass (see :class:`Frame`). Node ids are numbered
    in traversal order, so the same graph gives the same DOT text.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(tensor).__name__}")
    if rankdir not in ("auto", "LR", "RL", "TB", "BT"):
        raise ValueError(f"draw: rankdir must be 'auto', 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if collapse is not None and not isinstance(collapse, bool):
        collapse = list(collapse)
    walk = Walk(tensor)
    groups = Groups(walk, collapse, expand_composites)
    place, hidden = groups.place, groups.hidden
    if frame is not None:
        highlight, health = frame.op, False
    lit = place.get(highlight) if highlight is not None else None
    tensor_ids = {t: f"t{i}" for i, t in enumerate(walk.tensors)}
    nodes = Nodes(group_modules)

    done = frame.done if frame is not None else frozenset()
    for fn in walk.ops:
        if groups.of[fn] is None:
            nodes.add(fn.scope, place[fn], _op_attrs(fn.name, place[fn] == lit, done=fn in done))

    for group, node_id in groups.ids.items():
        ops_in = groups.members(group)
        if isinstance(group, Composite):
            finished = all(fn in done for fn in ops_in)
            attrs = _op_attrs(group.name, node_id == lit, [fn.name for fn in ops_in], finished)
            nodes.add(groups.outer_scope(ops_in[0]), node_id, attrs)
            continue
        ins = [t for fn in ops_in for t in fn.inputs if place.get(t.op) != node_id]
        outs = [walk.output[fn] for fn in ops_in if not hidden(walk.output[fn])]
        params = [t for fn in ops_in for t in fn.inputs if t.op is None and t.requires_grad]
        lines = [_escape(_module_label(group))]
        lines += [_escape(f"in {_titled(t)}") for t in dict.fromkeys(ins) if not hidden(t)]
        lines += [f"out {_shape(t.shape)}" for t in dict.fromkeys(outs)]
        n_params = sum(p.size for p in dict.fromkeys(params))
        lines += [f"{len(ops_in)} op{'s' if len(ops_in) != 1 else ''}, {n_params} parameters"]
        attrs = {"label": _html(lines), "shape": "box", "style": "filled", "peripheries": "2"}
        attrs["fillcolor"] = FILL["anomaly"] if node_id == lit else FILL["module"]
        if node_id == lit:
            attrs.update(penwidth="3", color="#7f1d1d")
        nodes.add(groups.outer_scope(ops_in[0]), node_id, attrs)

    for t in walk.tensors:
        if hidden(t):
            continue
        role = _role(t, tensor)
        title = t.name or {"intermediate": t.op.name if t.op else ""}.get(role, role)
        group = groups.of[t.op] if t.op is not None else None
        if role == "intermediate" and not t.name and group is not None:
            title = group.name if isinstance(group, Composite) else f"{group.scope_name} output"
        if role == "loss" and not t.name:
            title = "loss" if t.size == 1 else "output"
        lines = [_escape(title), _escape(f"{_shape(t.shape)} {t.dtype}")]
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": FILL[role]}
        if frame is not None:
            known = frame.known.get(t)
            if known is not None:
                lines.append(_escape(known))
                attrs["fillcolor"] = FILL["known"]
                if t in frame.fresh:
                    attrs.update(color=FRESH_BORDER, penwidth="3")
            elif t.requires_grad:
                lines.append("grad: not yet")
        elif show_grads and t.requires_grad:
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
        if t.op is not None:
            scope = groups.outer_scope(t.op)
        elif role in ("parameter", "constant") and walk.consumers[t]:
            scope = groups.leaf_scope(walk.consumers[t][0])
        else:
            scope = ()
        nodes.add(scope, tensor_ids[t], attrs)

    edges: list[tuple[str, str]] = []
    into_groups: set[tuple[str, str]] = set()
    for fn in walk.ops:
        dst = place[fn]
        for t in fn.inputs:
            if hidden(t) or (t.op is not None and place[t.op] == dst and dst in groups.group_ids):
                continue
            edge = (tensor_ids[t], dst)
            if dst in groups.group_ids:
                if edge in into_groups:
                    continue
                into_groups.add(edge)
            edges.append(edge)
        out = walk.output.get(fn)
        if out is not None and not hidden(out):
            edges.append((dst, tensor_ids[out]))

    if rankdir == "auto":
        rankdir = choose_rankdir(nodes.widths, edges)
    dot = _graphviz().Digraph(
        "tinygrad_nn",
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11"},
        node_attr={"fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"arrowsize": "0.6"},
    )
    _emit_clusters(dot, nodes.clusters)
    for edge in edges:
        dot.edge(*edge)
    return dot


def _emit_clusters(dot: graphviz.Digraph, clusters: dict[tuple, list]) -> None:
    """Nested ``cluster_`` subgraphs, built deepest first so each is complete when attached.

    Modules get a dashed purple frame; an expanded composite a small dotted grey one."""
    keys = list(clusters)
    number = {key: i for i, key in enumerate(keys)}
    graphs: dict[tuple, graphviz.Digraph] = {(): dot}
    for key in keys[1:]:
        graphs[key] = _graphviz().Digraph(name=f"cluster_{number[key]}")
        label = _html([_escape(_module_label(key[-1]))], bold_first=False)
        if isinstance(key[-1], Composite):
            graphs[key].attr(label=label, style="dotted,rounded", color="#6b7280", fontsize="9")
        else:
            graphs[key].attr(
                label=label, style="dashed,rounded", color="#7c3aed", fontcolor="#5b21b6"
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
    return render_svg(draw(tensor, **options), path)


def render_svg(dot: graphviz.Digraph, path: str | os.PathLike) -> Path:
    """Render a drawing to an SVG file at ``path`` (as :func:`save_svg` does) and return it."""
    path = Path(path)
    graphviz = _graphviz()
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
