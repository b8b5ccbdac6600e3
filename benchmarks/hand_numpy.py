"""The baseline: the training step written by hand in plain numpy, float32.

Written the way a person writes it from the tutorial: one expression per line, temporaries
allowed, no ``out=`` tricks. Every other contender is measured against this. Also the
"GEMM-only floor": the step's matrix products alone, into preallocated outputs, and "numpy
tuned by hand": the same step with preallocated buffers, ``out=`` and in-place chains, as
fast as we know how to write it in numpy (what a numpy-based compiler could hope for).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .problems import Problem

__all__ = ["make_gemm_floor", "make_hand_step", "make_tuned_step"]


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


def _activate_in_place(name: str, z: np.ndarray) -> None:
    if name == "sigmoid":  # 1 / (1 + e^-z) = 0.5 + 0.5 tanh(z / 2), four passes, no temporaries
        z *= 0.5
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5
    else:
        np.maximum(z, 0.0, out=z)


def _backprop_in_place(name: str, a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    """delta *= f'(z), with f' written from the output a."""
    if name == "sigmoid":
        np.subtract(1.0, a, out=scratch)
        scratch *= a
        delta *= scratch
    else:
        np.greater(a, 0.0, out=scratch)
        delta *= scratch


def make_tuned_step(p: Problem) -> Callable[[], np.floating]:
    """The hand step rewritten for speed: every array preallocated, ``out=`` everywhere,
    elementwise chains in place, each layer updated as soon as its gradient is known."""
    weights = [w.copy() for w, _ in p.init]
    biases = [b.copy() for _, b in p.init]
    vel_w = [np.zeros_like(w) for w in weights]
    vel_b = [np.zeros_like(b) for b in biases]
    X, y, n, n_layers = p.X, p.y, p.n, len(weights)
    rows = np.arange(n)
    outs = [np.empty((n, w.shape[1]), dtype=X.dtype) for w in weights]
    deltas = [np.empty_like(o) for o in outs]
    scratch = [np.empty_like(o) for o in outs]
    grad_w = [np.empty_like(w) for w in weights]
    grad_b = [np.empty_like(b) for b in biases]
    decay = [np.empty_like(w) for w in weights]
    inputs = [X] + outs[:-1]
    acts = [p.hidden] * (n_layers - 1) + [p.output]
    lam, lr, mu = p.lam, p.lr, p.momentum

    def step() -> np.floating:
        for i in range(n_layers):
            z = outs[i]
            np.matmul(inputs[i], weights[i], out=z)
            z += biases[i]
            if acts[i]:
                _activate_in_place(acts[i], z)
        e = scratch[-1]
        logits = outs[-1]
        np.subtract(logits, logits.max(axis=1, keepdims=True), out=e)
        picked = e[rows, y]
        np.exp(e, out=e)
        total = e.sum(axis=1, keepdims=True)
        loss = (np.log(total[:, 0]) - picked).mean()
        if lam:
            loss = loss + lam / (2 * n) * sum(np.vdot(w, w) for w in weights)
        delta = deltas[-1]
        np.divide(e, total, out=delta)
        delta[rows, y] -= 1
        delta /= n
        for i in reversed(range(n_layers)):
            delta = deltas[i]
            if acts[i]:
                _backprop_in_place(acts[i], outs[i], delta, scratch[i])
            np.matmul(inputs[i].T, delta, out=grad_w[i])
            if lam:
                np.multiply(weights[i], lam / n, out=decay[i])
                grad_w[i] += decay[i]
            delta.sum(axis=0, out=grad_b[i])
            if i > 0:
                np.matmul(delta, weights[i].T, out=deltas[i - 1])
            for q, v, g in ((weights[i], vel_w[i], grad_w[i]), (biases[i], vel_b[i], grad_b[i])):
                v *= mu
                g *= lr
                v -= g
                q += v
        return loss

    return step
