"""Elementwise arithmetic: add, sub, neg, mul, div, pow, exp, log.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = ["Add", "Div", "Exp", "Log", "Mul", "Neg", "Pow", "Sub"]


class Add(Function):
    """a + b. Rule: da = dy and db = dy (the gradient passes to both inputs unchanged)."""

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad

    def tensor_backward(self, grad, out):
        return grad, grad


class Sub(Function):
    """a - b. Rule: da = dy, db = -dy."""

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None

    def tensor_backward(self, grad, out):
        return grad, -grad if self.needs_input_grad[1] else None


class Neg(Function):
    """-x. Rule: dx = -dy."""

    def forward(self, x):
        return np.negative(x)

    def backward(self, grad):
        return -grad

    def tensor_backward(self, grad, out):
        return -grad


class Mul(Function):
    """a * b. Rule: da = dy * b, db = dy * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        return (grad * self.b if need_a else None, grad * self.a if need_b else None)

    def tensor_backward(self, grad, out):
        a, b = self.inputs
        return grad * b, grad * a


class Div(Function):
    """a / b. Rule: da = dy / b, db = -dy * a / b^2."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        ga = grad / self.b
        return ga if need_a else None, -ga * self.a / self.b if need_b else None

    def tensor_backward(self, grad, out):
        a, b = self.inputs
        ga = grad / b
        return ga, -ga * a / b if self.needs_input_grad[1] else None


class Pow(Function):
    """x ** p for a fixed number p. Rule: dx = dy * p x^(p-1)."""

    def forward(self, x, exponent):
        self.x, self.p = x, exponent
        return x**exponent

    def backward(self, grad):
        p = self.p
        if p == 0:
            return np.zeros_like(grad)
        if p == 1:
            return grad
        if p == 2:
            return grad * (2 * self.x)
        return grad * (p * self.x ** (p - 1))

    def tensor_backward(self, grad, out):
        p = self.p
        if p == 0:
            return grad * 0.0
        return grad if p == 1 else grad * (p * self.inputs[0] ** (p - 1))


class Exp(Function):
    """y = e^x. Rule: dx = dy * y (e^x is its own derivative)."""

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, grad):
        return grad * self.y

    def tensor_backward(self, grad, out):
        return grad * out


class Log(Function):
    """Natural logarithm. Rule: dx = dy / x."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, grad):
        return grad / self.x

    def tensor_backward(self, grad, out):
        return grad / self.inputs[0]
