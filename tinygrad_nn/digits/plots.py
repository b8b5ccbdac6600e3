"""The digits run's pictures, drawn with matplotlib's object API (no global pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require

require("matplotlib", "digits", "the digits plots")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

__all__ = ["confusion_matrix_plot", "lambda_curve_plot", "loss_curves_plot"]

_COLORS = {"tutorial": "#d62728", "best": "#1f77b4", "cnn": "#2ca02c"}
_PLAIN = FuncFormatter(lambda value, _: f"{value:g}")  # 1.6, not 1.6 x 10^0


def lambda_curve_plot(summary: dict[str, Any], path: str | Path) -> None:
    """Validation accuracy against lambda (log axis) per preset: mean over seeds, a band
    for min..max, and each seed's chosen lambda marked."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for name, entry in summary["presets"].items():
        lambdas = np.asarray(entry["lambdas"])
        accs = np.asarray(entry["search_valid_accuracy"])
        color = _COLORS.get(name)
        ax.plot(lambdas, accs.mean(axis=0), "o-", color=color, label=f"{name} (mean)")
        ax.fill_between(lambdas, accs.min(axis=0), accs.max(axis=0), color=color, alpha=0.15)
        for lam, acc in zip(entry["best_lambda"], entry["valid_accuracy"]["per_seed"]):
            ax.plot([lam], [acc], "*", color=color, markersize=12, markeredgecolor="black")
    reported = summary["tutorial_reported"]
    ax.plot(
        [reported["best_lambda"]],
        [reported["valid_accuracy"]],
        "D",
        color="gray",
        label="tutorial reported",
    )
    positive = [lam for entry in summary["presets"].values() for lam in entry["lambdas"] if lam > 0]
    # symmetric log: logarithmic like the tutorial's plot, but lambda = 0 still has a place
    ax.set_xscale("symlog", linthresh=min(positive, default=1.0) / 2)
    ax.set_xlim(left=0)
    ax.set_xlabel("lambda (L2 strength; log scale, linear near 0)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Lambda search on the validation set (stars: chosen per seed)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110)


def loss_curves_plot(histories: dict[str, Any], path: str | Path) -> None:
    """Training and validation cross-entropy per epoch, one panel per preset."""
    fig = Figure(figsize=(5 * max(len(histories), 1), 4), layout="constrained")
    axes = fig.subplots(1, max(len(histories), 1), squeeze=False)[0]
    for ax, (name, history) in zip(axes, histories.items()):
        epochs = np.arange(1, len(history.train_loss) + 1)
        ax.plot(epochs, history.train_loss, label="train")
        if history.valid_loss:
            ax.plot(epochs, history.valid_loss, label="validation")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PLAIN)
        values = [v for v in (*history.train_loss, *history.valid_loss) if v > 0]
        if values and max(values) < 10 * min(values):  # within a decade: label minor ticks
            ax.yaxis.set_minor_formatter(_PLAIN)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy")
        ax.set_title(f"{name}: loss per epoch (first seed)")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=110)


def confusion_matrix_plot(
    y_true: np.ndarray, y_pred: np.ndarray, path: str | Path, title: str
) -> None:
    """Counts of (true class, predicted class) on the test set, with the counts written in."""
    k = int(max(y_true.max(), y_pred.max())) + 1
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                color = "white" if counts[i, j] > counts.max() / 2 else "black"
                ax.text(j, i, counts[i, j], ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / counts.sum()
    ax.set_title(f"{title}\ntest accuracy {accuracy:.4f}")
    fig.savefig(path, dpi=110)
