"""Activations and softmax.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from .reduce import _normalize_axes

__all__ = ["LogSoftmax", "Relu", "Sigmoid", "Softmax", "Tanh"]


class Sigmoid(Function):
    """1 / (1 + e^-x) = 0.5 + 0.5 tanh(x / 2): the same function with one transcendental
    and no overflow for any x (tanh saturates at +-1).

    Rule: dx = dy * y (1 - y), from the saved output y.
    """

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
    """x - logsumexp(x), with the max subtracted first so exp never overflows."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class Softmax(Function):
    """y = e^x / sum(e^x) (max subtracted first). Rule: dx = y * (dy - sum(dy * y))."""

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
