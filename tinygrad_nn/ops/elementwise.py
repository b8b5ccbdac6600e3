"""Elementwise arithmetic: add, sub, neg, mul, div, pow, exp, log.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
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

    def forward_code(self, c, a, b):
        y = c.new(a, b, reuse=(a, b))
        c.line(f"np.add({a}, {b}, out={y})")
        return y

    def backward_code(self, c, grad):
        return grad, grad


class Sub(Function):
    """a - b. Rule: da = dy, db = -dy."""

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None

    def tensor_backward(self, grad, out):
        return grad, -grad if self.needs_input_grad[1] else None

    def forward_code(self, c, a, b):
        y = c.new(a, b, reuse=(a, b))
        c.line(f"np.subtract({a}, {b}, out={y})")
        return y

    def backward_code(self, c, grad):
        if not self.needs_input_grad[1]:
            return grad, None
        gb = c.new(grad, hint=f"g_{c.hint}")
        c.line(f"np.negative({grad}, out={gb})")
        return grad, gb


class Neg(Function):
    """-x. Rule: dx = -dy."""

    def forward(self, x):
        return np.negative(x)

    def backward(self, grad):
        return -grad

    def tensor_backward(self, grad, out):
        return -grad

    def forward_code(self, c, x):
        y = c.new(x, reuse=x)
        c.line(f"np.negative({x}, out={y})")
        return y

    def backward_code(self, c, grad):
        g = c.new(grad, reuse=grad, hint=f"g_{c.hint}")
        c.line(f"np.negative({grad}, out={g})")
        return g


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

    def forward_code(self, c, a, b):
        c.saved.update(a=a, b=b)
        y = c.new(a, b, reuse=(a, b))
        c.line(f"np.multiply({a}, {b}, out={y})")
        return y

    def backward_code(self, c, grad):
        grads = []
        for need, other in zip(self.needs_input_grad, (c.saved["b"], c.saved["a"])):
            g = c.new(grad, other, hint=f"g_{c.hint}") if need else None
            if need:
                c.line(f"np.multiply({grad}, {other}, out={g})")
            grads.append(g)
        return tuple(grads)


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

    def forward_code(self, c, a, b):
        c.saved.update(a=a, b=b)
        y = c.new(a, b, reuse=(a, b))
        c.line(f"np.divide({a}, {b}, out={y})")
        return y

    def backward_code(self, c, grad):
        a, b = c.saved["a"], c.saved["b"]
        ga = c.new(grad, b, hint=f"g_{c.hint}")
        c.line(f"np.divide({grad}, {b}, out={ga})")
        if not self.needs_input_grad[1]:
            return ga, None
        gb = c.let(f"-{ga} * {a} / {b}", ga, a, b, hint=f"g_{c.hint}")
        return ga if self.needs_input_grad[0] else None, gb


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

    def forward_code(self, c, x, exponent):
        c.saved["x"] = x
        return c.let(f"{x} ** {c.lit(exponent)}", x, exponent)

    def backward_code(self, c, grad):
        x, p = c.saved["x"], self.p
        if p == 0:
            return c.let(f"np.zeros_like({grad})", grad)
        if p == 1:
            return grad
        if p == 2:
            return c.let(f"{grad} * (2 * {x})", grad, x)
        return c.let(f"{grad} * ({c.lit(p)} * {x} ** {c.lit(p - 1)})", grad, x, p)


class Exp(Function):
    """y = e^x. Rule: dx = dy * y (e^x is its own derivative)."""

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, grad):
        return grad * self.y

    def tensor_backward(self, grad, out):
        return grad * out

    def forward_code(self, c, x):
        y = c.saved["y"] = c.new(x, 1.0, reuse=x)
        c.line(f"np.exp({x}, out={y})")
        return y

    def backward_code(self, c, grad):
        g = c.new(grad, c.saved["y"], reuse=grad, hint=f"g_{c.hint}")
        c.line(f"np.multiply({grad}, {c.saved['y']}, out={g})")
        return g


class Log(Function):
    """Natural logarithm. Rule: dx = dy / x."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, grad):
        return grad / self.x

    def tensor_backward(self, grad, out):
        return grad / self.inputs[0]

    def forward_code(self, c, x):
        c.saved["x"] = x
        y = c.new(x, 1.0)
        c.line(f"np.log({x}, out={y})")
        return y

    def backward_code(self, c, grad):
        g = c.new(grad, c.saved["x"], reuse=grad, hint=f"g_{c.hint}")
        c.line(f"np.divide({grad}, {c.saved['x']}, out={g})")
        return g
