"""Loss functions, as PyTorch defines them: mse, l1, huber, binary cross-entropy with logits,
cross-entropy (class indices or probabilities, label smoothing, class weights).

A target must have the prediction's exact shape (class indices: one per row): a (200,)
target for a (200, 1) prediction raises a ``ValueError`` naming both shapes instead of
broadcasting to a (200, 200) loss. ``reduction`` is "mean" (the default), "sum" or "none"
(the elementwise losses). Targets that are not Tensors take the prediction's float dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .tensor import Tensor, composite

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "l1_loss",
    "mse_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _pair(name: str, pred: Any, target: Any, reduction: str) -> tuple[Tensor, Tensor]:
    """Both as Tensors, after checking the reduction and that the shapes are equal."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    pred = pred if isinstance(pred, Tensor) else Tensor(pred)
    if not isinstance(target, Tensor):
        target = np.asarray(target)
        dtype = pred.dtype if pred.dtype.kind == "f" else None
        target = Tensor(target, dtype=dtype if target.dtype.kind in "biuf" else None)
    if target.shape != pred.shape:
        raise ValueError(
            f"{name}: target shape {target.shape} differs from the prediction's shape "
            f"{pred.shape}; reshape one of them (losses do not broadcast)"
        )
    return pred, target


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


@composite
def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    """(pred - target)^2, reduced. pred and target: the same shape, any."""
    pred, target = _pair("mse_loss", pred, target, reduction)
    diff = pred - target
    return _reduce(diff * diff, reduction)


@composite
def l1_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    """|pred - target|, reduced (gradient 0 where they are equal). Same shapes."""
    pred, target = _pair("l1_loss", pred, target, reduction)
    return _reduce((pred - target).abs(), reduction)


@composite
def huber_loss(pred: Any, target: Any, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta), d = pred - target, reduced.

    Computed as 0.5 q^2 + delta (|d| - q) with q = min(|d|, delta): the same values, and a
    gradient of d inside and delta sign(d) outside. Same shapes; delta > 0.
    """
    if not isinstance(delta, (int, float, np.number)) or isinstance(delta, bool) or delta <= 0:
        raise ValueError(f"huber_loss: delta must be a positive number, got {delta!r}")
    pred, target = _pair("huber_loss", pred, target, reduction)
    size = (pred - target).abs()
    inner = size.clip(max=delta)
    return _reduce(0.5 * inner * inner + delta * (size - inner), reduction)


def _weight_like(name: str, label: str, weight: Any, shape: tuple, dtype: np.dtype) -> Any:
    if weight is None or isinstance(weight, (int, float)):
        return weight
    w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, dtype=dtype))
    try:
        fits = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name}: {label} of shape {w.shape} does not broadcast to the input's shape {shape}"
        )
    return w


@composite
def binary_cross_entropy_with_logits(
    logits: Any,
    target: Any,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """-w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] for logits x and targets y in
    [0, 1] of the same shape, reduced; stable for any x as
    w [p y softplus(-x) + (1 - y) softplus(x)] (= w (softplus(x) - x y) when p = 1).

    ``weight`` (w) and ``pos_weight`` (p, the weight of positives) broadcast to the input.
    """
    logits, target = _pair("binary_cross_entropy_with_logits", logits, target, reduction)
    name = "binary_cross_entropy_with_logits"
    weight = _weight_like(name, "weight", weight, logits.shape, logits.dtype)
    pos_weight = _weight_like(name, "pos_weight", pos_weight, logits.shape, logits.dtype)
    if pos_weight is None:
        loss = logits.softplus() - logits * target
    else:
        loss = (1 - target) * logits.softplus() + pos_weight * target * (-logits).softplus()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def cross_entropy(
    logits: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits (N, K) against class indices (N,) or class probabilities
    (N, K), one fused stable op (``ops.CrossEntropy``), as PyTorch defines it.

    ``weight`` (K,) weighs the classes ("mean" then divides by the summed weights of the
    targets' classes, for indices); ``label_smoothing`` eps mixes the target with the
    uniform distribution: (1 - eps) q + eps / K. ``reduction="none"`` gives (N,) losses.
    The target gets no gradient.
    """
    target = target._data if isinstance(target, Tensor) else np.asarray(target)
    if isinstance(weight, Tensor):
        weight = weight._data
    return ops.CrossEntropy.apply(
        logits,
        target=target,
        weight=weight,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
