"""What a drawing shows and how it is laid out: the walk, the groups, the rank direction.

``draw`` (in :mod:`tinygrad_nn.viz`) asks this module which ops are drawn as one node (a
collapsed module's box, or a composite such as a loss written with ``@composite``), which
tensors stay hidden inside such a node, and whether the graph reads better left to right
or top to bottom. Needs numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..autograd import Function, toposort
from ..tensor import Composite, Tensor

__all__ = ["Frame", "Groups", "Nodes", "Walk", "choose_rankdir", "label_width"]

#: the widest drawing (in points, 1 pt = 4/3 px) that fits a 1,100 px page without scrolling
PAGE_WIDTH_PT = 800.0


class Walk:
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


def _collapsed_module(scope: tuple, collapse: Any) -> Any:
    """The module of ``scope`` drawn as one box under ``collapse``, or None."""
    modules = [entry for entry in scope if not isinstance(entry, Composite)]
    if not collapse or not modules:
        return None
    if collapse is True:
        return modules[1] if len(modules) > 1 else None
    names = set(collapse)
    return next((m for m in modules if getattr(m, "scope_name", None) in names), None)


class Groups:
    """Which ops are drawn together as one node, and which tensors that node hides.

    A group is a module collapsed into a box (``collapse``) or a :class:`Composite` drawn as
    one op named as written (unless ``expand_composites``); the outermost one wins.
    """

    def __init__(self, walk: Walk, collapse: bool | Iterable[str] | None, expand: bool) -> None:
        self.walk = walk
        self.of: dict[Function, Any] = {}
        for fn in walk.ops:
            scope = getattr(fn, "scope", ())
            module = _collapsed_module(scope, collapse)
            comp = None if expand else next((s for s in scope if isinstance(s, Composite)), None)
            found = [g for g in (module, comp) if g is not None]
            self.of[fn] = min(found, key=scope.index) if found else None
        self.ids: dict[Any, str] = {}
        for fn in walk.ops:
            group = self.of[fn]
            if group is not None and group not in self.ids:
                self.ids[group] = f"m{len(self.ids)}"
        op_ids = {fn: f"op{i}" for i, fn in enumerate(walk.ops)}
        #: the node each op is drawn in: its own, or its group's
        self.place = {fn: self.ids.get(self.of[fn], op_ids[fn]) for fn in walk.ops}
        self.group_ids = set(self.ids.values())

    def members(self, group: Any) -> list[Function]:
        """The ops drawn inside ``group``'s node, in topological order."""
        return [fn for fn in self.walk.ops if self.of[fn] is group]

    def hidden(self, t: Tensor) -> bool:
        """True for a tensor that lives wholly inside one group's node."""
        if t is self.walk.root:
            return False
        users = {self.place[fn] for fn in self.walk.consumers[t]}
        if len(users) != 1 or next(iter(users)) not in self.group_ids:
            return False
        node = next(iter(users))
        if t.op is not None:
            return self.place[t.op] == node
        group = self.of[self.walk.consumers[t][0]]
        if isinstance(group, Composite):  # its inputs keep their names; its constants go
            return t.size == 1 and not t.requires_grad and not t.name
        return t.requires_grad or t.size == 1

    def outer_scope(self, fn: Function) -> tuple:
        """The clusters ``fn``'s node sits in: its scope, cut before its group."""
        group = self.of[fn]
        return fn.scope if group is None else fn.scope[: fn.scope.index(group)]

    def leaf_scope(self, fn: Function) -> tuple:
        """The clusters a parameter or constant first used by ``fn`` sits in: a module owns
        its parameters, a composite only receives them."""
        scope = self.outer_scope(fn)
        cut = next((i for i, s in enumerate(scope) if isinstance(s, Composite)), len(scope))
        return scope[:cut]


@dataclass(frozen=True)
class Frame:
    """One moment of a backward pass, as ``explain_backward``'s frames draw it.

    ``op`` is the op whose backward runs now (drawn red); ``known`` maps every tensor whose
    gradient is known so far to the line shown for it (filled green); ``fresh`` holds the
    tensors ``op`` has just sent a gradient to (thick green border); ``done`` the ops whose
    backward has run (filled green).
    """

    op: Function | None
    known: Mapping[Tensor, str]
    fresh: frozenset = frozenset()
    done: frozenset = frozenset()


class Nodes:
    """Nodes sorted into their clusters, with a rough width each for choosing the rankdir."""

    def __init__(self, group_modules: bool) -> None:
        self.group_modules = group_modules
        self.clusters: dict[tuple, list[tuple[str, dict]]] = {(): []}
        self.widths: dict[str, float] = {}

    def add(self, scope: tuple, node_id: str, attrs: dict) -> None:
        """Put node ``node_id`` (Graphviz ``attrs``, a ``label`` among them) in ``scope``'s
        cluster (the top level when modules are not grouped)."""
        key = scope if self.group_modules else ()
        for depth in range(1, len(key) + 1):
            self.clusters.setdefault(key[:depth], [])
        self.clusters[key].append((node_id, attrs))
        self.widths[node_id] = label_width(attrs["label"])


# ----------------------------------------------------------------------------- rankdir

_CHAR_PT = 6.0  # average width of one character at the drawings' 10 pt Helvetica
_RANKSEP_PT, _NODESEP_PT = 36.0, 18.0  # Graphviz's defaults (0.5 and 0.25 inch)


def label_width(label: str) -> float:
    """Rough width in points of a node with this (HTML-like or plain) label."""
    text = label.replace("<b>", "").replace("</b>", "")
    longest = max(len(line) for line in text.split("<br/>"))
    return max(54.0, _CHAR_PT * longest + 20.0)


def choose_rankdir(widths: dict[str, float], edges: list[tuple[str, str]]) -> str:
    """``"LR"`` when the graph laid out left to right fits a page, else the narrower way.

    Ranks are longest paths from the sources (as Graphviz ranks an acyclic graph). Left to
    right, the width is the sum over ranks of each rank's widest node; top to bottom, it is
    the widest rank's nodes side by side. Deep chains (a network's layers) go top to bottom.
    """
    successors: dict[str, list[str]] = {node: [] for node in widths}
    waiting = dict.fromkeys(widths, 0)  # how many predecessors are not ranked yet
    for a, b in edges:
        successors[a].append(b)
        waiting[b] += 1
    rank = dict.fromkeys(widths, 0)
    ready = [node for node, n in waiting.items() if n == 0]
    while ready:  # Kahn's order: a node is ranked once all its predecessors are
        node = ready.pop()
        for nxt in successors[node]:
            rank[nxt] = max(rank[nxt], rank[node] + 1)
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    by_rank: dict[int, list[float]] = {}
    for node, r in rank.items():
        by_rank.setdefault(r, []).append(widths[node])
    across = sum(max(ws) for ws in by_rank.values()) + _RANKSEP_PT * (len(by_rank) - 1)
    down = max((sum(ws) + _NODESEP_PT * (len(ws) - 1) for ws in by_rank.values()), default=0.0)
    if across <= PAGE_WIDTH_PT or across <= down:
        return "LR"
    return "TB"
