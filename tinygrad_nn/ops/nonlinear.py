"""Activations and softmax: sigmoid, tanh, relu, leaky_relu, elu, gelu, silu, softplus,
softmax, log_softmax.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from .pointwise import Erf
from .reduce import _normalize_axes
from .select import Where
from .special import erf

__all__ = [
    "Elu",
    "Gelu",
    "LeakyRelu",
    "LogSoftmax",
    "Relu",
    "Sigmoid",
    "Silu",
    "Softmax",
    "Softplus",
    "Tanh",
]


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
    """x - logsumexp(x), with the max subtracted first so exp never overflows."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class Softmax(Function):
    """y = e^x / sum(e^x) (max subtracted first); dx = y * (dy - sum(dy * y))."""

    def forward(self, x, axis=-1):
        if x.ndim == 0:
            raise ValueError("softmax: needs at least one axis, got a scalar")
        self.axis = _normalize_axes(axis, x.ndim)[0]
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
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


def _float_copy(x: np.ndarray) -> np.ndarray:
    """A fresh float array of x's values (also for 0-d x) to compute in place."""
    return np.array(x, dtype=np.result_type(x, 1.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)  # as Sigmoid: no overflow for any x


def _number(op: str, label: str, value, positive: bool = False) -> None:
    if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
        raise ValueError(f"{op}: {label} must be a number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{op}: {label} must be positive, got {value!r}")


class LeakyRelu(Function):
    """x for x > 0, ``negative_slope`` x otherwise.

    Rule: dx = dy where x > 0, else dy * negative_slope.
    """

    def forward(self, x, negative_slope=0.01):
        _number(self.name, "negative_slope", negative_slope)
        self.slope = np.where(x > 0, 1, negative_slope).astype(x.dtype, copy=False)
        return x * self.slope

    def backward(self, grad):
        return grad * self.slope

    def tensor_backward(self, grad, out):
        return grad * self.slope


class Elu(Function):
    """y = x for x > 0, alpha (e^x - 1) otherwise.

    Rule: dx = dy where x > 0, else dy * (y + alpha) (that is, alpha e^x).
    """

    def forward(self, x, alpha=1.0):
        _number(self.name, "alpha", alpha)
        self.positive = x > 0
        self.y = np.where(self.positive, x, alpha * np.expm1(np.minimum(x, 0)))
        self.alpha = alpha
        return self.y

    def backward(self, grad):
        return grad * np.where(self.positive, 1, self.y + self.alpha)

    def tensor_backward(self, grad, out):
        return grad * Where.apply(self.positive, 1.0, out + self.alpha)


# Python floats, so float32 inputs stay float32
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_CUBIC = 0.044715


class Gelu(Function):
    """x Phi(x) with Phi the standard normal CDF, Phi(x) = (1 + erf(x / sqrt 2)) / 2.
    ``approximate="tanh"``: Phi(x) ~ (1 + t) / 2 with t = tanh(sqrt(2/pi) (x + 0.044715
    x^3)), differentiated as written (Hendrycks and Gimpel; PyTorch's two forms). Written
    with in-place steps: each temporary of a large tensor costs time.

    Rule: dx = dy * (Phi(x) + x phi(x)), phi the normal density (tanh form: its own slope).
    """

    def forward(self, x, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            t = _float_copy(x)
            t *= x  # (x**3 is 50x slower)
            t *= _GELU_CUBIC
            t += 1
            t *= x
            t *= _SQRT_2_OVER_PI
            self.t = np.tanh(t, out=t)
            y = t + 1
        else:
            y = erf(np.multiply(x, _SQRT_HALF, dtype=np.result_type(x, 1.0)))
            y += 1
            self.cdf = y
        y *= 0.5
        return x * y

    def backward(self, grad):
        x = self.x
        if self.approximate == "tanh":
            t = self.t
            d = _float_copy(x)  # the slope of tanh's argument
            d *= x
            d *= 3 * _GELU_CUBIC
            d += 1
            d *= _SQRT_2_OVER_PI * x
            d *= 1 - t * t
            d += t
            d += 1
            d *= 0.5  # (1 + t + x (1 - t^2) slope) / 2
            return grad * d
        d = _float_copy(x)
        d *= x
        d *= -0.5
        np.exp(d, out=d)
        d *= _INV_SQRT_2PI * x  # x phi(x)
        d += self.cdf
        return grad * d

    def tensor_backward(self, grad, out):
        x = self.inputs[0]
        if self.approximate == "tanh":
            t = ((x * x * x * _GELU_CUBIC + x) * _SQRT_2_OVER_PI).tanh()
            slope = (x * x * (3 * _GELU_CUBIC) + 1) * _SQRT_2_OVER_PI
            return grad * ((t + 1 + x * (1 - t * t) * slope) * 0.5)
        cdf = (Erf.apply(x * _SQRT_HALF) + 1) * 0.5
        return grad * (cdf + x * (x * x * -0.5).exp() * _INV_SQRT_2PI)


class Silu(Function):
    """x sigmoid(x) (swish).

    Rule: dx = dy * s (1 + x (1 - s)) with s = sigmoid(x).
    """

    def forward(self, x):
        self.x, self.s = x, _sigmoid(x)
        return x * self.s

    def backward(self, grad):
        s = self.s
        return grad * (s * (1 + self.x * (1 - s)))

    def tensor_backward(self, grad, out):
        x = self.inputs[0]
        s = x.sigmoid()
        return grad * (s * (1 + x * (1 - s)))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, as logaddexp(0, beta x) / beta: no overflow for any x.

    Rule: dx = dy * sigmoid(beta x).
    """

    def forward(self, x, beta=1.0):
        _number(self.name, "beta", beta, positive=True)
        self.x, self.beta = x, beta
        return np.logaddexp(0, beta * x) / beta

    def backward(self, grad):
        return grad * _sigmoid(self.beta * self.x)

    def tensor_backward(self, grad, out):
        return grad * (self.inputs[0] * self.beta).sigmoid()
