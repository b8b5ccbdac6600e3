"""Input makers shared by the op tables (tests/test_ops.py, tests/test_ops_extended.py).

Each returns ``make(rng)`` drawing a float64 array chosen to keep the numerical gradient
well-conditioned."""

import numpy as np


def U(*shape, lo=-2.0, hi=2.0):
    """Uniform values in [lo, hi]."""
    return lambda rng: rng.uniform(lo, hi, size=shape)


def P(*shape):
    """Positive values away from 0: log, division, fractional powers, a tensor power's base."""
    return U(*shape, lo=0.5, hi=2.0)


def AWAY(*shape):
    """Either sign but |x| >= 0.2: kinks at 0 (relu, abs, leaky_relu, elu) stay out of reach."""

    def make(rng):
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.0, size=shape)

    return make


def DISTINCT(*shape):
    """Values at least 0.08 apart in random order: max and min without near-ties."""

    def make(rng):
        n = int(np.prod(shape, dtype=int))
        values = rng.permutation(n) * 0.1 - 1.0 + rng.uniform(0.0, 0.02, size=n)
        return values.reshape(shape)

    return make
