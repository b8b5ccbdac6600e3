"""Input makers and the two checks shared by the op tables (tests/test_ops.py,
tests/test_ops_extended.py).

Each input maker returns ``make(rng)`` drawing a float64 array chosen to keep the numerical
gradient well-conditioned."""

import numpy as np

from tinygrad_nn import Tensor, gradcheck


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


def draw(inputs):
    """The arrays of one table case, the same on every run."""
    rng = np.random.default_rng(0)
    return [make(rng) for make in inputs]


def check_forward(fn, ref, inputs):
    """``fn`` on Tensors gives what ``ref`` gives on the arrays (float64, same shape)."""
    arrays = draw(inputs)
    out = fn(*[Tensor(a) for a in arrays])
    expected = np.asarray(ref(*[a.copy() for a in arrays]))
    assert isinstance(out, Tensor)
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


def check_gradient(fn, inputs):
    """``fn``'s gradients match central differences, and have each input's shape and dtype."""
    tensors = [Tensor(a, requires_grad=True) for a in draw(inputs)]
    assert gradcheck(fn, *tensors)
    out = fn(*tensors)
    out.backward(np.ones(out.shape))
    for t in tensors:
        assert t.grad is not None
        assert t.grad.shape == t.shape
        assert t.grad.dtype == t.dtype
