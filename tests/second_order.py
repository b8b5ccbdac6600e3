"""Helpers shared by the second-order checks (tests/test_higher_order.py and the new ops'
cases in tests/test_ops_extended.py): a scalar whose Hessian runs through an op's rule, the
first-order engine's gradients, and Hessian-vector products two ways."""

import numpy as np

from tinygrad_nn import Tensor
from tinygrad_nn.higher_order import grad


def squared_head(op):
    """f(x) = sum(weights * op(x)^2): a scalar whose Hessian involves the op's rule."""

    def f(*tensors):
        y = op(*tensors)
        w = np.random.default_rng(7).uniform(0.5, 1.5, size=y.shape)
        return (y * y * w).sum()

    return f


def engine_grads(f, arrays):
    """The first-order engine's gradients (numpy backward) at ``arrays``."""
    ts = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    f(*ts).backward()
    return [np.zeros(t.shape) if t.grad is None else t.grad for t in ts]


def numeric_hvp(f, arrays, vs, eps=1e-6):
    """d/de grad f(x + e v) at e = 0, by central differences of the engine's gradients."""
    plus = engine_grads(f, [a + eps * v for a, v in zip(arrays, vs)])
    minus = engine_grads(f, [a - eps * v for a, v in zip(arrays, vs)])
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def graph_hvp(f, arrays, vs):
    """The Hessian-vector product through ``grad(..., create_graph=True)`` twice."""
    ts = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    gs = grad(f(*ts), ts, create_graph=True)
    dot = sum(((g * v).sum() for g, v in zip(gs, vs)), Tensor(np.float64(0.0)))
    return [g.data for g in grad(dot, ts)] if dot.requires_grad else [np.zeros(t.shape) for t in ts]
