"""The baseline: the training step written by hand in plain numpy, float32.

Written the way a person writes it from the tutorial: one expression per line, temporaries
allowed, no ``out=`` tricks. Every other contender is measured against this. Also the
"GEMM-only floor": the step's matrix products alone, into preallocated outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .problems import Problem

__all__ = ["make_gemm_floor", "make_hand_step"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_grad(a: np.ndarray) -> np.ndarray:
    """d sigmoid / dz written in terms of the output a = sigmoid(z)."""
    return a * (1.0 - a)


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _relu_grad(a: np.ndarray) -> np.ndarray:
    return a > 0


#: activation name -> (function, its derivative from its output)
ACTIVATIONS = {"sigmoid": (_sigmoid, _sigmoid_grad), "relu": (_relu, _relu_grad)}


def make_hand_step(p: Problem) -> Callable[[], np.floating]:
    """A zero-argument training step on copies of ``p.init``; it returns that step's loss."""
    weights = [w.copy() for w, _ in p.init]
    biases = [b.copy() for _, b in p.init]
    params = weights + biases
    velocity = [np.zeros_like(q) for q in params]
    X, y, n, n_layers = p.X, p.y, p.n, len(weights)
    rows = np.arange(n)
    act, act_grad = ACTIVATIONS[p.hidden]
    out_act, out_grad = ACTIVATIONS[p.output] if p.output else (None, None)
    lam, lr, mu = p.lam, p.lr, p.momentum

    def step() -> np.floating:
        # forward: keep every layer's output for backward
        outputs = [X]
        h = X
        for i in range(n_layers):
            z = h @ weights[i] + biases[i]
            f = act if i < n_layers - 1 else out_act
            h = f(z) if f else z
            outputs.append(h)

        # loss: mean softmax cross-entropy (log-sum-exp) plus the L2 term
        shifted = h - h.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_p[rows, y].mean()
        if lam:
            loss = loss + lam / (2 * n) * sum((w * w).sum() for w in weights)

        # backward: d(loss)/d(output) = (softmax - onehot) / n, then layer by layer
        delta = np.exp(log_p)
        delta[rows, y] -= 1
        delta /= n
        grad_w = [None] * n_layers
        grad_b = [None] * n_layers
        for i in reversed(range(n_layers)):
            if i < n_layers - 1:
                delta = delta * act_grad(outputs[i + 1])
            elif out_grad:
                delta = delta * out_grad(outputs[i + 1])
            grad_w[i] = outputs[i].T @ delta
            if lam:
                grad_w[i] = grad_w[i] + lam / n * weights[i]
            grad_b[i] = delta.sum(axis=0)
            if i > 0:
                delta = delta @ weights[i].T

        # update: the tutorial's momentum SGD, in place
        for q, v, g in zip(params, velocity, grad_w + grad_b):
            v *= mu
            v -= lr * g
            q += v
        return loss

    return step


def make_gemm_floor(p: Problem) -> Callable[[], None]:
    """Only the step's matrix products, into preallocated outputs: the BLAS floor.

    Forward ``h_i = h_{i-1} @ W_i`` for every layer; backward ``dW_i = h_{i-1}^T @ d_i`` for
    every layer and ``d_{i-1} = d_i @ W_i^T`` for all but the first (no gradient for the
    input). For 784-1024-1024-10 that is 3 + 5 products.
    """
    weights = [w.copy() for w, _ in p.init]
    X, n = p.X, p.n
    outs = [np.empty((n, w.shape[1]), dtype=X.dtype) for w in weights]
    grads = [np.empty_like(w) for w in weights]
    deltas = [np.empty((n, w.shape[0]), dtype=X.dtype) for w in weights]
    inputs = [X] + outs[:-1]

    def step() -> None:
        for h, w, out in zip(inputs, weights, outs):
            np.matmul(h, w, out=out)
        delta = outs[-1]  # stands in for the output gradient: same shape, finite values
        for i in reversed(range(len(weights))):
            np.matmul(inputs[i].T, delta, out=grads[i])
            if i > 0:
                np.matmul(delta, weights[i].T, out=deltas[i])
                delta = deltas[i]

    return step
