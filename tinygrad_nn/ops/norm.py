"""Normalisation and dropout: batch norm, layer norm (each one fused op), dropout.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).

Normalising over m values with x_hat = (x - mean) / sqrt(var + eps) (biased var) and
y = gamma x_hat + beta, the input gradient is (Ioffe & Szegedy, 2015)
dx = (dxh - mean(dxh) - x_hat mean(dxh x_hat)) / sqrt(var + eps), with dxh = gamma dy
and the means over the same m values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..hooks import VersionClock

__all__ = ["BatchNorm", "Dropout", "LayerNorm"]


def _normalized(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple:
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return centered * inv_std, inv_std, mean, var


def _input_grad(dxh: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes) -> np.ndarray:
    mean_dxh = dxh.mean(axis=axes, keepdims=True)
    mean_dxh_xh = np.mean(dxh * x_hat, axis=axes, keepdims=True)
    return (dxh - mean_dxh - x_hat * mean_dxh_xh) * inv_std


def _update_running(buffer: Any, value: np.ndarray, momentum: float) -> None:
    """buffer <- (1 - momentum) buffer + momentum value, in place (a Tensor buffer)."""
    data = buffer._begin_update()
    data *= 1 - momentum
    data += momentum * value.astype(data.dtype, copy=False)
    buffer._end_update(VersionClock.tick())


class BatchNorm(Function):
    """Per-channel normalisation of x (N, C, ...) over N and the trailing axes.

    Rule: dx = (dxh - mean dxh - x_hat mean(dxh x_hat)) / std, dxh = gamma dy (module docstring).

    gamma, beta: (C,) (optional together). In training the batch's mean and biased
    variance normalise, and the running statistics (Tensors given as ``running_mean`` and
    ``running_var``, or None) move by ``momentum`` towards the batch mean and the unbiased
    variance m / (m - 1) var, as PyTorch does. Otherwise the running statistics normalise
    and x's gradient is gamma dy / sqrt(running_var + eps).
    """

    def forward(
        self,
        x,
        gamma=None,
        beta=None,
        *,
        training,
        running_mean=None,
        running_var=None,
        momentum=0.1,
        eps=1e-5,
    ):
        if x.ndim < 2:
            raise ValueError(f"batch_norm: expects an input (N, C, ...), got shape {x.shape}")
        c = x.shape[1]
        for label, t in (
            ("weight", gamma),
            ("bias", beta),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ):
            if t is not None and t.shape != (c,):
                raise ValueError(
                    f"batch_norm: {label} of shape {t.shape} for input {x.shape} with {c} channels"
                )
        axes = (0, *range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        if training:
            m = x.size // c if c else 0
            if m < 2:
                raise ValueError(
                    f"batch_norm: training needs more than one value per channel, got input "
                    f"of shape {x.shape}"
                )
            x_hat, inv_std, mean, var = _normalized(x, axes, eps)
            if running_mean is not None:
                _update_running(running_mean, mean.reshape(c), momentum)
            if running_var is not None:
                _update_running(running_var, var.reshape(c) * (m / (m - 1)), momentum)
        else:
            if running_mean is None or running_var is None:
                raise ValueError("batch_norm: evaluation needs running_mean and running_var")
            mean = running_mean._data.reshape(shape)
            inv_std = 1.0 / np.sqrt(running_var._data.reshape(shape) + eps)
            x_hat = (x - mean) * inv_std
        self.x_hat, self.inv_std, self.gamma = x_hat, inv_std, gamma
        self.axes, self.shape, self.training = axes, shape, training
        if gamma is None:
            return x_hat
        return x_hat * gamma.reshape(shape) + beta.reshape(shape)

    def backward(self, grad):
        need, gamma, axes = self.needs_input_grad, self.gamma, self.axes
        dxh = grad if gamma is None else grad * gamma.reshape(self.shape)
        gx = None
        if need[0]:
            if self.training:
                gx = _input_grad(dxh, self.x_hat, self.inv_std, axes)
            else:
                gx = dxh * self.inv_std
        if gamma is None:
            return gx
        ggamma = (grad * self.x_hat).sum(axis=axes) if need[1] else None
        gbeta = grad.sum(axis=axes) if need[2] else None
        return gx, ggamma, gbeta


class LayerNorm(Function):
    """Normalisation of x (..., *normalized_shape) over its last len(normalized_shape) axes.

    Rule: dx = (dxh - mean dxh - x_hat mean(dxh x_hat)) / std, dxh = gamma dy; dgamma = dy x_hat.

    gamma, beta: normalized_shape (optional together); biased variance, as PyTorch.
    """

    def forward(self, x, gamma=None, beta=None, *, normalized_shape, eps=1e-5):
        shape = tuple(normalized_shape)
        k = len(shape)
        if k == 0 or x.ndim < k or x.shape[x.ndim - k :] != shape:
            raise ValueError(
                f"layer_norm: input of shape {x.shape} does not end in normalized_shape {shape}"
            )
        for label, t in (("weight", gamma), ("bias", beta)):
            if t is not None and t.shape != shape:
                raise ValueError(f"layer_norm: {label} of shape {t.shape}, need {shape}")
        self.axes = tuple(range(x.ndim - k, x.ndim))
        self.lead = tuple(range(x.ndim - k))
        self.x_hat, self.inv_std, _, _ = _normalized(x, self.axes, eps)
        self.gamma = gamma
        return self.x_hat if gamma is None else self.x_hat * gamma + beta

    def backward(self, grad):
        need, gamma = self.needs_input_grad, self.gamma
        dxh = grad if gamma is None else grad * gamma
        gx = _input_grad(dxh, self.x_hat, self.inv_std, self.axes) if need[0] else None
        if gamma is None:
            return gx
        ggamma = (grad * self.x_hat).sum(axis=self.lead) if need[1] else None
        gbeta = grad.sum(axis=self.lead) if need[2] else None
        return gx, ggamma, gbeta


class Dropout(Function):
    """Each element of x zeroed with probability p, the rest scaled by 1 / (1 - p).

    Rule: dx = dy * mask (the same mask as forward, already scaled by 1 / (1 - p)).

    ``rng`` (a ``np.random.Generator``) draws a fresh mask on every call, also when a
    compiled step replays this op. The gradient is dy times the same mask.
    """

    def forward(self, x, *, p, rng):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout: p must be in [0, 1], got {p!r} (input {x.shape})")
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        if p == 1.0:
            self.mask = np.zeros(x.shape, dtype=dtype)
        else:
            keep = rng.random(x.shape, dtype=dtype) >= p
            self.mask = keep * dtype.type(1.0 / (1.0 - p))
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask
