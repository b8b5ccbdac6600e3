"""The error function for numpy arrays (numpy has none; ``math.erf`` is one number at a time).

erf(x) = x P(x^2) for |x| <= 2 and 1 - e^(-x^2) Q(x) / x for 2 < |x| < 6 (erf is odd,
and |erf(x)| rounds to 1 beyond 6). P and Q are Chebyshev interpolants of erf(x) / x and
x e^(x^2) erfc(x), smooth on those intervals, built here at import from ``math.erf`` and
``math.erfc`` at a few dozen nodes. Relative error below 5e-15 against ``math.erf`` in
float64 (checked in the tests); about 5 times faster than calling ``math.erf`` per element.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import chebyshev

__all__ = ["erf"]

_INNER = 2.0  # |x| at which the inner interpolant hands over to the outer one
_OUTER = 6.0  # erfc(6) ~ 2e-17: erf is 1 in float64 from here on


def _inner(u: float) -> float:
    x = math.sqrt((u + 1) * _INNER**2 / 2)  # u in [-1, 1] <-> x^2 in [0, 4]
    return math.erf(x) / x if x > 0 else 2 / math.sqrt(math.pi)


def _outer(u: float) -> float:
    x = _INNER + (u + 1) * (_OUTER - _INNER) / 2  # u in [-1, 1] <-> x in [2, 6]
    return x * math.exp(x * x) * math.erfc(x)


_P = chebyshev.chebinterpolate(np.vectorize(_inner), 18)
_Q = chebyshev.chebinterpolate(np.vectorize(_outer), 22)


def erf(x: np.ndarray) -> np.ndarray:
    """erf of every element, computed in float64 and returned in x's float dtype."""
    x = np.asarray(x)
    t = x.astype(np.float64)
    a = np.abs(t)
    out = np.array(np.sign(t))  # |x| >= 6 and 0 are already right
    inner = a <= _INNER
    xi = t[inner]
    out[inner] = xi * chebyshev.chebval(xi * xi * (2 / _INNER**2) - 1, _P)
    mid = (a > _INNER) & (a < _OUTER)
    xm = a[mid]
    q = chebyshev.chebval((xm - _INNER) * (2 / (_OUTER - _INNER)) - 1, _Q)
    out[mid] = np.sign(t[mid]) * (1 - np.exp(-xm * xm) * q / xm)
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)
