"""Quickstart: fit a tiny two-layer network to y = sin(x) with the autodiff engine.

Run: python examples/quickstart.py
"""

import numpy as np

from tinygrad_nn import Tensor

rng = np.random.default_rng(0)
x = Tensor(np.linspace(-3, 3, 64).reshape(-1, 1))
y = Tensor(np.sin(x.data))

w1 = Tensor(rng.normal(0, 1, (1, 16)), requires_grad=True, name="w1")
b1 = Tensor(np.zeros(16), requires_grad=True, name="b1")
w2 = Tensor(rng.normal(0, 0.3, (16, 1)), requires_grad=True, name="w2")
b2 = Tensor(np.zeros(1), requires_grad=True, name="b2")
params = [w1, b1, w2, b2]

for step in range(1, 2001):
    pred = (x @ w1 + b1).tanh() @ w2 + b2
    loss = ((pred - y) ** 2).mean()
    for p in params:
        p.zero_grad()
    loss.backward()
    for p in params:
        p.data -= 0.05 * p.grad
    if step == 1 or step % 250 == 0:
        print(f"step {step:5d}  mse {loss.item():.5f}")
