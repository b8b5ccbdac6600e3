"""Training: ``fit`` with checkpoints and a progress bar, ``evaluate``, one training step.

``fit`` minimises mean softmax cross-entropy plus the tutorial's L2 term
``lam / (2 n) * sum ||W||^2`` over the weight matrices (biases are not penalised), where n is
the number of examples in the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import progress_bar
from .autograd import no_grad
from .checkpoint import resume, run_settings
from .checkpoint import save_checkpoint as _save_checkpoint
from .compile import compile
from .data import minibatches
from .nn import Module, l2_penalty
from .optim import Optimizer
from .tensor import Tensor, get_default_dtype, softmax_cross_entropy

__all__ = [
    "History",
    "eval_forward",
    "evaluate",
    "fit",
    "objective",
    "predict",
    "train_epoch",
    "training_step",
]

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class History:
    """Per-epoch records of a run: mean training cross-entropy (the data term, without the
    L2 term), validation cross-entropy and accuracy (empty without validation data), and
    wall-clock seconds."""

    train_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, ready for JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(**{f.name: list(d.get(f.name, [])) for f in dataclasses.fields(cls)})


def weight_matrices(model: Module) -> list[Tensor]:
    """The parameters the L2 term penalises: every parameter with 2 or more axes."""
    return [p for p in model.parameters() if p.ndim >= 2]


@contextlib.contextmanager
def _eval_mode(model: Module) -> Iterator[None]:
    """``model.eval()`` inside (Dropout off, BatchNorm on its running statistics), each
    submodule's own mode restored after."""
    modes = [(m, m.training) for _, m in model.named_modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


@no_grad()
def predict(model: Module, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """The model's outputs (N, K) for inputs X (N, features), in evaluation mode, without
    recording a graph."""
    with _eval_mode(model):
        outs = [model(Tensor(X[i : i + batch_size])).data for i in range(0, len(X), batch_size)]
    return np.concatenate(outs) if outs else np.zeros((0, 0))


def evaluate(
    model: Module,
    X: np.ndarray,
    y: np.ndarray,
    forward: Callable[[np.ndarray], Tensor] | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on (X, y), under ``no_grad``.

    ``forward(X)`` (say, from :func:`eval_forward`) replaces ``model(Tensor(X))``.
    """
    logits = predict(model, X) if forward is None else forward(X).data
    with no_grad():
        loss = softmax_cross_entropy(Tensor(logits), y).item()
    return loss, float(np.mean(np.argmax(logits, axis=1) == y))


def eval_forward(model: Module, compiled: bool = True) -> Callable[[np.ndarray], Tensor]:
    """``x -> model(Tensor(x))`` under ``no_grad`` in evaluation mode, compiled unless
    ``compiled=False``."""

    @no_grad()
    def forward(x: np.ndarray) -> Tensor:
        with _eval_mode(model):
            return model(Tensor(x))

    return compile(forward) if compiled else forward


def objective(
    model: Module,
    x: Tensor,
    y: np.ndarray,
    lam: float = 0.0,
    weights: list[Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """``(loss, data_loss)``: mean cross-entropy of ``model(x)`` against classes ``y``, and
    that plus the L2 term ``lam / (2 n) * sum ||W||^2`` over ``weights`` (default:
    :func:`weight_matrices`), n the number of rows."""
    if weights is None:
        weights = weight_matrices(model)
    data_loss = softmax_cross_entropy(model(x), y)
    return data_loss + l2_penalty(weights, lam, len(y)), data_loss


def training_step(
    model: Module,
    optimizer: Optimizer,
    lam: float = 0.0,
    weights: list[Tensor] | None = None,
    compiled: bool = False,
    backend: str = "numpy",
) -> Callable[[np.ndarray, np.ndarray], Tensor]:
    """``(x, y) -> loss``: forward, mean cross-entropy + L2, zero_grad, backward, update.

    Returns the data term of the loss (without L2). With ``compiled=True`` the step is
    traced once per batch shape and replayed (:func:`tinygrad_nn.compile`), which gives
    the same numbers faster; ``model.forward`` must then not branch on tensor values.
    ``backend="numba"`` compiles it with Numba (extra ``[fast]``).
    """
    if weights is None:
        weights = weight_matrices(model)

    def step(x: np.ndarray, y: np.ndarray) -> Tensor:
        loss, data_loss = objective(model, Tensor(x), y, lam, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return data_loss

    return compile(step, backend) if compiled else step


def train_epoch(
    model: Module,
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int | None,
    lam: float,
    rng: np.random.Generator,
    weights: list[Tensor] | None = None,
    augment: Augment | None = None,
    step: Callable[[np.ndarray, np.ndarray], Tensor] | None = None,
) -> float:
    """One pass over (X, y) in minibatches drawn with ``rng``; returns the mean training
    cross-entropy (the data term, measured before each step's update).

    ``step`` defaults to an eager :func:`training_step`; pass a compiled one made once to
    reuse it across epochs. ``weights`` are the tensors the L2 term penalises (default:
    :func:`weight_matrices`).
    """
    if step is None:
        step = training_step(model, optimizer, lam, weights)
    full_batch = batch_size is None or batch_size >= len(X)
    total = 0.0
    for idx in minibatches(len(X), batch_size, rng):
        xb, yb = (X, y) if full_batch else (X[idx], y[idx])
        if augment is not None:
            xb = augment(xb, rng)
        total += step(xb, yb).item() * len(yb)
    return total / len(X)


def _check_xy(X: np.ndarray, y: np.ndarray, label: str) -> None:
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(X) == 0:
        raise ValueError(
            f"fit: {label} X must be (N, features) and y (N,) with N > 0, "
            f"got shapes {X.shape} and {y.shape}"
        )


def fit(
    model: Module,
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int | None = None,
    lam: float = 0.0,
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 50,
    augment: Augment | None = None,
    schedule: Callable[[int], float] | None = None,
    description: str = "train",
    compiled: bool = False,
    backend: str = "numpy",
    settings: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` on (X, y) for ``epochs`` passes and return its :class:`History`.

    X: (N, features); y: (N,) integer classes. ``batch_size=None`` trains on the full batch.
    ``seed`` drives the minibatch order and ``augment(X_batch, rng)``. ``schedule(epoch)``
    returns the learning rate for that epoch. ``compiled=True`` traces the training step
    and the validation forward pass once and replays them (:func:`tinygrad_nn.compile`):
    the same numbers, less Python overhead, for models whose forward does not branch on
    tensor values. ``backend`` is the compiled step's (``"numpy"`` or ``"numba"``).

    With ``checkpoint`` the model, optimizer, epoch, random state, history and every
    setting that changes the numbers (:func:`tinygrad_nn.checkpoint.run_settings`: model
    config, optimizer settings, schedule, augmentation, batch size, lambda, seed,
    fingerprints of the data, and the JSON ``settings`` you add) are saved every
    ``checkpoint_every`` epochs (atomically). If that file exists when ``fit`` starts,
    training resumes from it and ends with exactly the weights an uninterrupted run would
    have; a checkpoint made with other settings raises ``CheckpointError`` naming them.
    Only ``epochs`` may differ, and only without a ``schedule``: the run is then extended
    (or ended early), which gives the same numbers as a run of that length from scratch.
    """
    X, y = np.asarray(X), np.asarray(y)
    _check_xy(X, y, "training")
    if valid is not None:
        valid = (np.asarray(valid[0]), np.asarray(valid[1]))
        _check_xy(*valid, "validation")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    rng = np.random.default_rng(seed)
    history = History()
    start = 0
    run: dict[str, Any] = {}
    if checkpoint is not None:
        numbers = {"batch_size": batch_size, "lam": lam, "seed": seed}
        if compiled and backend != "numpy":  # eager and compiled numpy give the same bits
            numbers["backend"] = backend
        run = run_settings(
            model, optimizer, (X, y), valid, epochs, schedule, augment, settings or {}, **numbers
        )
        if Path(checkpoint).exists():
            start, saved_history, rng = resume(checkpoint, model, optimizer, run)
            history = History.from_dict(saved_history)
    if compiled and X.dtype.kind != "f":  # the traced step takes data as given: make it float
        X = X.astype(get_default_dtype())
    step = training_step(model, optimizer, lam, compiled=compiled, backend=backend)
    forward = eval_forward(model, compiled)
    bar = progress_bar(
        range(start, epochs), initial=start, total=epochs, desc=description, enabled=progress
    )
    for epoch in bar:
        began = time.perf_counter()
        if schedule is not None:
            optimizer.lr = float(schedule(epoch))
        train_loss = train_epoch(
            model, optimizer, X, y, batch_size, lam, rng, augment=augment, step=step
        )
        history.train_loss.append(train_loss)
        if valid is not None:
            v_loss, v_acc = evaluate(model, *valid, forward=forward)
            history.valid_loss.append(v_loss)
            history.valid_accuracy.append(v_acc)
            bar.set_postfix(loss=f"{train_loss:.4f}", valid_acc=f"{v_acc:.4f}", refresh=False)
        history.seconds.append(time.perf_counter() - began)
        done = epoch + 1
        if checkpoint is not None and (done % checkpoint_every == 0 or done == epochs):
            _save_checkpoint(checkpoint, model, optimizer, rng, history, done, run)
    return history
