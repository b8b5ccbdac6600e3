"""The ``digits-cnn`` workloads: one training step of the digits CNN, batch 32 and 256.

The net is :class:`tinygrad_nn.digits.cnn.DigitsCNN` with its default channels (16, 32, 64):
conv 3x3 (1 -> 16), ReLU; conv 3x3 (16 -> 32), ReLU, max pool 2; conv 3x3 (32 -> 64), ReLU,
max pool 2; Linear 256 -> 10; mean softmax cross-entropy; momentum SGD. Contenders: numpy
written by hand (im2col), tinygrad_nn eager and compiled (numpy, and numba when it imports),
PyTorch eager and JAX jit when they import; all start from the same float32 weights and are
checked against hand numpy's losses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "ConvProblem",
    "cnn_problem",
    "make_compiled_step",
    "make_eager_step",
    "make_gemm_floor",
    "make_hand_step",
    "make_jax_step",
    "make_numba_step",
    "make_torch_step",
]

DTYPE = np.float32


@dataclass(eq=False)
class ConvProblem:
    """One training step of the digits CNN on the first ``n`` training images."""

    key: str
    title: str
    X: np.ndarray  # (N, 64) pixels / 16
    y: np.ndarray  # (N,) classes
    init: dict[str, np.ndarray]  # DigitsCNN state_dict: conv weights (O, C, 3, 3), fc (in, out)
    lr: float = 0.05
    momentum: float = 0.9

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def describe(self) -> str:
        """A one-line summary of the network and settings."""
        return (
            f"CNN conv3x3 1-16, conv3x3 16-32 + maxpool2, conv3x3 32-64 + maxpool2, "
            f"linear 256-10 (ReLU), batch {self.n} of 1x8x8, softmax CE, SGD lr {self.lr} "
            f"momentum {self.momentum}, float32"
        )

    def settings(self) -> dict:
        """The JSON-able settings (no arrays)."""
        return {
            "net": "DigitsCNN(channels=(16, 32, 64))",
            "batch": self.n,
            "lr": self.lr,
            "momentum": self.momentum,
            "dtype": "float32",
        }


def cnn_problem(batch: int, seed: int = 0) -> ConvProblem:
    """The digits CNN on the first ``batch`` training rows (pixels / 16)."""
    from tinygrad_nn.digits.cnn import DigitsCNN
    from tinygrad_nn.digits.data import load_digits_splits

    splits = load_digits_splits(scale=True)
    X = np.ascontiguousarray(splits.X_train[:batch], dtype=DTYPE)
    y = splits.y_train[:batch].astype(np.int64)
    init = DigitsCNN(rng=seed, dtype=DTYPE).state_dict()
    return ConvProblem(f"digits-cnn-b{batch}", f"digits CNN, batch {batch}", X, y, init)


# ----------------------------------------------------------------------------- hand numpy


def _im2col(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) -> rows (N H W, C 9) of its 3x3 windows, zero padding 1."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = sliding_window_view(xp, (3, 3), axis=(2, 3))  # (N, C, H, W, 3, 3)
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * 9)


def _col2im(dcols: np.ndarray, shape: tuple) -> np.ndarray:
    """The adjoint of :func:`_im2col`: add each window's gradient back onto the input."""
    n, c, h, w = shape
    d = dcols.reshape(n, h, w, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, w + 2), dtype=dcols.dtype)
    for p in range(3):
        for q in range(3):
            dxp[:, :, p : p + h, q : q + w] += d[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1]


def _pool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling of (N, C, H, W), and a one-hot (N, C, H/2, W/2, 4) mask of each
    window's first maximum (ties are common: the pixels take 17 values)."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 4)
    first = blocks.argmax(axis=-1)
    out = np.take_along_axis(blocks, first[..., None], axis=-1)[..., 0]
    return out, first[..., None] == np.arange(4)


def _unpool(d: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The gradient of :func:`_pool`: each window's gradient to its first maximum."""
    n, c, h2, w2 = d.shape
    blocks = (mask * d[..., None]).reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return blocks.reshape(n, c, 2 * h2, 2 * w2)


def make_hand_step(p: ConvProblem) -> Callable[[], np.floating]:
    """The step in plain numpy: im2col + matmul per conv, written out forward and backward."""
    params = {k: v.copy() for k, v in p.init.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    X, y, n = p.X.reshape(-1, 1, 8, 8), p.y, p.n
    rows = np.arange(n)

    def conv(x, name):
        w, b = params[f"{name}.weight"], params[f"{name}.bias"]
        cols = _im2col(x)
        out = cols @ w.reshape(len(w), -1).T + b
        return out.reshape(x.shape[0], x.shape[2], x.shape[3], -1).transpose(0, 3, 1, 2), cols

    def conv_back(dout, cols, name, x_shape, grads):
        w = params[f"{name}.weight"]
        d = dout.transpose(0, 2, 3, 1).reshape(-1, len(w))
        grads[f"{name}.weight"] = (d.T @ cols).reshape(w.shape)
        grads[f"{name}.bias"] = d.sum(axis=0)
        return _col2im(d @ w.reshape(len(w), -1), x_shape) if x_shape[1] > 1 else None

    def step() -> np.floating:
        z1, c1 = conv(X, "conv1")
        a1 = np.maximum(z1, 0)
        z2, c2 = conv(a1, "conv2")
        a2 = np.maximum(z2, 0)
        p2, m2 = _pool(a2)
        z3, c3 = conv(p2, "conv3")
        a3 = np.maximum(z3, 0)
        p3, m3 = _pool(a3)
        flat = p3.reshape(n, -1)
        logits = flat @ params["out.weight"] + params["out.bias"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_p[rows, y].mean()

        grads: dict[str, np.ndarray] = {}
        d = np.exp(log_p)
        d[rows, y] -= 1
        d /= n
        grads["out.weight"] = flat.T @ d
        grads["out.bias"] = d.sum(axis=0)
        d = (d @ params["out.weight"].T).reshape(p3.shape)
        d = _unpool(d, m3) * (z3 > 0)
        d = conv_back(d, c3, "conv3", p2.shape, grads)
        d = _unpool(d, m2) * (z2 > 0)
        d = conv_back(d, c2, "conv2", a1.shape, grads) * (z1 > 0)
        conv_back(d, c1, "conv1", X.shape, grads)

        for k, g in grads.items():
            velocity[k] = p.momentum * velocity[k] - p.lr * g
            params[k] += velocity[k]
        return loss

    return step


def make_gemm_floor(p: ConvProblem) -> Callable[[], None]:
    """Only the step's matrix products (the hand step's im2col GEMMs), into preallocated
    outputs: forward ``cols @ W^T`` per convolution and ``flat @ W`` for the linear layer;
    backward ``dW = d^T @ cols`` and ``dcols = d @ W`` per convolution (none for the input)
    and ``dW``, ``dflat`` for the linear layer: 11 products in all."""
    rng = np.random.default_rng(0)
    n = p.n
    # (rows, k, channels out) of each convolution's product in the hand step
    convs = [(n * 64, 9, 16), (n * 64, 144, 32), (n * 16, 288, 64)]
    cols = [rng.standard_normal((r, k)).astype(DTYPE) for r, k, _ in convs]
    weights = [rng.standard_normal((o, k)).astype(DTYPE) for _, k, o in convs]
    outs = [np.empty((r, o), DTYPE) for r, _, o in convs]
    grads = [np.empty_like(w) for w in weights]
    dcols = [np.empty_like(c) for c in cols]
    flat, w_out = rng.standard_normal((n, 256)).astype(DTYPE), p.init["out.weight"].copy()
    logits, g_out, d_flat = np.empty((n, 10), DTYPE), np.empty_like(w_out), np.empty_like(flat)

    def step() -> None:
        for c, w, out in zip(cols, weights, outs):
            np.matmul(c, w.T, out=out)
        np.matmul(flat, w_out, out=logits)
        np.matmul(flat.T, logits, out=g_out)  # logits stand in for their gradient
        np.matmul(logits, w_out.T, out=d_flat)
        for i in reversed(range(3)):
            np.matmul(outs[i].T, cols[i], out=grads[i])
            if i > 0:
                np.matmul(outs[i], weights[i], out=dcols[i])

    return step


# ----------------------------------------------------------------------------- tinygrad_nn


def make_train_step(p: ConvProblem) -> Callable[[Any, Any], Any]:
    """``train_step(x, y)`` with the public API: DigitsCNN, softmax_cross_entropy, SGD."""
    from tinygrad_nn import Tensor, optim, softmax_cross_entropy
    from tinygrad_nn.digits.cnn import DigitsCNN

    model = DigitsCNN(dtype=DTYPE)
    model.load_state_dict(p.init)
    opt = optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum)

    def train_step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = softmax_cross_entropy(model(Tensor(x)), y)
        loss.backward()
        opt.step()
        return loss

    return train_step


def make_eager_step(p: ConvProblem) -> Callable[[], Any]:
    """tinygrad_nn eager: the graph is built and walked on every call."""
    train_step = make_train_step(p)
    return lambda: train_step(p.X, p.y)


def make_compiled_step(p: ConvProblem) -> Callable[[], Any]:
    """``tinygrad_nn.compile`` of the same step (traced in the warm-up, replayed after)."""
    import tinygrad_nn

    compiled = tinygrad_nn.compile(make_train_step(p))
    return lambda: compiled(p.X, p.y)


def make_numba_step(p: ConvProblem) -> Callable[[], Any]:
    """``tinygrad_nn.compile(..., backend="numba")`` of the same step."""
    import tinygrad_nn

    compiled = tinygrad_nn.compile(make_train_step(p), backend="numba")
    return lambda: compiled(p.X, p.y)


# ----------------------------------------------------------------------------- PyTorch


def make_torch_step(p: ConvProblem) -> Callable[[], Any]:
    """PyTorch eager on CPU: ``nn.Sequential`` of Conv2d/ReLU/MaxPool2d/Linear, SGD."""
    import torch

    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 10),
    )
    layers = {"conv1": model[0], "conv2": model[2], "conv3": model[5], "out": model[9]}
    with torch.no_grad():
        for name, layer in layers.items():
            w = p.init[f"{name}.weight"]
            layer.weight.copy_(torch.from_numpy(w.T if name == "out" else w))
            layer.bias.copy_(torch.from_numpy(p.init[f"{name}.bias"]))
    opt = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum)
    x, y = torch.from_numpy(p.X.reshape(-1, 1, 8, 8)), torch.from_numpy(p.y)
    cross_entropy = torch.nn.functional.cross_entropy

    def step() -> Any:
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


# ----------------------------------------------------------------------------- JAX


def make_jax_step(p: ConvProblem) -> Callable[[], Any]:
    """JAX: the whole step (value_and_grad and the momentum update) under one ``jax.jit``,
    NCHW convolutions with ``lax.conv_general_dilated``, max pooling with ``reduce_window``;
    parameters and velocities donated, every call waits for its results."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    lr, mu = p.lr, p.momentum

    def conv(x: Any, w: Any, b: Any) -> Any:
        y = lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)))
        return y + b[None, :, None, None]

    def pool(x: Any) -> Any:
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(q: dict, x: Any, y: Any) -> Any:
        h = jax.nn.relu(conv(x, q["conv1.weight"], q["conv1.bias"]))
        h = pool(jax.nn.relu(conv(h, q["conv2.weight"], q["conv2.bias"])))
        h = pool(jax.nn.relu(conv(h, q["conv3.weight"], q["conv3.bias"])))
        logits = h.reshape(h.shape[0], -1) @ q["out.weight"] + q["out.bias"]
        log_p = jax.nn.log_softmax(logits, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    def train_step(q: dict, velocity: dict, x: Any, y: Any) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(q, x, y)
        velocity = jax.tree.map(lambda v, g: mu * v - lr * g, velocity, grads)
        q = jax.tree.map(lambda a, v: a + v, q, velocity)
        return q, velocity, loss

    jitted = jax.jit(train_step, donate_argnums=(0, 1))
    params = {k: jnp.asarray(v) for k, v in p.init.items()}
    state = [params, jax.tree.map(jnp.zeros_like, params)]
    x, y = jnp.asarray(p.X.reshape(-1, 1, 8, 8)), jnp.asarray(p.y.astype(np.int32))

    def step() -> Any:
        out = jax.block_until_ready(jitted(state[0], state[1], x, y))
        state[0], state[1] = out[0], out[1]
        return out[2]

    return step
