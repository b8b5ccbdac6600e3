"""Activations and softmax: sigmoid, tanh, relu, leaky_relu, elu, gelu, silu, softplus,
softmax, log_softmax.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
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
    and no overflow for any x (tanh saturates at +-1).

    Rule: dx = dy * y (1 - y), from the saved output y.
    """

    def forward(self, x):
        y = np.multiply(x, 0.5)
        if type(y) is not np.ndarray:  # a 0-d input gives a numpy scalar: in-place needs an array
            y = np.array(y)
        np.tanh(y, out=y)
        y *= 0.5
        y += 0.5
        self.y = y
        return y

    def backward(self, grad):
        y = self.y
        return grad * y * (1 - y)

    def tensor_backward(self, grad, out):
        return grad * out * (1 - out)

    def forward_code(self, c, x):
        y = c.saved["y"] = c.new(x, 0.5, reuse=x)
        c.line(f"np.multiply({x}, 0.5, out={y})")
        c.line(f"np.tanh({y}, out={y})")
        c.line(f"{y} *= 0.5")
        c.line(f"{y} += 0.5")
        return y

    def backward_code(self, c, grad):
        y = c.saved["y"]
        one_minus = c.new(y, 1, scratch=True, hint="tmp")
        c.line(f"np.subtract(1, {y}, out={one_minus})")
        g = c.new(grad, y, reuse=grad, hint=f"g_{c.hint}")
        c.line(f"np.multiply({grad}, {y}, out={g})")
        c.line(f"{g} *= {one_minus}")
        return g


class Tanh(Function):
    """y = tanh(x). Rule: dx = dy * (1 - y^2)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y * self.y)

    def tensor_backward(self, grad, out):
        return grad * (1 - out * out)

    def forward_code(self, c, x):
        y = c.saved["y"] = c.new(x, 1.0, reuse=x)
        c.line(f"np.tanh({x}, out={y})")
        return y

    def backward_code(self, c, grad):
        y = c.saved["y"]
        t = c.new(y, scratch=True, hint="tmp")
        c.line(f"np.multiply({y}, {y}, out={t})")
        c.line(f"np.subtract(1, {t}, out={t})")
        g = c.new(grad, t, reuse=grad, hint=f"g_{c.hint}")
        c.line(f"np.multiply({grad}, {t}, out={g})")
        return g


class Relu(Function):
    """y = max(x, 0). Rule: dx = dy where x > 0, else 0."""

    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)  # (np.where is ~10x slower on mixed signs)

    def backward(self, grad):
        return grad * self.positive

    def tensor_backward(self, grad, out):
        return grad * self.positive

    def forward_code(self, c, x):
        positive = c.saved["positive"] = c.new(shape=c.shape(x), dtype=bool, hint="positive")
        c.line(f"np.greater({x}, 0, out={positive})")
        y = c.new(x, 0, reuse=x)
        c.line(f"np.maximum({x}, 0, out={y})")
        return y

    def backward_code(self, c, grad):
        positive = c.saved["positive"]
        g = c.new(grad, positive, reuse=grad, hint=f"g_{c.hint}")
        c.line(f"np.multiply({grad}, {positive}, out={g})")
        return g


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """x - logsumexp(x), with the max subtracted first so exp never overflows (the
    ``initial`` lets an axis of length 0 give an empty result instead of an error)."""
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    if shifted.size == 0:  # nothing to normalise (the log of empty sums would warn)
        return shifted
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class Softmax(Function):
    """y = e^x / sum(e^x) (max subtracted first). Rule: dx = y * (dy - sum(dy * y)).

    Over an axis of length 0 the result is empty, as in PyTorch.
    """

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

    def tensor_backward(self, grad, out):
        return out * (grad - (grad * out).sum(axis=self.axis, keepdims=True))

    def forward_code(self, c, x, axis=-1):
        e = c.saved["y"] = c.new(like=c.out, reuse=x)
        c.line(f"np.subtract({x}, np.max({x}, axis={self.axis}, keepdims=True), out={e})")
        c.line(f"np.exp({e}, out={e})")
        c.line(f"{e} /= np.sum({e}, axis={self.axis}, keepdims=True)")
        return e

    def backward_code(self, c, grad):
        y = c.saved["y"]
        expr = f"{y} * ({grad} - np.sum({grad} * {y}, axis={self.axis}, keepdims=True))"
        return c.let(expr, grad, y)


class LogSoftmax(Function):
    """y = x - logsumexp(x). Rule: dx = dy - softmax(x) * sum(dy)."""

    def forward(self, x, axis=-1):
        if x.ndim == 0:
            raise ValueError("log_softmax: needs at least one axis, got a scalar")
        self.axis = _normalize_axes(axis, x.ndim)[0]
        self.y = _log_softmax(x, self.axis)
        return self.y

    def backward(self, grad):
        return grad - np.exp(self.y) * np.sum(grad, axis=self.axis, keepdims=True)

    def tensor_backward(self, grad, out):
        return grad - out.exp() * grad.sum(axis=self.axis, keepdims=True)

    def forward_code(self, c, x, axis=-1):
        helper = c.bind("log_softmax_of", _log_softmax)
        c.saved["y"] = y = c.let(f"{helper}({x}, {self.axis})", like=c.out)
        return y

    def backward_code(self, c, grad):
        expr = f"{grad} - np.exp({c.saved['y']}) * np.sum({grad}, axis={self.axis}, keepdims=True)"
        return c.let(expr, grad, c.saved["y"])


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
