"""More elementwise math: sqrt, abs, log1p, expm1, sin, cos, and a tensor exponent.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = ["Abs", "Cos", "Expm1", "Log1p", "Power", "Sin", "Sqrt"]


class Sqrt(Function):
    """y = sqrt(x); dy/dx = 1 / (2 y) (inf at 0, NaN below as numpy's forward)."""

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, grad):
        return grad / (2 * self.y)


class Abs(Function):
    """|x|; d/dx = sign(x), 0 at x = 0 (the subgradient PyTorch uses too)."""

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, grad):
        return grad * np.sign(self.x)


class Log1p(Function):
    """log(1 + x), accurate for small x; d/dx = 1 / (1 + x)."""

    def forward(self, x):
        self.x = x
        return np.log1p(x)

    def backward(self, grad):
        return grad / (1 + self.x)


class Expm1(Function):
    """e^x - 1, accurate for small x; d/dx = e^x = y + 1."""

    def forward(self, x):
        self.y = np.expm1(x)
        return self.y

    def backward(self, grad):
        return grad * (self.y + 1)


class Sin(Function):
    """sin(x); d/dx = cos(x)."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, grad):
        return grad * np.cos(self.x)


class Cos(Function):
    """cos(x); d/dx = -sin(x)."""

    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, grad):
        return -grad * np.sin(self.x)


class Power(Function):
    """x ** y with a tensor exponent, numpy's values (NaN for a negative base and a
    non-integer exponent).

    d/dx = y x^(y-1), taken as 0 where y = 0 (x^0 = 1 for every x). d/dy = x^y log x for
    x > 0; 0 where x = 0 and y >= 0 (0^y is constant there from the right); NaN where
    x < 0, since x^y is not a real function of y around any y there. (PyTorch's choices.)
    """

    name = "pow"

    def forward(self, x, y):
        self.x, self.y = x, y
        self.out = np.power(x, y)
        return self.out

    def backward(self, grad):
        need_x, need_y = self.needs_input_grad
        x, y = self.x, self.y
        gx = gy = None
        if need_x:
            with np.errstate(divide="ignore", invalid="ignore"):
                gx = np.where(y == 0, 0, y * np.power(x, y - 1))
            gx = grad * gx
        if need_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                gy = np.where((x == 0) & (y >= 0), 0, self.out * np.log(x))
            gy = grad * gy
        return gx, gy
