"""The tutorial's digits network, rebuilt on tinygrad_nn.

The tutorial wrote each layer as an object with a hand-derived ``forward`` and ``backward``.
Here a layer is a Module that only says what it computes; the engine derives the backward
pass. Same data splits, same network, same update rule, same lambda search.

Run: python examples/digits.py        (about 10 s)
"""

import numpy as np

from tinygrad_nn import Tensor, no_grad, softmax_cross_entropy
from tinygrad_nn.data import load_digits_splits
from tinygrad_nn.nn import Linear, Module, l2_penalty
from tinygrad_nn.optim import SGD


class TutorialNet(Module):
    """64 -> 48 -> 32 -> 10, a sigmoid after every layer (the last one too)."""

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.input_layer = Linear(64, 48, rng=rng)
        self.hidden_layer = Linear(48, 32, rng=rng)
        self.output_layer = Linear(32, 10, rng=rng)

    def forward(self, x):
        x = self.input_layer(x).sigmoid()
        x = self.hidden_layer(x).sigmoid()
        return self.output_layer(x).sigmoid()


def accuracy(model, X, y):
    with no_grad():
        return float(np.mean(np.argmax(model(Tensor(X)).data, axis=1) == y))


def train(lam, data, epochs=1000, seed=0):
    """Full-batch momentum SGD: V <- 0.9 V - 0.2 grad; W <- W + V."""
    model = TutorialNet(seed)
    opt = SGD(model.parameters(), lr=0.2, momentum=0.9)
    weights = [
        layer.weight for layer in (model.input_layer, model.hidden_layer, model.output_layer)
    ]
    X, y = Tensor(data.X_train), data.y_train
    for _ in range(epochs):
        # softmax over the sigmoid outputs, mean cross-entropy, plus lam/(2N) sum ||W||^2
        loss = softmax_cross_entropy(model(X), y) + l2_penalty(weights, lam, len(y))
        opt.zero_grad()
        loss.backward()  # every gradient the tutorial derived by hand, derived for us
        opt.step()
    return model


data = load_digits_splits()  # 721 train / 482 validation / 594 test, raw pixels 0..16
print(f"{'lambda':>10}  validation accuracy")
results = []
for lam in np.logspace(-2, 2, 10):
    model = train(lam, data)
    results.append((accuracy(model, data.X_valid, data.y_valid), lam, model))
    print(f"{lam:10.4f}  {results[-1][0]:.4f}")

valid_acc, best_lam, best = max(results, key=lambda r: r[0])
print(f"\nbest lambda {best_lam:.6f}: validation {valid_acc:.4f}, ", end="")
print(f"test {accuracy(best, data.X_test, data.y_test):.4f}")
print("tutorial reported: lambda 0.599484, validation 0.9647, test 0.9596")
