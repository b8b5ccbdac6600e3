"""Gradient health for drawings: vanishing / healthy / exploding gradients, saturated units.

Needs numpy only; :mod:`tinygrad_nn.viz` draws what these functions judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..autograd import toposort
from ..tensor import Tensor

__all__ = ["HealthThresholds", "gradient_health", "retain_all_grads", "saturation"]


@dataclass(frozen=True)
class HealthThresholds:
    """Where gradients count as vanishing or exploding, and units as saturated."""

    vanishing: float = 1e-4  # rms(grad) / rms(data) below this: vanishing
    exploding: float = 10.0  # rms(grad) / rms(data) above this: exploding
    derivative: float = 0.01  # an activation unit whose derivative is below this is saturated
    saturated_fraction: float = 0.25  # flag an activation when more units than this saturate
    data_floor: float = 0.01  # data with a smaller rms (fresh zero biases) is judged against 1


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) if a.size else 0.0


def gradient_health(t: Tensor, thresholds: HealthThresholds = HealthThresholds()) -> str | None:
    """``"vanishing"``, ``"healthy"`` or ``"exploding"`` for a tensor with a grad, else None.

    Judged by rms(grad) / rms(data): how far one unit step along the gradient moves the
    tensor relative to its own size. Tensors that are (nearly) all zero, such as fresh
    biases, have no size to compare with and are judged by rms(grad) alone. One-element
    tensors (the loss and its terms) are not judged.
    """
    if t.grad is None or t.size == 1:
        return None
    scale = _rms(t.data)
    ratio = _rms(t.grad) / (scale if scale >= thresholds.data_floor else 1.0)
    if ratio < thresholds.vanishing:
        return "vanishing"
    if ratio > thresholds.exploding:
        return "exploding"
    return "healthy"


def saturation(t: Tensor, thresholds: HealthThresholds = HealthThresholds()) -> float | None:
    """Fraction of a sigmoid or tanh output's units whose derivative is below the threshold.

    None for tensors not made by sigmoid or tanh.
    """
    kind = t.op.name if t.op is not None else None
    y = t.data
    if kind == "sigmoid":
        derivative = y * (1 - y)
    elif kind == "tanh":
        derivative = 1 - y * y
    else:
        return None
    return float(np.mean(derivative < thresholds.derivative)) if y.size else 0.0


def retain_all_grads(root: Tensor) -> None:
    """Ask every intermediate tensor behind ``root`` to keep its grad after backward."""
    root.retain_grad()
    for fn in toposort(root):
        for t in fn.inputs:
            t.retain_grad()
