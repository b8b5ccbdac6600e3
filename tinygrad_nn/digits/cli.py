"""The command line: ``tinygrad-nn digits`` reproduces the tutorial, then beats it.

Bad arguments exit 2 with argparse's usage line and one error line; a failure while running
exits 1 with one line; Ctrl-C exits 130 and leaves the last checkpoints intact.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import MissingExtraError
from ..serialize import save
from .experiment import PRESETS, Preset, run_digits
from .folder import locked
from .report import table_rows

__all__ = ["main"]


def _number(kind: type, ok: Any, wanted: str) -> Any:
    """An argparse type: ``kind(text)`` that must satisfy ``ok``, else "expected <wanted>"."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    return convert


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(float, lambda v: np.isfinite(v) and v > 0, "a positive number")
_lambda = _number(float, lambda v: np.isfinite(v) and v >= 0, "a number >= 0")
_momentum = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_jobs = _number(int, lambda v: v >= 1 or v == -1, "a positive integer or -1 (all cores)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-nn",
        description="A small autodiff framework on numpy, and the tutorial's digits network.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = sub.add_parser(
        "digits",
        help="reproduce the tutorial's digits network, then beat it",
        description="Train the tutorial's network and our best preset on the tutorial's "
        "digits splits; print one table and write results, plots and the model to --out.",
    )
    d.add_argument(
        "--preset",
        choices=["tutorial", "best", "cnn", "both", "all"],
        default="both",
        help="both: tutorial and best; all: tutorial, best and cnn",
    )
    d.add_argument(
        "--hidden", type=_positive_int, nargs="+", metavar="N", help="hidden layer widths"
    )
    d.add_argument("--epochs", type=_positive_int, help="epochs (both presets)")
    d.add_argument("--lr", type=_positive_float, help="learning rate")
    d.add_argument("--momentum", type=_momentum, help="SGD momentum")
    d.add_argument("--lambdas", type=_lambda, nargs="+", metavar="L", help="L2 strengths to try")
    d.add_argument("--jobs", type=_jobs, default=-1, help="parallel jobs (-1: all cores)")
    d.add_argument("--seed", type=_non_negative_int, default=0, help="first seed")
    d.add_argument("--seeds", type=_positive_int, default=5, help="how many seeds")
    d.add_argument("--out", type=Path, default=Path("runs/digits"), help="output folder")
    d.add_argument("--resume", action="store_true", help="go on from the checkpoints in --out")
    d.add_argument("--no-progress", action="store_true", help="hide progress bars")
    d.add_argument(
        "--backend",
        choices=["numpy", "numba"],
        default="numpy",
        help="compiled training step: generated numpy, or fused by Numba (extra [fast])",
    )

    g = sub.add_parser(
        "graph",
        help="draw a saved model's training-step graph as SVG",
        description="Run one training step (forward, loss, backward) of a saved model on a "
        "small batch and draw its computation graph with gradient health.",
    )
    g.add_argument("--model", type=Path, required=True, help="a model.npz written by save()")
    g.add_argument("--out", type=Path, default=Path("graph.svg"), help="the SVG to write")
    g.add_argument("--collapse", action="store_true", help="draw each layer as one box")
    g.add_argument("--batch", type=_positive_int, default=32, help="examples in the batch")
    g.add_argument(
        "--source",
        action="store_true",
        help="print the compiled training step's generated numpy source instead of drawing",
    )

    r = sub.add_parser(
        "report",
        help="(re)write report.html for a digits run folder",
        description="Write RUN_DIR/report.html from the results, plots and graphs in RUN_DIR.",
    )
    r.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    return parser


def _check_writable(parser: argparse.ArgumentParser, out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as err:
        parser.error(f"--out {out}: not a writable folder ({err.strerror or err})")


def _apply_overrides(preset: Preset, args: argparse.Namespace) -> Preset:
    spec = preset.spec
    changes: dict[str, Any] = {}
    if args.hidden and hasattr(spec, "sizes"):
        changes["sizes"] = (spec.sizes[0], *args.hidden, spec.sizes[-1])
    elif args.hidden:  # the CNN: Linear layers between the convolutions and the logits
        changes["hidden"] = tuple(args.hidden)
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.lr is not None:
        changes["lr"] = args.lr
    if args.momentum is not None:
        changes["momentum"] = args.momentum
    if args.backend != "numpy":
        changes["backend"] = args.backend
    preset = dataclasses.replace(preset, spec=dataclasses.replace(spec, **changes))
    if args.lambdas:
        preset = dataclasses.replace(preset, lambdas=tuple(args.lambdas))
    return preset


def results_table(summary: dict[str, Any]) -> str:
    """The results as a Markdown table: reported | tutorial rerun | best preset (| cnn)."""
    rows = table_rows(summary)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def training_step_graph(model: Any, X: np.ndarray, y: np.ndarray, lam: float) -> Any:
    """Forward, loss (cross-entropy + L2) and backward on one batch; returns the loss tensor
    with every intermediate gradient kept, ready to draw."""
    from ..tensor import Tensor
    from ..train import objective
    from ..viz import retain_all_grads

    loss, _ = objective(model, Tensor(X, name="x"), y, lam)
    retain_all_grads(loss)
    loss.backward()
    return loss


def _write_graphs(model: Any, scale: bool, lam: float, out: Path, batch: int = 32) -> None:
    from ..viz import save_svg
    from .data import load_digits_splits

    splits = load_digits_splits(scale=scale)
    loss = training_step_graph(model, splits.X_train[:batch], splits.y_train[:batch], lam)
    save_svg(loss, out / "graph.svg")
    save_svg(loss, out / "graph_collapsed.svg", collapse=True)


def run_graph_command(args: argparse.Namespace) -> int:
    """``tinygrad-nn graph``: draw a saved model's training-step graph."""
    from ..nn import MLP
    from ..serialize import load, load_state
    from ..viz import save_svg
    from .cnn import DigitsCNN
    from .data import load_digits_splits

    model = load(args.model)
    if not isinstance(model, (MLP, DigitsCNN)):
        raise ValueError(f"{args.model}: holds a {type(model).__name__}, not an MLP")
    user = load_state(args.model)[1].get("user", {})
    n_in, n_out = (model.sizes[0], model.sizes[-1]) if isinstance(model, MLP) else (64, 10)
    if n_in == 64 and n_out == 10:
        splits = load_digits_splits(scale=bool(user.get("scale_inputs", False)))
        X, y = splits.X_train[: args.batch], splits.y_train[: args.batch]
    else:  # not a digits model: a random batch of the right shape shows the same graph
        rng = np.random.default_rng(0)
        X = rng.normal(size=(args.batch, n_in)).astype(model.fc1.weight.dtype)
        y = rng.integers(0, n_out, size=args.batch)
    if args.source:
        from ..optim import SGD
        from ..train import training_step

        lam = float(user.get("best_lambda", 0.0))
        step = training_step(model, SGD(model.parameters(), 0.1), lam, compiled=True)
        step(X, y)
        print(step.source, end="")
        return 0
    loss = training_step_graph(model, X, y, float(user.get("best_lambda", 0.0)))
    path = save_svg(loss, args.out, collapse=args.collapse or None)
    print(f"wrote {path}")
    return 0


def run_report_command(args: argparse.Namespace) -> int:
    """``tinygrad-nn report RUN_DIR``: rewrite the run's report.html."""
    from .report import write_report

    print(f"wrote {write_report(args.run_dir)}")
    return 0


def run_digits_command(args: argparse.Namespace) -> int:
    """``tinygrad-nn digits``: run, print the table, write every artefact to ``--out``.

    The whole command holds the folder's lock: a second run on the same ``--out`` exits 1."""
    with locked(args.out):
        return _digits(args)


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")  # removed by clean_temp_files if we are killed
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def _digits(args: argparse.Namespace) -> int:
    from .data import load_digits_splits
    from .plots import confusion_matrix_plot, lambda_curve_plot, loss_curves_plot

    groups = {"both": ["tutorial", "best"], "all": ["tutorial", "best", "cnn"]}
    names = groups.get(args.preset, [args.preset])
    presets = [_apply_overrides(PRESETS[name], args) for name in names]
    seeds = list(range(args.seed, args.seed + args.seeds))
    out: Path = args.out
    summary, raw = run_digits(
        presets, seeds, args.jobs, progress=not args.no_progress, out=out, resume=args.resume
    )
    summary["settings"]["command"] = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
    }
    _write_json(out / "results.json", summary)
    lambda_curve_plot(summary, out / "lambda_curve.png")
    loss_curves_plot(
        {name: results[0].history for name, results in raw.items()}, out / "loss_curves.png"
    )
    # the model to keep: the last preset's (best when run) seed with the best validation score
    final_name = names[-1]
    chosen = max(raw[final_name], key=lambda r: r.valid_accuracy)
    preset = next(p for p in presets if p.name == final_name)
    y_test = load_digits_splits(scale=preset.scale).y_test
    confusion_matrix_plot(
        y_test,
        chosen.test_predictions,
        out / "confusion_matrix.png",
        f"{final_name} preset, seed {chosen.seed}",
    )
    save(
        chosen.model,
        out / "model.npz",
        preset=final_name,
        seed=chosen.seed,
        best_lambda=chosen.best_lambda,
        scale_inputs=preset.scale,
        test_accuracy=chosen.test_accuracy,
    )
    from ..viz import GraphvizNotFoundError

    written = "results.json, lambda_curve.png, loss_curves.png, confusion_matrix.png"
    try:
        _write_graphs(chosen.model, preset.scale, chosen.best_lambda, out)
        written += ", graph.svg, graph_collapsed.svg"
    except GraphvizNotFoundError as err:  # the run's results matter more than its pictures
        print(f"tinygrad-nn: warning: {err}", file=sys.stderr)
    from .report import write_report

    write_report(out)
    print(results_table(summary))
    print(f"\nwrote {out}/: {written}, model.npz, report.html")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinygrad-nn`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "digits":
        _check_writable(parser, args.out)
    commands = {
        "digits": run_digits_command,
        "graph": run_graph_command,
        "report": run_report_command,
    }
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        print("\ntinygrad-nn: interrupted; checkpoints kept, go on with --resume", file=sys.stderr)
        return 130
    except (OSError, ValueError, RuntimeError, MissingExtraError) as err:
        print(f"tinygrad-nn: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
