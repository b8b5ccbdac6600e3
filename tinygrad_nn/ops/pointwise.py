"""More elementwise math: sqrt, abs, log1p, expm1, sin, cos, erf, and tensor exponents.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from .select import Where
from .special import erf

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _where(cond: np.ndarray, a, b):
    """``Where`` on a constant mask, for second-order rules."""
    return Where.apply(np.asarray(cond), a, b)


__all__ = ["Abs", "Cos", "Erf", "Expm1", "Log1p", "NumberPow", "Power", "Sin", "Sqrt"]


class Sqrt(Function):
    """y = sqrt(x). Rule: dx = dy / (2 y) (inf at x = 0; NaN below, as the forward)."""

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, grad):
        return grad / (2 * self.y)

    def tensor_backward(self, grad, out):
        return grad / (2 * out)


class Abs(Function):
    """|x|. Rule: dx = dy * sign(x), 0 at x = 0 (the subgradient PyTorch uses too)."""

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, grad):
        return grad * np.sign(self.x)

    def tensor_backward(self, grad, out):
        return grad * np.sign(self.x)


class Log1p(Function):
    """log(1 + x), accurate for small x. Rule: dx = dy / (1 + x)."""

    def forward(self, x):
        self.x = x
        return np.log1p(x)

    def backward(self, grad):
        return grad / (1 + self.x)

    def tensor_backward(self, grad, out):
        return grad / (1 + self.inputs[0])


class Expm1(Function):
    """y = e^x - 1, accurate for small x. Rule: dx = dy * (y + 1) (that is, e^x)."""

    def forward(self, x):
        self.y = np.expm1(x)
        return self.y

    def backward(self, grad):
        return grad * (self.y + 1)

    def tensor_backward(self, grad, out):
        return grad * (out + 1)


class Sin(Function):
    """sin(x). Rule: dx = dy * cos(x)."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, grad):
        return grad * np.cos(self.x)

    def tensor_backward(self, grad, out):
        return grad * self.inputs[0].cos()


class Cos(Function):
    """cos(x). Rule: dx = -dy * sin(x)."""

    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, grad):
        return -grad * np.sin(self.x)

    def tensor_backward(self, grad, out):
        return -grad * self.inputs[0].sin()


def _log_base_rule(a, b, out):
    """a^b log a, the slope in the exponent b: 0 where a = 0 and b >= 0 (0^b is constant
    there from the right), NaN where a < 0 (a^b is not a real function of b around any b)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((a == 0) & (b >= 0), 0.0, out * np.log(a))


class Power(Function):
    """a ** b for two tensors (broadcast), numpy's values: NaN for a negative base and a
    non-integer exponent. The slopes follow PyTorch: da is 0 where b = 0 (a^0 = 1 for every
    a); db is 0 where a = 0 and b >= 0 and NaN where a < 0.

    Rule: da = dy * b a^(b-1), db = dy * a^b log a.
    """

    name = "pow"

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        a, b = self.a, self.b
        ga = gb = None
        if need_a:
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = grad * np.where(b == 0, 0.0, b * np.power(a, b - 1))
        if need_b:
            gb = grad * _log_base_rule(a, b, self.out)
        return ga, gb

    def tensor_backward(self, grad, out):
        need_a, need_b = self.needs_input_grad
        a, b = self.inputs
        ga = grad * _where(self.b == 0, 0.0, b * a ** (b - 1)) if need_a else None
        gb = None
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = grad * _where((self.a == 0) & (self.b >= 0), 0.0, out * a.log())
        return ga, gb


class NumberPow(Function):
    """base ** x for a fixed Python number ``base`` (``2 ** t``), numpy's values for any base
    (NaN for a negative base and a non-integer x), in x's float dtype.

    Rule: dx = dy * base^x log(base) (0 where base = 0 and x >= 0; NaN for a negative base).
    """

    name = "pow"

    def forward(self, x, base):
        self.x, self.base = x, base
        self.out = np.power(base, x)
        return self.out

    def backward(self, grad):
        out = self.out
        base = np.asarray(self.base, dtype=out.dtype if out.dtype.kind == "f" else np.float64)
        return grad * _log_base_rule(base, self.x, out)  # (a float32 x keeps float32 slopes)

    def tensor_backward(self, grad, out):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_base = float(np.log(self.base))
        return grad * _where((self.base == 0) & (self.x >= 0), 0.0, out * log_base)


class Erf(Function):
    """The error function erf(x) = 2 / sqrt(pi) * integral of e^(-t^2) from 0 to x.

    Rule: dx = dy * 2 / sqrt(pi) e^(-x^2).
    """

    def forward(self, x):
        self.x = x
        return erf(x)

    def backward(self, grad):
        return grad * (_TWO_OVER_SQRT_PI * np.exp(-(self.x * self.x)))

    def tensor_backward(self, grad, out):
        x = self.inputs[0]
        return grad * (_TWO_OVER_SQRT_PI * (-(x * x)).exp())
