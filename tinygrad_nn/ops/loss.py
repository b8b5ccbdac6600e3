"""Losses: fused softmax cross-entropy, the L2 penalty.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

__all__ = ["L2Penalty", "SoftmaxCrossEntropy"]


def _check_targets(targets, n: int, k: int) -> np.ndarray:
    t = np.asarray(targets)
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(
            f"softmax_cross_entropy: targets must have shape ({n},) to match logits with "
            f"{n} rows, got shape {t.shape}"
        )
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise ValueError("softmax_cross_entropy: targets must be integer class indices")
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise ValueError(
            f"softmax_cross_entropy: targets must be integer class indices, got dtype {t.dtype}"
        )
    if n and (t.min() < 0 or t.max() >= k):
        raise ValueError(
            f"softmax_cross_entropy: targets must lie in [0, {k}), got values from "
            f"{t.min()} to {t.max()}"
        )
    return t


class SoftmaxCrossEntropy(Function):
    """Mean over N of -log softmax(logits)[target]; fused for stability.

    logits: (N, K), targets: (N,) integer classes.

    Rule: d logits = dy * (softmax(logits) - onehot(targets)) / N.
    """

    def forward(self, logits, targets):
        if logits.ndim != 2:
            raise ValueError(
                f"softmax_cross_entropy: logits must be 2-D (N, K), got shape {logits.shape}"
            )
        n, k = logits.shape
        if n == 0:
            raise ValueError("softmax_cross_entropy: logits have no rows (N = 0)")
        t = self.targets = _check_targets(targets, n, k)
        rows = np.arange(n)
        # log p[target] = z[target] - log sum_j e^z_j with z = logits - max (log-sum-exp)
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        loss = (np.log(total[:, 0]) - z[rows, t]).sum() / n
        e /= total  # softmax
        e[rows, t] -= 1
        e /= n
        self.grad_logits = e
        return loss

    def backward(self, grad):
        return grad * self.grad_logits

    def tensor_backward(self, grad, out):
        n, k = self.inputs[0].shape
        onehot = np.zeros((n, k), dtype=self.grad_logits.dtype)
        onehot[np.arange(n), self.targets] = 1
        return (self.inputs[0].softmax(axis=1) - onehot) * (grad / n)


class L2Penalty(Function):
    """scale * sum over the inputs of ||W||^2, one op for all the weight matrices.

    (``nn.l2_penalty`` uses it with scale = lam / (2 n).)

    Rule: dW = dy * 2 scale W for every W.
    """

    def forward(self, *weights, scale):
        self.weights, self.scale = weights, scale
        total = sum(float(np.vdot(w, w)) for w in weights)
        return np.asarray(scale * total, dtype=np.result_type(*weights))

    def backward(self, grad):
        factor = 2 * self.scale * grad
        return tuple(factor * w for w in self.weights)

    def tensor_backward(self, grad, out):
        factor = grad * (2 * self.scale)
        return tuple(factor * w for w in self.inputs)
