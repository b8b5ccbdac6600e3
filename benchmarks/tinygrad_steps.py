"""tinygrad_nn contenders: the eager engine, and the compiled step when the package has it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_nn
from tinygrad_nn import Tensor, nn, optim, softmax_cross_entropy

from .problems import Problem

__all__ = [
    "has_compile",
    "make_compiled_step",
    "make_eager_step",
    "make_numba_step",
    "make_train_step",
]


def has_compile() -> bool:
    """True when this version of tinygrad_nn offers ``tinygrad_nn.compile``."""
    return hasattr(tinygrad_nn, "compile")


def _build_model(p: Problem) -> nn.MLP:
    """``nn.MLP`` with the problem's shape, loaded with the problem's first weights."""
    model = nn.MLP(list(p.sizes), p.hidden, output_activation=p.output, dtype=np.float32)
    state = {}
    for i, (w, b) in enumerate(p.init, start=1):
        state[f"fc{i}.weight"] = w
        state[f"fc{i}.bias"] = b
    model.load_state_dict(state)
    return model


def make_train_step(p: Problem) -> Callable[[Tensor, Any], Tensor]:
    """``train_step(x, y)``: zero_grad, forward, loss, backward, update; returns the loss.

    Written as a user would, with the public API only.
    """
    model = _build_model(p)
    opt = optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum)
    weights = [layer.weight for layer in model.layers]
    lam = p.lam

    def train_step(x: Tensor, y: Any) -> Tensor:
        opt.zero_grad()
        loss = softmax_cross_entropy(model(x), y)
        if lam:
            loss = loss + nn.l2_penalty(weights, lam, len(y))
        loss.backward()
        opt.step()
        return loss

    return train_step


def make_eager_step(p: Problem) -> Callable[[], Tensor]:
    """The eager engine: the graph is built and walked on every call."""
    train_step = make_train_step(p)
    x, y = Tensor(p.X), p.y
    return lambda: train_step(x, y)


def make_compiled_step(p: Problem) -> Callable[[], Any]:
    """``tinygrad_nn.compile(train_step)``, called with the same ``(Tensor(X), y)`` as eager.

    The first call traces (it is part of the warm-up, never timed); later calls replay.
    """
    compiled = tinygrad_nn.compile(make_train_step(p))
    x, y = Tensor(p.X), p.y
    return lambda: compiled(x, y)


def make_numba_step(p: Problem) -> Callable[[], Any]:
    """``tinygrad_nn.compile(train_step, backend="numba")``: fused elementwise loops."""
    compiled = tinygrad_nn.compile(make_train_step(p), backend="numba")
    x, y = Tensor(p.X), p.y
    return lambda: compiled(x, y)
