"""Adding an operation: softplus(x) = log(1 + e^x), as one Function subclass.

forward gets numpy arrays and saves what backward needs; backward gets d(loss)/d(out) and
returns d(loss)/d(x). gradcheck compares it with float64 central differences.

Run: python examples/custom_op.py
"""

import numpy as np

from tinygrad_nn import Function, Tensor, gradcheck


class Softplus(Function):
    """softplus(x) = log(1 + e^x);  d/dx = sigmoid(x) = 1 / (1 + e^-x)."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x)  # log(e^0 + e^x), stable for large |x|

    def backward(self, grad):
        return grad / (1 + np.exp(-self.x))


def softplus(t):
    return Softplus.apply(t)


x = Tensor(np.linspace(-5, 5, 11), requires_grad=True, name="x")
y = softplus(x).sum()
y.backward()
print("softplus(x).sum() =", round(y.item(), 4))
print("d/dx =", np.round(x.grad, 4))

# the engine's gradient against numerical differences, also through broadcasting
w = Tensor(np.random.default_rng(0).normal(size=(3, 1)), requires_grad=True)
print("gradcheck:", gradcheck(lambda x, w: softplus(x * w), x, w))
