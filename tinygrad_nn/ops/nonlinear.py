"""Activations and softmax.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from .reduce import _normalize_axes

__all__ = ["LogSoftmax", "Relu", "Sigmoid", "Softmax", "Tanh"]


class Sigmoid(Function):
    """1 / (1 + e^-x) = 0.5 + 0.5 tanh(x / 2): the same function with one transcendental
    and no overflow for any x (tanh saturates at +-1); dy/dx = y (1 - y)."""

    def forward(self, x):
        y = np.multiply(x, 0.5, out=np.empty(x.shape, np.result_type(x, 0.5)))
        np.tanh(y, out=y)
        y *= 0.5
        y += 0.5
        self.y = y
        return y

    def backward(self, grad):
        y = self.y
        return grad * y * (1 - y)


class Tanh(Function):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y * self.y)


class Relu(Function):
    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)  # (np.where is ~10x slower on mixed signs)

    def backward(self, grad):
        return grad * self.positive


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """x - logsumexp(x), with the max subtracted first so exp never overflows (the
    ``initial`` lets an axis of length 0 give an empty result instead of an error)."""
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    if shifted.size == 0:  # nothing to normalise (the log of empty sums would warn)
        return shifted
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class Softmax(Function):
    """y = e^x / sum(e^x) (max subtracted first); dx = y * (dy - sum(dy * y)).

    Over an axis of length 0 the result is empty, as in PyTorch."""

    def forward(self, x, axis=-1):
        if x.ndim == 0:
            raise ValueError("softmax: needs at least one axis, got a scalar")
        self.axis = _normalize_axes(axis, x.ndim)[0]
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True, initial=-np.inf))
        e /= np.sum(e, axis=self.axis, keepdims=True)
        self.y = e
        return e

    def backward(self, grad):
        y = self.y
        return y * (grad - np.sum(grad * y, axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x); dx = dy - softmax(x) * sum(dy)."""

    def forward(self, x, axis=-1):
        if x.ndim == 0:
            raise ValueError("log_softmax: needs at least one axis, got a scalar")
        self.axis = _normalize_axes(axis, x.ndim)[0]
        self.y = _log_softmax(x, self.axis)
        return self.y

    def backward(self, grad):
        return grad - np.exp(self.y) * np.sum(grad, axis=self.axis, keepdims=True)
