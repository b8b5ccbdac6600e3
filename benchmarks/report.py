"""Turning raw results into the Markdown report and the JSON record."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .environment import blas_summary

__all__ = ["format_bytes", "format_seconds", "markdown", "write_json"]


def format_seconds(seconds: float, unit: str | None = None) -> str:
    """``812 µs``, ``1.23 ms``, ``2.5 s``: three significant figures, unit picked by size."""
    unit = unit or _time_unit(seconds)
    scale = {"µs": 1e6, "ms": 1e3, "s": 1.0}[unit]
    return f"{_sig3(seconds * scale)} {unit}"


def _time_unit(seconds: float) -> str:
    if seconds < 1e-3:
        return "µs"
    return "ms" if seconds < 1.0 else "s"


def _sig3(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def format_bytes(n: float) -> str:
    """``1.2 MiB``-style sizes."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return "–"
    return f"{a / b:.2f}x"


# ----------------------------------------------------------------------------- header


def _header(env: dict, mode: str, settings: dict, created: str) -> list[str]:
    machine, versions = env["machine"], env["versions"]
    load = machine.get("load_average_1_5_15")
    lines = [
        "# tinygrad_nn benchmarks",
        "",
        f"- run: {created}, {mode} mode, git {env.get('git') or '?'}",
        f"- machine: {machine['cpu']}, {machine['cpus_usable']} usable CPUs"
        + (f", load average {load[0]:.2f} at start" if load else ""),
        f"- BLAS threads pinned to **{env['threads']}** (threadpoolctl); thread pools in force:",
    ]
    lines += [f"  - {line}" for line in blas_summary(env["blas"])]
    if env.get("env"):
        lines.append("- environment: " + ", ".join(f"`{k}={v}`" for k, v in env["env"].items()))
        if any(k.startswith("OPENBLAS_CORE") or k == "OPENBLAS_L2_SIZE" for k in env["env"]):
            lines.append(
                "  (these OPENBLAS settings slow numpy's BLAS; for full speed run "
                "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE make bench`)"
            )
    lines += [
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- method: warm-up excluded; {settings['rounds']} interleaved rounds of about "
        f"{settings['block_seconds'] * 1e3:.0f} ms per contender; per-step median and "
        "min–max over rounds; losses of the first "
        f"{settings['check_steps']} steps compared with hand numpy (relative tolerance "
        f"{settings['tolerance']:g}); "
        + (
            "peak memory = bytes held between steps + the extra peak during one step, "
            "from tracemalloc"
            if settings["memory"]
            else "memory not measured (--no-memory)"
        ),
        "",
    ]
    return lines


# ----------------------------------------------------------------------------- tables


def _check_cell(row: dict) -> str:
    check = row.get("check")
    if row["key"] == "hand":
        return "reference"
    if check is None:
        return "not compared"
    mark = "ok" if check["ok"] else "**MISMATCH**"
    return f"{mark} ({check['max_rel_err']:.0e})"


def _workload_table(w: dict) -> list[str]:
    rows = w["rows"]
    by_key = {r["key"]: r for r in rows}
    hand = by_key.get("hand", {})
    hand_t = hand.get("timing", {}).get("median_s")
    hand_m = (hand.get("memory") or {}).get("peak_bytes")
    floor_t = by_key.get("floor", {}).get("timing", {}).get("median_s")
    unit = _time_unit(hand_t) if hand_t else None
    head = "| contender | median / step | min–max | vs hand numpy |"
    rule = "|---|---:|---:|---:|"
    if floor_t:
        head, rule = head + " vs GEMM floor |", rule + "---:|"
    head += " peak memory | vs hand numpy | loss check |"
    rule += "---:|---:|---|"
    lines = [f"## {w['title']}", "", w["description"], "", head, rule]
    n_cols = head.count("|") - 1
    for r in rows:
        if "error" in r:
            blanks = " |" * (n_cols - 2)
            lines.append(f"| {r['label']} | error: {r['error'].replace('|', '/')} |{blanks}")
            continue
        t = r["timing"]
        mem = r.get("memory")
        cells = [
            r["label"],
            format_seconds(t["median_s"], unit),
            f"{format_seconds(t['min_s'], unit)} – {format_seconds(t['max_s'], unit)}",
            _ratio(t["median_s"], hand_t),
        ]
        if floor_t:
            cells.append(_ratio(t["median_s"], floor_t))
        cells += [
            format_bytes(mem["peak_bytes"]) if mem else "n/a",
            _ratio(mem["peak_bytes"], hand_m) if mem else "–",
            _check_cell(r),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"{r['label']}: {r['note']}" for r in rows if r.get("note")]
    if any(r.get("memory", 0) is None for r in rows):
        notes.append("n/a memory: PyTorch and XLA allocate outside Python's tracemalloc")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return lines + [""]


def _seconds_or_dash(seconds: float | None) -> str:
    return "–" if seconds is None else format_seconds(seconds)


def _scaling_table(data: dict) -> list[str]:
    labels = data["contenders"]
    keys = list(labels)
    lines = [
        "## Scaling: MLP d-d-d-10 training step (see scaling.png)",
        "",
    ]
    for name, fixed in (("batch", "width"), ("width", "batch")):
        sweep = data[name]
        head = f"| {name} ({fixed} {sweep[fixed]}) | " + " | ".join(labels[k] for k in keys)
        ratios = [k for k in keys if k != "hand"]
        head += " | " + " | ".join(f"{labels[k]} / hand" for k in ratios) + " |"
        lines += [head, "|" + "---:|" * (1 + len(keys) + len(ratios))]
        times = sweep["median_s"]
        for i, x in enumerate(sweep["x"]):
            cells = [str(x)] + [_seconds_or_dash(times[k][i]) for k in keys]
            cells += [_ratio(times[k][i], times["hand"][i]) for k in ratios]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def markdown(result: dict) -> str:
    """The whole report as Markdown."""
    lines = _header(result["environment"], result["mode"], result["settings"], result["created"])
    if not result["environment"]["has_compile"]:
        lines += ["_`tinygrad_nn.compile` is not in this version: no compiled row._", ""]
    for w in result["workloads"]:
        lines += _workload_table(w)
    if result.get("scaling"):
        lines += _scaling_table(result["scaling"])
    return "\n".join(lines).rstrip() + "\n"


def write_json(result: dict, path: Path) -> None:
    """All raw numbers, settings, versions, BLAS info and machine, as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
