"""The digits experiment behind ``tinygrad-nn digits``: presets, the runs and their summary.

A preset is a :class:`TrainSpec` plus a lambda grid and a data recipe. For each seed the
lambda with the best validation accuracy is kept; its model is scored on the test set (the
``best`` preset first refits on train + validation with the chosen lambda). Every training
job writes a checkpoint, so an interrupted run can go on with ``resume=True``.
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..nn import MLP
from ..train import History, evaluate, predict
from ..version import __version__
from .cnn import CNNSpec
from .data import load_digits_splits
from .folder import clean_temp_files, locked
from .search import TrainSpec, best_of, run_jobs, search_lambda

__all__ = ["PRESETS", "TUTORIAL_REPORTED", "Preset", "run_digits"]

TUTORIAL_REPORTED = {"best_lambda": 0.599484, "valid_accuracy": 0.96473, "test_accuracy": 0.959596}


@dataclass(frozen=True)
class Preset:
    """A training recipe: the spec, the lambdas to search, input scaling, refit or not."""

    name: str
    spec: TrainSpec
    lambdas: tuple[float, ...]
    scale: bool
    refit: bool
    description: str = ""


PRESETS: dict[str, Preset] = {
    "tutorial": Preset(
        "tutorial",
        TrainSpec(),
        tuple(float(x) for x in np.logspace(-2, 2, 10)),
        scale=False,
        refit=False,
        description="the tutorial exactly: sigmoid 64-48-32-10 incl. output, raw pixels, "
        "full batch, SGD lr 0.2 momentum 0.9, 1000 epochs",
    ),
    "best": Preset(
        "best",
        TrainSpec(
            sizes=(64, 384, 192, 10),
            activation="relu",
            output_activation=None,
            optimizer="sgd",
            lr=0.1,
            momentum=0.9,
            epochs=200,
            batch_size=32,
            augment="shift",
            lr_decay=0.05,
        ),
        (0.0, 0.003, 0.01),
        scale=True,
        refit=True,
        description="linear logits, ReLU 384-192, pixels / 16, SGD momentum 0.9 on minibatches "
        "of 32 with one-pixel shift augmentation, lr 0.1 decaying linearly to 5%, 200 epochs; "
        "refit on train + validation with the chosen lambda",
    ),
    "cnn": Preset(
        "cnn",
        CNNSpec(),
        (0.01,),
        scale=True,
        refit=True,
        description="tinygrad_nn.digits.cnn.DigitsCNN: 3x3 convolutions 16-32-64 with ReLU, "
        "2x2 max pooling after the last two, linear logits; pixels / 16, SGD momentum 0.9 on "
        "minibatches of 32, each image randomly rotated (within 12 degrees), scaled (within "
        "10%) and shifted (within a pixel), cosine lr from 0.05 to 0 over 60 epochs, lambda "
        "0.01 (all chosen on validation); refit on train + validation",
    ),
}


@dataclass
class SeedResult:
    """One seed of one preset: the search table, the chosen lambda and the final scores."""

    seed: int
    lambdas: list[float]
    search_valid_accuracy: list[float]
    best_lambda: float
    valid_accuracy: float
    test_accuracy: float
    seconds: float
    history: History
    model: MLP = field(repr=False)
    test_predictions: np.ndarray = field(repr=False)


def _checkpoint_path(folder: Path | None, preset: str, seed: int, tag: str) -> Path | None:
    return None if folder is None else folder / f"{preset}-seed{seed}-{tag}.npz"


def _rebuild(spec: TrainSpec, state: dict[str, np.ndarray]) -> MLP:
    model, _ = spec.build(0)
    model.load_state_dict(state)
    return model


def run_preset(
    preset: Preset,
    seeds: list[int],
    n_jobs: int = -1,
    progress: bool = True,
    checkpoints: Path | None = None,
) -> list[SeedResult]:
    """Search lambda on validation, then score the chosen model on test, for every seed."""
    splits = load_digits_splits(scale=preset.scale)
    data = (splits.X_train, splits.y_train, splits.X_valid, splits.y_valid)
    searched = search_lambda(
        preset.lambdas,
        preset.spec,
        data,
        seeds,
        n_jobs,
        progress,
        checkpoints=lambda seed, i: _checkpoint_path(checkpoints, preset.name, seed, f"lam{i}"),
        label=f"{preset.name}: lambda search",
    )
    n_lam = len(preset.lambdas)
    chosen = [searched[k * n_lam : (k + 1) * n_lam] for k in range(len(seeds))]
    refits: list[dict | None] = [None] * len(seeds)
    if preset.refit:
        both = (  # no validation data left to score: the refit trains on it
            np.concatenate([splits.X_train, splits.X_valid]),
            np.concatenate([splits.y_train, splits.y_valid]),
            None,
            None,
        )
        refit_jobs = [
            (
                preset.spec,
                best_of(rows)["lam"],
                both,
                seed,
                _checkpoint_path(checkpoints, preset.name, seed, "refit"),
            )
            for seed, rows in zip(seeds, chosen)
        ]
        refits = run_jobs(refit_jobs, n_jobs, progress, f"{preset.name}: refit")
    results = []
    for seed, rows, refit in zip(seeds, chosen, refits):
        best = best_of(rows)
        seconds = sum(r["seconds"] for r in rows)
        model = _rebuild(preset.spec, best["state"])
        if refit is not None:  # keep the search run's history: it has validation curves
            seconds += refit["seconds"]
            model = _rebuild(preset.spec, refit["state"])
        _, test_acc = evaluate(model, splits.X_test, splits.y_test)
        results.append(
            SeedResult(
                seed=seed,
                lambdas=list(preset.lambdas),
                search_valid_accuracy=[r["valid_accuracy"] for r in rows],
                best_lambda=best["lam"],
                valid_accuracy=best["valid_accuracy"],
                test_accuracy=test_acc,
                seconds=seconds,
                history=best["history"],
                model=model,
                test_predictions=np.argmax(predict(model, splits.X_test), axis=1),
            )
        )
    return results


def _stats(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "per_seed": [float(v) for v in arr]}


def summarize(results: list[SeedResult], wall_seconds: float) -> dict[str, Any]:
    """One preset's entry of ``results.json``."""
    return {
        "test_accuracy": _stats([r.test_accuracy for r in results]),
        "valid_accuracy": _stats([r.valid_accuracy for r in results]),
        "best_lambda": [r.best_lambda for r in results],
        "seconds": _stats([r.seconds for r in results]),
        "seeds": [r.seed for r in results],
        "wall_seconds": wall_seconds,
        "lambdas": results[0].lambdas if results else [],
        "search_valid_accuracy": [r.search_valid_accuracy for r in results],
    }


def versions() -> dict[str, str]:
    """Versions of Python and the libraries the results depend on."""
    import matplotlib
    import sklearn

    return {
        "tinygrad_nn": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(),
    }


def spec_settings(preset: Preset) -> dict[str, Any]:
    """A preset's settings as plain JSON values."""
    return {
        **dataclasses.asdict(preset.spec),
        "lambdas": list(preset.lambdas),
        "scale_inputs": preset.scale,
        "refit_on_train_and_valid": preset.refit,
        "description": preset.description,
    }


def run_digits(
    presets: list[Preset],
    seeds: list[int],
    n_jobs: int = -1,
    progress: bool = True,
    out: Path | None = None,
    resume: bool = False,
) -> tuple[dict[str, Any], dict[str, list[SeedResult]]]:
    """Run each preset for every seed; return the ``results.json`` dict and the raw results.

    With ``out`` every training job checkpoints to ``out/checkpoints``, cleared first unless
    ``resume``; the folder is locked meanwhile (:func:`~tinygrad_nn.digits.folder.locked`
    raises ``FolderInUseError`` if another run holds it) and the temporary files of a killed
    run are removed.
    """
    if out is None:
        return _run_presets(presets, seeds, n_jobs, progress, None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out):
        clean_temp_files(out)
        checkpoints = out / "checkpoints"
        if checkpoints.exists() and not resume:
            shutil.rmtree(checkpoints)
        checkpoints.mkdir(parents=True, exist_ok=True)
        return _run_presets(presets, seeds, n_jobs, progress, checkpoints)


def _run_presets(
    presets: list[Preset], seeds: list[int], n_jobs: int, progress: bool, checkpoints: Path | None
) -> tuple[dict[str, Any], dict[str, list[SeedResult]]]:
    raw: dict[str, list[SeedResult]] = {}
    summary: dict[str, Any] = {
        "tutorial_reported": dict(TUTORIAL_REPORTED),
        "presets": {},
        "settings": {"seeds": seeds, "jobs": n_jobs, "presets": {}},
        "versions": versions(),
    }
    for preset in presets:
        began = time.perf_counter()
        raw[preset.name] = run_preset(preset, seeds, n_jobs, progress, checkpoints)
        summary["presets"][preset.name] = summarize(raw[preset.name], time.perf_counter() - began)
        summary["settings"]["presets"][preset.name] = spec_settings(preset)
    return summary, raw
