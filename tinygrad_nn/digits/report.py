"""``report.html``: one self-contained page for a digits run (no network, no scripts).

It holds the results table, the plots (PNG as data URLs), both graphs, and the settings and
versions. Every piece of text from the run is HTML-escaped. The graph SVGs are never put
into the page's markup: each is an ``<img>`` of a base64 data URL, which browsers render
without running any script or loading anything it names, so a hostile SVG in the run folder
can do nothing; they are scaled to the page's width, with a link to the full-size file.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

__all__ = ["table_rows", "write_report"]

_PLOTS = [
    ("lambda_curve.png", "Validation accuracy against lambda"),
    ("loss_curves.png", "Training and validation loss per epoch"),
    ("confusion_matrix.png", "Confusion matrix on the test set"),
]
_GRAPHS = [
    ("graph_collapsed.svg", "One training step, modules collapsed"),
    ("graph.svg", "One training step, every op"),
]

MAX_EMBED_BYTES = 32 << 20  # a larger graph is only linked

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1f2937; }
h1 { margin-bottom: 0.2rem; } .muted { color: #6b7280; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #d1d5db; padding: 0.35rem 0.7rem; text-align: left; }
th { background: #f3f4f6; }
figure { margin: 1.5rem 0; } figcaption { font-weight: 600; margin-bottom: 0.4rem; }
img { max-width: 100%; height: auto; box-sizing: border-box; border: 1px solid #e5e7eb; }
figcaption a { font-weight: normal; margin-left: 0.5rem; }
pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: 0.8rem; overflow-x: auto; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def table_rows(summary: dict[str, Any]) -> list[tuple[str, ...]]:
    """The results table as rows of text: a header, then best lambda, validation and test
    accuracy (mean ± std over seeds) and wall time, for reported | rerun | best preset,
    and a CNN column when the ``cnn`` preset was run.

    Shared by the terminal table of ``tinygrad-nn digits`` and ``report.html``.
    """
    presets = summary.get("presets", {})
    tut, best = presets.get("tutorial"), presets.get("best")
    rep = summary["tutorial_reported"]
    n = len(summary.get("settings", {}).get("seeds", []))

    def stats(entry: dict[str, Any] | None, key: str) -> str:
        return "-" if entry is None else f"{entry[key]['mean']:.4f} ± {entry[key]['std']:.4f}"

    def lambdas(entry: dict[str, Any] | None) -> str:
        return "-" if entry is None else ", ".join(f"{x:.3g}" for x in entry["best_lambda"])

    def wall(entry: dict[str, Any] | None) -> str:
        return "-" if entry is None else f"{entry['wall_seconds']:.1f} s"

    rows = [
        ("", "tutorial (reported)", f"tutorial rerun ({n} seeds)", f"best preset ({n} seeds)"),
        ("best lambda", f"{rep['best_lambda']:.6g}", lambdas(tut), lambdas(best)),
        (
            "validation accuracy",
            f"{rep['valid_accuracy']:.4f}",
            stats(tut, "valid_accuracy"),
            stats(best, "valid_accuracy"),
        ),
        (
            "test accuracy",
            f"{rep['test_accuracy']:.4f}",
            stats(tut, "test_accuracy"),
            stats(best, "test_accuracy"),
        ),
        ("wall time", "-", wall(tut), wall(best)),
    ]
    cnn = presets.get("cnn")
    if cnn is None:
        return rows
    column = [
        f"CNN ({n} seeds)",
        lambdas(cnn),
        stats(cnn, "valid_accuracy"),
        stats(cnn, "test_accuracy"),
        wall(cnn),
    ]
    return [(*row, cell) for row, cell in zip(rows, column)]


def _table(summary: dict[str, Any]) -> str:
    head, *rows = table_rows(summary)
    out = ["<table>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</table>")
    return "\n".join(out)


def _data_url(path: Path, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _graph_figure(path: Path, caption: str) -> str:
    """A graph as an image scaled to the page, linked to its full-size file."""
    link = f'<a href="{_e(path.name)}">open the full-size SVG</a>'
    if path.stat().st_size > MAX_EMBED_BYTES:
        return f"<figure><figcaption>{_e(caption)} {link}</figcaption>(too large to embed)</figure>"
    return (
        f"<figure><figcaption>{_e(caption)} {link}</figcaption>"
        f'<img src="{_data_url(path, "image/svg+xml")}" alt="{_e(caption)}"></figure>'
    )


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from the artefacts of a digits run and return its path."""
    run_dir = Path(run_dir)
    results = run_dir / "results.json"
    if not results.exists():
        raise FileNotFoundError(f"{results}: no such file (is {run_dir} a digits run folder?)")
    try:
        summary = json.loads(results.read_text(encoding="utf-8"))
        if not isinstance(summary, dict):
            raise TypeError(f"expected a JSON object, got {type(summary).__name__}")
        table = _table(summary)
    except (ValueError, KeyError, TypeError, AttributeError) as err:  # JSON, UTF-8, shape
        raise ValueError(f"{results}: not a digits results file ({err})") from None
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>tinygrad_nn digits run</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>tinygrad_nn: the tutorial's digits network</h1>",
        f'<p class="muted">Run folder {_e(run_dir.resolve().name)}; '
        "the tutorial's splits (721 train / 482 validation / 594 test), "
        "every choice made on validation.</p>",
        "<h2>Results</h2>",
        table,
        "<h2>Plots</h2>",
    ]
    for name, caption in _PLOTS:
        path = run_dir / name
        if path.exists():
            parts.append(
                f"<figure><figcaption>{_e(caption)}</figcaption>"
                f'<img src="{_data_url(path, "image/png")}" alt="{_e(caption)}"></figure>'
            )
    parts.append("<h2>Computation graph</h2>")
    parts += [_graph_figure(run_dir / n, c) for n, c in _GRAPHS if (run_dir / n).exists()]
    settings = json.dumps(summary.get("settings", {}), indent=2)
    versions = json.dumps(summary.get("versions", {}), indent=2)
    parts += [
        "<h2>Settings</h2>",
        f"<pre>{_e(settings)}</pre>",
        "<h2>Versions</h2>",
        f"<pre>{_e(versions)}</pre>",
        "</body></html>",
    ]
    out = run_dir / "report.html"
    tmp = run_dir / ".report.html.tmp"
    tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out
