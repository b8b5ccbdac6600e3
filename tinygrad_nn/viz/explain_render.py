"""How an :class:`~tinygrad_nn.viz.explain.Explanation` is shown: a text table, an HTML table,
and one drawing per step (the drawings need ``viz``, so Graphviz)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tensor import Tensor, scope_name
from . import drawing as viz
from .layout import Groups, Walk
from .steps import Contribution, GradSummary, Step, shape_text

if TYPE_CHECKING:
    from .explain import Explanation

__all__ = ["draw_step", "html_table", "rows", "save_frames", "text_table"]


@dataclass(frozen=True)
class Row:
    """One line of the table: a step, or consecutive steps inside one collapsed module."""

    numbers: tuple[int, ...]
    title: str
    where: str
    incoming: GradSummary | None
    rule: str
    contributions: tuple[Contribution, ...]

    @property
    def step(self) -> str:
        """The step number, or the range of steps (``2-4``)."""
        first, last = self.numbers[0], self.numbers[-1]
        return str(first) if first == last else f"{first}-{last}"


def _row(step: Step) -> Row:
    return Row(
        (step.number,), step.op.name, step.where, step.incoming, step.rule, step.contributions
    )


def rows(explanation: Explanation) -> list[Row]:
    """The shown steps as rows; with ``collapse``, consecutive steps in one collapsed module
    become one row listing what leaves the module (its parameters' gradients included)."""
    steps = explanation.shown()
    if not explanation.collapse:
        return [_row(s) for s in steps]
    of = Groups(Walk(explanation.root), explanation.collapse, expand=True).of
    out: list[Row] = []
    run: list[Step] = []
    for i, step in enumerate(steps):
        run.append(step)
        group = of[step.op]
        if i + 1 < len(steps) and group is not None and of[steps[i + 1].op] is group:
            continue
        if group is None:
            out.append(_row(step))
        else:
            inside = {s.op for s in run}
            sent = tuple(c for s in run for c in s.contributions if c.tensor.op not in inside)
            rules = " ; ".join(dict.fromkeys(f"{s.op.name}: {s.rule}" for s in run))
            kind = f"{group.scope_name}: {type(group).__name__}"
            title = f"{kind} ({len(run)} op{'s' if len(run) != 1 else ''})"
            scope = run[0].op.scope
            where = scope_name(scope[: scope.index(group)])
            numbers = tuple(s.number for s in run)
            out.append(Row(numbers, title, where, run[0].incoming, rules, sent))
        run = []
    return out


def _heading(explanation: Explanation) -> str:
    root = explanation.root
    name = root.name or ("loss" if root.size == 1 else "output")
    seed = "" if explanation.seed is None else f", seed {explanation.seed}"
    return (
        f"backward from {name} {shape_text(root.shape)} {root.dtype}{seed}: "
        f"{len(explanation.steps)} steps, the reverse of toposort({name})"
    )


def _where(where: str) -> str:
    return where if where == "top level" else f"in {where}"


def _contribution_text(c: Contribution) -> str:
    if c.grad is None:
        return f"· {c.label}: {c.note()}"
    total = f", total now ‖g‖ {c.total.norm:.3g}" if c.accumulated else ""
    return f"→ {c.label}  {c.grad.brief()}  {c.note()}{total}"


def _more(explanation: Explanation) -> str | None:
    hidden = len(explanation.steps) - len(explanation.shown())
    if hidden <= 0:
        return None
    return f"… {hidden} more step{'s' if hidden != 1 else ''} (max_steps={explanation.max_steps})"


def text_table(explanation: Explanation) -> str:
    """The steps as plain text, one block per row, for a terminal."""
    lines = [_heading(explanation), ""]
    for row in rows(explanation):
        lines.append(f"step {row.step}  {row.title}  ({_where(row.where)})")
        if row.incoming is None:
            lines.append("    no gradient reached this op: skipped")
            continue
        lines.append(f"    grad at output  {row.incoming}")
        lines.append(f"    rule            {row.rule}")
        lines += [f"    {_contribution_text(c)}" for c in row.contributions]
    more = _more(explanation)
    if more:
        lines.append(more)
    return "\n".join(lines)


_CSS = (
    "<style>.tg-explain td,.tg-explain th{text-align:left;vertical-align:top;padding:2px 8px;"
    "font-family:ui-monospace,monospace;font-size:12px}.tg-explain .acc{color:#b45309}"
    ".tg-explain .none{color:#6b7280}</style>"
)


def html_table(explanation: Explanation) -> str:
    """The steps as an HTML table (Jupyter shows it); every piece of text is escaped."""
    e = html.escape
    out = [_CSS, f"<p><b>{e(_heading(explanation))}</b></p>", '<table class="tg-explain">']
    out.append(
        "<tr><th>step</th><th>op (in)</th><th>grad at its output</th><th>rule</th>"
        "<th>sends to each input</th></tr>"
    )
    for row in rows(explanation):
        incoming = "skipped: no gradient reached it" if row.incoming is None else str(row.incoming)
        sent = []
        for c in row.contributions:
            css = "none" if c.grad is None else ("acc" if c.accumulated else "")
            sent.append(f'<span class="{css}">{e(_contribution_text(c))}</span>')
        out.append(
            f"<tr><td>{e(row.step)}</td><td>{e(row.title)}<br>({e(_where(row.where))})</td>"
            f"<td>{e(incoming)}</td><td>{e(row.rule)}</td><td>{'<br>'.join(sent)}</td></tr>"
        )
    out.append("</table>")
    more = _more(explanation)
    if more:
        out.append(f"<p>{e(more)}</p>")
    return "\n".join(out)


def _known_after(explanation: Explanation, number: int) -> tuple[dict[Tensor, str], frozenset]:
    """Each tensor's gradient known after step ``number``, and the tensors that step sent
    a gradient to."""
    seed = explanation.seed
    known: dict[Tensor, str] = {}
    if seed is not None:
        known[explanation.root] = f"‖grad‖ {seed.norm:.3g} (seed)"
    fresh: set[Tensor] = set()
    for step in explanation.steps[:number]:
        for c in step.contributions:
            if c.total is not None:
                plus = " (+=)" if c.accumulated and step.number == number else ""
                known[c.tensor] = f"‖grad‖ {c.total.norm:.3g}{plus}"
                if step.number == number:
                    fresh.add(c.tensor)
    return known, frozenset(fresh)


def draw_step(explanation: Explanation, number: int, **options: Any) -> Any:
    """A ``graphviz.Digraph`` of step ``number`` (1-based), titled with its op and rule."""
    if not 1 <= number <= len(explanation.steps):
        raise IndexError(f"explain: step {number} is not in 1..{len(explanation.steps)}")
    step = explanation.steps[number - 1]
    options.setdefault("collapse", explanation.collapse)
    if "rankdir" not in options:  # one direction for every frame, so the layout holds still
        plain = viz.draw(explanation.root, collapse=options["collapse"], show_grads=False)
        options["rankdir"] = plain.graph_attr["rankdir"]
    known, fresh = _known_after(explanation, number)
    done = frozenset(s.op for s in explanation.steps[: number - 1])
    frame = viz.Frame(step.op, known, fresh, done)
    dot = viz.draw(explanation.root, frame=frame, **options)
    title = f"step {number} of {len(explanation.steps)}: {step.op.name} ({step.where})"
    dot.attr(label=f"{title}\n{step.rule}", labelloc="t", fontsize="12")
    return dot


def save_frames(explanation: Explanation, folder: Any, **options: Any) -> list[Path]:
    """One SVG per shown step in ``folder``: ``step_001.svg``, ``step_002.svg``, ..."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    if "rankdir" not in options and explanation.steps:
        collapse = options.get("collapse", explanation.collapse)
        plain = viz.draw(explanation.root, collapse=collapse, show_grads=False)
        options["rankdir"] = plain.graph_attr["rankdir"]
    for step in explanation.shown():
        path = folder / f"step_{step.number:03d}.svg"
        dot = draw_step(explanation, step.number, **options)
        viz.render_svg(dot, path)
        paths.append(path)
    return paths
