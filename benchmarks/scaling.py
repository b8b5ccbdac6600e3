"""Scaling curve: step time of an MLP d-d-d-10 against batch size and against width.

Small problems are bound by per-call Python overhead (flat time, a high ratio to hand
numpy); large ones by BLAS (time growing with the FLOPs, the ratio falling towards 1).
The curve shows where one regime hands over to the other, for hand numpy, tinygrad_nn eager
and, when present, tinygrad_nn compiled.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .contenders import Contender
from .measure import time_interleaved
from .problems import mlp_problem

__all__ = ["FULL", "QUICK", "plot", "run_scaling"]

#: (batch sizes at width 128, widths at batch 64)
FULL = ((1, 4, 16, 64, 256, 1024, 4096), (16, 32, 64, 128, 256, 512, 1024, 2048))
QUICK = ((1, 16, 256, 4096), (16, 128, 1024))

BATCH_WIDTH = 128
WIDTH_BATCH = 64


def _point(
    batch: int, width: int, contenders: list[Contender], rounds: int, block: float
) -> dict[str, float | None]:
    """Median per-step seconds of each contender for one (batch, width); None if it failed."""
    p = mlp_problem((width, width, width, 10), batch, key=f"scaling-b{batch}-w{width}")
    steps = {}
    for c in contenders:
        try:
            step = c.make(p)
            step()  # fail here, not inside the timing
            steps[c.key] = step
        except Exception as err:  # a broken contender leaves a gap in the curve
            print(
                f"  scaling: {c.label} failed at batch {batch} width {width}: {err}",
                file=sys.stderr,
            )
    timings = time_interleaved(steps, rounds, block, warmup_steps=2, warmup_seconds=0.01)
    return {c.key: timings[c.key].median if c.key in timings else None for c in contenders}


def run_scaling(
    contenders: list[Contender],
    grid: tuple[tuple[int, ...], tuple[int, ...]],
    rounds: int = 5,
    block: float = 0.02,
    log: Callable[[str], Any] = print,
) -> dict:
    """Both sweeps; returns ``{"batch": {...}, "width": {...}}`` with per-contender medians."""
    batches, widths = grid
    keys = [c.key for c in contenders]
    out: dict[str, Any] = {"contenders": {c.key: c.label for c in contenders}}
    sweeps = (
        ("batch", [(b, BATCH_WIDTH) for b in batches], batches),
        ("width", [(WIDTH_BATCH, w) for w in widths], widths),
    )
    for name, points, xs in sweeps:
        times: dict[str, list[float]] = {k: [] for k in keys}
        for batch, width in points:
            medians = _point(batch, width, contenders, rounds, block)
            for k in keys:
                times[k].append(medians[k])
            log(
                f"  scaling batch {batch:>4} width {width:>4}: "
                + ", ".join(f"{k} {_us(medians[k])}" for k in keys)
            )
        fixed = {"batch": {"width": BATCH_WIDTH}, "width": {"batch": WIDTH_BATCH}}[name]
        out[name] = {"x": list(xs), **fixed, "median_s": times}
    return out


def _us(seconds: float | None) -> str:
    return "failed" if seconds is None else f"{seconds * 1e6:,.0f} us"


def _nan(values: list[float | None], scale: float = 1.0) -> list[float]:
    """Values for plotting: None (a failed point) becomes NaN, which matplotlib skips."""
    return [math.nan if v is None else v * scale for v in values]


#: a fixed colour per contender, the same in every panel
COLORS = {"hand": "tab:blue", "eager": "tab:orange", "compiled": "tab:green"}


def plot(data: dict, path: Path, subtitle: str) -> None:
    """Two log-log panels (time vs batch, time vs width) over their overhead-ratio panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = data["contenders"]
    fig, axes = plt.subplots(
        2, 2, figsize=(11, 7.5), sharex="col", gridspec_kw={"height_ratios": [2, 1]}
    )
    panels = (
        ("batch", f"batch size (width {BATCH_WIDTH})"),
        ("width", f"width d (batch {WIDTH_BATCH})"),
    )
    for col, (name, xlabel) in enumerate(panels):
        sweep = data[name]
        xs, times = sweep["x"], sweep["median_s"]
        top, bottom = axes[0, col], axes[1, col]
        for key, ys in times.items():
            top.loglog(xs, _nan(ys, 1e3), "o-", color=COLORS.get(key), label=labels[key])
        top.set_ylabel("step time (ms, median)")
        top.set_title(f"MLP d-d-d-10 training step vs {name}")
        top.grid(True, which="both", alpha=0.3)
        top.legend()
        hand = _nan(times["hand"])
        for key, ys in times.items():
            if key != "hand":
                ratio = [y / h for y, h in zip(_nan(ys), hand)]
                bottom.semilogx(
                    xs, ratio, "o-", color=COLORS.get(key), label=f"{labels[key]} / hand numpy"
                )
        bottom.axhline(1.0, color=COLORS["hand"], lw=1, ls="--")
        bottom.set_xlabel(xlabel)
        bottom.set_ylabel("ratio to hand numpy")
        bottom.set_ylim(bottom=0)
        bottom.grid(True, which="both", alpha=0.3)
        bottom.legend(fontsize="small")
    fig.suptitle(f"Where Python overhead dominates (flat) and where BLAS does (rising)\n{subtitle}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
