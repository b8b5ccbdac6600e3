"""Training recipes and the lambda search: ``TrainSpec``, ``train_spec``, ``search_lambda``.

A :class:`TrainSpec` holds everything needed to build and train one model, so it can be sent
to parallel workers (joblib's processes, or a Dask cluster through joblib's ``"dask"``
backend) and give the same result there as here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import progress_bar, require
from ..nn import MLP
from ..optim import SGD, Adam, Optimizer
from ..train import Augment, History, fit
from .data import affine_augment, shift_augment

__all__ = ["TrainSpec", "best_of", "run_jobs", "search_lambda", "train_spec"]


@dataclass(frozen=True)
class TrainSpec:
    """Everything needed to build and train one model; picklable for parallel workers.

    ``sizes`` are the layer widths (input first); ``optimizer`` is ``"sgd"`` or ``"adam"``;
    ``lr_decay`` multiplies the learning rate linearly down to ``lr * lr_decay`` at the end
    (1.0 keeps it constant); ``augment`` is ``"shift"`` or None.
    """

    sizes: tuple[int, ...] = (64, 48, 32, 10)
    activation: str = "sigmoid"
    output_activation: str | None = "sigmoid"
    optimizer: str = "sgd"
    lr: float = 0.2
    momentum: float = 0.9
    epochs: int = 1000
    batch_size: int | None = None
    augment: str | None = None
    lr_decay: float = 1.0
    dtype: str = "float32"
    backend: str = "numpy"  # the compiled training step's: "numpy" or "numba"

    def build(self, seed: int) -> tuple[MLP, Optimizer]:
        """A fresh model (initialised from ``seed``) and its optimizer."""
        model = MLP(self.sizes, self.activation, self.output_activation, rng=seed, dtype=self.dtype)
        if self.optimizer == "sgd":
            opt: Optimizer = SGD(model.parameters(), lr=self.lr, momentum=self.momentum)
        elif self.optimizer == "adam":
            opt = Adam(model.parameters(), lr=self.lr)
        else:
            raise ValueError(f"TrainSpec: unknown optimizer {self.optimizer!r}")
        return model, opt

    def schedule(self) -> Callable[[int], float] | None:
        """The per-epoch learning rate, or None for a constant one."""
        if self.lr_decay == 1.0:
            return None
        return LinearDecay(self.lr, self.lr_decay, self.epochs)


@dataclass(frozen=True)
class LinearDecay:
    """Learning rate ``lr`` at epoch 0 falling linearly to ``lr * final_fraction`` at the end."""

    lr: float
    final_fraction: float
    epochs: int

    def __call__(self, epoch: int) -> float:
        frac = epoch / max(self.epochs - 1, 1)
        return self.lr * (1 - frac * (1 - self.final_fraction))


_AUGMENTS: dict[str | None, Augment | None] = {
    None: None,
    "shift": shift_augment,
    "affine": affine_augment,
}


def train_spec(
    spec: TrainSpec,
    lam: float,
    data: tuple[np.ndarray | None, ...],
    seed: int,
    progress: bool = False,
    checkpoint: str | Path | None = None,
    description: str = "train",
) -> tuple[MLP, History]:
    """Build ``spec``'s model from ``seed`` and fit it on ``data`` = (X, y, X_valid, y_valid).

    ``X_valid`` and ``y_valid`` may be None: then nothing is scored during training.
    """
    X, y, X_valid, y_valid = data
    model, opt = spec.build(seed)
    history = fit(
        model,
        opt,
        X,
        y,
        spec.epochs,
        batch_size=spec.batch_size,
        lam=lam,
        valid=None if X_valid is None else (X_valid, y_valid),
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
        augment=_AUGMENTS[spec.augment],
        schedule=spec.schedule(),
        description=description,
        compiled=True,
        backend=spec.backend,
    )
    return model, history


def _job(spec: TrainSpec, lam: float, data: tuple, seed: int, checkpoint: Path | None) -> dict:
    # one BLAS thread in every job, in-process or not: the same sums in the same order, so
    # the same bits whatever n_jobs is (and no oversubscription of the cores)
    threadpoolctl = require("threadpoolctl", "digits", "the parallel lambda search")
    began = time.perf_counter()
    with threadpoolctl.threadpool_limits(1):
        model, history = train_spec(spec, lam, data, seed, checkpoint=checkpoint)
    return {
        "lam": float(lam),
        "seed": seed,
        "valid_accuracy": history.valid_accuracy[-1] if history.valid_accuracy else None,
        "valid_loss": history.valid_loss[-1] if history.valid_loss else None,
        "history": history,
        "state": model.state_dict(),
        "seconds": time.perf_counter() - began,
    }


def run_jobs(
    jobs: Sequence[tuple], n_jobs: int = 1, progress: bool = False, label: str = "train"
) -> list[dict[str, Any]]:
    """Run ``(spec, lam, data, seed, checkpoint)`` training jobs with joblib, in order."""
    joblib = require("joblib", "digits", "the parallel lambda search")
    parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
    results = parallel(joblib.delayed(_job)(*job) for job in jobs)
    return list(progress_bar(results, total=len(jobs), desc=label, enabled=progress, unit="run"))


def search_lambda(
    lambdas: Sequence[float],
    spec: TrainSpec,
    data: tuple[np.ndarray, ...],
    seeds: Sequence[int] = (0,),
    n_jobs: int = 1,
    progress: bool = False,
    checkpoints: Callable[[int, int], Path | None] | None = None,
    label: str = "lambda search",
) -> list[dict[str, Any]]:
    """Train one model per (seed, lambda) in parallel with joblib; one result dict each,
    seed-major (all lambdas of the first seed, then the next seed).

    Each result holds ``lam``, ``seed``, final ``valid_accuracy`` and ``valid_loss``, the
    ``history``, the model ``state`` and the training ``seconds``. Every job is seeded by its
    own ``seed`` alone, so the results are identical whatever ``n_jobs`` is.
    ``checkpoints(seed, i)`` gives the checkpoint file for lambda number ``i`` of ``seed``.
    """
    lambdas = [float(lam) for lam in lambdas]
    if not lambdas:
        raise ValueError("search_lambda: the list of lambdas is empty")
    if any(not np.isfinite(lam) or lam < 0 for lam in lambdas):
        raise ValueError(f"search_lambda: lambdas must be finite and >= 0, got {lambdas}")
    jobs = [
        (spec, lam, data, seed, None if checkpoints is None else checkpoints(seed, i))
        for seed in seeds
        for i, lam in enumerate(lambdas)
    ]
    return run_jobs(jobs, n_jobs, progress, label)


def best_of(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The result with the highest validation accuracy (ties: lower validation loss, then
    the earlier one)."""
    return max(results, key=lambda r: (r["valid_accuracy"], -r["valid_loss"]))
