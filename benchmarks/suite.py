"""Running one workload: build every contender, check it, time them together, trace memory."""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass
from typing import Any

from .contenders import Contender
from .measure import compare_losses, peak_memory, run_losses, time_interleaved
from .problems import Problem

__all__ = ["Settings", "run_workload"]


@dataclass(frozen=True)
class Settings:
    """How hard to measure (the full run and ``--quick`` differ only here)."""

    rounds: int = 21
    block_seconds: float = 0.08
    warmup_seconds: float = 0.1
    check_steps: int = 5
    tolerance: float = 1e-5  # relative, on the losses of the first float32 steps
    memory: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:200]


def _prepare(c: Contender, p: Problem, s: Settings, reference: list[float] | None) -> dict:
    """Make the contender's step and run its first steps (checked against hand numpy)."""
    row: dict[str, Any] = {"key": c.key, "label": c.label, "note": c.note}
    try:
        step = c.make(p)
        losses = run_losses(step, s.check_steps) if c.same_math else None
        if not c.same_math:
            for _ in range(s.check_steps):
                step()
    except Exception as err:  # one broken contender must not stop the others
        row["error"] = _error_text(err)
        row["traceback"] = traceback.format_exc()
        return row
    row["step"] = step
    if losses is not None and reference is not None:
        row["check"] = compare_losses(losses, reference, s.tolerance).as_dict()
    elif losses is not None:
        row["losses"] = losses
    return row


def _measure_memory(c: Contender, p: Problem, row: dict) -> None:
    if not c.traced_memory:
        row["memory"] = None
        return
    try:
        row["memory"] = peak_memory(lambda: c.make(p)).as_dict()
    except Exception as err:
        row["memory_error"] = _error_text(err)


def run_workload(p: Problem, contenders: list[Contender], s: Settings, log: Any = print) -> dict:
    """Check, time and trace every contender on problem ``p``; returns the raw results.

    ``contenders[0]`` must be hand numpy: its losses are the reference and its times the
    denominator of every ratio.
    """
    log(f"[{p.key}] {p.describe()}")
    rows = []
    reference = None
    for c in contenders:
        row = _prepare(c, p, s, reference)
        if c.key == "hand":
            reference = row.get("losses")
        rows.append(row)
        if "error" in row:
            log(f"  {c.label}: ERROR {row['error']}")
        elif "check" in row and not row["check"]["ok"]:
            log(
                f"  WARNING: {c.label} loss differs from hand numpy by "
                f"{row['check']['max_rel_err']:.2e} (relative) after {s.check_steps} steps"
            )

    ready = {row["key"]: row.pop("step") for row in rows if "step" in row}
    log(f"  timing {', '.join(ready)}: {s.rounds} interleaved rounds")
    timings = time_interleaved(ready, s.rounds, s.block_seconds, warmup_seconds=s.warmup_seconds)
    for row in rows:
        if row["key"] in timings:
            row["timing"] = timings[row["key"]].as_dict()
    del ready, timings  # free the timed contenders before tracing fresh ones

    if s.memory:
        for c, row in zip(contenders, rows):
            if "error" not in row:
                _measure_memory(c, p, row)
    return {
        "key": p.key,
        "title": p.title,
        "description": p.describe(),
        "settings": p.settings(),
        "rows": rows,
    }
