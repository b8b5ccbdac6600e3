"""Scaling curve: step time of an MLP d-d-d-10 against batch size and against width.

Small problems are bound by per-call Python overhead (flat time, a high ratio to hand
numpy); large ones by BLAS (time growing with the FLOPs, the ratio falling towards 1).
The curve shows where one regime hands over to the other, for hand numpy, tinygrad_nn eager
and, when present, tinygrad_nn compiled.
"""

from __future__ import annotations

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
) -> dict[str, float]:
    """Median per-step seconds of each contender for one (batch, width)."""
    p = mlp_problem((width, width, width, 10), batch, key=f"scaling-b{batch}-w{width}")
    steps = {c.key: c.make(p) for c in contenders}
    timings = time_interleaved(steps, rounds, block, warmup_steps=2, warmup_seconds=0.01)
    return {key: t.median for key, t in timings.items()}


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
                + ", ".join(f"{k} {medians[k] * 1e6:,.0f} us" for k in keys)
            )
        fixed = {"batch": {"width": BATCH_WIDTH}, "width": {"batch": WIDTH_BATCH}}[name]
        out[name] = {"x": list(xs), **fixed, "median_s": times}
    return out


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
            top.loglog(xs, [y * 1e3 for y in ys], "o-", label=labels[key])
        top.set_ylabel("step time (ms, median)")
        top.set_title(f"MLP d-d-d-10 training step vs {name}")
        top.grid(True, which="both", alpha=0.3)
        top.legend()
        for key, ys in times.items():
            if key != "hand":
                ratio = [y / h for y, h in zip(ys, times["hand"])]
                bottom.semilogx(xs, ratio, "o-", label=f"{labels[key]} / hand numpy")
        bottom.axhline(1.0, color="gray", lw=1, ls="--")
        bottom.set_xlabel(xlabel)
        bottom.set_ylabel("ratio to hand numpy")
        bottom.set_yscale("log")
        bottom.grid(True, which="both", alpha=0.3)
        bottom.legend(fontsize="small")
    fig.suptitle(f"Where Python overhead dominates (flat) and where BLAS does (rising)\n{subtitle}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
